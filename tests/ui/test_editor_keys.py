"""Every key sequence docs/editor.md and README document for the chat editor, pressed for real
(a key event on the widget that has the focus, as a keyboard sends it: with Shift where the
key needs it) and checked by its effect on the dataset or the window, not only by a virtual
event being bound; and the actions on a multi-message selection (role, train, duplicate, the
card buttons), each one undo step. (Ctrl+Delete, Ctrl+Z and saving: test_autosave_gui.py.)"""

from __future__ import annotations

import pytest

from lima_tk.ui import chat_editor
from tests.assist_fixtures import running_server
from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import (
    card_at,
    click_action,
    contents,
    focus_text,
    key,
    open_editor,
    seed_chat,
    stand_in_app,
)


@pytest.fixture
def openai_server():
    yield from running_server()


@pytest.fixture
def app(store, openai_server):
    yield from stand_in_app(store, base_url=openai_server.base_url, model="test-model", timeout=5,
                            use_env_key=False)


FIVE = [("system", "Be brief."), ("user", "one"), ("assistant", "two"), ("user", "three"), ("assistant", "four")]


def weights(store, cid: int) -> list:
    return [m.weight for m in store.get_chat(cid).messages]


def select(ed, *indexes: int) -> None:
    """Click the first header, Ctrl+click the others (the documented way to select several)."""
    card_at(ed, indexes[0]).index_label.event_generate("<Button-1>")
    for i in indexes[1:]:
        card_at(ed, i).index_label.event_generate("<Button-1>", state=0x4)
    ed.update()
    assert ed.selection == {ed.order[i] for i in indexes}


def undo(ed) -> None:
    """Ctrl+Z outside a text (the journal). Key events go to the focus: put it on the list first
    (after some actions it is in a message's text, where Ctrl+Z is that text's own undo)."""
    ed.canvas.focus_force()
    key(ed.canvas, "<Control-z>")


# -- actions on a multi-message selection ------------------------------------------------------------


def test_role_change_applies_to_the_whole_selection_as_one_step(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 3)
    card = card_at(ed, 3)
    card.role_box.set("system")
    card.role_box.event_generate("<<ComboboxSelected>>")
    ed.update()
    assert [r for r, _ in contents(store, cid)] == ["system", "system", "assistant", "system", "assistant"]
    assert [card_at(ed, i).role for i in (1, 3)] == ["system", "system"]
    assert store.undo_label() == "Change role to system"
    undo(ed)
    assert contents(store, cid) == FIVE
    assert [card_at(ed, i).role for i in (1, 3)] == ["user", "user"]


def test_role_change_on_a_message_outside_the_selection_changes_only_it(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 3)
    card = card_at(ed, 4)
    card.role_box.set("user")
    card.role_box.event_generate("<<ComboboxSelected>>")
    ed.update()
    assert [r for r, _ in contents(store, cid)] == ["system", "user", "assistant", "user", "user"]


def test_role_change_of_a_selection_drops_weights_and_tool_calls_it_cannot_keep(app, store, monkeypatch) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    cid = seed_chat(store, FIVE)
    mids = [m.id for m in store.get_chat(cid).messages]
    store.update_message(mids[2], weight=1, tool_calls=[call])
    store.update_message(mids[4], weight=0)
    store.journal.clear()
    asked = []
    monkeypatch.setattr(chat_editor, "ask_confirm", lambda *a, **k: asked.append(a[2]) or True)
    ed = open_editor(app, cid)
    select(ed, 2, 4)
    card = card_at(ed, 2)
    card.role_box.set("user")
    card.role_box.event_generate("<<ComboboxSelected>>")
    ed.update()
    assert len(asked) == 1 and "1 tool call" in asked[0]
    msgs = store.get_chat(cid).messages
    assert [(m.role, m.weight, m.tool_calls) for m in (msgs[2], msgs[4])] == [("user", None, None)] * 2
    undo(ed)
    msgs = store.get_chat(cid).messages
    assert [(m.role, m.weight) for m in (msgs[2], msgs[4])] == [("assistant", 1), ("assistant", 0)]
    assert msgs[2].tool_calls == [call]


def test_train_toggle_on_a_selection_sets_every_assistant_message(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 2, 4)  # a user message in the selection is left alone
    seen = []
    for _ in range(3):
        key(ed.canvas, "<Control-Shift-T>")  # Ctrl+Shift+T
        seen.append(weights(store, cid))
    assert seen == [[None, None, 1, None, 1], [None, None, 0, None, 0], [None] * 5]
    undo(ed)
    assert weights(store, cid) == [None, None, 0, None, 0]  # one step per press


