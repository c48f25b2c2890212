"""AI assist in the chat editor, driven for real: a real editor over a real DatasetStore, the real
`openai` client against the local OpenAI-compatible test server (tests/openai_server.py).
Streaming, stop, continue, regenerate and versions, tool calls, errors with Retry, closing
mid-stream, and the Assistant settings tab (model list, test connection)."""

from __future__ import annotations

import threading
import time

import pytest

from lima_tk.model import Tool
from lima_tk.ui.assist_view import MARK_WARN
from tests.assist_fixtures import refused_port, running_server
from tests.ui.app_helpers import app_factory
from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import (
    card_at,
    click_action,
    focus_text,
    key,
    open_editor,
    seed_chat,
    stand_in_app,
    type_text,
)


@pytest.fixture
def openai_server():
    yield from running_server()


@pytest.fixture
def app(store, openai_server):
    yield from stand_in_app(store, base_url=openai_server.base_url, model="test-model", timeout=5, use_env_key=False)


@pytest.fixture
def make_app(db_path):
    yield from app_factory(db_path)


CHAT = [("system", "Be brief."), ("user", "Tell me a story")]
WEATHER = Tool("get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})


def assist_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lima-assist" and t.is_alive()]


def finished(ed, timeout: float = 10.0):
    """Wait until the editor's stream ended; returns how it ended."""
    wait_until(lambda: not ed.assist.streaming(), ed, timeout)
    return ed.assist.last


def message(store, cid: int, index: int):
    return store.get_chat(cid).messages[index]


def streaming(app, store, server, reply: str, chunks: int, **open_kw):
    """A new CHAT in an editor, its reply (`reply` in `chunks` chunks, 30 ms apart) streaming and
    already showing text: (chat id, editor, the streaming card)."""
    server.set(reply=reply, chunks=chunks, chunk_delay=0.03)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid, **open_kw)
    ed.event_generate("<<GenerateReply>>")
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: card.get_text(), ed)
    return cid, ed, card


# -- generate ----------------------------------------------------------------------------------


def test_reply_streams_into_the_editor(app, store, openai_server) -> None:
    words = "Once upon a time there was a small cat who lived in a lighthouse by the sea."
    openai_server.set(reply=words, chunks=16, chunk_delay=0.04)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    key(ed.cards[ed.order[-1]].text, "<Control-g>")  # Ctrl+G in the last (user) message
    assert ed.assist.streaming()
    mid = ed.assist.stream.mid
    card = ed.cards[mid]
    assert ed.order[-1] == mid and card.role == "assistant"
    assert str(card.text.cget("state")) == "disabled"  # read-only while it streams
    assert ed.generate_button.cget("text") == "■ Stop (Esc)"
    assert card.extras.label("stop") == "■ stop"
    assert "generating…" in card.meta_row.label("provenance")
    # The text arrives piece by piece: seen partly written before the end.
    h0 = card.text.winfo_height()
    partial = wait_until(lambda: (lambda t: t if 0 < len(t) < len(words) else None)(card.get_text()), ed)
    assert words.startswith(partial)
    assert message(store, cid, 2).content == partial  # the store follows tick by tick
    run = finished(ed)
    assert run.result == "stop" and run.deltas > 2
    assert card.get_text() == words
    m = message(store, cid, 2)
    assert (m.role, m.content, m.source, m.model, m.finish) == ("assistant", words, "generated", "test-model", "stop")
    assert str(card.text.cget("state")) == "normal"
    assert card.meta_row.label("provenance") == "generated · test-model"
    assert ed.generate_button.cget("text") == "Generate reply"
    assert card.text.winfo_height() >= h0  # the card grew with its text
    assert ed.canvas.yview()[1] == pytest.approx(1.0)  # the view followed to the end
    assert "Generated with test-model" in app.statuses[-1]
    # The request: the chat so far, streamed.
    body = openai_server.posts()[-1].body
    assert body["stream"] is True and [m["role"] for m in body["messages"]] == ["system", "user"]
    # One undo step removes the whole generation.
    assert store.undo_label() == "Generate reply"
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert len(store.get_chat(cid).messages) == 2 and len(ed.order) == 2
    # Editing it afterwards makes it "edited".
    ed.event_generate("<<JournalRedo>>")
    text = focus_text(ed, 2)
    text.mark_set("insert", "end-1c")
    type_text(text, "!")
    wait_until(lambda: message(store, cid, 2).source == "edited", ed)
    ed.reload()
    assert ed.cards[ed.order[2]].meta_row.label("provenance") == "edited · test-model"
    assert not assist_threads()


