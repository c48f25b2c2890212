"""The import's fast paths (issue 15): into an empty dataset the secondary indexes are dropped for
the insert and built again before commit; plain turns go through a narrower INSERT. Neither may
change what is stored, the schema the file ends with, or the all-or-nothing rule."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lima_tk.errors import FormatError
from lima_tk.formats import import_file
from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore


def schema_of(store: DatasetStore) -> list[tuple]:
    return store.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def write_jsonl(path: Path, chats: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in chats) + tail, encoding="utf-8")
    return path


PLAIN = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}",
                                                                      "weight": i % 2}]} for i in range(30)]


def test_import_into_an_empty_dataset_keeps_the_schema_and_its_indexes(db_path: Path, tmp_path: Path):
    with DatasetStore(db_path) as s:
        before = schema_of(s)
        cache = s.conn.execute("PRAGMA cache_size").fetchone()[0]
        import_file(s, write_jsonl(tmp_path / "a.jsonl", PLAIN), "openai")
        assert schema_of(s) == before, "every index and trigger is back after the bulk insert"
        assert s.conn.execute("PRAGMA cache_size").fetchone()[0] == cache
        plan = " ".join(r[3] for r in s.conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM chats ORDER BY name COLLATE NOCASE LIMIT 5"))
        assert "chats_name" in plan
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the indexes hold every row: a search through them finds what a scan finds
        q = s.conn.execute
        assert q("SELECT count(*) FROM messages INDEXED BY messages_chat WHERE chat_id > 0").fetchone()[0] \
            == q("SELECT count(*) FROM messages NOT INDEXED").fetchone()[0] == 60
        assert s.count_chats() == 30 and [c.name for c in s.list_chats(sort="name", limit=2)] == [
            "question 0", "question 1"]
        assert s.list_chats(f=None, limit=1)[0].n_messages == 2
        from lima_tk.store import ChatFilter

        assert s.count_chats(ChatFilter(text="answer")) == 30  # the FTS was filled
        # a second import into the now non-empty dataset takes the ordinary path
        import_file(s, write_jsonl(tmp_path / "b.jsonl", [{"messages": [{"role": "user", "content": "more"}]}]),
                    "openai")
        assert schema_of(s) == before and s.count_chats() == 31
        s.undo()
        s.undo()
        assert s.count_chats() == 0 and schema_of(s) == before


def test_a_failing_import_into_an_empty_dataset_leaves_it_as_it_was(db_path: Path, tmp_path: Path):
    with DatasetStore(db_path) as s:
        before = schema_of(s)
        src = write_jsonl(tmp_path / "bad.jsonl", PLAIN, tail='{"messages": [{"role": "user", "content": 1}]}\n')
        with pytest.raises(FormatError) as e:
            import_file(s, src, "openai")
        assert e.value.line == 31
        assert schema_of(s) == before and s.count_chats() == 0
        assert s.undo_label() is None
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_plain_and_rich_messages_store_the_same_columns(db_path: Path):
    """A batch of plain turns takes the narrow INSERT; a batch with one rich message the full one:
    every stored column must be what was given (an empty name stays '', not NULL)."""
    rich = [Message("user", "plain", weight=None),
            Message("assistant", "", name="", tool_call_id=None, weight=0),
            Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                    "function": {"name": "f", "arguments": "{}"}}]),
            Message("tool", "42", tool_call_id="c1"),
            Message("assistant", "gen", source="generated", model="m", finish="stop",
                    alternatives=[{"content": "old", "source": "generated"}], alt_index=1)]
    plain = [Message("system", "s"), Message("user", "u", weight=None), Message("assistant", "a", weight=1)]
    cols = "role, content, name, tool_calls, tool_call_id, weight, source, model, finish, alternatives, alt_index"
    with DatasetStore(db_path) as s:
        r = s.add_chats([Chat("plain", messages=plain), Chat("rich", messages=rich)], batch=1)  # one batch each
        rows = s.conn.execute(f"SELECT chat_id, position, {cols} FROM messages ORDER BY chat_id, position").fetchall()
    assert r.chats == 2 and r.messages == 8
    expected = [
        (1, 0, "system", "s", None, None, None, None, None, None, None, None, None),
        (1, 1, "user", "u", None, None, None, None, None, None, None, None, None),
        (1, 2, "assistant", "a", None, None, None, 1, None, None, None, None, None),
        (2, 0, "user", "plain", None, None, None, None, None, None, None, None, None),
        (2, 1, "assistant", "", "", None, None, 0, None, None, None, None, None),
        (2, 2, "assistant", None, None, json.dumps(rich[2].tool_calls), None, None, None, None, None, None, None),
        (2, 3, "tool", "42", None, None, "c1", None, None, None, None, None, None),
        (2, 4, "assistant", "gen", None, None, None, None, "generated", "m", "stop",
         json.dumps(rich[4].alternatives), 1),
    ]
    assert rows == expected
    # ids follow the order of the import within and across batches
    with DatasetStore(db_path) as s:
        ids = [r[0] for r in s.conn.execute("SELECT id FROM messages ORDER BY chat_id, position")]
    assert ids == sorted(ids)
