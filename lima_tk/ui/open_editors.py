"""The chat editors open in the main window: `app.editors` (chat id -> editor; an editor registers
and unregisters itself), with what the window does to all of them at once: save their typing,
reload them, stop their streams, close those whose chat is gone, ask before quitting.

A dict, so the editor (and a test's stand-in window, which uses a plain dict) only ever does
`editors[chat_id] = self`, `.get()` and `del`. The editors are `interfaces.EditorLike`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lima_tk.errors import DatasetError
from lima_tk.store import ChatFilter
from lima_tk.ui.autosave import resolve_unsaved
from lima_tk.ui.save_state import combined

if TYPE_CHECKING:
    from lima_tk.store import DatasetStore


class OpenEditors(dict[int, Any]):
    """chat id -> its open editor. `on_save_state(state)` hears the editors' combined saving
    state (lima_tk/ui/save_state.py) whenever one of them changes."""

    on_save_state: Callable[[str], object] | None = None

    def save_state_changed(self) -> None:
        if self.on_save_state is not None:
            self.on_save_state(combined(ed.saving.state() for ed in list(self.values())
                                        if getattr(ed, "saving", None) is not None and not ed.closed))

    def flush(self, strict: bool = True) -> None:
        """Save what the editors still hold (typing inside their debounce). A write that fails
        stays unsaved in its editor, which shows it and retries; `strict` (before a change to the
        dataset) then raises its DatasetError, so the caller changes nothing."""
        for ed in list(self.values()):
            flush = getattr(ed, "flush", None)
            if flush is None:
                continue
            try:
                flush()
            except DatasetError:
                if strict:
                    raise

    def reload_all(self, source: object | None = None) -> None:
        """Every editor but `source` re-reads its chat."""
        for ed in list(self.values()):
            if ed is not source and hasattr(ed, "reload"):
                ed.reload()

    def stop_streams(self) -> None:
        """Undo/redo while an editor streams a reply: stop it first (its text so far is saved and
        joins the generation's undo step), as the editor's own Ctrl+Z does."""
        for ed in list(self.values()):
            stop = getattr(ed, "stop_streaming", None)
            if stop is not None:
                stop()

    def close_vanished(self, store: DatasetStore | None) -> None:
        """Close the editors whose chat no longer exists (deleted, undone, another window)."""
        if not self or store is None:
            return
        ids = list(self)
        alive = set(store.chat_ids(ChatFilter(ids=ids)))
        for cid in ids:
            if cid not in alive:
                destroy(self.pop(cid))

    def discard(self, chat_ids: list[int]) -> None:
        """Close the editors of these chats (they were deleted)."""
        for cid in chat_ids:
            ed = self.pop(cid, None)
            if ed is not None:
                destroy(ed)

    def destroy_all(self) -> None:
        for ed in list(self.values()):
            destroy(ed)
        self.clear()

    def save_failure(self) -> str | None:
        """Why some editor cannot save right now (plain words), None when all can."""
        return next((r for ed in self.values() if (r := getattr(ed, "save_failure", lambda: None)())), None)

    def settle(self, parent: tk.Misc, status: Callable[..., None], quitting: bool = True) -> bool:
        """Before the editors close (quitting, opening another dataset): write their typing.
        What cannot be written (another process holds the lock, a full disk) is retried for a
        moment while the Tk loop runs, then the user is asked: retry, copy the text, or keep
        the windows open (False)."""
        editors = [ed for ed in self.values() if hasattr(ed, "try_save") and not ed.closed]
        if not editors:
            return True

        def attempt() -> bool:
            return all(ed.try_save() for ed in editors if not ed.closed)  # stops at the first failure

        def pieces() -> list[tuple[str, str]]:
            return [p for ed in editors if not ed.closed for p in ed.unsaved_texts()]

        def reason() -> str | None:
            return next((r for ed in editors if not ed.closed and (r := ed.save_failure())), None)

        answer = resolve_unsaved(parent, attempt=attempt, pieces=pieces, reason=reason, quitting=quitting)
        if answer == "keep":
            status(f"Not saved: {reason() or 'the dataset could not be written'}, retrying", error=True)
            return False
        return True


def destroy(editor: Any) -> None:
    try:
        editor.destroy()
    except tk.TclError:
        pass
