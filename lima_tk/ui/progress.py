"""A cancellable progress window for slow work (import, export, copy) run as a `worker.Job`.

`run_with_progress(parent, title, message, work, ...)` starts `work(job)` on a worker thread
(lima_tk/ui/worker.py: the worker reports `job.progress(done, total)` and checks
`job.cancel_event` between chunks) behind a `ProgressDialog` whose Cancel cancels the job; the
dialog closes itself before the job's callbacks run. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from lima_tk.ui.theme import PAD
from lima_tk.ui.worker import Job


class ProgressDialog(tk.Toplevel):
    """A small window with a message, a progress bar, counts and Cancel. Tk thread only."""

    def __init__(self, parent: tk.Misc, title: str, message: str, unit: str = "") -> None:
        super().__init__(parent)
        self.withdraw()
        self.title(title)
        self.transient(parent.winfo_toplevel())
        self.resizable(False, False)
        self.unit = unit
        self.job: Job | None = None
        body = ttk.Frame(self, padding=4 * PAD)
        body.pack(fill="both", expand=True)
        self.message = ttk.Label(body, text=message, wraplength=420)
        self.message.pack(anchor="w")
        self.bar = ttk.Progressbar(body, orient="horizontal", length=420, mode="indeterminate")
        self.bar.pack(fill="x", pady=(3 * PAD, PAD))
        self.bar.start(40)
        row = ttk.Frame(body)
        row.pack(fill="x", pady=(PAD, 0))
        self.counts = ttk.Label(row, text="Starting…", style="Muted.TLabel")
        self.counts.pack(side="left")
        self.cancel_button = ttk.Button(row, text="Cancel", command=self.cancel)
        self.cancel_button.pack(side="right")
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.bind("<Escape>", lambda e: self.cancel())
        self.update_idletasks()
        _center_over(self, parent.winfo_toplevel())
        self.deiconify()
        self.cancel_button.focus_set()

    def attach(self, job: Job) -> None:
        self.job = job

    def set_progress(self, done: int, total: int) -> None:
        if total > 0:
            if str(self.bar.cget("mode")) != "determinate":
                self.bar.stop()
                self.bar.configure(mode="determinate")
            self.bar.configure(maximum=total, value=min(done, total))
            pct = int(100 * done / total) if total else 0
            if self.unit == "bytes":
                text = f"{_amount(done, 'bytes', total)} of {_amount(total, 'bytes')}"
            else:
                text = f"{done:,} of {_amount(total, self.unit)}"
            self.counts.configure(text=f"{text} ({pct}%)")
        else:
            self.counts.configure(text=_amount(done, self.unit))

    def cancel(self) -> None:
        if self.job is not None and not self.job.finished:
            self.job.cancel()
            self.counts.configure(text="Cancelling…")
            self.cancel_button.state(["disabled"])

    def close(self) -> None:
        try:
            self.bar.stop()
            self.destroy()
        except tk.TclError:
            pass


def run_with_progress(
    parent: tk.Misc,
    title: str,
    message: str,
    work: Callable[[Job], Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    on_event: Callable[[str, Any], None] | None = None,
    unit: str = "",
    poll_ms: int = 50,
    collect: int | None = 2,
) -> Job:
    """Start `work(job)` on a worker thread behind a ProgressDialog.

    Returns the started Job (tests wait for `job.finished`). The dialog closes itself before the
    callbacks run; `on_event(kind, payload)` gets what the work posts (`job.post`), dialog open.
    `collect`: see `Job.start` (all generations by default: the dialog that asked for this work
    may have just closed, with its Tk variables). Tk thread only.
    """
    dialog = ProgressDialog(parent, title, message, unit)

    def finish(callback, *args):
        dialog.close()
        if callback is not None:
            callback(*args)

    job = Job(
        parent,
        work,
        on_done=lambda r: finish(on_done, r),
        on_error=lambda e: finish(on_error, e) if on_error else (dialog.close(), _reraise(e)),
        on_cancelled=lambda: finish(on_cancelled),
        on_progress=dialog.set_progress,
        on_event=on_event,
        poll_ms=poll_ms,
        name=title,
    )
    dialog.attach(job)
    job.dialog = dialog  # type: ignore[attr-defined]
    return job.start(collect=collect)


def _amount(n: int, unit: str, scale_from: int | None = None) -> str:
    """'1,200 chats', or bytes as '3.4 MB' (scaled like `scale_from` so both numbers match)."""
    if unit == "bytes":
        ref = scale_from if scale_from is not None else n
        if ref >= 1 << 20:
            return f"{n / (1 << 20):.1f} MB"
        if ref >= 1 << 10:
            return f"{n / (1 << 10):.0f} KB"
        return f"{n} bytes"
    return f"{n:,} {unit}".strip()


def _reraise(e: BaseException) -> None:
    raise e


def _center_over(win: tk.Toplevel, over: tk.Misc) -> None:
    try:
        x = over.winfo_rootx() + (over.winfo_width() - win.winfo_reqwidth()) // 2
        y = over.winfo_rooty() + (over.winfo_height() - win.winfo_reqheight()) // 3
        win.geometry(f"+{max(0, x)}+{max(0, y)}")
    except tk.TclError:
        pass
