"""The real window and other processes on one dataset (issue 10): CLI commands run while the
window is open and editing, and two windows (one in a subprocess) edit one file and close in
either order. Nothing written by anyone is lost and the file stays sound."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs
from tests.ui.app_helpers import app_factory, fire, key, seed, settle, write_openai_jsonl
from tests.ui.conftest import wait_until
from tests.ui.process_helpers import Driver

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def make_app(db_path: Path, monkeypatch: pytest.MonkeyPatch):
    # An error dialog would wait for a click: record it instead (the test then fails on it).
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, text: ERRORS.append(f"{title}: {text}"))
    ERRORS.clear()
    yield from app_factory(db_path)


ERRORS: list[str] = []


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "lima_tk", "--db", str(db), *args], capture_output=True, text=True,
                       cwd=ROOT, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def finished(app, job, timeout: float = 30.0):
    wait_until(lambda: job.finished, app.root, timeout)
    app.root.update()
    assert job.state == "done", (job.error, ERRORS)
    return job


def new_chat(app, name: str) -> None:
    """Ctrl+N, type the name in the list's rename field, Enter: a GUI edit driven by events."""
    fire(app, "<<NewChat>>")
    entry = app.chat_list.rename_entry
    entry.delete(0, "end")
    entry.insert(0, name)
    key(entry, "<Return>")


def quit_window(app) -> None:
    """File > Quit (the window is destroyed: no update() after it)."""
    app.root.update()
    app.root.event_generate("<<Quit>>")
    assert app._closed


def names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT name FROM chats ORDER BY id")]
    finally:
        conn.close()


def worker_stores_ran(app, tmp_path: Path) -> None:
    """Let the window's workers open and close stores of their own, as they do in use: the token
    count after the first paint, and an export."""
    wait_until(lambda: app.tokens.state in ("done", "error"), app.root, 30)
    finished(app, app.run_export(tmp_path / "export.jsonl", "openai", None))


def test_cli_import_config_and_undo_between_gui_edits(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 3)
    a = write_openai_jsonl(tmp_path / "a.jsonl", 20, "import a")
    b = write_openai_jsonl(tmp_path / "b.jsonl", 7, "import b")
    app = make_app(count_tokens=True)  # its worker store is part of what is tested
    settle(app)
    worker_stores_ran(app, tmp_path)
    new_chat(app, "gui 1")
    cli(db_path, "import", str(a))
    wait_until(lambda: app.chat_list.total == 3 + 1 + 20, app.root)  # the window sees the import
    new_chat(app, "gui 2")
    finished(app, app.run_export(tmp_path / "again.jsonl", "openai", None))
    cli(db_path, "config", "languages", "en,fr")
    new_chat(app, "gui 3")
    cli(db_path, "import", str(b))
    assert cli(db_path, "undo").stdout.strip() == "undid: Import b.jsonl"
    new_chat(app, "gui 4")
    assert Path(f"{db_path}-wal").exists()  # still the WAL the window writes into
    quit_window(app)
    got = names(db_path)
    assert got[:3] == ["chat 0", "chat 1", "chat 2"]
    assert [n for n in got if n.startswith("gui")] == ["gui 1", "gui 2", "gui 3", "gui 4"]
    assert len(got) == 3 + 4 + 20
    with DatasetStore(db_path) as s:
        assert s.get_setting("languages") == ["en", "fr"]
        assert s.count_chats() == 27


@pytest.mark.parametrize("first_to_close", ["subprocess", "this process"])
def test_two_windows_on_one_file(make_app, db_path: Path, tmp_path: Path, first_to_close: str) -> None:
    seed(db_path, 2)
    app = make_app(count_tokens=True)  # its worker store is part of what is tested
    settle(app)
    worker_stores_ran(app, tmp_path)
    other = Driver(db_path)
    try:
        other.send("count")
        for i in range(3):
            new_chat(app, f"here {i}")
            other.send(f"new there {i}")
            other.send(f"export {tmp_path / f'there-{i}.jsonl'}")  # a worker store in the other process
        finished(app, app.run_export(tmp_path / "here.jsonl", "openai", None))
        if first_to_close == "subprocess":
            other.quit()
            for i in range(3, 5):
                new_chat(app, f"here {i}")
            quit_window(app)
        else:
            quit_window(app)
            for i in range(3, 5):
                other.send(f"new there {i}")
            assert other.send("count") == "ok count 10"
            other.quit()
    finally:
        other.kill()
    got = names(db_path)
    mine = 5 if first_to_close == "subprocess" else 3
    theirs = 3 if first_to_close == "subprocess" else 5
    assert sorted(n for n in got if n.startswith("here")) == [f"here {i}" for i in range(mine)]
    assert sorted(n for n in got if n.startswith("there")) == [f"there {i}" for i in range(theirs)]
    assert len(got) == 2 + mine + theirs
