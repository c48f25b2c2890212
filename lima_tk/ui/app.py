"""The main window: the chat list over the store, the filter bar, menus, status bar, dataset files.

Every menu item and shortcut is a virtual event bound on the root (`<<NewChat>>`, `<<Undo>>`...,
see `lima_tk.ui.actions`), so tests fire them with `event_generate`. The window holds no copy of
the data: every action is one store call, then `data_changed()` re-reads what is on screen.

The chat editor (`lima_tk.ui.chat_editor`) relies on this contract of `App`: `root`, `store`,
`user_settings`, `status(text)`, `editors` (chat id -> editor), `data_changed(source)`,
`undo()`, `redo()`, `flush_pending()`, `font_size`.

Tk thread only, except the `work` functions given to `run_with_progress`, which run on a worker
thread with a store of their own.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import tkinter as tk
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from tkinter import ttk
from typing import Any

from lima_tk.errors import DatasetError, LimaError
from lima_tk.paths import DATASET_SUFFIX, default_dataset_path
from lima_tk.settings import load_user_settings, save_user_settings
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.store.files import is_open_dataset, refuse_dataset_target
from lima_tk.ui import dialogs, theme
from lima_tk.ui.actions import ACTIONS, MENUS, Action
from lima_tk.ui.autosave import GUI_BUSY_TIMEOUT_MS, resolve_unsaved
from lima_tk.ui.chat_list import ChatList
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.filter_query import FilterQuery, FilterResult
from lima_tk.ui.progress import run_with_progress
from lima_tk.ui.theme import PAD
from lima_tk.ui.token_counting import TokenCounting
from lima_tk.ui.worker import Job

MAX_RECENT = 10
ALL_TAGS = "All tags"
ALL_LANGS = "All languages"
TEXT_CLASSES = {"Entry", "TEntry", "TCombobox", "Text", "Spinbox", "TSpinbox", "Listbox"}


def action(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A user action: a dataset problem (LimaError) becomes a status message and a bell;
    anything else reaches report_callback_exception (logged and shown)."""

    @wraps(fn)
    def run(self: App, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except LimaError as e:
            self.status(str(e), error=True)
            return None
        except sqlite3.OperationalError as e:  # a write the store did not put in words (busy, full)
            self.status(_plain_sqlite(e, self.store), error=True)
            return None

    return run


class App:
    """The main window on one dataset. `App(path)` builds and shows it; `root.mainloop()` runs it."""

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        readonly: bool = False,
        user_settings: dict[str, Any] | None = None,
        poll_ms: int = 2000,
        debounce_ms: int = 150,
        job_poll_ms: int = 50,
        async_filter_from: int = 20_000,
        count_tokens: bool = True,
        count_delay_ms: int = 500,
    ) -> None:
        self.user_settings: dict[str, Any] = user_settings if user_settings is not None else load_user_settings()
        self.poll_ms = poll_ms
        self.debounce_ms = debounce_ms
        self.job_poll_ms = job_poll_ms
        # Text filters on datasets this big run on a worker thread (see filter_query.py).
        self.async_filter_from = async_filter_from
        # Token counting (issue 6) starts this long after the dataset opened, once the list is painted.
        self.count_tokens = count_tokens
        self.count_delay_ms = count_delay_ms
        self.filter_query: FilterQuery | None = None
        self._all_count = 0
        self.store: DatasetStore | None = None
        self.editors: dict[int, Any] = {}
        self.jobs: list[Job] = []
        self.open_error: str | None = None
        self._version = -1
        self._closed = False
        self._closing = False  # close() is asking about unsaved text
        self._filter_after: str | None = None
        self._poll_after: str | None = None
        self._signature: tuple = ()
        self._status_text = ""
        self.last_report: Any = None  # the report window of the last import or export, if one opened
        # The windows of which the main window has one at most (raised when asked for again).
        self.stats_board: Any = None
        self.problems_panel: Any = None
        self.token_previews: dict[int, Any] = {}

        self.root = tk.Tk(className="Lima-tk")
        self.root.withdraw()
        self.root.title("lima-tk")
        self.root.report_callback_exception = self._report_callback_exception
        theme.apply_theme(self.root, self.font_size, scale=self.user_settings.get("ui_scale") or None)
        self._build()
        self._bind_actions()
        self._restore_geometry()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.deiconify()
        self.open_dataset(self._start_path(db_path), readonly=readonly, quiet=True)
        self._poll_after = self.root.after(self.poll_ms, self._poll)

    # -- the App contract ------------------------------------------------------------------

    @property
    def font_size(self) -> int:
        try:
            return int(self.user_settings.get("font_size") or 11)
        except (TypeError, ValueError):
            return 11

    def status(self, text: str, error: bool = False) -> None:
        """Show a message in the status bar. Tk thread only."""
        self._status_text = text
        try:
            self.status_label.configure(text=text, style="StatusError.TLabel" if error else "Status.TLabel")
        except tk.TclError:
            pass
        if error:
            try:
                self.root.bell()
            except tk.TclError:
                pass

    @property
    def status_text(self) -> str:
        return self._status_text

    def data_changed(self, source: object | None = None) -> None:
        """Something in the dataset changed: refresh the list and every open editor but `source`."""
        if self.store is None:
            self.chat_list.refresh()
            self.update_count()
            return
        self.tokens.data_changed()  # a new tokenizer setting starts a recount
        self.chat_list.refresh()
        self.update_count()
        self._close_vanished_editors()
        for ed in list(self.editors.values()):
            if ed is not source and hasattr(ed, "reload"):
                ed.reload()

    @action
    def undo(self) -> None:
        if not self._writable():
            return
        self._stop_streams()
        self.flush_pending()
        step = self.store.undo()
        if step is None:
            self.status("Nothing to undo")
            return
        self.data_changed()
        self.status(f"Undid {step.label}")

    @action
    def redo(self) -> None:
        if not self._writable():
            return
        self._stop_streams()
        self.flush_pending()
        step = self.store.redo()
        if step is None:
            self.status("Nothing to redo")
            return
        self.data_changed()
        self.status(f"Redid {step.label}")

    def _stop_streams(self) -> None:
        """Undo/redo while an editor streams a reply: stop it first (its text so far is saved and
        joins the generation's undo step), as the editor's own Ctrl+Z does."""
        for ed in list(self.editors.values()):
            assist = getattr(ed, "assist", None)
            if assist is not None and assist.streaming():
                assist.stop()

    def flush_pending(self, strict: bool = True) -> None:
        """Save what open editors still hold (typing not yet saved by their debounce). A write
        that fails stays unsaved in its editor, which shows it and retries; `strict` (before a
        change to the dataset) then raises its DatasetError, so the caller changes nothing."""
        self.chat_list.commit_rename()
        for ed in list(self.editors.values()):
            flush = getattr(ed, "flush", None)
            if flush is None:
                continue
            try:
                flush()
            except DatasetError:
                if strict:
                    raise

    # -- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        root = self.root
        self.menus: dict[str, tk.Menu] = {}
        self._menu_index: dict[str, tuple[tk.Menu, int]] = {}
        self._build_menus()

        self.notice = ttk.Frame(root, style="Notice.TFrame")
        self.notice_label = ttk.Label(self.notice, style="Notice.TLabel", text="")
        self.notice_label.pack(side="left", fill="x", expand=True)

        # Toolbar: the buttons users know (new, copy, delete) and the filter bar.
        bar = ttk.Frame(root, style="Toolbar.TFrame", padding=(2 * PAD, 2 * PAD, 2 * PAD, 2 * PAD))
        self.toolbar = bar
        self.tool_buttons: dict[str, ttk.Button] = {}
        for event, text in (("<<NewChat>>", "New chat"), ("<<CopyChats>>", "Copy"), ("<<DeleteChats>>", "Delete")):
            b = ttk.Button(bar, text=text, style="Toolbar.TButton", takefocus=False,
                           command=lambda ev=event: self.root.event_generate(ev))
            b.pack(side="left", padx=(0, PAD))
            self.tool_buttons[event] = b
        ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=(2 * PAD, 3 * PAD))
        ttk.Label(bar, text="Find").pack(side="left", padx=(0, 2 * PAD))
        self.filter_var = tk.StringVar(root)
        self.filter_entry = ttk.Entry(bar, textvariable=self.filter_var, width=20)
        self.filter_var.trace_add("write", lambda *a: self._filter_typed())
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
                                          takefocus=False, command=self._over_limit_toggled)
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
            combo.bind("<<ComboboxSelected>>", lambda e: (self.apply_filter(), self.chat_list.tree.focus_set()))
            combo.bind("<Escape>", lambda e: self.clear_filter())
        self.filter_entry.bind("<Escape>", lambda e: (self.clear_filter(), "break")[1])
        self.filter_entry.bind("<Down>", lambda e: (self._focus_list(), "break")[1])
        self.filter_entry.bind("<Return>", lambda e: (self.apply_filter(), self._focus_list(), "break")[2])

        widths = self.user_settings.get("column_widths") or {}
        self.chat_list = ChatList(
            root, lambda: self.store, on_open=self.open_chat, on_rename=self.rename_chat,
            on_selection=self.update_count, on_context=self._context_menu,
            widths=widths if isinstance(widths, dict) else {},
        )
        self.chat_list.empty_content = self._empty_content

        status = ttk.Frame(root, style="Status.TFrame")
        self.status_label = ttk.Label(status, text="", style="Status.TLabel", anchor="w")
        self.path_label = ttk.Label(status, text="", style="StatusMuted.TLabel", anchor="e")
        self.path_label.pack(side="right")
        # Token counting: its progress and the dataset total, left of the path.
        self.tokens = TokenCounting(self, status, self.path_label, enabled=self.count_tokens,
                                    delay_ms=self.count_delay_ms, poll_ms=self.job_poll_ms)
        # Packed last: a long message is clipped rather than squeezing the progress out.
        self.status_label.pack(side="left", fill="x", expand=True)
        ttk.Style(root).configure("StatusError.TLabel", background=theme.PALETTE["status"],
                                  foreground=theme.PALETTE["danger"], padding=(2 * PAD, PAD))

        status.pack(side="bottom", fill="x")
        bar.pack(side="top", fill="x")
        ttk.Separator(root, orient="horizontal").pack(side="top", fill="x")
        self.chat_list.pack(side="top", fill="both", expand=True)
        self.status_frame = status

    def _build_menus(self) -> None:
        root = self.root
        menubar = tk.Menu(root, tearoff=False)
        root.configure(menu=menubar)
        self.menubar = menubar
        for name in MENUS:
            menu = tk.Menu(menubar, tearoff=False, postcommand=self.update_menus)
            menubar.add_cascade(label=name, menu=menu, underline=0)
            self.menus[name] = menu
        self.recent_menu = tk.Menu(self.menus["File"], tearoff=False, postcommand=self._fill_recent_menu)
        groups = {"<<OpenRecent>>": "after", "<<Save>>": "before", "<<Import>>": "before",
                  "<<Settings>>": "before", "<<Quit>>": "before", "<<Find>>": "before",
                  "<<OpenChat>>": "before", "<<RenameChat>>": "before", "<<SetLanguage>>": "before",
                  "<<MoveUp>>": "before", "<<SelectAllChats>>": "before", "<<About>>": "before"}
        for a in ACTIONS:
            if not a.menu:
                continue
            menu = self.menus[a.menu]
            if groups.get(a.event) == "before" and menu.index("end") is not None:
                menu.add_separator()
            if a.event == "<<OpenRecent>>":
                menu.add_cascade(label="Open recent", menu=self.recent_menu)
                self._menu_index["recent"] = (menu, menu.index("end"))
                continue
            menu.add_command(label=a.label, accelerator=a.accel,
                             command=lambda ev=a.event: self.root.event_generate(ev))
            self._menu_index[a.event] = (menu, menu.index("end"))

    def _bind_actions(self) -> None:
        handlers: dict[str, Callable[[], object]] = {
            "<<NewDataset>>": self.new_dataset,
            "<<OpenDataset>>": self.open_dialog,
            "<<OpenRecent>>": self.popup_recent,
            "<<Save>>": self.save_now,
            "<<SaveCopyAs>>": self.save_copy_dialog,
            "<<Import>>": self.import_dialog,
            "<<ImportWithOptions>>": lambda: self.import_dialog(with_options=True),
            "<<Export>>": self.export_dialog,
            "<<Settings>>": self.settings_dialog,
            "<<Quit>>": self.close,
            "<<Undo>>": self.undo,
            "<<Redo>>": self.redo,
            "<<SelectAllChats>>": self.select_all,
            "<<Find>>": self.focus_find,
            "<<ClearFilter>>": self.clear_filter,
            "<<NewChat>>": self.new_chat,
            "<<OpenChat>>": lambda: self.chat_list.open_cursor(),
            "<<RenameChat>>": self.start_rename,
            "<<CopyChats>>": self.copy_chats,
            "<<DeleteChats>>": self.delete_chats,
            "<<SetLanguage>>": self.language_dialog,
            "<<SetTags>>": self.tags_dialog,
            "<<MoveUp>>": lambda: self.move_chats(-1),
            "<<MoveDown>>": lambda: self.move_chats(1),
            "<<PreviewTokens>>": self.preview_tokens,
            "<<StatsBoard>>": self.open_stats_board,
            "<<Problems>>": self.open_problems_panel,
            "<<OverLimitFilter>>": lambda: (self.over_var.set(not self.over_var.get()), self._over_limit_toggled()),
            "<<CountTokens>>": self.count_tokens_now,
            "<<StopCounting>>": self.tokens.cancel,
            "<<Shortcuts>>": self.shortcuts_dialog,
            "<<About>>": self.about,
        }
        self.handlers = handlers
        for a in ACTIONS:
            fn = handlers[a.event]
            self.root.bind(a.event, lambda e, fn=fn: (fn(), "break")[1])
            for seq in a.keys:
                self.root.bind(seq, lambda e, a=a: self._key(a))

    def _key(self, a: Action) -> str | None:
        """A shortcut: list-scoped ones are left to a text field that has the focus."""
        if a.scope == "list" and self._typing():
            return None
        self.root.event_generate(a.event)
        return "break"

    def _typing(self) -> bool:
        try:
            w = self.root.focus_get()
        except (KeyError, tk.TclError):  # focus in a combobox popdown
            return True
        return w is not None and w.winfo_class() in TEXT_CLASSES

    def _focus_list(self) -> None:
        cl = self.chat_list
        cl.tree.focus_set()
        if cl.cursor < 0 and cl.total:
            cl.move_cursor(0)

    # -- menus -------------------------------------------------------------------------------

    def update_menus(self) -> None:
        """Menu labels and states for now (called when a menu opens): "Undo Delete 3 chats"."""
        store = self.store
        writable = store is not None and not store.readonly
        undo = store.undo_label() if writable else None
        redo = store.redo_label() if writable else None
        self._set_item("<<Undo>>", f"Undo {undo}" if undo else "Undo", bool(undo))
        self._set_item("<<Redo>>", f"Redo {redo}" if redo else "Redo", bool(redo))
        n = len(self.chat_list.selected)
        for a in ACTIONS:
            if a.event in ("<<Undo>>", "<<Redo>>") or a.event not in self._menu_index:
                continue
            enabled = True
            if a.writes and not writable:
                enabled = False
            if a.menu == "Chat" and a.event != "<<NewChat>>" and n == 0:
                enabled = False
            if a.event in ("<<RenameChat>>", "<<OpenChat>>") and n != 1 and self.chat_list.cursor < 0:
                enabled = False
            if a.event in ("<<Export>>", "<<SaveCopyAs>>", "<<Save>>", "<<StatsBoard>>", "<<Problems>>",
                           "<<OverLimitFilter>>") and store is None:
                enabled = False
            if a.event == "<<StopCounting>>" and not self.tokens.running:
                enabled = False
            self._set_item(a.event, None, enabled)

    def _set_item(self, event: str, label: str | None, enabled: bool) -> None:
        menu, index = self._menu_index[event]
        opts: dict[str, Any] = {"state": "normal" if enabled else "disabled"}
        if label is not None:
            opts["label"] = label
        menu.entryconfigure(index, **opts)

    def menu_label(self, event: str) -> str:
        menu, index = self._menu_index[event]
        return str(menu.entrycget(index, "label"))

    def _fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.delete(0, "end")
        recent = [p for p in self.user_settings.get("recent_files") or [] if isinstance(p, str)]
        current = str(self.store.path) if self.store else None
        shown = 0
        for i, p in enumerate(recent):
            if p == current or not Path(p).exists():
                continue
            m.add_command(label=f"{shown + 1}  {_short(p)}", underline=0,
                          command=lambda p=p: self.open_recent(p))
            shown += 1
            if i >= MAX_RECENT:
                break
        if not shown:
            m.add_command(label="(no other recent datasets)", state="disabled")

    def popup_recent(self) -> None:
        self._fill_recent_menu()
        t = self.chat_list.tree
        try:
            self.recent_menu.tk_popup(t.winfo_rootx() + 4 * PAD, t.winfo_rooty() + 4 * PAD)
        finally:
            self.recent_menu.grab_release()

    def _context_menu(self, event: tk.Event) -> None:
        self.update_menus()
        try:
            self.menus["Chat"].tk_popup(event.x_root, event.y_root)
        finally:
            self.menus["Chat"].grab_release()

    # -- filter ------------------------------------------------------------------------------

    def _filter_typed(self) -> None:
        """Debounced: the query runs once typing pauses, so keystrokes never wait for SQL."""
        if self._filter_after is not None:
            self.root.after_cancel(self._filter_after)
        delay = self.debounce_ms
        if self._all_count >= self.async_filter_from:
            # The query runs on the worker and a newer one interrupts it: a short pause is enough.
            delay = min(delay, 60)
        self._filter_after = self.root.after(delay, self.apply_filter)

    def current_filter(self) -> ChatFilter:
        tag = self.tag_var.get()
        lang = self.lang_var.get()
        return ChatFilter(
            text=self.filter_var.get().strip(),
            tag=None if tag == ALL_TAGS else tag,
            language=None if lang == ALL_LANGS else ("" if lang == "(none)" else lang),
            over_limit=bool(self.over_var.get()),
        )

    @action
    def apply_filter(self) -> None:
        """Show the chats matching the filter bar. Big datasets: the text query runs on a worker."""
        if self._filter_after is not None:
            self.root.after_cancel(self._filter_after)
            self._filter_after = None
        if self.store is None:
            return
        f = self.current_filter()
        if f.language == "":
            f.language = None
        fq = self.filter_query
        pending = fq is not None and fq.pending
        old = self.chat_list.filter
        if (old.text, old.tag, old.language, old.over_limit) == (f.text, f.tag, f.language, f.over_limit) \
                and not pending:
            return
        cl = self.chat_list
        if (f.text or f.over_limit) and self._all_count >= self.async_filter_from:
            if fq is None:
                fq = self.filter_query = FilterQuery(self.root, self.store.path, self._filter_result)
            fq.submit(f, cl.sort, cl.descending, 2 * cl.page + 40, cl.selection_ids())
            return
        if fq is not None and pending:
            fq.cancel()  # a result still on its way is stale now
        cl.set_filter(f)
        self.update_count()

    def _filter_result(self, r: FilterResult) -> None:
        if r.error is not None:
            self.status(f"Search failed: {r.error}", error=True)
            return
        self.chat_list.show_filtered(r.filter, r.ids, r.rows, r.selected)
        self.update_count()

    def clear_filter(self) -> None:
        self.filter_var.set("")
        self.tag_var.set(ALL_TAGS)
        self.lang_var.set(ALL_LANGS)
        self.over_var.set(False)
        self.apply_filter()
        self._focus_list()

    def _over_limit_toggled(self) -> None:
        """The "Over limit" toggle: only chats whose token total exceeds the context limit."""
        if self.over_var.get() and self.store is not None:
            limit = self.store.get_setting("context_limit")
            if not int(limit or 0):
                self.status("No context limit is set: File > Settings > Dataset > Context limit", error=True)
            elif self.store.active_token_key() is None:
                self.status("Tokens are not counted yet (View > Count tokens now)")
        self.apply_filter()

    def focus_find(self) -> None:
        self.filter_entry.focus_set()
        self.filter_entry.select_range(0, "end")
        self.filter_entry.icursor("end")

    def _fill_tag_combo(self) -> None:
        tags = list(self.store.tag_counts()) if self.store else []
        self.tag_combo.configure(values=[ALL_TAGS, *tags])

    def _fill_lang_combo(self) -> None:
        langs: list[str] = []
        if self.store:
            langs = list(self.store.get_setting("languages"))
            langs += [x for x in self.store.languages_in_use() if x and x not in langs]
        self.lang_combo.configure(values=[ALL_LANGS, *langs])

    def update_count(self) -> None:
        cl = self.chat_list
        if self.store is None:
            self.count_label.configure(text="")
            return
        shown = cl.total
        if cl.filter.is_empty():
            self._all_count = shown
            text = f"{shown:,} chat{'s' if shown != 1 else ''}"
        else:
            self._all_count = all_n = self.store.count_chats()
            text = f"{shown:,} of {all_n:,} chats"
        n = len(cl.selected)
        if n > 1:
            text += f" · {n:,} selected"
        self.count_label.configure(text=text)

    def _empty_content(self) -> tuple[str, str, list[tuple[str, Callable[[], object]]]]:
        """The friendly empty state: what happened and what to do next (as buttons too)."""
        gen = self.root.event_generate
        if self.store is None:
            reason = f"{self.open_error}\n\n" if self.open_error else ""
            return ("No dataset is open", reason + "Open a dataset or a chat file (Ctrl+O), or create a new dataset.",
                    [("Open…", lambda: gen("<<OpenDataset>>")), ("New dataset…", lambda: gen("<<NewDataset>>"))])
        if not self.chat_list.filter.is_empty():
            return ("No chat matches the filter", "Change the words, tag or language above; Escape clears them.",
                    [("Clear the filter", self.clear_filter)])
        if self.store.readonly:
            return ("This dataset has no chats", "It is read-only, so nothing can be added here.", [])
        return ("This dataset has no chats yet",
                "Start a chat (Ctrl+N) or import a file (Ctrl+I): OpenAI fine-tuning JSONL, a ChatGPT data export, "
                "ShareGPT, Alpaca, lima-gui JSONL or CSV, or a lima-tk export.",
                [("New chat", lambda: gen("<<NewChat>>")), ("Import a file…", lambda: gen("<<Import>>"))])

    # -- chat actions ----------------------------------------------------------------------

    def _writable(self) -> bool:
        if self.store is None:
            self.status("Open or create a dataset first (Ctrl+O)", error=True)
            return False
        if self.store.readonly:
            self.status("This dataset is read-only: changes are off", error=True)
            return False
        if any(not j.finished for j in self.jobs if getattr(j, "writes", False)):
            self.status("Wait for the import to finish (or cancel it)", error=True)
            return False
        return True

    def _selection(self, verb: str) -> list[int]:
        ids = self.chat_list.selection_ids()
        if not ids:
            self.status(f"Select the chats to {verb} first", error=True)
        return ids

    @action
    def new_chat(self) -> int | None:
        if not self._writable():
            return None
        f = self.chat_list.filter
        if f.text:
            self.filter_var.set("")
            self.apply_filter()
            f = self.chat_list.filter
        langs = self.store.get_setting("languages")
        language = f.language or (langs[0] if langs else None)
        cid = self.store.create_chat(name="New chat", language=language, tags=[f.tag] if f.tag else [])
        self.data_changed()
        self.chat_list.select_ids([cid], reveal=cid)
        self.chat_list.start_rename()
        self.status("New chat - type its name and press Enter; Enter again opens it")
        return cid

    def start_rename(self) -> None:
        if not self._writable():
            return
        cl = self.chat_list
        if cl.cursor < 0 or cl.cursor_id() not in cl.selected:
            ids = cl.selection_ids()
            if not ids:
                self.status("Select a chat to rename", error=True)
                return
            cl.select_ids(ids, reveal=ids[0])
        cl.start_rename()

    @action
    def rename_chat(self, chat_id: int, name: str) -> None:
        if not self._writable():
            return
        self.store.rename_chat(chat_id, name)
        self.data_changed()
        self.status(f"Renamed to “{name}”" if name else "Name cleared")

    @action
    def copy_chats(self) -> None:
        if not self._writable():
            return
        ids = self._selection("copy")
        if not ids:
            return
        self.flush_pending()
        new = self.store.copy_chats(ids)
        self.data_changed()
        self.chat_list.select_ids(new, reveal=new[0])
        self.status(f"Copied {_n(len(new), 'chat')} - Ctrl+Z to undo")

    @action
    def delete_chats(self) -> None:
        if not self._writable():
            return
        ids = self._selection("delete")
        if not ids:
            return
        self.flush_pending()
        cl = self.chat_list
        cursor = cl.cursor
        n = self.store.delete_chats(ids)  # may fail (busy): then the editors stay open
        for cid in ids:
            ed = self.editors.pop(cid, None)
            if ed is not None:
                _destroy(ed)
        cl.selected = set()
        self.data_changed()
        if cl.total:
            cl.move_cursor(min(max(cursor, 0), cl.total - 1))
        self.status(f"Deleted {_n(n, 'chat')} - Ctrl+Z to undo")

    @action
    def move_chats(self, delta: int) -> None:
        if not self._writable():
            return
        cl = self.chat_list
        if cl.sort != "position":
            self.status("Chats move in list order: click the sorted heading until its arrow goes", error=True)
            return
        ids = self._selection("move")
        if not ids:
            return
        cursor = cl.cursor_id()
        self.store.move_chats(ids, delta)
        self.data_changed()
        cl.select_ids(ids, reveal=cursor if cursor in ids else ids[0])
        self.status(f"Moved {_n(len(ids), 'chat')} {'up' if delta < 0 else 'down'}")

    @action
    def set_language(self, chat_ids: list[int], language: str | None) -> None:
        if not self._writable() or not chat_ids:
            return
        self.store.set_language(chat_ids, language)
        self.data_changed()
        what = f"“{language}”" if language else "none"
        self.status(f"Language of {_n(len(chat_ids), 'chat')} set to {what} - Ctrl+Z to undo")

    @action
    def change_tags(self, chat_ids: list[int], add: list[str], remove: list[str]) -> None:
        if not self._writable() or not chat_ids or not (add or remove):
            return
        with self.store.change(f"Change tags of {_n(len(chat_ids), 'chat')}", "tags"):
            if add:
                self.store.add_tags(chat_ids, add)
            if remove:
                self.store.remove_tags(chat_ids, remove)
        self.data_changed()
        parts = ([f"added {', '.join(add)}"] if add else []) + ([f"removed {', '.join(remove)}"] if remove else [])
        self.status(f"Tags of {_n(len(chat_ids), 'chat')}: {'; '.join(parts)} - Ctrl+Z to undo")

    def select_all(self) -> None:
        self.chat_list.select_all()
        self.chat_list.tree.focus_set()
        self.status(f"Selected {_n(len(self.chat_list.selected), 'chat')}")

    def open_chat(self, chat_id: int, message_index: int | None = None) -> Any:
        """Open (or raise) the chat's editor; with `message_index` (0-based), scroll to that
        message and put the cursor in it (the Problems panel opens chats this way)."""
        try:
            from lima_tk.ui.chat_editor import open_chat_editor
        except ModuleNotFoundError as e:
            if e.name != "lima_tk.ui.chat_editor":
                raise
            self.status("The chat editor is not part of this build yet", error=True)
            return None
        editor = open_chat_editor(self, chat_id)
        if message_index is not None:
            # After the editor's own first focus (an after_idle of its own), so this one wins.
            editor.after_idle(lambda: editor.show_message(message_index))
        return editor

    # -- tokens, stats, problems (issues 6 and 7) -------------------------------------------------

    def preview_tokens(self) -> Any:
        """The cursor chat as the model sees it: rendered with the chat template, and counted."""
        cid = self.chat_list.cursor_id()
        if cid is None:
            ids = self.chat_list.selection_ids()
            cid = ids[0] if ids else None
        if cid is None or self.store is None:
            self.status("Select a chat to preview", error=True)
            return None
        from lima_tk.ui.token_preview import open_token_preview

        return open_token_preview(self, cid)

    @action
    def count_tokens_now(self) -> bool:
        """View > Count tokens now: count what is missing (a hub tokenizer is downloaded if needed)."""
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return False
        self.flush_pending(strict=False)
        return self.tokens.start(download=True, force=True, asked=True)

    def open_stats_board(self) -> Any:
        """View > Stats board (one per window: an open one is raised and refreshed)."""
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        from lima_tk.ui.stats_board import open_stats_board

        return open_stats_board(self)

    def open_problems_panel(self) -> Any:
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        try:
            from lima_tk.ui.problems import open_problems_panel
        except ModuleNotFoundError as e:
            if e.name != "lima_tk.ui.problems":
                raise
            self.status("The problems panel is not part of this build yet", error=True)
            return None
        return open_problems_panel(self)

    def language_dialog(self) -> Any:
        if not self._writable():
            return None
        ids = self._selection("set the language of")
        from lima_tk.ui.language_dialog import LanguageDialog

        return LanguageDialog(self, ids) if ids else None

    def tags_dialog(self) -> Any:
        if not self._writable():
            return None
        ids = self._selection("tag")
        from lima_tk.ui.tags_dialog import TagsDialog

        return TagsDialog(self, ids) if ids else None

    # -- dataset files -------------------------------------------------------------------------

    def _start_path(self, db_path: str | Path | None) -> Path:
        if db_path:
            return Path(db_path).expanduser()
        if os.environ.get("LIMA_TK_DB"):
            return default_dataset_path()
        last = self.user_settings.get("last_dataset")
        if isinstance(last, str) and last and Path(last).is_file():
            return Path(last)
        return default_dataset_path()

    def open_dataset(self, path: str | Path, readonly: bool = False, quiet: bool = False) -> bool:
        """Switch the window to a dataset file (created when missing). A problem is shown, not raised.

        quiet: report in the status bar and the empty list only (start-up), not in a dialog."""
        path = Path(path).expanduser()
        if self.store is not None and not self.settle_unsaved(quitting=False):
            return False  # an editor's typing cannot be saved, and the user kept the windows open
        try:
            new = DatasetStore(path, readonly=readonly)
            # Opening may wait for a lock (a migration); from now on the Tk thread's writes wait at
            # most GUI_BUSY_TIMEOUT_MS and a failed one is retried (lima_tk/ui/autosave.py).
            new.set_busy_timeout(GUI_BUSY_TIMEOUT_MS)
        except (DatasetError, sqlite3.Error, OSError) as e:
            msg = str(e) if isinstance(e, DatasetError) else f"{path}: cannot open ({e})"
            if quiet or self.store is None:
                self.open_error = msg
            self.status(msg, error=True)
            if not quiet:
                dialogs.show_error(self.root, "Cannot open the dataset", msg)
            if self.store is None:
                self.chat_list.refresh()
                self._update_title()
            return False
        self._close_store()
        self.store = new
        self.open_error = None
        self._version = new.data_version()
        self.chat_list.selected = set()
        self.chat_list.cursor = self.chat_list.anchor = -1
        self.chat_list.top = 0
        self.filter_var.set("")
        self.tag_var.set(ALL_TAGS)
        self.lang_var.set(ALL_LANGS)
        self.over_var.set(False)
        if self._filter_after is not None:
            self.root.after_cancel(self._filter_after)
            self._filter_after = None
        self.chat_list.filter = ChatFilter()
        self.chat_list.refresh()
        self.update_count()
        self._update_title()
        self._remember(path)
        n = self.chat_list.total
        ro = f" (read-only: {new.readonly_reason})" if new.readonly and new.readonly_reason else " (read-only)"
        self.status(f"Opened {path.name} - {_n(n, 'chat')}" + (ro if new.readonly else ""))
        self.tokens.dataset_opened()  # counts what is missing, after the first paint
        return True

    def _close_store(self) -> None:
        if self.filter_query is not None:
            self.filter_query.close()
            self.filter_query = None
        if self.store is None:
            return
        self.tokens.dataset_closed()
        try:  # the editors' typing was settled before the new dataset was opened
            self.chat_list.commit_rename()
        except LimaError as e:
            self.status(str(e), error=True)
        for ed in list(self.editors.values()):
            _destroy(ed)
        self.editors.clear()
        try:
            self.store.close()
        except (sqlite3.Error, LimaError):
            pass
        self.store = None

    def _update_title(self) -> None:
        store = self.store
        if store is None:
            self.root.title("lima-tk")
            self.path_label.configure(text="")
            self.notice.pack_forget()
            return
        ro = " (read-only)" if store.readonly else ""
        self.root.title(f"{store.path.name}{ro} - lima-tk")
        for b in self.tool_buttons.values():
            b.state(["disabled"] if store.readonly else ["!disabled"])
        path = _short(str(store.path))
        self.path_label.configure(text=path if len(path) <= 48 else "…" + path[-47:])
        if store.readonly:
            why = getattr(store, "readonly_reason", None) or "this file (or its folder) cannot be written"
            self.notice_label.configure(
                text=f"Read-only: {why}. You can browse, search and "
                     "export; to edit, use File > Save a copy as… and open the copy.")
            self.notice.pack(side="top", fill="x", before=self.toolbar)
        else:
            self.notice.pack_forget()

    def _remember(self, path: Path) -> None:
        p = str(path.resolve())
        recent = [x for x in self.user_settings.get("recent_files") or [] if isinstance(x, str) and x != p]
        self.user_settings["recent_files"] = [p, *recent][:MAX_RECENT]
        self.user_settings["last_dataset"] = p
        self._save_user_settings()

    def _save_user_settings(self) -> None:
        try:
            save_user_settings(self.user_settings)
        except OSError as e:
            self.status(f"Could not save your settings: {e}", error=True)

    def open_recent(self, path: str | Path) -> bool:
        return self.open_path(Path(path))

    @action
    def new_dataset(self) -> bool:
        folder = str(self.store.path.parent) if self.store else None
        path = dialogs.ask_save_path(self.root, "New dataset", initialfile=f"dataset{DATASET_SUFFIX}",
                                     defaultextension=DATASET_SUFFIX, filetypes=dialogs.DATASET_TYPES,
                                     initialdir=folder)
        if not path:
            return False
        if not path.name.endswith(".db"):
            path = path.with_name(path.name + DATASET_SUFFIX)
        if path.exists():
            msg = f"{path.name} already exists. Open it with Ctrl+O, or choose another name."
            self.status(msg, error=True)
            dialogs.show_error(self.root, "New dataset", msg)
            return False
        return self.open_dataset(path)

    @action
    def open_dialog(self) -> bool:
        folder = str(self.store.path.parent) if self.store else None
        path = dialogs.ask_open_path(self.root, "Open a dataset or a chat file", dialogs.OPEN_TYPES, folder)
        if not path:
            return False
        return self.open_path(path)

    def open_path(self, path: Path) -> bool:
        """A dataset opens directly; any other file is imported into a new dataset beside it."""
        if not path.exists():
            msg = f"{path}: no such file"
            self.status(msg, error=True)
            dialogs.show_error(self.root, "Open", msg)
            return False
        if _is_dataset(path):
            return self.open_dataset(path)
        return bool(self.import_as_new(path))

    def import_as_new(self, src: Path, name: str | None = None) -> Job | None:
        """Import a chat file into a NEW dataset next to it (the file itself is never changed)."""
        if name is None:
            name = dialogs.ask_string(
                self.root, "Import into a new dataset",
                f"{src.name} is not a lima-tk dataset. Its chats will be imported into a new dataset in "
                f"the same folder; {src.name} itself is not changed.\n\nName of the new dataset:",
                src.name.split(".")[0] or "dataset",
            )
        if not name:
            return None
        if not name.endswith(".db"):
            name += DATASET_SUFFIX
        dest = src.parent / name
        if dest.exists():
            msg = f"{dest.name} already exists in {dest.parent}; choose another name."
            self.status(msg, error=True)
            dialogs.show_error(self.root, "Import", msg)
            return None
        from lima_tk.ui import interop

        fmt = interop.detect(src)
        if fmt in interop.IMPORT_OPTION_FORMATS:
            return interop.ImportOptionsDialog(  # type: ignore[return-value]
                self, src, fmt, lambda options, dup: self._import_new(src, dest, options, dup),
                title="Import into a new dataset", new_dataset=True)
        return self._import_new(src, dest)

    def _import_new(self, src: Path, dest: Path, options: dict[str, Any] | None = None,
                    allow_duplicates: bool = False) -> Job:
        def work(job: Job):
            from lima_tk.formats import import_file

            with DatasetStore(dest) as s:
                return import_file(s, src, "auto", progress=job.progress, cancel=job.cancel_event, options=options,
                                   allow_duplicates=allow_duplicates)

        def done(report):
            self.open_dataset(dest)
            self._import_done(report, src)

        def failed(exc: BaseException | None = None):
            _remove_dataset(dest)
            if exc is None:
                self.status(f"Import of {src.name} cancelled; nothing was created")
            else:
                self._job_failed("Import", exc)

        return self._run_job(f"Importing {src.name}", f"Importing {src.name} into {dest.name}…", work,
                             done, failed, lambda: failed(None), unit="bytes", writes=True)

    @action
    def import_dialog(self, with_options: bool = False) -> Any:
        """File > Import (Ctrl+I): choose a file; a format with options (a ChatGPT export) asks for
        them first. File > Import with options… (Ctrl+Shift+I) always asks (duplicates too)."""
        if not self._writable():
            return None
        path = dialogs.ask_open_path(self.root, "Import into this dataset", dialogs.IMPORT_TYPES,
                                     str(self.store.path.parent))
        if not path:
            return None
        return self.start_import(path, with_options)

    def start_import(self, path: str | Path, with_options: bool = False) -> Any:
        """The import of `path`: the options dialog (returned) when the format has options or
        `with_options`, else the import Job at once."""
        from lima_tk.ui import interop

        src = Path(path)
        fmt = interop.detect(src)
        if with_options or fmt in interop.IMPORT_OPTION_FORMATS:
            return interop.ImportOptionsDialog(
                self, src, fmt, lambda options, dup: self.import_file(src, options=options, allow_duplicates=dup))
        return self.import_file(src)

    def import_file(self, path: str | Path, *, options: dict[str, Any] | None = None,
                    allow_duplicates: bool = False) -> Job | None:
        """Import a chat file into the open dataset on a worker thread (one undo step)."""
        if not self._writable():
            return None
        src = Path(path)
        db = self.store.path
        self.flush_pending(strict=False)

        def work(job: Job):
            from lima_tk.formats import import_file

            with DatasetStore(db) as s:
                return import_file(s, src, "auto", progress=job.progress, cancel=job.cancel_event, options=options,
                                   allow_duplicates=allow_duplicates)

        return self._run_job(f"Importing {src.name}", f"Importing {src.name} into {db.name}…", work,
                             lambda r: (self.data_changed(), self._import_done(r, src)),
                             lambda e: self._job_failed("Import", e),
                             lambda: self.status(f"Import of {src.name} cancelled; the dataset is unchanged"),
                             unit="bytes", writes=True)

    def _import_done(self, report: Any, src: Path) -> None:
        from lima_tk.formats import summary
        from lima_tk.ui import interop

        what = interop.IMPORT_LABELS.get(report.format, report.format)
        self.last_report = interop.show_report(self, report, summary.import_heading(report, src.name, what),
                                               imported=True)
        self.status(summary.import_status(report, src.name))

    @action
    def export_dialog(self) -> Any:
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        self.flush_pending(strict=False)
        from lima_tk.ui.interop import ExportDialog

        return ExportDialog(self)

    def run_export(self, out: Path, fmt: str, chat_filter: ChatFilter | None, *,
                   options: dict[str, Any] | None = None, skip_problems: bool = False,
                   push: tuple[str, bool] | None = None) -> Job | None:
        """Export on a worker thread behind a progress dialog. `push` = (repo id, private): then
        upload the exported folder (hf) to the Hugging Face Hub, on the same worker."""
        if self.store is None:
            return None
        self.flush_pending(strict=False)
        db, ro = self.store.path, self.store.readonly

        def work(job: Job):
            from lima_tk.errors import LimaError
            from lima_tk.formats import export_file

            with DatasetStore(db, readonly=ro) as s:
                report = export_file(s, out, fmt, chat_filter=chat_filter, progress=job.progress,
                                     cancel=job.cancel_event, options=options, skip_problems=skip_problems)
            uploaded: str | LimaError | None = None
            if push is not None:
                from lima_tk.formats.hf import push_folder

                try:
                    uploaded = push_folder(out, push[0], push[1])
                except LimaError as e:  # the folder is written either way: say what failed
                    uploaded = e
            return report, uploaded

        def done(result):
            from lima_tk.formats import summary
            from lima_tk.ui import interop

            r, uploaded = result
            pref = fmt in interop.PREFERENCE_FORMATS
            text = summary.export_status(r, out.name, preference=pref,
                                         uploaded=uploaded if isinstance(uploaded, str) else None)
            self.last_report = interop.show_report(self, r, summary.export_heading(r, out.name, preference=pref),
                                                   imported=False)
            if isinstance(uploaded, Exception):
                self.status(f"{text}; the upload failed: {uploaded}", error=True)
                dialogs.show_error(self.root, "Upload failed", f"{out.name} was written, but the upload failed:"
                                                               f"\n\n{uploaded}")
                return
            self.status(text)

        message = f"Exporting to {out.name}…"
        if push is not None:
            message = f"Exporting to {out.name}, then uploading it to {push[0]}…"
        return self._run_job("Exporting", message, work, done,
                             lambda e: self._job_failed("Export", e),
                             lambda: self.status("Export cancelled; no file was written"), unit="chats")

    @action
    def save_copy_dialog(self) -> Job | None:
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        stem = self.store.path.name.removesuffix(DATASET_SUFFIX)
        path = dialogs.ask_save_path(self.root, "Save a copy as", initialfile=f"{stem} copy{DATASET_SUFFIX}",
                                     defaultextension=DATASET_SUFFIX, filetypes=dialogs.DATASET_TYPES,
                                     initialdir=str(self.store.path.parent))
        if not path:
            return None
        return self.save_copy(path)

    def save_copy(self, dest: str | Path) -> Job | None:
        """Copy the dataset with SQLite's backup API (consistent even while it is in use)."""
        if self.store is None:
            return None
        dest = Path(dest)
        try:  # not the dataset itself, nor its -wal/-shm, through links too (issue 10)
            refuse_dataset_target(dest, self.store.path)
        except DatasetError as e:
            self.status(str(e), error=True)
            dialogs.show_error(self.root, "Save a copy", str(e))
            return None
        self.flush_pending(strict=False)
        src_path, ro = self.store.path, self.store.readonly

        def work(job: Job):
            with DatasetStore(src_path, readonly=ro) as src:
                return src.save_copy(dest, job.progress, job.cancel_event)

        return self._run_job("Saving a copy", f"Saving a copy as {dest.name}…", work,
                             lambda d: self.status(f"Saved a copy as {d}"),
                             lambda e: self._job_failed("Save a copy", e),
                             lambda: self.status("Copy cancelled"), unit="pages")

    def _run_job(self, title: str, message: str, work, on_done, on_error, on_cancelled, unit: str = "",
                 writes: bool = False) -> Job:
        # run_with_progress collects all garbage first: Tk variables of a closed dialog found by a
        # collection in the worker would be finalized there (a Tcl call off the Tk thread).
        job = run_with_progress(self.root, title, message, work, on_done=on_done, on_error=on_error,
                                on_cancelled=on_cancelled, unit=unit, poll_ms=self.job_poll_ms)
        job.writes = writes
        self.jobs = [j for j in self.jobs if not j.finished] + [job]
        return job

    def _job_failed(self, what: str, exc: BaseException) -> None:
        if isinstance(exc, (LimaError, OSError, sqlite3.Error)):
            msg = str(exc)
            self.status(f"{what} failed: {msg}", error=True)
            dialogs.show_error(self.root, f"{what} failed", msg)
        else:
            raise exc

    @action
    def save_now(self) -> None:
        """Ctrl+S: every change is already on disk; flush what editors still hold and say so."""
        self.flush_pending(strict=False)
        self._save_window_settings()
        failing = next((r for ed in self.editors.values() if (r := getattr(ed, "save_failure", lambda: None)())),
                       None)
        if failing:
            self.status(f"Not saved: {failing}, retrying", error=True)
            return
        self.status(f"Saved {time.strftime('%H:%M:%S')}")

    # -- dialogs -----------------------------------------------------------------------------

    def settings_dialog(self) -> Any:
        from lima_tk.ui.settings_dialog import SettingsDialog

        return SettingsDialog(self)

    def shortcuts_dialog(self) -> Any:
        from lima_tk.ui.help_dialogs import ShortcutsDialog

        return ShortcutsDialog(self)

    def about(self) -> None:
        from lima_tk.ui.help_dialogs import about

        about(self)

    def set_font_size(self, size: int) -> None:
        self.user_settings["font_size"] = int(size)
        theme.set_font_size(self.root, int(size))
        self.chat_list._head = 0
        self.chat_list._update_page()
        self.chat_list._render()

    # -- polling, closing ------------------------------------------------------------------

    def _poll(self) -> None:
        """Notice a second instance (or our own worker) changing the file."""
        self._poll_after = None
        if self._closed:
            return
        if self.store is not None:
            try:
                v = self.store.data_version()
            except (sqlite3.Error, LimaError) as e:  # a plain sentence from the store (issue 10)
                self.status(str(e) if isinstance(e, LimaError) else f"Cannot read the dataset: {e}", error=True)
            else:
                if v != self._version:
                    self._version = v
                    if self.tokens.may_have_written() and self._content_signature() == self._signature:
                        self.tokens.derived_changed()  # only token counts (our own count pass)
                    else:
                        self._signature = self._content_signature()
                        self.data_changed()
        self._poll_after = self.root.after(self.poll_ms, self._poll)

    def _content_signature(self) -> tuple:
        """What changes when the data does, but not when only token counts are written (read only
        when data_version moved while a count ran; ~1 ms on 100,000 chats)."""
        return self.store.content_signature() if self.store is not None else ()

    def remember_content(self) -> None:
        """A token count pass starts on another connection: what the data is now, so that the poll
        can tell its writes from real changes."""
        self._signature = self._content_signature()

    def _close_vanished_editors(self) -> None:
        if not self.editors or self.store is None:
            return
        ids = list(self.editors)
        alive = set(self.store.chat_ids(ChatFilter(ids=ids)))
        for cid in ids:
            if cid not in alive:
                _destroy(self.editors.pop(cid))

    def _restore_geometry(self) -> None:
        geo = self.user_settings.get("geometry")
        try:
            self.root.geometry(geo if isinstance(geo, str) and geo else "1120x680")
        except tk.TclError:
            self.root.geometry("1120x680")
        self.root.minsize(640, 360)

    def _save_window_settings(self) -> None:
        try:
            if self.root.state() == "normal":
                self.user_settings["geometry"] = self.root.geometry()
        except tk.TclError:
            pass
        self.user_settings["column_widths"] = self.chat_list.column_widths()
        if self.store is not None:
            self.user_settings["last_dataset"] = str(self.store.path.resolve())
        self._save_user_settings()

    def settle_unsaved(self, quitting: bool = True) -> bool:
        """Before the editors close (quitting, opening another dataset): write their typing.
        What cannot be written (another process holds the lock, a full disk) is retried for a
        moment while the Tk loop runs, then the user is asked: retry, copy the text, or keep
        the windows open (False)."""
        editors = [ed for ed in self.editors.values() if hasattr(ed, "try_save") and not ed.closed]
        if not editors:
            return True

        def attempt() -> bool:
            return all(ed.try_save() for ed in editors if not ed.closed)  # stops at the first failure

        def pieces() -> list[tuple[str, str]]:
            return [p for ed in editors if not ed.closed for p in ed.unsaved_texts()]

        def reason() -> str | None:
            return next((r for ed in editors if not ed.closed and (r := ed.save_failure())), None)

        answer = resolve_unsaved(self.root, attempt=attempt, pieces=pieces, reason=reason, quitting=quitting)
        if answer == "keep":
            self.status(f"Not saved: {reason() or 'the dataset could not be written'}, retrying", error=True)
            return False
        return True

    def close(self) -> None:
        """Save what is pending and the window settings, then destroy the window. Typing an
        editor cannot save is never dropped silently: see settle_unsaved()."""
        if self._closed or self._closing:
            return
        self._closing = True
        try:
            if not self.settle_unsaved(quitting=True):
                return
        finally:
            self._closing = False
        try:  # a chat name being edited in the list (the editors' typing was settled above)
            self.chat_list.commit_rename()
        except LimaError as e:  # the change is lost only if the file can not be written at all
            handle_callback_error(type(e), e, e.__traceback__, self.status)
        self._closed = True
        self._save_window_settings()
        for job in self.jobs:
            job.stop_polling()
        self.tokens.close()
        for after_id in (self._poll_after, self._filter_after):
            if after_id is not None:
                try:
                    self.root.after_cancel(after_id)
                except tk.TclError:
                    pass
        for ed in list(self.editors.values()):
            _destroy(ed)
        self.editors.clear()
        if self.filter_query is not None:
            self.filter_query.close()
            self.filter_query = None
        if self.store is not None:
            self.store.close()
            self.store = None
        try:
            self.root.destroy()
        except tk.TclError:
            pass

    def _report_callback_exception(self, exc: type[BaseException], val: BaseException, tb: Any) -> None:
        handle_callback_error(exc, val, tb, show=lambda text: self.status(text, error=True))


