"""The base of the main window's dialogs and its small modal questions.

`Dialog` is a non-blocking transient window with a padded body and a row of buttons; the
windows built on it (settings_dialog, language_dialog, tags_dialog, help_dialogs, interop) have
methods a test can call (`save()`, `apply()`, `start()`). Nothing waits in a nested loop except the
small modal questions below, which go through module-level functions (`ask_open_path`,
`ask_save_path`, `ask_directory`, `ask_string`, `show_error`) that tests monkeypatch: callers
reach them as `dialogs.<name>` so the patch applies. `TextReport` is the read-only report window
(an import's or export's skipped chats and warnings). Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from lima_tk.ui.dialog_keys import bind_dialog_keys
from lima_tk.ui.theme import PAD, ensure_indicators

DANGER = "#b42318"  # error text in dialogs
SUCCESS = "#1a7f37"

DATASET_TYPES = [("lima-tk datasets", "*.lima.db"), ("SQLite files", "*.db *.sqlite"), ("All files", "*")]
OPEN_TYPES = [
    ("Datasets and chat files", "*.lima.db *.jsonl *.json *.csv *.zip"),
    ("lima-tk datasets", "*.lima.db"),
    ("JSON Lines (OpenAI, lima-tk, lima-gui, ShareGPT, Alpaca)", "*.jsonl"),
    ("JSON (ChatGPT conversations.json, ShareGPT, Alpaca)", "*.json"),
    ("CSV (lima-gui)", "*.csv"),
    ("ChatGPT data export (.zip)", "*.zip"),
    ("All files", "*"),
]
IMPORT_TYPES = [("Chat files", "*.jsonl *.json *.csv *.zip"), *OPEN_TYPES[2:]]


# -- small modal questions (monkeypatched in tests) ----------------------------------------------


def ask_open_path(parent: tk.Misc, title: str, filetypes: Sequence[tuple[str, str]] = (),
                  initialdir: str | None = None) -> Path | None:
    name = filedialog.askopenfilename(parent=parent, title=title, filetypes=list(filetypes) or None,
                                      initialdir=initialdir)
    return Path(name) if name else None


def ask_save_path(parent: tk.Misc, title: str, initialfile: str = "", defaultextension: str = "",
                  filetypes: Sequence[tuple[str, str]] = (), initialdir: str | None = None) -> Path | None:
    name = filedialog.asksaveasfilename(parent=parent, title=title, initialfile=initialfile,
                                        defaultextension=defaultextension, filetypes=list(filetypes) or None,
                                        initialdir=initialdir)
    return Path(name) if name else None


def ask_directory(parent: tk.Misc, title: str, initialdir: str | None = None) -> Path | None:
    """A folder (existing, or a new name typed in the chooser); None when cancelled."""
    name = filedialog.askdirectory(parent=parent, title=title, initialdir=initialdir, mustexist=False)
    return Path(name) if name else None


def show_error(parent: tk.Misc, title: str, message: str) -> None:
    messagebox.showerror(title, message, parent=parent)


def ask_string(parent: tk.Misc, title: str, prompt: str, initial: str = "") -> str | None:
    """A small modal question with an Entry; None when cancelled."""
    dlg = AskString(parent, title, prompt, initial)
    dlg.wait_window()
    return dlg.result


# -- base --------------------------------------------------------------------------------------


class Dialog(tk.Toplevel):
    """A transient window with a padded body and a right-aligned button row."""

    def __init__(self, parent: tk.Misc, title: str, resizable: bool = False) -> None:
        super().__init__(parent)
        self.withdraw()
        # On the Tk root: the images must outlive this dialog (kept on the first dialog, they were
        # deleted with it, and later dialogs lost their check and radio indicators).
        ensure_indicators(self._root())
        self.title(title)
        self.transient(parent.winfo_toplevel())
        self.resizable(resizable, resizable)
        self.body = ttk.Frame(self, padding=(4 * PAD, 4 * PAD, 4 * PAD, 2 * PAD))
        self.body.pack(fill="both", expand=True)
        self.buttons = ttk.Frame(self, padding=(4 * PAD, 2 * PAD, 4 * PAD, 4 * PAD))
        self.buttons.pack(fill="x", side="bottom")
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.default_command: Callable[[], object] | None = None  # the default button's: Enter presses it
        bind_dialog_keys(self, self._press_default, self.cancel)

    def _press_default(self) -> None:
        if self.default_command is not None:
            self.default_command()

    def add_button(self, text: str, command: Callable[[], object], default: bool = False) -> ttk.Button:
        b = ttk.Button(self.buttons, text=text, command=command, style="Accent.TButton" if default else "TButton")
        if default:
            self.default_command = command
        b.pack(side="right", padx=(2 * PAD, 0))
        return b

    def show(self, focus: tk.Misc | None = None) -> None:
        self.update_idletasks()
        parent = self.master.winfo_toplevel()
        try:
            x = parent.winfo_rootx() + max(0, (parent.winfo_width() - self.winfo_reqwidth()) // 2)
            y = parent.winfo_rooty() + max(0, (parent.winfo_height() - self.winfo_reqheight()) // 3)
            self.geometry(f"+{x}+{y}")
        except tk.TclError:
            pass
        self.deiconify()
        self.lift()
        if focus is not None:
            focus.focus_set()

    def cancel(self) -> None:
        self.destroy()


class AskString(Dialog):
    def __init__(self, parent: tk.Misc, title: str, prompt: str, initial: str = "") -> None:
        super().__init__(parent, title)
        self.result: str | None = None
        ttk.Label(self.body, text=prompt, wraplength=420, justify="left").pack(anchor="w")
        self.var = tk.StringVar(self, value=initial)
        self.entry = ttk.Entry(self.body, textvariable=self.var, width=48)
        self.entry.pack(fill="x", pady=(2 * PAD, 0))
        self.entry.select_range(0, "end")
        self.add_button("OK", self.ok, default=True)
        self.add_button("Cancel", self.cancel)
        self.show(self.entry)
        try:
            self.grab_set()
        except tk.TclError:
            pass

    def ok(self) -> None:
        text = self.var.get().strip()
        if text:
            self.result = text
            self.destroy()


class TextReport(Dialog):
    """Read-only lines (an import or export report: what was skipped and why, warnings) in a
    scrollable box."""

    def __init__(self, parent: tk.Misc, title: str, heading: str, lines: Sequence[str]) -> None:
        super().__init__(parent, title, resizable=True)
        self.heading = heading
        self.lines = list(lines)
        ttk.Label(self.body, text=heading, wraplength=720, justify="left").pack(anchor="w", pady=(0, 2 * PAD))
        frame = ttk.Frame(self.body)
        frame.pack(fill="both", expand=True)
        text = tk.Text(frame, width=80, height=min(16, max(4, len(lines))), wrap="word", relief="flat",
                       borderwidth=0, highlightthickness=1, padx=2 * PAD, pady=2 * PAD, font="TkDefaultFont")
        sb = ttk.Scrollbar(frame, command=text.yview)
        text.configure(yscrollcommand=sb.set)
        text.insert("1.0", "\n".join(lines))
        text.configure(state="disabled")
        text.pack(side="left", fill="both", expand=True)
        sb.pack(side="right", fill="y")
        self.add_button("Close", self.cancel, default=True)
        self.show()
