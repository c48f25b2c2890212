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
from lima_tk.ui.worker import Ticker

if TYPE_CHECKING:
    from lima_tk.ui.chat_editor import ChatEditor
    from lima_tk.ui.message_frame import MessageCard

BELOW = 3 * st.PAD  # room kept under a followed reply (the editor's margin after the last card)
TICK_MS = 30  # how often the queue of a running job is drained
JOIN_TIMEOUT = 1.0  # Stop / close: how long to wait for the worker to end (it ends within ms of cancel)
MARK = "lima_stream"  # where streamed text goes in the Text (right gravity: it moves along)
TAIL_TAG = "lima_stream_tail"  # continue at the cursor: the text after the cursor

# Marker colours (text, background).
MARK_PLAIN = (st.MUTED, "#eef0f3")
MARK_WARN = ("#8a5a00", "#fdefc8")  # amber: not a complete reply
MARK_LIVE = (st.ACCENT, "#e3ecfc")
PILL_STOP = (st.DANGER, st.ERROR_BG)
PILL_GENERATE = (st.ACCENT, "#e3ecfc")
PILL_NAV = (st.TEXT, "#e9ecf0")
PILL_REJECTED = ("#8a2c0d", "#fbe4d8")  # "2/3 · 1 rejected": versions marked for preference pairs

# finish -> (word, tooltip) for replies that did not complete.
UNFINISHED = {
    None: ("incomplete", "This reply has no finish reason: its stream never ended (the program was closed "
                         "or stopped while it was generated). It may be cut off."),
    "interrupted": ("interrupted", "The stream ended before the model finished: the reply may be cut off."),
    "cancelled": ("cancelled", "Generation was stopped before the model finished: the reply may be cut off."),
    "length": ("max tokens", "The model reached the max tokens limit: the reply is probably cut off "
                             "(Ctrl+Shift+G continues it)."),
    "content_filter": ("filtered", "The server's content filter stopped this reply."),
}

ASSIST_ACTIONS = ("generate", "regenerate", "continue", "stop", "alt_prev", "alt_next", "versions", "provenance",
                  "retry", "dismiss_error", "settings", "show_partial")


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
    before: Message | None = None  # regenerate / continue: the message as it was (None: nothing before)
    prev_shown: int | None = None  # regenerate: the version shown before (index among the versions)
    explicit_stop: bool = False  # the user pressed Stop (the partial reply is then shown)
    outcome: str = ""  # "restored" (nothing came), "previous" (partial kept as a version), "" (shown)


@dataclass
class InlineError:
    """An error shown on a message (not stored: it lasts until Retry, dismiss or the window closes)."""

    message: str
    kind: str
    mode: str  # what Retry repeats: "generate"/"regenerate" (a new version) or "continue"
    partial: int | None = None  # a partial reply kept as this version (not shown): "Show partial"


def short_model(model: str | None, limit: int = 28) -> str:
    """A model name for the marker: the last path part ('/models/x.gguf' -> 'x.gguf'), shortened."""
    if not model:
        return ""
    name = model.rstrip("/").rsplit("/", 1)[-1] or model
    return name if len(name) <= limit else name[: limit - 1] + "…"


def provenance(m: Message, live: Stream | None = None) -> tuple[str, str, tuple[str, str]] | None:
    """(label, tooltip, colours) of a message's provenance marker; None for a person's text."""
    model = short_model(m.model)

    def with_model(word: str) -> str:
        return f"{word} · {model}" if model else word

    if live is not None:
        what = f"calling {live.calling}…" if live.calling else "generating…"
        return with_model(what), "Esc or ■ stop stops it; the text so far is kept", MARK_LIVE
    if m.source not in ("generated", "edited"):
        return None
    full = f" by {m.model}" if m.model else ""
    complete = m.finish in ("stop", "tool_calls", "function_call")
    if m.source == "edited":
        if complete:
            return with_model("edited"), f"Generated{full}, then edited by hand (or a person's text continued).", \
                MARK_PLAIN
        # Changed by hand, but the generated part did not complete: keep saying so.
        word, tip = UNFINISHED.get(m.finish, (str(m.finish), ""))
        return f"edited · {word}", f"Generated{full} and edited by hand. {tip}", MARK_WARN
    if complete:
        return with_model("generated"), f"Generated{full}; the model finished ({m.finish}).", MARK_PLAIN
    word, tip = UNFINISHED.get(m.finish, (str(m.finish), f"The reply ended with finish reason {m.finish!r}."))
    return with_model(word), f"Generated{full}. {tip}", MARK_WARN


