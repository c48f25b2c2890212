"""AI assist against a real local OpenAI-compatible server, through the real `openai` client:
streaming events, cancel (the server sees the connection closed), continue, tool calls, errors."""

from __future__ import annotations

import queue
import time

import pytest

from lima_tk.assist import (
    PLACEHOLDER_KEY,
    AssistConfig,
    AssistError,
    Job,
    Reply,
    ToolCallAssembler,
    chatml_prompt,
    check_connection,
    continue_request,
    drain,
    list_models,
    reply_request,
    stream_reply,
)
from lima_tk.model import Chat, Message, Tool
from tests.assist_fixtures import refused_port, running_server, wait_for
from tests.openai_server import OpenAIServer


@pytest.fixture
def openai_server():
    yield from running_server()


WEATHER = Tool("get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})


def config(server: OpenAIServer, **kw) -> AssistConfig:
    return AssistConfig(**{"base_url": server.base_url, "model": "test-model", "timeout": 5.0, **kw})


def chat(*texts: str) -> Chat:
    msgs = [Message("system", "Be brief.")]
    for i, t in enumerate(texts):
        msgs.append(Message("user" if i % 2 == 0 else "assistant", t))
    return Chat(name="c", messages=msgs)


def events_of(job: Job, timeout: float = 10.0) -> list[tuple[str, object]]:
    assert job.join(timeout), "the job did not end"
    return drain(job.events)


# -- streaming -------------------------------------------------------------------------------


def test_reply_streams_deltas_then_done(openai_server: OpenAIServer):
    openai_server.set(reply="Hello there, friend.", chunks=5)
    job = Job(config(openai_server, temperature=0.2, max_tokens=50), reply_request(chat("hi"))).start()
    raw = []
    assert job.join(10)
    while not job.events.empty():
        raw.append(job.events.get_nowait())
    kinds = [k for k, _ in raw]
    assert kinds == ["delta"] * 5 + ["done"]
    assert "".join(p for k, p in raw if k == "delta") == "Hello there, friend."
    reply = raw[-1][1]
    assert isinstance(reply, Reply)
    assert (reply.text, reply.finish, reply.model, reply.tool_calls) == ("Hello there, friend.", "stop", "test-model",
                                                                         None)
    assert job.state == "done" and job.reply is reply
    body = openai_server.posts()[0].body
    assert body["stream"] is True and body["model"] == "test-model"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50 and "tools" not in body and "stop" not in body


def test_no_key_sends_placeholder_and_env_key_is_used(openai_server: OpenAIServer):
    stream_reply(config(openai_server), reply_request(chat("hi")))
    assert openai_server.posts()[-1].auth == f"Bearer {PLACEHOLDER_KEY}"
    cfg = AssistConfig.from_settings({"base_url": openai_server.base_url, "model": "test-model", "use_env_key": True,
                                      "api_key": "sk-from-settings"}, env={"OPENAI_API_KEY": "sk-env-key-1"})
    assert cfg.api_key == "sk-env-key-1" and cfg.key_source == "$OPENAI_API_KEY"
    assert "sk-env" not in repr(cfg)
    stream_reply(cfg, reply_request(chat("hi")))
    assert openai_server.posts()[-1].auth == "Bearer sk-env-key-1"
    cfg = AssistConfig.from_settings({"use_env_key": False, "api_key": "sk-from-settings"},
                                     env={"OPENAI_API_KEY": "sk-env-key-1"})
    assert (cfg.api_key, cfg.key_source) == ("sk-from-settings", "settings")
    assert AssistConfig.from_settings({}, env={}).key() == PLACEHOLDER_KEY


def test_request_carries_tools_and_tool_turns(openai_server: OpenAIServer):
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":  "Oslo"}'}}
    c = Chat(messages=[Message("user", "weather?"), Message("assistant", None, tool_calls=[call]),
                       Message("tool", "3C", tool_call_id="c1"), Message("user", "and tomorrow?", name="ann")],
             tools=[WEATHER], extra={"parallel_tool_calls": False})
    stream_reply(config(openai_server), reply_request(c))
    body = openai_server.posts()[0].body
    assert body["messages"] == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "3C", "tool_call_id": "c1"},
        {"role": "user", "content": "and tomorrow?", "name": "ann"},
    ]
    assert body["tools"] == [WEATHER.to_openai()] and body["parallel_tool_calls"] is False


