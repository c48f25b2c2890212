"""Token counts in a chat editor (issue 6): the count in each message header ("123 tok") and the
chat's budget in the properties panel. See docs/tokens.md.

One `EditorTokens` per editor (`editor.tokens`). The editor calls `schedule()` after it loaded its
chat (open, every reload) and after each saved message; the main window's `TokenCounting` calls
it when a count pass ended or the tokenizer changed. A moment later the chat is recounted with
the main window's counter on the Tk thread (cache first, ~0.4 ms for one changed message), or on
a worker when it holds more than ASYNC_CHARS characters; without a counter (still loading, a
read-only dataset, an editor over a stand-in window) what the cache holds is shown.

What this needs from the editor is `interfaces.TokenHost`. Tk thread only.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError, NotFound

if TYPE_CHECKING:
    from lima_tk.store import DatasetStore
    from lima_tk.ui.interfaces import TokenHost, TokenService

# A chat with more text than this is recounted on a worker: encoding 100,000 characters takes
# ~30 ms, 1 MB ~0.5 s, too long for the Tk thread after every typing pause.
ASYNC_CHARS = 100_000
RETRY_MS = 1000  # the dataset was busy: count again this much later


def message_label(n: int | None, estimate: bool) -> str:
    """The count in a message header: '123 tok', '~123 tok', or '' when not counted."""
    return "" if n is None else f"{'~' if estimate else ''}{n:,} tok"


def token_service(app: Any) -> TokenService | None:
    """The main window's token counting, or None (a stand-in window has none)."""
    ctl = getattr(app, "tokens", None)
    return ctl if ctl is not None and hasattr(ctl, "count_chat_async") and hasattr(ctl, "counter") else None


class EditorTokens:
    """Per-message counts and the budget of one chat editor. Tk thread only."""

    def __init__(self, editor: TokenHost) -> None:
        self.editor = editor
        self.per_message: dict[int, int] = {}
        self.estimate = False
        self.total: int | None = None
        self.limit = 0
        self.updates = 0  # tests: how many times the counts were read
        self._after: str | None = None
        # On the root, not the editor: the editor may be destroyed from outside (the main window
        # closing) before close() runs; close() cancels the timer either way.
        self._root = editor.nametowidget(".")
        # Cards made after the counts were read (a long chat opens in chunks) get them too.
        editor.bind("<<EditorReady>>", lambda e: self.apply(), add="+")

    def schedule(self) -> None:
        """Recount a moment later (several calls in a row count once)."""
        if self._after is None and not self.editor.closed:
            self._after = self._root.after(1, self.update)

    def close(self) -> None:
        """The editor's teardown: no timer is left behind."""
        if self._after is not None:
            try:
                self._root.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None

    def update(self) -> None:
        self._after = None
        ed = self.editor
        if ed.closed:
            return
        store = ed.store
        ctl = ed.token_service()
        if store.readonly:
            ctl = None  # only what the cache holds
        counter = ctl.counter() if ctl is not None else None  # None: loading on a worker
        from lima_tk.ui.autosave import plain_reason, write_failed, write_wait

        if counter is not None and write_wait() > 0:  # a write just failed (busy): the cached counts meanwhile
            self._retry_later()
            counter = None
        if counter is not None and ctl is not None:
            if sum(len(m.content or "") for m in ed.messages.values()) > ASYNC_CHARS:
                ctl.count_chat_async(ed.chat_id, self._counted)  # the cached counts meanwhile
            else:
                from lima_tk.tokens import count_chat

                try:
                    self._counted(count_chat(store, counter, ed.chat_id))
                    return
                except NotFound:
                    return
                except (LimaError, sqlite3.Error) as e:  # busy, disk full, or the file became read-only
                    reason = plain_reason(e)
                    if reason.startswith("another program"):
                        write_failed(e)
                        self._retry_later()  # the Tk thread never waits for the lock: count again soon
                    else:
                        ed.status(f"Token counts not updated: {reason}")
        self._read_cached(store)
        self.updates += 1
        self.apply()

    def _retry_later(self, ms: int = RETRY_MS) -> None:
        if self._after is None and not self.editor.closed:
            self._after = self._root.after(ms, self.update)

    def _counted(self, counted: Any) -> None:
        """A ChatCount of this chat (None: it is gone)."""
        ed = self.editor
        if counted is None or ed.closed:
            return
        self.per_message, self.estimate = counted.per_message, counted.estimate
        self.total, self.limit = counted.total, counted.limit
        self.updates += 1
        self.apply()
        ctl = ed.token_service()
        if ctl is not None:
            ctl.chat_recounted(ed.chat_id)

    def _read_cached(self, store: DatasetStore) -> None:
        """No counter (yet, or a read-only dataset): what the cache holds under the active key."""
        ed = self.editor
        key = store.active_token_key()
        try:
            self.limit = max(0, int(store.get_setting("context_limit") or 0))
        except (TypeError, ValueError):
            self.limit = 0
        if key is None:
            self.per_message, self.estimate, self.total = {}, False, None
            return
        self.per_message = store.message_token_counts(ed.chat_id, key.id)
        t = store.chat_token_totals([ed.chat_id], key).get(ed.chat_id)
        n = len(ed.order)
        self.estimate = key.estimate or bool(t and t.uncounted)
        self.total = 0 if n == 0 else (t.total if t is not None and t.uncounted <= n else None)

    def apply(self) -> None:
        ed = self.editor
        if ed.closed:
            return
        est = self.estimate
        for mid, card in list(ed.cards.items()):
            card.set_token_count(message_label(self.per_message.get(mid), est))
        ed.show_budget(self.total, self.limit, est)
