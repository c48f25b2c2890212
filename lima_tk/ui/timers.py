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
    return str(script).split(" ", 1)[0]  # a Python str copy: the timer's own script stays a string


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


def orphans(widget: tk.Misc) -> list[str]:
    """Pending timers whose callback command was deleted with its widget."""
    out = []
    for after_id in pending(widget):
        name = _command(widget, after_id)
        if name and not widget.tk.call("namespace", "which", "-command", name):
            out.append(after_id)
    return out


def cancel_orphans(widget: tk.Misc) -> int:
    """Cancel the timers whose callback command was deleted with its widget."""
    ids = orphans(widget)
    for after_id in ids:
        widget.tk.call("after", "cancel", after_id)
    return len(ids)


# In Tcl, not Python: a Python callback scheduled while the whole window goes would itself be
# left behind with its command deleted.
_SWEEP = r"""
proc ::lima_sweep_timers {} {
    foreach id [after info] {
        if {[catch {lindex [after info $id] 0} script]} continue
        # String commands only: a list command would turn the timer's own script into a Tcl list,
        # which tkinter's after_cancel then gets as a tuple and fails on.
        set n [string first " " $script]
        if {$n >= 0} { set cmd [string range $script 0 [expr {$n - 1}]] } else { set cmd [string range $script 0 end] }
        if {$cmd ne "" && [namespace which -command $cmd] eq ""} { after cancel $id }
    }
}
bind Toplevel <Destroy> {+after idle ::lima_sweep_timers}
set ::lima_sweep_installed 1
"""


def sweep_on_close(root: tk.Misc) -> None:
    """After any Toplevel of `root`'s interpreter is destroyed, drop the timers it left behind
    (once per interpreter)."""
    if not int(root.tk.call("info", "exists", "::lima_sweep_installed")):
        root.tk.eval(_SWEEP)
