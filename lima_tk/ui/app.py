"""The main window: the chat list over the store, the toolbar and filter bar, menus, status bar.

Every menu item and shortcut is a virtual event bound on the root (`<<NewChat>>`, `<<Undo>>`...,
see `lima_tk.ui.actions`), so tests fire them with `event_generate`. The window holds no copy of
the data: every action is one store call, then `data_changed()` re-reads what is on screen.

The window is made of components, each with the interface it needs from the window
(lima_tk/ui/interfaces.py): `ChatList` (the virtual list), `FilterBar`, `MenuBar`,
`TokenCounting` (status bar), `DatasetFiles` (open, new, recent, import, export, save a copy),
`ChatActions` (the Chat menu) and `OpenEditors` (`editors`: the chat editors, which rely on
`interfaces.EditorHost`: `root`, `store`, `user_settings`, `status(text)`, `editors`,
`data_changed(source)`, `undo()`, `redo()`, `flush_pending()`, and optionally `tokens`,
`settings_dialog()`, `open_chat()`).

Tk thread only, except the `work` functions of the jobs, which run on a worker thread with a store
of their own.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import DatasetError, LimaError
from lima_tk.settings import load_user_settings, save_user_settings
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.ui import app_icon, dialogs, mac, theme, timers, windows
from lima_tk.ui.actions import ACTIONS, MENU_GROUPS, MENUS, Action
from lima_tk.ui.autosave import GUI_BUSY_TIMEOUT_MS
from lima_tk.ui.chat_actions import ChatActions
from lima_tk.ui.chat_list import ChatList
from lima_tk.ui.dataset_files import DatasetFiles, unfinished_import
from lima_tk.ui.errors import as_status_line as action
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.filter_bar import FilterBar
from lima_tk.ui.help_links import HelpActions
from lima_tk.ui.menus import MenuBar
from lima_tk.ui.open_editors import OpenEditors
from lima_tk.ui.platform import current
from lima_tk.ui.status_bar import StatusBar
from lima_tk.ui.theme import PAD
from lima_tk.ui.token_counting import TokenCounting

if TYPE_CHECKING:
    from lima_tk.ui.filter_query import FilterQuery

TEXT_CLASSES = {"Entry", "TEntry", "TCombobox", "Text", "Spinbox", "TSpinbox", "Listbox"}


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
        # Token counting (issue 6) starts this long after the dataset opened, once the list is painted.
        self.count_tokens = count_tokens
        self.count_delay_ms = count_delay_ms
        self.store: DatasetStore | None = None
        self.editors = OpenEditors()
        self.open_error: str | None = None
        self._version = -1
        self._closed = False
        self._closing = False  # close() is asking about unsaved text
        self._poll_after: str | None = None
        self._signature: tuple = ()
        # The windows of which the main window has one at most (raised when asked for again).
        self.stats_board: Any = None
        self.problems_panel: Any = None
        self.token_previews: dict[int, Any] = {}

        windows.prepare_process()  # Windows: DPI aware before the first window (crisp text)
        self.root = tk.Tk(className="Lima-tk")
        self.root.withdraw()
        self.root.title("lima-tk")
        self.root.report_callback_exception = self._report_callback_exception
        timers.sweep_on_close(self.root)  # a closed window's timers do not fire into deleted commands
        scale = self.user_settings.get("ui_scale") or None
        if scale is None and current(self.root).ws == "win32":
            windows.apply_dpi_scaling(self.root)  # points -> pixels from the monitor's real DPI
        theme.apply_theme(self.root, self.font_size, scale=scale)
        app_icon.set_icon(self.root)  # the window's and the taskbar's / Dock's icon
        self.files = DatasetFiles(self, poll_ms=job_poll_ms)
        self.jobs = self.files.jobs  # the running and finished jobs (import, export, copy)
        self.chats = ChatActions(self)
        self.help = HelpActions(self)
        self._build(debounce_ms, async_filter_from, job_poll_ms)
        self._bind_actions()
        self.help.start()  # the welcome panel on the first run
        self._restore_geometry()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self.root.deiconify()
        self.open_dataset(self.files.start_path(db_path), readonly=readonly, quiet=True)
        self._poll_after = self.root.after(self.poll_ms, self._poll)

    # -- what the editors, dialogs and components use (interfaces.EditorHost, FilesHost...) --

    @property
    def font_size(self) -> int:
        try:
            return int(self.user_settings.get("font_size") or 11)
        except (TypeError, ValueError):
            return 11

    def status(self, text: str, error: bool = False) -> None:
        """Show a message in the status bar (`error`: in red, with a bell). Tk thread only."""
        self.status_bar.show(text, error)

    @property
    def status_text(self) -> str:
        return self.status_bar.text

    def data_changed(self, source: object | None = None) -> None:
        """Something in the dataset changed: refresh the list and every open editor but `source`."""
        if self.store is None:
            self.chat_list.refresh()
            self.update_count()
            return
        self.tokens.data_changed()  # a new tokenizer setting starts a recount
        self.chat_list.refresh()
        self.update_count()
        self.editors.close_vanished(self.store)
        self.editors.reload_all(source)

    @action
    def undo(self) -> None:
        self._journal("undo")

    @action
    def redo(self) -> None:
        self._journal("redo")

    def _journal(self, which: str) -> None:
        if not self.writable():
            return
        assert self.store is not None
        self.editors.stop_streams()  # a reply being generated is stopped first, as in its editor
        self.flush_pending()
        step = self.store.undo() if which == "undo" else self.store.redo()
        if step is None:
            self.status(f"Nothing to {which}")
            return
        self.data_changed()
        self.status(f"{'Undid' if which == 'undo' else 'Redid'} {step.label}")
        self.tokens.recount_missing()

    def flush_pending(self, strict: bool = True) -> None:
        """Save what is still being typed: a chat name in the list, and the open editors' texts
        (a write that fails stays unsaved in its editor, which retries; `strict`, before a change
        to the dataset, then raises its DatasetError, so the caller changes nothing)."""
        self.chat_list.commit_rename()
        self.editors.flush(strict)

    def writable(self) -> bool:
        """False (and says why) when no change may be made now."""
        if self.store is None:
            self.status("Open or create a dataset first (Ctrl+O)", error=True)
            return False
        if self.store.readonly:
            self.status("This dataset is read-only: changes are off", error=True)
            return False
        if self.files.writing:
            self.status("Wait for the import to finish (or cancel it)", error=True)
            return False
        return True

    def save_settings(self) -> None:
        try:
            save_user_settings(self.user_settings)
        except OSError as e:
            self.status(f"Could not save your settings: {e}", error=True)

    def focus_list(self, cursor: bool = True) -> None:
        cl = self.chat_list
        cl.tree.focus_set()
        if cursor and cl.cursor < 0 and cl.total:
            cl.move_cursor(0)

    @action
    def apply_filter(self) -> None:
        self.filter_bar.apply()

    def clear_filter(self) -> None:
        self.filter_bar.clear()

    def update_count(self) -> None:
        self.filter_bar.update_count()

    @property
    def filter_query(self) -> FilterQuery | None:
        return self.filter_bar.query

    @property
    def last_report(self) -> Any:
        return self.files.last_report

    @property
    def recent_menu(self) -> tk.Menu | None:
        return self.files.recent_menu

    # The files' and the chats' actions, by the names the menus, dialogs and tests know.
    def import_file(self, path: str | Path, **kw: Any) -> Any:
        return self.files.import_file(path, **kw)

    def start_import(self, path: str | Path, with_options: bool = False) -> Any:
        return self.files.start_import(path, with_options)

    def import_as_new(self, src: Path, name: str | None = None) -> Any:
        return self.files.import_as_new(src, name)

    def export_dialog(self) -> Any:
        return self.files.export_dialog()

    def run_export(self, out: Path, fmt: str, chat_filter: ChatFilter | None, **kw: Any) -> Any:
        return self.files.run_export(out, fmt, chat_filter, **kw)

    def save_copy(self, dest: str | Path) -> Any:
        return self.files.save_copy(dest)

    def language_dialog(self) -> Any:
        return self.chats.language_dialog()

    def tags_dialog(self) -> Any:
        return self.chats.tags_dialog()

    def delete_chats(self) -> None:
        self.chats.delete_chats()

    def preview_tokens(self) -> Any:
        return self.chats.preview_tokens()

    # -- building ----------------------------------------------------------------------------

    def _build(self, debounce_ms: int, async_filter_from: int, job_poll_ms: int) -> None:
        root = self.root
        plat = current(root)
        self.menu_bar = MenuBar(root, MENUS, ACTIONS, root.event_generate, separate=MENU_GROUPS,
                                postcommand=self.update_menus, menubar_options={"tearoff": False},
                                special={"<<OpenRecent>>": self.files.make_recent_menu},
                                omit=mac.app_menu_events(plat))
        # A Mac: the application menu, Preferences, Quit (unsaved text settled first), Finder's Open.
        mac.install_app(root, self.menu_bar.menubar, plat, root.event_generate, self.close, self.open_dataset)
        self.menubar, self.menus, self._menu_index = self.menu_bar.menubar, self.menu_bar.menus, self.menu_bar.index

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
        fb = self.filter_bar = FilterBar(self, bar, debounce_ms=debounce_ms, async_from=async_filter_from)
        self.filter_var, self.filter_entry, self.count_label = fb.filter_var, fb.filter_entry, fb.count_label
        self.tag_var, self.tag_combo, self.lang_var, self.lang_combo = fb.tag_var, fb.tag_combo, fb.lang_var, \
            fb.lang_combo
        self.over_var, self.over_check = fb.over_var, fb.over_check

        widths = self.user_settings.get("column_widths") or {}
        self.chat_list = ChatList(
            root, lambda: self.store, on_open=self.open_chat, on_rename=self.chats.rename_chat,
            on_selection=self.update_count, on_context=self._context_menu,
            widths=widths if isinstance(widths, dict) else {},
        )
        self.chat_list.empty_content = self._empty_content

        sb = self.status_bar = StatusBar(root, bar)
        self.editors.on_save_state = sb.show_save_state
        self.notice, self.notice_label, self.status_label = sb.notice, sb.notice_label, sb.label
        # Token counting: its progress and the dataset total, left of the path.
        self.tokens = TokenCounting(self, sb.frame, sb.path_label, enabled=self.count_tokens,
                                    delay_ms=self.count_delay_ms, poll_ms=job_poll_ms)
        sb.pack_message()
        sb.frame.pack(side="bottom", fill="x")
        bar.pack(side="top", fill="x")
        ttk.Separator(root, orient="horizontal").pack(side="top", fill="x")
        self.chat_list.pack(side="top", fill="both", expand=True)

    def _bind_actions(self) -> None:
        files, chats = self.files, self.chats
        handlers: dict[str, Callable[[], object]] = {
            "<<NewDataset>>": files.new_dataset,
            "<<OpenDataset>>": files.open_dialog,
            "<<OpenRecent>>": files.popup_recent,
            "<<Save>>": self.save_now,
            "<<SaveCopyAs>>": files.save_copy_dialog,
            "<<Import>>": files.import_dialog,
            "<<ImportWithOptions>>": lambda: files.import_dialog(with_options=True),
            "<<Export>>": files.export_dialog,
            "<<Settings>>": self.settings_dialog,
            "<<Quit>>": self.close,
            "<<Undo>>": self.undo,
            "<<Redo>>": self.redo,
            "<<SelectAllChats>>": chats.select_all,
            "<<Find>>": self.filter_bar.focus,
            "<<ClearFilter>>": self.clear_filter,
            "<<NewChat>>": chats.new_chat,
            "<<OpenChat>>": lambda: self.chat_list.open_cursor(),
            "<<RenameChat>>": chats.start_rename,
            "<<CopyChats>>": chats.copy_chats,
            "<<DeleteChats>>": chats.delete_chats,
            "<<SetLanguage>>": chats.language_dialog,
            "<<SetTags>>": chats.tags_dialog,
            "<<MoveUp>>": lambda: chats.move_chats(-1),
            "<<MoveDown>>": lambda: chats.move_chats(1),
            "<<PreviewTokens>>": chats.preview_tokens,
            "<<StatsBoard>>": self.open_stats_board,
            "<<Problems>>": self.open_problems_panel,
            "<<OverLimitFilter>>": self.filter_bar.toggle_over_limit,
            "<<CountTokens>>": self.count_tokens_now,
            "<<StopCounting>>": self.tokens.cancel,
            "<<Shortcuts>>": self.shortcuts_dialog,
            "<<About>>": self.about,
            "<<Manual>>": self.help.open_manual,
            "<<Welcome>>": self.help.show_welcome,
            "<<ReportProblem>>": self.help.report_problem,
        }
        self.handlers = handlers
        plat = current(self.root)  # Command instead of Control on a Mac
        for a in ACTIONS:
            fn = handlers[a.event]
            self.root.bind(a.event, lambda e, fn=fn: (fn(), "break")[1])
            for seq in plat.key_sequences(a.keys):
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

    # -- menus -------------------------------------------------------------------------------

    def update_menus(self) -> None:
        """Menu labels and states for now (called when a menu opens): "Undo Delete 3 chats"."""
        store = self.store
        writable = store is not None and not store.readonly
        undo = store.undo_label() if writable else None  # type: ignore[union-attr]
        redo = store.redo_label() if writable else None  # type: ignore[union-attr]
        self.menu_bar.set_item("<<Undo>>", f"Undo {undo}" if undo else "Undo", bool(undo))
        self.menu_bar.set_item("<<Redo>>", f"Redo {redo}" if redo else "Redo", bool(redo))
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
            self.menu_bar.set_item(a.event, None, enabled)

    def menu_label(self, event: str) -> str:
        return self.menu_bar.label(event)

    def _context_menu(self, event: tk.Event) -> None:
        self.update_menus()
        self.menu_bar.popup("Chat", event.x_root, event.y_root)

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

    # -- windows: the chat editor, tokens, stats, problems, dialogs ---------------------------------

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
        """View > Problems (one per window)."""
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        from lima_tk.ui.problems import open_problems_panel

        return open_problems_panel(self)

    def settings_dialog(self) -> Any:
        from lima_tk.ui.settings_dialog import SettingsDialog

        return SettingsDialog(self)

    def shortcuts_dialog(self) -> Any:
        from lima_tk.ui.help_dialogs import ShortcutsDialog

        return ShortcutsDialog(self.root, "Main window")

    def about(self) -> Any:
        return self.help.about()

    def set_font_size(self, size: int) -> None:
        self.user_settings["font_size"] = int(size)
        theme.set_font_size(self.root, int(size))
        self.chat_list.font_changed()

    # -- the dataset ---------------------------------------------------------------------------

    def open_dataset(self, path: str | Path, readonly: bool | str = False, quiet: bool = False) -> bool:
        """Switch the window to a dataset file (created when missing). A problem is shown, not raised.

        readonly: True, or the reason as a string. quiet: report in the status bar and the empty
        list only (start-up), not in a dialog."""
        path = Path(path).expanduser()
        if self.store is not None and not self.settle_unsaved(quitting=False):
            return False  # an editor's typing cannot be saved, and the user kept the windows open
        try:
            new = DatasetStore(path, readonly=bool(readonly))
            new.readonly_reason = readonly if isinstance(readonly, str) else new.readonly_reason
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
        self.filter_bar.reset()
        self.chat_list.filter = ChatFilter()
        self.chat_list.refresh()
        self.update_count()
        self._update_title()
        self.files.remember(path)
        n = self.chat_list.total
        ro = f" (read-only: {new.readonly_reason})" if new.readonly and new.readonly_reason else " (read-only)"
        self.status(f"Opened {path.name} - {n:,} chat{'' if n == 1 else 's'}" + (ro if new.readonly else "")
                    + unfinished_import(new))
        self.tokens.dataset_opened()  # counts what is missing, after the first paint
        # The keyboard starts in the list, on its first row: Down / Enter work at once (issue 13).
        self.focus_list()
        return True

    def _close_store(self) -> None:
        self.filter_bar.close_query()
        if self.store is None:
            return
        self.tokens.dataset_closed()
        try:  # the editors' typing was settled before the new dataset was opened
            self.chat_list.commit_rename()
        except LimaError as e:
            self.status(str(e), error=True)
        self.editors.destroy_all()
        try:
            self.store.close()
        except (sqlite3.Error, LimaError):
            pass
        self.store = None

    def _update_title(self) -> None:
        self.status_bar.show_dataset(self.store)
        if self.store is not None:
            for b in self.tool_buttons.values():
                b.state(["disabled"] if self.store.readonly else ["!disabled"])

    @action
    def save_now(self) -> None:
        """Ctrl+S: every change is already on disk; flush what editors still hold and say so."""
        self.flush_pending(strict=False)
        self._save_window_settings()
        failing = self.editors.save_failure()
        if failing:
            self.status(f"Not saved: {failing}, retrying", error=True)
            return
        self.status(f"Saved {time.strftime('%H:%M:%S')}")

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
        self.save_settings()

    def settle_unsaved(self, quitting: bool = True) -> bool:
        """Before the editors close (quitting, opening another dataset): write their typing; what
        cannot be written is retried for a moment, then the user is asked (OpenEditors.settle).
        False: the user kept the windows open."""
        return self.editors.settle(self.root, self.status, quitting=quitting)

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
        # Teardown: every worker is told to stop and no timer is left behind.
        self.files.close()
        self.tokens.close()
        self.filter_bar.close()
        if self._poll_after is not None:
            try:
                self.root.after_cancel(self._poll_after)
            except tk.TclError:
                pass
        self.editors.destroy_all()
        if self.store is not None:
            self.store.close()
            self.store = None
        timers.cancel_all(self.root)  # no `invalid command name` from a timer after the window
        try:  # Tk's own idle work (a theme change) before the window goes
            self.root.update_idletasks()
        except tk.TclError:
            pass
        try:
            self.root.destroy()
        except tk.TclError:
            pass

    def _report_callback_exception(self, exc: type[BaseException], val: BaseException, tb: Any) -> None:
        handle_callback_error(exc, val, tb, show=lambda text: self.status(text, error=True))


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
