"""Run slow work (import, export, copy) on a worker thread with a cancellable progress dialog.

The worker gets plain data in and puts `(kind, payload...)` events on a `queue.Queue`:
`("progress", done, total)`, `("done", result)` or `("error", exc)`. The Tk side drains the queue
every `poll_ms` with `after()` and applies the events; Cancel sets a `threading.Event` that the
worker checks between chunks. Nothing on the worker thread touches Tk.

Job states (as in thonny's workdlg): idle -> working -> (cancelling ->) done | failed | cancelled.
"""

from __future__ import annotations

import queue
import threading
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from lima_tk.ui.theme import PAD

Work = Callable[[Callable[[int, int], None], threading.Event], Any]


class Job:
    """One piece of work on a worker thread. Create and start on the Tk thread only."""

    def __init__(
        self,
        widget: tk.Misc,
        work: Work,
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        poll_ms: int = 50,
        name: str = "job",
        thread_name: str | None = None,
    ) -> None:
        self.widget = widget
        self.work = work
        self.on_done = on_done
        self.on_error = on_error
        self.on_cancelled = on_cancelled
        self.on_progress = on_progress
        self.poll_ms = poll_ms
        self.name = name
        self.thread_name = thread_name or f"lima-tk {name}"
        self.events: queue.Queue[tuple] = queue.Queue()
        self.cancel_event = threading.Event()
        self.state = "idle"
        self.result: Any = None
        self.error: BaseException | None = None
        self.done_count = 0
        self.total = 0
        self._after: str | None = None
        self._thread: threading.Thread | None = None
        self._last_put = 0.0

    # -- worker thread ----------------------------------------------------------------------

    def _progress(self, done: int, total: int) -> None:
        """May be called from the worker thread. Rate-limited so the queue never floods."""
        now = time.monotonic()
        if done >= total or now - self._last_put >= 0.03:
            self._last_put = now
            self.events.put(("progress", int(done), int(total)))

    def _run(self) -> None:
        try:
            result = self.work(self._progress, self.cancel_event)
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the Tk thread
            self.events.put(("error", e))
        else:
            self.events.put(("done", result))

    # -- Tk thread ----------------------------------------------------------------------------

    def start(self) -> Job:
        """Don't call from a non-UI thread."""
        self.state = "working"
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._after = self.widget.after(self.poll_ms, self._drain)
        return self

    def cancel(self) -> None:
        """Ask the worker to stop; it ends with a `Cancelled` error that we report as cancelled."""
        if self.state == "working":
            self.state = "cancelling"
            self.cancel_event.set()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def _drain(self) -> None:
        self._after = None
        last_progress = None
        for _ in range(200):  # at most this many events per tick
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            kind = event[0]
            if kind == "progress":
                last_progress = event
                continue
            if last_progress is not None:
                self._apply_progress(last_progress)
                last_progress = None
            self._finish(kind, event[1])
            return
        if last_progress is not None:
            self._apply_progress(last_progress)
        try:
            self._after = self.widget.after(self.poll_ms, self._drain)
        except tk.TclError:  # the window is gone
            pass

    def _apply_progress(self, event: tuple) -> None:
        _, self.done_count, self.total = event
        if self.on_progress:
            self.on_progress(self.done_count, self.total)

    def _finish(self, kind: str, payload: Any) -> None:
        if kind == "done":
            self.result = payload
            self.state = "done"
            if self.on_done:
                self.on_done(payload)
            return
        self.error = payload
        if self.cancel_event.is_set() and _is_cancelled(payload):
            self.state = "cancelled"
            if self.on_cancelled:
                self.on_cancelled()
            return
        self.state = "failed"
        if self.on_error:
            self.on_error(payload)
        else:
            raise payload

    def stop_polling(self) -> None:
        """On close: cancel the worker and stop the after() loop."""
        self.cancel()
        if self._after is not None:
            try:
                self.widget.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


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
    work: Work,
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    unit: str = "",
    poll_ms: int = 50,
) -> Job:
    """Start `work(progress, cancel_event)` on a worker thread behind a ProgressDialog.

    Returns the started Job (tests wait for `job.finished`). The dialog closes itself before the
    callbacks run. Tk thread only.
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
        poll_ms=poll_ms,
        name=title,
    )
    dialog.attach(job)
    job.dialog = dialog  # type: ignore[attr-defined]
    return job.start()


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


class _WorkerCancelled(Exception):
    """Raised in a worker whose progress callback saw the cancel flag (when formats' Cancelled
    is not importable)."""


def raise_if_cancelled(cancel: threading.Event) -> None:
    """Any thread: for workers of our own (backup copy) that check the flag between chunks."""
    if cancel.is_set():
        _raise_cancelled()


def _raise_cancelled() -> None:
    try:
        from lima_tk.formats import Cancelled
    except ImportError:  # pragma: no cover - formats not installed yet
        raise _WorkerCancelled("cancelled") from None
    raise Cancelled("cancelled")


def _is_cancelled(exc: BaseException) -> bool:
    if isinstance(exc, _WorkerCancelled):
        return True
    try:
        from lima_tk.formats import Cancelled
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, Cancelled)
