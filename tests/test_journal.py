"""Undo journal: every mutation kind undoes and redoes to the exact rows, also after reopening."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lima_tk.model import Chat, Message, Tool
from lima_tk.store import ChatFilter, DatasetStore

TABLES = ("chats", "messages", "tools", "settings", "chat_tags")


def dump(store: DatasetStore) -> dict[str, list[tuple]]:
    """Every row of every data table (journal excluded), to compare states exactly."""
    out = {t: sorted(store.conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    out["fts"] = sorted(store.conn.execute(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zebra OR quokka'").fetchall())
    return out


def seed(store: DatasetStore) -> dict[str, int]:
    a = store.create_chat("Alpha zebra", "en", ["t1"], notes="n",
                          messages=[Message("system", "sys"), Message("user", "zebra\tq  "),
                                    Message("assistant", "answer 🦓", weight=1)],
                          tools=[Tool("lookup", "find", {"type": "object"})])
    b = store.create_chat("Beta", "ru", ["t2"], messages=[Message("user", "quokka"), Message("assistant", "ok")])
    ma = [m.id for m in store.get_messages(a)]
    return {"a": a, "b": b, "m0": ma[0], "m1": ma[1], "m2": ma[2],
            "tool": store.get_tools(a)[0].id}


MUTATIONS: dict[str, Callable[[DatasetStore, dict[str, int]], object]] = {
    "create_chat": lambda s, k: s.create_chat("New", messages=[Message("user", "zebra new")]),
    "rename_chat": lambda s, k: s.rename_chat(k["a"], "Renamed"),
    "update_chats": lambda s, k: s.update_chats([k["a"], k["b"]], language="de", notes="x"),
    "add_tags": lambda s, k: s.add_tags([k["a"], k["b"]], ["new"]),
    "remove_tags": lambda s, k: s.remove_tags([k["a"]], ["t1"]),
    "rename_tag": lambda s, k: s.rename_tag("t1", "t2"),
    "delete_tag": lambda s, k: s.delete_tag("t2"),
    "copy_chats": lambda s, k: s.copy_chats([k["a"], k["b"]]),
    "delete_chats": lambda s, k: s.delete_chats([k["a"], k["b"]]),
    "move_chats": lambda s, k: s.move_chats([k["b"]], -1),
    "add_message": lambda s, k: s.add_message(k["a"], "user", "zebra inserted", position=1),
    "edit_text": lambda s, k: s.edit_message_text(k["m1"], "quokka now"),
    "update_message": lambda s, k: s.update_message(k["m2"], weight=0, name="bot"),
    "set_role": lambda s, k: s.set_role([k["m1"], k["m2"]], "system"),
    "delete_messages": lambda s, k: s.delete_messages([k["m0"], k["m1"]]),
    "duplicate_message": lambda s, k: s.duplicate_message(k["m1"]),
    "move_messages": lambda s, k: s.move_messages([k["m2"]], -2),
    "add_tool": lambda s, k: s.add_tool(k["b"], Tool("t", None, None)),
    "update_tool": lambda s, k: s.update_tool(k["tool"], Tool("lookup2", "d2", {"type": "object", "x": 1})),
    "delete_tool": lambda s, k: s.delete_tool(k["tool"]),
    "set_setting": lambda s, k: s.set_setting("languages", ["en", "de"]),
    "add_tag": lambda s, k: s.add_tag("fresh"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_undo_redo_restores_exact_rows(name, db_path):
    store = DatasetStore(db_path)
    keys = seed(store)
    before = dump(store)
    MUTATIONS[name](store, keys)
    after = dump(store)
    assert after != before, "the mutation changed nothing"
    n_steps = len(store.journal.steps())
    step = store.undo()
    assert step is not None and step.label
    assert dump(store) == before
    store.redo()
    assert dump(store) == after
    # and across a restart of the process: the journal is in the file
    store.undo()
    store.close()
    store = DatasetStore(db_path)
    assert dump(store) == before
    store.redo()
    assert dump(store) == after
    assert len(store.journal.steps()) == n_steps
    store.close()


def test_bulk_delete_of_500_chats_is_one_step(store):
    ids = store.add_chats([Chat(name=f"c{i}", messages=[Message("user", "x")]) for i in range(500)]).first_id
    assert ids is not None
    before = dump(store)
    store.delete_chats(range(ids, ids + 500))
    assert store.count_chats() == 0
    assert store.undo_label() == "Delete 500 chats"
    store.undo()
    assert store.count_chats() == 500 and dump(store) == before


def test_typing_coalesces_into_one_step(store):
    k = seed(store)
    original = store.get_message(k["m1"])[1].content
    for text in ("z", "ze", "zeb", "zebr"):
        store.edit_message_text(k["m1"], text)
    assert store.edit_message_text(k["m1"], "zebr") is False  # unchanged text writes nothing
    store.undo()
    assert store.get_message(k["m1"])[1].content == original
    store.redo()
    assert store.get_message(k["m1"])[1].content == "zebr"


def test_edits_of_two_messages_do_not_coalesce(store):
    k = seed(store)
    store.edit_message_text(k["m1"], "one")
    store.edit_message_text(k["m2"], "two")
    store.edit_message_text(k["m1"], "one more")
    store.undo()
    assert store.get_message(k["m1"])[1].content == "one"
    store.undo()
    assert store.get_message(k["m2"])[1].content == "answer 🦓"


def test_new_edit_cuts_redo_tail(store):
    k = seed(store)
    store.rename_chat(k["a"], "first")
    store.undo()
    assert store.redo_label() == "Rename chat"
    store.rename_chat(k["b"], "other")
    assert store.redo_label() is None
    assert store.redo() is None


def test_undo_of_edit_after_undo_does_not_coalesce(store):
    k = seed(store)
    store.edit_message_text(k["m1"], "a")
    store.undo()
    store.edit_message_text(k["m1"], "b")  # must be a fresh step, the old one was undone
    store.undo()
    assert store.get_message(k["m1"])[1].content == "zebra\tq  "


def test_import_is_one_step_and_undo_redo(store):
    seed(store)
    before = dump(store)
    store.add_chats([Chat(name=f"imp{i}", tags=["imported"], messages=[Message("user", f"zebra {i}")])
                     for i in range(50)], label="Import x")
    after = dump(store)
    store.undo()
    assert dump(store) == before
    store.redo()
    assert dump(store) == after


def test_nested_changes_group_into_one_step(store):
    k = seed(store)
    with store.change("Tidy up", "group"):
        store.rename_chat(k["a"], "A")
        store.delete_messages([k["m0"]])
        store.add_tags([k["b"]], ["done"])
    assert store.undo_label() == "Tidy up"
    store.undo()
    assert store.get_chat(k["a"]).name == "Alpha zebra"
    assert len(store.get_messages(k["a"])) == 3
    assert "done" not in store.get_chat(k["b"]).tags


def test_failed_change_rolls_back_with_its_entry(store):
    k = seed(store)
    steps = len(store.journal.steps())
    with pytest.raises(RuntimeError):
        with store.change("Broken", "x"):
            store.rename_chat(k["a"], "half")
            raise RuntimeError("boom")
    assert store.get_chat(k["a"]).name == "Alpha zebra"
    assert len(store.journal.steps()) == steps


def test_cap_limits_journal(store):
    store.set_setting("journal_cap", 5)
    k = seed(store)
    for i in range(20):
        store.rename_chat(k["a"], f"n{i}")
    assert len(store.journal.steps(1000)) == 5
    for _ in range(5):
        assert store.undo() is not None
    assert store.undo() is None
    assert store.get_chat(k["a"]).name == "n14"


def test_undo_with_nothing_returns_none(store):
    assert store.undo() is None and store.redo() is None
    assert store.undo_label() is None


def test_undo_restores_filter_results(store):
    k = seed(store)
    store.delete_chats([k["a"]])
    assert store.count_chats(ChatFilter(text="zebra")) == 0
    assert store.count_chats(ChatFilter(tag="t1")) == 0
    store.undo()
    assert store.count_chats(ChatFilter(text="zebra")) == 1
    assert store.count_chats(ChatFilter(tag="t1")) == 1
