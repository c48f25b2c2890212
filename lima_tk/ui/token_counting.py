"""Token counts of the main window (issue 6): the background count pass, its progress and the dataset
total in the status bar, and the tokenizer the chat editors count with. See docs/tokens.md.

`TokenCounting` (one per main window) runs a count pass when a dataset opens (after the first
paint) and when the tokenizer setting changes, and refreshes only what is on screen: the Tokens
cells of the visible rows, the total in the status bar, the open editors. It also loads a
`Counter` (reading a tokenizer takes 0.05-1 s) that the editors use to recount one chat on the Tk
thread after a save (`tokens.count_chat`: ~0.4 ms for one changed message; a big chat is
recounted on a worker). Counting never imports `tokenizers` before the first paint and never
downloads more than once per tokenizer setting and session (unless asked: View > Count tokens now).

Every worker is a `lima_tk.ui.worker.Job` (the count pass) or `run_in_thread` (the counter, a big
chat's recount, the dataset total) with a store of its own; a result for an older dataset or
tokenizer setting (an older "generation") is dropped. Tk thread only, except the `_work_*`
functions, which run on worker threads and touch no Tk object.
"""

from __future__ import annotations

import sqlite3
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import NotFound
from lima_tk.store import DatasetStore, TokenTotal
from lima_tk.ui.theme import PAD, PALETTE
from lima_tk.ui.worker import Job, JobGroup, run_in_thread

if TYPE_CHECKING:
    from lima_tk.tokens import ChatCount, Counter, CountResult
    from lima_tk.ui.interfaces import CountingHost

DEFAULT_NAME = "Qwen/Qwen2.5-0.5B-Instruct"  # tokens.DEFAULT_TOKENIZER (not imported at start-up)


