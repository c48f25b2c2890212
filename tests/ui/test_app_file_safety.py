"""The window's file dialogs never write over the open dataset, and a dataset made by a newer
lima-tk opens read-only saying why (issue 10, items 4 and 5)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from lima_tk.formats.hf import MARKER
from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs
from lima_tk.ui.stats_board import open_stats_board
from tests.ui.app_helpers import app_factory, fire, seed, settle
from tests.ui.conftest import wait_until


@pytest.fixture
def make_app(db_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, text: ERRORS.append(text))
    ERRORS.clear()
    yield from app_factory(db_path)


ERRORS: list[str] = []


def intact(db: Path, inode: int, n: int) -> None:
    """The dataset is the same file with its chats (read through SQLite: the window has it open,
    so a plain open() of it here would drop the window's locks)."""
    assert os.stat(db).st_ino == inode
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM chats").fetchone()[0] == n
    finally:
        conn.close()


def test_export_dialog_refuses_the_open_dataset(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 4)
    inode = os.stat(db_path).st_ino
    app = make_app()
    settle(app)
    link = tmp_path / "link.jsonl"
    link.symlink_to(db_path)
    for target in (db_path, link, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        dlg = app.export_dialog()
        dlg.set_format("openai")
        dlg.path.set(str(target))
        assert dlg.start() is None, target
        assert "is the dataset" in dlg.error.cget("text") and "choose another file" in dlg.error.cget("text")
        dlg.destroy()
    # A folder export replaces the folder: not the one that holds the dataset (here: looks like
    # an earlier export, so it would otherwise be replaced).
    (tmp_path / "README.md").write_text(f"# x\n{MARKER}\n", encoding="utf-8")
    dlg = app.export_dialog()
    dlg.set_format("hf")
    dlg.path.set(str(tmp_path))
    assert dlg.start() is None
    assert "holds the open dataset" in dlg.error.cget("text")
    dlg.destroy()
    assert not app.jobs
    intact(db_path, inode, 4)


def test_save_a_copy_and_stats_csv_refuse_the_open_dataset(make_app, db_path: Path, tmp_path: Path,
                                                            monkeypatch) -> None:
    seed(db_path, 3)
    inode = os.stat(db_path).st_ino
    app = make_app()
    settle(app)
    link = tmp_path / "copy.lima.db"
    link.symlink_to(db_path)
    for target in (link, Path(f"{db_path}-wal")):
        monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, target=target, **k: target)
        fire(app, "<<SaveCopyAs>>")
        assert "is the dataset" in app.status_text, app.status_text
        assert ERRORS and "is the dataset" in ERRORS[-1]
    assert not app.jobs
    board = open_stats_board(app)
    wait_until(lambda: board.state == "done" and board.stats is not None, board, timeout=20)
    assert board.export_csv(link) is None
    assert "Stats not saved" in app.status_text and "is the dataset" in app.status_text
    board.close()
    intact(db_path, inode, 3)


def test_a_dataset_from_a_newer_lima_tk_opens_read_only(make_app, db_path: Path) -> None:
    seed(db_path, 2)
    with DatasetStore(db_path) as s:
        s.conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                       "VALUES ('lima_tk', 'm009_future_things', '2030-01-01')")
    app = make_app()
    settle(app)
    assert app.store.readonly
    assert app.root.title().startswith("test.lima.db (read-only) - ")
    assert "made by a newer lima-tk (schema m009); upgrade to edit" in app.status_text
    assert app.notice.winfo_ismapped()
    assert "made by a newer lima-tk (schema m009); upgrade to edit" in app.notice_label.cget("text")
    fire(app, "<<NewChat>>")
    assert app.store.count_chats() == 2


def test_undo_in_the_window_under_another_writer_says_so_in_plain_words(make_app, db_path: Path) -> None:
    from tests.test_store_open import write_lock_held

    seed(db_path, 2)
    app = make_app()
    settle(app)
    fire(app, "<<NewChat>>")
    app.chat_list.commit_rename()
    app.store.conn.execute("PRAGMA busy_timeout = 50")  # the Tk thread never waits long on a lock
    with write_lock_held(db_path):
        fire(app, "<<Undo>>")
        assert app.status_text == f"another lima-tk is writing to {db_path}; try again"
        assert app.store.count_chats() == 3
    fire(app, "<<Undo>>")
    assert app.status_text == "Undid New chat" and app.store.count_chats() == 2