def test_tool_calls_are_assembled_from_fragments(openai_server: OpenAIServer):
    openai_server.set(reply="", tool_calls=[
        {"id": "call_a", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'},
        {"id": "call_b", "name": "get_time", "arguments": '{"tz":"Europe/Paris"}'},
    ])
    job = Job(config(openai_server), reply_request(chat("weather and time in Paris"))).start()
    events = events_of(job)
    frags = [p for k, p in events if k == "tool_call_delta"]
    assert frags[0] == {"index": 0, "id": "call_a", "name": "get_weather", "arguments": ""}
    assert len(frags) > 4
    kind, reply = events[-1]
    assert kind == "done" and reply.finish == "tool_calls" and reply.text == ""
    assert reply.tool_calls == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather",
                                                          "arguments": '{"city": "Paris", "unit": "C"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"Europe/Paris"}'}},
    ]


def test_mirrored_function_call_is_not_counted_twice(openai_server: OpenAIServer):
    """llama-cpp-python sends each fragment both as tool_calls and as legacy function_call."""
    openai_server.set(reply="", mirror_function_call=True,
                      tool_calls=[{"id": "call_x", "name": "get_weather", "arguments": '{"city": "Paris"}'}])
    reply = stream_reply(config(openai_server), reply_request(chat("weather?")))
    assert reply.tool_calls == [{"id": "call_x", "type": "function",
                                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]


def test_assembler_copes_with_loose_servers():
    a = ToolCallAssembler()
    a.add(None, "x1", "lookup", '{"q":')  # no index
    a.add(None, None, None, ' "a"}')  # continues the last call
    a.add(1, None, "second", None)  # no id: one is made up
    a.add(1, None, "second", "")  # a server repeating the name does not double it
    calls = a.result()
    assert calls is not None
    assert calls[0] == {"id": "x1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "a"}'}}
    assert calls[1]["id"].startswith("call_") and calls[1]["function"] == {"name": "second", "arguments": "{}"}
    assert ToolCallAssembler().result() is None


def test_drain_joins_consecutive_deltas():
    q: queue.Queue = queue.Queue()
    for item in [("delta", "a"), ("delta", "b"), ("tool_call_delta", {}), ("delta", "c"), ("done", None)]:
        q.put(item)
    assert drain(q) == [("delta", "ab"), ("tool_call_delta", {}), ("delta", "c"), ("done", None)]
    assert drain(q) == []


# -- stop ------------------------------------------------------------------------------------


def test_cancel_mid_stream_keeps_text_and_closes_connection(openai_server: OpenAIServer):
    openai_server.set(reply="x" * 400, chunks=200, chunk_delay=0.02)
    job = Job(config(openai_server), reply_request(chat("long please"))).start()
    got: list[str] = []
    wait_for(lambda: got.extend(p for k, p in drain(job.events) if k == "delta") or len(got) >= 3, what="deltas")
    t = time.monotonic()
    job.cancel()
    assert job.join(2) and time.monotonic() - t < 1.0
    rest = drain(job.events)
    kind, reply = rest[-1]
    assert kind == "done" and reply.cancelled and reply.finish == "cancelled"
    got += [p for k, p in rest if k == "delta"]
    assert reply.text == "".join(got) and 0 < len(reply.text) < 400
    rec = openai_server.posts()[0]
    wait_for(lambda: rec.client_closed, 5, "the server to see the connection closed")
    assert not rec.finished


def test_cancel_while_waiting_for_a_slow_server(openai_server: OpenAIServer):
    openai_server.set(delay=30)
    job = Job(config(openai_server, timeout=60), reply_request(chat("hi"))).start()
    wait_for(lambda: openai_server.posts(), what="the request to arrive")
    t = time.monotonic()
    job.cancel()
    assert job.join(2) and time.monotonic() - t < 1.0, "cancel must not wait for the server"
    kind, reply = drain(job.events)[-1]
    assert kind == "done" and reply.cancelled and reply.text == ""
    wait_for(lambda: openai_server.posts()[0].client_closed, 5, "the server to see the connection closed")


def test_cancel_before_start_sends_nothing(openai_server: OpenAIServer):
    job = Job(config(openai_server), reply_request(chat("hi")))
    job.cancel()
    job.start()
    assert events_of(job)[-1][1].cancelled
    assert openai_server.posts() == []


# -- continue --------------------------------------------------------------------------------


def test_continue_with_completions_and_chatml(openai_server: OpenAIServer):
    openai_server.set(reply=" there was a cat.")
    c = chat("tell a story", "Once upon a time")
    req = continue_request(c, 2, "completions")
    reply = stream_reply(config(openai_server), req)
    assert reply.text == " there was a cat." and reply.finish == "stop"
    rec = openai_server.posts()[0]
    assert rec.path == "/v1/completions"
    assert rec.body["prompt"] == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ntell a story<|im_end|>\n"
                                  "<|im_start|>assistant\nOnce upon a time")
    assert rec.body["stop"] == ["<|im_end|>"] and rec.body["stream"] is True
    assert req.prefix == "Once upon a time"


def test_continue_with_completions_takes_a_template_and_a_cursor(openai_server: OpenAIServer):
    seen = []

    def template(messages, partial):
        seen.append((messages, partial))
        return f"PROMPT[{len(messages)}]{partial}"

    c = chat("tell a story", "Once upon a time")
    req = continue_request(c, 2, "completions", template=template, upto_char=4)
    stream_reply(config(openai_server, stop=["\n\n"]), req)
    body = openai_server.posts()[0].body
    assert body["prompt"] == "PROMPT[2]Once" and body["stop"] == ["\n\n"]
    assert seen[0][0][1] == {"role": "user", "content": "tell a story"}


def test_continue_with_chat_sends_partial_reply_last(openai_server: OpenAIServer):
    openai_server.set(reply=" end.")
    c = chat("q", "The start")
    reply = stream_reply(config(openai_server), continue_request(c, 2, "chat"))
    assert reply.text == " end."
    rec = openai_server.posts()[0]
    assert rec.path == "/v1/chat/completions"
    assert rec.body["messages"][-1] == {"role": "assistant", "content": "The start"}
    with pytest.raises(Exception, match="assistant"):
        continue_request(c, 1, "chat")


def test_chatml_renders_tool_calls():
    msgs = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "content": "ok", "tool_call_id": "c"}]
    assert chatml_prompt(msgs, "") == ('<|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n'
                                       "</tool_call><|im_end|>\n<|im_start|>tool\nok<|im_end|>\n<|im_start|>assistant\n")


