"""The one way the windows run work off the Tk thread (issue 14).

Rule 2 of the brief: only the Tk thread touches widgets; a worker gets plain data in and reports
through a `queue.Queue` that the Tk side drains with `after()`. Every background task of the UI
(imports, exports, copies, the token count and its helpers, the filter query, the settings
dialog's probes, the stats board, the Problems panel) is a `Job`; the AI-assist stream, whose
thread lives in lima_tk/assist.py, is drained by a `Ticker`. In the spirit of porcupine's
`run_in_thread` (the callback runs in Tk's loop) and of thonny's workdlg (each method says which
thread may call it, and the job has an explicit state).

- `Ticker(widget, tick, every_ms)`: an `after()` loop on the Tk thread: `tick()` runs every
  `every_ms` until it returns False, raises, or `close()` is called; a destroyed window ends it
  quietly. Teardown is `close()` (after_cancel, TclError ignored).
- `Job(widget, work, on_done=..., on_error=..., on_cancelled=..., on_progress=..., on_event=...)`:
  `work(job)` runs on a daemon thread. From there it calls `job.progress(done, total)`,
  `job.post(kind, payload)` and checks `job.cancelled` (or `job.check_cancelled()`). The Tk side
  delivers, in order: `on_progress` (coalesced, the newest per tick), `on_event(kind, payload)`,
  then exactly one of `on_done(result)`, `on_error(exc)` (re-raised into
  `report_callback_exception` when there is no `on_error`) or `on_cancelled()` (the work raised
  `Cancelled` after a cancel). States: idle -> working -> (cancelling ->) done | failed | cancelled,
  or closed. `close()` is the teardown: the worker is asked to stop, polling stops, nothing more
  is delivered and the callbacks are dropped (no reference keeps a closed window alive).
- `run_in_thread(widget, fn, on_done, on_error)`: `fn()` on a worker, its result on the Tk thread.
- `JobGroup`: the jobs of one component, closed together when it closes.

Before a worker starts, young garbage is collected on the Tk thread: a Tk object (a closed
dialog's Variable) found by a collection that happens to run in the worker would be finalized
there, a Tcl call off the Tk thread.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any

from lima_tk.errors import Cancelled

PROGRESS_EVERY_S = 0.03  # a worker reports progress at most this often (the queue never floods)


class Ticker:
    """An `after()` loop: `tick()` every `every_ms` on the Tk thread while it returns anything but
    False. Tk thread only."""

    def __init__(self, widget: tk.Misc, tick: Callable[[], bool | None], every_ms: int) -> None:
        self.widget = widget
        self.tick = tick
        self.every_ms = every_ms
        self._after: str | None = None
        self.closed = False

    @property
    def running(self) -> bool:
        return self._after is not None

    def start(self, delay_ms: int | None = None) -> Ticker:
        """Schedule the next tick (no-op while one is scheduled)."""
        if self._after is None and not self.closed:
            try:
                self._after = self.widget.after(self.every_ms if delay_ms is None else delay_ms, self._run)
            except (tk.TclError, RuntimeError):  # the window (or the interpreter) is gone
                self._after = None
        return self

    def close(self) -> None:
        """Teardown: no more ticks."""
        self.closed = True
        if self._after is not None:
            try:
                self.widget.after_cancel(self._after)
            except (tk.TclError, RuntimeError):
                pass
            self._after = None

    def _run(self) -> None:
        self._after = None
        if self.closed:
            return
        if self.tick() is not False:  # an exception ends the loop too (and reaches the error handler)
            self.start()


class Job:
    """One piece of work on a worker thread, reported back on the Tk thread (see the module)."""

    def __init__(
        self,
        widget: tk.Misc,
        work: Callable[[Job], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_event: Callable[[str, Any], None] | None = None,
        poll_ms: int = 50,
        name: str = "job",
        thread_name: str | None = None,
        max_events: int = 200,
        keep_polling: Callable[[], bool] | None = None,
    ) -> None:
        """`keep_polling`: for a long-lived worker that waits for requests (the filter query):
        polling pauses while it returns False, and `wake()` resumes it."""
        self.widget = widget
        self.work = work
        self.on_done = on_done
        self.on_error = on_error
        self.on_cancelled = on_cancelled
        self.on_progress = on_progress
        self.on_event = on_event
        self.poll_ms = poll_ms
        self.name = name
        self.thread_name = thread_name or f"lima-tk {name}"
        self.max_events = max_events
        self.keep_polling = keep_polling
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.cancel_event = threading.Event()
        self.state = "idle"
        self.result: Any = None
        self.error: BaseException | None = None
        self.done_count = 0
        self.total = 0
        self.writes = False  # the job writes the dataset (the main window refuses other changes meanwhile)
        self._ticker = Ticker(widget, self._drain, poll_ms)
        self._thread: threading.Thread | None = None
        self._last_progress = 0.0
        self._held: tuple[int, int] | None = None  # a progress call the rate limit held back

    # -- worker thread (any thread) ------------------------------------------------------------

    def progress(self, done: int, total: int) -> None:
        """Any thread. Rate-limited: the last call (done >= total) always gets through, and a
        call held back is sent before the next `post` (an event never overtakes the progress)."""
        now = time.monotonic()
        if done >= total or now - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = now
            self._held = None
            self.events.put(("progress", (int(done), int(total))))
        else:
            self._held = (int(done), int(total))

    def post(self, kind: str, payload: Any = None) -> None:
        """Any thread: an event for `on_event(kind, payload)` on the Tk thread."""
        held, self._held = self._held, None
        if held is not None:
            self.events.put(("progress", held))
        self.events.put((kind, payload))

    @property
    def cancelled(self) -> bool:
        """Any thread: whether the job was asked to stop."""
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Any thread: raise Cancelled when the job was asked to stop (call between chunks)."""
        if self.cancel_event.is_set():
            raise Cancelled("cancelled")

    def _run(self) -> None:
        try:
            result = self.work(self)
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the Tk thread
            self.events.put(("_error", e))
        else:
            self.events.put(("_done", result))

    # -- Tk thread -----------------------------------------------------------------------------

    def start(self, collect: int | None = 1) -> Job:
        """Tk thread. `collect`: the garbage generation collected first (None: none; 2: all, for
        callers that just closed a dialog with Tk variables)."""
        if collect is not None:
            gc.collect(collect)
        self.state = "working"
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._ticker.start()
        return self

    def cancel(self) -> None:
        """Tk thread (the flag itself is thread-safe): ask the worker to stop."""
        if self.state == "working":
            self.state = "cancelling"
        self.cancel_event.set()

    def wake(self) -> None:
        """Tk thread: poll again (after `keep_polling` paused it)."""
        if not self.finished:
            self._ticker.start(0)

    def close(self) -> None:
        """Tk thread. Teardown: ask the worker to stop, stop polling, deliver nothing more."""
        self.cancel_event.set()
        self._ticker.close()
        if not self.finished:
            self.state = "closed"
        self.on_done = self.on_error = self.on_progress = self.on_event = None
        self.on_cancelled = None
        self.keep_polling = None

    stop_polling = close

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "closed")

    @property
    def running(self) -> bool:
        return self.state in ("working", "cancelling")

    def join(self, timeout: float | None = None) -> bool:
        """Any thread but the worker's: True when the worker has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _drain(self) -> bool:
        progress = None
        for _ in range(self.max_events):
            try:
                kind, payload = self.events.get_nowait()
            except queue.Empty:
                break
            if kind == "progress":
                progress = payload
                continue
            if progress is not None:
                self._apply_progress(progress)
                progress = None
            if kind in ("_done", "_error"):
                self._finish(kind, payload)
                return False
            if self.on_event is not None:
                self.on_event(kind, payload)
            if self.finished:  # closed by the event's handler
                return False
        if progress is not None:
            self._apply_progress(progress)
        if self.finished:
            return False
        return self.keep_polling is None or self.keep_polling()

    def _apply_progress(self, progress: tuple[int, int]) -> None:
        self.done_count, self.total = progress
        if self.on_progress is not None:
            self.on_progress(self.done_count, self.total)

    def _finish(self, kind: str, payload: Any) -> None:
        self._ticker.close()
        if kind == "_done":
            self.result = payload
            self.state = "done"
            if self.on_done is not None:
                self.on_done(payload)
            return
        self.error = payload
        if self.cancel_event.is_set() and isinstance(payload, Cancelled):
            self.state = "cancelled"
            if self.on_cancelled is not None:
                self.on_cancelled()
            return
        self.state = "failed"
        if self.on_error is not None:
            self.on_error(payload)
        else:
            raise payload


def run_in_thread(widget: tk.Misc, fn: Callable[[], Any], on_done: Callable[[Any], None],
                  on_error: Callable[[BaseException], None] | None = None, *, name: str = "task",
                  poll_ms: int = 30) -> Job:
    """Tk thread: `fn()` on a worker thread; `on_done(result)` (or `on_error(exc)`) on the Tk
    thread. Returns the started Job (close it to drop the result)."""
    return Job(widget, lambda job: fn(), on_done=on_done, on_error=on_error, poll_ms=poll_ms, name=name).start()


class JobGroup:
    """The jobs of one component (a window, a panel): closed together by its teardown. Tk thread."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def add(self, job: Job) -> Job:
        self.jobs = [j for j in self.jobs if not j.finished] + [job]
        return job

    @property
    def busy(self) -> bool:
        return any(not j.finished for j in self.jobs)

    def close(self) -> None:
        for job in self.jobs:
            job.close()
        self.jobs = []
