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


def test_m006_rebuilds_messages_keeping_rows_search_counts_undo_and_checks(tmp_path):
    """m006 rewrites the messages CHECKs without IN (bulk inserts ran ~2x slower with them): the
    rebuild keeps every row and id, the FTS index, the token tables, the view, the triggers and
    the undo journal working, and the rules still refuse what they refused."""
    import pytest

    from lima_tk.model import Chat, Message

    path = tmp_path / "m005.lima.db"
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.conn.execute("PRAGMA foreign_keys = ON")
    MIGRATIONS.apply(db, stop_before="m006_messages_checks_without_in")
    assert "role IN (" in db.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    db.close()
    # What an m005 store writes, in plain SQL (a DatasetStore would upgrade the file first).
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO chats (uid, name, created_at, updated_at, position) "
                 "VALUES ('u1', 'zebra chat', 't', 't', 0)")
    conn.execute("INSERT INTO messages (chat_id, position, role, content, weight, source, alternatives, alt_index) "
                 "VALUES (1, 0, 'user', 'quokka question', NULL, 'human', NULL, NULL), "
                 "(1, 1, 'assistant', 'platypus answer', 0, 'generated', '[\"a\", \"b\"]', 1)")
    conn.execute("INSERT INTO token_keys (id, key, active) VALUES (1, 'k', 1)")
    conn.execute("INSERT INTO message_tokens (message_id, tok, n) VALUES (1, 1, 7), (2, 1, 9)")
    conn.close()

    with DatasetStore(path) as s:
        sql = s.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        assert " IN (" not in sql
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        msgs = s.get_messages(1)
        assert [(m.id, m.role, m.content, m.weight, m.source, m.alternatives, m.alt_index) for m in msgs] == [
            (1, "user", "quokka question", None, "human", None, None),
            (2, "assistant", "platypus answer", 0, "generated", ["a", "b"], 1)]
        assert s.conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'platypus'").fetchall() == [(2,)]
        assert s.conn.execute("SELECT message_id, n FROM message_tokens ORDER BY 1").fetchall() == [(1, 7), (2, 9)]
        assert s.conn.execute("SELECT messages, first_user_message FROM chat_overview").fetchall() == [
            (2, "quokka question")]
        names = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'messages'")}
        assert {"messages_chat", "messages_fts_ai", "messages_fts_ad", "messages_fts_au", "message_tokens_au",
                "message_tokens_ad", "chat_tokens_mi", "chat_tokens_md", "chat_tokens_mu"} <= names
        # the triggers work on the new table: an edit re-indexes the text and drops its count
        s.edit_message_text(1, "wombat question")
        assert s.conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'wombat'").fetchall() == [(1,)]
        assert s.conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'quokka'").fetchall() == []
        assert s.conn.execute("SELECT message_id FROM message_tokens").fetchall() == [(2,)]
        s.undo()
        assert s.get_messages(1)[0].content == "quokka question"
        # an import after the upgrade, and its undo
        s.add_chats([Chat(name="new", messages=[Message("user", "numbat"), Message("assistant", "ok")])], bulk=True)
        assert s.count_chats() == 2
        s.undo()
        assert s.count_chats() == 1
        # the rules still hold
        for bad in ("INSERT INTO messages (chat_id, position, role) VALUES (1, 5, 'robot')",
                    "INSERT INTO messages (chat_id, position, role, weight) VALUES (1, 5, 'user', 2)",
                    "INSERT INTO messages (chat_id, position, role, source) VALUES (1, 5, 'user', 'typed')",
                    "INSERT INTO messages (chat_id, position, role, alt_index) VALUES (1, 5, 'user', -1)",
                    "INSERT INTO messages (chat_id, position, role) VALUES (99, 5, 'user')"):
            with pytest.raises(sqlite3.IntegrityError):
                s.conn.execute(bad)


def test_a_new_dataset_gets_8_kib_pages_and_an_older_file_keeps_its_own(tmp_path):
    """New datasets use PAGE_SIZE (a bulk import ~14 % faster than with 4 KiB pages); the page size
    of a file is fixed once written, so older 4 KiB datasets open and work as they are."""
    from lima_tk.model import Message
    from lima_tk.store.db import PAGE_SIZE

    with DatasetStore(tmp_path / "new.lima.db") as s:
        assert s.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 8192
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    old = tmp_path / "old.lima.db"
    db = Database(sqlite3.connect(old, isolation_level=None))
    MIGRATIONS.apply(db)
    assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    db.close()
    with DatasetStore(old) as s:
        assert s.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        cid = s.create_chat("kept", messages=[Message("user", "hello")])
        assert s.get_chat(cid).messages[0].content == "hello"
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
