"""Pending `after()` callbacks at teardown. tkinter deletes a widget's callback commands when the
widget is destroyed, but Tcl keeps the timer: when it fires it prints `invalid command name
"...update"` (on Tk 8.6 and 9). A window that closes cancels every timer whose command is gone;
the main window cancels all of its interpreter's timers before it goes. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk


def pending(widget: tk.Misc) -> list[str]:
    """Ids of the interpreter's pending `after` timers (idle callbacks included)."""
    return list(widget.tk.splitlist(widget.tk.call("after", "info")))


def _command(widget: tk.Misc, after_id: str) -> str:
    try:
        script = widget.tk.splitlist(widget.tk.call("after", "info", after_id))[0]
    except tk.TclError:  # it ran or was cancelled meanwhile
        return ""
    words = widget.tk.splitlist(script)
    return str(words[0]) if words else ""


def cancel_all(widget: tk.Misc) -> int:
    """Cancel every pending timer of `widget`'s interpreter (the main window's teardown)."""
    n = 0
    for after_id in pending(widget):
        try:
            widget.after_cancel(after_id)
            n += 1
        except tk.TclError:
            pass
    return n


def cancel_orphans(widget: tk.Misc) -> int:
    """Cancel the timers whose callback command was deleted with its widget."""
    n = 0
    for after_id in pending(widget):
        name = _command(widget, after_id)
        if name and not widget.tk.call("info", "commands", name):
            widget.tk.call("after", "cancel", after_id)
            n += 1
    return n


def sweep_on_close(root: tk.Misc) -> None:
    """After any Toplevel of `root`'s interpreter is destroyed, drop the timers it left behind."""

    def closed(_e: tk.Event) -> None:
        try:
            root.after_idle(lambda: cancel_orphans(root))
        except (tk.TclError, RuntimeError):  # the root itself is going
            pass

    root.bind_class("Toplevel", "<Destroy>", closed, add="+")
