"""The messages of a chat editor as cards on a Canvas: creating them (lazily), their geometry and
layout, and scrolling (issue 14: out of the editor, with a public interface that the editor, the
AI-assist view and the token view call).

Each message is a card (message_frame.MessageCard) placed as its own Canvas window item at a y
computed here. A Canvas unmaps window items that are scrolled out of view, so only the visible
cards are drawn, and no X window grows past X11's 32767-pixel limit (one tall frame inside a
Canvas would). A card's Text is as tall as its display lines; cards that are out of view are
measured with a hidden Text of the same width (autotext.LineMeasurer). Opening creates the cards
at the end of the chat first (the view starts at the end) and the rest in chunks of CHUNK from
`after` callbacks (not `after_idle`: the layout calls `update_idletasks`, which would run idle
callbacks in the middle of it), so a long chat shows at once and stays responsive.

The view keeps the message it showed at the top when cards above it change height, and follows
the end of the chat (`stick_bottom`) until the user scrolls away. What it needs from its editor
is `interfaces.CanvasHost`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.ui import editor_style as st
from lima_tk.ui.autotext import TEXT_OPTIONS, LineMeasurer
from lima_tk.ui.message_frame import CARD_BORDER, HEADER_ACTIONS, MSG_TAG, MessageCard

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import CanvasHost

CHUNK = 24  # cards created per `after` tick while a long chat opens
CARD_GAP = 2 * st.PAD
CARD_MARGIN = 3 * st.PAD
# An assistant header's labels besides the actions (train mark, tool call, regenerate, continue,
# token count): the widest header, which decides the style of all (header_actions_width).
FULLEST_HEADER_EXTRAS = ("#99", "train: default", "+ tool call", "↻", "→", "~9,999 tok")
REFIT_MS = 40  # after a width change, measure again once resizing pauses this long


class CardCanvas:
    """The card canvas of one editor: `canvas` and its scrollbar, gridded at `row` of `parent`."""

    def __init__(self, parent: tk.Misc, host: CanvasHost, row: int = 1) -> None:
        self.host = host
        self.canvas = tk.Canvas(parent, background=st.CANVAS_BG, highlightthickness=2,
                                highlightbackground=st.CANVAS_BG, highlightcolor=st.CANVAS_BG, borderwidth=0,
                                width=740, height=600, yscrollincrement=1, takefocus=1)
        self.canvas.grid(row=row, column=0, sticky="nsew")
        self.vbar = ttk.Scrollbar(parent, orient="vertical", command=self._on_scrollbar)
        self.vbar.grid(row=row, column=1, sticky="ns")
        self.canvas.configure(yscrollcommand=self.vbar.set)
        self.canvas.bindtags((MSG_TAG, *self.canvas.bindtags()))
        self.measurer = LineMeasurer(self.canvas)
        self.empty_label = tk.Label(self.canvas, text="No messages yet.\nCtrl+Enter or “Add message” starts one.",
                                    background=st.CANVAS_BG, foreground=st.MUTED, justify="center")
        self.cards: dict[int, MessageCard] = {}
        self.pending: list[int] = []  # ids whose card is not created yet (opening a long chat)
        self.ready = False  # every card created and measured
        self.total_height = 0
        self.stick_bottom = True  # the view follows the end of the chat
        self.button_height = self._line_height()
        self._actions_width: tuple[int, int] | None = None  # (button height, width of the header actions)
        self._canvas_width = 0
        self._in_layout = False
        self._see_after_layout: MessageCard | None = None
        self._layout_job: str | None = None
        self._chunk_job: str | None = None
        self._see_job: str | None = None
        self._refit_job: str | None = None
        c = self.canvas
        c.bind("<Configure>", self._on_configure)
        # The ring shows when the list itself has the keyboard (selection mode), not a message in it.
        c.bind("<FocusIn>", lambda e: c.after_idle(self._paint_focus), add="+")
        c.bind("<FocusOut>", lambda e: c.after_idle(self._paint_focus), add="+")
        c.bind("<Prior>", lambda e: self.scroll_pixels(-int(self.view_height() * 0.9)))
        c.bind("<Next>", lambda e: self.scroll_pixels(int(self.view_height() * 0.9)))
        c.bind("<Home>", lambda e: self.scroll_to(0))
        c.bind("<End>", lambda e: self.scroll_to(self.total_height))

    def _line_height(self) -> int:
        return tkfont.nametofont("TkDefaultFont", root=self.canvas).metrics("linespace") + 2 * st.PAD

    @property
    def settled(self) -> bool:
        """Every card exists and no layout, refit or creation is waiting."""
        return not self.pending and self._refit_job is None and self._layout_job is None and self._chunk_job is None

    def _paint_focus(self) -> None:
        if self.host.closed:
            return
        try:
            mine = self.canvas.focus_get() is self.canvas
        except (KeyError, tk.TclError):
            mine = False
        self.canvas.configure(highlightcolor=st.ACCENT if mine else st.CANVAS_BG)

    # -- creating cards ------------------------------------------------------------------------

    def populate(self) -> None:
        """Create the cards at the end first (what the view shows), the rest in chunks."""
        self.canvas.update_idletasks()
        order = self.host.order
        view = max(self.view_height(), 600) + 400
        acc = 0
        i = len(order) - 1
        while i >= 0 and (acc < view or len(order) - i <= 2):
            mid = order[i]
            self._create(mid, i)
            acc += self.cards[mid].winfo_reqheight() + CARD_GAP
            i -= 1
        self.pending = order[: i + 1]
        self.layout()
        self.scroll_to(self.total_height)
        if self.pending:
            self._chunk_job = self.canvas.after(1, self._create_chunk)
        else:
            self._loaded()

    def _create_chunk(self) -> None:
        self._chunk_job = None
        if self.host.closed:
            return
        made = 0
        while self.pending and made < CHUNK:
            mid = self.pending.pop()
            if mid in self.host.messages and mid not in self.cards:
                self._create(mid, self.host.index_of(mid))
                made += 1
        self.layout()
        if self.pending:
            self._chunk_job = self.canvas.after(1, self._create_chunk)
        else:
            self._loaded()

    def create_all(self) -> None:
        """Create every card still pending now (find needs them all)."""
        if not self.pending:
            return
        if self._chunk_job is not None:
            self.canvas.after_cancel(self._chunk_job)
            self._chunk_job = None
        while self.pending:
            mid = self.pending.pop()
            if mid in self.host.messages and mid not in self.cards:
                self._create(mid, self.host.index_of(mid))
        self.layout()
        self._loaded()

    def _loaded(self) -> None:
        if not self.ready:
            self.ready = True
            self.host.cards_ready()

    def _create(self, mid: int, index: int) -> MessageCard:
        card = MessageCard(self.canvas, self.host, self.host.messages[mid], index)
        card.item = self.canvas.create_window(CARD_MARGIN, -10000, anchor="nw", window=card, width=self.card_width())
        self.cards[mid] = card
        self.host.decorate(card)
        card.fit()
        return card

    def card(self, mid: int) -> MessageCard:
        """The card of a message; created now when it is still pending."""
        card = self.cards.get(mid)
        if card is not None:
            return card
        if mid in self.pending:
            self.pending.remove(mid)
        card = self._create(mid, self.host.index_of(mid))
        self.layout()
        return card

    def sync(self, keep_text: set[int], tools_changed: bool) -> None:
        """After the editor re-read its chat: drop the cards of removed messages, update the others
        (`keep_text`: cards whose typing is not saved yet keep it), create the new ones."""
        messages = self.host.messages
        for mid in [m for m in self.cards if m not in messages]:
            card = self.cards.pop(mid)
            self.canvas.delete(card.item)
            card.destroy()
        self.pending = [m for m in self.pending if m in messages]
        pending = set(self.pending)
        for i, mid in enumerate(self.host.order):
            card = self.cards.get(mid)
            if card is not None:
                text_before = card.saved_text
                card.update_message(messages[mid], i, keep_text=mid in keep_text)
                if tools_changed:
                    card.redraw_role_widgets()
                self.host.decorate(card, created=False)
                if card.saved_text != text_before:
                    card.fit()
                    self.host.highlight_find(card)
            elif mid not in pending:
                self._create(mid, i)

    # -- geometry ------------------------------------------------------------------------------

    def card_width(self) -> int:
        w = self.canvas.winfo_width()
        if w <= 1:
            w = int(self.canvas.cget("width"))
        return max(200, w - 2 * CARD_MARGIN - 4)

    def text_width(self) -> int:
        return self.card_width() - 2 * CARD_BORDER

    def header_actions_width(self) -> int:
        """Width of the header's action labels at the current font (measured once per size), plus
        what the fullest header (an assistant reply's) shows besides them: every card then
        draws its actions in the same style, words or arrows (issue 13)."""
        if self._actions_width is None or self._actions_width[0] != self.button_height:
            f = tkfont.nametofont("TkDefaultFont", root=self.canvas)
            labels = [label for _, label, _ in HEADER_ACTIONS] + list(FULLEST_HEADER_EXTRAS)
            self._actions_width = (self.button_height, sum(f.measure(label) + 3 * st.PAD for label in labels))
        return self._actions_width[1]

    def _on_configure(self, event: tk.Event) -> None:
        if event.width != self._canvas_width:
            self._canvas_width = event.width
            w = self.card_width()
            for card in self.cards.values():
                self.canvas.itemconfigure(card.item, width=w)
            self.empty_label.place_configure(relx=0.5, rely=0.4, anchor="center")
            if self._refit_job is not None:
                self.canvas.after_cancel(self._refit_job)
            self._refit_job = self.canvas.after(REFIT_MS, self.refit_all)
        else:
            self.schedule_layout()

    def refit_all(self) -> None:
        """Measure every card again, the visible ones first. Runs after a width change; the main
        window's font-size change calls it too (named fonts change without an event)."""
        self._refit_job = None
        if self.host.closed:
            return
        height = self._line_height()
        if height != self.button_height:
            self.button_height = height
            for card in self.cards.values():
                card.redraw_buttons()
        self.measurer.width = 0  # the font may have changed: measure afresh
        top = self.view_top()
        bottom = top + self.view_height()
        cards = sorted(self.cards.values(), key=lambda c: 0 if c.y + c.h >= top and c.y <= bottom else 1)
        for card in cards:
            card.fit()
        self.layout()

    def schedule_layout(self) -> None:
        if self._layout_job is None and not self.host.closed:
            self._layout_job = self.canvas.after_idle(self.layout)

    def _estimate(self, mid: int) -> int:
        text = self.host.messages[mid].content or ""
        cpl = max(20, self.text_width() // 8)
        lines = min(self.host.max_lines, text.count("\n") + 1 + len(text) // cpl)
        return 40 + lines * 18 + 2 * CARD_BORDER

    def layout(self) -> None:
        """Place the cards one under the other; keep the view on what it showed."""
        if self._layout_job is not None:
            try:
                self.canvas.after_cancel(self._layout_job)
            except tk.TclError:
                pass
            self._layout_job = None
        if self.host.closed or self._in_layout:
            return
        self._in_layout = True
        order = self.host.order
        try:
            self.canvas.update_idletasks()  # the cards' requested heights
            if self.host.closed:
                return
            anchor = None if self.stick_bottom else self._anchor()
            y = CARD_MARGIN
            for mid in order:
                card = self.cards.get(mid)
                if card is None:
                    y += self._estimate(mid) + CARD_GAP
                    continue
                if card.y != y:
                    self.canvas.coords(card.item, CARD_MARGIN, y)
                    card.y = y
                card.h = card.winfo_reqheight()
                y += card.h + CARD_GAP
            self.total_height = y - CARD_GAP + CARD_MARGIN if order else 0
            self.canvas.configure(scrollregion=(0, 0, self.card_width() + 2 * CARD_MARGIN, self.total_height))
            if order:
                self.empty_label.place_forget()
            else:
                self.empty_label.place(relx=0.5, rely=0.4, anchor="center")
            if self.stick_bottom:
                self.canvas.yview_moveto(1.0)
            elif anchor is not None:
                mid, offset = anchor
                card = self.cards.get(mid)
                if card is not None:
                    self.scroll_to(card.y + offset)
        finally:
            self._in_layout = False
        if self._see_after_layout is not None:
            card, self._see_after_layout = self._see_after_layout, None
            self._see_insert(card)

    def layout_if_due(self) -> None:
        """Lay out now when a layout is waiting (before reading the cards' positions)."""
        if self._layout_job is not None:
            self.layout()

    def _anchor(self) -> tuple[int, float] | None:
        top = self.view_top()
        for mid in self.host.order:
            card = self.cards.get(mid)
            if card is not None and card.y >= 0 and card.y + card.h > top:
                return mid, top - card.y
        return None

    # -- scrolling -----------------------------------------------------------------------------

    def _inset(self) -> int:
        return int(self.canvas.cget("highlightthickness")) + int(self.canvas.cget("borderwidth"))

    def view_top(self) -> float:
        """Canvas y of the first visible pixel row."""
        return self.canvas.canvasy(0) + self._inset()

    def view_height(self) -> int:
        h = self.canvas.winfo_height()
        if h <= 1:
            h = int(self.canvas.cget("height"))
        return max(1, h - 2 * self._inset())

    def _on_scrollbar(self, *args: Any) -> None:
        self.stick_bottom = False
        self.canvas.yview(*args)

    def scroll_to(self, top: float) -> None:
        total = max(self.total_height, 1)
        top = max(0.0, min(float(top), total - self.view_height()))
        self.canvas.yview_moveto(top / total)

    def scroll_pixels(self, dy: int) -> None:
        if dy == 0:
            return
        self.stick_bottom = False
        self.scroll_to(self.view_top() + dy)

    def see_range(self, y1: float, y2: float) -> None:
        """Scroll the least so that canvas rows y1..y2 show (their top when taller than the view)."""
        top = self.view_top()
        h = self.view_height()
        if y2 - y1 > h:
            target = y1 - CARD_GAP
        elif y1 < top:
            target = y1 - CARD_GAP
        elif y2 > top + h:
            target = y2 - h + CARD_GAP
        else:
            return
        self.scroll_to(target)

    def see_card(self, card: MessageCard, index: str | None = "insert") -> None:
        """Scroll so the card shows (or, when taller than the view, the line at `index`)."""
        if self._layout_job is not None or card.y < 0:
            self.layout()
        h = self.view_height()
        if card.h <= h or index is None or card.text.capped:
            self.see_range(card.y, card.y + card.h)
            if index is not None and card.text.capped:
                card.text.see(index)
            return
        self.see_line(card, index)

    def see_line(self, card: MessageCard, index: str) -> None:
        """Scroll so the line of `index` in the card's text shows (and the card's end, on its last line)."""
        t = card.text
        dy = int(t.tk.call(str(t), "count", "-update", "-ypixels", "1.0", index))
        line = int(t.tk.call("font", "metrics", t.cget("font"), "-linespace"))
        y1 = card.y + card.text_top() + int(TEXT_OPTIONS["pady"]) + dy
        y2 = y1 + line
        if t.compare(f"{index} linestart", "==", "end-1c linestart"):
            y2 = max(y2, card.y + card.h)  # on the last line: show the end of the card too
        self.see_range(y1, y2)

    def schedule_see_insert(self, card: MessageCard) -> None:
        """Keep the line being typed in view (once, when the loop is idle)."""
        if self._see_job is None:
            self._see_job = self.canvas.after_idle(lambda: self._see_insert(card))

    def _see_insert(self, card: MessageCard) -> None:
        self._see_job = None
        if self.host.closed or card.mid not in self.cards or not card.focused:
            return
        if self._in_layout:  # ran from inside the layout's update_idletasks: wait for its heights
            self._see_after_layout = card
            return
        if self._layout_job is not None:
            self.layout()
        if card.text.capped:
            self.see_range(card.y, card.y + min(card.h, self.view_height()))
        else:
            self.see_line(card, "insert")

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """The editor closes: no timer is left behind."""
        for job in (self._layout_job, self._chunk_job, self._see_job, self._refit_job):
            if job is not None:
                try:
                    self.canvas.after_cancel(job)
                except tk.TclError:
                    pass
        self._layout_job = self._chunk_job = self._see_job = self._refit_job = None