class AssistController:
    """AI assist for one chat editor. Tk thread only (a job's own thread only fills its queue)."""

    def __init__(self, editor: ChatEditor, tick_ms: int = TICK_MS) -> None:
        self.editor = editor
        self.tick_ms = tick_ms
        self.stream: Stream | None = None
        self.last: Stream | None = None  # the last finished stream (tests and the benchmark read it)
        self.errors: dict[int, InlineError] = {}
        # Seams for the benchmark: how a job is made and how its queue is drained.
        self.make_job: Callable[[AssistConfig, Any], Job] = lambda cfg, req: Job(cfg, req)
        self.drain: Callable[[Any], list[tuple[str, Any]]] = drain
        self.on_tick: Callable[[], None] | None = None
        self.menu: tk.Menu | None = None  # the list of versions, while it is open

    @property
    def store(self) -> Any:
        return self.editor.store

    def streaming(self, mid: int | None = None) -> bool:
        return self.stream is not None and (mid is None or self.stream.mid == mid)

    def config(self) -> AssistConfig:
        try:
            return AssistConfig.from_settings(self.editor.app.user_settings)
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
            self.step_version(card, -1 if action == "alt_prev" else 1)
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
                self.show_version(mid, err.partial)
                self.dismiss_error(mid)
        elif action == "settings":
            opener = getattr(self.editor.app, "settings_dialog", None)
            if opener is not None:
                opener()

    def _can_start(self) -> bool:
        ed = self.editor
        if not ed._writable():
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
        i = ed._index[card.mid] if card is not None else len(ed.order) - 1
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
            ed._stick_bottom = True  # a reply at the end: the view stays at the end while it grows
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
        request = reply_request(self.store.get_chat(ed.chat_id), ed._index[mid])
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
        i = ed._index[mid]
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
        counting = getattr(self.editor.app, "tokens", None)
        counter = counting.counter() if counting is not None else None
        from lima_tk.tokens import continuation_template

        return continuation_template(counter)

    def retry(self, mid: int) -> int | None:
        """Retry after an error: a new version (as Regenerate), or continue again from the end."""
        ed = self.editor
        err = self.errors.get(mid)
        if err is not None and err.mode == "continue" and mid in ed.cards:
            return self.continue_reply(ed.cards[mid], from_end=True)
        return self.regenerate(mid)

    def dismiss_error(self, mid: int) -> None:
        if self.errors.pop(mid, None) is not None:
            card = self.editor.cards.get(mid)
            if card is not None and card.update_assist():
                self.editor._layout()

    # -- running a stream --------------------------------------------------------------------

    def _start(self, mid: int, mode: str, cfg: AssistConfig, request: Any, tail: str = "",
               before: Message | None = None, prev_shown: int | None = None) -> int:
        ed = self.editor
        self.errors.pop(mid, None)
        _, msg = self.store.get_message(mid)
        s = Stream(mid, mode, self.make_job(cfg, request), cfg.model, tail=tail, stored=msg.content or "",
                   before=before, prev_shown=prev_shown)
        self.stream = s
        ed._changed(focus=mid)  # the new or emptied message on screen, with the keyboard (Esc stops)
        card = ed.cards.get(mid) or ed._create_card_now(mid)
        t = card.text
        if tail:
            t.insert("end-1c", tail, (TAIL_TAG,))
            t.mark_set(MARK, f"{TAIL_TAG}.first")
            t.tag_configure(TAIL_TAG, foreground=st.MUTED)
        else:
            t.mark_set(MARK, "end-1c")
        t.mark_gravity(MARK, "right")
        t.edit_modified(False)
        t.configure(state="disabled")
        if tail and card.fit():
            ed._layout()
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
            card = self.editor.cards.get(s.mid)
            if card is not None and not self.editor.closed:
                if card.update_assist():
                    self.editor._layout()
                card.update_placeholder()
        if final is not None:
            self._finish(s, *final)

    def _append(self, s: Stream, text: str) -> None:
        self.store.append_generated_text(s.mid, text)
        s.stored += text
        ed = self.editor
        card = ed.cards.get(s.mid)
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
                ed._layout()
        if not t.capped and card.fit():
            ed._layout()
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
        top = ed.view_top()
        end = card.y + card.h
        return top - 2 <= end <= top + ed.view_height() + 4

    def _see_end(self, card: MessageCard) -> None:
        ed = self.editor
        t = card.text
        if t.capped:
            t.see(MARK if MARK in t.mark_names() else "end-1c")
        end = card.y + card.h + BELOW
        if end > ed.view_top() + ed.view_height():  # it grew below the view: scroll down with it
            ed._scroll_to(end - ed.view_height())

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
        s.outcome = self._outcome_kind(s, finish, err, calls)
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
        card = ed.cards.get(s.mid)
        if card is not None:
            self._release_text(card, keep_cursor=not s.outcome)
            if s.outcome:  # the Text shows the stream: put the shown version back
                card.set_content(s.stored)
            else:
                card.saved_text = s.stored
        ed._changed()
        if card is not None and s.mid in ed.cards:
            card.update_placeholder()
            card.fit()
            if ed.find_pattern:
                ed._highlight_card(card)
            ed._layout()
            if s.mid in self.errors:
                self._reveal_error(card)
            elif self._following(s, card):
                self._see_end(card)
        self.sync_controls()
        brief = f"⚠ Reply #{ed._index[s.mid] + 1} failed" if err is not None and s.mid in ed._index \
            else None
        ed.status(self._outcome(s, finish, err, calls), error=err is not None, brief=brief)

    @staticmethod
    def _outcome_kind(s: Stream, finish: str, err: AssistError | None, calls: list[dict[str, Any]] | None) -> str:
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

    def _outcome(self, s: Stream, finish: str, err: AssistError | None, calls: list[dict[str, Any]] | None) -> str:
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
        if y2 - y1 < ed.view_height():
            ed._stick_bottom = ed._stick_bottom and card.mid == ed.order[-1]
            ed._see_range(max(card.y, y2 - ed.view_height()) if card.h > ed.view_height() else card.y, y2)

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
        card = ed.cards.get(s.mid)
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
        ed.generate_button.configure(text="■ Stop (Esc)" if running else "Generate reply",
                                     state="disabled" if ed.readonly else "normal")
        changed = False
        for card in ed.cards.values():
            changed |= card.update_assist()
        if changed:
            ed._layout()

    # -- versions (alternatives) -------------------------------------------------------------

    def step_version(self, card: MessageCard, delta: int) -> None:
        m = card.message
        n = len(m.alternatives or ()) + 1
        i = (m.alt_index or 0) + delta
        if n < 2 or not 0 <= i < n:
            self.editor.bell()
            return
        self.show_version(card.mid, i)

    def show_version(self, mid: int, index: int) -> None:
        ed = self.editor
        if self.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        if not ed._writable():
            return
        ed.flush()
        self.store.show_alternative(mid, index)
        n = len(ed.messages[mid].alternatives or ()) + 1
        ed._changed(status=f"Version {index + 1} of {n} (the shown version is the one trained on)")

    def delete_version(self, mid: int, index: int | None = None) -> None:
        ed = self.editor
        if self.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        m = ed.messages.get(mid)
        if m is None or not ed._writable():
            return
        n = len(m.alternatives or ()) + 1
        if n < 2:
            ed.status("This message has only one version")
            return
        index = (m.alt_index or 0) if index is None else index
        ed.flush()
        self.store.delete_alternative(mid, index)
        ed._changed(status=f"Deleted version {index + 1} of {n} (Ctrl+Z outside a text undoes)")

    def set_rejected(self, mid: int, index: int, flag: bool = True) -> None:
        """Mark version `index` (0-based) of a reply rejected, or not: a preference export pairs it
        with the shown (chosen) version. One undo step."""
        ed = self.editor
        if self.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        if mid not in ed.messages or not ed._writable():
            return
        ed.flush()
        self.store.set_alternative_rejected(mid, index, flag)
        if flag:
            text = (f"Version {index + 1} marked rejected: preference exports pair it with the shown version "
                    "(Ctrl+Z outside a text undoes)")
        else:
            text = f"Version {index + 1} is no longer rejected"
        ed._changed(status=text)

    def reject_others(self, mid: int) -> None:
        """Mark every version but the shown one rejected (one undo step)."""
        ed = self.editor
        m = ed.messages.get(mid)
        if m is None or self.streaming(mid) or not ed._writable():
            return
        shown = m.alt_index or 0
        todo = [i for i, v in enumerate(m.variants()) if i != shown and not v.get("rejected")]
        if not todo:
            return
        ed.flush()
        with self.store.change(f"Reject {len(todo)} versions", "alternative"):
            for i in todo:
                self.store.set_alternative_rejected(mid, i, True)
        ed._changed(status=f"{len(todo)} versions marked rejected (Ctrl+Z outside a text undoes)")

    def versions_menu(self, card: MessageCard, x: int, y: int) -> tk.Menu:
        """A small menu listing the versions (pick one to show it), marking the others rejected
        for preference pairs, and deleting the shown one."""
        m = card.message
        variants = m.variants()
        shown = m.alt_index or 0
        if self.menu is not None:
            try:
                self.menu.destroy()
            except tk.TclError:
                pass
        menu = tk.Menu(self.editor, tearoff=False)
        self.menu_var = tk.IntVar(menu, value=shown)
        any_rejected = any(v.get("rejected") for v in variants)
        for i, v in enumerate(variants):
            text = " ".join(str(v.get("content") or "").split())
            if not text and v.get("tool_calls"):
                text = "(tool calls)"
            text = (text[:48] + "…") if len(text) > 49 else (text or "(empty)")
            who = "generated" if v.get("source") == "generated" else v.get("source") or "written"
            label = f"{i + 1}. {text}  —  {who}"
            if v.get("model"):
                label += f" · {short_model(v.get('model'))}"
            if v.get("finish") not in (None, "stop", "tool_calls") or (v.get("source") == "generated"
                                                                          and not v.get("finish")):
                label += f" ({UNFINISHED.get(v.get('finish'), (v.get('finish'), ''))[0]})"
            if v.get("rejected"):
                label += "   ✗ rejected"
            elif i == shown and any_rejected:
                label += "   ✓ chosen"
            menu.add_radiobutton(label=label, variable=self.menu_var, value=i,
                                 command=lambda i=i: self.editor._run(lambda: self.show_version(card.mid, i)))
        menu.add_separator()
        # Preference pairs: the shown version is the chosen one; the others may be marked rejected.
        menu.add_command(label="Rejected, for preference pairs (the shown one is chosen):", state="disabled")
        self.reject_vars: dict[int, tk.IntVar] = {}
        for i, v in enumerate(variants):
            if i == shown:
                continue
            var = tk.IntVar(menu, value=1 if v.get("rejected") else 0)
            self.reject_vars[i] = var
            menu.add_checkbutton(
                label=f"Version {i + 1} rejected", variable=var, onvalue=1, offvalue=0,
                command=lambda i=i, var=var: self.editor._run(lambda: self.set_rejected(card.mid, i,
                                                                                         bool(var.get()))))
        if sum(1 for i, v in enumerate(variants) if i != shown and not v.get("rejected")) >= 2:
            menu.add_command(label="Reject all other versions",
                             command=lambda: self.editor._run(lambda: self.reject_others(card.mid)))
        menu.add_separator()
        menu.add_command(label=f"Delete version {shown + 1}",
                         command=lambda: self.editor._run(lambda: self.delete_version(card.mid, shown)))
        self.menu = menu
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()
        return menu


def rejected_count(m: Message) -> int:
    """Versions of a message marked rejected (for preference pairs)."""
    return sum(1 for a in m.alternatives or () if a.get("rejected"))


def _focus(ed: ChatEditor) -> Any:
    try:
        return ed.focus_get()
    except (KeyError, tk.TclError):
        return None


def _has_focus(widget: tk.Misc) -> bool:
    try:
        return widget.focus_get() is widget
    except (KeyError, tk.TclError):
        return False
