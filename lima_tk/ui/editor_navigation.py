"""Selection and focus in a chat editor: which messages an action applies to (the selected ones,
else the current one: the last focused or clicked) and where the keyboard is.

Click a header to select its message, Ctrl+click to add or remove one, Shift+click for a range;
with the message list focused (after a header click) Up / Down select, Enter edits, and the card
canvas has the keyboard. Clicking into a text that is not selected clears the selection. The
selection is a set of message ids, so it survives reloads. What it needs from the editor is
`interfaces.NavigationHost`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lima_tk.ui.autotext import AutoText
from lima_tk.ui.message_frame import MessageCard

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import NavigationHost


class Navigation:
    """The selection and the current message of one editor. Tk thread only."""

    def __init__(self, host: NavigationHost) -> None:
        self.host = host
        self.selection: set[int] = set()
        self.anchor: int | None = None  # where a Shift+click range starts
        self.current_id: int | None = None  # the message last focused or clicked

    # -- the keyboard --------------------------------------------------------------------------

    def card_focus(self, card: MessageCard, widget: tk.Misc, focused: bool) -> None:
        """A card's widget got or lost the keyboard (the MSG_TAG class binding)."""
        ed = self.host
        if focused:
            self.current_id = card.mid
            if isinstance(widget, AutoText):
                if self.selection and card.mid not in self.selection:
                    self.clear_selection()
                if card.mid != (ed.order[-1] if ed.order else None):
                    ed.view.stick_bottom = False
                card.set_state(focused=True)
        elif isinstance(widget, AutoText):
            card.set_state(focused=False)
            if ed.is_unsaved(card):
                ed.save_soon()

    def focus_initial(self) -> None:
        """Opening: the cursor goes to the end of the last message, unless a widget of this
        window has the keyboard already. The focus may still be in the main window's list (the
        window manager gives the new window the focus a moment later): Tk then remembers this
        window's focus widget and puts the keys there once the window is focused."""
        ed = self.host
        if ed.closed or not ed.order:
            return
        try:
            focus = ed.focus_get()
        except (KeyError, tk.TclError):
            focus = None
        if focus is None or focus is ed or focus.winfo_toplevel() is not ed:
            self.focus_message(ed.order[-1], see=False, index="end-1c")

    def focus_message(self, mid: int, see: bool = True, index: str | None = None) -> None:
        """Put the cursor in a message (at `index`, else where it was) and show it."""
        ed = self.host
        if mid not in ed.messages:
            return
        card = ed.view.card(mid)
        self.current_id = mid
        if index is not None:
            card.text.mark_set("insert", index)
        if see:
            ed.view.see_card(card)
        ed.update_idletasks()
        card.text.focus_set()

    def show_message(self, index: int) -> None:
        """Scroll to the message at `index` (0-based, clamped) and put the cursor at its start;
        the view stops following the end of the chat."""
        ed = self.host
        if ed.closed or not ed.order:
            return
        ed.view.stick_bottom = False
        self.focus_message(ed.order[max(0, min(int(index), len(ed.order) - 1))], index="1.0")

    def focused_card(self) -> MessageCard | None:
        try:
            w = self.host.focus_get()
        except (KeyError, tk.TclError):
            return None
        card = getattr(w, "card", None)
        return card if isinstance(card, MessageCard) and card.mid in self.host.view.cards else None

    def current_card(self) -> MessageCard | None:
        """The message last focused or clicked (a header action sets it too)."""
        ed = self.host
        if self.current_id is not None and self.current_id in ed.messages:
            return ed.view.card(self.current_id)
        return self.focused_card()

    def targets(self) -> list[int]:
        """The messages an action applies to: the selection, else the current message."""
        if self.selection:
            return [m for m in self.host.order if m in self.selection]
        card = self.current_card()
        return [card.mid] if card is not None else []

    def focus_relative(self, delta: int) -> None:
        """Alt+Up / Alt+Down: the previous / next message."""
        ed = self.host
        card = self.current_card()
        if card is None:
            if ed.order:
                self.focus_message(ed.order[-1 if delta < 0 else 0])
            return
        i = ed.index_of(card.mid) + delta
        if 0 <= i < len(ed.order):
            ed.view.stick_bottom = False
            self.focus_message(ed.order[i])

    def neighbour_text(self, card: MessageCard, delta: int) -> None:
        ed = self.host
        i = ed.index_of(card.mid, 0) + delta
        if 0 <= i < len(ed.order):
            self.focus_message(ed.order[i])
        else:
            card.text.focus_set()

    def leave_text(self, card: MessageCard, back: bool) -> None:
        """Ctrl+Tab: to the next card's header (or the Add button); Ctrl+Shift+Tab: its own header."""
        ed = self.host
        if back:
            card.role_box.focus_set()
            return
        i = ed.index_of(card.mid, 0) + 1
        if i < len(ed.order):
            nxt = ed.view.card(ed.order[i])
            ed.view.see_card(nxt, None)
            nxt.role_box.focus_set()
        else:
            ed.add_button.focus_set()

    # -- the selection -------------------------------------------------------------------------

    def header_click(self, card: MessageCard, state: int) -> None:
        ed = self.host
        ctrl, shift = bool(state & 0x4), bool(state & 0x1)
        if shift and self.anchor is not None and self.anchor in ed.messages:
            a, b = sorted((ed.index_of(self.anchor), ed.index_of(card.mid)))
            self.selection = set(ed.order[a: b + 1])
        elif ctrl:
            self.selection ^= {card.mid}
            self.anchor = card.mid
        else:
            self.selection = {card.mid}
            self.anchor = card.mid
        self.current_id = card.mid
        self.paint()
        ed.view.canvas.focus_set()
        n = len(self.selection)
        if n > 1:
            ed.status(f"{n} messages selected (Ctrl+Delete deletes, Alt+Shift+Up/Down moves, Escape clears)")

    def select(self, ids: Iterable[int]) -> None:
        self.selection = {i for i in ids if i in self.host.messages}
        self.paint()

    def select_all(self) -> None:
        self.select(self.host.order)
        self.host.view.canvas.focus_set()

    def clear_selection(self) -> None:
        """Escape: clear the selection; with none, close the find bar."""
        if not self.selection and self.host.find.close_if_open():
            return
        if self.selection:
            self.selection = set()
            self.paint()

    def paint(self) -> None:
        for card in self.host.view.cards.values():
            card.set_state(selected=card.mid in self.selection)

    def reloaded(self) -> None:
        """The chat was re-read: forget what is gone."""
        ed = self.host
        self.selection &= set(ed.order)
        self.paint()
        if self.current_id not in ed.messages:
            self.current_id = None

    def select_step(self, delta: int) -> str:
        """Up / Down on the message list: select the previous / next message."""
        ed = self.host
        if not ed.order:
            return "break"
        cur = self.current_id if self.current_id in ed.messages else None
        i = 0 if cur is None else max(0, min(len(ed.order) - 1, ed.index_of(cur) + delta))
        mid = ed.order[i]
        self.current_id = mid
        self.anchor = mid
        self.select([mid])
        ed.view.see_card(ed.view.card(mid), None)
        return "break"

    def edit_current(self) -> str:
        """Enter on the message list: the cursor into the current message."""
        if self.current_id in self.host.messages:
            self.focus_message(self.current_id)  # type: ignore[arg-type]
        return "break"
