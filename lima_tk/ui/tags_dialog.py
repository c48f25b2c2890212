"""Chat > Tags… (Ctrl+T): tick the tags the selected chats carry; a tag only some of them have is
half-ticked and left alone unless clicked. Tk thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.ui.dialogs import Dialog
from lima_tk.ui.scrolling import add_scroll_tag, bind_canvas_scrolling
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ChatActionsHost


class ScrollFrame(ttk.Frame):
    """A vertically scrolling frame (for a long list of checkbuttons)."""

    def __init__(self, parent: tk.Misc, height: int = 220) -> None:
        super().__init__(parent, style="Card.TFrame")
        self.canvas = tk.Canvas(self, height=height, highlightthickness=0, borderwidth=0,
                                background=ttk.Style(self).lookup("Card.TFrame", "background") or "white")
        self.sb = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.inner = ttk.Frame(self.canvas, style="Card.TFrame", padding=2 * PAD)
        self._win = self.canvas.create_window(0, 0, window=self.inner, anchor="nw")
        self.canvas.configure(yscrollcommand=self.sb.set)
        self.canvas.pack(side="left", fill="both", expand=True)
        self.sb.pack(side="right", fill="y")
        self.inner.bind("<Configure>", lambda e: self.canvas.configure(scrollregion=self.canvas.bbox("all")))
        self.canvas.bind("<Configure>", lambda e: self.canvas.itemconfigure(self._win, width=e.width))
        # Wheel and touchpad (Tk 9) over the canvas and every row in it.
        self.scroll_tag = bind_canvas_scrolling(self.canvas, units=2)
        add_scroll_tag(self.inner, self.scroll_tag)

    def scrolls(self, widget: tk.Misc) -> tk.Misc:
        """A row added to `inner`: the wheel over it scrolls the list."""
        add_scroll_tag(widget, self.scroll_tag)
        return widget


class TagsDialog(Dialog):
    """Tick the tags the selected chats should carry. A tag some of them have starts half-ticked
    and is left alone unless clicked. New tags can be typed. `apply()` for tests."""

    def __init__(self, app: ChatActionsHost, chat_ids: Sequence[int]) -> None:
        super().__init__(app.root, "Tags", resizable=True)
        self.app = app
        self.chat_ids = list(chat_ids)
        store = app.store
        assert store is not None
        n = len(self.chat_ids)
        have = store.tag_counts_of(self.chat_ids)
        vocab = list(store.tag_counts())
        for t in have:
            if t not in vocab:
                vocab.append(t)
        ttk.Label(self.body, text=f"Tags of {n:,} chat{'s' if n != 1 else ''}:").pack(anchor="w")
        self.scroll = ScrollFrame(self.body, height=min(260, 32 * max(3, len(vocab))))
        self.scroll.pack(fill="both", expand=True, pady=(2 * PAD, 2 * PAD))
        self.vars: dict[str, tk.IntVar] = {}
        self.initial: dict[str, str] = {}  # "all" | "some" | "none"
        self.mixed: set[str] = set()
        self.checks: dict[str, ttk.Checkbutton] = {}
        for tag in vocab:
            count = have.get(tag, 0)
            state = "all" if count == n and n else ("some" if count else "none")
            self._add_check(tag, state)
        self.empty_note = ttk.Label(self.scroll.inner, text="No tags yet: type one below.", style="Muted.TLabel")
        if not vocab:
            self.empty_note.pack(anchor="w")
        row = ttk.Frame(self.body)
        row.pack(fill="x")
        self.new_var = tk.StringVar(self)
        self.new_entry = ttk.Entry(row, textvariable=self.new_var, width=24)
        self.new_entry.pack(side="left", fill="x", expand=True)
        ttk.Button(row, text="Add tag", command=self.add_new).pack(side="left", padx=(2 * PAD, 0))
        self.new_entry.bind("<Return>", lambda e: (self.add_new(), "break")[1])
        self.add_button("Apply", self.apply, default=True)
        self.add_button("Cancel", self.cancel)
        self.show(self.new_entry)

    def _add_check(self, tag: str, state: str) -> None:
        var = tk.IntVar(self, value=1 if state == "all" else 0)
        cb = ttk.Checkbutton(self.scroll.inner, text=tag, variable=var, style="Card.TCheckbutton",
                             command=lambda t=tag: self._clicked(t))
        self.scroll.scrolls(cb).pack(anchor="w")
        if state == "some":
            cb.state(["alternate"])
            self.mixed.add(tag)
        self.vars[tag] = var
        self.initial[tag] = state
        self.checks[tag] = cb

    def _clicked(self, tag: str) -> None:
        if tag in self.mixed:
            self.mixed.discard(tag)
            self.checks[tag].state(["!alternate"])

    def add_new(self, name: str | None = None) -> None:
        tag = (name if name is not None else self.new_var.get()).strip()
        if not tag:
            return
        self.empty_note.pack_forget()
        if tag not in self.vars:
            self._add_check(tag, "none")
        self._clicked(tag)
        self.vars[tag].set(1)
        self.new_var.set("")

    def set(self, tag: str, on: bool) -> None:
        if tag not in self.vars:
            self.add_new(tag)
        self._clicked(tag)
        self.vars[tag].set(1 if on else 0)

    def apply(self) -> None:
        add, remove = [], []
        for tag, var in self.vars.items():
            if tag in self.mixed:
                continue
            on = bool(var.get())
            if on and self.initial[tag] != "all":
                add.append(tag)
            elif not on and self.initial[tag] != "none":
                remove.append(tag)
        self.destroy()
        self.app.change_tags(self.chat_ids, add, remove)
