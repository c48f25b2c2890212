"""The virtual chat list on 3,000 chats: few Treeview rows, keyboard through the whole list, wheel, scrollbar."""

from __future__ import annotations

from pathlib import Path

import pytest

from lima_tk.store import DatasetStore
from tests.ui.app_helpers import app_factory, click_row, fire, key, seed, settle
from tests.ui.conftest import wait_until, wheel_notch

N = 3000


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


@pytest.fixture
def big(make_app, db_path: Path):
    ids = seed(db_path, N)
    app = make_app()
    settle(app)
    return app, ids


def test_only_visible_rows_are_in_the_treeview(big) -> None:
    app, ids = big
    cl = app.chat_list
    assert cl.total == N
    rows = cl.tree.get_children()
    assert 5 <= len(rows) <= cl.page + 1 < 80
    assert cl.visible_ids() == ids[:len(rows)]
    assert app.count_label.cget("text") == "3,000 chats"
    first, last = (float(x) for x in cl.scrollbar.get())
    assert first == 0 and 0 < last < 0.05


def test_keyboard_walks_the_whole_list(big) -> None:
    app, ids = big
    cl = app.chat_list
    tree = cl.tree
    assert cl.cursor == 0 and cl.selection_ids() == [ids[0]]  # the first row from the start (issue 13)
    key(tree, "<Down>")
    assert cl.cursor == 1 and cl.selection_ids() == [ids[1]]
    key(tree, "<End>")
    assert cl.cursor == N - 1
    assert cl.selection_ids() == [ids[-1]]
    assert cl.visible_ids()[-2:] == ids[-2:] or ids[-1] in cl.visible_ids()
    assert len(tree.get_children()) <= cl.page + 1
    assert tree.selection() and tree.item(tree.selection()[0], "values")[:2] == (f"{N:,}", f"chat {N - 1}")
    key(tree, "<Home>")
    assert cl.cursor == 0 and cl.top == 0
    key(tree, "<Next>")
    assert cl.cursor == cl.page - 1
    for _ in range(cl.page + 5):
        key(tree, "<Down>")
    assert cl.cursor == 2 * cl.page + 4
    assert cl.top > 0 and ids[cl.cursor] in cl.visible_ids()
    key(tree, "<Prior>")
    assert cl.cursor == cl.page + 5
    # Shift+End selects to the very end, beyond what is on screen
    key(tree, "<Shift-End>")
    assert len(cl.selected) == N - (cl.page + 5)
    fire(app, "<<SelectAllChats>>")
    assert len(cl.selected) == N


