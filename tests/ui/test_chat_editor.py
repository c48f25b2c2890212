"""The chat editor driven for real under Xvfb: typing and saving, keyboard flow, structural edits
and the journal, multi-select. (Tools, find/replace and long content: test_chat_editor_content.py.)"""

from __future__ import annotations

import time

import pytest

from lima_tk.model import Message
from lima_tk.ui import chat_editor
from lima_tk.ui.chat_editor import open_chat_editor
from tests.ui.conftest import wait_until, wheel_notch
from tests.ui.test_chat_editor_helpers import (
    card_at,
    click_action,
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


THREE = [("system", "Be brief."), ("user", "Hello"), ("assistant", "Hi! How can I help?")]


def test_open_shows_messages_and_properties(app, store) -> None:
    cid = seed_chat(store, THREE, name="Greeting", tags=["demo"])
    ed = open_editor(app, cid)
    assert app.editors[cid] is ed
    assert [c.role for c in (card_at(ed, i) for i in range(3))] == ["system", "user", "assistant"]
    assert card_at(ed, 1).get_text() == "Hello"
    assert ed.props.name_var.get() == "Greeting"
    assert ed.props.lang_var.get() == "en"
    assert ed.props.tags.tags == ["demo"]
    assert ed.props.info["messages"].cget("text") == "3"
    assert ed.props.info["tokens"].cget("text").startswith("–")
    assert "Greeting" in ed.title()
    # Opening scrolls to the end and puts the cursor into the last message.
    assert ed.canvas.yview()[1] == pytest.approx(1.0)
    wait_until(lambda: ed.focus_get() is card_at(ed, 2).text, ed)
    # The same chat twice: the open window comes back.
    assert open_chat_editor(app, cid) is ed


def test_typing_is_saved_after_the_pause(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid, save_delay=150)
    text = focus_text(ed, 1)
    text.mark_set("insert", "end-1c")
    type_text(text, " there")
    assert contents(store, cid)[1] == ("user", "Hello")  # not yet: the pause has not passed
    wait_until(lambda: contents(store, cid)[1] == ("user", "Hello there"), ed)
    # Consecutive typing in one message is one undo step.
    type_text(text, "!")
    wait_until(lambda: contents(store, cid)[1][1] == "Hello there!", ed)
    assert store.undo_label() == "Edit message"
    store.undo()
    assert contents(store, cid)[1][1] == "Hello"


def test_close_saves_pending_text(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid, save_delay=60_000)
    text = focus_text(ed, 2)
    text.insert("end", " Bye.")
    ed.update()
    assert contents(store, cid)[2][1] == "Hi! How can I help?"
    # The window manager's close button.
    ed.tk.call(ed.protocol("WM_DELETE_WINDOW"))
    assert contents(store, cid)[2][1] == "Hi! How can I help? Bye."
    assert cid not in app.editors and ed.closed
    assert app.user_settings["editor_geometry"]


def test_focus_out_and_ctrl_s_save(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid, save_delay=60_000)
    text = focus_text(ed, 1)
    text.insert("end", "?")
    focus_text(ed, 2)  # focus leaves message 1
    wait_until(lambda: contents(store, cid)[1][1] == "Hello?", ed)
    text2 = card_at(ed, 2).text
    text2.insert("end", " :)")
    key(text2, "<Control-s>")
    assert contents(store, cid)[2][1] == "Hi! How can I help? :)"
    assert app.statuses[-1].startswith("Saved ")


def test_ctrl_enter_adds_the_next_message_with_the_alternating_role(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 1)  # user
    key(text, "<Control-Return>")
    assert [r for r, _ in contents(store, cid)] == ["system", "user", "assistant", "assistant"]
    new = card_at(ed, 2)
    assert new.role == "assistant" and new.get_text() == ""
    wait_until(lambda: ed.focus_get() is new.text, ed)
    assert text.get("1.0", "end-1c") == "Hello"  # no newline was typed into the old message
    type_text(new.text, "Sure")
    key(new.text, "<Control-Return>")  # after an assistant comes a user message
    assert [r for r, _ in contents(store, cid)][3] == "user"
    assert contents(store, cid)[2] == ("assistant", "Sure")
    wait_until(lambda: ed.focus_get() is card_at(ed, 3).text, ed)


def test_alt_up_down_move_focus_between_messages(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 2)
    key(text, "<Alt-Up>")
    wait_until(lambda: ed.focus_get() is card_at(ed, 1).text, ed)
    key(card_at(ed, 1).text, "<Alt-Up>")
    wait_until(lambda: ed.focus_get() is card_at(ed, 0).text, ed)
    key(card_at(ed, 0).text, "<Alt-Up>")  # already at the top: stays
    assert ed.focus_get() is card_at(ed, 0).text
    key(card_at(ed, 0).text, "<Alt-Down>")
    wait_until(lambda: ed.focus_get() is card_at(ed, 1).text, ed)
    assert contents(store, cid) == THREE  # nothing was changed on the way


def test_alt_shift_up_down_move_the_message_and_undo(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 2)
    key(text, "<Alt-Shift-Up>")
    assert [r for r, _ in contents(store, cid)] == ["system", "assistant", "user"]
    assert ed.focus_get() is text  # the moved message keeps the cursor
    assert card_at(ed, 1).text is text and card_at(ed, 1).index_label.cget("text") == "#2"
    key(text, "<Alt-Shift-Down>")
    assert contents(store, cid) == THREE
    key(text, "<Alt-Shift-Up>")
    # Ctrl+Z outside a Text is the journal's undo.
    ed.canvas.focus_force()
    key(ed.canvas, "<Control-z>")
    assert contents(store, cid) == THREE
    assert [c.role for c in (card_at(ed, i) for i in range(3))] == ["system", "user", "assistant"]
    key(ed.canvas, "<Control-y>")
    assert [r for r, _ in contents(store, cid)] == ["system", "assistant", "user"]


def test_ctrl_delete_deletes_and_undo_brings_it_back(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    text = focus_text(ed, 1)
    key(text, "<Control-Delete>")
    assert contents(store, cid) == [THREE[0], THREE[2]]
    assert len(ed.cards) == 2
    # The cursor goes to the message that took its place.
    wait_until(lambda: ed.focus_get() is card_at(ed, 1).text, ed)
    assert card_at(ed, 1).get_text() == "Hi! How can I help?"
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert contents(store, cid) == THREE
    assert card_at(ed, 1).get_text() == "Hello"


def test_ctrl_z_inside_a_text_is_the_texts_own_undo(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    store.add_message(cid, "user", "structural step")  # something the journal could undo
    ed.reload()
    text = focus_text(ed, 1)
    text.mark_set("insert", "end-1c")
    type_text(text, "abc")
    assert text.get("1.0", "end-1c") == "Helloabc"
    key(text, "<Control-z>")
    assert text.get("1.0", "end-1c") == "Hello"
    assert len(contents(store, cid)) == 4  # the journal was not touched
    key(text, "<Control-y>")
    assert text.get("1.0", "end-1c") == "Helloabc"
    ed.flush()
    assert contents(store, cid)[1][1] == "Helloabc"


def test_tab_indents_and_ctrl_tab_leaves_the_text(app, store) -> None:
    cid = seed_chat(store, [("user", "code:"), ("assistant", "ok")])
    ed = open_editor(app, cid)
    text = focus_text(ed, 0)
    text.mark_set("insert", "end-1c")
    key(text, "<Tab>")
    assert text.get("1.0", "end-1c") == "code:\t"
    app.user_settings["tab_mode"] = "spaces"
    key(text, "<Tab>")
    assert text.get("1.0", "end-1c") == "code:\t    "
    assert ed.focus_get() is text
    key(text, "<Control-Tab>")  # leaves the text for the next message's header
    assert ed.focus_get() is card_at(ed, 1).role_box
    key(card_at(ed, 1).role_box, "<Tab>")  # and Tab goes into that message's text
    assert ed.focus_get() is card_at(ed, 1).text
    key(card_at(ed, 1).text, "<Control-Shift-Tab>")
    assert ed.focus_get() is card_at(ed, 1).role_box
    ed.flush()
    assert contents(store, cid)[0][1] == "code:\t    "


def test_insert_above_below_duplicate_role_and_train(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    focus_text(ed, 1)
    ed.event_generate("<<InsertAbove>>")
    ed.update()
    assert [r for r, _ in contents(store, cid)] == ["system", "user", "user", "assistant"]
    ed.event_generate("<<DuplicateMessage>>")  # the new (focused) message
    ed.update()
    assert len(contents(store, cid)) == 5
    ed.event_generate("<<JournalUndo>>")
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert contents(store, cid) == THREE
    # Header buttons: insert below the assistant message (with the mouse).
    card = card_at(ed, 2)
    click_action(card.actions, "insert_below")
    ed.update()
    assert [r for r, _ in contents(store, cid)] == ["system", "user", "assistant", "user"]
    # Role selector.
    card = card_at(ed, 3)
    card.role_box.set("tool")
    card.role_box.event_generate("<<ComboboxSelected>>")
    ed.update()
    assert contents(store, cid)[3][0] == "tool"
    assert card_at(ed, 3).role == "tool"
    # Train on this turn: unset -> 1 -> 0 -> unset, with a visible marker.
    a = card_at(ed, 2)
    weights = []
    for _ in range(3):
        click_action(a.extras, "toggle_train")
        weights.append(store.get_chat(cid).messages[2].weight)
    assert weights == [1, 0, None]
    click_action(a.extras, "toggle_train")
    assert "train" in a.train_text() and "✓" in a.train_text()


def test_multi_select_delete_and_move_are_one_undo_step(app, store) -> None:
    rows = [("user", f"q{i}") if i % 2 == 0 else ("assistant", f"a{i}") for i in range(6)]
    cid = seed_chat(store, rows)
    ed = open_editor(app, cid)
    card_at(ed, 1).index_label.event_generate("<Button-1>")
    card_at(ed, 3).index_label.event_generate("<Button-1>", state=0x4)  # Ctrl-click
    ed.update()
    assert ed.selection == {ed.order[1], ed.order[3]}
    assert card_at(ed, 1).selected and not card_at(ed, 2).selected
    key(ed.canvas, "<Alt-Shift-Up>")  # both move up
    assert [c for _, c in contents(store, cid)] == ["a1", "q0", "a3", "q2", "q4", "a5"]
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert contents(store, cid) == rows
    # Shift-click extends from the anchor.
    card_at(ed, 1).index_label.event_generate("<Button-1>")
    card_at(ed, 4).index_label.event_generate("<Button-1>", state=0x1)
    ed.update()
    assert len(ed.selection) == 4
    key(ed.canvas, "<Delete>")
    assert contents(store, cid) == [rows[0], rows[5]]
    assert not ed.selection and len(ed.cards) == 2
    assert store.undo_label() == "Delete 4 messages"
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert contents(store, cid) == rows
    assert [c.get_text() for c in (card_at(ed, i) for i in range(6))] == [c for _, c in rows]


def test_reload_keeps_unsaved_typing_and_other_windows_see_changes(app, store) -> None:
    a = seed_chat(store, THREE, name="A")
    b = seed_chat(store, THREE, name="B")
    ed_a = open_editor(app, a, save_delay=60_000)
    ed_b = open_editor(app, b)
    text = focus_text(ed_a, 1)
    text.insert("end", " (typing)")
    app.data_changed(source=ed_b)  # another window changed something: A reloads
    assert text.get("1.0", "end-1c") == "Hello (typing)"
    assert contents(store, a)[1][1] == "Hello (typing)"  # reload saved it first
    store.update_chat(a, name="A renamed")
    app.data_changed()
    assert ed_a.props.name_var.get() == "A renamed" and "A renamed" in ed_a.title()


def test_properties_name_language_tags_notes(app, store) -> None:
    cid = seed_chat(store, THREE, name="Old")
    store.set_setting("tags", ["coding", "conversational", "math"])
    store.set_setting("languages", ["en", "de"])
    ed = open_editor(app, cid)
    p = ed.props
    p.name_var.set("New name")
    p.lang_var.set("de")
    p.notes.insert("1.0", "check later")
    ed.flush()
    chat = store.get_chat(cid)
    assert (chat.name, chat.language, chat.notes) == ("New name", "de", "check later")
    assert tuple(p.lang_box.cget("values")) == ("en", "de")
    # Tags: autocomplete from the vocabulary, new tags allowed, x removes.
    p.tags.entry.focus_force()
    p.tags.entry_var.set("co")
    p.tags.entry.event_generate("<KeyRelease>", keysym="o")
    assert p.tags.suggest.get(0, "end") == ("coding", "conversational")
    key(p.tags.entry, "<Down>")
    key(p.tags.entry, "<Return>")
    assert store.get_chat(cid).tags == ["conversational"]
    p.tags.entry_var.set("brand-new")
    p.tags.entry.event_generate("<KeyRelease>", keysym="w")
    key(p.tags.entry, "<Return>")
    assert store.get_chat(cid).tags == ["conversational", "brand-new"]
    assert "brand-new" in store.get_settings()["tags"]
    chip = p.tags._chip_widgets[0]
    chip.remove_label.event_generate("<Button-1>")
    ed.update()
    assert store.get_chat(cid).tags == ["brand-new"]


def test_mouse_wheel_scrolls_the_messages_from_anywhere(app, store) -> None:
    cid = seed_chat(store, [("user" if i % 2 == 0 else "assistant", f"message {i}\n" * 4) for i in range(40)])
    ed = open_editor(app, cid)
    top0 = ed.view_top()
    assert top0 > 0  # opened at the end
    visible = [c for c in ed.cards.values() if c.winfo_ismapped()]
    assert visible and len(visible) < 40  # cards out of view are not drawn
    card = max(visible, key=lambda c: c.y)
    wheel_notch(card.text, down=False)  # as this Tk sends it (tests/ui/conftest.py)
    assert ed.view_top() == top0 - chat_editor.WHEEL_PX
    card.role_box.event_generate("<MouseWheel>", delta=-120)  # Windows / Tk 9: does not change the role
    ed.update()
    assert ed.view_top() == top0
    assert card.role_box.get() == card.role
    wheel_notch(card.header, down=False)
    assert ed.view_top() == top0 - chat_editor.WHEEL_PX


def test_a_new_message_is_scrolled_into_view_and_typing_stays_visible(app, store) -> None:
    cid = seed_chat(store, [("user" if i % 2 == 0 else "assistant", f"line {i}") for i in range(60)])
    ed = open_editor(app, cid)
    focus_text(ed, 0)
    ed.update()
    assert ed.view_top() < 50
    key(card_at(ed, 0).text, "<Control-Return>")
    new = card_at(ed, 1)
    top, h = ed.view_top(), ed.view_height()
    assert top <= new.y and new.y + new.h <= top + h
    # A message that grows past the bottom of the view keeps its cursor line visible.
    ed.focus_message(ed.order[-1])
    last = card_at(ed, len(ed.order) - 1)
    last.text.focus_force()
    last.text.mark_set("insert", "end-1c")
    for _ in range(25):
        key(last.text, "<Return>")
    wait_until(lambda: last.h > 300, ed)
    ed.update()
    top, h = ed.view_top(), ed.view_height()
    assert last.y + last.h <= top + h + 1


def test_chat_deleted_elsewhere_closes_the_editor(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    store.delete_chats([cid])
    app.data_changed()
    assert ed.closed and cid not in app.editors


def test_read_only_dataset_cannot_be_edited(app, store, db_path) -> None:
    from lima_tk.store import DatasetStore

    cid = seed_chat(store, THREE)
    ro = DatasetStore(db_path, readonly=True)
    try:
        app.store = ro
        ed = open_editor(app, cid)
        assert str(card_at(ed, 1).text.cget("state")) == "disabled"
        ed.event_generate("<<DeleteMessage>>")
        ed.event_generate("<<AddMessage>>")
        ed.update()
        assert len(contents(store, cid)) == 3
        assert "read-only" in app.statuses[-1]
        ed.close()
    finally:
        app.store = store
        ro.close()


def test_empty_chat_shows_a_hint_and_add_message_starts_it(app, store) -> None:
    cid = store.create_chat("Empty")
    ed = open_editor(app, cid)
    assert ed.empty_label.winfo_ismapped()
    ed.add_button.invoke()
    ed.update()
    assert contents(store, cid) == [("user", "")]
    assert not ed.empty_label.winfo_ismapped()
    wait_until(lambda: ed.focus_get() is card_at(ed, 0).text, ed)


def test_message_names_and_none_content_are_kept(app, store) -> None:
    cid = store.create_chat("x", messages=[Message("user", "hi", name="alice"), Message("assistant", None)])
    ed = open_editor(app, cid)
    assert card_at(ed, 0).name_label.cget("text") == "name: alice"
    focus_text(ed, 0).insert("end", "!")
    ed.flush()
    msgs = store.get_chat(cid).messages
    assert (msgs[0].content, msgs[0].name, msgs[1].content) == ("hi!", "alice", None)


def test_destroyed_from_outside_unregisters_and_stops_its_timers(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid, save_delay=50)
    focus_text(ed, 1).insert("end", "!")
    ed.update()
    ed.props.name_var.set("pending name")  # a properties timer is running too
    app.flush_pending()  # what the main window does before it closes a dataset
    ed.destroy()
    assert ed.closed and cid not in app.editors
    # Pump the loop past the save delays: the cancelled timers must not fire on dead widgets.
    end = time.monotonic() + 0.2
    wait_until(lambda: time.monotonic() > end, app.root)
    assert contents(store, cid)[1][1] == "Hello!"


def test_opening_a_missing_chat_raises_and_leaves_no_window(app, store) -> None:
    from lima_tk.errors import NotFound

    before = len(app.root.winfo_children())
    with pytest.raises(NotFound):
        open_chat_editor(app, 424242)
    assert len(app.root.winfo_children()) == before and not app.editors


def test_every_menu_item_fires_a_bound_virtual_event(app, store) -> None:
    cid = seed_chat(store, THREE)
    ed = open_editor(app, cid)
    bound = set(ed.bind())
    for action in chat_editor.ACTIONS:
        assert action.event in bound, action.event
    labels = [ed.menus[m].entrycget(i, "label") for m in ed.menus for i in range(ed.menus[m].index("end") + 1)
              if ed.menus[m].type(i) == "command"]
    assert "Find and replace in dataset…" in labels and "New message below" in labels
    ed.event_generate("<<StopGenerating>>")  # nothing streams: says so, no error (generating: test_assist_gui.py)
    assert app.statuses[-1] == "Nothing is being generated"
