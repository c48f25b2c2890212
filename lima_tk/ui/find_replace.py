"""Find in the open chat (a bar over the messages: `FindBar`, driven by `ChatFind`) and find &
replace across the dataset (`ReplaceDialog`, with a preview; Replace all is one undo step).
What `ChatFind` needs from its editor is `interfaces.FindHost`. Tk thread only.
"""

from __future__ import annotations

import itertools
import re
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError
from lima_tk.store.db import ChatFilter, DatasetStore
from lima_tk.ui import editor_style as st
from lima_tk.ui.platform import current

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import FindHost
    from lima_tk.ui.message_frame import MessageCard

MAX_MATCHES_PER_TEXT = 5000


def search_text(text: tk.Text, pattern: str, case: bool) -> list[tuple[str, str]]:
    """(start, end) index pairs of every literal match in a Text (Tk's own search, so indices
    agree with Tk's idea of characters, emoji included)."""
    if not pattern:
        return []
    if not case:
        content = text.get("1.0", "end-1c")
        if any(ord(ch) > 0xFFFF for ch in content):  # Tk 8.6's -nocase search crashes on emoji
            return _search_python(text, content, pattern)
    var = f"::lima_find_count_{id(text)}"
    opts = ["-all", "-exact", "-count", var] + ([] if case else ["-nocase"])
    found = text.tk.splitlist(text.tk.call(str(text), "search", *opts, "--", pattern, "1.0", "end-1c"))
    if not found:
        return []
    counts = text.tk.splitlist(text.tk.globalgetvar(var))
    text.tk.call("unset", "-nocomplain", var)
    out = []
    for idx, n in zip(found[:MAX_MATCHES_PER_TEXT], counts, strict=False):
        idx = str(idx)
        out.append((idx, f"{idx}+{int(n)}c"))
    return out


def _search_python(text: tk.Text, content: str, pattern: str) -> list[tuple[str, str]]:
    """Case-insensitive matches found by Python, placed as Tk counts characters (Tk 8.6: an emoji
    is two; lima_tk/ui/platform.py)."""
    plat = current(text)
    line, line_start, pos = 1, 0, 0

    def index(offset: int) -> str:  # offsets come in order: count the lines once
        nonlocal line, line_start, pos
        nl = content.count("\n", pos, offset)
        if nl:
            line += nl
            line_start = content.rfind("\n", pos, offset) + 1
        pos = offset
        return f"{line}.{plat.tk_chars(content[line_start:offset])}"

    out = []
    for m in itertools.islice(re.finditer(re.escape(pattern), content, re.IGNORECASE), MAX_MATCHES_PER_TEXT):
        start = index(m.start())
        out.append((start, index(m.end())))
    return out


