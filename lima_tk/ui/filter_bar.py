"""The main window's filter bar: words (full text), tag, language, "Over limit", and the count of
what the list shows ("312 of 20,000 chats · 3 selected").

Typing is debounced (150 ms; 60 ms on big datasets); on datasets with `async_from` chats or more,
a text or over-limit filter runs on a worker (`FilterQuery`), so keystrokes never wait for SQL.
What it needs from the main window is `interfaces.FilterHost`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.store import ChatFilter
from lima_tk.ui import theme
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.ui.filter_query import FilterQuery, FilterResult
    from lima_tk.ui.interfaces import FilterHost

ALL_TAGS = "All tags"
ALL_LANGS = "All languages"


class FilterBar:
    """The filter widgets, packed into the toolbar `bar`, and what they do. Tk thread only."""

    def __init__(self, host: FilterHost, bar: ttk.Frame, *, debounce_ms: int = 150, async_from: int = 20_000) -> None:
        self.host = host
        self.debounce_ms = debounce_ms
        # Text filters on datasets this big run on a worker thread (see filter_query.py).
        self.async_from = async_from
        self.query: FilterQuery | None = None
        self.all_count = 0  # chats in the dataset, as last counted
        self._after: str | None = None
        root = bar.winfo_toplevel()
        self.root = root
        ttk.Label(bar, text="Find").pack(side="left", padx=(0, 2 * PAD))
        self.filter_var = tk.StringVar(root)
        self.filter_entry = ttk.Entry(bar, textvariable=self.filter_var, width=20)
        self.filter_var.trace_add("write", lambda *a: self.typed())
        self.tag_var = tk.StringVar(root, value=ALL_TAGS)
        self.tag_combo = ttk.Combobox(bar, textvariable=self.tag_var, state="readonly", width=14,
                                      postcommand=self._fill_tag_combo, values=[ALL_TAGS])
        self.lang_var = tk.StringVar(root, value=ALL_LANGS)
        self.lang_combo = ttk.Combobox(bar, textvariable=self.lang_var, state="readonly", width=14,
                                       postcommand=self._fill_lang_combo, values=[ALL_LANGS])
        self.count_label = ttk.Label(bar, text="", style="Count.TLabel", anchor="e")
        # Chats over the context limit (issue 6): a toggle button, no check indicator to draw at start-up.
        self.over_var = tk.BooleanVar(root, value=False)
        self.over_check = ttk.Checkbutton(bar, text="⚠ Over limit", variable=self.over_var, style="Filter.Toolbutton",
                                          takefocus=False, command=self.over_limit_toggled)
        style = ttk.Style(root)
        style.configure("Filter.Toolbutton", padding=(2 * PAD, PAD), background=theme.PALETTE["button"],
                        bordercolor=theme.PALETTE["border_dark"], relief="solid", borderwidth=1)
        style.map("Filter.Toolbutton",
                  background=[("selected", theme.PALETTE["select"]), ("active", theme.PALETTE["button_active"])],
                  foreground=[("selected", theme.PALETTE["danger"])],
                  bordercolor=[("selected", theme.PALETTE["accent"])])
        # Right to left, so the search field takes whatever width is left.
        self.count_label.pack(side="right", padx=(3 * PAD, PAD))
        self.over_check.pack(side="right", padx=(2 * PAD, 0))
        self.lang_combo.pack(side="right", padx=(2 * PAD, 0))
        self.tag_combo.pack(side="right", padx=(2 * PAD, 0))
        self.filter_entry.pack(side="left", fill="x", expand=True)
        for combo in (self.tag_combo, self.lang_combo):
            combo.bind("<<ComboboxSelected>>", lambda e: (self.host.apply_filter(), self.host.focus_list(cursor=False)))
            combo.bind("<Escape>", lambda e: self.clear())
        self.filter_entry.bind("<Escape>", lambda e: (self.clear(), "break")[1])
        self.filter_entry.bind("<Down>", lambda e: (self.host.focus_list(), "break")[1])
        self.filter_entry.bind("<Return>", lambda e: (self.host.apply_filter(), self.host.focus_list(), "break")[2])

    # -- reading and applying the filter -------------------------------------------------------

    def typed(self) -> None:
        """Debounced: the query runs once typing pauses, so keystrokes never wait for SQL."""
        if self._after is not None:
            self.root.after_cancel(self._after)
        delay = self.debounce_ms
        if self.all_count >= self.async_from:
            # The query runs on the worker and a newer one interrupts it: a short pause is enough.
            delay = min(delay, 60)
        self._after = self.root.after(delay, self.host.apply_filter)

    def current(self) -> ChatFilter:
        tag = self.tag_var.get()
        lang = self.lang_var.get()
        return ChatFilter(
            text=self.filter_var.get().strip(),
            tag=None if tag == ALL_TAGS else tag,
            language=None if lang == ALL_LANGS else ("" if lang == "(none)" else lang),
            over_limit=bool(self.over_var.get()),
        )

    def apply(self) -> None:
        """Show the chats matching the filter bar. Big datasets: the text query runs on a worker.
        (The main window's `apply_filter` calls this and shows a dataset error as a status line.)"""
        if self._after is not None:
            self.root.after_cancel(self._after)
            self._after = None
        store = self.host.store
        if store is None:
            return
        f = self.current()
        if f.language == "":
            f.language = None
        fq = self.query
        pending = fq is not None and fq.pending
        cl = self.host.chat_list
        old = cl.filter
        if (old.text, old.tag, old.language, old.over_limit) == (f.text, f.tag, f.language, f.over_limit) \
                and not pending:
            return
        if (f.text or f.over_limit) and self.all_count >= self.async_from:
            if fq is None:
                from lima_tk.ui.filter_query import FilterQuery  # big datasets only

                fq = self.query = FilterQuery(self.root, store.path, self._result)
            fq.submit(f, cl.sort, cl.descending, 2 * cl.page + 40, cl.selection_ids())
            return
        if fq is not None and pending:
            fq.cancel()  # a result still on its way is stale now
        cl.set_filter(f)
        self.update_count()

    def _result(self, r: FilterResult) -> None:
        if r.error is not None:
            self.host.status(f"Search failed: {r.error}", error=True)
            return
        if r.partial:
            self.host.chat_list.show_first_rows(r.filter, r.rows, r.selected)
            self.update_count(counting=True)
            return
        self.host.chat_list.show_filtered(r.filter, r.ids, r.rows, r.selected)
        self.update_count()

    def clear(self) -> None:
        self.filter_var.set("")
        self.tag_var.set(ALL_TAGS)
        self.lang_var.set(ALL_LANGS)
        self.over_var.set(False)
        self.host.apply_filter()
        self.host.focus_list()

    def clear_text(self) -> None:
        """Empty the words only (a new chat must show although it matches none)."""
        self.filter_var.set("")
        self.host.apply_filter()

    def over_limit_toggled(self) -> None:
        """The "Over limit" toggle: only chats whose token total exceeds the context limit."""
        store = self.host.store
        if self.over_var.get() and store is not None:
            limit = store.get_setting("context_limit")
            if not int(limit or 0):
                self.host.status("No context limit is set: File > Settings > Dataset > Context limit", error=True)
            elif store.active_token_key() is None:
                self.host.status("Tokens are not counted yet (View > Count tokens now)")
        self.host.apply_filter()

    def toggle_over_limit(self) -> None:
        """View > Only chats over the context limit."""
        self.over_var.set(not self.over_var.get())
        self.over_limit_toggled()

    def focus(self) -> None:
        self.filter_entry.focus_set()
        self.filter_entry.select_range(0, "end")
        self.filter_entry.icursor("end")

    def _fill_tag_combo(self) -> None:
        store = self.host.store
        tags = list(store.tag_counts()) if store else []
        self.tag_combo.configure(values=[ALL_TAGS, *tags])

    def _fill_lang_combo(self) -> None:
        store = self.host.store
        langs: list[str] = []
        if store:
            langs = list(store.get_setting("languages"))
            langs += [x for x in store.languages_in_use() if x and x not in langs]
        self.lang_combo.configure(values=[ALL_LANGS, *langs])

    def update_count(self, counting: bool = False) -> None:
        """"312 of 20,000 chats · 3 selected" ("50+ of 100,000 chats, counting…" while a big
        filter's first page is shown and its count is on its way)."""
        cl = self.host.chat_list
        store = self.host.store
        if store is None:
            self.count_label.configure(text="")
            return
        shown = cl.total
        if cl.filter.is_empty():
            self.all_count = shown
            text = f"{shown:,} chat{'s' if shown != 1 else ''}"
        else:
            self.all_count = all_n = store.count_chats()
            text = f"{shown:,}{'+' if counting else ''} of {all_n:,} chats{', counting…' if counting else ''}"
        n = len(cl.selected)
        if n > 1:
            text += f" · {n:,} selected"
        self.count_label.configure(text=text)

    # -- dataset lifecycle -----------------------------------------------------------------------

    def reset(self) -> None:
        """Another dataset opened: an empty filter (the list shows everything)."""
        self.filter_var.set("")
        self.tag_var.set(ALL_TAGS)
        self.lang_var.set(ALL_LANGS)
        self.over_var.set(False)
        if self._after is not None:
            self.root.after_cancel(self._after)
            self._after = None

    def close_query(self) -> None:
        """The dataset closes: its filter worker goes too."""
        if self.query is not None:
            self.query.close()
            self.query = None

    def close(self) -> None:
        """Teardown (the window closes)."""
        if self._after is not None:
            try:
                self.root.after_cancel(self._after)
            except tk.TclError:
                pass
            self._after = None
        self.close_query()
