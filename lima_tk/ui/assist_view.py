"""AI assist in the chat editor, Tk side: generate, regenerate, continue, stop, versions, inline errors.

One `AssistController` per editor (`editor.assist`). A generation is one `lima_tk.assist.Job`
running on its own worker thread; this module drains the job's queue every `tick_ms` (30 ms) with
a `worker.Ticker` (an `after()` loop), joins the deltas, and per tick appends them to the store
(`append_generated_text`, one cheap UPDATE) and inserts them into the message's Text with one
`insert`. Only the Tk thread touches widgets or the store; the worker only fills its queue.

- Generate (Ctrl+G, `<<GenerateReply>>`): on an assistant message it regenerates it; on another
  message it regenerates the assistant reply right below it, or creates one there
  (`begin_generated_message`). The bottom bar's button acts on the end of the chat.
- Regenerate and Retry: `add_alternative(mid, "")`, the previous reply stays a version ("2/3").
  A regeneration that produced nothing never stays the shown version: the message is put back
  as it was (the error shows beside it). One that broke off part-way (an error, the stream cut,
  the window closed) is kept as a version but the previous reply stays shown; "Show partial" on
  the error (or ‹ ›) shows it. Only a reply that finished, or one the user stopped, is shown at
  once; when there was nothing before, whatever came is shown. The error is scrolled into view.
- Continue (Ctrl+Shift+G): `begin_continue`; from the cursor when the message has the keyboard
  and the cursor is inside the text (the text after it is kept and re-appended when the stream
  ends), else from the end.
- Stop (Esc, the stop buttons): `job.cancel()`, then the job's last events are applied at once
  (the partial text is saved, finish "cancelled") and the message is editable again. Closing the
  editor (or the main window, which destroys it) does the same, joining the worker briefly.
- While a reply streams into a message, that message is read-only; every other one stays
  editable. The view follows the growing text unless the user scrolled away from its end or is
  typing in another message.

Tk thread only, except where a method says otherwise.
"""

from __future__ import annotations

import gc
import sqlite3
import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lima_tk.assist import AssistConfig, AssistError, Job, Reply, continue_request, drain, reply_request
from lima_tk.errors import LimaError, NotFound
from lima_tk.model import Message
from lima_tk.ui import editor_style as st
from lima_tk.ui.assist_marks import (
    ASSIST_ACTIONS,
    MARK_LIVE,
    MARK_PLAIN,
    MARK_WARN,
    PILL_GENERATE,
    PILL_NAV,
    PILL_REJECTED,
    PILL_STOP,
    UNFINISHED,
    provenance,
    rejected_count,
    short_model,
)
from lima_tk.ui.assist_versions import VersionActions
from lima_tk.ui.worker import Ticker

# Re-exported: what other modules and the tests import from here.
__all__ = ["ASSIST_ACTIONS", "MARK_LIVE", "MARK_PLAIN", "MARK_WARN", "UNFINISHED", "AssistController", "InlineError",
           "Stream", "provenance", "rejected_count", "short_model"]

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import AssistHost
    from lima_tk.ui.message_frame import MessageCard

BELOW = 3 * st.PAD  # room kept under a followed reply (the editor's margin after the last card)
TICK_MS = 30  # how often the queue of a running job is drained
JOIN_TIMEOUT = 1.0  # Stop / close: how long to wait for the worker to end (it ends within ms of cancel)
MARK = "lima_stream"  # where streamed text goes in the Text (right gravity: it moves along)
FROM_MARK = "lima_stream_from"  # where the streamed text starts (left gravity: it stays)
TAIL_TAG = "lima_stream_tail"  # continue at the cursor: the text after the cursor

