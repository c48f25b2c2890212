"""The welcome panel over the chat list on the first run: what lima-tk is for, how to add a chat,
how to connect a model and where the data lives, with buttons for each. Shown while the user
setting `show_welcome` (set by lima_tk.first_run when it made the default dataset) is true;
"Got it" clears it for good, Help > Welcome shows the panel again. Tk thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from lima_tk.first_run import WELCOME_KEY
from lima_tk.ui.theme import PAD

TITLE = "Welcome to lima-tk"
INTRO = ("Write a small set of excellent chats by hand (LIMA-style: about 1,000) and export them to "
         "fine-tune your own model. Every keystroke is saved and every change can be undone.")


def points(data_dir: str) -> list[tuple[str, str]]:
    """The panel's short paragraphs: (heading, text)."""
    return [
        ("Add a chat", "New chat (Ctrl+N), then type the turns; Ctrl+Enter adds the next one. "
                       "Import (Ctrl+I) takes OpenAI JSONL, ChatGPT exports, ShareGPT, Alpaca and lima-gui files. "
                       "The example chat below shows the shape."),
        ("Connect a model", "Settings (Ctrl+,) > Assistant: OpenAI or a local server (llama.cpp, vLLM, Ollama). "
                            "Then Ctrl+G in a chat drafts the next reply."),
        ("Where the data lives", f"One SQLite file per dataset, by default in {data_dir}. The title bar shows "
                                 "the open one; File > Export writes training files."),
    ]


class WelcomePanel:
    """A card packed above the chat list. `actions`: button label -> command (the window's
    virtual events), shown in order after the text; "Got it" is added last and hides the panel."""

    def __init__(self, parent: tk.Misc, settings: dict[str, Any], save: Callable[[], object],
                 actions: list[tuple[str, Callable[[], object]]], data_dir: str) -> None:
        self.settings = settings
        self.save = save
        self.frame = ttk.Frame(parent, style="Welcome.TFrame", padding=(4 * PAD, 3 * PAD))
        style = ttk.Style(parent)
        bg = style.lookup("Card.TFrame", "background") or "#ffffff"
        style.configure("Welcome.TFrame", background=bg, relief="solid", borderwidth=1)
        style.configure("WelcomeTitle.TLabel", background=bg, font="LimaEmptyFont")
        style.configure("Welcome.TLabel", background=bg)
        style.configure("WelcomeHead.TLabel", background=bg, font="TkHeadingFont")
        head = ttk.Frame(self.frame, style="Welcome.TFrame", padding=0, borderwidth=0)
        head.pack(fill="x")
        ttk.Label(head, text=TITLE, style="WelcomeTitle.TLabel").pack(side="left")
        self.dismiss_button = ttk.Button(head, text="Got it", command=self.dismiss, takefocus=False)
        self.dismiss_button.pack(side="right")
        self.labels: list[ttk.Label] = [ttk.Label(self.frame, text=INTRO, style="Welcome.TLabel", wraplength=900,
                                                  justify="left")]
        self.labels[0].pack(anchor="w", pady=(PAD, 2 * PAD))
        cols = ttk.Frame(self.frame, style="Welcome.TFrame", padding=0, borderwidth=0)
        cols.pack(fill="x")
        for i, (heading, text) in enumerate(points(data_dir)):
            col = ttk.Frame(cols, style="Welcome.TFrame", padding=(0, 0, 4 * PAD, 0), borderwidth=0)
            col.grid(row=0, column=i, sticky="nw")
            cols.columnconfigure(i, weight=1, uniform="welcome")
            ttk.Label(col, text=heading, style="WelcomeHead.TLabel").pack(anchor="w")
            label = ttk.Label(col, text=text, style="Welcome.TLabel", wraplength=300, justify="left")
            label.pack(anchor="w", pady=(PAD, 0))
            self.labels.append(label)
        row = ttk.Frame(self.frame, style="Welcome.TFrame", padding=(0, 3 * PAD, 0, 0), borderwidth=0)
        row.pack(fill="x")
        self.buttons: dict[str, ttk.Button] = {}
        for i, (label, command) in enumerate(actions):
            b = ttk.Button(row, text=label, command=command, takefocus=False,
                           style="Accent.TButton" if i == 0 else "TButton")
            b.pack(side="left", padx=(0, 2 * PAD))
            self.buttons[label] = b
        self.frame.bind("<Configure>", self._wrap)

    @property
    def shown(self) -> bool:
        return bool(self.frame.winfo_manager())

    def show(self, before: tk.Misc) -> None:
        if not self.shown:
            self.frame.pack(side="top", fill="x", padx=2 * PAD, pady=(2 * PAD, 0), before=before)

    def dismiss(self) -> None:
        """Hide the panel and remember that (it does not come back on the next start)."""
        self.frame.pack_forget()
        if self.settings.get(WELCOME_KEY):
            self.settings[WELCOME_KEY] = False
            self.save()

    def _wrap(self, event: tk.Event) -> None:
        """Wrap the text to the panel's width (three columns share it)."""
        width = max(300, event.width - 8 * PAD)
        self.labels[0].configure(wraplength=width)
        for label in self.labels[1:]:
            label.configure(wraplength=max(160, width // 3 - 6 * PAD))