def test_continue_with_completions_sends_the_chats_tools(openai_server: OpenAIServer):
    """Issue 15: the ChatML prompt for continue carried no tool definitions. It now lays them out
    as the token counts do (tokens.render_chatml): a # Tools block in the system turn."""
    from lima_tk.model import Tool
    from lima_tk.tokens import render_chatml

    c = chat("weather in Oslo?", "Let me check")
    c.tools = [Tool("get_weather", "Weather of a city", {"type": "object", "properties": {"city": {"type": "string"}}})]
    req = continue_request(c, 2, "completions")
    stream_reply(config(openai_server), req)
    prompt = openai_server.posts()[0].body["prompt"]
    assert prompt.startswith("<|im_start|>system\nBe brief.\n\n# Tools\n\n<tools>\n")
    assert '"name": "get_weather"' in prompt and '"description": "Weather of a city"' in prompt
    assert prompt.endswith("<|im_start|>assistant\nLet me check")
    # exactly the layout the counts use, up to the partial reply
    counted = render_chatml(c)
    assert counted.startswith(prompt) and counted[len(prompt):] == "<|im_end|>\n"
    # a caller's own two-argument template is still called as before
    req = continue_request(c, 2, "completions", template=lambda messages, partial: f"MINE {partial}")
    assert req.prompt == "MINE Let me check"


# -- errors in plain words ---------------------------------------------------------------------


