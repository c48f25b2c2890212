"""Shared pieces of the chat-editor tests (no tests here): a stand-in for the main window (the App
contract the editor relies on, over a real tk.Tk and a real DatasetStore), seeding, typing, keys."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Iterator
from typing import Any

from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore
from lima_tk.ui import timers
from lima_tk.ui.chat_editor import ChatEditor, open_chat_editor
from lima_tk.ui.errors import handle_callback_error
from tests.ui.conftest import wait_until


class StandInApp:
    """Test double for lima_tk.ui.app.App: exactly the contract the editor uses."""

    def __init__(self, root: tk.Tk, store: DatasetStore) -> None:
        self.root = root
        self.store = store
        self.user_settings: dict[str, Any] = {}
        self.editors: dict[int, Any] = {}
        self.font_size = 11
        self.statuses: list[str] = []
        self.changes: list[object] = []

    def status(self, text: str) -> None:
        self.statuses.append(text)

    def data_changed(self, source: object | None = None) -> None:
        self.changes.append(source)
        for ed in list(self.editors.values()):
            if ed is not source:
                ed.reload()

    def flush_pending(self) -> None:
        for ed in list(self.editors.values()):
            ed.flush()

    def undo(self) -> None:
        self.flush_pending()
        step = self.store.undo()
        self.data_changed()
        self.status(f"Undid {step.label}" if step else "Nothing to undo")

    def redo(self) -> None:
        self.flush_pending()
        step = self.store.redo()
        self.data_changed()
        self.status(f"Redid {step.label}" if step else "Nothing to redo")


def make_root() -> tk.Tk:
    root = tk.Tk()
    root.withdraw()
    root.report_callback_exception = handle_callback_error
    return root


def stand_in_app(store: DatasetStore, **settings: Any) -> Iterator[StandInApp]:
    """For an `app` fixture (`yield from`): a StandInApp over a new root with `settings` as its user
    settings; afterwards its editors are closed and the root destroyed."""
    root = make_root()
    app = StandInApp(root, store)
    app.user_settings.update(settings)
    yield app
    for ed in list(app.editors.values()):
        ed.close()
    timers.cancel_all(root)  # no timer fires into a deleted command
    root.destroy()


def seed_chat(store: DatasetStore, contents: list[tuple[str, str]] | None = None, name: str = "Chat",
              tools: list[Tool] | None = None, **kw: Any) -> int:
    contents = contents if contents is not None else [("user", "Hello"), ("assistant", "Hi! How can I help?")]
    msgs = [Message(role, content) for role, content in contents]
    cid = store.create_chat(name, kw.get("language", "en"), kw.get("tags", ()), messages=msgs, tools=tools or [])
    store.journal.clear()
    return cid


def open_editor(app: StandInApp, chat_id: int, save_delay: int = 30) -> ChatEditor:
    ed = open_chat_editor(app, chat_id)
    ed.save_delay = save_delay
    ed.props_delay = save_delay
    wait_until(lambda: ed.ready, ed)
    ed.update()
    (ed.focus_lastfor() or ed).focus_force()  # the app gets the keyboard (no window manager here)
    ed.update()
    return ed


def card_at(ed: ChatEditor, index: int):
    mid = ed.order[index]
    return ed.view.card(mid)


def focus_text(ed: ChatEditor, index: int) -> tk.Text:
    ed.focus_message(ed.order[index])
    text = ed.cards[ed.order[index]].text
    text.focus_force()
    ed.update()
    return text


KEYSYMS = {" ": "space", "\n": "Return", ".": "period", ",": "comma", "!": "exclam", "?": "question"}


def type_text(widget: tk.Misc, s: str) -> None:
    """Real key presses (the Text's own bindings insert the characters)."""
    for ch in s:
        widget.event_generate("<KeyPress>", keysym=KEYSYMS.get(ch, ch))
    widget.update()


def key(widget: tk.Misc, sequence: str) -> None:
    widget.update()
    widget.event_generate(sequence)
    widget.update()


def click_action(strip, action: str) -> None:
    """Click a flat button of a card (they are drawn on one Canvas per row)."""
    x, y = strip.point(action)
    strip.event_generate("<Motion>", x=x, y=y)
    strip.event_generate("<Button-1>", x=x, y=y)
    strip.update()


def contents(store: DatasetStore, chat_id: int) -> list[tuple[str, str | None]]:
    return [(m.role, m.content) for m in store.get_chat(chat_id).messages]
