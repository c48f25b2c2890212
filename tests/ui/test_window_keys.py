"""The main window's documented shortcuts (README, docs/gui.md, the shortcuts table): every key of
every action, pressed as a keyboard sends it, fires that action; list-only keys are left to a
text field that has the focus; and the chat keys do their thing on the dataset."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs
from lima_tk.ui.actions import ACTIONS
from tests.ui.app_helpers import app_factory, click_row, seed, settle
from tests.ui.conftest import wait_until


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def pressed(sequence: str) -> str:
    """The key as a keyboard sends it: a capital letter comes with Shift held."""
    m = re.fullmatch(r"<((?:[A-Za-z]+-)*)([A-Za-z0-9_]+)>", sequence)
    assert m, sequence
    mods, keysym = m.group(1), m.group(2)
    if len(keysym) == 1 and keysym.isupper() and "Shift-" not in mods:
        mods += "Shift-"
    return f"<{mods}{keysym}>"


def press(widget, sequence: str) -> None:
    widget.focus_force()
    widget.update()
    widget.event_generate(pressed(sequence))
    widget.update()


@pytest.mark.parametrize("action", [a for a in ACTIONS if a.keys], ids=lambda a: a.event.strip("<>"))
def test_every_key_of_every_action_fires_it(make_app, db_path: Path, action) -> None:
    seed(db_path, 3)
    app = make_app()
    settle(app)
    click_row(app, 0)
    fired: list[str] = []
    # Only record: the real handlers (dialogs, quitting) are tested where they are about.
    app.root.bind(action.event, lambda e: fired.append(action.event) or "break")
    for seq in action.keys:
        press(app.chat_list.tree, seq)
    assert fired == [action.event] * len(action.keys)
    if action.scope == "list":  # typing in the filter field: the key is the field's own
        fired.clear()
        for seq in action.keys:
            press(app.filter_entry, seq)
        assert fired == []


def test_chat_keys_change_the_dataset(make_app, db_path: Path) -> None:
    seed(db_path, 3)
    app = make_app()
    settle(app)
    tree = app.chat_list.tree
    press(tree, "<Control-n>")  # Ctrl+N: a new chat, its name ready to type
    assert app.store.count_chats() == 4
    app.chat_list.commit_rename()
    click_row(app, 0)
    press(tree, "<Control-d>")  # Ctrl+D: a copy
    assert [c.name for c in app.store.iter_chats()] == ["chat 0", "chat 1", "chat 2", "New chat", "chat 0 (copy)"]
    click_row(app, 0)
    press(tree, "<Alt-Down>")
    assert [c.name for c in app.store.iter_chats()][:2] == ["chat 1", "chat 0"]
    press(tree, "<Control-z>")
    assert [c.name for c in app.store.iter_chats()][:2] == ["chat 0", "chat 1"]


def test_find_and_escape(make_app, db_path: Path) -> None:
    seed(db_path, 5)
    app = make_app()
    settle(app)
    press(app.chat_list.tree, "<Control-f>")
    assert app.root.focus_get() is app.filter_entry
    app.filter_entry.insert("end", "chat 3")
    wait_until(lambda: app.chat_list.total == 1, app.root)
    press(app.filter_entry, "<Escape>")
    wait_until(lambda: app.chat_list.total == 5, app.root)
    assert app.filter_var.get() == "" and app.root.focus_get() is app.chat_list.tree


def test_dialog_keys_open_their_windows(make_app, db_path: Path, monkeypatch) -> None:
    seed(db_path, 2)
    app = make_app()
    settle(app)
    click_row(app, 0)
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "ask_open_path", lambda parent, title, *a, **k: asked.append(title))
    monkeypatch.setattr(dialogs, "ask_save_path", lambda parent, title, *a, **k: asked.append(title))
    tree = app.chat_list.tree
    for seq in ("<Control-o>", "<Control-i>", "<Control-S>"):
        press(tree, seq)
    assert len(asked) == 3 and asked[:2] == ["Open a dataset or a chat file", "Import into this dataset"]

    def toplevels() -> set[str]:
        return {w.winfo_class() + ":" + w.title() for w in app.root.winfo_children() if w.winfo_class() == "Toplevel"}

    before = toplevels()
    for seq in ("<Control-l>", "<Control-t>", "<Control-e>", "<Control-comma>", "<F1>", "<F8>"):
        press(tree, seq)
        app.root.update()
    opened = toplevels() - before
    assert len(opened) == 6, opened


def test_ctrl_q_closes_the_window(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    settle(app)
    press(app.chat_list.tree, "<Control-q>")
    assert app._closed
    with DatasetStore(db_path) as s:
        assert s.count_chats() == 1


def documented(accel: str) -> list[str]:
    """"Ctrl+Shift+Z / Ctrl+Y" -> ["<Control-Shift-Z>", "<Control-y>"] (mouse gestures left out)."""
    names = {"Ctrl": "Control", "Shift": "Shift", "Alt": "Alt"}
    keysyms = {",": "comma", "Enter": "Return"}
    out = []
    for alt in accel.split(" / "):
        *mods, key = alt.strip().split("+")
        if not key or "click" in key:
            continue
        key = keysyms.get(key, key)
        if len(key) == 1:
            key = key.upper() if "Shift" in mods else key.lower()
        if key.isdigit():
            key = f"Key-{key}"  # <Control-1> would be a mouse button
        out.append("<" + "".join(names[m] + "-" for m in mods) + key + ">")
    return out


@pytest.mark.parametrize("action", [a for a in ACTIONS if a.keys and a.accel], ids=lambda a: a.event.strip("<>"))
def test_the_shortcut_shown_in_the_menu_is_the_one_that_works(make_app, db_path: Path, action) -> None:
    """What the menu and the shortcuts help show (the accelerator) is what a user presses."""
    seed(db_path, 2)
    app = make_app()
    settle(app)
    click_row(app, 0)
    fired: list[str] = []
    app.root.bind(action.event, lambda e: fired.append(action.event) or "break")
    keys = documented(action.accel)
    assert keys, action.accel
    for seq in keys:
        press(app.chat_list.tree, seq)
    assert fired == [action.event] * len(keys), f"{action.accel} -> {keys}"
