"""A streamed reply is one undo step even when the user edits other messages while it streams
(issue 15). Its appends and its finish join the generation's step although newer steps lie on
top of it; undo then takes back the newer steps first (never text the stream wrote after them),
then the whole generation; redo gives back exactly what was there."""

from __future__ import annotations

import random

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore

TABLES = ("chats", "messages", "tools", "settings", "chat_tags")


def dump(store: DatasetStore) -> dict[str, list[tuple]]:
    """Every data row except the chats' updated_at (metadata that undo restores per step)."""
    out = {t: sorted(store.conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES if t != "chats"}
    out["chats"] = sorted(store.conn.execute(
        "SELECT id, uid, name, language, tags, notes, extra, created_at, position FROM chats").fetchall())
    out["fts"] = sorted(store.conn.execute(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'streamed OR typed'").fetchall())
    return out


def labels(store: DatasetStore) -> list[str]:
    return [s.label for s in store.journal.steps() if not s.undone]


@pytest.fixture
def chat(store: DatasetStore) -> tuple[int, list[int]]:
    cid = store.create_chat("c", messages=[Message("system", "sys"), Message("user", "question one"),
                                           Message("assistant", "old answer"), Message("user", "question two")])
    store.journal.clear()
    return cid, [m.id for m in store.get_messages(cid)]


def test_an_edit_elsewhere_mid_stream_leaves_one_generation_step(store: DatasetStore, chat):
    cid, (sys_id, q1, a1, q2) = chat
    start = dump(store)
    mid = store.begin_generated_message(cid, "m")
    store.append_generated_text(mid, "streamed part one ")
    store.edit_message_text(q1, "question one typed")  # the user types in another message
    store.edit_message_text(q1, "question one typed more")  # coalesces with its own typing
    store.append_generated_text(mid, "streamed part two")
    store.finish_generated(mid, "stop", model="m-1")
    end = dump(store)
    assert labels(store) == ["Edit message", "Generate reply"], "one step each, the edit on top"
    assert store.get_message(mid)[1].content == "streamed part one streamed part two"

    assert store.undo().label == "Edit message"
    m = store.get_message(mid)[1]
    assert (m.content, m.finish, m.model) == ("streamed part one streamed part two", "stop", "m-1")
    assert store.get_message(q1)[1].content == "question one"
    assert store.undo().label == "Generate reply"
    assert dump(store) == start
    assert store.undo() is None
    store.redo()
    store.redo()
    assert dump(store) == end


def test_a_message_inserted_above_the_stream_does_not_take_back_its_text(store: DatasetStore, chat):
    """The insert shifts the streamed message down, so its step holds an image of that message
    from when it had less text: undoing the insert must not put that text back."""
    cid, (sys_id, q1, a1, q2) = chat
    start = dump(store)
    mid = store.begin_generated_message(cid, "m")
    store.append_generated_text(mid, "streamed early ")
    new = store.add_message(cid, "user", "typed above", position=1)
    assert store.get_message(mid)[1].position == 5
    store.append_generated_text(mid, "and streamed late")
    store.finish_generated(mid, "length")
    end = dump(store)
    assert labels(store) == ["Add message", "Generate reply"]

    store.undo()  # the insert: positions back, the whole reply stays
    m = store.get_message(mid)[1]
    assert (m.content, m.finish, m.position) == ("streamed early and streamed late", "length", 4)
    assert all(x.id != new for x in store.get_messages(cid))
    store.undo()
    assert dump(store) == start
    store.redo()
    assert store.get_message(mid)[1].content == "streamed early and streamed late"
    store.redo()
    assert dump(store) == end


def test_a_redo_tail_is_never_reached_past(store: DatasetStore, chat):
    """Undo of the other edit mid-stream, then more text: the text starts a step of its own
    (cutting the redo tail, as any new change does), so redo can never overwrite it."""
    cid, (sys_id, q1, a1, q2) = chat
    mid = store.begin_generated_message(cid, "m")
    store.append_generated_text(mid, "streamed a ")
    store.edit_message_text(q1, "typed")
    store.undo()
    store.append_generated_text(mid, "streamed b")
    assert store.redo() is None
    assert store.get_message(mid)[1].content == "streamed a streamed b"
    assert labels(store) == ["Generate reply", "Generate reply"]


def test_regenerate_and_continue_join_their_step_too(store: DatasetStore, chat):
    cid, (sys_id, q1, a1, q2) = chat
    start = dump(store)
    store.add_alternative(a1, "", model="m")
    store.append_generated_text(a1, "streamed new ")
    store.rename_chat(cid, "renamed meanwhile")
    store.append_generated_text(a1, "version")
    store.finish_generated(a1, "stop")
    assert labels(store) == ["Rename chat", "Regenerate reply"]
    store.undo()
    m = store.get_message(a1)[1]
    assert m.content == "streamed new version" and [v["content"] for v in m.variants()] == [
        "old answer", "streamed new version"]
    store.undo()
    assert dump(store) == start
    store.begin_continue(a1, "m")
    store.append_generated_text(a1, " streamed on")
    store.edit_message_text(q2, "typed q2")
    store.append_generated_text(a1, " and on")
    store.finish_generated(a1, "stop")
    assert labels(store) == ["Edit message", "Continue reply"]
    store.undo()
    store.undo()
    assert dump(store) == start


def test_random_interleavings_undo_and_redo_exactly(store: DatasetStore, chat):
    cid, (sys_id, q1, a1, q2) = chat
    rng = random.Random(3)
    for round_ in range(6):
        states = [dump(store)]
        mid = store.begin_generated_message(cid, "m", position=rng.randint(0, len(store.get_messages(cid))))
        others = 0
        for i in range(12):
            r = rng.random()
            if r < 0.5:
                store.append_generated_text(mid, f"streamed {round_}.{i} ")
            elif r < 0.7:
                target = rng.choice([m.id for m in store.get_messages(cid) if m.id != mid])
                store.edit_message_text(target, f"typed {round_}.{i}")
                others += 1
            elif r < 0.85:
                store.add_message(cid, "user", f"typed insert {i}", position=rng.randint(0, 3))
                others += 1
            else:
                movable = [m.id for m in store.get_messages(cid) if m.id != mid]
                store.move_messages([rng.choice(movable)], rng.choice([-1, 1]))
                others += 1
        store.finish_generated(mid, "stop")
        final = dump(store)
        generate_steps = [s for s in store.journal.steps() if s.kind == "generate" and s.target == mid]
        assert len(generate_steps) == 1
        undone = 0
        while True:
            step = store.undo()
            assert step is not None
            undone += 1
            if step.kind == "generate" and step.target == mid:
                break
            # every undo of another step keeps the whole streamed text
            assert store.get_message(mid)[1].content.count("streamed") == final_text_count(final, mid)
        assert dump(store) == states[0]
        for _ in range(undone):
            store.redo()
        assert dump(store) == final


def final_text_count(state: dict, mid: int) -> int:
    row = next(r for r in state["messages"] if r[0] == mid)
    return row[4].count("streamed") if row[4] else 0
