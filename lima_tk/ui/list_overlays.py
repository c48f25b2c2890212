"""What the chat list shows over its rows: the empty state (what happened, what to do next, as
buttons) and the Entry that renames a chat in place (F2). Tk thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.ui.platform import current
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ListRows

EmptyContent = tuple[str, str, list[tuple[str, Callable[[], object]]]]


class EmptyState:
    """A centred title, text and buttons over an empty list (redrawn only when they change)."""

    def __init__(self, parent: tk.Misc, content: Callable[[], EmptyContent]) -> None:
        self.frame = ttk.Frame(parent, style="Card.TFrame", padding=4 * PAD)
        self.content = content
        self.shown: tuple | None = None

    def update(self, empty: bool) -> None:
        if not empty:
            if self.shown is not None:
                self.frame.place_forget()
                self.shown = None
            return
        title, text, buttons = self.content()
        text = current(self.frame).shortcut_label(text)  # Cmd+O on a Mac
        key = (title, text, tuple(b[0] for b in buttons))
        if key != self.shown:
            for w in self.frame.winfo_children():
                w.destroy()
            ttk.Label(self.frame, text=title, style="EmptyTitle.TLabel", justify="center").pack(pady=(0, 2 * PAD))
            if text:
                ttk.Label(self.frame, text=text, style="Empty.TLabel", justify="center",
                          wraplength=520).pack(pady=(0, 4 * PAD))
            row = ttk.Frame(self.frame, style="Card.TFrame")
            row.pack()
            for i, (label, command) in enumerate(buttons):
                ttk.Button(row, text=label, command=command,
                           style="Accent.TButton" if i == 0 else "TButton").pack(side="left", padx=PAD)
            self.shown = key
        self.frame.place(relx=0.5, rely=0.42, anchor="center")


class RenameInPlace:
    """An Entry over the name cell of the list's cursor row; Enter (or leaving it) saves through
    the list's `on_rename`, Escape cancels."""

    def __init__(self, chat_list: ListRows) -> None:
        self.list = chat_list
        self._rename: tuple[int, ttk.Entry] | None = None
        self._old = ""

    @property
    def entry(self) -> ttk.Entry | None:
        return self._rename[1] if self._rename else None

    def start(self) -> ttk.Entry | None:
        cl = self.list
        self.commit()
        if cl.cursor < 0:
            return None
        cl.ensure_visible(cl.cursor)
        bbox = cl.name_cell(cl.cursor)
        row = cl.row_at(cl.cursor)
        if row is None or not bbox:
            return None
        x, y, w, h = bbox
        entry = ttk.Entry(cl.tree)
        entry.insert(0, row.name)
        entry.select_range(0, "end")
        entry.icursor("end")
        entry.place(x=x, y=y - 1, width=w, height=h + 2)
        entry.focus_set()
        entry.bind("<Return>", lambda e: (self.commit(), "break")[1])
        entry.bind("<KP_Enter>", lambda e: (self.commit(), "break")[1])
        entry.bind("<Escape>", lambda e: (self.cancel(), "break")[1])
        entry.bind("<FocusOut>", lambda e: self.commit())
        self._rename = (row.id, entry)
        self._old = row.name
        return entry

    def commit(self) -> None:
        if self._rename is None:
            return
        chat_id, entry = self._rename
        self._rename = None
        text = entry.get().strip()
        entry.destroy()
        self.list.tree.focus_set()
        if text != self._old and self.list.on_rename:
            self.list.on_rename(chat_id, text)

    def cancel(self) -> None:
        if self._rename is None:
            return
        _, entry = self._rename
        self._rename = None
        entry.destroy()
        self.list.tree.focus_set()
