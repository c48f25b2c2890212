"""Colours and ttk styles of the chat editor. Tk thread only.

The main window's theme (lima_tk/ui/theme.py) installs `clam` and the shared palette; the editor
only adds what is its own: soft role colours for the message cards, the find highlights, the
tag chips. The values follow the same palette so both windows look like one program.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

PAD = 4  # every padding is a multiple of it

BG = "#f3f4f6"  # window background (same as theme.PALETTE["bg"])
SURFACE = "#ffffff"
BORDER = "#d5dae1"
BORDER_DARK = "#b4bbc6"
TEXT = "#1f2328"
MUTED = "#667085"
ACCENT = "#3367d6"  # keyboard focus
SELECT = "#d3e3fd"  # text selection
SELECT_HEADER = "#a9c5f6"  # headers of selected messages (distinct from the user blue)
SELECT_BORDER = "#5b8def"
DANGER = "#b42318"
ERROR_BG = "#fde8e8"
WARN = "#8a5a00"
FIND = "#ffeb8a"
FIND_CURRENT = "#ffa94d"
CANVAS_BG = "#eceef2"

# (header background, body background) per role: soft, not saturated.
ROLE_COLORS: dict[str, tuple[str, str]] = {
    "system": ("#f3ecd2", "#fffdf5"),
    "user": ("#dcebfb", "#fbfdff"),
    "assistant": ("#d8f1dd", "#fbfefb"),
    "tool": ("#e8def7", "#fdfbff"),
}

# Train marker of assistant messages: (text, foreground, background) for weight None / 1 / 0.
TRAIN_MARKS: dict[int | None, tuple[str, str, str]] = {
    None: ("train: default", MUTED, "#eef0f3"),
    1: ("✓ train", "#1a7f37", "#e3f7e8"),
    0: ("✗ no train", DANGER, "#fde8e8"),
}


def role_colors(role: str) -> tuple[str, str]:
    return ROLE_COLORS.get(role, ROLE_COLORS["user"])


def setup(master: tk.Misc) -> ttk.Style:
    """Make sure clam is in use (standalone scripts and tests) and define the editor's styles."""
    style = ttk.Style(master)
    if style.theme_use() != "clam" and "clam" in style.theme_names():
        style.theme_use("clam")
    style.configure("Editor.TFrame", background=BG)
    style.configure("Panel.TFrame", background=BG)
    style.configure("Panel.TLabel", background=BG, foreground=TEXT)
    style.configure("PanelMuted.TLabel", background=BG, foreground=MUTED)
    style.configure("PanelHeading.TLabel", background=BG, foreground=MUTED, font="TkHeadingFont")
    style.configure("Error.TLabel", background=BG, foreground=DANGER)
    style.configure("Status.TLabel", background=BG, foreground=MUTED, padding=(2 * PAD, PAD))
    style.configure("FindBar.TFrame", background=SURFACE)
    style.configure("FindBar.TLabel", background=SURFACE, foreground=MUTED)
    style.configure("FindBar.TCheckbutton", background=SURFACE)
    style.configure("Small.TButton", padding=(2 * PAD, PAD // 2))
    for role, (header, _body) in ROLE_COLORS.items():
        name = f"{role}.Role.TCombobox"
        style.configure(name, fieldbackground=header, background=header, padding=(PAD, 0),
                        arrowsize=16, arrowcolor=TEXT, bordercolor=BORDER_DARK, lightcolor=header, darkcolor=header)
        style.map(name, fieldbackground=[("readonly", header)], selectbackground=[("readonly", header)],
                  selectforeground=[("readonly", TEXT)], bordercolor=[("focus", ACCENT)])
    style.configure("Answer.TCombobox", padding=(PAD, 0), arrowsize=16, arrowcolor=TEXT)  # visible arrows (issue 13)
    for role, (header, _body) in [*ROLE_COLORS.items(), ("selected", (SELECT_HEADER, ""))]:
        style.configure(f"{role}.Head.TLabel", background=header, foreground=MUTED, padding=(2 * PAD, PAD))
    style.configure("Panel.TCheckbutton", background=BG)
    style.configure("Panel.TRadiobutton", background=BG)
    if not style.configure("Accent.TButton"):  # the main theme defines it; standalone runs too
        style.configure("Accent.TButton", background=ACCENT, foreground="#ffffff", lightcolor=ACCENT,
                        darkcolor=ACCENT, bordercolor=ACCENT)
        style.map("Accent.TButton", background=[("active", "#3d73e0"), ("pressed", "#2a56b3")])
    return style