def test_generate_below_a_user_message_in_the_middle_and_bottom_bar(app, store, openai_server) -> None:
    openai_server.set(reply="Paris.")
    cid = seed_chat(store, [("user", "Capital of France?"), ("user", "And of Spain?")])
    ed = open_editor(app, cid)
    ed.current_id = ed.order[0]
    ed.event_generate("<<GenerateReply>>")
    finished(ed)
    roles = [(m.role, m.content) for m in store.get_chat(cid).messages]
    assert roles == [("user", "Capital of France?"), ("assistant", "Paris."), ("user", "And of Spain?")]
    assert openai_server.posts()[-1].body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    # The last message (a user message) has a "generate reply" button; the bottom bar acts at the end.
    last = card_at(ed, 2)
    assert last.extras.label("generate") == "✦ generate reply"
    openai_server.set(reply="Madrid.")
    ed.generate_button.invoke()
    finished(ed)
    assert [m.content for m in store.get_chat(cid).messages][-1] == "Madrid."
    assert not card_at(ed, 2).extras.winfo_manager()  # no longer the last message: the button is gone


def test_other_messages_stay_editable_while_streaming(app, store, openai_server) -> None:
    cid, ed, card = streaming(app, store, openai_server, "word " * 40, 40, save_delay=20)
    text = focus_text(ed, 1)
    text.mark_set("insert", "end-1c")
    type_text(text, " please")
    wait_until(lambda: message(store, cid, 1).content == "Tell me a story please", ed)
    assert ed.assist.streaming()  # typing elsewhere does not disturb the stream
    run = finished(ed)
    assert run.result == "stop"
    assert message(store, cid, 2).content == ("word " * 40) and message(store, cid, 2).source == "generated"
    assert message(store, cid, 1).content == "Tell me a story please"


# -- stop ----------------------------------------------------------------------------------------


def test_escape_stops_mid_stream_and_the_text_stays_editable(app, store, openai_server) -> None:
    openai_server.set(reply="x" * 300, chunks=150, chunk_delay=0.03)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: len(card.get_text()) >= 6, ed)
    t = time.monotonic()
    key(card.text, "<Escape>")  # the streaming message has the keyboard: Esc stops
    assert not ed.assist.streaming() and time.monotonic() - t < 1.0
    assert ed.assist.last.result == "cancelled"
    kept = card.get_text()
    assert 0 < len(kept) < 300
    m = message(store, cid, 2)
    assert (m.content, m.finish, m.source) == (kept, "cancelled", "generated")
    rec = openai_server.posts()[-1]
    wait_until(lambda: rec.client_closed, ed, 5)  # the server saw the connection closed
    assert not rec.finished
    assert not assist_threads()
    marker = card.meta_row
    assert marker.label("provenance") == "cancelled · test-model" and marker.colors["provenance"] == MARK_WARN[0]
    assert "Stopped" in app.statuses[-1]
    # Editable again: typing is saved and marks it edited.
    assert str(card.text.cget("state")) == "normal"
    text = focus_text(ed, 2)
    text.mark_set("insert", "end-1c")
    type_text(text, " END")
    wait_until(lambda: message(store, cid, 2).content == kept + " END", ed)
    assert message(store, cid, 2).source == "edited"