class FindBar(ttk.Frame):
    """Entry + match count + previous/next + match case + close. The editor does the searching:
    on_change(pattern, case), on_next(direction), on_close()."""

    def __init__(self, master: tk.Misc, on_change: Callable[[str, bool], None], on_next: Callable[[int], None],
                 on_close: Callable[[], None]) -> None:
        super().__init__(master, style="FindBar.TFrame", padding=(2 * st.PAD, st.PAD))
        self.on_change = on_change
        self.on_next = on_next
        self.on_close = on_close
        ttk.Label(self, text="Find", style="FindBar.TLabel").pack(side="left", padx=(0, st.PAD))
        self.var = tk.StringVar(self)
        self.entry = ttk.Entry(self, textvariable=self.var, width=32)
        self.entry.pack(side="left")
        self.case_var = tk.BooleanVar(self, False)
        ttk.Checkbutton(self, text="Match case", variable=self.case_var, style="FindBar.TCheckbutton",
                        command=self._changed).pack(side="left", padx=2 * st.PAD)
        ttk.Button(self, text="↑", width=3, style="Small.TButton", command=lambda: self.on_next(-1)).pack(side="left")
        ttk.Button(self, text="↓", width=3, style="Small.TButton", command=lambda: self.on_next(1)).pack(
            side="left", padx=(st.PAD, 0))
        self.count_label = ttk.Label(self, text="", style="FindBar.TLabel")
        self.count_label.pack(side="left", padx=2 * st.PAD)
        ttk.Button(self, text="✕", width=3, style="Small.TButton", command=self.on_close).pack(side="right")
        self._job: str | None = None
        self.var.trace_add("write", lambda *a: self._schedule())
        self.entry.bind("<Return>", lambda e: (self.on_next(1), "break")[1])
        self.entry.bind("<KP_Enter>", lambda e: (self.on_next(1), "break")[1])
        self.entry.bind("<Shift-Return>", lambda e: (self.on_next(-1), "break")[1])
        self.entry.bind("<Escape>", lambda e: (self.on_close(), "break")[1])

    def _schedule(self) -> None:
        if self._job is not None:
            self.after_cancel(self._job)
        self._job = self.after(120, self._changed)

    def _changed(self) -> None:
        if self._job is not None:
            self.after_cancel(self._job)
            self._job = None
        self.on_change(self.var.get(), self.case_var.get())

    def flush(self) -> None:
        """Apply a pending search now (tests; Enter before the pause ran)."""
        if self._job is not None:
            self._changed()

    def close(self) -> None:
        """The editor closes: no timer is left behind."""
        if self._job is not None:
            try:
                self.after_cancel(self._job)
            except tk.TclError:
                pass
            self._job = None

    def set_count(self, current: int, total: int, pattern: str) -> None:
        if not pattern:
            text = ""
        elif total == 0:
            text = "no matches"
        else:
            text = f"{current + 1} of {total}" if current >= 0 else f"{total} matches"
        self.count_label.configure(text=text)


