"""Store edits in detail (issue 17): what each change returns, the undo label the Edit menu
shows, which chats' "updated" time moves, tools and their order, tags and their vocabulary,
find and replace with filters and case, and that undo puts every row back. Real SQLite files."""

from __future__ import annotations

import pytest

from lima_tk.errors import NotFound, ValidationError
from lima_tk.model import Message, Tool
from lima_tk.store import ChatFilter, DatasetStore


def _chat(store: DatasetStore, name: str, *texts: str, tags: tuple[str, ...] = ()) -> int:
    roles = ["user", "assistant"] * len(texts)
    return store.create_chat(name, "en", list(tags), messages=[Message(r, t) for r, t in zip(roles, texts,
                                                                                              strict=False)])


def _updated(store: DatasetStore, cid: int) -> str:
    return store.conn.execute("SELECT updated_at FROM chats WHERE id = ?", (cid,)).fetchone()[0]


def _age(store: DatasetStore, *ids: int) -> None:
    """Set the chats' updated time far back, so a change that touches them is seen."""
    for cid in ids:
        store.conn.execute("UPDATE chats SET updated_at = '2000-01-01T00:00:00Z' WHERE id = ?", (cid,))


def _rows(store: DatasetStore) -> list[tuple]:
    return [tuple(r) for t in ("chats", "messages", "tools", "settings")
            for r in store.conn.execute(f"SELECT * FROM {t} ORDER BY 1")]


def test_tools_keep_their_order_and_the_chat_its_time(store: DatasetStore) -> None:
    a, b = _chat(store, "a", "hi"), _chat(store, "b", "hi")
    _age(store, a, b)
    t1 = store.add_tool(a, Tool("one", "first", {"type": "object"}))
    t2 = store.add_tool(a, Tool("two"))
    t3 = store.add_tool(a, Tool("three", strict=True))
    other = store.add_tool(b, Tool("one"))  # the same name in another chat is fine
    assert store.undo_label() == "Add tool one"
    assert [(t.name, t.description) for t in store.get_tools(a)] == [("one", "first"), ("two", None), ("three", None)]
    assert _updated(store, a) > "2001" and _updated(store, b) > "2001"
    with pytest.raises(ValidationError, match="already has a tool named 'two'"):
        store.add_tool(a, Tool("two"))
    for bad in (Tool("has space"), Tool(""), Tool("ok", parameters=["not", "an", "object"])):  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            store.add_tool(a, bad)
    _age(store, a, b)
    store.update_tool(t2, Tool("deux", "second", {"type": "object", "properties": {"x": {"type": "string"}}}))
    assert store.undo_label() == "Edit tool deux"
    assert [t.name for t in store.get_tools(a)] == ["one", "deux", "three"]
    assert store.get_tools(a)[1].parameters == {"type": "object", "properties": {"x": {"type": "string"}}}
    assert _updated(store, a) > "2001" and _updated(store, b) == "2000-01-01T00:00:00Z"
    _age(store, a)
    before = _rows(store)
    store.delete_tool(t1)
    assert store.undo_label() == "Delete tool one"
    assert [t.name for t in store.get_tools(a)] == ["deux", "three"]
    assert [r[0] for r in store.conn.execute("SELECT position FROM tools WHERE chat_id = ? ORDER BY position",
                                             (a,))] == [0, 1]
    assert _updated(store, a) > "2001"
    store.add_tool(a, Tool("four"))  # appended after the renumbered ones
    assert [t.name for t in store.get_tools(a)] == ["deux", "three", "four"]
    store.undo()
    store.undo()
    assert _rows(store) == before
    assert [t.name for t in store.get_tools(b)] == ["one"] and other
    with pytest.raises(NotFound, match=f"no tool with id {t3 + 100}"):
        store.update_tool(t3 + 100, Tool("x"))
    with pytest.raises(NotFound, match=f"no tool with id {t3 + 100}"):
        store.delete_tool(t3 + 100)


