"""Open a chat file = "import into a new dataset": the name the user gives may be an existing
dataset. Whatever happens (asked at once, taken while the options dialog is open, the import
failing or cancelled), an existing file is never imported into and never deleted."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs, interop
from tests.ui.app_helpers import app_factory, fire, seed, write_openai_jsonl
from tests.ui.conftest import wait_until
from tests.ui.test_interop_gui import write_chatgpt_zip


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def fingerprint(path: Path) -> tuple:
    """The dataset's bytes and what it holds (read after the app let go of it)."""
    with DatasetStore(path) as s:
        names = sorted(c.name for c in s.iter_chats())
    return hashlib.sha256(path.read_bytes()).hexdigest(), names


def ended(app, job):
    wait_until(lambda: job.finished, app.root, 30)
    app.root.update()
    return job


def test_open_a_chat_file_with_the_name_of_an_existing_dataset(make_app, tmp_path: Path, monkeypatch,
                                                               errors) -> None:
    src = write_openai_jsonl(tmp_path / "chats.jsonl", 5)
    taken = tmp_path / "taken.lima.db"
    seed(taken, 2, name="mine {i}")
    before = fingerprint(taken)
    app = make_app()
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: src)
    monkeypatch.setattr(dialogs, "ask_string", lambda *a, **k: "taken")
    fire(app, "<<OpenDataset>>")
    assert not app.jobs, "no import may start"
    assert errors and "taken.lima.db already exists" in errors[-1][1]
    assert app.store.path != taken
    assert fingerprint(taken) == before


def test_name_taken_while_the_options_dialog_is_open(make_app, tmp_path: Path, errors) -> None:
    """The name was free when asked; another window (or program) made that dataset while the
    user was in the ChatGPT options: the import must refuse it, not fill it, not delete it."""
    src = write_chatgpt_zip(tmp_path / "export.zip")
    app = make_app()
    dlg = app.import_as_new(src, name="late")
    assert isinstance(dlg, interop.ImportOptionsDialog)
    late = tmp_path / "late.lima.db"
    seed(late, 3, name="made meanwhile {i}")
    before = fingerprint(late)
    job = dlg.start()
    if job is not None:
        ended(app, job)
        assert job.state != "done", "imported into a dataset that was not new"
    assert fingerprint(late) == before
    assert late.exists() and app.store.path != late
    assert "late.lima.db" in app.status_text and "exists" in app.status_text


def test_two_imports_into_the_same_new_name(make_app, tmp_path: Path, errors) -> None:
    """Open the same export twice and give both the same name: the second must not import into
    (or, when it fails, delete) what the first one made."""
    src = write_chatgpt_zip(tmp_path / "export.zip")
    app = make_app()
    first = app.import_as_new(src, name="twice")
    second = app.import_as_new(src, name="twice")
    assert isinstance(first, interop.ImportOptionsDialog) and isinstance(second, interop.ImportOptionsDialog)
    job = ended(app, first.start())
    assert job.state == "done"
    made = tmp_path / "twice.lima.db"
    app.open_dataset(tmp_path / "other.lima.db")  # let go of it
    before = fingerprint(made)
    job2 = second.start()
    if job2 is not None:
        ended(app, job2)
        assert job2.state != "done"
    assert fingerprint(made) == before


def test_a_failed_import_removes_only_the_dataset_it_created(make_app, tmp_path: Path, monkeypatch, errors) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": 5}\n', encoding="utf-8")
    app = make_app()
    job = app.import_as_new(bad, name="fresh")
    ended(app, job)
    assert job.state != "done" and errors and "bad.jsonl" in errors[-1][1]
    assert not list(tmp_path.glob("fresh.lima.db*")), "the half-made new dataset is removed"
