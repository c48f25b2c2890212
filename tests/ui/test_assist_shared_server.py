"""Several chat windows generating at once against a server that serves one request at a time
(llama-cpp-python: a new request cuts the running stream). The windows share one adaptive limit
per server (lima_tk/concurrency.py): the cut reply is sent again once the other has finished, and
both end complete, each one undo step, with nothing of the cut attempt left in the text."""

from __future__ import annotations

import pytest

from tests.assist_fixtures import running_server
from tests.ui.conftest import wait_until
from tests.ui.test_assist_gui import CHAT, assist_threads, finished, message
from tests.ui.test_chat_editor_helpers import open_editor, seed_chat, stand_in_app


@pytest.fixture
def openai_server():
    yield from running_server()


@pytest.fixture
def app(store, openai_server):
    yield from stand_in_app(store, base_url=openai_server.base_url, model="test-model", timeout=5, use_env_key=False)


def test_two_windows_on_a_one_at_a_time_server_both_finish(app, store, openai_server) -> None:
    words = "The first reply arrives in many small pieces, slowly enough to be cut."
    openai_server.set(reply=words, chunks=12, chunk_delay=0.05)
    openai_server.serve_one_at_a_time()
    a_cid, b_cid = seed_chat(store, CHAT), seed_chat(store, CHAT)
    a, b = open_editor(app, a_cid), open_editor(app, b_cid)
    a.event_generate("<<GenerateReply>>")
    a_card = a.cards[a.assist.stream.mid]
    wait_until(lambda: a_card.get_text(), a)  # A is streaming...
    b.event_generate("<<GenerateReply>>")  # ...when B's request arrives and the server cuts A
    b_card = b.cards[b.assist.stream.mid]
    seen_cut = wait_until(lambda: "cut the reply short" in " ".join(app.statuses[-3:]) or None, a, 10)
    assert seen_cut
    ra, rb = finished(a, 20), finished(b, 20)
    assert (ra.result, rb.result) == ("stop", "stop")
    assert a_card.get_text() == words and b_card.get_text() == words  # no piece of the cut attempt
    ma, mb = message(store, a_cid, 2), message(store, b_cid, 2)
    assert (ma.content, ma.finish, mb.content, mb.finish) == (words, "stop", words, "stop")
    assert a.assist.last.job.restarts >= 1
    posts = openai_server.posts()
    assert len(posts) >= 3 and openai_server.max_in_flight >= 2  # the cut happened, then one at a time
    # Undo walks back whole replies: never to a piece of a cut attempt.
    for _ in range(6):
        if store.undo_label() != "Generate reply":
            break
        a.event_generate("<<JournalUndo>>")
        a.update()
        for cid in (a_cid, b_cid):
            msgs = store.get_chat(cid).messages
            assert len(msgs) == 2 or msgs[2].content in ("", words), msgs[2].content
    assert [len(store.get_chat(c).messages) for c in (a_cid, b_cid)] == [2, 2]
    wait_until(lambda: not assist_threads(), a)


def test_a_busy_server_is_waited_for_not_failed(app, store, openai_server) -> None:
    openai_server.set(reply="fine", chunks=2, chunk_delay=0.2)
    openai_server.busy_above(1)  # 429 to a second request at once
    a_cid, b_cid = seed_chat(store, CHAT), seed_chat(store, CHAT)
    a, b = open_editor(app, a_cid), open_editor(app, b_cid)
    a.event_generate("<<GenerateReply>>")
    b.event_generate("<<GenerateReply>>")
    ra, rb = finished(a, 20), finished(b, 20)
    assert (ra.result, rb.result) == ("stop", "stop")
    assert message(store, a_cid, 2).content == "fine" == message(store, b_cid, 2).content
    assert not a.assist.errors and not b.assist.errors
