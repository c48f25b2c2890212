"""The keys every dialog and text field shares (issue 13): Enter presses a dialog's default
button and Escape cancels it; Ctrl+A selects all the text of an Entry, Combobox, Spinbox or Text
(Tk's own Ctrl+A moves to the line start, so typing then appended to the old value).
Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

# Widget classes whose Ctrl+A selects all (class bindings: they run before the window's own keys,
# so Ctrl+A in the main window's filter field selects its text, not every chat).
ENTRY_CLASSES = ("Entry", "TEntry", "TCombobox", "Spinbox", "TSpinbox")
SELECT_ALL_KEYS = ("<Control-a>", "<Control-A>")


def _select_all_entry(event: tk.Event) -> str:
    w = event.widget
    try:
        w.selection_range(0, "end")
        w.icursor("end")
    except (AttributeError, tk.TclError):
        return ""
    return "break"


def _select_all_text(event: tk.Event) -> str:
    w = event.widget
    try:
        w.tag_add("sel", "1.0", "end-1c")
        w.mark_set("insert", "end-1c")
    except (AttributeError, tk.TclError):
        return ""
    return "break"


def install_select_all(root: tk.Misc) -> None:
    """Ctrl+A = select all in every text field of this Tk interpreter (once per interpreter)."""
    if int(root.tk.call("info", "exists", "::lima_select_all")):
        return
    root.tk.setvar("::lima_select_all", 1)
    for cls in ENTRY_CLASSES:
        for seq in SELECT_ALL_KEYS:
            root.bind_class(cls, seq, _select_all_entry)
    for seq in SELECT_ALL_KEYS:
        root.bind_class("Text", seq, _select_all_text)


def bind_dialog_keys(win: tk.Misc, default: Callable[[], object], cancel: Callable[[], object]) -> None:
    """Enter (and keypad Enter) = `default`, Escape = `cancel`, bound on the dialog window.

    Enter in a Text is a new line, and on a focused button presses that button (Tab to Cancel,
    Enter: cancels). A field that handles Enter itself returns "break" from its own binding."""

    def on_return(event: tk.Event) -> str | None:
        w = event.widget
        if isinstance(w, tk.Text):
            return None
        if isinstance(w, (ttk.Button, tk.Button)):
            if str(w.cget("state")) != "disabled":
                w.invoke()
            return "break"
        default()
        return "break"

    win.bind("<Return>", on_return)
    win.bind("<KP_Enter>", on_return)
    win.bind("<Escape>", lambda e: (cancel(), "break")[1])
    install_select_all(win)
