"""A Job under a shared AdaptiveLimit (what the GUI's chat windows use, issue 15): it waits for a
slot, and a stream the server cut while another ran is sent again with a `restart` event, so the
consumer drops the cut text. Against the real loopback server in its one-at-a-time mode."""

from __future__ import annotations

import queue

import pytest

from lima_tk.assist import Job, reply_request
from lima_tk.concurrency import AdaptiveLimit
from tests.assist_fixtures import running_server, wait_for
from tests.openai_server import OpenAIServer
from tests.test_assist_contract import chat, config


@pytest.fixture
def openai_server():
    yield from running_server()


def events_of(job: Job) -> list[tuple[str, object]]:
    out = []
    while True:
        try:
            out.append(job.events.get_nowait())
        except queue.Empty:
            return out


def test_a_cut_stream_is_sent_again_and_the_limit_drops(openai_server: OpenAIServer) -> None:
    openai_server.set(reply="abcdefghij", chunks=10, chunk_delay=0.05)
    openai_server.serve_one_at_a_time()
    limit = AdaptiveLimit(2)
    first = Job(config(openai_server), reply_request(chat("one")), limit=limit).start()
    wait_for(lambda: not first.events.empty())  # the first is streaming
    second = Job(config(openai_server), reply_request(chat("two")), limit=limit).start()
    assert first.join(20) and second.join(20)
    assert (first.reply.text, first.reply.finish) == ("abcdefghij", "stop")
    assert (second.reply.text, second.reply.finish) == ("abcdefghij", "stop")
    events = events_of(first)
    kinds = [k for k, _ in events]
    assert "restart" in kinds and kinds[-1] == "done" and kinds.count("done") == 1
    # What streamed after the last restart is the whole reply: the consumer drops what came before.
    last = len(kinds) - 1 - kinds[::-1].index("restart")
    assert "".join(str(p) for k, p in events[last + 1:] if k == "delta") == "abcdefghij"
    assert "".join(str(p) for k, p in events[:last] if k == "delta") != ""  # the cut attempt streamed
    assert first.restarts >= 1 and limit.stats().lowest == 1 and limit.in_flight == 0


def test_attempts_are_bounded_and_the_error_is_the_servers(openai_server: OpenAIServer) -> None:
    openai_server.busy_above(0)  # every request: 429
    limit = AdaptiveLimit(1, base_backoff=0.01)
    job = Job(config(openai_server), reply_request(chat("x")), limit=limit, attempts=3).start()
    assert job.join(20)
    assert job.error is not None and job.error.kind == "rate" and job.restarts == 2
    assert len(openai_server.posts()) == 3 and limit.in_flight == 0


def test_without_a_limit_nothing_is_sent_again(openai_server: OpenAIServer) -> None:
    openai_server.busy_above(0)
    job = Job(config(openai_server), reply_request(chat("x"))).start()
    assert job.join(20) and job.error is not None and job.restarts == 0
    assert len(openai_server.posts()) == 1


def test_a_cancel_while_waiting_for_a_slot_sends_nothing(openai_server: OpenAIServer) -> None:
    limit = AdaptiveLimit(1)
    held = limit.try_acquire()
    job = Job(config(openai_server), reply_request(chat("x")), limit=limit).start()
    wait_for(lambda: not job.events.empty())
    assert job.events.get_nowait() == ("waiting", 1)
    job.cancel()
    assert job.join(5) and job.reply is not None and job.reply.cancelled
    assert openai_server.posts() == [] and limit.in_flight == 1
    limit.release(held, "ok")
