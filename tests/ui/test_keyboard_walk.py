"""Issue 13, the keyboard walk-through: where the keyboard is at start and after opening a chat,
and the keys that make frequent actions one or two presses. Keys go to the widget that has the
focus (`focused(root)`), as a keyboard sends them; nothing sleeps."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.ui.actions import ACTIONS, EDITOR_ACTIONS
from tests.ui.app_helpers import app_factory, seed, settle
from tests.ui.conftest import wait_until
from tests.ui.process_helpers import LockHolder


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def focused(widget):
    """The widget with the keyboard (None: none of this application's)."""
    return widget.focus_get()


def press(widget, sequence: str) -> None:
    """A key to whatever has the focus in `widget`'s application."""
    target = focused(widget)
    assert target is not None, "nothing has the keyboard"
    target.update()
    target.event_generate(sequence)
    target.update()


def test_the_list_has_the_keyboard_and_a_selected_row_at_start(make_app, db_path: Path) -> None:
    ids = seed(db_path, 3)
    app = make_app()
    settle(app)
    wait_until(lambda: focused(app.root) is not None, app.root)
    assert focused(app.root) is app.chat_list.tree
    assert app.chat_list.selected == {ids[0]} and app.chat_list.cursor == 0
    press(app.root, "<Down>")
    assert app.chat_list.selected == {ids[1]}


def test_opening_a_chat_puts_the_cursor_at_the_end_of_its_last_message(make_app, db_path: Path) -> None:
    ids = seed(db_path, 3)
    app = make_app()
    settle(app)
    wait_until(lambda: focused(app.root) is app.chat_list.tree, app.root)
    press(app.root, "<Down>")
    tree = app.chat_list.tree
    tree.event_generate("<Return>")
    # Under a window manager the new window gets the focus a moment later: until then the list
    # keeps it, and the editor's first focus must not give up because of that.
    tree.focus_force()
    ed = wait_until(lambda: app.editors.get(ids[1]), app.root)
    last = ed.cards[ed.order[-1]].text
    wait_until(lambda: focused(ed) is last, ed)
    assert last.index("insert") == last.index("end-1c")
    press(ed, "<Control-Return>")  # the first Ctrl+Enter is not lost: a new message below
    wait_until(lambda: len(app.store.get_chat(ids[1]).messages) == 3, ed)


# -- dialogs: Enter = the default button, Escape = cancel, Ctrl+A = select all (item 3) -------------


def type_keys(widget, text: str) -> None:
    for ch in text:
        widget.event_generate("<KeyPress>", keysym={":": "colon", "/": "slash", ".": "period"}.get(ch, ch))
    widget.update()


def test_settings_ctrl_a_replaces_the_url_and_enter_saves(make_app, db_path: Path, monkeypatch) -> None:
    seed(db_path, 1)
    app = make_app()
    settle(app)
    app.user_settings["base_url"] = "http://old.example/v1"
    press(app.root, "<Control-comma>")  # Settings…
    dlg = wait_until(lambda: next((w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel"
                                   and w.winfo_ismapped()), None), app.root)
    entry = dlg.base_entry
    entry.focus_force()
    wait_until(lambda: focused(app.root) is entry, app.root)
    press(app.root, "<Control-a>")
    type_keys(entry, "http://new/v1")
    assert entry.get() == "http://new/v1"
    press(app.root, "<Return>")
    wait_until(lambda: not dlg.winfo_exists(), app.root)
    assert app.user_settings["base_url"] == "http://new/v1"


def test_escape_cancels_and_enter_sets_in_the_language_dialog(make_app, db_path: Path) -> None:
    ids = seed(db_path, 1)
    app = make_app()
    settle(app)
    press(app.root, "<Control-l>")
    dlg = wait_until(lambda: getattr(app.chats, "dialog", None) or next(
        (w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel" and w.winfo_ismapped()), None),
        app.root)
    wait_until(lambda: focused(app.root) is dlg.combo, app.root)
    press(app.root, "<Escape>")
    wait_until(lambda: not dlg.winfo_exists(), app.root)
    assert app.store.get_chat(ids[0]).language is None
    app.chat_list.tree.focus_force()
    press(app.root, "<Control-l>")
    dlg = wait_until(lambda: next((w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel"
                                   and w.winfo_ismapped()), None), app.root)
    wait_until(lambda: focused(app.root) is dlg.combo, app.root)
    press(app.root, "<Control-a>")
    type_keys(dlg.combo, "de")
    press(app.root, "<Return>")
    wait_until(lambda: not dlg.winfo_exists(), app.root)
    assert app.store.get_chat(ids[0]).language == "de"


def test_ctrl_a_selects_all_of_a_text(make_app, db_path: Path) -> None:
    ids = seed(db_path, 1)
    app = make_app()
    settle(app)
    press(app.root, "<Return>")
    ed = wait_until(lambda: app.editors.get(ids[0]), app.root)
    last = ed.cards[ed.order[-1]].text
    wait_until(lambda: focused(ed) is last, ed)
    press(ed, "<Control-a>")
    assert last.get("sel.first", "sel.last") == "answer 0"
    type_keys(last, "x")
    assert last.get("1.0", "end-1c") == "x"


# -- help in both windows (item 2), versions (item 4) and roles (item 9) from the keyboard ---------


def open_first_chat(app):
    """Enter on the list's first row (it has the keyboard at start): its editor, cursor in the last
    message."""
    settle(app)
    wait_until(lambda: focused(app.root) is app.chat_list.tree, app.root)
    cid = app.chat_list.id_at(0)
    press(app.root, "<Return>")
    ed = wait_until(lambda: app.editors.get(cid), app.root)
    wait_until(lambda: focused(ed) is ed.cards[ed.order[-1]].text, ed)
    return ed


def shortcuts_window(parent):
    return next((w for w in parent.winfo_children() if isinstance(w, tk.Toplevel)
                 and w.title() == "Keyboard shortcuts"), None)


def test_f1_in_the_editor_lists_the_editor_keys(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    ed = open_first_chat(app)
    press(ed, "<F1>")
    dlg = wait_until(lambda: shortcuts_window(ed), ed)
    assert dlg.notebook.tab(dlg.notebook.select(), "text") == "Chat editor"
    shown = {keys for _, keys in dlg.rows}
    for a in EDITOR_ACTIONS:
        if a.keys:
            assert a.accel in shown, a
    for keys in ("Ctrl+Enter", "Alt+Shift+Up", "Ctrl+Delete", "Ctrl+G", "Ctrl+Shift+G", "Ctrl+W", "Alt+Left",
                 "Ctrl+1", "F1"):
        assert keys in shown
    assert {title for title in dlg.sections} == {"Main window", "Chat editor"}
    press(dlg, "<Escape>")
    wait_until(lambda: not dlg.winfo_exists(), ed)


@pytest.mark.parametrize("window", ["main", "editor"])
def test_every_menu_item_with_a_key_shows_it(make_app, db_path: Path, window: str) -> None:
    seed(db_path, 1)
    app = make_app()
    if window == "main":
        table, bar = ACTIONS, app.menu_bar
    else:
        table, bar = EDITOR_ACTIONS, open_first_chat(app).menu_bar
    assert "Help" in bar.menus
    for a in table:
        if a.menu and a.keys:
            menu, index = bar.index[a.event]
            assert menu.entrycget(index, "accelerator") == a.accel != "", a


FLIP = [("user", "Capital of France?"), ("assistant", "Paris.")]


def test_alt_left_right_flip_versions_and_alt_p_prefers(make_app, db_path: Path) -> None:
    with DatasetStore(db_path) as s:
        cid = s.create_chat("flip", "en", (), messages=[Message(r, c) for r, c in FLIP])
        mid = s.get_chat(cid).messages[1].id
        s.add_alternative(mid, "Lyon, I think.", model="m", finish="stop", show=False)
        s.add_alternative(mid, "It is Paris.", model="m", finish="stop", show=False)
        s.conn.execute("DELETE FROM journal")
    app = make_app()
    ed = open_first_chat(app)

    def shown() -> str:
        return app.store.get_chat(cid).messages[1].content

    press(ed, "<Alt-Right>")
    wait_until(lambda: shown() == "Lyon, I think.", ed)
    press(ed, "<Alt-Right>")
    wait_until(lambda: shown() == "It is Paris.", ed)
    press(ed, "<Alt-Left>")
    wait_until(lambda: shown() == "Lyon, I think.", ed)
    press(ed, "<Alt-Left>")
    wait_until(lambda: shown() == "Paris.", ed)
    assert focused(ed) is ed.cards[mid].text  # the keyboard stays in the reply
    press(ed, "<Alt-p>")
    variants = app.store.get_chat(cid).messages[1].variants()
    assert [bool(v.get("rejected")) for v in variants] == [False, True, True]


def test_ctrl_1_to_4_set_the_role_of_the_focused_message(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    ed = open_first_chat(app)
    cid = ed.chat_id
    roles = lambda: [m.role for m in app.store.get_chat(cid).messages]  # noqa: E731
    for sequence, role in (("<Control-Key-1>", "system"), ("<Control-Key-2>", "user"),
                           ("<Control-Key-4>", "tool"), ("<Control-Key-3>", "assistant")):
        wait_until(lambda: focused(ed) is not None, ed)
        press(ed, sequence)
        wait_until(lambda r=role: roles() == ["user", r], ed)
        assert ed.cards[ed.order[-1]].role_box.get() == role


# -- saving is visible in both windows, and the status is not stale (item 5) -----------------------


def save_states(app, ed) -> tuple[str, str, str, str]:
    return (str(ed.saving.indicator.cget("text")), ed.title(), str(app.status_bar.save_label.cget("text")),
            app.root.title())


def test_saved_saving_and_not_saved_are_shown_in_both_windows(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    ed = open_first_chat(app)
    text = ed.cards[ed.order[-1]].text
    ind, title, main, main_title = save_states(app, ed)
    assert (ind, main) == ("Saved", "Saved") and title == "chat 0 – lima-tk"
    assert "(saving" not in main_title and "(not saved" not in main_title
    type_keys(text, "x")
    ind, title, main, main_title = save_states(app, ed)
    assert (ind, main) == ("Saving…", "Saving…")
    assert title.endswith("(saving…) – lima-tk") and "(saving…)" in main_title
    wait_until(lambda: save_states(app, ed)[0] == "Saved", ed)
    ind, title, main, main_title = save_states(app, ed)
    assert main == "Saved" and "(saving" not in title and "(saving" not in main_title  # (the folder may say "saving")
    assert app.store.get_chat(ed.chat_id).messages[-1].content == "answer 0x"
    with LockHolder(db_path) as lock:
        type_keys(text, "y")
        wait_until(lambda: save_states(app, ed)[0] == "Not saved", ed, timeout=10)
        ind, title, main, main_title = save_states(app, ed)
        assert main == "Not saved" and "(not saved)" in title and "(not saved)" in main_title
        lock.release()
    wait_until(lambda: save_states(app, ed)[0] == save_states(app, ed)[2] == "Saved", ed, timeout=10)
    assert app.store.get_chat(ed.chat_id).messages[-1].content == "answer 0xy"


def test_undo_clears_the_editors_stale_status(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    ed = open_first_chat(app)
    press(ed, "<Control-Delete>")
    wait_until(lambda: len(app.store.get_chat(ed.chat_id).messages) == 1, ed)
    assert "Deleted" in str(ed.status_label.cget("text"))
    ed.canvas.focus_force()
    wait_until(lambda: focused(ed) is ed.canvas, ed)
    press(ed, "<Control-z>")
    wait_until(lambda: len(app.store.get_chat(ed.chat_id).messages) == 2, ed)
    assert "Deleted" not in str(ed.status_label.cget("text"))
