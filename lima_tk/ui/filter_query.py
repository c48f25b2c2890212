"""Filter-as-you-type on a big dataset without blocking the window.

A full-text query over 100,000 chats and 400,000 messages can take 100-250 ms for a one-letter
prefix. `FilterQuery` runs it once (the matching ids in list order: count, pages and the
selection check all follow from them) on a worker thread with its own read-only connection.
Only the newest request matters: older queued ones are dropped and a running stale one is
interrupted (`DatasetStore.interrupt`). The worker is a `lima_tk.ui.worker.Job` that waits for
requests; the Tk side polls its events only while a request is pending.
"""

from __future__ import annotations

import queue
import sqlite3
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lima_tk.store import ChatFilter, ChatSummary, DatasetStore
from lima_tk.ui.worker import Job


@dataclass
class FilterResult:
    seq: int
    filter: ChatFilter
    ids: list[int] = field(default_factory=list)  # matching chats in list order
    rows: list[ChatSummary] = field(default_factory=list)
    selected: list[int] = field(default_factory=list)
    error: BaseException | None = None
    partial: bool = False  # only the first rows (ids and count follow in the full result)


FIRST_PAGE_FIRST = True  # post the visible page before the full result (off: scripts/bench_filter_gui.py's "before")


class FilterQuery:
    """One worker (a `worker.Job` that waits for requests) per open dataset. Create, submit and
    close on the Tk thread."""

    def __init__(self, widget: tk.Misc, path: Path, on_result: Callable[[FilterResult], None],
                 poll_ms: int = 15) -> None:
        self.path = path
        self.on_result = on_result
        self.latest = 0
        self._waiting_for: int | None = None  # the seq whose result the window wants
        self._requests: queue.Queue = queue.Queue()
        self._store: DatasetStore | None = None  # the worker's (interrupt() is thread-safe)
        self._busy: int | None = None  # seq of the query running now (worker writes, Tk reads)
        # Polled only while a request is on its way (keep_polling), woken by submit().
        self._job = Job(widget, self._run, on_event=self._result, poll_ms=poll_ms, name="filter",
                        keep_polling=lambda: self._waiting_for is not None).start(collect=None)

    @property
    def pending(self) -> bool:
        return self._waiting_for is not None

    def cancel(self) -> None:
        """Forget the request on its way (the window showed something else). Tk thread only."""
        self._waiting_for = None
        self.latest += 1
        if self._busy is not None and self._store is not None:
            self._store.interrupt()

    def submit(self, f: ChatFilter, sort: str, descending: bool, limit: int, selected: list[int]) -> int:
        """Ask for a filter; returns its sequence number. Tk thread only."""
        self.latest += 1
        seq = self._waiting_for = self.latest
        self._requests.put((seq, f, sort, descending, limit, selected))
        busy, store = self._busy, self._store
        if busy is not None and busy < seq and store is not None:
            store.interrupt()  # thread-safe: makes the stale query fail with "interrupted"
        self._job.wake()
        return seq

    def close(self) -> None:
        self._requests.put(None)
        if self._store is not None:
            self._store.interrupt()
        self._job.close()

    # -- Tk thread -----------------------------------------------------------------------------

    def _result(self, kind: str, r: FilterResult) -> None:
        if kind == "result" and r.partial:
            if r.seq == self._waiting_for:
                self.on_result(r)  # the first page now; the full result is still on its way
            return
        if kind == "result" and r.seq == self._waiting_for:
            self._waiting_for = None
            self.on_result(r)

    # -- worker thread -------------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        try:
            store = DatasetStore(self.path, readonly=True)
        except Exception as e:  # noqa: BLE001 - reported with the next request
            store, open_error = None, e
        else:
            open_error = None
            self._store = store
        try:
            while True:
                req = self._requests.get()
                while req is not None and not self._requests.empty():
                    req = self._requests.get_nowait()  # only the newest request matters
                if req is None:
                    return
                seq, f, sort, descending, limit, selected = req
                if store is None:
                    job.post("result", FilterResult(seq, f, error=open_error))
                    continue
                self._busy = seq
                try:
                    if FIRST_PAGE_FIRST and sort == "position" and f.text.strip() and not f.over_limit:
                        # The visible page first (list_chats reads the list block by block and
                        # stops at a page: ~20 ms where every match takes ~130 ms at 100,000
                        # chats), so the window shows chats while the count is still running.
                        page = store.list_chats(f, sort, descending, limit=limit)
                        if self._requests.empty():
                            on_page = sorted(set(selected).intersection(r.id for r in page))
                            job.post("result", FilterResult(seq, f, [], page, on_page, partial=True))
                    # One full-text pass: the ordered ids give the count, the pages and the selection.
                    ids = store.chat_ids(f, sort, descending)
                    first = ids[:limit]
                    rows = store.list_chats(ChatFilter(ids=first), sort, descending, limit=len(first)) if first else []
                    keep = sorted(set(selected).intersection(ids)) if selected else []
                    job.post("result", FilterResult(seq, f, ids, rows, keep))
                except sqlite3.OperationalError as e:
                    if "interrupt" in str(e):
                        if self._requests.empty():  # interrupted by a race, not by a newer request
                            self._requests.put(req)
                        continue
                    job.post("result", FilterResult(seq, f, error=e))
                except Exception as e:  # noqa: BLE001
                    job.post("result", FilterResult(seq, f, error=e))
                finally:
                    self._busy = None
        finally:
            if store is not None:
                self._store = None
                store.close()
