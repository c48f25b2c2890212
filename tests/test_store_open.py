"""Which files lima-tk writes, and what a user reads when SQLite fails (issue 10, items 5-7):
another program's database is left byte for byte; a newer lima-tk's dataset opens read-only;
a cleanly closed dataset on read-only media opens read-only; busy and full disks give one plain
sentence naming the file, for writes, undo/redo and reads, in the CLI and the store."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lima_tk.errors import DatasetBusy, DatasetError, DatasetFull
from lima_tk.model import Message
from lima_tk.store import DatasetStore
from tests.unprivileged import unprivileged

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str, prefix: tuple[str, ...] = (), env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or ENV, timeout=60)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lima-tk: error: "), r.stderr
    assert "Traceback" not in r.stderr and "OperationalError" not in r.stderr
    return lines[0].removeprefix("lima-tk: error: ")


def jsonl(path: Path, n: int, size: int = 20) -> Path:
    import json

    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i} " + "x" * size},
                                                     {"role": "assistant", "content": "a"}]}) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


# -- item 5: foreign and newer files -----------------------------------------------------------


@pytest.mark.parametrize("journal, kind", [("delete", "tables"), ("wal", "tables"), ("delete", "migrations only")])
def test_another_programs_database_is_refused_and_left_byte_identical(tmp_path: Path, journal: str,
                                                                      kind: str) -> None:
    other = tmp_path / "other_app.db"
    conn = sqlite3.connect(other)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    if kind == "tables":
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"note {i}",) for i in range(50)])
    else:  # another sqlite-utils app that has only recorded its own migrations so far
        conn.execute("CREATE TABLE _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)")
        conn.execute("INSERT INTO _sqlite_migrations VALUES ('notes_app', 'm001_start', '2024-01-01')")
    conn.commit()
    conn.close()
    before = digest(other)
    src = jsonl(tmp_path / "in.jsonl", 2)
    for args in (["list"], ["stats", "--no-count"], ["config"], ["config", "languages", "de"], ["import", str(src)],
                 ["undo"], ["export", str(tmp_path / "out.jsonl")], ["validate"]):
        msg = one_error_line(run("--db", str(other), *args))
        assert msg == f"{other}: not a lima-tk dataset (an SQLite database of another program); it was left as it is"
        assert digest(other) == before, args
        assert not Path(f"{other}-wal").exists() and not Path(f"{other}-shm").exists()
    with pytest.raises(DatasetError, match="not a lima-tk dataset"):
        DatasetStore(other)
    assert digest(other) == before


def test_empty_file_becomes_a_dataset_and_read_commands_do_not_write(tmp_path: Path) -> None:
    empty = tmp_path / "new.lima.db"
    empty.write_bytes(b"")
    with DatasetStore(empty) as s:
        s.create_chat("first", messages=[Message("user", "q"), Message("assistant", "a")])
    before = digest(empty)
    for args in (["list"], ["stats", "--no-count"], ["config"], ["export", str(tmp_path / "o.jsonl")],
                 ["validate", "--no-count"]):
        r = run("--db", str(empty), *args)
        assert r.returncode == 0, r.stderr
        assert digest(empty) == before, args


def _newer(path: Path) -> Path:
    with DatasetStore(path) as s:
        s.create_chat("kept", messages=[Message("user", "q"), Message("assistant", "a")])
        s.conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                       "VALUES ('lima_tk', 'm007_something_new', '2031-01-01')")
    return path


def test_a_newer_lima_tk_dataset_opens_read_only(tmp_path: Path) -> None:
    db = _newer(tmp_path / "new.lima.db")
    reason = "made by a newer lima-tk (schema m007); upgrade to edit"
    with DatasetStore(db) as s:
        assert s.readonly and s.readonly_reason == reason
        assert [c.name for c in s.list_chats()] == ["kept"]
        for write in (lambda: s.create_chat("x"), s.undo, s.redo, lambda: s.set_setting("languages", "de")):
            with pytest.raises(DatasetError, match=r"read-only \(made by a newer lima-tk \(schema m007\); upgrade"):
                write()
        with pytest.raises(DatasetError, match="read-only"):  # even a raw write: the connection is query_only
            s.conn.execute("DELETE FROM chats")
    before = digest(db)
    assert run("--db", str(db), "list").returncode == 0
    for args in (["config", "languages", "de"], ["undo"], ["import", str(jsonl(tmp_path / "i.jsonl", 1))]):
        msg = one_error_line(run("--db", str(db), *args))
        assert reason in msg and str(db) in msg, msg
    assert digest(db) == before
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 1


# -- item 6: read-only media -------------------------------------------------------------------


@contextlib.contextmanager
def readable_dir() -> Iterator[Path]:
    """A folder that an unprivileged user can read (pytest's own tmp folders are 0700)."""
    d = Path(tempfile.mkdtemp(prefix="lima-ro-", dir="/tmp"))
    try:
        os.chmod(d, 0o755)
        yield d
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)