ERRORS = {
    # name: (server behaviour, config overrides, kind, words in the message)
    "bad key": ({"status": 401, "error_message": "Incorrect API key provided: sk-abcd************wxyz"},
                {"api_key": "sk-secret-key-0123456789", "key_source": "settings"}, "auth",
                ["refused the API key", "HTTP 401", "settings"]),
    "no key": ({"status": 401, "error_message": "Missing bearer authentication"}, {}, "auth",
               ["needs an API key", "OPENAI_API_KEY"]),
    "unknown model": ({}, {"model": "gpt-99"}, "model", ["does not know the model 'gpt-99'", "HTTP 404"]),
    "context too long": ({"status": 400, "error_code": "context_length_exceeded",
                          "error_message": "This model's maximum context length is 8 tokens."}, {}, "context",
                         ["too long for the model's context window", "maximum context length is 8"]),
    "llama.cpp context": ({"status": 400, "error_type": "exceed_context_size_error",
                           "error_message": "the request exceeds the available context size, try increasing it"},
                          {}, "context", ["context window"]),
    "server error": ({"status": 500, "error_message": "CUDA out of memory"}, {}, "server",
                     ["server failed", "HTTP 500", "CUDA out of memory"]),
    "bad request": ({"status": 400, "error_message": "temperature must be <= 2"}, {}, "request",
                    ["rejected the request", "temperature must be <= 2"]),
    "rate limit": ({"status": 429, "error_message": "slow down"}, {}, "rate", ["rate limit", "slow down"]),
    "wrong base URL": ({"html_404": True}, {"base_url": "{root}"}, "url",
                       ["not an OpenAI-compatible endpoint", "/v1"]),
    "connection refused": ({}, {"base_url": "http://127.0.0.1:{refused}/v1"}, "connection",
                           ["connection refused", "is the server running"]),
    "timeout": ({"delay": 3}, {"timeout": 0.3}, "timeout", ["no answer", "0.3 s"]),
    "stream cut mid-way": ({"cut_after": 3, "chunks": 6}, {}, "broken",
                           ["broke off mid-way", "incomplete chunked read"]),
    "no finish_reason": ({"no_finish": True}, {}, "interrupted", ["without a finish reason", "another request"]),
    "llama-cpp-python context (empty stream)": (
        {"status": 400, "empty_stream_on_error": True, "error_code": "context_length_exceeded",
         "error_message": "This model's maximum context length is 2048 tokens. However, you requested 3051 tokens"},
        {}, "context", ["too long for the model's context window", "maximum context length is 2048"]),
    "not an OpenAI stream": ({"garbage_after": 2}, {}, "protocol", ["not an OpenAI stream"]),
    "error event mid-stream": ({"error_event_after": 2, "error_message": "overloaded"}, {}, "server",
                               ["reported an error mid-stream: overloaded"]),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_in_plain_words(name: str, openai_server: OpenAIServer):
    behaviour, overrides, kind, words = ERRORS[name]
    openai_server.set(**behaviour)
    cfg = config(openai_server)
    for k, v in overrides.items():
        if isinstance(v, str):
            v = v.format(root=openai_server.base_url[:-3], refused=refused_port())
        setattr(cfg, k, v)
    job = Job(cfg, reply_request(chat("hello")))
    with pytest.raises(AssistError) as info:
        job.run()
    err = info.value
    assert err.kind == kind, err.message
    for w in words:
        assert w in err.message
    assert "Traceback" not in err.message and "\n" not in err.message
    assert "secret-key" not in err.message and "abcd****" not in err.message
    kind_, payload = drain(job.events)[-1]
    assert kind_ == "error" and payload is err and job.state == "done"
    if kind in ("broken", "interrupted"):
        assert err.partial is not None and err.partial.text.startswith("Echo") and err.finish == "interrupted"


def test_interrupted_stream_is_never_done(openai_server: OpenAIServer):
    """llama.cpp's server ends a running stream with [DONE] and no finish_reason when a second
    request arrives: the job must not report that as a complete reply."""
    openai_server.set(no_finish=True, reply="half a rep")
    job = Job(config(openai_server), reply_request(chat("hi"))).start()
    events = events_of(job)
    assert [k for k, _ in events] == ["delta", "error"]
    assert events[-1][1].kind == "interrupted" and events[-1][1].partial.text == "half a rep"


def test_empty_stream_says_it_is_not_an_api(openai_server: OpenAIServer):
    openai_server.set(html_200=True)
    with pytest.raises(AssistError, match="without sending anything.*OpenAI-compatible"):
        stream_reply(config(openai_server), reply_request(chat("hi")))


# -- models ----------------------------------------------------------------------------------


def test_list_models_and_test_connection(openai_server: OpenAIServer):
    openai_server.api_key = "sk-right-key-123"
    cfg = config(openai_server, api_key="sk-right-key-123")
    assert list_models(cfg) == ["other-model", "test-model"]
    report = check_connection(cfg)
    assert report.model_listed and "2 models" in report.message
    cfg.model = "custom"
    assert "'custom' is not among them" in check_connection(cfg).message
    cfg.api_key = "sk-wrong-key-456789"
    with pytest.raises(AssistError, match="refused the API key") as info:
        check_connection(cfg)
    assert "wrong-key" not in str(info.value)
    with pytest.raises(AssistError, match="connection refused"):
        list_models(AssistConfig(base_url=f"http://127.0.0.1:{refused_port()}/v1"))


def test_openai_gets_max_completion_tokens():
    assert AssistConfig(max_tokens=10).sampling(True) == {"temperature": 0.7, "max_completion_tokens": 10}
    assert AssistConfig(max_tokens=10).sampling(False)["max_tokens"] == 10
    local = AssistConfig(base_url="http://localhost:8080/v1", temperature=None, top_p=0.9, max_tokens=None)
    assert local.sampling(True) == {"top_p": 0.9}