def compact(n: int) -> str:
    """A dataset total for the status bar: 8,123 / 45,678 / 456k / 1.2M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 100_000:
        return f"{n // 1000:,}k"
    return f"{n:,}"


def short_name(setting: str) -> str:
    """A tokenizer setting for a narrow place: a hub id as is, a path by its last parts."""
    setting = setting.strip() or DEFAULT_NAME
    if "/" in setting and (setting.startswith(("/", "~", ".")) or setting.count("/") > 1 or "\\" in setting):
        p = Path(setting)
        setting = p.parent.name if p.name == "tokenizer.json" and p.parent.name else p.name
    return setting if len(setting) <= 40 else setting[:39] + "…"


# -- worker threads (no Tk here) ---------------------------------------------------------------


def _work_count(path: Path, job: Job, download: bool, force: bool) -> CountResult | None:
    """Skip the tokenizer load when everything is counted, else count what is missing."""
    from lima_tk import tokens

    if not force:
        with DatasetStore(path) as store:
            if not tokens.counting_needed(store):
                return None
    return tokens.count_missing(path, status=lambda text: job.post("status", text), progress=job.progress,
                                cancel=job.cancel_event, download=download)


def _work_load(setting: str, base_dir: Path) -> Counter:
    """A counter from local files or the hub cache (never a download)."""
    from lima_tk import tokens

    return tokens.load_counter(setting, base_dir=base_dir, download=False)


def _work_chat(path: Path, counter: Counter, chat_id: int) -> ChatCount | None:
    """Recount one (big) chat with its own store; the counter is shared (encoding is thread-safe
    in `tokenizers`). None: the chat is gone."""
    from lima_tk.tokens import count_chat

    try:
        with DatasetStore(path) as store:
            return count_chat(store, counter, chat_id)
    except NotFound:
        return None


def _work_total(path: Path, readonly: bool) -> TokenTotal | None:
    """~45 ms on 440,000 messages."""
    with DatasetStore(path, readonly=readonly) as store:
        return store.token_total()


def _why(e: BaseException) -> str:
    return str(e) or type(e).__name__


# -- the main window's part ----------------------------------------------------------------------


class TokenCounting:
    """Background token counting of the main window's dataset. Tk thread only.

    States: idle -> waiting (for the first paint) -> working -> cancelling? -> done | cancelled | error.
    """

    def __init__(self, app: CountingHost, status_bar: tk.Misc, path_label: tk.Widget, *, enabled: bool = True,
                 delay_ms: int = 500, poll_ms: int = 50) -> None:
        self.app = app
        self.enabled = enabled
        self.delay_ms = delay_ms
        self.poll_ms = poll_ms
        self.state = "idle"
        self.progress: tuple[int, int] | None = None  # (done, total) of the running pass
        self.progress_seen = 0  # progress events applied (tests)
        self.result: CountResult | None = None
        self.note = ""  # why counts are estimates, when they are
        self.total: TokenTotal | None = None
        self.runs = 0  # count passes started
        self.async_chat_counts = 0
        self._gen = 0  # bumped when the dataset or the tokenizer setting changes
        self._jobs = JobGroup()  # every worker of this window: closed on reset and close
        self._pass: Job | None = None
        self._start_after: str | None = None
        self._total_after: str | None = None
        self._total_job: Job | None = None
        self._total_again = False
        self._loading: int | None = None  # the generation whose counter is being loaded
        self._counter: Counter | None = None
        self._waiting: list[Callable[[Counter], None]] = []
        self._setting: str | None = None  # the tokenizer setting counted for
        self._limit: str | None = None
        self._downloads: set[str] = set()  # settings whose download was tried this session
        self._wrote = False  # a pass ran since the last poll (App._poll tells its writes apart)
        self._chats: dict[int, list[Callable[[Any], None]]] = {}  # big chats being recounted on a worker
        self._status_at_start = ""
        self._asked = False  # started from the menu: always report the result
        self._quiet = False  # started by an undo: no status line of its own (recount_missing)
        self._last_list_refresh = 0.0
        self._spinning = False

        # Status bar, right side: [Counting tokens 35%… ▮▮▮▯▯ Stop] [1.2M tokens] [path]
        # The button and the bar are packed first: a long text is clipped, they never are.
        self.frame = ttk.Frame(status_bar, style="Status.TFrame")
        self.cancel_button = ttk.Button(self.frame, text="Stop", style="StatusLink.TButton", takefocus=False,
                                        command=self.cancel)
        self.cancel_button.pack(side="right", padx=(0, 2 * PAD))
        self.bar = ttk.Progressbar(self.frame, length=110, mode="determinate", maximum=1000)
        self.bar.pack(side="right", padx=(0, PAD))
        self.progress_label = ttk.Label(self.frame, text="", style="StatusMuted.TLabel")
        self.progress_label.pack(side="right")
        self.total_label = ttk.Label(status_bar, text="", style="StatusTokens.TLabel", cursor="hand2")
        self.total_label.pack(side="right", after=path_label)  # left of the path
        self.total_label.bind("<Button-1>", lambda e: app.root.event_generate("<<StatsBoard>>"))
        style = ttk.Style(status_bar)
        style.configure("StatusTokens.TLabel", background=PALETTE["status"], foreground=PALETTE["muted"],
                        padding=(2 * PAD, PAD))
        style.configure("StatusLink.TButton", padding=(PAD, 0), background=PALETTE["status"],
                        bordercolor=PALETTE["status"], lightcolor=PALETTE["status"], darkcolor=PALETTE["status"],
                        foreground=PALETTE["accent"], width=-4)
        style.map("StatusLink.TButton", background=[("active", PALETTE["button_active"])])

    # -- state -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.state in ("waiting", "working", "cancelling")

    @property
    def working(self) -> bool:
        return self.state in ("working", "cancelling")

    @property
    def total_pending(self) -> bool:
        """The dataset total is being (or about to be) recomputed."""
        return self._total_job is not None or self._total_after is not None

    def may_have_written(self) -> bool:
        """For the main window's poll: a pass ran (or runs) on another connection since the last
        poll, so a changed data_version may be only token counts. Clears the mark when idle."""
        busy = self.working or bool(self._chats)
        wrote = self._wrote or busy
        if not busy:
            self._wrote = False
        return wrote

    # -- dataset lifecycle ---------------------------------------------------------------------

    def dataset_opened(self) -> None:
        """A dataset was opened: show its cached counts now, count what is missing after the first paint."""
        self._reset()
        store = self.app.store
        if store is None:
            return
        self._setting, self._limit = self._settings()
        self.app.chat_list.counting = False
        self.refresh_total(delay=max(self.delay_ms, 100))  # after the first paint, like the count
        if self.enabled and not store.readonly:
            self.state = "waiting"
            self._start_after = self.app.root.after(self.delay_ms, self._when_painted)

    def dataset_closed(self) -> None:
        self._reset()
        self.total = None
        self.total_label.configure(text="")

    def close(self) -> None:
        """Teardown (the window closes): every worker is told to stop, no timer is left."""
        self._reset()

    def _reset(self) -> None:
        self._gen += 1
        self._jobs.close()
        self._pass = self._total_job = None
        self._total_again = False
        self._counter = None
        self._waiting = []
        self._chats = {}
        self._loading = None
        for name in ("_start_after", "_total_after"):
            ident = getattr(self, name)
            if ident is not None:
                try:
                    self.app.root.after_cancel(ident)
                except tk.TclError:
                    pass
                setattr(self, name, None)
        self.state = "idle"
        self.progress = None
        self.note = ""
        self._downloads = set() if self.app.store is None else self._downloads
        self._hide_progress()

    def _settings(self) -> tuple[str, str]:
        store = self.app.store
        assert store is not None
        return str(store.get_setting("tokenizer") or ""), str(store.get_setting("context_limit") or 0)

    def data_changed(self) -> None:
        """The dataset changed (any window): a new tokenizer setting means a recount."""
        store = self.app.store
        if store is None or self._setting is None:
            return
        self.refresh_total()  # a deleted or restored chat changes it (issue 13: it stayed stale)
        setting, limit = self._settings()
        if setting != self._setting:
            self._setting, self._limit = setting, limit
            self._counter = None  # the editors' counter is for the old setting
            self._gen += 1
            if self._waiting:
                self._load_counter()
            if self.enabled and not store.readonly:
                self.start(reason="the tokenizer changed")
            self._editors_changed()
        elif limit != self._limit:
            self._limit = limit
            self.app.chat_list.refresh_tokens()

    def _editors_changed(self) -> None:
        for ed in list(self.app.editors.values()):
            changed = getattr(ed, "token_counts_changed", None)
            if changed is not None:
                changed()

    def _when_painted(self) -> None:
        self._start_after = None
        if self.state != "waiting":
            return
        if self.app.chat_list.tree.winfo_ismapped():
            self._start_after = self.app.root.after_idle(self._start_waiting)
        else:
            self._start_after = self.app.root.after(100, self._when_painted)

    def _start_waiting(self) -> None:
        self._start_after = None
        if self.state == "waiting":
            self.start()

    # -- the count pass ------------------------------------------------------------------------

    def recount_missing(self) -> None:
        """An undo or redo brought back messages whose counts went with them (issue 13: the
        restored chat showed blank Tokens, no over-limit mark, a stale total): count what is
        missing, quietly (the undo's own status line stays), without downloading."""
        store = self.app.store
        if self.enabled and store is not None and not store.readonly and self.state not in ("working", "waiting"):
            self.start(download=False, quiet=True)

    def start(self, download: bool | None = None, force: bool = False, asked: bool = False, reason: str = "",
              quiet: bool = False) -> bool:
        """Count what is missing on a worker (a running pass is stopped first). `download`: fetch
        a hub tokenizer that is not cached (default: the first time per setting this session);
        `force`: load the tokenizer even when everything looks counted (a changed tokenizer file)."""
        store = self.app.store
        if store is None:
            return False
        if store.readonly:
            if asked:
                self.app.status("This dataset is read-only: token counts cannot be stored; cached ones are shown")
            return False
        if self._pass is not None:
            self._pass.close()  # its results no longer count (what it stored stays stored)
        if self._start_after is not None:
            self.app.root.after_cancel(self._start_after)
            self._start_after = None
        setting = str(store.get_setting("tokenizer") or "")
        self._setting = setting
        if download is None:
            download = setting not in self._downloads
        if download:
            self._downloads.add(setting)
        remember = getattr(self.app, "remember_content", None)
        if remember is not None:
            remember()
        self.state = "working"
        self.runs += 1
        self.progress = None
        self.result = None
        self._wrote = True
        self._asked = asked
        self._quiet = quiet and not asked
        self._status_at_start = self.app.status_text
        self.app.chat_list.counting = True
        self._show_progress("Counting tokens…" if not reason else f"Counting tokens ({reason})…", None)
        path = Path(store.path)
        self._pass = self._jobs.add(Job(
            self.app.root, lambda job: _work_count(path, job, bool(download), force), name="count",
            thread_name="lima-tk count", poll_ms=self.poll_ms, on_event=self._pass_event,
            on_progress=lambda done, total: self._apply_progress((done, total)),
            on_done=self._finished, on_error=lambda e: self._failed(_why(e))).start())
        return True

    def cancel(self) -> None:
        """Stop the running pass after its current chunk (what is counted stays counted)."""
        if self.state == "waiting":
            self._reset()
            self.app.status("Token counting stopped")
            return
        if self.state == "working" and self._pass is not None:
            self.state = "cancelling"
            self._pass.cancel()
            self._show_progress("Stopping…", self.progress)

    def _pass_event(self, kind: str, payload: Any) -> None:
        if kind != "status":
            return
        text = str(payload)
        if text.startswith("Token counts are estimates"):
            self.note = text
        elif text.startswith("Loading tokenizer "):
            self._show_progress(f"Loading {short_name(text[18:].rstrip('…'))}…", self.progress)
        else:
            self._show_progress(text, self.progress)

    def _apply_progress(self, progress: tuple[int, int]) -> None:
        self.progress = progress
        self.progress_seen += 1
        done, total = progress
        if self.state == "working":
            pct = 100 * done // total if total else 0
            self._show_progress(f"Counting tokens {pct}%…", progress)
        now = time.monotonic()
        if now - self._last_list_refresh >= 0.3:  # the rows on screen and the total follow the count
            self._last_list_refresh = now
            self.app.chat_list.refresh_tokens()
            if not self.total_pending:
                self.refresh_total(delay=700)

    def _finished(self, result: CountResult | None) -> None:
        self._pass = None
        self.result = result
        cancelled = bool(result is not None and result.cancelled)
        self.state = "cancelled" if cancelled else "done"
        self._hide_progress()
        cl = self.app.chat_list
        cl.counting = False
        if cl.filter.over_limit or cl.sort == "tokens":
            cl.refresh()
            self.app.update_count()
        else:
            cl.refresh_tokens()
        self.refresh_total(delay=0)
        if result is not None and self._counter is not None and self._counter.key != result.key:
            self._counter = None  # e.g. a download finished: load the real one for the editors
        self._editors_changed()
        if result is not None and result.estimate:
            self.note = f"Token counts are estimates (~): {result.reason}" if result.reason else self.note
        self._report(result)

    def _report(self, result: CountResult | None) -> None:
        """One status line, unless the user did something else meanwhile (their message stays)."""
        if self._quiet or (not self._asked and self.app.status_text != self._status_at_start):
            return
        name = short_name(self._setting or "")
        text = ""
        if result is None:
            text = f"Token counts are up to date ({name})" if self._asked else ""
        elif result.cancelled:
            done, total = self.progress or (0, 0)
            pct = f" at {100 * done // total}%" if total else ""
            text = f"Token counting stopped{pct}; View > Count tokens now goes on"
        elif result.messages or result.chats:
            text = f"Counted the tokens of {result.messages:,} messages and {result.chats:,} chats ({name})"
        elif self._asked:
            text = f"Token counts are up to date ({name})"
        if result is not None and result.estimate and self.note:
            text = f"{text} - {self.note}" if text else self.note
        note = getattr(result, "note", "") if result is not None else ""
        if note and (result.messages or result.chats or self._asked):  # type: ignore[union-attr]
            # no chat template (or it failed): say that chats are counted in ChatML (issue 11), early
            # in the line, which the status bar clips on the right
            text = f"{text} - ChatML fallback: {note}" if text else f"ChatML fallback: {note}"
        if text:
            self.app.status(text)

    def _failed(self, message: str) -> None:
        self._pass = None
        self.state = "error"
        self._hide_progress()
        self.app.chat_list.counting = False
        self.app.chat_list.refresh_tokens()
        from lima_tk.ui.autosave import plain_reason

        reason = plain_reason(sqlite3.OperationalError(message))  # never SQLite's "database is locked"
        if reason.startswith("another program"):
            self.app.status(f"Token counting stopped: {reason}; View > Count tokens now goes on")
            return
        self.app.status(f"Token counting failed: {reason}", error=True)

    def _show_progress(self, text: str, progress: tuple[int, int] | None) -> None:
        self.progress_label.configure(text=text)
        if progress is None or not progress[1]:
            if not self._spinning:  # loading the tokenizer: no fraction to show yet
                self.bar.configure(mode="indeterminate")
                self.bar.start(40)
                self._spinning = True
        else:
            if self._spinning:
                self.bar.stop()
                self._spinning = False
            self.bar.configure(mode="determinate", value=1000 * progress[0] // max(progress[1], 1))
        self.cancel_button.state(["disabled"] if self.state == "cancelling" else ["!disabled"])
        if not self.frame.winfo_manager():
            self.frame.pack(side="right", after=self.total_label)

    def _hide_progress(self) -> None:
        try:
            if self._spinning:
                self.bar.stop()
            self.frame.pack_forget()
            self.progress_label.configure(text="")
        except tk.TclError:  # the window is gone
            pass
        self._spinning = False

    # -- what the poll and the editors ask -----------------------------------------------------

    def derived_changed(self) -> None:
        """The main window's poll found a change made only by a count pass: refresh the counts."""
        self.app.chat_list.refresh_tokens()
        self.refresh_total()

    def chat_recounted(self, chat_id: int) -> None:
        """An editor recounted its chat on the Tk thread: its list row and the total follow."""
        cl = self.app.chat_list
        if chat_id in cl.visible_ids():
            cl.refresh_tokens()
        self.refresh_total()

    def counter(self) -> Counter | None:
        """The counter for the current tokenizer setting, or None while it loads (a load starts)."""
        if self._counter is not None:
            return self._counter
        self._load_counter()
        return None

    def with_counter(self, fn: Callable[[Counter], None]) -> None:
        """Call `fn(counter)` now, or once the counter is loaded."""
        if self._counter is not None:
            fn(self._counter)
            return
        self._waiting.append(fn)
        self._load_counter()

    def _load_counter(self) -> None:
        store = self.app.store
        if self._loading == self._gen or store is None:
            return
        gen = self._loading = self._gen
        setting = str(store.get_setting("tokenizer") or "")
        base_dir = Path(store.path).parent
        self._jobs.add(run_in_thread(self.app.root, lambda: _work_load(setting, base_dir),
                                     lambda counter: self._counter_loaded(gen, counter),
                                     lambda e: self._counter_failed(gen, e), name="tokenizer"))

    def _counter_loaded(self, gen: int, counter: Counter) -> None:
        if gen == self._loading:
            self._loading = None
        if gen != self._gen:
            return  # for an older setting or dataset
        self._counter = counter
        waiting, self._waiting = self._waiting, []
        for fn in waiting:
            fn(counter)
        self._editors_changed()

    def _counter_failed(self, gen: int, e: BaseException) -> None:
        if gen == self._loading:
            self._loading = None
        if gen != self._gen:
            return
        self.app.status(f"Cannot load the tokenizer: {_why(e)}", error=True)
        self._waiting = []

    def count_chat_async(self, chat_id: int, done: Callable[[Any], None]) -> None:
        """Recount a big chat on a worker; `done(ChatCount | None)` runs on the Tk thread."""
        store, counter = self.app.store, self._counter
        if store is None or counter is None:
            return
        waiting = self._chats.setdefault(chat_id, [])
        waiting.append(done)
        if len(waiting) > 1:
            return  # one is on its way; its result answers both
        self._wrote = True
        remember = getattr(self.app, "remember_content", None)
        if remember is not None:
            remember()
        self.async_chat_counts += 1
        gen, path = self._gen, Path(store.path)

        def counted(got: Any) -> None:
            callbacks = self._chats.pop(chat_id, [])
            if gen != self._gen:
                return
            for fn in callbacks:
                fn(got)

        def failed(e: BaseException) -> None:
            self._chats.pop(chat_id, None)
            if gen == self._gen:
                self.app.status(f"Token count: {_why(e)}", error=True)

        self._jobs.add(run_in_thread(self.app.root, lambda: _work_chat(path, counter, chat_id), counted, failed,
                                     name="chat count"))

    def refresh_total(self, delay: int = 400) -> None:
        """Recompute the dataset total on a worker (debounced)."""
        if self.app.store is None:
            return
        if self._total_after is not None:
            self.app.root.after_cancel(self._total_after)
        self._total_after = self.app.root.after(delay, self._start_total)

    def _start_total(self) -> None:
        self._total_after = None
        store = self.app.store
        if store is None:
            return
        if self._total_job is not None:
            self._total_again = True  # one at a time; the newest request runs after it
            return
        gen, path, readonly = self._gen, Path(store.path), store.readonly

        def finished(total: TokenTotal | None, ok: bool = True) -> None:
            self._total_job = None
            if gen == self._gen and ok:
                self._show_total(total)
            if self._total_again:
                self._total_again = False
                self.refresh_total(delay=0)

        self._total_job = self._jobs.add(run_in_thread(
            self.app.root, lambda: _work_total(path, readonly), finished, lambda e: finished(None, ok=False),
            name="token total"))

    def _show_total(self, t: TokenTotal | None) -> None:
        self.total = t
        if t is None:
            self.total_label.configure(text="")
            return
        mark = "~" if t.estimate or t.uncounted else ""
        text = f"{mark}{compact(t.total)} tokens"
        if t.estimate:
            text += " (estimate)"
        self.total_label.configure(text=text)