@dataclass
class Stream:
    """A generation in progress: the job and the message it fills."""

    mid: int
    mode: str  # "generate" | "regenerate" | "continue"
    job: Job
    model: str
    tail: str = ""  # continue at the cursor: the text after it, appended when the stream ends
    stored: str = ""  # the message's content in the store (kept equal to the card's saved_text)
    started: float = field(default_factory=time.monotonic)
    deltas: int = 0  # pieces of text received
    calling: str = ""  # the function a streamed tool call names
    ticker: Ticker | None = None  # drains the job's queue on the Tk thread
    result: str = ""  # how it ended: the server's finish reason, "cancelled", or "error"
    start_len: int = -1  # characters of `stored` before the first streamed piece (set in __post_init__)
    before: Message | None = None  # regenerate / continue: the message as it was (None: nothing before)
    prev_shown: int | None = None  # regenerate: the version shown before (index among the versions)
    explicit_stop: bool = False  # the user pressed Stop (the partial reply is then shown)
    outcome: str = ""  # "restored" (nothing came), "previous" (partial kept as a version), "" (shown)

    def __post_init__(self) -> None:
        if self.start_len < 0:
            self.start_len = len(self.stored)


@dataclass
class InlineError:
    """An error shown on a message (not stored: it lasts until Retry, dismiss or the window closes)."""

    message: str
    kind: str
    mode: str  # what Retry repeats: "generate"/"regenerate" (a new version) or "continue"
    partial: int | None = None  # a partial reply kept as this version (not shown): "Show partial"


GUI_CONCURRENCY = 4  # generations at once to one server from this process, at most (it adapts down)


def make_shared_job(cfg: AssistConfig, request: Any) -> Job:
    """A job under the process-wide limit of its server: several chat windows generating at
    once share what the server can take (lima_tk/concurrency.py), as `lima-tk generate` does."""
    from lima_tk.concurrency import shared_limit

    return Job(cfg, request, limit=shared_limit(cfg.base_url, GUI_CONCURRENCY))