def test_duplicate_a_selection_is_one_step(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 2)
    key(ed.canvas, "<Control-Shift-D>")  # Ctrl+Shift+D
    texts = [c for _, c in contents(store, cid)]
    assert sorted(texts) == sorted(["Be brief.", "one", "two", "three", "four", "one", "two"])
    assert texts[:5] == ["Be brief.", "one", "one", "two", "two"] or texts[:5] == ["Be brief.", "one", "two",
                                                                                    "one", "two"]
    undo(ed)
    assert contents(store, cid) == FIVE


def test_card_delete_button_on_a_selected_card_deletes_the_selection(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 2)
    click_action(card_at(ed, 2).actions, "delete")
    ed.update()
    assert contents(store, cid) == [FIVE[0], FIVE[3], FIVE[4]]
    undo(ed)
    assert contents(store, cid) == FIVE
    # on a card outside the selection: only that card, and the selection is gone
    select(ed, 1, 2)
    click_action(card_at(ed, 4).actions, "delete")
    ed.update()
    assert contents(store, cid) == FIVE[:4] and not ed.selection


def test_card_move_buttons_move_the_selection_together(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 3, 4)
    click_action(card_at(ed, 3).actions, "move_up")
    ed.update()
    assert [c for _, c in contents(store, cid)] == ["Be brief.", "one", "three", "four", "two"]


# -- message keys, inside a text -------------------------------------------------------------------


