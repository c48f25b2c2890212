"""A regeneration that fails never replaces the reply (issue 10, item 12), driven for real: the
real editor, the real `openai` client against a refused port (a socket bound and never
listening: a real refused connection) and the local OpenAI-compatible server. Nothing produced:
the previous reply stays shown and the error with its Retry is beside it, in view. Partial: kept
as a version, shown only by the user's choice (Stop, or "Show partial"), or when there was
nothing before."""

from __future__ import annotations

import socket

import pytest

from tests.assist_fixtures import running_server
from tests.ui.conftest import wait_until
from tests.ui.test_assist_gui import finished, message
from tests.ui.test_chat_editor_helpers import (
    card_at,
    click_action,
    focus_text,
    key,
    open_editor,
    seed_chat,
    stand_in_app,
)

LONG = "\n".join(f"Line {i} of a long, careful answer that took a while to write." for i in range(30))


@pytest.fixture
def openai_server():
    yield from running_server()


@pytest.fixture
def refused_port():
    """A loopback port bound by this test and never listening: connecting is refused for real,
    and no other process can take the port while the test runs."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def app(store, openai_server):
    yield from stand_in_app(store, base_url=openai_server.base_url, model="test-model", timeout=5,
                            use_env_key=False)


def in_view(ed, card, widget) -> bool:
    """Whether `widget` (a row of the card) is entirely inside the visible part of the messages."""
    ed.update_idletasks()
    y1 = card.y + widget.winfo_y()
    y2 = y1 + widget.winfo_height()
    top = ed.view_top()
    return widget.winfo_ismapped() and top <= y1 and y2 <= top + ed.view_height()


def test_regenerate_against_a_refused_port_keeps_the_reply(app, store, refused_port, openai_server) -> None:
    cid = seed_chat(store, [("user", "Question?"), ("assistant", LONG), ("user", "Thanks!")])
    app.user_settings["base_url"] = f"http://127.0.0.1:{refused_port}/v1"
    ed = open_editor(app, cid)
    ed.geometry("1000x520")
    ed.update()
    card = card_at(ed, 1)
    text = focus_text(ed, 1)
    text.mark_set("insert", "1.0")
    key(text, "<Control-g>")  # regenerate this reply
    assert finished(ed).result == "error"
    # The reply that was there is still the shown one, in the store and on screen.
    m = message(store, cid, 1)
    assert (m.content, m.alternatives, m.alt_index) == (LONG, None, None)
    assert card.get_text() == LONG and not card.meta_row.winfo_manager()  # one version, no marker
    # The error beside it, with Retry, scrolled into view.
    assert "connection refused" in card.error_label.cget("text")
    assert "previous reply is still the shown one" in card.error_label.cget("text")
    strip = card.error_row.winfo_children()[0]
    assert "retry" in strip.tips
    assert in_view(ed, card, card.error_row), (ed.view_top(), card.y, card.error_row.winfo_y())
    assert "previous reply is still the shown one" in app.statuses[-1]
    # Retry once the server is back: a new version, the old reply kept as version 1.
    app.user_settings["base_url"] = openai_server.base_url
    openai_server.set(reply="A fresh answer.")
    click_action(strip, "retry")
    finished(ed)
    m = message(store, cid, 1)
    assert m.content == "A fresh answer." and [v["content"] for v in m.variants()] == [LONG, "A fresh answer."]


def test_a_broken_regeneration_is_kept_as_a_version_not_shown(app, store, openai_server) -> None:
    cid = seed_chat(store, [("user", "Question?"), ("assistant", "The good reply.")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    openai_server.set(reply="abcdefghijkl", chunks=6, cut_after=3)
    click_action(card.extras, "regenerate")
    assert finished(ed).result == "error"
    m = message(store, cid, 1)
    assert m.content == "The good reply." and card.get_text() == "The good reply."
    partial = [v for v in m.variants() if v["content"] != "The good reply."]
    assert len(partial) == 1 and partial[0]["content"] == "abcd" and partial[0]["finish"] == "interrupted"
    assert card.meta_row.label("versions") == "1/2"
    assert "partial reply is kept as version 2" in card.error_label.cget("text")
    # Shown only by the user's choice.
    click_action(card.error_row.winfo_children()[0], "show_partial")
    assert card.get_text() == "abcd" and message(store, cid, 1).content == "abcd"


def test_a_regeneration_that_answers_nothing_is_not_shown(app, store, openai_server) -> None:
    cid = seed_chat(store, [("user", "Question?"), ("assistant", "The good reply.")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    openai_server.set(reply="")
    click_action(card.extras, "regenerate")
    finished(ed)
    m = message(store, cid, 1)
    assert (m.content, m.alternatives) == ("The good reply.", None)
    assert card.get_text() == "The good reply."
    assert "empty reply" in app.statuses[-1] and "previous reply is still the shown one" in app.statuses[-1]


def test_stop_shows_the_partial_reply_but_closing_does_not(app, store, openai_server) -> None:
    cid = seed_chat(store, [("user", "Question?"), ("assistant", "The good reply.")])
    ed = open_editor(app, cid)
    card = card_at(ed, 1)
    openai_server.set(reply="word " * 200, chunks=200, chunk_delay=0.03)
    click_action(card.extras, "regenerate")
    wait_until(lambda: ed.assist.stream and ed.assist.stream.deltas, ed)
    ed.event_generate("<<StopGenerating>>")  # the user's choice: what came so far is shown
    m = message(store, cid, 1)
    assert m.content.startswith("word") and m.finish == "cancelled" and len(m.variants()) == 2
    # Closing the window while a regeneration streams: the previous reply stays shown.
    openai_server.set(reply="other " * 200, chunks=200, chunk_delay=0.03)
    click_action(card.extras, "regenerate")
    wait_until(lambda: ed.assist.stream and ed.assist.stream.deltas, ed)
    shown = m.content
    ed.close()
    m = message(store, cid, 1)
    assert m.content == shown and len(m.variants()) == 3
    assert m.variants()[-1]["content"].startswith("other") and m.variants()[-1]["finish"] == "cancelled"