def test_stop_button_in_the_bottom_bar_and_on_the_card(app, store, openai_server) -> None:
    openai_server.set(reply="y" * 200, chunks=100, chunk_delay=0.03)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.generate_button.invoke()
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: card.get_text(), ed)
    ed.generate_button.invoke()  # it says "Stop" now
    assert not ed.assist.streaming() and message(store, cid, 2).finish == "cancelled"
    # Regenerate from the card, then stop with the card's own ■ stop button.
    click_action(card.extras, "regenerate")
    assert ed.assist.streaming(card.mid)
    wait_until(lambda: card.get_text(), ed)
    click_action(card.extras, "stop")
    assert not ed.assist.streaming()
    assert card.meta_row.label("versions") == "2/2"


def test_undo_while_streaming_stops_first(app, store, openai_server) -> None:
    cid, ed, _ = streaming(app, store, openai_server, "z" * 200, 100)
    ed.canvas.focus_set()
    key(ed.canvas, "<Control-z>")  # the journal's undo: stops, then undoes the whole generation
    assert not ed.assist.streaming() and not assist_threads()
    assert len(store.get_chat(cid).messages) == 2 and len(ed.order) == 2


def test_undo_from_the_main_window_while_streaming_stops_the_stream(app, store, openai_server) -> None:
    cid, ed, _ = streaming(app, store, openai_server, "w" * 200, 100)
    app.undo()  # the main window's undo reloads the editor: the stream's message is gone
    assert not ed.assist.streaming() and ed.assist.last.result == "aborted"
    assert len(store.get_chat(cid).messages) == 2
    assert "removed" in app.statuses[-2]
    wait_until(lambda: not assist_threads(), ed)


# -- closing mid-stream ----------------------------------------------------------------------------


def test_closing_the_editor_mid_stream_leaves_no_thread(app, store, openai_server) -> None:
    cid, ed, _ = streaming(app, store, openai_server, "v" * 400, 200)
    assert assist_threads()
    t = time.monotonic()
    ed.event_generate("<<CloseEditor>>")
    assert time.monotonic() - t < 1.5
    assert not assist_threads()
    assert ed.closed and cid not in app.editors
    m = message(store, cid, 2)
    assert m.finish == "cancelled" and 0 < len(m.content) < 400
    wait_until(lambda: openai_server.posts()[-1].client_closed, app.root, 5)
    # Pump the loop past a few ticks: no callback may fire on the dead window.
    end = time.monotonic() + 0.15
    wait_until(lambda: time.monotonic() > end, app.root)


def test_main_window_destroying_the_editor_mid_stream(app, store, openai_server) -> None:
    """The main window closes (or switches datasets): it destroys its editors, then closes the store."""
    cid, ed, _ = streaming(app, store, openai_server, "u" * 400, 200)
    ed.destroy()
    assert not assist_threads()
    assert cid not in app.editors
    assert message(store, cid, 2).finish == "cancelled"
    end = time.monotonic() + 0.15
    wait_until(lambda: time.monotonic() > end, app.root)


# -- continue ------------------------------------------------------------------------------------


