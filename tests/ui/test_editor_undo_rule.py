"""Ctrl+Z after a structural edit (issue 10, item 11), driven for real under Xvfb: a Text's own
undo applies only when the user typed in it since the chat's last structural change; otherwise
Ctrl+Z (wherever the focus landed) is the journal's, so it undoes the structural edit. A Text's
undo stack starts empty whenever its content is (re)loaded, reused cards included."""

from __future__ import annotations

import pytest

from tests.ui.test_chat_editor_helpers import (
    card_at,
    contents,
    focus_text,
    key,
    open_editor,
    seed_chat,
    stand_in_app,
    type_text,
)


@pytest.fixture
def app(store):
    yield from stand_in_app(store)


def can_undo(text) -> bool:
    return bool(int(text.tk.call(text._w, "edit", "canundo")))


def test_ctrl_delete_then_ctrl_z_brings_the_message_back(app, store) -> None:
    cid = seed_chat(store, [("user", "one"), ("assistant", "two"), ("user", "")])
    ed = open_editor(app, cid)
    # The last message was typed in this session: its Text's own undo holds that typing.
    third = focus_text(ed, 2)
    type_text(third, "three")
    ed.flush()
    assert contents(store, cid)[2] == ("user", "three")
    # Delete message 2 from its text: the focus lands in the next message's Text...
    key(focus_text(ed, 1), "<Control-Delete>")
    assert [c for _, c in contents(store, cid)] == ["one", "three"]
    landed = ed.focus_get()
    assert landed is card_at(ed, 1).text
    # ...and Ctrl+Z there undoes the delete; the message it landed in keeps its text.
    key(landed, "<Control-z>")
    assert [c for _, c in contents(store, cid)] == ["one", "two", "three"]
    assert [card_at(ed, i).get_text() for i in range(3)] == ["one", "two", "three"]
    ed.flush()
    assert [c for _, c in contents(store, cid)] == ["one", "two", "three"]  # nothing emptied later either
    # Ctrl+Y redoes it, from the Text too (nobody typed there since).
    key(ed.focus_get(), "<Control-y>")
    assert [c for _, c in contents(store, cid)] == ["one", "three"]


def test_typing_after_the_structural_change_is_undone_first(app, store) -> None:
    cid = seed_chat(store, [("user", "one"), ("assistant", "two"), ("user", "three")])
    ed = open_editor(app, cid)
    key(focus_text(ed, 0), "<Control-Delete>")
    text = ed.focus_get()
    assert text is card_at(ed, 0).text and card_at(ed, 0).get_text() == "two"
    text.mark_set("insert", "end-1c")
    type_text(text, "!")
    # Typed since the delete: Ctrl+Z is this Text's own undo (the typing goes first)...
    key(text, "<Control-z>")
    assert card_at(ed, 0).get_text() == "two"
    ed.flush()
    assert [c for _, c in contents(store, cid)] == ["two", "three"]


def test_undo_stacks_start_empty_on_every_load(app, store) -> None:
    cid = seed_chat(store, [("user", "one"), ("assistant", "two"), ("user", "three")])
    ed = open_editor(app, cid)
    assert not any(can_undo(card_at(ed, i).text) for i in range(3))
    # Typing fills a stack; a structural change (here Ctrl+Enter) empties them all: the cards
    # are reused, not rebuilt, and must not undo into a state before the change.
    second = focus_text(ed, 1)
    type_text(second, " more")
    assert can_undo(second)
    ed.event_generate("<<InsertBelow>>")
    ed.update()
    assert card_at(ed, 1).text is second  # the same (reused) card
    assert not any(can_undo(card_at(ed, i).text) for i in range(len(ed.order)))
    # A journal undo reloads texts: their stacks are empty too.
    type_text(second, "!")
    ed.flush()
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert not any(can_undo(card_at(ed, i).text) for i in range(len(ed.order)))