RO_CHECK = ("import sys; from lima_tk.store import DatasetStore; s = DatasetStore(sys.argv[1]); "
            "print(s.readonly, s.readonly_reason, s.count_chats(), sep='|')")


def _clean_dataset(folder: Path) -> Path:
    db = folder / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("on a stick", messages=[Message("user", "q"), Message("assistant", "a")])
    os.chmod(db, 0o644)
    assert not Path(f"{db}-wal").exists()  # closed cleanly
    return db


def _check_read_only(db: Path, prefix: tuple[str, ...], env: dict) -> None:
    # cwd: this checkout (mutation runs find their configuration there), never the folder itself
    before = digest(db)
    r = subprocess.run([*prefix, sys.executable, "-c", RO_CHECK, str(db)], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True|this file (or its folder) cannot be written|1"
    r = subprocess.run([*prefix, sys.executable, "-m", "lima_tk", "--db", str(db), "list"], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "on a stick" in r.stdout and "needs an upgrade" not in r.stderr
    r = subprocess.run([*prefix, sys.executable, "-m", "lima_tk", "--db", str(db), "config", "languages", "de"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    msg = one_error_line(r)
    assert str(db) in msg and "read-only" in msg and "needs an upgrade" not in msg
    assert digest(db) == before


def test_clean_dataset_on_a_folder_we_cannot_write_opens_read_only() -> None:
    """In a folder made read-only, run as an ordinary user would (as root, in CI: without root's
    right to write anything; tests/unprivileged.py)."""
    with readable_dir() as d:
        db = _clean_dataset(d)
        env = {**ENV, "HOME": str(d), "XDG_CONFIG_HOME": str(d / "cfg"), "XDG_DATA_HOME": str(d / "data")}
        os.chmod(d, 0o555)
        _check_read_only(db, unprivileged(), env)


@contextlib.contextmanager
def mounted(kind: str, source: Path | None = None, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size`, or a read-only bind mount of `source` (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    target = Path(tempfile.mkdtemp(prefix="lima-mnt-", dir="/tmp"))
    cmds = ([["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)]] if kind == "tmpfs" else
            [["mount", "--bind", str(source), str(target)], ["mount", "-o", "remount,ro,bind", str(target)]])
    done = 0
    try:
        for cmd in cmds:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                pytest.skip(f"cannot mount here ({r.stderr.strip()})")
            done += 1
        yield target
    finally:
        if done:
            r = subprocess.run(["umount", str(target)], capture_output=True, text=True)
            if r.returncode != 0:  # something of the test still has a file open there: detach it
                subprocess.run(["umount", "-l", str(target)], capture_output=True)
        target.rmdir()


def test_clean_dataset_on_a_read_only_mount_opens_read_only(tmp_path: Path) -> None:
    with readable_dir() as d:
        _clean_dataset(d)
        with mounted("ro-bind", d) as mnt:
            db = mnt / "d.lima.db"
            with DatasetStore(db) as s:
                assert s.readonly and s.readonly_reason == "this file (or its folder) cannot be written"
                assert [c.name for c in s.list_chats()] == ["on a stick"]
                with pytest.raises(DatasetError, match="read-only"):
                    s.create_chat("x")
            r = run("--db", str(db), "list")
            assert r.returncode == 0 and "on a stick" in r.stdout, r.stderr
            r = run("--db", str(db), "export", str(tmp_path / "out.jsonl"))
            assert r.returncode == 0, r.stderr
            assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 1
            msg = one_error_line(run("--db", str(db), "undo"))
            assert "read-only" in msg and "needs an upgrade" not in msg


# -- item 7: busy and full, in plain words -----------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def write_lock_held(db: Path) -> Iterator[None]:
    """Another process holds the dataset's write lock (BEGIN IMMEDIATE) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


def test_undo_redo_and_writes_under_another_writer_say_so(tmp_path: Path) -> None:
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("one")
        s.create_chat("two")
        s.undo()
    busy = f"another lima-tk is writing to {db}; try again"
    with write_lock_held(db):
        procs = {args: subprocess.Popen([sys.executable, "-m", "lima_tk", "--db", str(db), *args], cwd=ROOT, env=ENV,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args in (("undo",), ("redo",), ("config", "languages", "de"))}
        results = {args: subprocess.CompletedProcess(p.args, p.wait(timeout=60), *p.communicate())
                   for args, p in procs.items()}
        reader = run("--db", str(db), "list")  # readers never wait for a writer
        assert reader.returncode == 0 and "one" in reader.stdout
        for args, r in results.items():
            assert one_error_line(r) == busy, args
        with DatasetStore(db, busy_timeout_ms=50) as s:
            for op in (s.undo, s.redo, lambda: s.create_chat("three")):
                with pytest.raises(DatasetBusy) as e:
                    op()
                assert str(e.value) == busy
    r = run("--db", str(db), "redo")
    assert r.returncode == 0 and r.stdout.strip() == "redid: New chat"


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError:
                break
    return filler


def test_a_full_disk_says_so_and_changes_nothing(tmp_path: Path) -> None:
    with mounted("tmpfs", size="3m") as mnt:
        db = mnt / "d.lima.db"
        full = f"no space left on the disk of {db}; nothing was changed"
        s = DatasetStore(db)
        try:
            s.create_chat("before")
            filler = _fill(mnt)
            big = "y" * 400_000
            with pytest.raises(DatasetFull) as e:
                s.create_chat("big", messages=[Message("user", big)])
            assert str(e.value) == full
            with pytest.raises(DatasetFull, match="no space left"):
                s.undo()
            r = run("--db", str(db), "import", str(jsonl(tmp_path / "in.jsonl", 50, 20_000)))
            assert one_error_line(r) == full
            assert one_error_line(run("--db", str(db), "undo")) == full
            assert [c.name for c in s.list_chats()] == ["before"]
            filler.unlink()
            s.create_chat("after")
        finally:
            s.close()
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert [r[0] for r in conn.execute("SELECT name FROM chats ORDER BY id")] == ["before", "after"]


def test_a_damaged_file_is_one_sentence_for_reads_too(tmp_path: Path) -> None:
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        for i in range(200):
            s.create_chat(f"c{i}", messages=[Message("user", "x" * 500)])
        page = s.conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    for off in range(page * 3, len(data) - page, page * 5):  # the start of every fifth page
        data[off + 100:off + 600] = b"\xff" * 500
    db.write_bytes(bytes(data))
    for args in (["list"], ["export", str(tmp_path / "o.jsonl")]):
        assert one_error_line(run("--db", str(db), *args)) == (
            f"{db} is damaged (database disk image is malformed); restore it from a copy")