def test_ctrl_shift_enter_inserts_above_with_the_role_before_it(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    key(focus_text(ed, 3), "<Control-Shift-Return>")
    assert [r for r, _ in contents(store, cid)] == ["system", "user", "assistant", "user", "user", "assistant"]
    assert ed.focus_get() is card_at(ed, 3).text and card_at(ed, 3).get_text() == ""
    key(focus_text(ed, 0), "<Control-Shift-Return>")  # above the first: a user message
    assert contents(store, cid)[0] == ("user", "")


def test_ctrl_keypad_enter_adds_below(app, store) -> None:
    cid = seed_chat(store, FIVE[:3])
    ed = open_editor(app, cid)
    key(focus_text(ed, 2), "<Control-KP_Enter>")
    assert contents(store, cid)[-1] == ("user", "")


def test_ctrl_shift_d_duplicates_the_current_message(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 1)
    key(text, "<Control-Shift-D>")
    assert [c for _, c in contents(store, cid)] == ["Be brief.", "one", "one", "two", "three", "four"]
    assert card_at(ed, 1).get_text() == "one", "the text itself is not changed by the key (no Ctrl+D delete)"


def test_ctrl_shift_t_cycles_train_on_the_current_message(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    focus_text(ed, 2)
    before = card_at(ed, 2).get_text()
    got = []
    for _ in range(3):
        key(card_at(ed, 2).text, "<Control-Shift-T>")
        got.append(weights(store, cid)[2])
    assert got == [1, 0, None]
    assert card_at(ed, 2).get_text() == before, "no transposed characters (Text's own Ctrl+T)"
    key(focus_text(ed, 1), "<Control-Shift-T>")  # a user message: nothing, and says why
    assert weights(store, cid) == [None] * 5 and "assistant" in app.statuses[-1]


def test_ctrl_w_saves_then_closes(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid, save_delay=60_000)  # nothing is saved by the pause in this test
    text = focus_text(ed, 1)
    text.insert("end", " more")
    key(text, "<Control-w>")
    assert ed.closed and cid not in app.editors
    assert contents(store, cid)[1] == ("user", "one more")


# -- assist keys ------------------------------------------------------------------------------------


def test_ctrl_g_generates_and_ctrl_shift_g_continues(app, store, openai_server) -> None:
    cid = seed_chat(store, FIVE[:4])
    ed = open_editor(app, cid)
    openai_server.set(reply="Five.", chunks=2)
    key(focus_text(ed, 3), "<Control-g>")
    wait_until(lambda: not ed.assist.streaming(), ed, 10)
    assert contents(store, cid)[4] == ("assistant", "Five.")
    openai_server.set(reply=" And six.", chunks=2)
    text = focus_text(ed, 4)
    text.mark_set("insert", "end-1c")
    key(text, "<Control-Shift-G>")
    wait_until(lambda: not ed.assist.streaming(), ed, 10)
    assert contents(store, cid)[4] == ("assistant", "Five. And six.")
    assert openai_server.posts()[-1].path == "/v1/completions"


def test_escape_stops_a_stream_from_anywhere_in_the_window(app, store, openai_server) -> None:
    cid = seed_chat(store, FIVE[:4])
    ed = open_editor(app, cid)
    openai_server.set(reply="y" * 200, chunks=100, chunk_delay=0.03)
    ed.event_generate("<<GenerateReply>>")
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: card.get_text(), ed)
    key(focus_text(ed, 1), "<Escape>")  # in another message's text
    assert not ed.assist.streaming() and ed.assist.last.result == "cancelled"
    assert 0 < len(contents(store, cid)[4][1]) < 200


def test_escape_without_a_stream_clears_the_selection(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    select(ed, 1, 2)
    key(ed.canvas, "<Escape>")
    assert ed.selection == set()
    assert contents(store, cid) == FIVE


# -- find --------------------------------------------------------------------------------------------


def test_f3_and_shift_f3_step_through_matches(app, store) -> None:
    cid = seed_chat(store, [("user", "zebra one"), ("assistant", "no match"), ("user", "zebra two zebra")])
    ed = open_editor(app, cid)
    key(focus_text(ed, 0), "<Control-f>")
    ed.findbar.var.set("zebra")
    ed.findbar.flush()

    def status() -> str:
        return ed.findbar.count_label.cget("text")

    first = status()
    key(ed.findbar.entry, "<F3>")
    second = status()
    key(ed.findbar.entry, "<F3>")
    third = status()
    assert [first, second, third] == ["1 of 3", "2 of 3", "3 of 3"]
    key(ed.findbar.entry, "<Shift-F3>")
    assert status() == "2 of 3"
    key(focus_text(ed, 1), "<F3>")  # F3 from a message text too
    assert status() == "3 of 3"


def test_ctrl_shift_h_opens_find_and_replace(app, store) -> None:
    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 1)
    key(text, "<Control-Shift-H>")
    dialog = wait_until(lambda: getattr(ed, "dialog", None), ed)
    assert dialog.winfo_exists() and dialog.winfo_class() == "Toplevel"
    assert card_at(ed, 1).get_text() == "one", "the key did not delete a character (Text's Ctrl+H)"


# -- the message list (after a header click) -------------------------------------------------------


def test_message_list_keys(app, store) -> None:
    cid = seed_chat(store, FIVE * 6)
    ed = open_editor(app, cid)
    card_at(ed, 2).index_label.event_generate("<Button-1>")
    ed.update()
    assert ed.focus_get() is ed.canvas and ed.current_id == ed.order[2]
    key(ed.canvas, "<Down>")
    assert ed.selection == {ed.order[3]}
    key(ed.canvas, "<Up>")
    key(ed.canvas, "<Up>")
    assert ed.selection == {ed.order[1]}
    key(ed.canvas, "<Return>")  # edits it
    assert ed.focus_get() is card_at(ed, 1).text
    card_at(ed, 1).index_label.event_generate("<Button-1>")
    key(ed.canvas, "<Control-a>")
    assert ed.selection == set(ed.order)
    key(ed.canvas, "<Escape>")
    key(ed.canvas, "<Home>")
    assert ed.canvas.yview()[0] == pytest.approx(0.0)
    key(ed.canvas, "<Next>")
    after_page = ed.canvas.yview()[0]
    assert after_page > 0
    key(ed.canvas, "<Prior>")
    assert ed.canvas.yview()[0] < after_page
    key(ed.canvas, "<End>")
    assert ed.canvas.yview()[1] == pytest.approx(1.0)
    card_at(ed, 0).index_label.event_generate("<Button-1>")
    key(ed.canvas, "<Delete>")
    assert len(contents(store, cid)) == 29


# -- the accelerators shown in the editor's menus ---------------------------------------------------


@pytest.mark.parametrize("action", [a for a in chat_editor.ACTIONS if a.keys and a.accel],
                         ids=lambda a: a.event.strip("<>"))
def test_every_editor_accelerator_fires_its_action_from_a_message(app, store, action) -> None:
    """The key the menu shows, pressed (with Shift for a capital) in a message's text and in the
    message list, fires that action."""
    from tests.ui.test_window_keys import documented, pressed

    cid = seed_chat(store, FIVE)
    ed = open_editor(app, cid)
    fired: list[str] = []
    ed.bind(action.event, lambda e: fired.append(action.event) or "break")
    keys = documented(action.accel)
    for seq in keys:
        key(focus_text(ed, 2), pressed(seq))
        ed.canvas.focus_force()
        key(ed.canvas, pressed(seq))
    assert fired == [action.event] * (2 * len(keys)), f"{action.accel} -> {keys}"