def test_continue_from_the_end_with_completions(app, store, openai_server) -> None:
    openai_server.set(reply=" there was a cat.", chunks=4)
    cid = seed_chat(store, [("user", "Tell a story"), ("assistant", "Once upon a time")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    key(card.text, "<Control-G>")  # Ctrl+Shift+G; the cursor is at the end
    run = finished(ed)
    assert run.mode == "continue" and run.result == "stop"
    assert card.get_text() == "Once upon a time there was a cat."
    m = message(store, cid, 1)
    assert (m.content, m.source, m.finish, m.model) == ("Once upon a time there was a cat.", "edited", "stop",
                                                         "test-model")  # a person's text continued: mixed
    rec = openai_server.posts()[-1]
    assert rec.path == "/v1/completions" and rec.body["prompt"].endswith("<|im_start|>assistant\nOnce upon a time")
    assert store.undo_label() == "Continue reply"
    ed.canvas.focus_set()
    key(ed.canvas, "<Control-z>")
    assert message(store, cid, 1).content == "Once upon a time"


def test_continue_at_the_cursor_keeps_the_text_after_it(app, store, openai_server) -> None:
    openai_server.set(reply=" a brave little", chunks=3, chunk_delay=0.05)
    app.user_settings["continue_method"] = "chat"
    cid = seed_chat(store, [("user", "Story?"), ("assistant", "There was cat.")])
    ed = open_editor(app, cid)
    text = focus_text(ed, 1)
    text.mark_set("insert", "1.9")  # "There was| cat."
    key(text, "<Control-G>")
    card = card_at(ed, 1)
    assert card.get_text() == "There was cat."  # the tail stays on screen while the middle streams in
    finished(ed)
    assert card.get_text() == "There was a brave little cat."
    assert message(store, cid, 1).content == "There was a brave little cat."
    assert text.index("insert") == "1.24"  # the cursor waits after the new text
    body = openai_server.posts()[-1].body
    assert body["messages"][-1] == {"role": "assistant", "content": "There was"}


def test_continue_needs_text(app, store, openai_server) -> None:
    cid = seed_chat(store, [("user", "Hi"), ("assistant", "")])
    ed = open_editor(app, cid)
    ed.current_id = ed.order[1]
    ed.event_generate("<<ContinueReply>>")
    assert not ed.assist.streaming() and "no text to continue" in app.statuses[-1]
    assert openai_server.posts() == []


# -- regenerate and versions ----------------------------------------------------------------------


def test_regenerate_keeps_versions_and_flips_between_them(app, store, openai_server) -> None:
    openai_server.set(reply="Answer", vary=True)
    cid = seed_chat(store, [("user", "Question?"), ("assistant", "My own answer")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    assert card.meta_row is None  # a person's reply: no marker, one version
    click_action(card.extras, "regenerate")
    finished(ed)
    first = card.get_text()
    assert first.startswith("Answer #")
    meta = card.meta_row
    assert meta.label("versions") == "2/2" and meta.label("provenance") == "generated · test-model"
    click_action(meta, "alt_prev")
    assert card.get_text() == "My own answer" and meta.label("versions") == "1/2"
    assert "provenance" not in meta.tips  # the shown version was written by a person
    m = message(store, cid, 1)
    assert (m.content, m.alt_index, m.source) == ("My own answer", 0, None)
    click_action(meta, "alt_next")
    assert card.get_text() == first and meta.label("versions") == "2/2"
    # Ctrl+G on the reply regenerates once more: 3 versions.
    key(card.text, "<Control-g>")
    finished(ed)
    assert meta.label("versions") == "3/3" and card.get_text() != first
    assert len(message(store, cid, 1).variants()) == 3
    # The request never includes the reply being replaced.
    assert openai_server.posts()[-1].body["messages"] == [{"role": "user", "content": "Question?"}]
    # Delete the shown version from the menu of versions.
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    assert menu.entrycget(menu.index("end"), "label") == "Delete version 3"
    menu.invoke(menu.index("end"))
    ed.update()
    assert meta.label("versions") == "2/2" and card.get_text() == first
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    menu.invoke(0)  # show version 1
    ed.update()
    assert card.get_text() == "My own answer"
    ed.event_generate("<<DeleteVersion>>")
    ed.update()
    assert card.get_text() == first and "versions" not in card.meta_row.tips
    assert message(store, cid, 1).alternatives is None


# -- tool calls ----------------------------------------------------------------------------------


def test_streamed_tool_calls_become_tool_calls_of_the_message(app, store, openai_server) -> None:
    openai_server.set(reply="", chunk_delay=0.02, tool_calls=[
        {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"id": "call_b", "name": "get_weather", "arguments": '{"city": "Tokyo"}'}])
    cid = seed_chat(store, [("user", "Weather in Paris and Tokyo?")], tools=[WEATHER])
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: "calling get_weather" in card.meta_row.label("provenance") or not ed.assist.streaming(), ed)
    run = finished(ed)
    assert run.result == "tool_calls"
    m = message(store, cid, 1)
    assert m.content is None and m.finish == "tool_calls"
    assert m.tool_calls == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}}]
    # Shown by the tool-call UI of the card.
    assert card.calls_frame is not None and len(card.calls_frame.winfo_children()) == 2
    labels = [w.cget("text") for row in card.calls_frame.winfo_children() for w in row.winfo_children()
              if w.winfo_class() == "Label"]
    assert "get_weather" in labels and "call_a" in labels and '{"city": "Paris"}' in labels
    ed.canvas.focus_set()
    ed.update()
    assert card.placeholder.winfo_manager() and card.placeholder.cget("text") == "no text: the tool calls are the reply"
    assert "get_weather" in app.statuses[-1]
    assert openai_server.posts()[-1].body["tools"] == [WEATHER.to_openai()]


