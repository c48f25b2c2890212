"""The assist client against the stream shapes real OpenAI-compatible servers send (each one a
valid stream, served over real HTTP by tests/openai_server.py): the last text in the finish chunk
(vLLM), tool-call names and arguments split over many chunks, parallel calls interleaved, an
empty `choices` list, a usage-only final chunk, and a stray second choice."""

from __future__ import annotations

import json

import pytest

from lima_tk.assist import AssistConfig, AssistError, Job, Reply, continue_request, reply_request, stream_reply
from lima_tk.model import Chat, Message
from tests.assist_fixtures import running_server
from tests.openai_server import OpenAIServer, _split


@pytest.fixture
def openai_server():
    yield from running_server()


def config(server: OpenAIServer) -> AssistConfig:
    return AssistConfig(base_url=server.base_url, model="test-model", timeout=5.0)


def ask(server: OpenAIServer, text: str = "hi") -> tuple[list[tuple[str, object]], Reply]:
    """Run one reply job; every event it emitted, and the reply."""
    job = Job(config(server), reply_request(Chat(messages=[Message("user", text)])))
    reply = job.run()
    events = []
    while not job.events.empty():
        events.append(job.events.get_nowait())
    assert events[-1] == ("done", reply)
    return events, reply


def deltas(events: list[tuple[str, object]]) -> list[str]:
    return [p for k, p in events if k == "delta"]


