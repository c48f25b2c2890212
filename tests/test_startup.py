"""Start-up stays light (issue 15): creating or opening a dataset and every CLI command import no
heavy package they do not need. `sqlite_utils` pulls in pandas and numpy when they are installed
(they are in the test venv, through `datasets`), which cost ~0.3 s per start; `openai` and
`tokenizers` are imported only for a request or a count. Real subprocesses: sys.modules of a
fresh interpreter is what a user's start pays for. The schema made without sqlite_utils is the
one sqlite_utils' Migrations makes, and either can read the other's record of applied steps."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from lima_tk.store import DatasetStore
from lima_tk.store.migrations import MIGRATIONS
from lima_tk.store.schema import STEPS, split_sql

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlite_utils", "numpy", "pandas", "openai", "tokenizers", "jinja2", "httpx2")

# Runs the real console entry point in this interpreter, then reports which heavy modules it
# imported (click's standalone mode ends with SystemExit).
RUN_CLI = f"""
import json, sys
from lima_tk.cli import main
sys.argv = ["lima-tk", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as e:
    code = e.code or 0
print("MODULES " + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)
sys.exit(code)
"""


def heavy_modules(*args: str, cwd: Path, code: str = RUN_CLI, ok: tuple[int, ...] = (0,)) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env,
                       timeout=60)
    assert r.returncode in ok, r.stderr
    line = [x for x in r.stderr.splitlines() if x.startswith("MODULES ")]
    assert line, r.stderr
    return json.loads(line[-1].removeprefix("MODULES "))


def test_importing_the_package_and_numpy_are_available():
    """The checks below mean something only where sqlite_utils would pull pandas/numpy in."""
    pytest.importorskip("numpy")
    pytest.importorskip("pandas")
    code = "import sys, sqlite_utils; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"], "sqlite_utils no longer imports them: this test guards nothing"


def test_creating_a_dataset_imports_nothing_heavy(tmp_path: Path):
    code = ("import json, sys\nfrom lima_tk.store import DatasetStore\nfrom lima_tk.model import Message\n"
            "s = DatasetStore(sys.argv[1]); s.create_chat('x', messages=[Message('user', 'hi')]); s.undo(); s.close()\n"
            f"print('MODULES ' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n")
    assert heavy_modules(str(tmp_path / "new.lima.db"), cwd=tmp_path, code=code) == []
    assert heavy_modules(str(tmp_path / "new.lima.db"), cwd=tmp_path, code=code) == []  # existing now
    with DatasetStore(tmp_path / "new.lima.db") as s:
        assert s.count_chats() == 0 and s.redo() is not None and s.count_chats() == 1


COMMANDS = [
    ["list"],
    ["list", "--sort", "tokens"],
    ["stats"],
    ["config"],
    ["config", "languages", "en,ru"],
    ["undo"],
    ["redo"],
    ["export", "out.jsonl"],
    ["import", "in.jsonl"],
    ["validate", "--no-count"],  # exit 1 on the existing dataset: its chat has no messages
    ["validate", "--no-count", "in.jsonl"],  # counting tokens is work that loads a tokenizer
    ["generate", "--base-url", "http://127.0.0.1:9/v1"],  # nothing to generate: no request, no openai
    ["about"],
]


@pytest.mark.parametrize("existing", [False, True], ids=["new dataset", "existing dataset"])
def test_cli_commands_import_nothing_heavy(tmp_path: Path, existing: bool):
    (tmp_path / "in.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    db = tmp_path / "data.lima.db"
    for args in COMMANDS:
        if not existing:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        elif not db.exists():
            with DatasetStore(db) as s:
                s.create_chat("old", messages=[])
        ok = (0, 1) if args[0] == "validate" else (0,)
        assert heavy_modules("--db", str(db), *args, cwd=tmp_path, ok=ok) == [], f"lima-tk {' '.join(args)}"


def test_schema_is_the_one_sqlite_utils_migrations_make(tmp_path: Path):
    ours = tmp_path / "ours.lima.db"
    DatasetStore(ours).close()
    theirs = tmp_path / "theirs.db"
    conn = sqlite3.connect(theirs, isolation_level=None)
    MIGRATIONS.apply(Database(conn))
    conn.close()

    def schema(path: Path) -> tuple[list[tuple], list[tuple]]:
        c = sqlite3.connect(path)
        try:
            objects = c.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
            applied = c.execute("SELECT id, migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
            return objects, applied
        finally:
            c.close()

    assert schema(ours) == schema(theirs)
    assert [row[2] for row in schema(ours)[1]] == [name for name, _ in STEPS]
    db = Database(sqlite3.connect(ours))
    assert MIGRATIONS.pending(db) == [] and len(MIGRATIONS.applied(db)) == len(STEPS)
    MIGRATIONS.apply(db)  # sqlite_utils finds nothing to do in a file lima-tk made
    assert schema(ours)[1] == schema(theirs)[1]
    db.close()


def test_an_older_schema_made_by_sqlite_utils_is_upgraded_without_it(tmp_path: Path):
    path = tmp_path / "old.lima.db"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS.apply(Database(conn), stop_before="m003_token_cache")
    conn.execute("INSERT INTO chats (uid, name, created_at, updated_at, position) VALUES ('u', 'kept', 't', 't', 0)")
    conn.close()
    code = ("import json, sys\nfrom lima_tk.store import DatasetStore\ns = DatasetStore(sys.argv[1])\n"
            "assert s.get_chat(1).name == 'kept'; s.close()\n"
            f"print('MODULES ' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n")
    assert heavy_modules(str(path), cwd=tmp_path, code=code) == []
    db = Database(sqlite3.connect(path))
    assert MIGRATIONS.pending(db) == []
    names = [m.name for m in MIGRATIONS.applied(db)]
    assert names == [name for name, _ in STEPS]
    db.close()


def test_many_processes_creating_one_new_file_at_once(tmp_path: Path):
    """Every process either creates the schema or finds it made: one BEGIN IMMEDIATE for all steps."""
    path = tmp_path / "race.lima.db"
    code = "import sys; from lima_tk.store import DatasetStore; DatasetStore(sys.argv[1]).close(); print('ok')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.strip() == "ok", err
    c = sqlite3.connect(path)
    names = [r[0] for r in c.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    c.close()
    assert names == [name for name, _ in STEPS]


def test_split_sql_keeps_triggers_and_strings_whole():
    script = """
    CREATE TABLE t (a TEXT DEFAULT 'x;y');
    -- a comment; with a semicolon
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        INSERT INTO t VALUES ('in; trigger');
        DELETE FROM t WHERE a = ';';
    END;
    CREATE INDEX i ON t(a)
    """
    parts = split_sql(script)
    assert len(parts) == 3
    assert parts[1].rstrip(";").endswith("END") and "'in; trigger'" in parts[1]
    conn = sqlite3.connect(":memory:")
    for p in parts:
        conn.execute(p)
    conn.execute("INSERT INTO t VALUES ('z')")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2  # 'z' and the trigger's row
