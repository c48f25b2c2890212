"""Issue 13, item 8: what lima-gui's users know: a row-number column in the chat list (the row's
position in the list as sorted and filtered) and a tag picker listing the dataset's tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from lima_tk.ui.chat_list import COLUMN_IDS
from tests.ui.app_helpers import app_factory, seed, settle
from tests.ui.conftest import wait_until


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def shown(app) -> list[tuple[str, str]]:
    tree = app.chat_list.tree
    pos, name = COLUMN_IDS.index("pos"), COLUMN_IDS.index("name")
    return [(tree.item(i, "values")[pos], tree.item(i, "values")[name]) for i in tree.get_children()]


def test_the_list_shows_each_rows_position(make_app, db_path: Path) -> None:
    seed(db_path, 120)
    app = make_app()
    settle(app)
    assert shown(app)[:3] == [("1", "chat 0"), ("2", "chat 1"), ("3", "chat 2")]
    tree = app.chat_list.tree
    tree.focus_force()
    tree.event_generate("<End>")
    app.root.update()
    assert shown(app)[-1] == ("120", "chat 119")
    app.filter_var.set("chat 11")  # a filter numbers what it shows from 1
    wait_until(lambda: shown(app) and shown(app)[0][1].startswith("chat 11"), app.root)
    assert [p for p, _ in shown(app)] == [str(i) for i in range(1, len(shown(app)) + 1)]


def test_the_tag_picker_lists_the_datasets_tags_and_toggles_them(make_app, db_path: Path) -> None:
    ids = seed(db_path, 2, tags=["code"])
    app = make_app()
    app.store.set_setting("tags", ["code", "math", "reviewed"])
    settle(app)
    tree = app.chat_list.tree
    tree.focus_force()
    tree.event_generate("<Return>")
    ed = wait_until(lambda: app.editors.get(ids[0]), app.root)
    wait_until(lambda: ed.ready, ed)
    chips = ed.props.tags
    chips.entry.focus_force()
    wait_until(lambda: ed.focus_get() is chips.entry, ed)
    chips.entry.event_generate("<F4>")  # the picker opens under the field
    menu = chips.picker
    wait_until(lambda: menu.winfo_ismapped(), ed)
    labels = [menu.entrycget(i, "label") for i in range(menu.index("end") + 1)]
    assert labels == ["code", "math", "reviewed"]
    assert [chips.picker_vars[t].get() for t in labels] == [True, False, False]
    menu.invoke(labels.index("math"))
    menu.unpost()
    wait_until(lambda: app.store.get_chat(ids[0]).tags == ["code", "math"], ed, timeout=5)
    assert chips.tags == ["code", "math"]


def test_ctrl_t_in_the_editor_opens_the_tag_picker(make_app, db_path: Path) -> None:
    ids = seed(db_path, 1)
    app = make_app()
    app.store.set_setting("tags", ["code", "math"])
    settle(app)
    tree = app.chat_list.tree
    tree.focus_force()
    tree.event_generate("<Return>")
    ed = wait_until(lambda: app.editors.get(ids[0]), app.root)
    text = ed.cards[ed.order[-1]].text
    wait_until(lambda: ed.focus_get() is text, ed)
    text.event_generate("<Control-t>")  # from a message: the chat's tags
    chips = ed.props.tags
    wait_until(lambda: chips.picker.winfo_ismapped(), ed)
    menu = chips.picker
    assert menu.entrycget(menu.index("active"), "label") == "code"  # the first tag is active
    menu.event_generate("<Return>")  # Enter ticks it and closes the list
    wait_until(lambda: app.store.get_chat(ids[0]).tags == ["code"], ed)
    wait_until(lambda: not menu.winfo_ismapped() and ed.focus_get() is chips.entry, ed)
