"""What the Chat menu does to the chats of the list: new, rename, copy, delete, move, language,
tags, preview. Each is one store call (one undo step), then the window refreshes from the store;
nothing asks "are you sure" (docs/gui.md). What it needs from the window is
`interfaces.ChatActionsWindow`. Tk thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lima_tk.ui.errors import as_status_line as action

if TYPE_CHECKING:
    import tkinter as tk

    from lima_tk.store import DatasetStore
    from lima_tk.ui.interfaces import ChatActionsWindow


def _n(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class ChatActions:
    """Tk thread only."""

    def __init__(self, host: ChatActionsWindow) -> None:
        self.host = host

    @property
    def root(self) -> tk.Tk:
        return self.host.root

    @property
    def store(self) -> DatasetStore | None:
        return self.host.store

    def status(self, text: str, error: bool = False) -> None:
        self.host.status(text, error=error)

    def _selection(self, verb: str) -> list[int]:
        ids = self.host.chat_list.selection_ids()
        if not ids:
            self.status(f"Select the chats to {verb} first", error=True)
        return ids

    @action
    def new_chat(self) -> int | None:
        if not self.host.writable():
            return None
        cl = self.host.chat_list
        if cl.filter.text:
            self.host.filter_bar.clear_text()  # the new chat matches no words yet: show it
        f = cl.filter
        store = self.host.store
        assert store is not None
        langs = store.get_setting("languages")
        language = f.language or (langs[0] if langs else None)
        cid = store.create_chat(name="New chat", language=language, tags=[f.tag] if f.tag else [])
        self.host.data_changed()
        cl.select_ids([cid], reveal=cid)
        cl.start_rename()
        self.status("New chat - type its name and press Enter; Enter again opens it")
        return cid

    def start_rename(self) -> None:
        if not self.host.writable():
            return
        cl = self.host.chat_list
        if cl.cursor < 0 or cl.cursor_id() not in cl.selected:
            ids = cl.selection_ids()
            if not ids:
                self.status("Select a chat to rename", error=True)
                return
            cl.select_ids(ids, reveal=ids[0])
        cl.start_rename()

    @action
    def rename_chat(self, chat_id: int, name: str) -> None:
        if not self.host.writable():
            return
        self.host.store.rename_chat(chat_id, name)  # type: ignore[union-attr]
        self.host.data_changed()
        self.status(f"Renamed to “{name}”" if name else "Name cleared")

    @action
    def copy_chats(self) -> None:
        if not self.host.writable():
            return
        ids = self._selection("copy")
        if not ids:
            return
        self.host.flush_pending()
        new = self.host.store.copy_chats(ids)  # type: ignore[union-attr]
        self.host.data_changed()
        self.host.chat_list.select_ids(new, reveal=new[0])
        self.status(f"Copied {_n(len(new), 'chat')} - Ctrl+Z to undo")

    @action
    def delete_chats(self) -> None:
        if not self.host.writable():
            return
        ids = self._selection("delete")
        if not ids:
            return
        self.host.flush_pending()
        cl = self.host.chat_list
        cursor = cl.cursor
        n = self.host.store.delete_chats(ids)  # type: ignore[union-attr]
        # (when that failed (busy), the editors stay open)
        self.host.editors.discard(ids)
        cl.selected = set()
        self.host.data_changed()
        if cl.total:
            cl.move_cursor(min(max(cursor, 0), cl.total - 1))
        self.status(f"Deleted {_n(n, 'chat')} - Ctrl+Z to undo")

    @action
    def move_chats(self, delta: int) -> None:
        if not self.host.writable():
            return
        cl = self.host.chat_list
        if cl.sort != "position":
            self.status("Chats move in list order: click the sorted heading until its arrow goes", error=True)
            return
        ids = self._selection("move")
        if not ids:
            return
        cursor = cl.cursor_id()
        self.host.store.move_chats(ids, delta)  # type: ignore[union-attr]
        self.host.data_changed()
        cl.select_ids(ids, reveal=cursor if cursor in ids else ids[0])
        self.status(f"Moved {_n(len(ids), 'chat')} {'up' if delta < 0 else 'down'}")

    @action
    def set_language(self, chat_ids: list[int], language: str | None) -> None:
        if not self.host.writable() or not chat_ids:
            return
        self.host.store.set_language(chat_ids, language)  # type: ignore[union-attr]
        self.host.data_changed()
        what = f"“{language}”" if language else "none"
        self.status(f"Language of {_n(len(chat_ids), 'chat')} set to {what} - Ctrl+Z to undo")

    @action
    def change_tags(self, chat_ids: list[int], add: list[str], remove: list[str]) -> None:
        if not self.host.writable() or not chat_ids or not (add or remove):
            return
        store = self.host.store
        assert store is not None
        with store.change(f"Change tags of {_n(len(chat_ids), 'chat')}", "tags"):
            if add:
                store.add_tags(chat_ids, add)
            if remove:
                store.remove_tags(chat_ids, remove)
        self.host.data_changed()
        parts = ([f"added {', '.join(add)}"] if add else []) + ([f"removed {', '.join(remove)}"] if remove else [])
        self.status(f"Tags of {_n(len(chat_ids), 'chat')}: {'; '.join(parts)} - Ctrl+Z to undo")

    def select_all(self) -> None:
        cl = self.host.chat_list
        cl.select_all()
        cl.tree.focus_set()
        self.status(f"Selected {_n(len(cl.selected), 'chat')}")

    def language_dialog(self) -> Any:
        if not self.host.writable():
            return None
        ids = self._selection("set the language of")
        from lima_tk.ui.language_dialog import LanguageDialog

        return LanguageDialog(self, ids) if ids else None

    def tags_dialog(self) -> Any:
        if not self.host.writable():
            return None
        ids = self._selection("tag")
        from lima_tk.ui.tags_dialog import TagsDialog

        return TagsDialog(self, ids) if ids else None

    def preview_tokens(self) -> Any:
        """The cursor chat as the model sees it: rendered with the chat template, and counted."""
        cl = self.host.chat_list
        cid = cl.cursor_id()
        if cid is None:
            ids = cl.selection_ids()
            cid = ids[0] if ids else None
        if cid is None or self.host.store is None:
            self.status("Select a chat to preview", error=True)
            return None
        from lima_tk.ui.token_preview import open_token_preview

        return open_token_preview(self.host, cid)
