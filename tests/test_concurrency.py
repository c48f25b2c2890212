"""One dataset, many processes (issue 10): SQLite's locks survive everything this process does,
so another lima-tk that exits never deletes the WAL under us, and no commit is ever lost.
Real processes: the CLI runs as a subprocess, as a user's script would run it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lima_tk.errors import DatasetError
from lima_tk.store import DatasetStore
from lima_tk.store import files as dataset_files

ROOT = Path(__file__).resolve().parents[1]


def cli(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "lima_tk", "--db", str(db), *args], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def openai_file(path: Path, n: int, prefix: str) -> Path:
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"{prefix} question {i}"},
        {"role": "assistant", "content": f"{prefix} answer {i}"}]}) + "\n" for i in range(n)), encoding="utf-8")
    return path


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM chats ORDER BY id")]
    finally:
        conn.close()


def test_locks_survive_a_second_store_and_a_cli_that_exits(tmp_path):
    """The GUI's pattern: a store open on the Tk thread, a worker opens and closes its own store,
    then a CLI process runs and exits. Before issue 10 the worker's header check (a Python
    open()/close() of the dataset) dropped every SQLite lock of the process, so the exiting CLI
    deleted the -wal the first store was still writing into: its later commits were invisible
    to other processes and an import in between was lost."""
    db = tmp_path / "d.lima.db"
    src = openai_file(tmp_path / "in.jsonl", 30, "cli")
    first = DatasetStore(db)
    first.create_chat("before")
    worker = threading.Thread(target=lambda: DatasetStore(db).close())
    worker.start()
    worker.join()
    cli(db, "config", "languages", "en,de")
    wal = Path(f"{db}-wal")
    assert wal.exists(), "the CLI deleted the WAL of a connection that is still open"
    inode = wal.stat().st_ino
    for i in range(10):
        first.create_chat(f"first {i}")
    assert wal.exists() and wal.stat().st_ino == inode
    # Another process sees every commit of the first store...
    listed = json.loads(cli(db, "list", "--json", "--limit", "100").stdout)
    assert [c["name"] for c in listed["chats"]] == ["before", *(f"first {i}" for i in range(10))]
    # ...and what it writes is kept when the first store writes on.
    cli(db, "import", str(src))
    for i in range(10):
        first.create_chat(f"after {i}")
    assert first.get_setting("languages") == ["en", "de"]
    first.close()
    assert integrity(db) == "ok"
    got = names(db)
    assert len(got) == 1 + 10 + 30 + 10
    assert got[:11] == ["before", *(f"first {i}" for i in range(10))]
    assert got[-10:] == [f"after {i}" for i in range(10)]


@pytest.fixture
def python_opens(tmp_path, monkeypatch):
    """The Python-level opens (builtins.open, io.open, os.open: Path.open uses io.open) of the
    files of tmp_path/d.lima.db, recorded."""
    db = tmp_path / "d.lima.db"
    guarded = {os.path.realpath(p) for p in dataset_files.dataset_files(db)}  # (they need not exist yet)
    seen: list[str] = []
    real_open = os.open

    def spy(path, *a, **kw):
        if isinstance(path, (str, os.PathLike)) and os.path.realpath(os.fspath(path)) in guarded:
            seen.append(os.fspath(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr(os, "open", spy)
    import builtins
    import io

    real_builtin = builtins.open

    def spy_builtin(file, *a, **kw):
        if isinstance(file, (str, os.PathLike)) and os.path.realpath(os.fspath(file)) in guarded:
            seen.append(os.fspath(file))
        return real_builtin(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", spy_builtin)
    monkeypatch.setattr(io, "open", spy_builtin)
    return seen


def test_the_dataset_is_never_opened_by_python_while_a_store_is_open(tmp_path, python_opens):
    """Every open() of the dataset file or its companions while a store is open goes through
    SQLite; a Python open() of them is a bug."""
    db = tmp_path / "d.lima.db"
    DatasetStore(db).close()
    seen = python_opens
    first = DatasetStore(db)
    second = DatasetStore(db)
    second.create_chat("x")
    second.close()
    first.close()
    assert seen == []


def test_open_dataset_registry_refuses_plain_opens(tmp_path):
    db = tmp_path / "d.lima.db"
    link = tmp_path / "link.db"
    s = DatasetStore(db)
    link.symlink_to(db)
    try:
        for p in (db, link, Path(f"{db}-wal"), Path(f"{db}-shm")):
            with pytest.raises(DatasetError, match="open dataset"):
                dataset_files.refuse_open(p)
        dataset_files.refuse_open(tmp_path / "other.jsonl")  # no error
    finally:
        s.close()
    dataset_files.refuse_open(db)  # closed: plain files again


def test_the_open_dataset_given_as_an_import_file_or_tokenizer_is_never_opened(tmp_path, python_opens):
    """`lima-tk --db d.lima.db import d.lima.db`, the same from the window's import dialog, and
    the dataset given as a tokenizer.json: refused by name, without a Python open()."""
    from lima_tk.errors import FormatError
    from lima_tk.formats import detect_format, import_file
    from lima_tk.tokens import TokenizerError, load_counter

    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("x")
        python_opens.clear()
        with pytest.raises(FormatError, match="dataset that is open"):
            import_file(s, db)
        with pytest.raises(FormatError, match="dataset that is open"):
            detect_format(Path(f"{db}-wal"))
        with pytest.raises(TokenizerError, match="open dataset"):
            load_counter(str(db), strict=True)
        assert python_opens == []
        assert s.count_chats() == 1
