"""Typed text of a chat editor reaches the dataset (issue 10's rules, docs/architecture.md "GUI
autosave"; the timer and the close question are in lima_tk/ui/autosave.py).

A message card is dirty from its first changed key until a write of its text has committed; a
write that raises leaves it dirty, shows "Not saved: <reason>, retrying" on the card and in the
status bar, and the `Autosaver` retries with backoff. Properties (name, language, notes) count as
unsaved while the field differs from what was last loaded or written. Focus-out, Ctrl+S,
structural actions (`flush(strict=True)`: they change nothing when it fails) and closing write at
once. What it needs from the editor is `interfaces.SavingHost`. Tk thread only.
"""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.errors import DatasetBusy, DatasetError, DatasetFull, NotFound
from lima_tk.ui import editor_style as st
from lima_tk.ui.autosave import SAVE_DELAY_MS, SAVE_MAX_WAIT_MS, Autosaver, describe, plain_reason, recent_failure
from lima_tk.ui.save_state import NOT_SAVED, SAVED, SAVING, title_mark

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import SavingHost
    from lima_tk.ui.message_frame import MessageCard


class EditorSaving:
    """The unsaved typing of one editor and the writes that save it. Tk thread only."""

    def __init__(self, host: SavingHost, save_delay: int | None = None) -> None:
        self.host = host
        self.autosaver = Autosaver(host, self.write_pending, self._state,
                                   int(save_delay if save_delay is not None else SAVE_DELAY_MS), SAVE_MAX_WAIT_MS)
        self.dirty: set[int] = set()  # cards whose text is not saved yet (until a write commits)
        self.written = 0  # fields written by saves (flush() returns the difference)
        self.saved_any = False  # something was written since the main window last heard of it
        self.indicator: ttk.Label | None = None  # "Saved" / "Saving…" / "Not saved" (make_indicator)
        self.shown_state = ""

    # -- the saving state the window shows (lima_tk/ui/save_state.py) -----------------------------

    def make_indicator(self, parent: tk.Misc) -> ttk.Label:
        style = ttk.Style(parent)
        style.configure("SaveState.TLabel", background=st.BG, foreground=st.MUTED, padding=(2 * st.PAD, st.PAD))
        style.configure("SaveStateError.TLabel", background=st.BG, foreground=st.DANGER,
                        padding=(2 * st.PAD, st.PAD))
        self.indicator = ttk.Label(parent, text=SAVED, style="SaveState.TLabel")
        return self.indicator

    def state(self) -> str:
        if self.autosaver.failing:
            return NOT_SAVED
        return SAVING if self.dirty or self.autosaver.first_unsaved is not None else SAVED

    def title(self) -> str:
        """The window title: the chat's name, and "(saving…)" / "(not saved)" while so."""
        return f"{self.host.chat.name or 'Untitled chat'}{title_mark(self.shown_state)} – lima-tk"

    def show_state(self) -> None:
        """Show the state in the window (label and title) and tell the main window, when it changed."""
        state = self.state()
        if state == self.shown_state or self.host.closed:
            return
        self.shown_state = state
        if self.indicator is not None:
            self.indicator.configure(text=state, style="SaveStateError.TLabel" if state == NOT_SAVED
                                     else "SaveState.TLabel")
        self.host.show_save_state()

    # -- when ------------------------------------------------------------------------------------

    def touched(self, card: MessageCard) -> None:
        """The user changed a card's text: it is dirty, and the timer runs."""
        self.dirty.add(card.mid)
        self.autosaver.touched()
        self.show_state()
        if self.autosaver.failing and not card.unsaved:  # it cannot be saved right now either: say so
            card.set_unsaved(self.unsaved_text())
            self.host.view.schedule_layout()

    def is_unsaved(self, card: MessageCard) -> bool:
        return card.mid in self.dirty or card.text.edit_modified()

    def attempt(self) -> bool:
        """Write what is unsaved now, without raising (a failure is shown and retried). True when
        nothing is left unsaved."""
        if self.host.closed:
            return True
        return self.autosaver.attempt()

    def flush(self, strict: bool = True) -> int:
        """Save pending typing (messages and properties) now; returns how many fields were
        written. When a write fails the typing stays unsaved and is retried; `strict` (the
        default, for callers about to change the chat) then raises a DatasetError with a plain
        sentence, so the caller changes nothing."""
        if self.host.closed:
            return 0
        before = self.written
        if not self.autosaver.attempt() and strict:
            raise self.save_error()
        return self.written - before

    def try_save(self) -> bool:
        """Write everything unsaved now; True when nothing is left unsaved (never raises a write
        failure: it is shown and retried)."""
        if self.host.closed:
            return True
        return self.autosaver.attempt() and not self.has_unsaved()

    def save_now(self) -> None:
        """Ctrl+S in the editor."""
        ed = self.host
        if not self.autosaver.attempt():
            ed.status(self.unsaved_text(), error=True)
            return
        if self.saved_any:
            self.saved_any = False
            ed.tell_main_window()
        ed.status(f"Saved {time.strftime('%H:%M:%S')}")

    # -- the writes ------------------------------------------------------------------------------

    def write_pending(self) -> None:
        """Write every unsaved text: the messages, then the properties. Raises the first write
        failure; what was not written stays unsaved (the Autosaver retries)."""
        ed = self.host
        cards = ed.view.cards
        for mid, card in cards.items():  # a <<Modified>> may still be queued: take it now
            if card.text.edit_modified() and not card.loading:
                card.text.edit_modified(False)
                self.dirty.add(mid)
                ed.note_typed(card.text)
        for mid in sorted(self.dirty):
            card = cards.get(mid)
            if card is None:
                self.dirty.discard(mid)
                continue
            self._save_card(card)
        if ed.props.flush():
            self.written += 1
        ed.after(0, self.show_state)  # the Autosaver clears its own marks after this returns

    def _save_card(self, card: MessageCard) -> bool:
        """Write one card's text; True when it was written. A write failure propagates and
        the card stays dirty: it is cleared only once the text is in the dataset."""
        ed = self.host
        mid = card.mid
        saved = False
        if not ed.assist.streaming(mid):  # else the stream writes it (the Text is read-only meanwhile)
            text = card.get_text()
            if text != card.saved_text:
                try:
                    ed.store.edit_message_text(mid, text)
                except NotFound:  # deleted meanwhile (another window, an undo)
                    text = card.saved_text
                else:
                    saved = True
                    card.saved_text = text
                    card.message.content = text
                    self.saved_any = True
                    self.written += 1
        self.dirty.discard(mid)
        if card.unsaved:
            card.set_unsaved(None)
            ed.view.schedule_layout()
        if saved:
            ed.tokens.schedule()  # recount the saved message (issue 6)
            if card.update_assist():  # "→ continue" once a reply written by hand has text (issue 13)
                ed.view.schedule_layout()
        return saved

    # -- failures --------------------------------------------------------------------------------

    def unsaved_text(self) -> str:
        return f"Not saved: {self.autosaver.reason()}, retrying"

    def _state(self, exc: BaseException | None) -> None:
        """The Autosaver's news: saving started failing (or for another reason), or works again."""
        ed = self.host
        if ed.closed:
            return
        self.show_state()
        cards = ed.view.cards
        if exc is None:
            for card in cards.values():
                if card.unsaved:
                    card.set_unsaved(None)
            ed.view.schedule_layout()
            ed.status(f"Saved {time.strftime('%H:%M:%S')}")
            return
        text = self.unsaved_text()
        for mid in sorted(self.dirty):
            card = cards.get(mid)
            if card is not None:
                card.set_unsaved(text)
        ed.view.schedule_layout()
        where = [f"#{ed.index_of(m) + 1}" for m in sorted(self.dirty, key=lambda m: ed.index_of(m, 0))
                 if m in ed.messages]
        what = f"message {', '.join(where)}" if where else "the chat's properties"
        ed.status(f"{text} ({what} of “{ed.chat.name or 'Untitled chat'}”)", error=True,
                  brief="⚠ Not saved, retrying")  # the message itself says why

    def save_error(self) -> DatasetError:
        """The error a structural action raises when pending typing could not be saved first:
        the action changes nothing; the typing stays and is retried."""
        exc = self.autosaver.failure or recent_failure()  # not tried: another write failed just now
        reason = plain_reason(exc) if exc is not None else "the dataset could not be written"
        cls = DatasetBusy if isinstance(exc, DatasetBusy) or "another program" in reason else \
            DatasetFull if isinstance(exc, DatasetFull) or "disk is full" in reason else DatasetError
        return cls(f"Nothing was changed: {reason}. Your typing is kept and saved as soon as it can be")

    def has_unsaved(self) -> bool:
        """Typing (messages or properties) that is not in the dataset yet."""
        if any(card.text.edit_modified() for card in self.host.view.cards.values()):
            return True
        return bool(self.dirty) or bool(self.host.props.pending())

    def unsaved_texts(self) -> list[tuple[str, str]]:
        """(where, text) of everything not saved yet: for the close question and its copy."""
        ed = self.host
        out = []
        for mid in sorted(self.dirty, key=lambda m: ed.index_of(m, 0)):
            card = ed.view.cards.get(mid)
            if card is not None and card.get_text() != card.saved_text:
                out.append((describe(ed.chat.name, ed.index_of(mid, None)), card.get_text()))
        pending = ed.props.pending()
        if pending:
            out.append((describe(ed.chat.name, None), "\n".join(f"{k}: {v}" for k, v in pending.items())))
        return out

    def failure(self) -> str | None:
        """Why saving fails right now (plain words), None when it does not."""
        return self.autosaver.reason()

    def reloaded(self, order: list[int]) -> None:
        self.dirty &= set(order)

    def close(self) -> None:
        self.autosaver.cancel()
        self.host.show_save_state()  # this window's state no longer counts in the main window
