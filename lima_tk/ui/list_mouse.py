"""The chat list's mouse: click selects (Shift+click a range, Ctrl+click toggles one), dragging
extends the selection (and scrolls past the edges), double-click opens the chat, right-click opens
the Chat menu. Clicks on the headings are left to the Treeview (sorting, column widths). Tk
thread only."""

from __future__ import annotations

import tkinter as tk
from typing import TYPE_CHECKING

from lima_tk.ui.platform import current

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ListRows


class ListMouse:
    """Binds the mouse of `chat_list.tree`. Tk thread only."""

    def __init__(self, chat_list: ListRows) -> None:
        self.list = chat_list
        t = chat_list.tree
        t.bind("<Button-1>", lambda e: self._on_press(e, "set"))
        t.bind("<Shift-Button-1>", lambda e: self._on_press(e, "range"))
        plat = current(t)  # Cmd+click toggles and Control+click is a right click on a Mac
        t.bind(plat.toggle_click, lambda e: self._on_press(e, "toggle"))
        t.bind("<B1-Motion>", self._on_drag)
        t.bind("<Double-Button-1>", self._on_double)
        for seq in plat.context_menu_sequences():
            t.bind(seq, self._on_right)

    def _on_heading(self, event: tk.Event) -> bool:
        return self.list.tree.identify_region(event.x, event.y) in ("heading", "separator")

    def _on_press(self, event: tk.Event, mode: str) -> str | None:
        cl = self.list
        if self._on_heading(event):
            return None  # Treeview's own bindings: sort command and column resize
        cl.commit_rename()
        cl.tree.focus_set()
        slot = cl.slot_at(event.y)
        if slot is None:
            return "break"
        index = cl.top + slot
        if mode == "range":
            cl.move_cursor(index, extend=True)
        elif mode == "toggle":
            cl.toggle(index)
        else:
            cl.move_cursor(index)
        return "break"

    def _on_drag(self, event: tk.Event) -> str | None:
        cl = self.list
        if self._on_heading(event) or cl.anchor < 0:
            return None
        slot = cl.slot_at(event.y)
        if slot is None:
            if event.y < cl.heading_height and cl.top > 0:
                cl.move_cursor(cl.top - 1, extend=True)
            elif event.y > cl.pixel_height - 4:
                cl.move_cursor(cl.top + cl.page, extend=True)
            return "break"
        if cl.top + slot != cl.cursor:
            cl.move_cursor(cl.top + slot, extend=True)
        return "break"

    def _on_double(self, event: tk.Event) -> str | None:
        cl = self.list
        if self._on_heading(event):
            return None
        slot = cl.slot_at(event.y)
        if slot is not None and cl.on_open:
            cl.on_open(cl.slot_id(slot))
        return "break"

    def _on_right(self, event: tk.Event) -> str:
        cl = self.list
        slot = cl.slot_at(event.y)
        if slot is not None and cl.slot_id(slot) not in cl.selected:
            cl.move_cursor(cl.top + slot)
        cl.tree.focus_set()
        if cl.on_context:
            cl.on_context(event)
        return "break"