def test_tags_rename_merge_delete_with_counts_labels_and_undo(store: DatasetStore) -> None:
    store.add_tag("unused")
    a = _chat(store, "a", "hi", tags=("x", "y"))
    b = _chat(store, "b", "hi", tags=("y", "ü"))
    c = _chat(store, "c", "hi")
    assert store.tag_counts() == {"unused": 0, "x": 1, "y": 2, "ü": 1}
    assert store.tag_counts_of([a, c]) == {"x": 1, "y": 1}
    assert store.tag_counts_of([]) == {}
    _age(store, a, b, c)
    before = _rows(store)
    assert store.rename_tag("y", "x") == 2  # a merge: a had both
    assert store.undo_label() == "Rename tag y to x"
    assert store.get_chat(a).tags == ["x"] and store.get_chat(b).tags == ["x", "ü"]
    assert store.get_setting("tags") == ["unused", "x", "ü"]
    assert _updated(store, a) > "2001" and _updated(store, c) == "2000-01-01T00:00:00Z"
    assert store.rename_tag("none-has-it", "z") == 0
    store.undo()
    store.undo()
    assert _rows(store) == before
    assert store.delete_tag("y") == 2
    assert store.undo_label() == "Delete tag y"
    assert store.get_chat(a).tags == ["x"] and store.get_chat(b).tags == ["ü"]
    assert store.get_setting("tags") == ["unused", "x", "ü"]
    assert store.tag_counts() == {"unused": 0, "x": 1, "ü": 1}
    assert store.delete_tag("unused") == 0 and "unused" not in store.get_setting("tags")
    with pytest.raises(ValidationError, match="a tag needs a name"):
        store.rename_tag("x", "  ")
    # adding and removing on many chats: counts of chats changed, one label each
    assert store.add_tags([a, b, c], ["x", " new "]) == 3
    assert store.undo_label() == "Tag 3 chats x, new"
    assert store.get_chat(c).tags == ["x", "new"] and "new" in store.get_setting("tags")
    assert store.remove_tags([a, c], ["x"]) == 2
    assert store.undo_label() == "Untag 2 chats x"
    assert store.get_chat(a).tags == ["new"] and store.get_chat(b).tags == ["ü", "x", "new"]


def test_find_and_replace_respect_case_filters_and_undo(store: DatasetStore) -> None:
    a = _chat(store, "a", "Cat and cat", "the CAT sat")
    b = _chat(store, "b", "no felines here", "cat")
    store.set_language([b], "de")
    _age(store, a, b)
    found = store.find_text("cat")
    assert [(f["chat_id"], f["position"], f["count"]) for f in found] == [(a, 0, 2), (a, 1, 1), (b, 1, 1)]
    assert [(f["chat_name"], f["message_id"]) for f in found] == [
        ("a", store.get_messages(a)[0].id), ("a", store.get_messages(a)[1].id), ("b", store.get_messages(b)[1].id)]
    assert [(f["chat_id"], f["count"]) for f in store.find_text("cat", case=True)] == [(a, 1), (b, 1)]
    assert [f["chat_id"] for f in store.find_text("cat", ChatFilter(language="de"))] == [b]
    before = _rows(store)
    assert store.replace_text("cat", "dog", ChatFilter(language="en")) == 3  # ignoring case by default
    assert store.undo_label() == "Replace 'cat' with 'dog'"
    assert [m.content for m in store.get_messages(a)] == ["dog and dog", "the dog sat"]
    assert [m.content for m in store.get_messages(b)] == ["no felines here", "cat"]
    assert _updated(store, a) > "2001" and _updated(store, b) == "2000-01-01T00:00:00Z"
    store.undo()
    assert _rows(store) == before
    assert store.replace_text("Cat", "Dog", case=True) == 1
    assert store.get_messages(a)[0].content == "Dog and cat"
    assert store.replace_text("nothing like it", "x") == 0 and store.undo_label() == "Replace 'Cat' with 'Dog'"


def test_roles_languages_deletes_and_moves_say_what_they_did(store: DatasetStore) -> None:
    a = _chat(store, "a", "one", "two", "three")
    b = _chat(store, "b", "four")
    ma = [m.id for m in store.get_messages(a)]
    _age(store, a, b)
    assert store.set_role(ma[:2], "system") == 2
    assert store.undo_label() == "Change role of 2 messages"
    assert [m.role for m in store.get_messages(a)] == ["system", "system", "user"]
    assert _updated(store, a) > "2001" and _updated(store, b) == "2000-01-01T00:00:00Z"
    assert store.set_role([], "user") == 0
    with pytest.raises(ValidationError):
        store.set_role(ma, "boss")
    assert store.set_language([a, b], "fr") == 2
    assert store.undo_label() == "Set language of 2 chats"
    assert store.set_language([b], "fr") in (0, 1) and store.get_chat(b).language == "fr"
    _age(store, a, b)
    store.move_messages([ma[2]], -2)
    assert store.undo_label() == "Move 1 message"
    assert [m.content for m in store.get_messages(a)] == ["three", "one", "two"]
    assert _updated(store, a) > "2001" and _updated(store, b) == "2000-01-01T00:00:00Z"
    dup = store.duplicate_message(ma[0])
    assert store.undo_label() == "Duplicate message"
    assert [m.id for m in store.get_messages(a)][2] == dup
    assert [m.content for m in store.get_messages(a)] == ["three", "one", "one", "two"]
    _age(store, a, b)
    assert store.delete_messages([ma[0], dup]) == 2
    assert store.undo_label() == "Delete 2 messages"
    assert [(m.position, m.content) for m in store.get_messages(a)] == [(0, "three"), (1, "two")]
    assert _updated(store, a) > "2001" and _updated(store, b) == "2000-01-01T00:00:00Z"
    assert store.delete_messages([]) == 0
    assert store.delete_chats([a, b + 1000]) == 1  # one of them does not exist: the label says what was done
    assert store.undo_label() == "Delete 1 chat"
    store.undo()
    assert store.delete_chats([a, b]) == 2
    assert store.undo_label() == "Delete 2 chats"
    store.undo()
    assert store.count_chats() == 2 and [m.content for m in store.get_messages(a)] == ["three", "two"]