class AssistController:
    """AI assist for one chat editor. Tk thread only (a job's own thread only fills its queue)."""

    def __init__(self, editor: AssistHost, tick_ms: int = TICK_MS) -> None:
        self.editor = editor
        self.tick_ms = tick_ms
        self.stream: Stream | None = None
        self.last: Stream | None = None  # the last finished stream (tests and the benchmark read it)
        self.errors: dict[int, InlineError] = {}
        # Seams for the benchmark: how a job is made and how its queue is drained.
        self.make_job: Callable[[AssistConfig, Any], Job] = make_shared_job
        self.drain: Callable[[Any], list[tuple[str, Any]]] = drain
        self.on_tick: Callable[[], None] | None = None
        self.versions = VersionActions(self, editor)  # ‹ 2/3 ›, the list, rejected versions

    @property
    def store(self) -> Any:
        return self.editor.store

    def streaming(self, mid: int | None = None) -> bool:
        return self.stream is not None and (mid is None or self.stream.mid == mid)

    def config(self) -> AssistConfig:
        try:
            return AssistConfig.from_settings(self.editor.user_settings)
        except (TypeError, ValueError) as e:
            raise LimaError(f"The assistant settings are not valid ({e}); fix them in Settings") from None

    # -- what the cards show -----------------------------------------------------------------

    def card_key(self, card: MessageCard) -> tuple:
        """Everything the assist parts of a card are drawn from (redrawn only when it changes)."""
        m = card.message
        live = self.stream if self.streaming(card.mid) else None
        err = self.errors.get(card.mid)
        return (card.role, card.index == len(self.editor.order) - 1, bool(m.content), m.source, m.model, m.finish,
                len(m.alternatives or ()), m.alt_index, rejected_count(m), live is not None,
                live.calling if live else "", err.message if err else None)

    def card_buttons(self, card: MessageCard) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]:
        """Header buttons: stop on the streaming message; regenerate / continue on assistant
        messages; "generate reply" on the last message when it is not an assistant reply."""
        if self.streaming(card.mid):
            return [("stop", "■ stop", "Stop generating (Esc); the text so far is kept")], {"stop": PILL_STOP}
        if card.role == "assistant":
            buttons = [("regenerate", "↻", "Regenerate: keep this reply as a version and generate a new one "
                                          "(Ctrl+G)")]
            if card.message.content:
                buttons.append(("continue", "→", "Continue this reply from the cursor, or from its end "
                                                 "(Ctrl+Shift+G)"))
            return buttons, {}
        if card.index == len(self.editor.order) - 1:
            return ([("generate", "✦ generate reply", "Generate the assistant's reply to the chat so far (Ctrl+G)")],
                    {"generate": PILL_GENERATE})
        return [], {}

    def meta_items(self, card: MessageCard) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]:
        """The versions row of an assistant message: ‹ 2/3 › and the provenance marker."""
        m = card.message
        if card.role != "assistant":
            return [], {}
        items: list[tuple[str, str, str]] = []
        pills: dict[str, tuple[str, str]] = {}
        n = len(m.alternatives or ()) + 1
        if n > 1:
            i = min(m.alt_index or 0, n - 1)
            rejected = rejected_count(m)
            label = f"{i + 1}/{n}" + (f" · {rejected} rejected" if rejected else "")
            items += [("alt_prev", "‹", "Previous version"),
                      ("versions", label, f"Version {i + 1} of {n}: the shown version is the one trained on and "
                                          "exported (the chosen one of a preference pair). Click for the list, to "
                                          "mark versions rejected, or to delete one."),
                      ("alt_next", "›", "Next version")]
            pills.update(alt_prev=PILL_NAV, alt_next=PILL_NAV)
            if rejected:
                pills["versions"] = PILL_REJECTED
        marker = provenance(m, self.stream if self.streaming(card.mid) else None)
        if marker is not None:
            label, tip, colors = marker
            items.append(("provenance", label, tip))
            pills["provenance"] = colors
        return items, pills

    def placeholder(self, card: MessageCard) -> str | None:
        if self.streaming(card.mid):
            s = self.stream
            return "waiting for the model…" if s is not None and not s.calling else "the model is calling a tool…"
        return None

    # -- actions (the card strips and the editor's virtual events) -------------------------

    def card_action(self, card: MessageCard, action: str) -> None:
        mid = card.mid
        if action == "generate":
            self.generate(card)
        elif action == "regenerate":
            self.regenerate(mid)
        elif action == "continue":
            self.continue_reply(card)
        elif action == "stop":
            self.stop()
        elif action in ("alt_prev", "alt_next"):
            self.versions.step(card, -1 if action == "alt_prev" else 1)
        elif action == "versions":
            x, y = card.winfo_pointerxy()
            self.versions_menu(card, x, y)
        elif action == "retry":
            self.retry(mid)
        elif action == "dismiss_error":
            self.dismiss_error(mid)
        elif action == "show_partial":
            err = self.errors.get(mid)
            if err is not None and err.partial is not None:
                self.versions.show(mid, err.partial)
                self.dismiss_error(mid)
        elif action == "settings":
            self.editor.open_settings()

    def _can_start(self) -> bool:
        ed = self.editor
        if not ed.writable():
            return False
        if self.stream is not None:
            ed.status("A reply is being generated: Esc stops it")
            ed.bell()
            return False
        return True

    def generate(self, card: MessageCard | None = None, at_end: bool = False) -> int | None:
        """Generate the reply after `card` (default: the current message; `at_end`: the last one).
        An assistant message is regenerated; a message followed by an assistant reply gets that
        reply regenerated; otherwise a new assistant message is created below it."""
        ed = self.editor
        if not self._can_start():
            return None
        if not ed.order:
            ed.status("Write a user message first: the reply answers the chat so far")
            return None
        if at_end or card is None:
            card = None if at_end else ed.current_card()
        i = ed.index_of(card.mid) if card is not None else len(ed.order) - 1
        roles = [ed.messages[m].role for m in ed.order]
        if roles[i] == "assistant":
            return self.regenerate(ed.order[i])
        if i + 1 < len(roles) and roles[i + 1] == "assistant":
            return self.regenerate(ed.order[i + 1])
        cfg = self.config()
        ed.flush()
        request = reply_request(self.store.get_chat(ed.chat_id), i + 1)
        mid = self.store.begin_generated_message(ed.chat_id, cfg.model, position=i + 1)
        if i + 1 == len(roles):
            ed.view.stick_bottom = True  # a reply at the end: the view stays at the end while it grows
        return self._start(mid, "generate", cfg, request)

    def regenerate(self, mid: int) -> int | None:
        """Keep the message's current version as an alternative and stream a new one."""
        ed = self.editor
        if not self._can_start() or mid not in ed.messages:
            return None
        if ed.messages[mid].role != "assistant":
            ed.status("Only an assistant reply can be regenerated")
            return None
        cfg = self.config()
        ed.flush()
        request = reply_request(self.store.get_chat(ed.chat_id), ed.index_of(mid))
        _, before = self.store.get_message(mid)
        self.store.add_alternative(mid, "", model=cfg.model)
        had = bool(before.content) or bool(before.tool_calls)  # an empty shown version is replaced
        return self._start(mid, "regenerate", cfg, request, before=before if had else None,
                           prev_shown=(before.alt_index or 0) if had else None)

    def continue_reply(self, card: MessageCard | None = None, from_end: bool = False) -> int | None:
        """Continue an assistant reply from the cursor (when its text has the keyboard and the
        cursor is inside the text; the text after it is kept) or from its end."""
        ed = self.editor
        if not self._can_start():
            return None
        card = card or ed.current_card()
        if card is None or card.role != "assistant":
            ed.status("“Continue” works on an assistant reply: put the cursor in one")
            return None
        mid = card.mid
        upto: int | None = None
        if not from_end and _has_focus(card.text):
            upto = len(card.text.get("1.0", "insert"))
        cfg = self.config()
        ed.flush()
        chat = self.store.get_chat(ed.chat_id)
        i = ed.index_of(mid)
        content = chat.messages[i].content or ""
        if not content.strip():
            ed.status("This reply has no text to continue: Ctrl+G generates one")
            return None
        if upto is not None and upto >= len(content):
            upto = None
        request = continue_request(chat, i, cfg.continue_method, template=self._continue_template(cfg),
                                   upto_char=upto)
        tail = content[upto:] if upto is not None else ""
        _, before = self.store.get_message(mid)
        with self.store.change("Continue reply", "generate", target=mid):
            self.store.begin_continue(mid, cfg.model)
            if tail:
                _, now = self.store.get_message(mid)
                self.store.update_message(mid, content=content[:upto], source=now.source)
        return self._start(mid, "continue", cfg, request, tail, before=before)

    def _continue_template(self, cfg: AssistConfig):
        """The dataset tokenizer's own chat template for the completions method, when it has one
        and is already loaded (the token counter loads it in the background); else None: ChatML."""
        if cfg.continue_method != "completions":
            return None
        counting = self.editor.token_service()
        counter = counting.counter() if counting is not None else None
        from lima_tk.tokens import continuation_template

        return continuation_template(counter)

    def retry(self, mid: int) -> int | None:
        """Retry after an error: a new version (as Regenerate), or continue again from the end."""
        ed = self.editor
        err = self.errors.get(mid)
        if err is not None and err.mode == "continue" and mid in ed.view.cards:
            return self.continue_reply(ed.view.cards[mid], from_end=True)
        return self.regenerate(mid)

    def dismiss_error(self, mid: int) -> None:
        if self.errors.pop(mid, None) is not None:
            card = self.editor.view.cards.get(mid)
            if card is not None and card.update_assist():
                self.editor.view.layout()

    # -- running a stream --------------------------------------------------------------------

    def _start(self, mid: int, mode: str, cfg: AssistConfig, request: Any, tail: str = "",
               before: Message | None = None, prev_shown: int | None = None) -> int:
        ed = self.editor
        self.errors.pop(mid, None)
        _, msg = self.store.get_message(mid)
        s = Stream(mid, mode, self.make_job(cfg, request), cfg.model, tail=tail, stored=msg.content or "",
                   before=before, prev_shown=prev_shown)
        self.stream = s
        ed.changed(focus=mid)  # the new or emptied message on screen, with the keyboard (Esc stops)
        card = ed.view.card(mid)
        t = card.text
        if tail:
            t.insert("end-1c", tail, (TAIL_TAG,))
            t.mark_set(MARK, f"{TAIL_TAG}.first")
            t.tag_configure(TAIL_TAG, foreground=st.MUTED)
        else:
            t.mark_set(MARK, "end-1c")
        t.mark_gravity(MARK, "right")
        t.mark_set(FROM_MARK, MARK)  # where the streamed text starts (a restart deletes back to it)
        t.mark_gravity(FROM_MARK, "left")
        t.edit_modified(False)
        t.configure(state="disabled")
        if tail and card.fit():
            ed.view.layout()
        card.update_placeholder()
        self.sync_controls()
        gc.collect(1)  # young Tk garbage is finalized here, not by a collection in the worker thread
        s.job.start()
        s.ticker = Ticker(ed, lambda: self._tick(s), self.tick_ms).start()
        ed.status("Generating…")
        return mid

    def _tick(self, s: Stream) -> bool:
        """One turn of the stream's Ticker: apply what arrived; False ends the loop."""
        if self.stream is not s or self.editor.closed:
            return False
        try:
            self._apply(s, self.drain(s.job.events))
        except (LimaError, sqlite3.Error) as e:  # the message vanished, the dataset is busy...
            if self.stream is s:
                self._abort(s, f"Generation stopped: {e}")
            return False
        finally:
            if self.on_tick is not None:
                self.on_tick()
        return self.stream is s and not self.editor.closed

    def _apply(self, s: Stream, events: list[tuple[str, Any]]) -> None:
        pieces: list[str] = []
        final: tuple[str, Any] | None = None
        calling = s.calling
        for kind, payload in events:
            if kind == "delta":
                pieces.append(payload)
            elif kind == "restart":  # the server cut this attempt (or refused it): it is sent again
                pieces.clear()
                calling = ""
                self._restart(s, str(payload))
            elif kind == "waiting":
                self.editor.status(f"Waiting for the server: {payload} other generation(s) running…")
            elif kind == "sending":
                self.editor.status("Generating…")
            elif kind == "tool_call_delta":
                if payload.get("name") and not calling:
                    calling = str(payload["name"])
            elif kind in ("done", "error"):
                final = (kind, payload)
        if pieces:
            self._append(s, "".join(pieces))
            s.deltas += len(pieces)
        if calling != s.calling:
            s.calling = calling
            card = self.editor.view.cards.get(s.mid)
            if card is not None and not self.editor.closed:
                if card.update_assist():
                    self.editor.view.layout()
                card.update_placeholder()
        if final is not None:
            self._finish(s, *final)

    def _restart(self, s: Stream, reason: str) -> None:
        """Drop what the cut attempt streamed, in the store (same undo step) and on screen."""
        if len(s.stored) > s.start_len:
            self.store.truncate_generated_text(s.mid, s.start_len)
            s.stored = s.stored[:s.start_len]
            card = self.editor.view.cards.get(s.mid)
            if card is not None and not self.editor.closed:
                t = card.text
                t.configure(state="normal")
                t.delete(FROM_MARK, MARK)
                t.configure(state="disabled")
                t.edit_modified(False)
                card.saved_text = s.stored
                card.message.content = s.stored
                if card.fit():
                    self.editor.view.layout()
        self.editor.status(f"The server cut the reply short ({reason}); sending it again…")

    def _append(self, s: Stream, text: str) -> None:
        self.store.append_generated_text(s.mid, text)
        s.stored += text
        ed = self.editor
        card = ed.view.cards.get(s.mid)
        if card is None or ed.closed:
            return
        follow = self._following(s, card)
        t = card.text
        if "\x00" in text:
            from lima_tk.ui.message_frame import NUL_STANDIN

            text = text.replace("\x00", NUL_STANDIN)
            card.nul_mapped = True
        empty = not card.saved_text
        t.configure(state="normal")
        t.insert(MARK, text)
        t.configure(state="disabled")
        t.edit_modified(False)  # streamed text is not typing: nothing to save from the Text
        card.saved_text = s.stored
        card.message.content = s.stored
        if empty:
            card.update_placeholder()
            if card.update_assist():  # "→ continue" appears once there is text
                ed.view.layout()
        if not t.capped and card.fit():
            ed.view.layout()
        if follow:
            self._see_end(card)

    def _following(self, s: Stream, card: MessageCard) -> bool:
        """Follow the growing text unless the user scrolled away from its end or types elsewhere."""
        ed = self.editor
        w = _focus(ed)
        other = getattr(w, "card", None)
        if isinstance(w, tk.Text) and other is not None and other.mid != s.mid:
            return False
        if card.y < 0:
            return False
        top = ed.view.view_top()
        end = card.y + card.h
        return top - 2 <= end <= top + ed.view.view_height() + 4

    def _see_end(self, card: MessageCard) -> None:
        ed = self.editor
        t = card.text
        if t.capped:
            t.see(MARK if MARK in t.mark_names() else "end-1c")
        end = card.y + card.h + BELOW
        if end > ed.view.view_top() + ed.view.view_height():  # it grew below the view: scroll down with it
            ed.view.scroll_to(end - ed.view.view_height())

    def _finish(self, s: Stream, kind: str, payload: Any) -> None:
        """The job's last event: store how it ended, make the message editable, show the outcome."""
        ed = self.editor
        self._stop_ticking(s)
        self.stream = None
        self.last = s
        err: AssistError | None = payload if kind == "error" else None
        reply: Reply | None = payload if kind == "done" else (err.partial if err is not None else None)
        finish = err.finish if err is not None else (reply.finish if reply and reply.finish else "interrupted")
        s.result = "error" if err is not None else finish
        calls = self._unique_calls(reply.tool_calls if reply else None, s.mid)
        s.outcome = outcome_kind(s, finish, err, calls)
        gone = False
        partial: int | None = None
        try:
            with self.store.change("Generate reply", "generate", target=s.mid, coalesce=True):
                if s.tail:
                    self.store.append_generated_text(s.mid, s.tail)
                    s.stored += s.tail
                self.store.finish_generated(s.mid, finish, calls, reply.model if reply else None)
                b = s.before
                if s.outcome == "restored" and b is not None:  # nothing came: the message as it was
                    self.store.update_message(s.mid, content=b.content, tool_calls=b.tool_calls, source=b.source,
                                              model=b.model, finish=b.finish, alternatives=b.alternatives,
                                              alt_index=b.alt_index)
                    s.stored = b.content or ""
                elif s.outcome == "previous" and s.prev_shown is not None:  # partial: kept, not shown
                    _, m = self.store.get_message(s.mid)
                    partial = len(m.variants()) - 1
                    self.store.show_alternative(s.mid, s.prev_shown)
                    s.stored = self.store.get_message(s.mid)[1].content or ""
        except NotFound:
            gone = True
        if err is not None and not gone:
            note = {"restored": " The previous reply is still the shown one.",
                    "previous": f" The partial reply is kept as version {(partial or 0) + 1}; the previous "
                                "reply is still the shown one."}.get(s.outcome, "")
            self.errors[s.mid] = InlineError(err.message + note, err.kind, s.mode, partial)
        if ed.closed:
            return
        card = ed.view.cards.get(s.mid)
        if card is not None:
            self._release_text(card, keep_cursor=not s.outcome)
            if s.outcome:  # the Text shows the stream: put the shown version back
                card.set_content(s.stored)
            else:
                card.saved_text = s.stored
        ed.changed()
        if card is not None and s.mid in ed.view.cards:
            card.update_placeholder()
            card.fit()
            ed.highlight_find(card)
            ed.view.layout()
            if s.mid in self.errors:
                self._reveal_error(card)
            elif self._following(s, card):
                self._see_end(card)
        self.sync_controls()
        brief = f"⚠ Reply #{ed.index_of(s.mid) + 1} failed" if err is not None and s.mid in ed.messages \
            else None
        ed.status(outcome_text(s, finish, err, calls), error=err is not None, brief=brief)

    def _reveal_error(self, card: MessageCard) -> None:
        """Scroll the error strip (and its Retry) into view, unless the user types in another message."""
        ed = self.editor
        other = getattr(_focus(ed), "card", None)
        if isinstance(_focus(ed), tk.Text) and other is not None and other.mid != card.mid:
            return
        row = card.error_row
        if row is None or card.y < 0:
            return
        ed.update_idletasks()
        y1 = card.y + card.text_top() + card.body.winfo_reqheight()
        y2 = y1 + row.winfo_reqheight() + 2 * st.PAD
        if y2 - y1 < ed.view.view_height():
            ed.view.stick_bottom = ed.view.stick_bottom and card.mid == ed.order[-1]
            ed.view.see_range(max(card.y, y2 - ed.view.view_height()) if card.h > ed.view.view_height() else card.y, y2)

    def _release_text(self, card: MessageCard, keep_cursor: bool) -> None:
        t = card.text
        try:
            t.configure(state="disabled" if self.editor.readonly else "normal")
            if keep_cursor and _has_focus(t) and MARK in t.mark_names():
                t.mark_set("insert", MARK)
            t.tag_remove(TAIL_TAG, "1.0", "end")
            if MARK in t.mark_names():
                t.mark_unset(MARK)
            t.edit_reset()
            t.edit_modified(False)
        except tk.TclError:
            pass

    def _stop_ticking(self, s: Stream) -> None:
        if s.ticker is not None:
            s.ticker.close()
            s.ticker = None

    def _unique_calls(self, calls: list[dict[str, Any]] | None, mid: int) -> list[dict[str, Any]] | None:
        """Tool-call ids must be unique in the chat: a server that reuses ids gets fresh ones."""
        if not calls:
            return None
        from lima_tk.ui.tool_editor import new_call_id

        ed = self.editor
        used = {c.get("id") for m in ed.order if m != mid for c in ed.messages[m].tool_calls or []}
        out = []
        for c in calls:
            if not c.get("id") or c["id"] in used:
                c = dict(c, id=new_call_id())
            used.add(c["id"])
            out.append(c)
        return out

    def _abort(self, s: Stream, message: str) -> None:
        """End a stream without writing anything more (its message changed or vanished)."""
        s.job.cancel()
        self._stop_ticking(s)
        self.stream = None
        self.last = s
        s.result = "aborted"
        ed = self.editor
        if ed.closed:
            return
        card = ed.view.cards.get(s.mid)
        if card is not None:
            self._release_text(card, keep_cursor=False)
            card.update_assist()
        self.sync_controls()
        ed.status(message)

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, wait: float = JOIN_TIMEOUT, explicit: bool = True) -> bool:
        """Stop the running generation at once: the partial text is saved (finish "cancelled") and
        the message is editable again when this returns. False when nothing was running.
        `explicit`: the user pressed Stop, so a partial regeneration is shown; otherwise (the
        window closes) the previous reply stays shown and the partial one is kept as a version."""
        s = self.stream
        if s is None:
            return False
        s.explicit_stop = explicit
        s.job.cancel()
        s.job.join(wait)  # cancel shuts the connection down: the worker ends within milliseconds
        try:
            self._apply(s, self.drain(s.job.events))
        except (LimaError, sqlite3.Error) as e:
            if self.stream is s:
                self._abort(s, f"Generation stopped: {e}")
            return True
        if self.stream is s:  # the worker did not answer in time: finish it here
            self._finish(s, "done", Reply(text=s.stored, finish="cancelled", chunks=s.deltas))
        return True

    def generate_or_stop(self) -> None:
        """The bottom bar's button: Generate reply at the end of the chat, or Stop while streaming."""
        if self.streaming():
            self.stop_or_say()
        else:
            self.generate(at_end=True)

    def stop_or_say(self) -> None:
        """Esc, ■ stop: stop the stream, or say that there is none."""
        if not self.stop():
            self.editor.status("Nothing is being generated")

    def close(self) -> None:
        """The editor closes (or is destroyed with the main window): stop and save quietly, no dialog."""
        s = self.stream
        if s is None:
            return
        try:
            self.stop(explicit=False)
        except (LimaError, sqlite3.Error, tk.TclError):
            self.stream = None
        finally:
            s.job.cancel()

    def check_after_reload(self) -> None:
        """Called by the editor after it re-read the chat: a stream whose message was removed or
        changed underneath (an undo from the main window, another window) is stopped, unsaved."""
        s = self.stream
        if s is None:
            return
        m = self.editor.messages.get(s.mid)
        if m is None:
            self._abort(s, "Generation stopped: its message was removed")
        elif (m.content or "") != s.stored:
            self._abort(s, "Generation stopped: its message was changed elsewhere")

    def sync_controls(self) -> None:
        """The bottom bar's Generate button turns into Stop while a reply streams; cards redraw."""
        ed = self.editor
        if ed.closed:
            return
        running = self.stream is not None
        ed.set_generating(running)
        changed = False
        for card in ed.view.cards.values():
            changed |= card.update_assist()
        if changed:
            ed.view.layout()

    # -- versions (alternatives): lima_tk/ui/assist_versions.py -------------------------------

    def versions_menu(self, card: MessageCard, x: int, y: int) -> tk.Menu:
        return self.versions.menu(card, x, y)

    @property
    def reject_vars(self) -> dict[int, tk.IntVar]:
        return self.versions.reject_vars


