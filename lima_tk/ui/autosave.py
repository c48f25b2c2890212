"""Saving typed text in the GUI: a debounce with a max-wait, retries with backoff, and the
question asked when a window closes while text is still not saved.

The rule (docs/architecture.md, "GUI autosave"): typed text stays unsaved until a write of it
has committed. A write that fails (another process holds the dataset's write lock, the disk is
full) keeps the text unsaved, says so, and is retried after 0.25, 0.5, 1, 2, 2... s. The Tk
thread's connection waits at most GUI_BUSY_TIMEOUT_MS for a lock, so a failing attempt costs the
event loop about that long and the loop never freezes while another process writes.

Closing a window with unsaved text first keeps retrying for a moment (the Tk loop keeps running);
if the text is still not saved it asks: retry, copy the text (clipboard, and a file in the user
data folder), or keep the window open. The question goes away by itself once a retry succeeds.

Tk thread only.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk

from lima_tk.errors import DatasetBusy, DatasetError, DatasetFull

SAVE_DELAY_MS = 500  # typing pause before the text is saved
SAVE_MAX_WAIT_MS = 800  # ...but never later than this after the first unsaved keystroke (< 1 s)
RETRY_MS = (250, 500, 1000, 2000)  # backoff between attempts after a failed write (then 2 s)
GUI_BUSY_TIMEOUT_MS = 20  # how long a write on the Tk thread waits for another process's lock
CLOSE_GRACE_MS = 1000  # closing with unsaved text: retry this long before asking
DIALOG_POLL_MS = 250  # while the question is shown, retry this often (it closes itself on success)

# Write failures that keep the text unsaved and are retried (anything else is a bug: it is raised).
RETRYABLE = (DatasetError, sqlite3.OperationalError, sqlite3.DatabaseError, OSError)
# After a failed write, no other autosave write is tried for this long (any window): two timers
# due in the same loop iteration would otherwise wait GUI_BUSY_TIMEOUT_MS each, back to back.
FAILED_WRITE_SPACING_S = 0.1
_last_failed_write = [float("-inf")]  # monotonic time of the last failed autosave write (any window)
_last_failure: list[BaseException | None] = [None]  # ...and why it failed


def write_wait() -> float:
    """Seconds until a write on the Tk thread may be tried again after a failed one (0: now).
    Every Tk-thread writer that retries (autosave, token counts) asks this, so two of them never
    wait for the same lock back to back in one turn of the event loop."""
    return max(0.0, _last_failed_write[0] + FAILED_WRITE_SPACING_S - time.monotonic())


def write_failed(exc: BaseException | None = None) -> None:
    """A Tk-thread write just failed for want of the lock (or room)."""
    _last_failed_write[0] = time.monotonic()
    _last_failure[0] = exc


def recent_failure() -> BaseException | None:
    """Why the last Tk-thread write failed, while writes are still being spaced after it: the
    reason of a save that was not tried because another one failed a moment ago."""
    return _last_failure[0] if write_wait() > 0 else None


def plain_reason(exc: BaseException) -> str:
    """Why a write failed, in plain words for "Not saved: <reason>, retrying" (never SQLite's own
    "database is locked")."""
    msg = str(exc)
    low = msg.lower()
    if isinstance(exc, DatasetBusy) or "locked" in low or "busy" in low:
        return "another program is writing to the dataset"
    if isinstance(exc, DatasetFull) or "full" in low or "no space" in low:
        return "the disk is full"
    if "read-only" in low or "readonly" in low:
        return "the dataset cannot be written (read-only)"
    if "disk i/o" in low:
        return "the disk reported an error"
    # A DatasetError names its file first ("/path/x.lima.db: ..."): the message says which window.
    m = re.match(r"^(?:[A-Za-z]:)?[^:]*: (.+)$", msg)
    if m and (msg.startswith(("/", "~", ".")) or re.match(r"^[A-Za-z]:\\", msg)):
        msg = m.group(1)
    return msg.rstrip(".") or type(exc).__name__


class Autosaver:
    """When to write a window's unsaved text: `touched()` on each edit arms a timer for
    `delay_ms` after the last edit, but at most `max_wait_ms` after the first unsaved one;
    `attempt()` writes now. `save()` writes everything unsaved and raises on failure (what it
    did not write stays unsaved); `on_state(exc)` is told when saving starts failing or the
    reason changes (an exception) and when it works again (None)."""

    def __init__(self, widget: tk.Misc, save: Callable[[], None], on_state: Callable[[BaseException | None], None],
                 delay_ms: int = SAVE_DELAY_MS, max_wait_ms: int = SAVE_MAX_WAIT_MS) -> None:
        self.widget = widget
        self.save = save
        self.on_state = on_state
        self.delay_ms = delay_ms
        self.max_wait_ms = max_wait_ms
        self.job: str | None = None
        self.first_unsaved: float | None = None  # monotonic time of the first unsaved edit
        self.failure: BaseException | None = None
        self.failures = 0  # consecutive failed attempts
        self.saves = 0  # attempts that committed (tests, benchmark)
        self._running = False

    @property
    def failing(self) -> bool:
        return self.failure is not None

    def reason(self) -> str | None:
        return plain_reason(self.failure) if self.failure is not None else None

    def touched(self) -> None:
        """Something became unsaved: save after the pause, or at the max-wait."""
        now = time.monotonic()
        if self.first_unsaved is None:
            self.first_unsaved = now
        if self.failure is not None and self.job is not None:
            return  # the pending retry writes this too
        due = min(now + self.delay_ms / 1000, self.first_unsaved + self.max_wait_ms / 1000)
        self._arm(max(0.0, due - now))

    def _arm(self, seconds: float) -> None:
        self.cancel()
        try:
            self.job = self.widget.after(max(0, int(seconds * 1000)), self._fire)
        except tk.TclError:  # the window is being destroyed
            self.job = None

    def _fire(self) -> None:
        self.job = None
        self.attempt()

    def cancel(self) -> None:
        if self.job is not None:
            try:
                self.widget.after_cancel(self.job)
            except tk.TclError:
                pass
            self.job = None

    def attempt(self) -> bool:
        """Write what is unsaved now; True when nothing is left unsaved. A failure schedules
        the next retry. (A nested call, from a reload that the save itself caused, does nothing.)"""
        if self._running:
            return True
        self.cancel()
        wait = write_wait()
        if wait > 0 and (self.failure is not None or self.first_unsaved is not None):
            self._arm(wait)  # a write failed a moment ago (this window or another): not now
            return False
        self._running = True
        try:
            self.save()
        except RETRYABLE as e:
            write_failed(e)
            changed = self.failure is None or plain_reason(self.failure) != plain_reason(e)
            self.failure = e
            self.failures += 1
            self._arm(RETRY_MS[min(self.failures, len(RETRY_MS)) - 1] / 1000)
            if changed:
                self.on_state(e)
            return False
        finally:
            self._running = False
        self.saves += 1
        self.first_unsaved = None
        self.failures = 0
        if self.failure is not None:
            self.failure = None
            self.on_state(None)
        return True


# -- closing a window with unsaved text ----------------------------------------------------------


def recovery_dir() -> Path:
    from lima_tk.paths import user_data_dir

    return user_data_dir() / "unsaved"


def keep_copy(widget: tk.Misc, pieces: list[tuple[str, str]]) -> Path | None:
    """Put unsaved texts on the clipboard and into a file in the user data folder (on X11 the
    clipboard empties when the program exits); returns the file, None when it could not be
    written (e.g. the same full disk)."""
    body = "\n\n".join(f"[lima-tk, not saved: {where}]\n{text}" for where, text in pieces) + "\n"
    try:
        widget.clipboard_clear()
        widget.clipboard_append(body)
    except tk.TclError:
        pass
    folder = recovery_dir()
    path = folder / time.strftime("unsaved-%Y%m%d-%H%M%S.txt")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(body)
    except OSError:
        return None
    return path


class UnsavedDialog(tk.Toplevel):
    """The question asked when a window closes while text is not saved. Shown after `grace_ms`
    of silent retries (it stays withdrawn meanwhile); retries every DIALOG_POLL_MS while shown
    and closes itself ("saved") once `attempt()` succeeds. `result`: "saved", "copied" or "keep"."""

    current: UnsavedDialog | None = None  # the open one (tests and screenshots answer it)

    def __init__(self, parent: tk.Misc, *, attempt: Callable[[], bool], pieces: Callable[[], list[tuple[str, str]]],
                 reason: Callable[[], str | None], quitting: bool = False,
                 grace_ms: int = CLOSE_GRACE_MS) -> None:
        super().__init__(parent)
        self.withdraw()
        self.attempt = attempt
        self.pieces = pieces
        self.reason = reason
        self.result = "keep"
        self.tries = 0
        self._job: str | None = None
        self.title("Not saved")
        self.resizable(False, False)
        try:
            self.transient(parent.winfo_toplevel())
        except tk.TclError:
            pass
        frame = ttk.Frame(self, padding=16)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text="⚠", font=("TkHeadingFont", 24), foreground="#b3261e").grid(
            row=0, column=0, rowspan=3, sticky="n", padx=(0, 12))
        self.head = ttk.Label(frame, text="", font="TkHeadingFont", wraplength=440, justify="left")
        self.head.grid(row=0, column=1, sticky="w")
        self.body = ttk.Label(frame, text="", wraplength=440, justify="left")
        self.body.grid(row=1, column=1, sticky="w", pady=(6, 0))
        self.line = ttk.Label(frame, text="", foreground="#5f6b7a", wraplength=440, justify="left")
        self.line.grid(row=2, column=1, sticky="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=3, column=0, columnspan=2, sticky="e", pady=(16, 0))
        self.retry_button = ttk.Button(buttons, text="Retry now", command=self.retry_now)
        self.copy_button = ttk.Button(buttons, text="Copy text and quit" if quitting else "Copy text and close",
                                      command=self.copy)
        self.keep_button = ttk.Button(buttons, text="Don't quit" if quitting else "Keep the window open",
                                      command=self.keep)
        self.copy_button.pack(side="left")
        self.keep_button.pack(side="left", padx=8)
        self.retry_button.pack(side="left")
        self.quitting = quitting
        self.protocol("WM_DELETE_WINDOW", self.keep)
        self.bind("<Escape>", lambda e: self.keep())
        self.bind("<Return>", lambda e: self.retry_now())
        self._fill()
        self._job = self.after(max(0, grace_ms), self._show)
        self._poll_job: str | None = self.after(100, self._poll)
        UnsavedDialog.current = self

    def _fill(self) -> None:
        pieces = self.pieces()
        n = len(pieces)
        reason = self.reason() or "the dataset could not be written"
        where = pieces[0][0] if n == 1 else f"{n} texts"
        self.head.configure(text=f"{where[0].upper()}{where[1:]} {'is' if n == 1 else 'are'} not saved")
        lines = [f"Why: {reason}. lima-tk keeps trying; this question goes away by itself once it is saved."]
        if n > 1:
            lines.append("\n".join(f"• {w}" for w, _ in pieces[:6]) + ("\n• …" if n > 6 else ""))
        lines.append(f"Copy puts the text on the clipboard and in {_short(recovery_dir())}; then "
                     f"{'lima-tk quits' if self.quitting else 'the window closes'} without it.")
        self.body.configure(text="\n\n".join(lines))

    def _show(self) -> None:
        self._job = None
        if not self.winfo_exists():
            return
        self.deiconify()
        self.lift()
        try:
            self.grab_set()
        except tk.TclError:
            pass
        self.keep_button.focus_set()

    def _poll(self) -> None:
        self._poll_job = None
        self._try()
        if self.winfo_exists() and self.result == "keep" and UnsavedDialog.current is self:
            self._poll_job = self.after(DIALOG_POLL_MS if self.winfo_viewable() else 100, self._poll)

    def _try(self) -> bool:
        self.tries += 1
        if self.attempt():
            self._end("saved")
            return True
        self._fill()
        self.line.configure(text=f"Retrying… ({self.tries} attempts so far)")
        return False

    def retry_now(self) -> None:
        self._try()

    def copy(self) -> None:
        pieces = self.pieces()
        if pieces:
            keep_copy(self, pieces)
        self._end("copied")

    def keep(self) -> None:
        self._end("keep")

    def _end(self, result: str) -> None:
        self.result = result
        for job in (self._job, self._poll_job):
            if job is not None:
                try:
                    self.after_cancel(job)
                except tk.TclError:
                    pass
        self._job = self._poll_job = None
        if UnsavedDialog.current is self:
            UnsavedDialog.current = None
        try:
            self.grab_release()
            self.destroy()
        except tk.TclError:
            pass


def resolve_unsaved(parent: tk.Misc, *, attempt: Callable[[], bool], pieces: Callable[[], list[tuple[str, str]]],
                    reason: Callable[[], str | None], quitting: bool = False,
                    grace_ms: int = CLOSE_GRACE_MS) -> str:
    """Closing with unsaved text: retry for `grace_ms` (the Tk loop keeps running), then ask.
    Returns "saved" (everything got written), "copied" (the user took a copy: close without it)
    or "keep" (do not close)."""
    if attempt():
        return "saved"
    dialog = UnsavedDialog(parent, attempt=attempt, pieces=pieces, reason=reason, quitting=quitting,
                           grace_ms=grace_ms)
    try:
        parent.wait_window(dialog)
    except tk.TclError:
        pass
    return dialog.result


def _short(path: Path) -> str:
    home = str(Path.home())
    p = str(path)
    return "~" + p[len(home):] if p.startswith(home + os.sep) else p


def describe(chat_name: str | None, index: int | None) -> str:
    """"message #3 of “Chat”" for the question and the copied text."""
    name = f"“{chat_name or 'Untitled chat'}”"
    return f"message #{index + 1} of {name}" if index is not None else f"the properties of {name}"