class ReplaceDialog(tk.Toplevel):
    """Find & replace in message texts of the whole dataset (or this chat), with a preview."""

    def __init__(self, master: tk.Misc, store: DatasetStore, chat_id: int,
                 on_replace: Callable[[str, str, ChatFilter | None, bool], int], initial: str = "") -> None:
        super().__init__(master, background=st.BG)
        self.title("Find and replace in the dataset")
        self.transient(master.winfo_toplevel())
        self.store = store
        self.chat_id = chat_id
        self.on_replace = on_replace
        self.hits: list[dict[str, Any]] = []
        body = ttk.Frame(self, style="Panel.TFrame", padding=3 * st.PAD)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text="Find", style="Panel.TLabel").grid(row=0, column=0, sticky="w")
        self.find_var = tk.StringVar(self, initial)
        self.find_entry = ttk.Entry(body, textvariable=self.find_var, width=40)
        self.find_entry.grid(row=0, column=1, sticky="ew", pady=(0, st.PAD))
        ttk.Label(body, text="Replace with", style="Panel.TLabel").grid(row=1, column=0, sticky="w",
                                                                      padx=(0, 2 * st.PAD))
        self.replace_var = tk.StringVar(self)
        self.replace_entry = ttk.Entry(body, textvariable=self.replace_var, width=40)
        self.replace_entry.grid(row=1, column=1, sticky="ew", pady=(0, st.PAD))
        opts = ttk.Frame(body, style="Panel.TFrame")
        opts.grid(row=2, column=1, sticky="w", pady=(0, st.PAD))
        self.case_var = tk.BooleanVar(self, False)
        ttk.Checkbutton(opts, text="Match case", variable=self.case_var, command=self.preview,
                        style="Panel.TCheckbutton").pack(side="left")
        self.scope_var = tk.StringVar(self, "dataset")
        ttk.Radiobutton(opts, text="All chats", value="dataset", variable=self.scope_var,
                        command=self.preview, style="Panel.TRadiobutton").pack(side="left", padx=(3 * st.PAD, 0))
        ttk.Radiobutton(opts, text="This chat", value="chat", variable=self.scope_var,
                        command=self.preview, style="Panel.TRadiobutton").pack(side="left", padx=(2 * st.PAD, 0))
        tree_frame = ttk.Frame(body, style="Panel.TFrame")
        tree_frame.grid(row=3, column=0, columnspan=2, sticky="nsew", pady=(st.PAD, 0))
        self.tree = ttk.Treeview(tree_frame, columns=("chat", "msg", "n", "snippet"), show="headings", height=12)
        for col, label, width, stretch in (("chat", "Chat", 180, False), ("msg", "#", 40, False),
                                           ("n", "Hits", 50, False), ("snippet", "Text", 420, True)):
            self.tree.heading(col, text=label, anchor="w")
            self.tree.column(col, width=width, stretch=stretch, anchor="w")
        ys = ttk.Scrollbar(tree_frame, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=ys.set)
        self.tree.pack(side="left", fill="both", expand=True)
        ys.pack(side="right", fill="y")
        self.summary = ttk.Label(body, text="", style="PanelMuted.TLabel")
        self.summary.grid(row=4, column=0, columnspan=2, sticky="w", pady=(st.PAD, 0))
        body.columnconfigure(1, weight=1)
        body.rowconfigure(3, weight=1)
        buttons = ttk.Frame(self, style="Panel.TFrame", padding=3 * st.PAD)
        buttons.pack(fill="x")
        self.replace_button = ttk.Button(buttons, text="Replace all", command=self.replace_all,
                                         style="Accent.TButton")
        self.replace_button.pack(side="right")
        ttk.Button(buttons, text="Preview", command=self.preview).pack(side="right", padx=(0, 2 * st.PAD))
        ttk.Button(buttons, text="Close", command=self.destroy).pack(side="left")
        self.find_entry.bind("<Return>", lambda e: self.preview())
        self.replace_entry.bind("<Return>", lambda e: self.preview())
        self.bind("<Escape>", lambda e: self.destroy())
        self.find_entry.focus_set()
        if initial:
            self.preview()

    def scope(self) -> ChatFilter | None:
        return ChatFilter(ids=[self.chat_id]) if self.scope_var.get() == "chat" else None

    def preview(self) -> list[dict[str, Any]]:
        self.tree.delete(*self.tree.get_children())
        find = self.find_var.get()
        if not find:
            self.hits = []
            self.summary.configure(text="Type what to find.")
            return self.hits
        try:
            self.hits = self.store.find_text(find, self.scope(), self.case_var.get(), limit=2000)
        except LimaError as e:
            self.summary.configure(text=str(e))
            return []
        for i, h in enumerate(self.hits):
            self.tree.insert("", "end", iid=str(i), values=(h["chat_name"] or "(untitled)", h["position"] + 1,
                                                            h["count"], h["snippet"]))
        n = sum(h["count"] for h in self.hits)
        chats = len({h["chat_id"] for h in self.hits})
        more = " (first 2000 messages shown)" if len(self.hits) >= 2000 else ""
        self.summary.configure(text=f"{n} matches in {len(self.hits)} messages of {chats} chats{more}"
                               if self.hits else "No matches.")
        return self.hits

    def replace_all(self) -> int:
        find = self.find_var.get()
        if not find:
            self.summary.configure(text="Type what to find.")
            return 0
        n = self.on_replace(find, self.replace_var.get(), self.scope(), self.case_var.get())
        self.preview()
        self.summary.configure(text=f"Replaced {n} occurrences (one undo step: Ctrl+Z in a chat window "
                               "or the list).")
        return n


