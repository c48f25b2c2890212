"""Issue 13, item 1: no label or cell cuts a number, and status texts get the room they need
(they wrap). Measured as text width against widget width, at the default window size and at
200% font: the list's numeric columns (a six-digit token count over the limit is the widest
cell) and the status lines of both windows."""

from __future__ import annotations

from pathlib import Path
from tkinter import font as tkfont

import pytest

from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore
from lima_tk.ui.chat_list import COLUMN_IDS, NUMBER_COLUMNS
from tests.ui.app_helpers import app_factory, settle, wait_for_count
from tests.ui.conftest import wait_until

LONG_STATUS = ("Stopped: the text so far is kept in this reply; Ctrl+Shift+G continues it, Ctrl+Z outside a "
               "text undoes the whole generation")


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path, count_tokens=True)


def seed_big(db_path: Path) -> None:
    """One chat of ~200,000 estimated tokens (over a 4,096 limit: "⚠ ~2xx,xxx") and small ones."""
    with DatasetStore(db_path) as s:
        s.set_setting("tokenizer", "estimate")
        s.set_setting("context_limit", 4096)
        big = "lorem ipsum dolor sit amet " * 30_000
        chats = [Chat(name="big one", messages=[Message("user", big), Message("assistant", big)])]
        chats += [Chat(name=f"chat {i}", messages=[Message("user", "hi"), Message("assistant", "hello")])
                  for i in range(5)]
        s.add_chats(chats)
        s.conn.execute("DELETE FROM journal")


def cut_cells(app) -> list[str]:
    """Cells and headings of the list whose text is wider than their column."""
    tree = app.chat_list.tree
    body = tkfont.nametofont("TkDefaultFont", root=tree)
    head = tkfont.nametofont("TkHeadingFont", root=tree)
    cut = []
    for cid in NUMBER_COLUMNS:
        width = int(tree.column(cid, "width"))
        i = COLUMN_IDS.index(cid)
        if head.measure(str(tree.heading(cid, "text"))) + 8 > width:
            cut.append(f"heading {cid}")
        for iid in tree.get_children():
            text = str(tree.item(iid, "values")[i])
            if body.measure(text) + 8 > width:
                cut.append(f"{cid}: {text!r} in {width} px")
    total = sum(int(tree.column(c, "width")) for c in COLUMN_IDS)
    if total > tree.winfo_width():
        widths = {c: tree.column(c, "width") for c in COLUMN_IDS}
        cut.append(f"the columns need {total} px, the list has {tree.winfo_width()}: {widths}")
    return cut


def fits(label) -> bool:
    label.update_idletasks()
    return label.winfo_reqwidth() <= label.winfo_width() + 1


@pytest.mark.parametrize("size", [11, 22], ids=["default-font", "200%-font"])
def test_numbers_and_status_lines_are_not_cut(make_app, db_path: Path, size: int) -> None:
    seed_big(db_path)
    app = make_app()
    settle(app)
    wait_for_count(app)
    app.set_font_size(size)
    settle(app)
    tokens = COLUMN_IDS.index("tokens")
    wait_until(lambda: any("⚠" in str(app.chat_list.tree.item(i, "values")[tokens])
                           for i in app.chat_list.tree.get_children()), app.root)
    assert cut_cells(app) == []
    app.status(LONG_STATUS)
    app.root.update()
    assert fits(app.status_bar.label)
    app.open_chat(app.chat_list.id_at(1))  # a small chat; its status line shares no room with buttons
    ed = wait_until(lambda: next(iter(app.editors.values()), None), app.root)
    wait_until(lambda: ed.ready, ed)
    ed.status(LONG_STATUS)
    wait_until(lambda: fits(ed.status_label), ed)
    assert str(ed.status_label.cget("text")) == LONG_STATUS


def test_undoing_a_delete_in_the_list_brings_back_counts_mark_and_total(make_app, db_path: Path) -> None:
    """Item 7: after Delete + Ctrl+Z the restored chat showed blank Tokens, lost its over-limit
    mark, and the status total was stale."""
    seed_big(db_path)
    app = make_app()
    settle(app)
    wait_for_count(app)
    cl, tree = app.chat_list, app.chat_list.tree
    tokens = COLUMN_IDS.index("tokens")

    def big_cell() -> str:
        return next(str(tree.item(i, "values")[tokens]) for i in tree.get_children()
                    if tree.item(i, "values")[1] == "big one")

    wait_until(lambda: big_cell().startswith("⚠") and app.tokens.total_label.cget("text"), app.root)
    before_cell, before_total = big_cell(), str(app.tokens.total_label.cget("text"))
    assert tree.item(tree.get_children()[0], "values")[:2] == ("1", "big one")
    cl.move_cursor(0)
    tree.focus_force()
    tree.event_generate("<Delete>")
    wait_until(lambda: cl.total == 5, app.root)
    wait_until(lambda: str(app.tokens.total_label.cget("text")) != before_total, app.root)
    tree.focus_force()
    tree.event_generate("<Control-z>")
    wait_until(lambda: cl.total == 6, app.root)
    wait_until(lambda: big_cell() == before_cell, app.root, timeout=10)
    wait_until(lambda: str(app.tokens.total_label.cget("text")) == before_total, app.root)
    assert "Undid" in app.status_text  # the quiet recount does not replace what the undo said
