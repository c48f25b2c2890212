"""Provenance and alternatives of messages (issue 5): store methods, undo/redo to the exact rows,
native round trip, and the m004 upgrade of an older file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlite_utils import Database

from lima_tk.errors import NotFound, ValidationError
from lima_tk.formats import export_file, import_file
from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.store.journal import Journal
from lima_tk.store.migrations import MIGRATIONS
from tests.test_journal import dump

CALL = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]


def seed(store: DatasetStore) -> dict[str, int]:
    a = store.create_chat("Gen zebra", "en", messages=[
        Message("system", "sys"), Message("user", "zebra question"),
        Message("assistant", "first draft", source="generated", model="m1", finish="stop"),
    ])
    b = store.create_chat("Human", messages=[Message("user", "quokka"), Message("assistant", "typed by hand")])
    ma = [m.id for m in store.get_messages(a)]
    mb = [m.id for m in store.get_messages(b)]
    store.add_alternative(ma[2], "second draft", model="m2", finish="length")
    assert store.journal.steps()[0].label == "Regenerate reply"
    return {"a": a, "b": b, "user": ma[1], "gen": ma[2], "human": mb[1]}


def generate(store: DatasetStore, chat_id: int) -> int:
    mid = store.begin_generated_message(chat_id, "m3")
    for piece in ("Hel", "lo ", "zebra"):
        store.append_generated_text(mid, piece)
    store.finish_generated(mid, "stop", model="m3-2024")
    return mid


def regenerate(store: DatasetStore, mid: int) -> None:
    store.add_alternative(mid, "", model="m4")
    for piece in ("re", "gen"):
        store.append_generated_text(mid, piece)
    store.finish_generated(mid, "length")


MUTATIONS: dict[str, Callable[[DatasetStore, dict[str, int]], object]] = {
    "generate": lambda s, k: generate(s, k["b"]),
    "generate_tool_call": lambda s, k: s.finish_generated(s.begin_generated_message(k["b"], "m"), "tool_calls", CALL),
    "regenerate": lambda s, k: regenerate(s, k["gen"]),
    "regenerate_hidden": lambda s, k: s.add_alternative(k["human"], "alt", model="m", finish="stop", show=False),
    "show_alternative": lambda s, k: s.show_alternative(k["gen"], 0),
    "delete_shown_alternative": lambda s, k: s.delete_alternative(k["gen"], 1),
    "delete_other_alternative": lambda s, k: s.delete_alternative(k["gen"], 0),
    "continue": lambda s, k: (s.begin_continue(k["human"], "m5"), s.append_generated_text(k["human"], " more"),
                              s.finish_generated(k["human"], "stop")),
    "edit_generated": lambda s, k: s.edit_message_text(k["gen"], "fixed by hand"),
    "update_provenance": lambda s, k: s.update_message(k["human"], source="generated", model="x", finish="stop"),
    "update_alternatives": lambda s, k: s.update_message(k["human"], alternatives=[{"content": "v"}], alt_index=1),
    "copy_chats": lambda s, k: s.copy_chats([k["a"]]),
    "duplicate_message": lambda s, k: s.duplicate_message(k["gen"]),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_undo_redo_restores_exact_rows(name: str, db_path: Path):
    store = DatasetStore(db_path)
    keys = seed(store)
    before = dump(store)
    n_steps = len(store.journal.steps())
    MUTATIONS[name](store, keys)
    after = dump(store)
    assert after != before, "the mutation changed nothing"
    assert len(store.journal.steps()) == n_steps + 1, "one user action, one undo step"
    assert store.undo() is not None
    assert dump(store) == before
    store.redo()
    assert dump(store) == after
    store.undo()
    store.close()
    store = DatasetStore(db_path)  # the journal is in the file
    assert dump(store) == before
    store.redo()
    assert dump(store) == after
    store.close()


def test_generation_is_one_step_with_provenance(store: DatasetStore):
    keys = seed(store)
    mid = generate(store, keys["b"])
    chat_id, m = store.get_message(mid)
    assert (chat_id, m.role, m.content, m.source, m.model, m.finish) == (
        keys["b"], "assistant", "Hello zebra", "generated", "m3-2024", "stop")
    assert store.undo_label() == "Generate reply"
    store.undo()
    with pytest.raises(NotFound):
        store.get_message(mid)
    store.redo()
    assert store.get_message(mid)[1].content == "Hello zebra"


def test_streaming_message_is_marked_unfinished_until_finish(store: DatasetStore):
    keys = seed(store)
    mid = store.begin_generated_message(keys["b"], "m")
    store.append_generated_text(mid, "part")
    m = store.get_message(mid)[1]
    assert (m.content, m.source, m.finish) == ("part", "generated", None)
    store.finish_generated(mid, "interrupted")
    assert store.get_message(mid)[1].finish == "interrupted"


def test_tool_call_only_reply_has_null_content(store: DatasetStore):
    keys = seed(store)
    mid = store.begin_generated_message(keys["b"], "m")
    store.finish_generated(mid, "tool_calls", CALL)
    m = store.get_message(mid)[1]
    assert m.content is None and m.tool_calls == CALL and m.finish == "tool_calls"


def test_alternatives_flip_and_keep_every_version(store: DatasetStore):
    keys = seed(store)
    mid = keys["gen"]
    m = store.get_message(mid)[1]
    assert (m.content, m.model, m.finish, m.alt_index) == ("second draft", "m2", "length", 1)
    assert m.alternatives == [{"content": "first draft", "tool_calls": None, "source": "generated",
                               "model": "m1", "finish": "stop"}]
    regenerate(store, mid)
    m = store.get_message(mid)[1]
    assert [v["content"] for v in m.variants()] == ["first draft", "second draft", "regen"]
    assert m.alt_index == 2 and m.content == "regen"
    store.show_alternative(mid, 0)
    m = store.get_message(mid)[1]
    assert (m.content, m.model, m.alt_index) == ("first draft", "m1", 0)
    assert [v["content"] for v in m.variants()] == ["first draft", "second draft", "regen"]
    assert store.undo_label() == "Show version 1 of 3"
    store.show_alternative(mid, 0)  # already shown: no new step
    assert store.undo_label() == "Show version 1 of 3"
    with pytest.raises(ValidationError):
        store.show_alternative(mid, 3)
    store.delete_alternative(mid, 0)
    m = store.get_message(mid)[1]
    assert m.content == "second draft" and [v["content"] for v in m.variants()] == ["second draft", "regen"]
    store.delete_alternative(mid, 1)
    m = store.get_message(mid)[1]
    assert (m.content, m.alternatives, m.alt_index) == ("second draft", None, None)
    with pytest.raises(ValidationError):
        store.delete_alternative(mid, 0)


def test_hidden_alternative_keeps_the_shown_text(store: DatasetStore):
    keys = seed(store)
    assert store.add_alternative(keys["human"], "model's take", model="m", show=False) == 0
    m = store.get_message(keys["human"])[1]
    assert m.content == "typed by hand" and m.source is None
    assert m.alternatives == [{"content": "model's take", "tool_calls": None, "source": "generated",
                               "model": "m", "finish": None}]


def test_retry_after_an_empty_failed_attempt_replaces_it(store: DatasetStore):
    keys = seed(store)
    mid = store.begin_generated_message(keys["b"], "m")
    store.finish_generated(mid, "interrupted")  # the request failed before any text
    assert store.add_alternative(mid, "", model="m") == 0
    store.append_generated_text(mid, "second try")
    store.finish_generated(mid, "stop")
    m = store.get_message(mid)[1]
    assert (m.content, m.finish, m.alternatives, m.alt_index) == ("second try", "stop", None, None)
    # a partial text is kept as a version, though
    store.edit_message_text(mid, "")
    store.update_message(mid, content="partial", finish="interrupted")
    assert store.add_alternative(mid, "", model="m") == 1
    assert [v["content"] for v in store.get_message(mid)[1].variants()] == ["partial", ""]


def test_editing_marks_generated_as_edited_only(store: DatasetStore):
    keys = seed(store)
    store.edit_message_text(keys["gen"], "fixed")
    store.edit_message_text(keys["human"], "still human")
    assert store.get_message(keys["gen"])[1].source == "edited"
    assert store.get_message(keys["human"])[1].source is None
    store.update_message(keys["gen"], content="again")
    assert store.get_message(keys["gen"])[1].source == "edited"
    store.undo()
    store.undo()
    store.undo()
    assert store.get_message(keys["gen"])[1].source == "generated"


def test_continue_marks_mixed_text_edited(store: DatasetStore):
    keys = seed(store)
    store.begin_continue(keys["human"], "m")
    store.append_generated_text(keys["human"], " and more")
    store.finish_generated(keys["human"], "stop")
    m = store.get_message(keys["human"])[1]
    assert (m.content, m.source, m.model, m.finish) == ("typed by hand and more", "edited", "m", "stop")
    assert store.undo_label() == "Continue reply"
    store.begin_continue(keys["gen"], "m9")
    assert store.get_message(keys["gen"])[1].source == "generated"


def test_bad_provenance_is_refused(store: DatasetStore):
    keys = seed(store)
    with pytest.raises(ValidationError, match="source"):
        store.update_message(keys["human"], source="robot")
    with pytest.raises(ValidationError, match="alt_index"):
        store.update_message(keys["human"], alternatives=[{"content": "a"}], alt_index=5)
    with pytest.raises(ValidationError, match="list of objects"):
        store.add_message(keys["b"], "assistant", "x", alternatives=["nope"])
    with pytest.raises(NotFound):
        store.append_generated_text(999, "x")


def test_native_round_trip_keeps_provenance_and_alternatives(tmp_path: Path, store: DatasetStore):
    keys = seed(store)
    regenerate(store, keys["gen"])
    generate(store, keys["b"])
    store.finish_generated(store.begin_generated_message(keys["b"], "m"), "tool_calls", CALL)
    first = tmp_path / "one.jsonl"
    export_file(store, first, "lima")
    lines = [json.loads(x) for x in first.read_text(encoding="utf-8").splitlines()]
    gen = lines[1]["messages"][2]
    assert list(gen) == ["role", "content", "source", "model", "finish", "alternatives", "alt_index"]
    assert gen["alt_index"] == 2 and len(gen["alternatives"]) == 2
    assert "source" not in lines[2]["messages"][1]  # human text: nothing written
    fresh = DatasetStore(tmp_path / "fresh.lima.db")
    import_file(fresh, first)
    second = tmp_path / "two.jsonl"
    export_file(fresh, second, "lima")
    assert second.read_bytes() == first.read_bytes()
    fresh.close()
    # The OpenAI export trains on the shown version and knows nothing of the rest.
    out = tmp_path / "train.jsonl"
    export_file(store, out, "openai")
    text = out.read_text(encoding="utf-8")
    assert "alternatives" not in text and "source" not in text and "first draft" not in text
    assert json.loads(text.splitlines()[0])["messages"][2] == {"role": "assistant", "content": "regen"}


def test_native_import_refuses_bad_alternatives(tmp_path: Path, store: DatasetStore):
    from lima_tk.errors import FormatError

    bad = tmp_path / "bad.jsonl"
    msg = {"role": "assistant", "content": "a", "alternatives": [{"content": "b"}], "alt_index": 3}
    bad.write_text(json.dumps({"lima_tk": 1}) + "\n" + json.dumps({"messages": [msg]}) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="alt_index"):
        import_file(store, bad)
    assert store.count_chats() == 0


def test_upgrade_adds_columns_and_old_journal_entries_still_undo(tmp_path: Path):
    path = tmp_path / "old.lima.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    MIGRATIONS.apply(db, stop_before="m004_alternatives_provenance")
    conn.execute("INSERT INTO chats (uid, name, created_at, updated_at, position) VALUES ('u', 'c', 't', 't', 0)")
    conn.execute("INSERT INTO messages (chat_id, position, role, content) VALUES (1, 0, 'assistant', 'old text')")
    journal = Journal(conn)
    with journal.change("Edit message", "edit_text", target=1) as entry:  # as an older lima-tk did
        entry.snapshot("messages", "id = 1")
        conn.execute("UPDATE messages SET content = 'newer text' WHERE id = 1")
    conn.close()
    with DatasetStore(path) as s:
        cols = [r[1] for r in s.conn.execute("PRAGMA table_info(messages)")]
        shadow = [r[1] for r in s.conn.execute("PRAGMA table_info(journal_messages)")]
        assert shadow[2:] == cols, "journal_messages must mirror messages"
        assert cols[-5:] == ["source", "model", "finish", "alternatives", "alt_index"]
        assert s.get_message(1)[1].content == "newer text"
        s.undo()
        m = s.get_message(1)[1]
        assert (m.content, m.source, m.alternatives) == ("old text", None, None)
        s.redo()
        assert s.get_message(1)[1].content == "newer text"
        with pytest.raises(sqlite3.IntegrityError):
            s.conn.execute("UPDATE messages SET source = 'robot' WHERE id = 1")