class ChatFind:
    """Find in one editor's chat: every match highlighted (the current one orange), "2 of 7",
    Enter / F3 for the next. Tk thread only."""

    def __init__(self, host: FindHost, parent: tk.Misc) -> None:
        self.host = host
        self.bar = FindBar(parent, on_change=self._changed, on_next=self.next, on_close=self.close)
        self.pattern = ""
        self.case = False
        self.matches: list[tuple[int, str, str]] = []  # (message id, start, end)
        self.current = -1

    @property
    def active(self) -> bool:
        return bool(self.pattern)

    def open(self) -> None:
        """Ctrl+F: show the bar (with the selected word of the focused message)."""
        if not self.bar.winfo_ismapped():
            self.bar.grid(row=0, column=0, columnspan=2, sticky="ew")
        card = self.host.focused_card()
        if card is not None and card.text.tag_ranges("sel"):
            sel = card.text.get("sel.first", "sel.last")
            if sel and "\n" not in sel:
                self.bar.var.set(sel)
        self.bar.entry.focus_set()
        self.bar.entry.select_range(0, "end")

    def _changed(self, pattern: str, case: bool) -> None:
        ed = self.host
        if ed.closed:
            return
        self.pattern = pattern
        self.case = case
        ed.view.create_all()
        for card in ed.view.cards.values():
            self.highlight(card)
        self.collect()
        self.current = -1
        if self.matches:
            self.next(1)
        else:
            self.bar.set_count(-1, 0, pattern)

    def highlight(self, card: MessageCard) -> None:
        """Mark the matches in one card (its text changed, or it was just made)."""
        t = card.text
        t.tag_remove("find", "1.0", "end")
        t.tag_remove("find_current", "1.0", "end")
        ranges = search_text(t, self.pattern, self.case)
        card.find_ranges = ranges
        if ranges:
            t.tag_add("find", *[i for pair in ranges for i in pair])

    def collect(self) -> None:
        """The matches of every card, in chat order (after highlighting)."""
        ed = self.host
        cards = ed.view.cards
        self.matches = [(mid, s, e) for mid in ed.order if mid in cards for s, e in cards[mid].find_ranges]
        if self.current >= len(self.matches):
            self.current = len(self.matches) - 1
        self.bar.set_count(self.current, len(self.matches), self.pattern)

    def next(self, direction: int = 1) -> None:
        ed = self.host
        self.bar.flush()
        if not self.matches:
            if self.pattern:
                ed.bell()
            return
        cards = ed.view.cards
        if 0 <= self.current < len(self.matches):
            mid, s, e = self.matches[self.current]
            if mid in cards:
                cards[mid].text.tag_remove("find_current", "1.0", "end")
        self.current = (self.current + direction) % len(self.matches)
        mid, s, e = self.matches[self.current]
        card = cards[mid]
        card.text.tag_add("find_current", s, e)
        card.text.mark_set("insert", s)
        ed.view.stick_bottom = False
        if card.text.capped:
            ed.view.see_card(card, s)
        else:
            ed.view.layout_if_due()
            ed.view.see_line(card, s)
        self.bar.set_count(self.current, len(self.matches), self.pattern)

    def close(self) -> None:
        """Escape / ✕: hide the bar and the marks; the cursor goes back to the current message."""
        self.bar.grid_remove()
        self.pattern = ""
        self.matches = []
        self.current = -1
        for card in self.host.view.cards.values():
            card.text.tag_remove("find", "1.0", "end")
            card.text.tag_remove("find_current", "1.0", "end")
            card.find_ranges = []
        card = self.host.current_card()
        if card is not None:
            card.text.focus_set()

    def close_if_open(self) -> bool:
        """Escape with nothing selected: close the bar when it shows; True when it did."""
        if self.pattern and self.bar.winfo_ismapped():
            self.close()
            return True
        return False

    # -- find and replace in the dataset -----------------------------------------------------------

    def open_replace(self) -> ReplaceDialog:
        ed = self.host
        initial = self.bar.var.get() if self.pattern else ""
        dialog = ReplaceDialog(ed, ed.store, ed.chat_id, on_replace=self.replace_in_dataset, initial=initial)
        ed.dialog = dialog
        return dialog

    def replace_in_dataset(self, find: str, replace: str, chat_filter: ChatFilter | None = None,
                           case: bool = False) -> int:
        """Replace in every message of the dataset (or the filter): one undo step."""
        ed = self.host
        if not ed.writable():
            return 0
        ed.flush_all()
        n = ed.store.replace_text(find, replace, chat_filter, case)
        if n:
            ed.changed(status=f"Replaced {n} occurrence{'s' if n != 1 else ''} of {find!r}")
        else:
            ed.status(f"No occurrence of {find!r}")
        return n