def test_versions_of_a_reply_labels_errors_and_copies(store: DatasetStore) -> None:
    cid = store.create_chat("v", messages=[Message("user", "q"), Message("assistant", "first", model="m1",
                                                                           source="generated", finish="stop")])
    mid = store.get_messages(cid)[1].id
    with pytest.raises(ValidationError, match="source"):
        store.add_alternative(mid, "x", source="a guess")
    assert store.add_alternative(mid, "second", model="m2", finish="length") == 1
    assert store.undo_label() == "Regenerate reply"
    store.show_alternative(mid, 1)  # already shown: no step
    assert store.undo_label() == "Regenerate reply"
    store.show_alternative(mid, 0)
    assert store.undo_label() == "Show version 1 of 2"
    steps = store.conn.execute("SELECT count(*) FROM journal").fetchone()[0]
    store.show_alternative(mid, 0)  # shown already: no step
    assert store.conn.execute("SELECT count(*) FROM journal").fetchone()[0] == steps
    with pytest.raises(ValidationError) as e:
        store.show_alternative(mid, 2)
    assert str(e.value) == "the message has 2 versions; there is no version 3"
    with pytest.raises(ValidationError) as e:
        store.set_alternative_rejected(mid, 5)
    assert str(e.value) == "the message has 2 versions; there is no version 6"
    with pytest.raises(ValidationError) as e:
        store.set_alternative_rejected(mid, 0)
    assert str(e.value) == "the shown version is the chosen one; show another version to reject this one"
    store.set_alternative_rejected(mid, 1)
    assert store.undo_label() == "Reject version 2"
    store.set_alternative_rejected(mid, 1, False)
    assert store.undo_label() == "Unreject version 2"
    store.set_alternative_rejected(mid, 1)
    # a copy of the message keeps everything: its versions, which one is shown, how it ended
    dup = store.duplicate_message(mid)
    _, copy = store.get_message(dup)
    _, orig = store.get_message(mid)
    assert (copy.content, copy.model, copy.finish, copy.source) == ("first", "m1", "stop", "generated")
    assert copy.alternatives == orig.alternatives and copy.alt_index == orig.alt_index == 0
    assert copy.alternatives[0]["content"] == "second" and copy.alternatives[0]["rejected"] is True
    # the versions cleared: no shown index left behind
    store.update_message(dup, alternatives=None)
    _, cleared = store.get_message(dup)
    assert cleared.alternatives is None and cleared.alt_index is None


def test_adding_messages_keeps_every_field_and_mends_gaps_in_positions(store: DatasetStore) -> None:
    cid = _chat(store, "c", "one", "two", "three")
    ids = [m.id for m in store.get_messages(cid)]
    # positions with gaps (another tool wrote the file): an insert in the middle closes them, one step
    for mid, pos in zip(ids, (0, 5, 9), strict=True):
        store.conn.execute("UPDATE messages SET position = ? WHERE id = ?", (pos, mid))
    before = _rows(store)
    new = store.add_message(cid, "assistant", "inserted", 1, source="generated", model="m7", finish="stop")
    assert store.undo_label() == "Add message"
    msgs = store.get_messages(cid)
    assert [(m.position, m.content) for m in msgs] == [(0, "one"), (1, "inserted"), (2, "two"), (3, "three")]
    _, m = store.get_message(new)
    assert (m.role, m.source, m.model, m.finish) == ("assistant", "generated", "m7", "stop")
    store.undo()
    assert _rows(store) == before


def test_an_alternative_with_an_unknown_source_is_refused(store: DatasetStore) -> None:
    cid = _chat(store, "c", "q", "a")
    mid = store.get_messages(cid)[1].id
    with pytest.raises(ValidationError) as e:
        store.update_message(mid, alternatives=[{"content": "x", "source": "a guess"}], alt_index=0)
    assert str(e.value) == "an alternative's source must be one of human, generated, edited"
    store.update_message(mid, alternatives=[{"content": "x", "source": "human"}], alt_index=0)
    assert store.get_message(mid)[1].alternatives[0]["source"] == "human"
