"""File > Open of a big chat file (issue 15): the window shows the first chats of the new dataset,
read-only, while the rest is imported, then the whole dataset, writable. A failure or a cancel
after the first chats were shown takes the window back to the dataset it showed before and
removes the new file: the import is still all or nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lima_tk.formats import FIRST_CHATS
from lima_tk.store import DatasetStore
from lima_tk.ui.dataset_files import IMPORTING
from tests.ui.app_helpers import app_factory, rest_of_open_held, write_openai_jsonl
from tests.ui.conftest import wait_until


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


@pytest.fixture
def slow_rest() -> Iterator[threading.Event]:
    """The rest of the file waits until the test sets the event (app_helpers.rest_of_open_held)."""
    with rest_of_open_held() as go:
        yield go


def watch_opens(app, on_open=None) -> list[dict]:
    """What the window showed after each open_dataset: path, read-only, notice, list, writable."""
    seen: list[dict] = []
    real = app.open_dataset

    def open_dataset(path, readonly=False, quiet=False):
        ok = real(path, readonly, quiet)
        notice = app.status_bar.notice_label.cget("text") if app.status_bar.notice.winfo_manager() else ""
        seen.append({"path": Path(path).name, "ok": ok, "readonly": app.store.readonly, "notice": str(notice),
                     "title": app.root.title(),
                     "total": app.chat_list.total, "rows": len(app.chat_list.tree.get_children()),
                     "status": app.status_text, "writable": app.writable()})
        if on_open is not None:
            on_open(readonly)
        return ok

    real_status = app.status

    def status(text: str, error: bool = False) -> None:
        statuses.append(text)
        real_status(text, error=error)

    statuses: list[str] = []
    app.open_dataset, app.status, app.statuses = open_dataset, status, statuses
    app.files.host = app  # the files part calls the host's methods: the watched ones
    return seen


def test_the_first_chats_show_read_only_then_every_chat_writable(make_app, tmp_path: Path, errors,
                                                                slow_rest) -> None:
    src = write_openai_jsonl(tmp_path / "big.jsonl", FIRST_CHATS + 300)
    app = make_app()
    seen = watch_opens(app, lambda readonly: slow_rest.set())
    job = app.import_as_new(src, name="new")
    wait_until(lambda: job.finished, app.root, 60)
    app.root.update()
    assert job.state == "done" and not errors
    first, last = seen
    assert first["path"] == "new.lima.db" and first["ok"] and first["readonly"]
    assert first["total"] == FIRST_CHATS and first["rows"] > 0
    assert first["notice"].startswith("Importing:"), first["notice"]
    assert not first["writable"], "no change while the rest is imported"
    assert "read-only" in first["title"] and "read-only: the rest of the file is being imported" in first["status"]
    assert f"The first {FIRST_CHATS} chats of big.jsonl; importing the rest…" in app.statuses
    assert last["path"] == "new.lima.db" and not last["readonly"] and last["writable"]
    assert last["total"] == FIRST_CHATS + 300 and last["notice"] == ""
    assert app.store.undo_label() == "Import big.jsonl", "one undo step for the whole file"
    assert "Imported" in app.status_text or "imported" in app.status_text


@pytest.mark.parametrize("how", ["bad line", "cancel"])
def test_a_failure_after_the_first_chats_goes_back_and_removes_the_new_file(
        make_app, tmp_path: Path, errors, how: str, slow_rest) -> None:
    src = write_openai_jsonl(tmp_path / "broken.jsonl", FIRST_CHATS + 100)
    if how == "bad line":
        with open(src, "a", encoding="utf-8") as f:
            f.write('{"messages": 5}\n')
    app = make_app()
    before = app.store.path
    holder: dict = {}

    def cancel_when_shown(readonly) -> None:
        if how == "cancel" and readonly == IMPORTING:
            holder["job"].cancel()
        slow_rest.set()

    seen = watch_opens(app, cancel_when_shown)
    holder["job"] = job = app.import_as_new(src, name="fresh")
    wait_until(lambda: job.finished, app.root, 60)
    app.root.update()
    assert seen[0]["path"] == "fresh.lima.db" and seen[0]["readonly"] and seen[0]["total"] == FIRST_CHATS
    assert job.state == ("failed" if how == "bad line" else "cancelled")
    assert app.store is not None and app.store.path == before and not app.store.readonly
    assert not list(tmp_path.glob("fresh.lima.db*")), "the new dataset is removed"
    if how == "bad line":
        assert errors and f"broken.jsonl:{FIRST_CHATS + 101}:" in errors[-1][1]
    else:
        assert "cancelled; nothing was created" in app.status_text
    with DatasetStore(before) as s:
        assert s.count_chats() == 0


def test_opening_a_dataset_whose_import_was_cut_off_says_so(make_app, tmp_path: Path, db_path: Path) -> None:
    """What a crash between the two commits leaves (tests/test_import_bulk.py kills a real process
    there): the status line says so when the dataset opens, and Edit > Undo takes it out."""
    from lima_tk.formats import import_file

    src = write_openai_jsonl(tmp_path / "cut.jsonl", FIRST_CHATS + 50)
    cut = tmp_path / "cut.lima.db"

    class Crash(BaseException):
        pass

    with DatasetStore(cut) as s, pytest.raises(Crash):
        s.journal.drop_newest = lambda entry_id: False  # as if the process died: nothing is undone
        import_file(s, src, "openai", first=lambda n: (_ for _ in ()).throw(Crash()))
    app = make_app()
    app.open_dataset(cut)
    assert app.chat_list.total == FIRST_CHATS
    assert "its import did not finish: Edit > Undo removes what came in" in app.status_text
    app.open_dataset(db_path)
    assert "did not finish" not in app.status_text
