"""DatasetStore: schema, CRUD, filters, search, paging, errors. Real SQLite files in tmp dirs."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk.errors import DatasetError, NotFound, ValidationError
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import ChatFilter, DatasetStore
from tests.unprivileged import unprivileged

ROOT = Path(__file__).resolve().parents[1]


def _chat(store: DatasetStore, name: str, lang: str = "en", tags=(), texts=("hi", "hello")) -> int:
    roles = ["user", "assistant"] * len(texts)
    msgs = [Message(r, t) for r, t in zip(roles, texts, strict=False)]
    return store.create_chat(name, lang, list(tags), messages=msgs)


def test_new_file_is_wal_with_foreign_keys(store, db_path):
    assert db_path.exists()
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert store.get_settings()["languages"] == ["en"]


def test_create_and_get_chat_keeps_everything(store):
    tools = [Tool("get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})]
    msgs = [
        Message("system", "Be brief."),
        Message("user", "Weather\tin  Paris? 🌧 مرحبا 你好 e\u0301\x00end  "),
        Message("assistant", None, tool_calls=[{
            "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":  "Paris"}'}}]),
        Message("tool", "12C", tool_call_id="c1"),
        Message("assistant", "It is 12C.", weight=1),
    ]
    cid = store.create_chat("Weather", "fr", ["agent", "tools"], notes="n", messages=msgs, tools=tools)
    chat = store.get_chat(cid)
    assert chat.name == "Weather" and chat.language == "fr" and chat.tags == ["agent", "tools"]
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert chat.messages[1].content == msgs[1].content
    assert chat.messages[2].content is None
    assert chat.messages[2].tool_calls[0]["function"]["arguments"] == '{"city":  "Paris"}'
    assert chat.messages[3].tool_call_id == "c1"
    assert chat.messages[4].weight == 1
    assert chat.tools[0].parameters["properties"]["city"]["type"] == "string"
    assert "fr" in store.get_settings()["languages"]
    assert {"agent", "tools"} <= set(store.get_settings()["tags"])


def test_unknown_ids_raise_not_found(store):
    with pytest.raises(NotFound):
        store.get_chat(999)
    with pytest.raises(NotFound):
        store.edit_message_text(999, "x")
    with pytest.raises(NotFound):
        store.rename_chat(999, "x")


def test_bad_values_are_refused(store):
    cid = _chat(store, "a")
    with pytest.raises(ValidationError):
        store.add_message(cid, "robot", "x")
    with pytest.raises(ValidationError):
        store.add_message(cid, "assistant", "x", weight=2)
    with pytest.raises(ValidationError):
        store.add_tool(cid, Tool("bad name!"))
    with pytest.raises(ValidationError):
        store.set_setting("context_limit", "lots")
    with pytest.raises(ValidationError):
        store.set_setting("colour", "red")


def test_list_paging_sort_and_counts(store):
    ids = [_chat(store, f"chat {i:03d}", texts=["x"] * (i % 4 + 1)) for i in range(120)]
    assert store.count_chats() == 120
    page = store.list_chats(offset=100, limit=50)
    assert [c.id for c in page] == ids[100:]
    assert page[0].n_messages == (100 % 4) + 1
    by_name_desc = store.list_chats(sort="name", descending=True, limit=3)
    assert [c.name for c in by_name_desc] == ["chat 119", "chat 118", "chat 117"]
    most = store.list_chats(sort="messages", descending=True, limit=1)[0]
    assert most.n_messages == 4
    assert store.chat_ids(sort="name", descending=True)[:2] == [ids[119], ids[118]]
    with pytest.raises(ValidationError):
        store.list_chats(sort="colour")


def test_filters_text_tag_language(store):
    a = _chat(store, "Paris trip", "en", ["travel"], texts=("Where to eat croissants?", "At a bakery."))
    b = _chat(store, "Berlin", "de", ["travel", "food"], texts=("Currywurst bitte", "Gern."))
    c = _chat(store, "Maths", "en", ["logic"], texts=("What is 2+2?", "Four."))
    assert [x.id for x in store.list_chats(ChatFilter(text="croiss"))] == [a]  # prefix match on messages
    assert [x.id for x in store.list_chats(ChatFilter(text="berlin"))] == [b]  # chat name
    assert [x.id for x in store.list_chats(ChatFilter(tag="travel"))] == [a, b]
    assert [x.id for x in store.list_chats(ChatFilter(language="en"))] == [a, c]
    assert [x.id for x in store.list_chats(ChatFilter(tag="travel", language="de"))] == [b]
    assert store.count_chats(ChatFilter(text='four "quoted')) == 0  # quotes never break FTS syntax
    assert store.count_chats(ChatFilter(ids=[a, c])) == 2
    store.rename_chat(c, "Arithmetic")
    assert store.count_chats(ChatFilter(text="maths")) == 0
    assert store.count_chats(ChatFilter(text="arithm")) == 1
    store.delete_chats([a])
    assert store.count_chats(ChatFilter(text="croissants")) == 0


def test_fts_follows_message_edits(store):
    cid = _chat(store, "x", texts=("apple",))
    mid = store.get_chat(cid).messages[0].id
    store.edit_message_text(mid, "banana")
    assert store.count_chats(ChatFilter(text="apple")) == 0
    assert store.count_chats(ChatFilter(text="banana")) == 1


def test_copy_keeps_metadata(store):
    cid = store.create_chat("Orig", "ru", ["a"], notes="note",
                            messages=[Message("user", "q"), Message("assistant", "a", weight=0)],
                            tools=[Tool("f", "d", {"type": "object"})])
    [copy] = store.copy_chats([cid])
    a, b = store.get_chat(cid), store.get_chat(copy)
    assert b.name == "Orig (copy)" and b.language == "ru" and b.tags == ["a"] and b.notes == "note"
    assert [(m.role, m.content, m.weight) for m in a.messages] == [(m.role, m.content, m.weight) for m in b.messages]
    assert b.tools[0].name == "f" and b.uid != a.uid
    assert store.list_chats()[-1].id == copy


def test_move_chats_keeps_block_order(store):
    ids = [_chat(store, str(i)) for i in range(5)]
    store.move_chats([ids[2], ids[3]], -1)
    assert [c.id for c in store.list_chats()] == [ids[0], ids[2], ids[3], ids[1], ids[4]]
    store.move_chats([ids[0]], -1)  # already first: stays
    assert store.list_chats()[0].id == ids[0]
    store.move_chats([ids[4]], -10)
    assert store.list_chats()[0].id == ids[4]


def test_message_insert_move_delete_positions(store):
    cid = _chat(store, "m", texts=("a", "b", "c"))
    mids = [m.id for m in store.get_chat(cid).messages]
    new = store.add_message(cid, "system", "sys", position=0)
    assert [m.content for m in store.get_messages(cid)] == ["sys", "a", "b", "c"]
    store.move_messages([mids[2]], -2)
    assert [m.content for m in store.get_messages(cid)] == ["sys", "c", "a", "b"]
    store.delete_messages([new, mids[0]])
    msgs = store.get_messages(cid)
    assert [m.content for m in msgs] == ["c", "b"] and [m.position for m in msgs] == [0, 1]
    dup = store.duplicate_message(msgs[0].id)
    assert [m.content for m in store.get_messages(cid)] == ["c", "c", "b"]
    assert store.get_message(dup)[1].position == 1
    store.set_role([dup], "assistant")
    assert store.get_message(dup)[1].role == "assistant"


def test_tags_vocabulary_rename_merge_delete(store):
    a = _chat(store, "a", tags=["x", "y"])
    b = _chat(store, "b", tags=["y"])
    store.add_tags([a, b], ["z"])
    assert store.get_chat(b).tags == ["y", "z"]
    store.rename_tag("y", "x")  # merge into an existing tag
    assert store.get_chat(a).tags == ["x", "z"] and store.get_chat(b).tags == ["x", "z"]
    assert "y" not in store.get_settings()["tags"]
    assert store.tag_counts()["x"] == 2
    store.remove_tags([a], ["z"])
    store.delete_tag("x")
    assert store.get_chat(a).tags == [] and store.get_chat(b).tags == ["z"]
    assert store.count_chats(ChatFilter(tag="x")) == 0


def test_settings_round_trip_and_vocab(store):
    store.set_setting("languages", "en, ru,de,ru")
    assert store.get_setting("languages") == ["en", "ru", "de"]
    store.set_setting("context_limit", "8192")
    assert store.get_settings()["context_limit"] == 8192


def test_iter_chats_pages_in_list_order(store):
    ids = [_chat(store, str(i), texts=(f"q{i}", f"a{i}")) for i in range(23)]
    store.move_chats([ids[5]], -5)
    got = list(store.iter_chats(batch=4))
    assert [c.id for c in got][:2] == [ids[5], ids[0]]
    assert len(got) == 23 and all(len(c.messages) == 2 for c in got)
    assert [c.id for c in store.iter_chats(ChatFilter(ids=[ids[3], ids[7]]), batch=1)] == [ids[3], ids[7]]


def test_not_a_dataset_and_folder_errors(tmp_path):
    junk = tmp_path / "junk.lima.db"
    junk.write_bytes(b"hello, not sqlite at all")
    with pytest.raises(DatasetError, match="not a lima-tk dataset"):
        DatasetStore(junk)
    with pytest.raises(DatasetError, match="folder"):
        DatasetStore(tmp_path)
    with pytest.raises(DatasetError, match="no such"):
        DatasetStore(tmp_path / "missing.lima.db", create=False)


READ_ONLY_CHECK = """
import sys
from lima_tk.errors import DatasetError
from lima_tk.store import DatasetStore
s = DatasetStore(sys.argv[1])
print("readonly", s.readonly, s.count_chats())
try:
    s.create_chat("x")