CALLS = [
    {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris",  "unit": "C", "note": "ünïcode ☂"}'},
    {"id": "call_2", "name": "get_time_zone", "arguments": '{"tz":"Europe/Paris"}'},
]


def expected_calls(calls: list[dict[str, str]]) -> list[dict]:
    return [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls]


# -- where the finish_reason comes ----------------------------------------------------------------


@pytest.mark.parametrize("finish", ["stop", "length"])
def test_last_text_in_the_finish_chunk_is_kept(openai_server: OpenAIServer, finish: str):
    """vLLM sends the last piece of text in the same chunk as finish_reason."""
    openai_server.set(reply="One two three four.", chunks=4, finish=finish, finish_with_text=True)
    events, reply = ask(openai_server)
    assert (reply.text, reply.finish) == ("One two three four.", finish)
    assert deltas(events) == _split("One two three four.", 4)
    assert [k for k, _ in events] == ["delta"] * 4 + ["done"]


def test_single_chunk_reply_with_finish(openai_server: OpenAIServer):
    openai_server.set(reply="Yes.", chunks=1, finish_with_text=True)
    events, reply = ask(openai_server)
    assert (reply.text, reply.finish, deltas(events)) == ("Yes.", "stop", ["Yes."])


def test_completion_continue_with_text_in_the_finish_chunk(openai_server: OpenAIServer):
    openai_server.set(reply=" and then the end.", chunks=3, finish_with_text=True, finish="length")
    chat = Chat(messages=[Message("user", "story"), Message("assistant", "Once")])
    reply = stream_reply(config(openai_server), continue_request(chat, 1, "completions"))
    assert (reply.text, reply.finish) == (" and then the end.", "length")
    assert openai_server.posts()[0].path == "/v1/completions"


def test_last_tool_fragment_in_the_finish_chunk(openai_server: OpenAIServer):
    openai_server.set(reply="", tool_calls=CALLS[:1], finish_with_text=True, tool_pieces=5)
    events, reply = ask(openai_server)
    assert reply.finish == "tool_calls" and reply.tool_calls == expected_calls(CALLS[:1])


# -- tool calls in pieces -------------------------------------------------------------------------


@pytest.mark.parametrize("together", [False, True], ids=["one-after-the-other", "interleaved"])
def test_tool_calls_split_over_many_chunks(openai_server: OpenAIServer, together: bool):
    """Names and arguments in many small pieces; with `together`, parallel calls arrive
    interleaved (piece i of every call in one chunk). Arguments are kept byte for byte."""
    openai_server.set(reply="", tool_calls=CALLS, tool_pieces=9, tool_name_pieces=3, tool_calls_together=together)
    events, reply = ask(openai_server)
    assert reply.finish == "tool_calls" and reply.text == ""
    assert reply.tool_calls == expected_calls(CALLS)
    frags = [p for k, p in events if k == "tool_call_delta"]
    assert len(frags) == sum(len(_split(c["name"], 3)) + len(_split(c["arguments"], 9)) for c in CALLS) > 20
    # each fragment is reported as sent: the id once, the name and arguments in pieces
    for i, call in enumerate(CALLS):
        mine = [f for f in frags if f["index"] == i]
        assert [f["id"] for f in mine if f["id"]] == [call["id"]]
        assert "".join(f["name"] or "" for f in mine) == call["name"]
        assert "".join(f["arguments"] or "" for f in mine) == call["arguments"]
    json.loads(reply.tool_calls[0]["function"]["arguments"])


def test_text_then_tool_call_in_one_reply(openai_server: OpenAIServer):
    openai_server.set(reply="Let me check.", chunks=3, tool_calls=CALLS[1:], tool_pieces=4)
    events, reply = ask(openai_server)
    assert reply.text == "Let me check." and reply.tool_calls == expected_calls(CALLS[1:])
    kinds = [k for k, _ in events]
    assert kinds.index("tool_call_delta") > max(i for i, k in enumerate(kinds) if k == "delta")


def test_tool_call_without_arguments_gets_an_empty_object(openai_server: OpenAIServer):
    openai_server.set(reply="", tool_calls=[{"id": "call_n", "name": "now", "arguments": ""}])
    _, reply = ask(openai_server)
    assert reply.tool_calls == [{"id": "call_n", "type": "function", "function": {"name": "now", "arguments": "{}"}}]


# -- chunks without choices -----------------------------------------------------------------------


def test_empty_choices_chunk_first(openai_server: OpenAIServer):
    """Azure opens the stream with a chunk whose `choices` list is empty."""
    openai_server.set(reply="Fine.", chunks=2, empty_choices_first=True)
    events, reply = ask(openai_server)
    assert (reply.text, reply.finish) == ("Fine.", "stop") and deltas(events) == ["Fin", "e."]


def test_usage_only_final_chunk(openai_server: OpenAIServer):
    """With stream_options.include_usage the last chunk has usage and no choices."""
    openai_server.set(reply="Counted.", chunks=2, usage_chunk=True)
    events, reply = ask(openai_server)
    assert (reply.text, reply.finish) == ("Counted.", "stop")
    assert [k for k, _ in events] == ["delta", "delta", "done"]


def test_usage_chunk_does_not_hide_a_missing_finish(openai_server: OpenAIServer):
    openai_server.set(reply="half", no_finish=True, usage_chunk=True)
    job = Job(config(openai_server), reply_request(Chat(messages=[Message("user", "hi")])))
    with pytest.raises(AssistError) as info:
        job.run()
    assert info.value.kind == "interrupted" and info.value.partial.text == "half"


def test_every_shape_at_once(openai_server: OpenAIServer):
    openai_server.set(reply="All at once.", chunks=5, empty_choices_first=True, usage_chunk=True,
                      finish_with_text=True, stray_choice=True, tool_calls=CALLS, tool_pieces=6,
                      tool_name_pieces=2, tool_calls_together=True)
    events, reply = ask(openai_server)
    assert reply.text == "All at once." and reply.finish == "tool_calls"
    assert reply.tool_calls == expected_calls(CALLS)


# -- choices other than the first ---------------------------------------------------------------


def test_stray_second_choice_is_ignored(openai_server: OpenAIServer):
    openai_server.set(reply="Only mine.", chunks=3, stray_choice=True)
    events, reply = ask(openai_server)
    assert reply.text == "Only mine." and "STRAY" not in "".join(deltas(events))


def test_stray_second_choice_is_ignored_in_completions(openai_server: OpenAIServer):
    openai_server.set(reply=" more", chunks=2, stray_choice=True)
    chat = Chat(messages=[Message("user", "q"), Message("assistant", "a")])
    reply = stream_reply(config(openai_server), continue_request(chat, 1, "completions"))
    assert reply.text == " more"


def test_refused_port_refuses_and_stays_taken():
    """The helper the connection-refused tests rely on: a connect fails with ECONNREFUSED (not
    a timeout), every time, and the port cannot be bound by anyone else meanwhile."""
    import errno
    import socket

    from tests.assist_fixtures import refused_port

    port = refused_port()
    for _ in range(3):
        with socket.socket() as c:
            c.settimeout(5)
            assert c.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    with socket.socket() as other, pytest.raises(OSError) as info:
        other.bind(("127.0.0.1", port))
    assert info.value.errno == errno.EADDRINUSE