def outcome_kind(s: Stream, finish: str, err: AssistError | None, calls: list[dict[str, Any]] | None) -> str:
    """What becomes of the message when a regeneration (or a continuation) ends: "restored"
    when nothing came (it is put back as it was), "previous" when a regeneration broke off
    part-way (kept as a version, the previous reply stays shown), "" when it is shown."""
    if s.before is None:
        return ""  # nothing before: whatever came is shown
    produced = s.deltas > 0 or bool(calls)
    stopped = finish == "cancelled" and s.explicit_stop
    complete = err is None and (finish not in ("interrupted", "cancelled") or stopped)
    if not produced:
        return "restored" if s.mode == "regenerate" or not complete else ""
    if s.mode == "regenerate" and not complete:
        return "previous"
    return ""


def outcome_text(s: Stream, finish: str, err: AssistError | None, calls: list[dict[str, Any]] | None) -> str:
    """The status line when a generation ends."""
    secs = time.monotonic() - s.started
    if err is not None:
        kept = {"restored": "; the previous reply is still the shown one",
                "previous": "; the partial reply is kept as a version, the previous one is still shown"}.get(
            s.outcome, " (the text so far is kept)" if s.stored.strip() else "")
        return f"Generation failed: {err.message}{kept}"
    if s.outcome == "restored":
        return (f"The model answered with an empty reply ({finish}); the previous reply is still the shown one"
                if s.mode == "regenerate" else "Nothing was added; the reply is as it was")
    if s.outcome == "previous":
        return "Stopped before the model finished: the partial reply is kept as a version, the previous one " \
               "is still shown (‹ › to compare)"
    if finish == "cancelled":
        return "Stopped: the text so far is kept (Ctrl+Shift+G continues it)"
    if calls:
        names = ", ".join(sorted({(c.get("function") or {}).get("name", "?") for c in calls}))
        return f"The model called {names}: add the tool's answer below ({secs:.1f} s)"
    if finish == "length":
        return "The reply reached the max tokens limit and is probably cut off (Ctrl+Shift+G continues it)"
    if not s.deltas:
        if s.mode == "continue":
            return "The model added nothing: for it the reply is complete"
        return f"The model answered with an empty reply ({finish})"
    verb = "Continued" if s.mode == "continue" else "Generated"
    return f"{verb} with {s.model} in {secs:.1f} s"


def _focus(ed: AssistHost) -> Any:
    try:
        return ed.focus_get()
    except (KeyError, tk.TclError):
        return None


def _has_focus(widget: tk.Misc) -> bool:
    try:
        return widget.focus_get() is widget
    except (KeyError, tk.TclError):
        return False