def test_wheel_and_scrollbar_scroll_without_moving_the_selection(big) -> None:
    app, ids = big
    cl = app.chat_list
    click_row(app, 0)
    tree = cl.tree
    for _ in range(4):
        wheel_notch(tree)
    app.root.update()
    assert cl.top == 12
    assert cl.visible_ids()[0] == ids[12]
    tree.event_generate("<MouseWheel>", delta=120)
    app.root.update()
    assert cl.top == 9
    cl.scrollbar.set(0, 0)  # a drag to the middle
    cl._on_scrollbar("moveto", "0.5")
    app.root.update()
    assert cl.top == N // 2
    assert cl.visible_ids()[0] == ids[N // 2]
    cl._on_scrollbar("scroll", "1", "pages")
    assert cl.top == N // 2 + cl.page - 1
    cl._on_scrollbar("moveto", "1.0")
    assert cl.visible_ids()[-1] == ids[-1]
    assert cl.selection_ids() == [ids[0]]
    assert len(cl.tree.get_children()) <= cl.page + 1
    assert cl.fetches < 20  # pages are cached, not fetched per row


def test_delete_far_down_and_undo(big) -> None:
    app, ids = big
    cl = app.chat_list
    key(cl.tree, "<End>")
    key(cl.tree, "<Shift-Up>")
    key(cl.tree, "<Shift-Up>")
    assert cl.selection_ids() == ids[-3:]
    fire(app, "<<DeleteChats>>")
    assert app.store.count_chats() == N - 3
    assert cl.total == N - 3 and cl.cursor == N - 4  # the cursor stays at the end
    assert app.status_text == "Deleted 3 chats - Ctrl+Z to undo"
    fire(app, "<<Undo>>")
    assert cl.total == N


def test_resize_changes_the_number_of_rows(big) -> None:
    app, _ = big
    cl = app.chat_list
    before = cl.page
    app.root.geometry("900x400")
    app.root.update()

    wait_until(lambda: cl.page < before, app.root)
    assert len(cl.tree.get_children()) <= cl.page + 1


def test_new_chat_is_revealed_at_the_end(big) -> None:
    app, _ = big
    cl = app.chat_list
    fire(app, "<<NewChat>>")
    new_id = max(cl.selected)
    assert cl.cursor == N and new_id in cl.visible_ids()
    cl.commit_rename()
    with DatasetStore(app.store.path) as s:
        assert s.count_chats() == N + 1


def test_a_big_filter_shows_its_first_page_before_its_count(make_app, db_path: Path) -> None:
    seed(db_path, 500)
    app = make_app(async_filter_from=100)
    settle(app)
    cl = app.chat_list
    seen: list[tuple[bool, int, str]] = []  # (partial, rows shown, count label) per result
    real = app.filter_bar._result

    def spy(r) -> None:
        real(r)
        seen.append((r.partial, cl.total, app.count_label.cget("text")))

    app.filter_bar._result = spy
    app.filter_var.set("chat")
    app.apply_filter()
    app.filter_query.on_result = spy  # the worker was made by this apply: route its results
    wait_until(lambda: not app.filter_query.pending, app.root)
    # First the page (the list's first rows, "counting…"), then every match with its count.
    assert [p for p, _, _ in seen] == [True, False]
    page = seen[0][1]
    assert 0 < page < 500 and seen[0][2] == f"{page}+ of 500 chats, counting…"
    assert seen[1][1:] == (500, "500 of 500 chats")
    assert cl.row_at(0).name == "chat 0" and cl.total == 500
    # A selected chat on the first page stays selected from the first page on.
    seen.clear()
    click_row(app, 3)
    app.filter_var.set("chat 3")
    app.apply_filter()
    wait_until(lambda: seen, app.root)
    assert seen[0][0] is True and cl.selected == {cl.row_at(0).id} and cl.row_at(0).name == "chat 3"
    wait_until(lambda: not app.filter_query.pending, app.root)
    assert [p for p, _, _ in seen] == [True, False] and cl.total == 111
    # Sorted otherwise, the page has no cheap first rows: straight to the full result.
    seen.clear()
    cl.set_sort("name")
    app.filter_var.set("chat 4")
    app.apply_filter()
    wait_until(lambda: not app.filter_query.pending, app.root)
    assert [p for p, _, _ in seen] == [False]


def test_text_filter_on_a_big_dataset_runs_on_a_worker(make_app, db_path: Path) -> None:
    ids = seed(db_path, 500)
    app = make_app(async_filter_from=100)
    settle(app)
    cl = app.chat_list
    click_row(app, 3)  # chat 3: kept selected while it matches the filter
    app.filter_var.set("chat 3")
    app.apply_filter()
    assert app.filter_query is not None and app.filter_query.pending
    wait_until(lambda: not app.filter_query.pending, app.root)
    assert cl.total == 111 and cl.selected == {ids[3]}
    for text in ("chat", "chat 3", "chat 33"):  # typed fast: only the newest result is shown
        app.filter_var.set(text)
        app.apply_filter()
    wait_until(lambda: not app.filter_query.pending, app.root)
    assert cl.filter.text == "chat 33"
    assert cl.total == 11 and cl.row_at(0).name == "chat 33"
    assert app.count_label.cget("text") == "11 of 500 chats"
    assert cl.selected == set()  # chat 3 is hidden now, so it is no longer selected
    # clearing is immediate, and a result still on its way is ignored
    app.filter_var.set("chat 4")
    app.apply_filter()
    app.clear_filter()
    assert cl.total == 500
    wait_until(lambda: not app.filter_query.pending, app.root)
    assert cl.total == 500