# -- helpers -----------------------------------------------------------------------------------


def _plain_sqlite(e: sqlite3.Error, store: DatasetStore | None) -> str:
    """A SQLite error as one plain sentence that names the file (never "database is locked")."""
    from lima_tk.ui.autosave import plain_reason

    name = store.path.name if store is not None else "the dataset"
    return f"Nothing was changed: {plain_reason(e).replace('the dataset', name)}; try again"


def _n(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _short(path: str) -> str:
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path


def _is_dataset(path: Path) -> bool:
    if path.name.endswith(DATASET_SUFFIX) or is_open_dataset(path):
        return True  # never open() a dataset that is open: that would drop SQLite's locks
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _remove_dataset(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except OSError:
            pass


def _destroy(editor: Any) -> None:
    try:
        editor.destroy()
    except tk.TclError:
        pass


def main(db_path: Path | None = None, readonly: bool = False) -> int:
    """`lima-tk` with no subcommand: open the window and return when it closes."""
    app = App(db_path, readonly=readonly)
    if os.environ.get("LIMA_TK_EXIT_AFTER_PAINT"):
        _exit_after_paint(app)
    app.root.mainloop()
    return 0


def _exit_after_paint(app: App) -> None:
    """Benchmark hook: print the time when the first list is on screen, then close."""

    def painted() -> None:
        app.chat_list.tree.update_idletasks()
        print(f"painted {time.time():.6f} rows={len(app.chat_list.visible_ids())} total={app.chat_list.total} "
              f"tokenizers={'tokenizers' in sys.modules}", flush=True)
        if os.environ.get("LIMA_TK_EXIT_AFTER_PAINT") == "rss":
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"maxrss_kb {rss}", flush=True)
        if os.environ.get("LIMA_TK_EXIT_AFTER_PAINT") == "count":
            counted()  # and the time the token counts are on screen
            return
        app.close()

    def counted() -> None:
        t = app.tokens
        if t.running or t.total_pending:
            app.root.after(5, counted)
            return
        print(f"counted {time.time():.6f} state={t.state} total={t.total.total if t.total else None} "
              f"cell={app.chat_list.token_text(app.chat_list.visible_ids()[0]) if app.chat_list.total else ''}",
              flush=True)
        app.close()

    def mapped(_e: object = None) -> None:
        app.chat_list.tree.unbind("<Map>")
        app.root.after_idle(painted)

    if app.chat_list.tree.winfo_ismapped():
        app.root.after_idle(painted)
    else:
        app.chat_list.tree.bind("<Map>", mapped)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