def test_generated_call_ids_stay_unique_in_the_chat(app, store, openai_server) -> None:
    openai_server.set(reply="", tool_calls=[{"id": "call_a", "name": "get_weather", "arguments": "{}"}])
    cid = seed_chat(store, [("user", "Weather?")], tools=[WEATHER])
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    finished(ed)
    ed.add_message(None, "user", "Again?")
    ed.generate_button.invoke()
    finished(ed)
    ids = [c["id"] for m in store.get_chat(cid).messages for c in m.tool_calls or []]
    assert ids[0] == "call_a" and ids[1] != "call_a" and ids[1].startswith("call_")


# -- errors ----------------------------------------------------------------------------------------


# name: (server behaviour, settings, words of the message, partial text kept)
ERRORS = {
    "bad key": ({}, {"api_key": "sk-wrong-key-0123456789"}, ["refused the API key", "HTTP 401"], False),
    "wrong base URL": ({"html_404": True}, {"base_url": "{root}"}, ["not an OpenAI-compatible endpoint"], False),
    "connection refused": ({}, {"base_url": "http://127.0.0.1:{refused}/v1"}, ["connection refused"], False),
    "timeout": ({"delay": 3}, {"timeout": 0.3}, ["no answer", "0.3 s"], False),
    "server error": ({"status": 500, "error_message": "CUDA out of memory"}, {}, ["HTTP 500", "CUDA out of memory"],
                     False),
    "unknown model": ({}, {"model": "gpt-99"}, ["does not know the model 'gpt-99'"], False),
    "context exceeded": ({"status": 400, "error_code": "context_length_exceeded",
                          "error_message": "This model's maximum context length is 8 tokens."}, {},
                         ["too long for the model's context window"], False),
    "broken stream": ({"cut_after": 3, "chunks": 6, "reply": "abcdefghijkl"}, {}, ["broke off mid-way"], True),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_show_inline_and_retry_works(name: str, app, store, openai_server) -> None:
    behaviour, settings, words, partial = ERRORS[name]
    openai_server.api_key = "sk-right-key-0123456789"
    good = dict(app.user_settings, api_key="sk-right-key-0123456789")
    openai_server.set(**behaviour)
    bad = {k: v.format(root=openai_server.base_url[:-3], refused=refused_port()) if isinstance(v, str) else v
           for k, v in settings.items()}
    app.user_settings.update(good, **bad)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    run = finished(ed)
    assert run.result == "error"
    card = card_at(ed, 2)
    assert card.error_row is not None and card.error_row.winfo_manager()
    shown = card.error_label.cget("text")
    for w in words:
        assert w in shown, shown
        assert w in app.statuses[-1]
    assert "sk-wrong" not in shown and "sk-right" not in shown
    m = message(store, cid, 2)
    assert m.finish == "interrupted"  # never passed off as complete
    assert (m.content or "") == (card.get_text()) and bool(m.content) == partial
    if partial:
        assert "kept" in app.statuses[-1]
    assert card.meta_row.label("provenance").startswith("interrupted")
    # Retry, once the cause is fixed: one click.
    openai_server.set(status=None, html_404=False, delay=0, cut_after=None, reply="Fixed.", chunks=2)
    app.user_settings.update(good)
    click_action(card.error_row.winfo_children()[0], "retry")
    assert card.error_row is None  # the strip goes away while it retries
    finished(ed)
    assert ed.assist.last.result == "stop"
    m = message(store, cid, 2)
    assert (m.content, m.finish) == ("Fixed.", "stop")
    # A failed attempt without text is replaced; one with text stays a version.
    assert len(m.variants()) == (2 if partial else 1)
    assert card.error_row is None


def test_error_strip_can_be_dismissed_and_continue_errors_retry_as_continue(app, store, openai_server) -> None:
    openai_server.set(no_finish=True, reply=" and on")  # a stream that ends without a finish reason
    cid = seed_chat(store, [("user", "Go"), ("assistant", "On")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    key(card.text, "<Control-G>")
    finished(ed)
    m = message(store, cid, 1)
    assert (m.content, m.finish, m.source) == ("On and on", "interrupted", "edited")
    assert card.meta_row.label("provenance") == "edited · interrupted"  # a person's text, continued, cut off
    assert card.meta_row.colors["provenance"] == MARK_WARN[0]
    assert "without a finish reason" in card.error_label.cget("text")
    openai_server.set(no_finish=False, reply=" and done.")
    click_action(card.error_row.winfo_children()[0], "retry")  # continues again from the end
    finished(ed)
    assert message(store, cid, 1).content == "On and on and done."
    openai_server.set(status=500, error_message="nope")
    key(card.text, "<Control-G>")
    finished(ed)
    assert card.error_row is not None
    click_action(card.error_row.winfo_children()[0], "dismiss_error")
    assert card.error_row is None and message(store, cid, 1).content == "On and on and done."


def test_interrupted_stream_is_marked_and_a_missing_finish_is_never_complete(app, store, openai_server) -> None:
    openai_server.set(no_finish=True, reply="half a rep")
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    finished(ed)
    card = card_at(ed, 2)
    assert card.get_text() == "half a rep" and message(store, cid, 2).finish == "interrupted"
    assert card.meta_row.label("provenance") == "interrupted · test-model"
    # A reply left without any finish (e.g. the program was killed mid-stream) says so too.
    mid = store.begin_generated_message(cid, "m1")
    store.append_generated_text(mid, "cut")
    ed.reload()
    assert ed.cards[mid].meta_row.label("provenance") == "incomplete · m1"
    assert ed.cards[mid].meta_row.colors["provenance"] == MARK_WARN[0]


def test_generate_while_streaming_is_refused(app, store, openai_server) -> None:
    openai_server.set(reply="q" * 100, chunks=50, chunk_delay=0.03)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    mid = ed.assist.stream.mid
    ed.event_generate("<<GenerateReply>>")
    assert "Esc stops it" in app.statuses[-1] and ed.assist.stream.mid == mid
    ed.current_id = mid
    ed.event_generate("<<DeleteMessage>>")  # deleting the streaming message stops it first
    assert not ed.assist.streaming() and len(store.get_chat(cid).messages) == 2
    assert not assist_threads()


# -- the Assistant settings tab ----------------------------------------------------------------


def test_settings_list_models_and_test_connection(make_app, openai_server, db_path) -> None:
    import json
    import os
    import stat

    from lima_tk.settings import user_config_path

    openai_server.api_key = "sk-right-key-0123456789"
    app = make_app(user_settings={"base_url": openai_server.base_url, "use_env_key": False,
                                  "api_key": "sk-right-key-0123456789", "model": "custom-model"})
    dlg = app.settings_dialog()
    # The model list is fetched from /v1/models when the dialog opens (worker thread).
    wait_until(lambda: tuple(dlg.model_box.cget("values")) == ("other-model", "test-model"), app.root)
    note = dlg.models_note.cget("text")
    assert "2 models" in note and "'custom-model' is not among them" in note
    assert dlg.vars["model"].get() == "custom-model"  # free text stays
    dlg.model_box.set("test-model")
    dlg.test_connection()
    wait_until(lambda: dlg.test_result.cget("text").startswith("✓"), app.root)
    assert f"connected to {openai_server.base_url}: 2 models" in dlg.test_result.cget("text")
    # A wrong key: the test says so in plain words, the key is not shown.
    dlg.vars["api_key"].set("sk-wrong-key-0123456789")
    dlg.test_connection()
    wait_until(lambda: dlg.test_result.cget("text").startswith("✗"), app.root)
    assert "refused the API key" in dlg.test_result.cget("text") and "sk-wrong" not in dlg.test_result.cget("text")
    # A server that is not there: the model list says so; the dialog never blocks.
    dlg.vars["base_url"].set(f"http://127.0.0.1:{refused_port()}/v1")
    dlg._server_changed()
    wait_until(lambda: "connection refused" in dlg.models_note.cget("text"), app.root)
    # Every assistant setting is saved to the user config file (0600), never to the dataset.
    dlg.vars["base_url"].set(openai_server.base_url)
    dlg.vars["api_key"].set("sk-right-key-0123456789")
    dlg.vars["temperature"].set("0.2")
    dlg.vars["top_p"].set("0.9")
    dlg.vars["max_tokens"].set("")
    dlg.vars["timeout"].set("30")
    dlg.vars["continue_method"].set("chat")
    dlg.stop_text.delete("1.0", "end")
    dlg.stop_text.insert("1.0", "\\n\\nUser:\n###")
    assert dlg.save()
    stored = json.loads(user_config_path().read_text())
    assert stat.S_IMODE(os.stat(user_config_path()).st_mode) == 0o600
    assert (stored["model"], stored["temperature"], stored["top_p"], stored["max_tokens"], stored["timeout"],
            stored["continue_method"], stored["stop"]) == ("test-model", 0.2, 0.9, None, 30, "chat",
                                                           ["\n\nUser:", "###"])
    app.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert b"sk-right" not in raw


def test_settings_reject_bad_assistant_values(make_app, openai_server) -> None:
    app = make_app(user_settings={"base_url": openai_server.base_url, "stop": ["\n\n"]})
    dlg = app.settings_dialog()
    assert dlg.stop_text.get("1.0", "end-1c") == "\\n\\n"  # shown escaped, one per line
    for var, value, words in (("top_p", "2", "Top p"), ("timeout", "0", "Timeout"), ("max_tokens", "-3", "Max"),
                              ("base_url", "localhost:8080", "http://")):
        old = dlg.vars[var].get()
        dlg.vars[var].set(value)
        assert not dlg.save()
        assert words in dlg.error.cget("text")
        dlg.vars[var].set(old)
    wait_until(lambda: dlg.model_box.cget("values"), app.root)
    dlg.destroy()


def test_settings_apply_to_the_next_generation(make_app, openai_server, db_path) -> None:
    from lima_tk.store import DatasetStore
    from lima_tk.ui.chat_editor import open_chat_editor

    openai_server.set(reply="ok")
    with DatasetStore(db_path) as s:
        cid = seed_chat(s, CHAT)
    app = make_app(user_settings={"base_url": "http://127.0.0.1:9/v1", "use_env_key": False})
    dlg = app.settings_dialog()
    dlg.vars["base_url"].set(openai_server.base_url)
    dlg.vars["model"].set("other-model")
    dlg.vars["temperature"].set("0.1")
    assert dlg.save()
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    ed.event_generate("<<GenerateReply>>")
    finished(ed)
    body = openai_server.posts()[-1].body
    assert (body["model"], body["temperature"]) == ("other-model", 0.1)
    assert app.store.get_chat(cid).messages[-1].content == "ok"


def test_a_long_reply_scrolls_inside_its_capped_message(app, store, openai_server) -> None:
    reply = "".join(f"line {i}\n" for i in range(60))
    openai_server.set(reply=reply, chunks=30, chunk_delay=0.01)
    cid = seed_chat(store, CHAT)
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: card.text.capped, ed)  # over 40 lines: the card stops growing and scrolls inside
    finished(ed)
    assert card.get_text() == reply and card.text.capped
    ed.update()
    assert card.text.yview()[1] == pytest.approx(1.0)  # the end of the reply is in view
    assert ed.canvas.yview()[1] == pytest.approx(1.0)


def test_the_view_follows_unless_the_user_scrolled_away(app, store, openai_server) -> None:
    openai_server.set(reply="".join(f"paragraph {i}\n\n" for i in range(30)), chunks=60, chunk_delay=0.03)
    contents = [("user" if i % 2 == 0 else "assistant", f"message {i}\n" * 4) for i in range(8)]
    cid = seed_chat(store, contents)
    ed = open_editor(app, cid)
    ed.generate_button.invoke()
    card = ed.cards[ed.assist.stream.mid]
    wait_until(lambda: card.text.count("1.0", "end", "lines")[0] > 8, ed)
    assert ed.canvas.yview()[1] == pytest.approx(1.0)  # following the end
    ed.scroll_pixels(-400)  # the user scrolls up to read something
    top = ed.view_top()
    lines = card.text.count("1.0", "end", "lines")[0]
    wait_until(lambda: card.text.count("1.0", "end", "lines")[0] > lines + 6, ed)
    assert ed.view_top() == top  # the view stays where the user put it
    ed.scroll_pixels(10_000)  # back to the end: following again
    lines = card.text.count("1.0", "end", "lines")[0]
    wait_until(lambda: card.text.count("1.0", "end", "lines")[0] > lines + 4 or not ed.assist.streaming(), ed)
    assert ed.canvas.yview()[1] == pytest.approx(1.0)
    finished(ed)


def test_a_narrow_window_draws_the_header_actions_short(app, store, openai_server) -> None:
    cid = seed_chat(store, [("user", "Hi"), ("assistant", "Hello")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    ed.geometry("1500x700")
    wait_until(lambda: not card.compact, ed)
    assert card.actions.label("insert_above") == "+ above"
    ed.geometry("760x500")
    wait_until(lambda: card.compact, ed)
    assert card.actions.label("insert_above") == "+↑" and card.actions.tips["insert_above"].startswith("Insert")


def test_check_and_radio_indicators_outlive_the_first_dialog(make_app) -> None:
    import gc

    from lima_tk.ui import dialogs, theme

    app = make_app(user_settings={"base_url": "http://127.0.0.1:9/v1"})
    first = dialogs.Dialog(app.root, "first")
    first.destroy()
    del first
    gc.collect()
    dlg = app.settings_dialog()
    names = set(app.root.tk.splitlist(app.root.tk.call("image", "names")))
    assert {str(img) for img in theme.indicator_images(app.root).values()} <= names
    dlg.destroy()


def test_closing_the_main_window_mid_stream(make_app, openai_server, db_path) -> None:
    from lima_tk.store import DatasetStore
    from lima_tk.ui.chat_editor import open_chat_editor

    with DatasetStore(db_path) as s:
        cid = seed_chat(s, CHAT)
    app = make_app(user_settings={"base_url": f"http://127.0.0.1:{refused_port()}/v1", "use_env_key": False,
                                  "model": "test-model", "timeout": 5})
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    # A connection problem offers the settings on the message itself.
    ed.event_generate("<<GenerateReply>>")
    finished(ed)
    card = card_at(ed, 2)
    strip = card.error_row.winfo_children()[0]
    assert "settings" in strip.tips and "connection refused" in app.status_text
    click_action(strip, "settings")
    dlg = next(w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel" and w.title() == "Settings")
    dlg.vars["base_url"].set(openai_server.base_url)
    assert dlg.save()
    # Retry streams now; the main window closes while it does.
    openai_server.set(reply="t" * 400, chunks=200, chunk_delay=0.03)
    click_action(card.error_row.winfo_children()[0], "retry")
    wait_until(lambda: card.get_text(), app.root)
    app.close()
    assert not assist_threads()
    with DatasetStore(db_path) as s:
        m = s.get_chat(cid).messages[2]
    assert m.finish == "cancelled" and 0 < len(m.content) < 400
