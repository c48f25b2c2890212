"""The Problems panel: findings computed on a worker thread, filters, double-click opens the chat."""

from __future__ import annotations

import gc
import threading
import tkinter as tk
from pathlib import Path

import pytest

from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore
from lima_tk.ui import timers
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.problems import ALL_CODES, ProblemsPanel, open_at, open_problems_panel
from lima_tk.ui.theme import apply_theme
from tests.ui.conftest import wait_until


class StandIn:
    """What the panel needs from the main window: root, store, status(), open_chat()."""

    def __init__(self, db: Path) -> None:
        gc.collect()
        self.root = tk.Tk()
        self.root.withdraw()
        apply_theme(self.root, 10)
        self.root.report_callback_exception = handle_callback_error
        self.store = DatasetStore(db)
        self.messages: list[str] = []
        self.opened: list[tuple[int, int | None]] = []

    def status(self, text: str) -> None:
        self.messages.append(text)

    def open_chat(self, chat_id: int, message_index: int | None = None) -> None:
        assert threading.current_thread() is threading.main_thread()
        self.opened.append((chat_id, message_index))

    def close(self) -> None:
        self.store.close()
        timers.cancel_all(self.root)  # no timer fires into a deleted command
        self.root.destroy()
        gc.collect()


@pytest.fixture
def app(tmp_path: Path):
    db = tmp_path / "p.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("fine", "en", messages=[Message("user", "How are you?"), Message("assistant", "Fine.")])
        s.create_chat("empty reply", "en", messages=[Message("user", "Hello?"), Message("assistant", " ")])
        s.create_chat("two users", "en", messages=[Message("user", "a"), Message("user", "b"),
                                                   Message("assistant", "c")])
        s.create_chat("bad call", "en", tools=[Tool("f")], messages=[
            Message("user", "go"),
            Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                    "function": {"name": "g", "arguments": "{"}}]),
            Message("tool", "ok", tool_call_id="c1"), Message("assistant", "done")])
    a = StandIn(db)
    yield a
    a.close()


def done(panel: ProblemsPanel) -> ProblemsPanel:
    wait_until(lambda: panel.state == "done", panel, timeout=20)
    panel.update()
    return panel


def rows(panel: ProblemsPanel) -> list[tuple]:
    return [tuple(panel.tree.item(i, "values")) for i in panel.tree.get_children()]


def test_lists_findings_computed_on_a_worker(app: StandIn):
    seen: list[str] = []
    real = ProblemsPanel._work

    def spy(*args):
        seen.append(threading.current_thread().name)
        return real(*args)

    ProblemsPanel._work = staticmethod(spy)  # type: ignore[method-assign]
    try:
        panel = done(open_problems_panel(app))
    finally:
        ProblemsPanel._work = staticmethod(real)  # type: ignore[method-assign]
    assert seen == ["lima-tk-problems"]
    assert rows(panel) == [
        ("Error", "empty-message", "2 · empty reply", "2", "the message is only whitespace"),
        ("Warning", "same-role-twice", "3 · two users", "2", "two user messages in a row"),
        ("Error", "bad-arguments", "4 · bad call", "2", "arguments of the call to 'g' are not valid JSON"),
        ("Error", "unknown-function", "4 · bad call", "2",
         "call to 'g', which is not among the chat's tools (f)"),
    ]
    assert panel.summary.cget("text") == "3 errors, 1 warnings in 4 chats"
    assert panel.tree.tag_has("error", "0") and panel.tree.tag_has("warning", "1")
    assert "chat 2 'empty reply' message 2" in panel.detail.cget("text")
    assert open_problems_panel(app) is panel  # one panel per window, raised and refreshed
    done(panel)
    panel.close()
    assert app.problems_panel is None  # type: ignore[attr-defined]


def test_filter_by_code_and_severity(app: StandIn):
    panel = done(open_problems_panel(app))
    values = list(panel.code_box.cget("values"))
    assert values == [ALL_CODES, "bad-arguments (1)", "empty-message (1)", "unknown-function (1)",
                      "same-role-twice (1)"]
    panel.code_box.set("same-role-twice (1)")
    panel.code_box.event_generate("<<ComboboxSelected>>")
    panel.update()
    assert [r[1] for r in rows(panel)] == ["same-role-twice"]
    panel.set_filter(None, "error")
    assert [r[1] for r in rows(panel)] == ["empty-message", "bad-arguments", "unknown-function"]
    panel.set_filter("same-role-twice", "error")
    assert rows(panel) == [] and panel.empty.winfo_manager() == "place"
    panel.set_filter(None, None)
    assert len(rows(panel)) == 4 and panel.empty.winfo_manager() == ""
    panel.close()


def test_double_click_opens_the_chat_at_the_message(app: StandIn):
    panel = done(open_problems_panel(app))
    panel.geometry("900x400+0+0")
    panel.deiconify()
    wait_until(lambda: panel.tree.winfo_viewable(), panel)
    panel.update()
    bbox = panel.tree.bbox("2")
    assert bbox
    x, y = bbox[0] + 10, bbox[1] + bbox[3] // 2
    for _ in range(2):  # two clicks in a row at one place: Tk makes it a <Double-1>
        panel.tree.event_generate("<ButtonPress-1>", x=x, y=y)
        panel.tree.event_generate("<ButtonRelease-1>", x=x, y=y)
    panel.update()
    assert app.opened == [(4, 1)]
    panel.tree.selection_set("1")
    panel.tree.focus_force()
    panel.update()
    panel.tree.event_generate("<Return>")
    panel.update()
    assert app.opened[-1] == (3, 1)
    panel.close()


def test_callback_given_and_refresh_after_a_change(app: StandIn):
    got: list[tuple[int, int | None]] = []
    panel = done(open_problems_panel(app, on_open=lambda c, i: got.append((c, i))))
    panel.tree.selection_set("0")
    panel.open_selected()
    assert got == [(2, 1)]
    mid = app.store.get_chat(2).messages[1].id
    app.store.edit_message_text(mid, "Hi!")
    panel.refresh()
    done(panel)
    assert [r[1] for r in rows(panel)] == ["same-role-twice", "bad-arguments", "unknown-function"]
    panel.close()


def test_a_clean_dataset_says_so(tmp_path: Path):
    db = tmp_path / "clean.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("fine", "en", messages=[Message("user", "How are you?"), Message("assistant", "Fine.")])
    a = StandIn(db)
    try:
        panel = done(open_problems_panel(a))
        assert rows(panel) == [] and "No problems found." in panel.empty.cget("text")
        assert panel.summary.cget("text") == "0 errors, 0 warnings in 1 chats"
        panel.close()
    finally:
        a.close()


def test_open_at_without_open_chat_uses_the_editor(app: StandIn, monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []

    class Editor:
        order = [11, 12]
        focused: list[int] = []

        def winfo_exists(self) -> bool:
            return True

        def focus_message(self, mid: int) -> None:
            self.focused.append(mid)

    editor = Editor()

    def fake_open(app_, chat_id):
        calls.append(chat_id)
        return editor

    import lima_tk.ui.chat_editor as ce

    monkeypatch.setattr(ce, "open_chat_editor", fake_open)

    class NoOpenChat:
        root = app.root
        store = app.store

    open_at(NoOpenChat(), 5, 1)
    assert calls == [5] and editor.focused == [12]

    class OldOpenChat:  # an app whose open_chat takes no message index
        editors = {7: editor}

        def open_chat(self, chat_id: int) -> None:
            calls.append(chat_id)

    open_at(OldOpenChat(), 7, 0)
    assert calls == [5, 7] and editor.focused == [12, 11]
