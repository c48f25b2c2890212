"""A virtual chat list: a ttk.Treeview that only ever holds the rows on screen.

The list may have 100,000 chats; inserting them all into a Treeview costs half a second and
~100 MB. Instead the Treeview keeps one item per visible row (a fixed set of "slots" whose values
are rewritten), a separate ttk.Scrollbar is driven from `count_chats(filter)`, and the rows of
the window are fetched by SQL (`list_chats(offset, limit)`) on scroll, resize and key navigation,
with a page of margin on each side cached. Selection is a set of chat ids, so it survives
scrolling, and keyboard navigation walks the whole list, not only what is on screen.

Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable
from datetime import datetime
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.store import ChatFilter, ChatSummary
from lima_tk.ui.column_fit import fit_columns
from lima_tk.ui.list_mouse import ListMouse
from lima_tk.ui.list_overlays import EmptyState, RenameInPlace
from lima_tk.ui.platform import current
from lima_tk.ui.scrolling import bind_wheel, touchpad_deltas, wheel_rows
from lima_tk.ui.theme import PAD, PALETTE

if TYPE_CHECKING:
    from lima_tk.store import DatasetStore
    from lima_tk.store.db import ChatTokens, TokenKey

# id, heading, default width, anchor, stretch, SQL sort key (None: not sortable)
COLUMNS: tuple[tuple[str, str, int, str, bool, str | None], ...] = (
    ("pos", "#", 48, "e", False, None),  # the row's position in the list, as lima-gui shows it
    ("name", "Name", 360, "w", True, "name"),
    ("language", "Language", 120, "w", False, "language"),
    ("tags", "Tags", 220, "w", False, "tags"),
    ("messages", "Messages", 120, "e", False, "messages"),
    ("tokens", "Tokens", 96, "e", False, "tokens"),
    ("trainable", "Trainable", 88, "e", False, None),
    ("updated", "Updated", 170, "w", False, "updated"),
)
COLUMN_IDS = tuple(c[0] for c in COLUMNS)
NUMBER_COLUMNS = ("pos", "messages", "tokens", "trainable", "updated")  # widened to fit (column_fit.py)
GIVE_ROOM = (("name", 200), ("tags", 120), ("language", 90), ("tags", 60), ("language", 60), ("name", 60))
ARROW_UP, ARROW_DOWN = " ▲", " ▼"
OVER_MARK = "⚠"
OVER_COLOR = "#b42318"  # the palette's "danger": rows over the context limit


def format_time(iso: str | None) -> str:
    """'2026-05-09T07:35:25.123Z' -> local '2026-05-09 09:35'."""
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso[:16].replace("T", " ")
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M")


def token_cell(t: ChatTokens | None, n_messages: int, key: TokenKey | None, limit: int,
               counting: bool = False) -> tuple[str, bool]:
    """The Tokens cell of a chat and whether it is over the context limit.

    "1,234" counted; "~1,234" an estimate or partly counted; "…" not counted yet while a count
    runs ("" when none runs); "⚠ 5,120" over the limit."""
    if n_messages == 0:
        return ("0" if key is not None else ""), False
    if key is None or t is None or t.uncounted > n_messages:  # nothing of it counted yet
        return ("…" if counting else ""), False
    approx = key.estimate or t.uncounted > 0
    text = f"{'~' if approx else ''}{t.total:,}"
    over = limit > 0 and t.total > limit
    return (f"{OVER_MARK} {text}" if over else text), over


def trainable_cell(t: ChatTokens | None, n_messages: int, key: TokenKey | None) -> str:
    """The Trainable cell: tokens of the replies that are trained (not marked "no train")."""
    if n_messages == 0 or key is None or t is None or t.uncounted > n_messages:
        return ""
    return f"{'~' if key.estimate or t.uncounted else ''}{t.trainable:,}"


def row_values(row: ChatSummary, tokens: str = "", trainable: str = "") -> tuple[str, ...]:
    return (
        row.name or "(unnamed)",
        row.language or "",
        ", ".join(row.tags),
        str(row.n_messages),
        tokens,
        trainable,
        format_time(row.updated_at),
    )


class ChatList(ttk.Frame):
    """The chat table. The owner gives it a store getter and callbacks; it never writes data."""

    def __init__(
        self,
        master: tk.Misc,
        get_store: Callable[[], DatasetStore | None],
        *,
        on_open: Callable[[int], None] | None = None,
        on_rename: Callable[[int, str], None] | None = None,
        on_selection: Callable[[], None] | None = None,
        on_context: Callable[[tk.Event], None] | None = None,
        on_sort: Callable[[], None] | None = None,
        widths: dict[str, int] | None = None,
    ) -> None:
        super().__init__(master, style="Card.TFrame")
        self.get_store = get_store
        self.on_open = on_open
        self.on_rename = on_rename
        self.on_selection = on_selection
        self.on_context = on_context
        self.on_sort = on_sort
        # What to show when the list is empty: (title, text, [(button text, command), ...]).
        self.empty_content: Callable[[], tuple[str, str, list[tuple[str, Callable[[], object]]]]] = (
            lambda: ("No chats", "", []))

        self.filter = ChatFilter()
        self.sort = "position"
        self.descending = False
        self.total = 0
        self.top = 0  # list index of the first row on screen
        self.cursor = -1  # list index of the keyboard row (-1: none)
        self.anchor = -1  # where a Shift range starts
        self.selected: set[int] = set()
        self.page = 20  # rows that fit fully; recomputed on <Configure>
        self.fetches = 0  # how many SQL pages were read (for tests and the benchmark)
        # Token column (issue 6): the active tokenizer key and context limit (re-read on refresh),
        # totals of the chats on screen only, and whether a count is running ("…" for uncounted).
        self.counting = False
        self.token_key: TokenKey | None = None
        self.limit = 0
        self._tok: dict[int, ChatTokens] = {}
        self.token_reads = 0  # how many token queries ran (tests: only visible rows are read)

        self._cache_start = 0
        self._cache: list[ChatSummary] = []
        self._ids: list[int] | None = None  # the matching ids in list order, for text filters
        self._slots: list[str] = []  # Treeview item ids, one per visible row
        self._slot_values: list[tuple] = []
        self._slot_ids: list[int] = []
        self._head = 0  # heading height in px, measured after the first render
        self._height = 0

        self.tree = ttk.Treeview(self, columns=COLUMN_IDS, show="headings", selectmode="extended", height=4,
                                 takefocus=True)
        widths = widths or {}
        for cid, text, width, anchor, stretch, sort_key in COLUMNS:
            self.tree.heading(cid, text=text, anchor=anchor if anchor != "e" else "e",
                              command=(lambda c=cid: self.sort_by(c)) if sort_key else "")
            w = widths.get(cid, width)
            self.tree.column(cid, width=max(40, int(w)), minwidth=40, anchor=anchor, stretch=stretch)
        self.tree.tag_configure("alt", background=PALETTE["alt"])
        self.tree.tag_configure("over", foreground=OVER_COLOR)
        self.scrollbar = ttk.Scrollbar(self, orient="vertical", command=self._on_scrollbar)
        self.tree.grid(row=0, column=0, sticky="nsew")
        self.scrollbar.grid(row=0, column=1, sticky="ns")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.empty_state = EmptyState(self.tree, lambda: self.empty_content())
        self.empty = self.empty_state.frame
        self.renamer = RenameInPlace(self)

        t = self.tree
        t.bind("<Configure>", self._on_configure)
        self.mouse = ListMouse(self)
        bind_wheel(t, self._on_wheel, on_touchpad=self._on_touchpad)  # touchpads: Tk 9 only
        for seq in current(t).shift_wheel_sequences():
            t.bind(seq, self._on_wheel)
        bind_wheel(self.scrollbar, self._on_wheel, on_touchpad=self._on_touchpad)
        keys: dict[str, Callable[[], object]] = {
            "<Up>": lambda: self.move_cursor(self.cursor - 1),
            "<Down>": lambda: self.move_cursor(self.cursor + 1 if self.cursor >= 0 else 0),
            "<Prior>": lambda: self.move_cursor(self.cursor - max(1, self.page - 1)),
            "<Next>": lambda: self.move_cursor(max(self.cursor, 0) + max(1, self.page - 1)),
            "<Home>": lambda: self.move_cursor(0),
            "<End>": lambda: self.move_cursor(self.total - 1),
            "<Shift-Up>": lambda: self.move_cursor(self.cursor - 1, extend=True),
            "<Shift-Down>": lambda: self.move_cursor(self.cursor + 1, extend=True),
            "<Shift-Prior>": lambda: self.move_cursor(self.cursor - max(1, self.page - 1), extend=True),
            "<Shift-Next>": lambda: self.move_cursor(self.cursor + max(1, self.page - 1), extend=True),
            "<Shift-Home>": lambda: self.move_cursor(0, extend=True),
            "<Shift-End>": lambda: self.move_cursor(self.total - 1, extend=True),
            current(self).key_sequence("<Control-Home>"): lambda: self.move_cursor(0),
            current(self).key_sequence("<Control-End>"): lambda: self.move_cursor(self.total - 1),
            "<Control-space>": lambda: self.toggle(self.cursor),
            "<Return>": self.open_cursor,
            "<KP_Enter>": self.open_cursor,
        }
        for seq, fn in keys.items():
            t.bind(seq, lambda e, fn=fn: (fn(), "break")[1])
        # Alt+arrows move chats (a window shortcut): hand them on as the root's virtual events.
        plat = current(t)  # Option+arrows on a Mac
        t.bind(plat.key_sequence("<Alt-Up>"), lambda e: (self.event_generate("<<MoveUp>>"), "break")[1])
        t.bind(plat.key_sequence("<Alt-Down>"), lambda e: (self.event_generate("<<MoveDown>>"), "break")[1])
        # No tree column to open or close with Left/Right.
        t.bind("<Left>", lambda e: "break")
        t.bind("<Right>", lambda e: "break")

    # -- data ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the count and the rows on screen (after any change). Keeps position and selection."""
        store = self.get_store()
        self._cache = []
        self._cache_start = 0
        self._read_token_state(store)
        if store is None:
            self.total, self._ids, self.selected = 0, None, set()
        elif self._by_ids():
            # A full-text filter (or the over-limit one, or a token sort) is costly to re-run per
            # page: keep the matching ids in list order.
            self._ids = store.chat_ids(self.filter, self.sort, self.descending)
            self.total = len(self._ids)
            if self.selected:
                self.selected &= set(self._ids)
        else:
            self._ids = None
            self.total = store.count_chats(self.filter)
            if self.selected:
                f = self.filter
                self.selected = set(store.chat_ids(ChatFilter(f.text, f.tag, f.language, list(self.selected))))
        if self.cursor >= self.total:
            self.cursor = self.total - 1
        if self.anchor >= self.total:
            self.anchor = self.cursor
        self.top = self._clamp_top(self.top)
        self._render()

    def _by_ids(self) -> bool:
        return bool(self.filter.text.strip() or self.filter.over_limit or self.sort == "tokens")

    def _read_token_state(self, store: DatasetStore | None) -> None:
        self._tok = {}
        if store is None:
            self.token_key, self.limit = None, 0
            return
        self.token_key = store.active_token_key()
        try:
            self.limit = max(0, int(store.get_setting("context_limit") or 0))
        except (TypeError, ValueError):
            self.limit = 0

    def refresh_tokens(self) -> None:
        """Re-read the Tokens cells of the rows on screen (a count progressed or finished).
        Cheap: one indexed query for the visible chats, no page is fetched again."""
        self._read_token_state(self.get_store())
        self._render()

    def token_text(self, chat_id: int) -> str:
        """What the Tokens cell of a chat on screen shows (tests)."""
        if chat_id not in self._slot_ids:
            return ""
        return str(self.tree.set(self._slots[self._slot_ids.index(chat_id)], "tokens"))

    def _token_totals(self, rows: list[ChatSummary]) -> dict[int, ChatTokens]:
        store = self.get_store()
        if store is None or self.token_key is None:
            return {}
        missing = [r.id for r in rows if r.id not in self._tok and r.n_messages]
        if missing:
            self.token_reads += 1
            got = store.chat_token_totals(missing, self.token_key)
            self._tok.update(got)
            if len(self._tok) > 4000:  # a long scroll: keep the cache small
                self._tok = dict(got)
        return self._tok

    def set_filter(self, f: ChatFilter) -> None:
        """Show only the matching chats, from the top."""
        self.commit_rename()
        self.filter = f
        self.top = 0
        self.cursor = -1 if not self.selected else self.cursor
        self.refresh()
        if self.selected:
            self._cursor_to_selection()
        self._notify()

    def show_filtered(self, f: ChatFilter, ids: list[int], rows: list[ChatSummary], selected: list[int]) -> None:
        """Show a text filter whose matching ids (in list order), first rows and kept selection were
        read elsewhere (on a worker thread)."""
        self.commit_rename()
        self.filter = f
        self._ids = ids
        self.total = len(ids)
        self._cache, self._cache_start = list(rows), 0
        self.top = 0
        self.selected = set(selected)
        self.cursor = self.anchor = -1
        self._render()
        if self.selected:
            self._cursor_to_selection()
        self._notify()

    def show_first_rows(self, f: ChatFilter, rows: list[ChatSummary], selected: list[int]) -> None:
        """Show the first rows of a big text filter while its count runs on a worker (the full
        result follows through `show_filtered`). Meanwhile the list holds just these rows."""
        self.commit_rename()
        self.filter = f
        self._ids = [r.id for r in rows]
        self.total = len(rows)
        self._cache, self._cache_start = list(rows), 0
        self.top = 0
        self.selected = set(selected)  # the selected chats among these rows (the full result has all)
        self.cursor = self.anchor = -1
        self._render()
        if self.selected:
            self._cursor_to_selection()
        self._notify()

    def sort_by(self, column: str) -> None:
        """Heading click: ascending, then descending, then back to the list order."""
        key = next((c[5] for c in COLUMNS if c[0] == column), None)
        if key is None:
            return
        if self.sort != key:
            self.sort, self.descending = key, False
        elif not self.descending:
            self.descending = True
        else:
            self.sort, self.descending = "position", False
        self.set_sort(self.sort, self.descending)

    def set_sort(self, sort: str, descending: bool = False) -> None:
        self.commit_rename()
        self.sort, self.descending = sort, descending
        for cid, text, *_rest, key in COLUMNS:
            arrow = (ARROW_DOWN if descending else ARROW_UP) if key == sort and sort != "position" else ""
            self.tree.heading(cid, text=text + arrow)
        self.refresh()
        self._cursor_to_selection()
        if self.on_sort:
            self.on_sort()

    def _fetch(self, start: int, n: int) -> list[ChatSummary]:
        """Rows [start, start+n) of the filtered, sorted list, from the cache or SQL."""
        if n <= 0 or start >= self.total:
            return []
        cs, cache = self._cache_start, self._cache
        end = cs + len(cache)
        if cache and cs <= start and (start + n <= end or end >= self.total):
            return cache[start - cs:start - cs + n]
        store = self.get_store()
        if store is None:
            return []
        margin = max(self.page, 20)
        lo = max(0, start - margin)
        limit = (start - lo) + n + margin
        if self._ids is not None:
            window = self._ids[lo:lo + limit]
            self._cache = store.list_chats(ChatFilter(ids=window), self.sort, self.descending, limit=len(window))
        else:
            self._cache = store.list_chats(self.filter, self.sort, self.descending, offset=lo, limit=limit)
        self._cache_start = lo
        self.fetches += 1
        if lo + len(self._cache) < min(self.total, lo + limit):
            # The list shrank under us (another instance); recount and show what there is.
            self.total = store.count_chats(self.filter)
        return self._cache[start - lo:start - lo + n]

    def id_at(self, index: int) -> int | None:
        rows = self._fetch(index, 1)
        return rows[0].id if rows else None

    def row_at(self, index: int) -> ChatSummary | None:
        rows = self._fetch(index, 1)
        return rows[0] if rows else None

    def ids_between(self, lo: int, hi: int) -> list[int]:
        """Chat ids of the list rows lo..hi inclusive."""
        lo, hi = max(0, lo), min(hi, self.total - 1)
        if hi < lo:
            return []
        if self._ids is not None:
            return self._ids[lo:hi + 1]
        cs, cache = self._cache_start, self._cache
        if cache and cs <= lo and hi < cs + len(cache):
            return [r.id for r in cache[lo - cs:hi - cs + 1]]
        store = self.get_store()
        if store is None:
            return []
        return store.chat_ids(self.filter, self.sort, self.descending)[lo:hi + 1]

    def index_of(self, chat_id: int) -> int | None:
        """Where a chat is in the current (filtered, sorted) list, or None."""
        cs = self._cache_start
        for i, r in enumerate(self._cache):
            if r.id == chat_id:
                return cs + i
        store = self.get_store()
        if store is None:
            return None
        ids = self._ids if self._ids is not None else store.chat_ids(self.filter, self.sort, self.descending)
        try:
            return ids.index(chat_id)
        except ValueError:
            return None

    # -- selection -------------------------------------------------------------------------

    def selection_ids(self) -> list[int]:
        return sorted(self.selected)

    def cursor_id(self) -> int | None:
        return self.id_at(self.cursor) if self.cursor >= 0 else None

    def visible_ids(self) -> list[int]:
        return list(self._slot_ids)

    def move_cursor(self, index: int, extend: bool = False) -> None:
        """Keyboard/mouse: put the cursor on list row `index` (clamped) and select it (or extend)."""
        self.commit_rename()
        if self.total <= 0:
            return
        index = max(0, min(index, self.total - 1))
        if extend and self.anchor >= 0:
            self.cursor = index
            lo, hi = sorted((self.anchor, index))
            self.selected = set(self.ids_between(lo, hi))
        else:
            self.cursor = self.anchor = index
            cid = self.id_at(index)
            self.selected = {cid} if cid is not None else set()
        self.ensure_visible(index)
        self._notify()

    def toggle(self, index: int) -> None:
        if not 0 <= index < self.total:
            return
        cid = self.id_at(index)
        if cid is None:
            return
        self.cursor = self.anchor = index
        self.selected ^= {cid}
        self.ensure_visible(index)
        self._notify()

    def select_all(self) -> None:
        store = self.get_store()
        if store is None:
            return
        ids = self._ids if self._ids is not None else store.chat_ids(self.filter, self.sort, self.descending)
        self.selected = set(ids)
        if self.cursor < 0 and self.total:
            self.cursor = 0
        self.anchor = 0
        self._render()
        self._notify()

    def select_ids(self, ids: Iterable[int], reveal: int | None = None) -> None:
        """Select these chats; put the cursor on `reveal` (default: the first of them in the list)."""
        self.selected = set(ids)
        target = reveal if reveal is not None else (min(self.selected) if self.selected else None)
        index = self.index_of(target) if target is not None else None
        if index is not None:
            self.cursor = self.anchor = index
            self.ensure_visible(index)
        else:
            self._render()
        self._notify()

    def clear_selection(self) -> None:
        self.selected = set()
        self._render()
        self._notify()

    def _cursor_to_selection(self) -> None:
        if self.selected:
            cid = self.cursor_id()
            if cid not in self.selected:
                index = self.index_of(min(self.selected))
                if index is not None:
                    self.cursor = self.anchor = index
                    self.ensure_visible(index)

    def _notify(self) -> None:
        if self.on_selection:
            self.on_selection()

    def open_cursor(self) -> None:
        cid = self.cursor_id()
        if cid is not None and self.on_open:
            self.on_open(cid)

    # -- scrolling -------------------------------------------------------------------------

    def _clamp_top(self, top: int) -> int:
        return max(0, min(top, self.total - self.page))

    def scroll_to(self, top: int) -> None:
        self.commit_rename()
        top = self._clamp_top(int(top))
        if top != self.top or not self._slots:
            self.top = top
            self._render()

    def scroll_by(self, rows: int) -> None:
        self.scroll_to(self.top + rows)

    def ensure_visible(self, index: int) -> None:
        if index < self.top:
            self.top = index
        elif index >= self.top + self.page:
            self.top = index - self.page + 1
        self.top = self._clamp_top(self.top)
        self._render()

    def _on_scrollbar(self, *args: str) -> None:
        if not args:
            return
        if args[0] == "moveto":
            self.scroll_to(round(float(args[1]) * self.total))
        elif args[0] == "scroll":
            n = int(args[1])
            self.scroll_by(n * max(1, self.page - 1) if args[2] == "pages" else n)

    def _on_wheel(self, event: tk.Event) -> str:
        rows = wheel_rows(event)
        if rows:
            self._wheel_rows(rows)
        return "break"

    def _on_touchpad(self, event: tk.Event) -> str:
        _dx, dy = touchpad_deltas(event)
        self._touch = getattr(self, "_touch", 0) + dy
        rows = int(self._touch / 10)  # 10 touchpad units per row, remainder kept
        self._touch -= rows * 10
        if rows:
            self.scroll_by(-rows)
        return "break"

    def _wheel_rows(self, rows: int) -> str:
        self.scroll_by(rows)
        return "break"

    def _on_configure(self, event: tk.Event) -> None:
        self._height = event.height
        self._update_page()
        self._fit_columns()

    def _fit_columns(self) -> None:
        """No cut numbers (column_fit.py): after a render, a resize, a font change."""
        fit_columns(self.tree, NUMBER_COLUMNS, [v[0] for v in self._slot_values if v], GIVE_ROOM)

    def _update_page(self) -> None:
        if self._height <= 1:
            return
        style = ttk.Style(self)
        try:
            rowheight = int(style.lookup("Treeview", "rowheight") or 20)
        except (tk.TclError, ValueError):
            rowheight = 20
        head = self._head or rowheight + 2
        page = max(1, (self._height - head - 2) // rowheight)
        if page != self.page or not self._slots:
            self.page = page
            self.top = self._clamp_top(self.top)
            self._render()

    # -- drawing ---------------------------------------------------------------------------

    def _render(self) -> None:
        """Write the rows [top, top+page] into the Treeview slots (plus one partly visible row)."""
        n = max(0, min(self.page + 1, self.total - self.top))
        rows = self._fetch(self.top, n)
        tree = self.tree
        while len(self._slots) < len(rows):
            iid = f"row{len(self._slots)}"
            tree.insert("", "end", iid=iid, values=())
            self._slots.append(iid)
            self._slot_values.append(())
        while len(self._slots) > len(rows):
            tree.delete(self._slots.pop())
            self._slot_values.pop()
        self._slot_ids = [r.id for r in rows]
        totals = self._token_totals(rows)
        key, limit, counting = self.token_key, self.limit, self.counting
        selected = []
        for i, (iid, row) in enumerate(zip(self._slots, rows, strict=False)):
            cell, over = token_cell(totals.get(row.id), row.n_messages, key, limit, counting)
            values = (f"{self.top + i + 1:,}",
                      *row_values(row, cell, trainable_cell(totals.get(row.id), row.n_messages, key)))
            tags = ("alt",) if (self.top + i) % 2 else ()
            if over:
                tags += ("over",)
            if self._slot_values[i] != (values, tags):
                tree.item(iid, values=values, tags=tags)
                self._slot_values[i] = (values, tags)
            if row.id in self.selected:
                selected.append(iid)
        self._fit_columns()
        if tuple(tree.selection()) != tuple(selected):
            tree.selection_set(selected)
        ci = self.cursor - self.top
        if 0 <= ci < len(self._slots):
            tree.focus(self._slots[ci])
        elif self._slots:
            tree.focus("")
        if tree.yview() != (0.0, 1.0) and self._slots:
            tree.yview_moveto(0)
        self._update_scrollbar()
        self._update_empty()
        if not self._head and self._slots:
            self.after_idle(self._measure_head)

    def _measure_head(self) -> None:
        try:
            bbox = self.tree.bbox(self._slots[0]) if self._slots else None
        except tk.TclError:
            bbox = None
        if bbox:
            self._head = int(bbox[1])
            self._update_page()

    def _update_scrollbar(self) -> None:
        if self.total <= 0:
            self.scrollbar.set(0.0, 1.0)
            return
        first = self.top / self.total
        last = min(1.0, (self.top + self.page) / self.total)
        self.scrollbar.set(first, last)

    def _update_empty(self) -> None:
        self.empty_state.update(self.total == 0)

    # -- what the mouse (list_mouse.ListMouse) asks ----------------------------------------------

    def slot_at(self, y: int) -> int | None:
        """The row on screen (0 = the top one) at pixel `y`, None off the rows."""
        iid = self.tree.identify_row(y)
        if not iid or iid not in self._slots:
            return None
        return self._slots.index(iid)

    def slot_id(self, slot: int) -> int:
        """The chat id of a row on screen."""
        return self._slot_ids[slot]

    @property
    def heading_height(self) -> int:
        return self._head

    @property
    def pixel_height(self) -> int:
        return self._height

    # -- rename in place (list_overlays.RenameInPlace) ----------------------------------------

    def name_cell(self, index: int) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the name cell of list row `index` when it is on screen."""
        slot = index - self.top
        if not 0 <= slot < len(self._slots):
            return None
        self.tree.update_idletasks()
        bbox = self.tree.bbox(self._slots[slot], "name")
        return bbox or None  # type: ignore[return-value]

    def start_rename(self) -> ttk.Entry | None:
        """An Entry over the name cell of the cursor row; Enter saves, Escape cancels."""
        return self.renamer.start()

    @property
    def rename_entry(self) -> ttk.Entry | None:
        return self.renamer.entry

    def commit_rename(self) -> None:
        self.renamer.commit()

    def cancel_rename(self) -> None:
        self.renamer.cancel()

    # -- settings ----------------------------------------------------------------------------

    def font_changed(self) -> None:
        """The font size changed: measure the row height again and redraw the rows."""
        self._head = 0
        self._update_page()
        self._render()

    def column_widths(self) -> dict[str, int]:
        return {cid: int(self.tree.column(cid, "width")) for cid in COLUMN_IDS}


__all__ = ["COLUMNS", "ChatList", "PAD", "format_time", "row_values", "token_cell", "trainable_cell"]
