"""Issue 13, item 7: small things seen in the keyboard walk-through, each checked on the window
after real key presses: the continue button on a reply written by hand, one style for every
header's actions, and the Tools box of a chat without functions collapsed to one line.
(The list's counts after Delete + Ctrl+Z: tests/ui/test_clipping.py.)"""

from __future__ import annotations

import pytest

from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import open_editor, seed_chat, stand_in_app, type_text


@pytest.fixture
def app(store):
    yield from stand_in_app(store)


def press(ed, sequence: str) -> None:
    w = ed.focus_get()
    assert w is not None
    w.event_generate(sequence)
    ed.update()


def test_a_reply_written_by_hand_gets_the_continue_button(app, store) -> None:
    cid = seed_chat(store, [("user", "Capital of France?")])
    ed = open_editor(app, cid)
    wait_until(lambda: ed.focus_get() is ed.cards[ed.order[-1]].text, ed)
    press(ed, "<Control-Return>")  # a new message below: the assistant's reply
    wait_until(lambda: len(ed.order) == 2 and ed.focus_get() is ed.cards[ed.order[-1]].text, ed)
    card = ed.cards[ed.order[-1]]
    assert card.role == "assistant" and "continue" not in card.extras.tips  # nothing to continue yet
    type_text(card.text, "Paris")
    wait_until(lambda: store.get_chat(cid).messages[-1].content == "Paris", ed)
    wait_until(lambda: "continue" in card.extras.tips, ed)


def test_every_header_draws_its_actions_in_one_style(app, store) -> None:
    cid = seed_chat(store, [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello! " * 20),
                            ("user", "Bye")])
    ed = open_editor(app, cid)
    for width in ("1120x760", "700x600", "900x700", "1000x700", "1200x700", "1300x700", "1450x800", "1600x800"):
        ed.geometry(width)
        wide = int(width.split("x")[0])
        wait_until(lambda w=wide: ed.winfo_width() == w, ed)
        ed.update()
        wait_until(lambda: ed.view._refit_job is None, ed)  # the cards are measured again after a resize
        ed.update()
        labels = {tuple(c.actions.label(a) for a in ("insert_above", "insert_below")) for c in ed.cards.values()}
        assert len(labels) == 1, (width, labels)


def test_the_tools_box_of_a_chat_without_functions_is_one_line(app, store) -> None:
    cid = seed_chat(store)
    ed = open_editor(app, cid)
    props = ed.props
    assert not props.tool_list.winfo_ismapped()
    assert str(props.add_tool_button.cget("text")) == "Add function…"
    assert props.add_tool_button.winfo_height() < 3 * props.name_entry.winfo_height()
    assert props.notes.winfo_height() > 150  # the room went to the notes