except DatasetError as e:
    print("refused", e)
"""


def test_read_only_file_opens_read_only(db_path):
    """Run as an ordinary user would (as root, without root's right to write anything)."""
    with DatasetStore(db_path) as s:
        s.create_chat("kept")
    os.chmod(db_path, stat.S_IRUSR)
    before = db_path.read_bytes()
    r = subprocess.run([*unprivileged(), sys.executable, "-c", READ_ONLY_CHECK, str(db_path)], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "readonly True 1"
    assert lines[1].startswith("refused") and "read-only" in lines[1]
    assert db_path.read_bytes() == before


def test_explicit_read_only_mode_refuses_writes(db_path):
    DatasetStore(db_path).close()
    s = DatasetStore(db_path, readonly=True)
    assert s.count_chats() == 0
    with pytest.raises(DatasetError, match="read-only"):
        s.create_chat("x")
    with pytest.raises(DatasetError, match="read-only"):
        s.undo()


def test_busy_dataset_gives_clear_error(db_path):
    s = DatasetStore(db_path)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    s.conn.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(DatasetError) as e:
        s.create_chat("x")
    assert str(e.value) == f"another lima-tk is writing to {db_path}; try again"
    other.execute("ROLLBACK")
    s.create_chat("x")
    assert s.count_chats() == 1


def test_second_connection_sees_changes_and_data_version(db_path):
    a = DatasetStore(db_path)
    b = DatasetStore(db_path)
    v = b.data_version()
    a.create_chat("from a")
    assert b.data_version() != v
    assert [c.name for c in b.list_chats()] == ["from a"]


def test_chat_model_defaults():
    c = Chat()
    assert c.tags == [] and c.messages == [] and c.extra == {}
