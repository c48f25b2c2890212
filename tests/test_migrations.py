"""Schema creation and upgrade: a blank file, an old-schema file, and a crash mid-edit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlite_utils import Database

from lima_tk.store import DatasetStore
from lima_tk.store.migrations import MIGRATIONS


def test_blank_file_gets_the_schema(tmp_path):
    path = tmp_path / "blank.lima.db"
    path.write_bytes(b"")
    with DatasetStore(path) as s:
        names = set(s.db.table_names())
        assert {"chats", "messages", "tools", "settings", "journal", "chats_fts", "messages_fts"} <= names
        assert [m.name for m in MIGRATIONS.applied(s.db)] == [m.name for m in MIGRATIONS._migrations]


def test_old_schema_file_is_upgraded_and_keeps_data(tmp_path):
    path = tmp_path / "old.lima.db"
    db = Database(sqlite3.connect(path, isolation_level=None))
    MIGRATIONS.apply(db, stop_before="m002_chat_overview_view")
    db.execute("INSERT INTO chats (uid, name, created_at, updated_at, position) VALUES ('u1', 'old chat', 't', 't', 0)")
    db.execute("INSERT INTO messages (chat_id, position, role, content) VALUES (1, 0, 'user', 'kept')")
    assert "chat_overview" not in db.view_names()
    db.close()
    with DatasetStore(path) as s:
        assert s.db.execute("SELECT name, messages, first_user_message FROM chat_overview").fetchall() == [
            ("old chat", 1, "kept")]
        assert s.get_chat(1).messages[0].content == "kept"
        assert s.get_chat(1).name == "old chat"
    # opening again applies nothing twice
    with DatasetStore(path) as s:
        assert not MIGRATIONS.pending(s.db)


WRITER = textwrap.dedent(
    """
    import sys
    from lima_tk.model import Message
    from lima_tk.store import DatasetStore
    s = DatasetStore(sys.argv[1])
    i = 0
    while True:
        cid = s.create_chat(f"chat {i}", messages=[Message("user", "q")])
        mid = s.get_messages(cid)[0].id
        s.edit_message_text(mid, f"edited {i}")
        s.delete_chats([cid - 1]) if i % 3 == 2 else None
        print(i, cid, flush=True)
        i += 1
    """
)


def test_sigkill_during_edits_loses_no_committed_edit(tmp_path):
    path = tmp_path / "crash.lima.db"
    DatasetStore(path).close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    done: list[tuple[int, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        i, cid = map(int, line.split())
        done.append((i, cid))
        if len(done) >= 150:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with DatasetStore(path) as s:
        for i, cid in done:
            # iteration i+1 deletes this chat when (i+1) % 3 == 2; the last one may have run
            # past its delete and been killed before printing, so it may go either way
            if (i + 1) % 3 == 2 and ((i + 1, cid + 1) in done or (i, cid) == done[-1]):
                continue
            chat = s.get_chat(cid)
            assert chat.name == f"chat {i}"
            assert chat.messages[0].content == f"edited {i}"
        # the journal still works on the recovered file
        assert s.undo() is not None


def test_schema_steps_list_every_migration_and_open_skips_sqlite_utils(tmp_path):
    from lima_tk.store.db import SCHEMA_STEPS

    assert SCHEMA_STEPS == tuple(m.name for m in MIGRATIONS._migrations)
    path = tmp_path / "fast.lima.db"
    DatasetStore(path).close()
    code = ("import sys; from lima_tk.store import DatasetStore; s = DatasetStore(sys.argv[1]); "
            "s.create_chat('x'); s.undo(); print('sqlite_utils' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr
