"""The main window on a real dataset: create, rename, select, delete, undo, filter, status, errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs
from lima_tk.ui.actions import ACTIONS
from tests.ui.app_helpers import app_factory, click_row, fire, key, seed, settle
from tests.ui.conftest import wait_until
from tests.ui.process_helpers import Driver
from tests.unprivileged import unprivileged

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def names(store: DatasetStore) -> list[str]:
    return [c.name for c in store.list_chats(limit=1000)]


def test_start_up_does_not_import_openai_or_tokenizers(db_path: Path) -> None:
    """A fresh process: the window is up and the list painted, and neither heavy module is loaded."""
    seed(db_path, 5)
    code = (
        "import sys; from lima_tk.ui.app import App; "
        f"a = App({str(db_path)!r}); a.root.update(); "
        "print(a.chat_list.total, 'openai' in sys.modules, 'tokenizers' in sys.modules); a.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["5", "False", "False"]


def test_empty_state_is_shown_and_goes_away(make_app) -> None:
    app = make_app()
    settle(app)
    cl = app.chat_list
    assert cl.total == 0
    assert cl.empty.winfo_ismapped()
    texts = [w.cget("text") for w in cl.empty.winfo_children() if w.winfo_class() == "TLabel"]
    assert any("no chats yet" in t for t in texts)
    assert any("Ctrl+N" in t and "Ctrl+I" in t for t in texts)
    fire(app, "<<NewChat>>")
    app.chat_list.commit_rename()
    app.root.update()
    assert not cl.empty.winfo_ismapped()


def test_new_chat_and_rename_in_place(make_app) -> None:
    app = make_app()
    settle(app)
    fire(app, "<<NewChat>>")
    store = app.store
    assert store.count_chats() == 1
    entry = app.chat_list.rename_entry
    assert entry is not None and entry.winfo_ismapped()
    entry.delete(0, "end")
    entry.insert(0, "Greetings")
    key(entry, "<Return>")
    assert names(store) == ["Greetings"]
    assert app.chat_list.rename_entry is None
    assert "Greetings" in app.status_text
    # F2 on the selected chat, Escape cancels
    fire(app, "<<RenameChat>>")
    entry = app.chat_list.rename_entry
    entry.delete(0, "end")
    entry.insert(0, "Nope")
    key(entry, "<Escape>")
    assert names(store) == ["Greetings"]
    # the F2 key on the list
    key(app.chat_list.tree, "<F2>")
    entry = app.chat_list.rename_entry
    assert entry is not None
    entry.delete(0, "end")
    entry.insert(0, "Hello again")
    key(entry, "<Return>")
    assert names(store) == ["Hello again"]
    fire(app, "<<Undo>>")
    assert names(store) == ["Greetings"]


def test_multi_select_delete_undo_redo_with_menu_labels(make_app, db_path: Path) -> None:
    ids = seed(db_path, 10)
    app = make_app()
    settle(app)
    click_row(app, 1)
    click_row(app, 3, "Shift")
    click_row(app, 6, "Control")
    assert app.chat_list.selection_ids() == [ids[1], ids[2], ids[3], ids[6]]
    assert "4 selected" in app.count_label.cget("text")
    click_row(app, 6, "Control")  # toggles off again
    assert app.chat_list.selection_ids() == ids[1:4]

    key(app.chat_list.tree, "<Delete>")
    assert app.store.count_chats() == 7
    assert app.status_text == "Deleted 3 chats - Ctrl+Z to undo"
    app.update_menus()
    assert app.menu_label("<<Undo>>") == "Undo Delete 3 chats"
    assert app.menu_label("<<Redo>>") == "Redo"

    fire(app, "<<Undo>>")
    assert app.store.count_chats() == 10
    assert app.status_text == "Undid Delete 3 chats"
    assert app.chat_list.total == 10
    app.update_menus()
    assert app.menu_label("<<Redo>>") == "Redo Delete 3 chats"

    key(app.chat_list.tree, "<Control-y>")
    assert app.store.count_chats() == 7
    assert app.status_text == "Redid Delete 3 chats"
    key(app.chat_list.tree, "<Control-z>")
    assert app.store.count_chats() == 10
    key(app.chat_list.tree, "<Control-Z>")  # Ctrl+Shift+Z
    assert app.store.count_chats() == 7


def test_delete_key_in_the_filter_field_does_not_delete_chats(make_app, db_path: Path) -> None:
    seed(db_path, 3)
    app = make_app()
    settle(app)
    click_row(app, 0)
    app.filter_var.set("chat")
    app.filter_entry.icursor(0)
    key(app.filter_entry, "<Delete>")
    assert app.store.count_chats() == 3
    assert app.filter_var.get() == "hat"


def test_select_all_copy_and_move(make_app, db_path: Path) -> None:
    ids = seed(db_path, 5)
    app = make_app()
    settle(app)
    key(app.chat_list.tree, "<Control-a>")
    assert app.chat_list.selection_ids() == ids
    click_row(app, 1)
    fire(app, "<<CopyChats>>")
    assert app.store.count_chats() == 6
    assert names(app.store)[-1] == "chat 1 (copy)"
    assert "Copied 1 chat" in app.status_text
    click_row(app, 2)
    key(app.chat_list.tree, "<Alt-Up>")
    assert names(app.store)[:3] == ["chat 0", "chat 2", "chat 1"]
    fire(app, "<<MoveDown>>")
    assert names(app.store)[:3] == ["chat 0", "chat 1", "chat 2"]
    assert app.chat_list.selection_ids() == [ids[2]]


def test_language_and_tags_of_a_selection(make_app, db_path: Path) -> None:
    seed(db_path, 4, tags=["old"])
    app = make_app()
    settle(app)
    click_row(app, 0)
    click_row(app, 1, "Shift")
    dlg = app.language_dialog()
    dlg.apply("de")
    chats = app.store.list_chats(limit=10)
    assert [c.language for c in chats] == ["de", "de", None, None]
    assert "de" in app.store.get_setting("languages")

    dlg = app.tags_dialog()
    assert dlg.initial["old"] == "all"
    dlg.set("fresh", True)
    dlg.set("old", False)
    dlg.apply()
    chats = app.store.list_chats(limit=10)
    assert [c.tags for c in chats] == [["fresh"], ["fresh"], ["old"], ["old"]]
    assert app.store.undo_label() == "Change tags of 2 chats"
    fire(app, "<<Undo>>")
    assert [c.tags for c in app.store.list_chats(limit=10)] == [["old"]] * 4

    # a tag only some selected chats have starts half-ticked and is left alone
    click_row(app, 2)
    app.store.add_tags([app.chat_list.selection_ids()[0]], ["half"])
    click_row(app, 1, "Shift")
    dlg = app.tags_dialog()
    assert dlg.initial["half"] == "some"
    assert "alternate" in dlg.checks["half"].state()
    dlg.apply()
    assert [c.tags for c in app.store.list_chats(limit=10)][1:3] == [["old"], ["old", "half"]]


def test_filter_by_text_tag_and_language_with_count(make_app, db_path: Path) -> None:
    with DatasetStore(db_path) as s:
        s.create_chat("alpha one", language="en", tags=["x"])
        s.create_chat("alpha two", language="ru", tags=["y"])
        s.create_chat("beta", language="en", tags=["x"])
    seed(db_path, 7)
    app = make_app()
    settle(app)
    assert app.count_label.cget("text") == "10 chats"
    app.filter_var.set("alph")  # typed: debounced, prefix match
    wait_until(lambda: app.chat_list.total == 2, app.root)
    assert app.count_label.cget("text") == "2 of 10 chats"
    assert app.chat_list.visible_ids() and len(app.chat_list.visible_ids()) == 2

    app.tag_combo.set("x")
    app.tag_combo.event_generate("<<ComboboxSelected>>")
    app.root.update()
    assert app.count_label.cget("text") == "1 of 10 chats"

    app.filter_var.set("")
    app.apply_filter()
    assert app.count_label.cget("text") == "2 of 10 chats"
    app.lang_combo.set("en")
    app.lang_combo.event_generate("<<ComboboxSelected>>")
    app.root.update()
    assert app.count_label.cget("text") == "2 of 10 chats"
    app.tag_combo.set("All tags")
    app.lang_combo.set("ru")
    app.apply_filter()
    assert app.count_label.cget("text") == "1 of 10 chats"

    fire(app, "<<Find>>")
    assert app.root.focus_get() is app.filter_entry
    app.filter_var.set("nothing-matches-this")
    wait_until(lambda: app.chat_list.total == 0, app.root)
    assert app.chat_list.empty.winfo_ismapped()
    key(app.filter_entry, "<Escape>")
    assert app.chat_list.total == 10
    assert app.lang_var.get() == "All languages"
    assert app.count_label.cget("text") == "10 chats"


def test_full_text_search_finds_message_text(make_app, db_path: Path) -> None:
    seed(db_path, 30)
    app = make_app()
    settle(app)
    app.filter_var.set("answer 17")
    wait_until(lambda: app.chat_list.total == 1, app.root)
    assert app.chat_list.row_at(0).name == "chat 17"


def test_sort_by_heading(make_app, db_path: Path) -> None:
    with DatasetStore(db_path) as s:
        for name in ("banana", "apple", "cherry"):
            s.create_chat(name)
    app = make_app()
    settle(app)
    cl = app.chat_list
    cl.sort_by("name")
    assert [cl.row_at(i).name for i in range(3)] == ["apple", "banana", "cherry"]
    assert cl.tree.heading("name", "text").endswith("▲")
    cl.sort_by("name")
    assert [cl.row_at(i).name for i in range(3)] == ["cherry", "banana", "apple"]
    cl.sort_by("name")
    assert [cl.row_at(i).name for i in range(3)] == ["banana", "apple", "cherry"]
    assert cl.tree.heading("name", "text") == "Name"


def test_ctrl_s_says_saved_with_the_time(make_app, db_path: Path) -> None:
    seed(db_path, 1)
    app = make_app()
    settle(app)
    flushed = []

    class FakeEditor:
        def flush(self):
            flushed.append(True)

    app.editors[1] = FakeEditor()
    key(app.chat_list.tree, "<Control-s>")
    assert re.fullmatch(r"Saved \d\d:\d\d:\d\d", app.status_text)
    assert flushed == [True]
    app.editors.clear()


def test_read_only_dataset_opens_with_a_notice(make_app, db_path: Path) -> None:
    seed(db_path, 3)
    app = make_app(readonly=True)
    settle(app)
    assert app.store.readonly
    assert app.notice.winfo_ismapped()
    assert "Read-only" in app.notice_label.cget("text")
    assert "read-only" in app.root.title()
    fire(app, "<<NewChat>>")
    click_row(app, 0)
    fire(app, "<<DeleteChats>>")
    assert "read-only" in app.status_text
    assert app.store.count_chats() == 3
    app.update_menus()
    menu, index = app._menu_index["<<NewChat>>"]
    assert menu.entrycget(index, "state") == "disabled"


def test_unwritable_file_opens_read_only(db_path: Path) -> None:
    """A window run as an ordinary user (as root: without root's right to write anything), on a
    read-only file in a read-only folder: it opens read-only, says so, and leaves the file be."""
    seed(db_path, 2)
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    before = db_path.read_bytes()
    window = Driver(db_path, prefix=unprivileged())
    try:
        readonly, notice, *text = window.send("state").removeprefix("ok state ").split(" ", 2)
        assert (readonly, notice) == ("True", "True"), text
        assert "read-only" in " ".join(text).lower(), text
        assert window.send("count") == "ok count 2"
        window.quit()
    finally:
        window.kill()
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}-wal").exists()


def test_not_a_dataset_gives_a_clear_message(make_app, tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.lima.db"
    bad.write_text("this is not sqlite\n" * 10)
    app = make_app(bad)
    settle(app)
    assert app.store is None
    assert "not a lima-tk dataset" in app.status_text
    texts = " ".join(w.cget("text") for w in app.chat_list.empty.winfo_children() if w.winfo_class() == "TLabel")
    assert "not a lima-tk dataset" in texts
    fire(app, "<<NewChat>>")
    assert "Open or create a dataset first" in app.status_text
    # opening it from the menu: a dialog (patched) and the status bar
    errors = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, msg: errors.append(msg))
    good = tmp_path / "good.lima.db"
    seed(good, 2)
    assert app.open_dataset(good)
    assert app.chat_list.total == 2
    assert not app.open_dataset(bad)
    assert errors and "not a lima-tk dataset" in errors[0]
    assert app.store.path == good  # still on the good one


def test_locked_dataset_is_a_message_not_a_traceback(make_app, db_path: Path) -> None:
    seed(db_path, 2)
    app = make_app()
    settle(app)
    import sqlite3

    other = sqlite3.connect(db_path, timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        app.store.conn.execute("PRAGMA busy_timeout = 50")
        click_row(app, 0)
        fire(app, "<<DeleteChats>>")
        assert "busy" in app.status_text or "locked" in app.status_text
    finally:
        other.rollback()
        other.close()
    assert app.store.count_chats() == 2


@pytest.mark.expect_callback_error
def test_callback_errors_reach_the_status_bar(make_app, fail_on_callback_error) -> None:
    app = make_app()

    def boom():
        raise RuntimeError("kaboom")

    app.root.after(0, boom)
    wait_until(lambda: "kaboom" in app.status_text, app.root)
    assert app.status_text == "Error: kaboom"
    assert fail_on_callback_error.records


def test_second_instance_changes_are_seen(make_app, db_path: Path) -> None:
    seed(db_path, 2)
    app = make_app(poll_ms=50)
    settle(app)
    with DatasetStore(db_path) as other:
        other.create_chat("from elsewhere")
    wait_until(lambda: app.chat_list.total == 3, app.root)
    assert app.count_label.cget("text") == "3 chats"


def test_editors_are_told_about_changes(make_app, db_path: Path) -> None:
    ids = seed(db_path, 3)
    app = make_app()
    settle(app)
    calls = []

    class FakeEditor:
        def __init__(self, cid):
            self.cid = cid

        def reload(self):
            calls.append(self.cid)

        def flush(self):
            pass

        def destroy(self):
            calls.append(("destroyed", self.cid))

    a, b = FakeEditor(ids[0]), FakeEditor(ids[1])
    app.editors.update({ids[0]: a, ids[1]: b})
    app.data_changed(source=a)
    assert calls == [ids[1]]
    calls.clear()
    click_row(app, 1)
    fire(app, "<<DeleteChats>>")  # the editor of a deleted chat closes
    assert ("destroyed", ids[1]) in calls and ids[1] not in app.editors
    app.editors.clear()


def test_enter_and_double_click_open_the_chat(make_app, db_path: Path) -> None:
    ids = seed(db_path, 3)
    app = make_app()
    settle(app)
    opened = []
    app.chat_list.on_open = opened.append
    click_row(app, 2)
    key(app.chat_list.tree, "<Return>")
    tree = app.chat_list.tree
    x, y, w, h = tree.bbox(app.chat_list._slots[0])
    for t in (5000, 5100):  # two presses 100 ms apart: a double-click
        tree.event_generate("<Button-1>", x=x + 5, y=y + h // 2, time=t)
        tree.event_generate("<ButtonRelease-1>", x=x + 5, y=y + h // 2, time=t + 10)
    app.root.update()
    assert opened == [ids[2], ids[0]]


def test_open_chat_without_the_editor_module_is_a_status_message(make_app, db_path: Path, monkeypatch) -> None:
    seed(db_path, 1)
    app = make_app()
    settle(app)
    monkeypatch.setitem(sys.modules, "lima_tk.ui.chat_editor", None)  # import fails like a missing module
    app.chat_list.move_cursor(0)
    app.chat_list.open_cursor()
    assert "editor" in app.status_text


def test_shortcuts_help_lists_every_shortcut(make_app) -> None:
    app = make_app()
    dlg = app.shortcuts_dialog()
    shown = {accel for _, accel in dlg.rows}
    for a in ACTIONS:
        if a.keys:
            assert a.accel in shown, a
    dlg.destroy()
    fire(app, "<<Shortcuts>>")
    tops = [w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel"]
    assert any(t.title() == "Keyboard shortcuts" for t in tops)


def test_every_action_has_a_handler_and_a_binding(make_app) -> None:
    app = make_app()
    for a in ACTIONS:
        assert a.event in app.handlers
        assert app.root.bind(a.event)
        for seq in a.keys:
            assert app.root.bind(seq), seq


def test_one_key_press_is_one_undo(make_app, db_path: Path) -> None:
    """Tk also maps Ctrl+Z to its own <<Undo>>: the press must still undo only one step."""
    seed(db_path, 4)
    app = make_app()
    settle(app)
    for _ in range(2):
        click_row(app, 0)
        fire(app, "<<DeleteChats>>")
    assert app.store.count_chats() == 2
    key(app.chat_list.tree, "<Control-z>")
    assert app.store.count_chats() == 3
    key(app.chat_list.tree, "<Control-Z>")
    assert app.store.count_chats() == 2
    key(app.filter_entry, "<Control-z>")  # from the filter field too
    assert app.store.count_chats() == 3
