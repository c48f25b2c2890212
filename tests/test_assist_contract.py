"""The assist client's contract in detail, against the real loopback server (tests/openai_server.py):
every failure's exact sentence, kind, HTTP status and kept partial reply; the server's error
bodies of every shape; connection failures of every kind (refused, unknown host, TLS, hung up,
stalled); secrets scrubbed; what a request carries, for a local server and for OpenAI itself
(reached through a local proxy: `api.openai.com` as the client sees it, this server in fact);
settings as they map to a request; a job's life (states, thread, cancel) and legacy function calls."""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from lima_tk.assist import (
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
    openai_messages,
    reply_request,
    safe_url,
    stream_reply,
)
from lima_tk.assist import _probe as probe
from lima_tk.assist_errors import _cause_text, _scrub, explain, interrupted
from lima_tk.errors import LimaError
from lima_tk.model import Chat, Message, Tool
from tests.assist_fixtures import refused_port, running_server, wait_for
from tests.openai_server import OpenAIServer


@pytest.fixture
def openai_server():
    yield from running_server()


def config(server: OpenAIServer, **kw) -> AssistConfig:
    return AssistConfig(**{"base_url": server.base_url, "model": "test-model", "timeout": 5.0, **kw})


def chat(*texts: str) -> Chat:
    return Chat(messages=[Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)])


def failure(cfg: AssistConfig, request=None) -> AssistError:
    job = Job(cfg, request or reply_request(chat("hello")))
    with pytest.raises(AssistError) as info:
        job.run()
    assert job.error is info.value and job.state == "done" and job.reply is None
    assert drain(job.events)[-1] == ("error", info.value)
    # whatever failed, what had arrived is handed back (the user's data now), even if nothing
    assert isinstance(info.value.partial, Reply)
    return info.value


# -- HTTP errors: the exact sentence, the kind, the status ----------------------------------------

HTTP = {
    # name: (behaviour, config overrides, kind, status, exact message; {url} = the server's base URL)
    "bad key from settings": (
        {"status": 401, "error_message": "Incorrect API key provided: sk-abcd1234efgh5678"},
        {"api_key": "sk-secret-key-0123456789", "key_source": "settings"}, "auth", 401,
        "the server refused the API key (from settings) (HTTP 401: Incorrect API key provided: sk-abcd***); "
        "check it in Settings or $OPENAI_API_KEY"),
    "bad key of unknown origin": (
        {"status": 401, "error_message": "no"}, {"api_key": "sk-secret-key-0123456789"}, "auth", 401,
        "the server refused the API key (HTTP 401: no); check it in Settings or $OPENAI_API_KEY"),
    "no key": (
        {"status": 401, "error_message": "Missing bearer"}, {}, "auth", 401,
        "the server needs an API key (HTTP 401: Missing bearer); set one in Settings or in $OPENAI_API_KEY"),
    "forbidden": (
        {"status": 403, "error_message": "region"}, {}, "forbidden", 403,
        "the server denied access (HTTP 403: region)"),
    "model by code": (
        {"status": 400, "error_code": "model_not_found", "error_message": "gone"}, {}, "model", 400,
        "the server does not know the model 'test-model' (HTTP 400: gone); pick one the server lists"),
    "model by 404 text": (
        {"status": 404, "error_message": "Model xyz not loaded"}, {}, "model", 404,
        "the server does not know the model 'test-model' (HTTP 404: Model xyz not loaded); pick one the server "
        "lists"),
    "404 without model": (
        {"status": 404, "error_message": "no route"}, {}, "url", 404,
        "{url}/chat/completions is not an OpenAI-compatible endpoint (HTTP 404: no route); check the base URL "
        "(it usually ends in /v1)"),
    "405": (
        {"status": 405, "error_message": "POST not allowed"}, {}, "url", 405,
        "{url}/chat/completions is not an OpenAI-compatible endpoint (HTTP 405: POST not allowed); check the "
        "base URL (it usually ends in /v1)"),
    "context by code": (
        {"status": 400, "error_code": "context_length_exceeded", "error_message": "too big"}, {}, "context", 400,
        "the chat is too long for the model's context window (HTTP 400: too big); shorten the chat or lower max "
        "tokens"),
    "context by text": (
        {"status": 413, "error_message": "prompt is too long: 9000 tokens"}, {}, "context", 413,
        "the chat is too long for the model's context window (HTTP 413: prompt is too long: 9000 tokens); "
        "shorten the chat or lower max tokens"),
    "rate": (
        {"status": 429, "error_message": "slow down"}, {}, "rate", 429,
        "rate limit or quota reached (HTTP 429: slow down); wait a little and retry"),
    "server 500": (
        {"status": 500, "error_message": "CUDA"}, {}, "server", 500, "the server failed (HTTP 500: CUDA)"),
    "server 599": ({"status": 599, "error_message": "odd"}, {}, "server", 599, "the server failed (HTTP 599: odd)"),
    "request 400": (
        {"status": 400, "error_message": "bad"}, {}, "request", 400, "the server rejected the request (HTTP 400: bad)"),
    "request 499": (
        {"status": 499, "error_message": "gone"}, {}, "request", 499,
        "the server rejected the request (HTTP 499: gone)"),
    "not a success, not an error": (
        {"status": 399, "error_message": "what"}, {}, "http", 399,
        "unexpected answer from the server (HTTP 399: what)"),
}


@pytest.mark.parametrize("name", list(HTTP))
def test_http_errors_exactly(name: str, openai_server: OpenAIServer):
    behaviour, overrides, kind, status, message = HTTP[name]
    openai_server.set(**behaviour)
    err = failure(config(openai_server, **overrides))
    assert (err.kind, err.status, err.message) == (kind, status, message.format(url=openai_server.base_url))
    assert str(err) == err.message and err.finish == "interrupted"
    assert err.partial is not None and err.partial.text == "" and err.partial.chunks == 0


def test_the_endpoint_named_is_the_one_asked(openai_server: OpenAIServer):
    openai_server.set(status=404, error_message="nope")
    err = failure(config(openai_server), continue_request(chat("q", "a"), 1, "completions"))
    assert err.message.startswith(f"{openai_server.base_url}/completions is not") and err.kind == "url"
    openai_server.server.models_status = 404  # its text, "models are unavailable", names no model of ours
    with pytest.raises(AssistError) as info:
        list_models(config(openai_server))
    assert info.value.message == (f"{openai_server.base_url}/models is not an OpenAI-compatible endpoint (HTTP 404: "
                                  "models are unavailable); check the base URL (it usually ends in /v1)")
    assert (info.value.kind, info.value.partial) == ("url", None)


ERROR_BODIES = {
    # body the server sends, content type -> what the message quotes
    '{"error": {"message": "from message"}}': "from message",
    '{"error": {"detail": "from detail"}}': "from detail",
    '{"error": "a plain string"}': "a plain string",
    '{"detail": "FastAPI style"}': "FastAPI style",
    '{"message": "top-level message"}': "top-level message",
    '{"error": {"message": "  spaced\\n\\tout   words  "}}': "spaced out words",
    '{"error": {"error": {"message": "nested twice"}}}': "nested twice",
    '{"error": {"code": 7}}': None,
    '{"error": {"message": "Bearer abc.def-123 and sk-proj-ABCDEFGHIJKLMNOP in it"}}':
        "Bearer *** and sk-proj*** in it",
}


@pytest.mark.parametrize("body", list(ERROR_BODIES))
def test_server_error_bodies_of_every_shape(body: str, openai_server: OpenAIServer):
    openai_server.set(status=400, error_body=body)
    err = failure(config(openai_server))
    quoted = ERROR_BODIES[body]
    assert err.message == ("the server rejected the request (HTTP 400" + (f": {quoted}" if quoted else "") + ")")


def test_text_and_html_error_bodies(openai_server: OpenAIServer):
    openai_server.set(status=502, error_body="upstream timed out", error_content_type="text/plain")
    assert failure(config(openai_server)).message == "the server failed (HTTP 502: upstream timed out)"
    openai_server.set(status=502, error_body="<html><body>Bad Gateway</body></html>", error_content_type="text/html")
    assert failure(config(openai_server)).message == "the server failed (HTTP 502)"
    openai_server.set(status=500, error_body="x" * 1000, error_content_type="text/plain")
    assert failure(config(openai_server)).message == f"the server failed (HTTP 500: {'x' * 300})"


def test_the_configured_key_is_scrubbed_from_any_server_text(openai_server: OpenAIServer):
    key = "my-own-key-format-42"
    openai_server.set(status=400, error_message=f"key {key} is not valid for this model")
    err = failure(config(openai_server, api_key=key))
    assert err.message == "the server rejected the request (HTTP 400: key *** is not valid for this model)"
    # a key too short to replace safely is left (it would blank out ordinary words)
    openai_server.set(status=400, error_message="abc is fine, abcd is not")
    assert failure(config(openai_server, api_key="abc")).message.endswith("(HTTP 400: abc is fine, abcd is not)")
    assert failure(config(openai_server, api_key="abcd")).message.endswith("(HTTP 400: abc is fine, *** is not)")


def test_scrub_patterns():
    cfg = AssistConfig(api_key="")
    assert _scrub("sk-abcdefghijkl and sk-abcdefgh and sk-12 and sk-ab_cd-efghijkl", cfg) == \
        "sk-abcd*** and sk-*** and sk-12 and sk-ab_c***"
    assert _scrub("authorization: bearer   tok.en", cfg) == "authorization: bearer   ***"
    assert _scrub("task-abcdefghij", cfg) == "task-abcdefghij"  # not a key: no word boundary before sk-


# -- connection failures ---------------------------------------------------------------------------


def test_connection_refused(openai_server: OpenAIServer):
    port = refused_port()
    err = failure(AssistConfig(base_url=f"http://user:pw@127.0.0.1:{port}/v1?x=1", timeout=5))
    assert err.message == f"cannot connect to 127.0.0.1:{port}: connection refused (is the server running?)"
    assert (err.kind, err.status) == ("connection", None)


def test_unknown_host():
    err = failure(AssistConfig(base_url="http://no-such-host.invalid:8080/v1", timeout=5))
    assert (err.kind, err.message) == ("connection", "cannot find the host no-such-host.invalid:8080: check the "
                                                     "base URL")


def test_https_to_a_plain_http_server(openai_server: OpenAIServer):
    url = openai_server.base_url.replace("http://", "https://")
    err = failure(AssistConfig(base_url=url, timeout=5))
    assert err.kind == "connection"
    assert err.message.startswith(f"secure connection to {url} failed (")
    assert err.message.endswith("); if the server speaks plain HTTP, use an http:// base URL")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl tool to make a certificate")
def test_a_certificate_nobody_vouches_for_is_refused(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    with OpenAIServer(tls=(str(cert), str(key))) as server:
        err = failure(config(server))
        assert err.kind == "connection" and "certificate" in err.message.lower()
        assert err.message.startswith(f"secure connection to {server.base_url} failed")
        with pytest.raises(AssistError, match="secure connection"):
            list_models(config(server))
        assert server.posts() == []


def test_server_that_hangs_up_without_answering(openai_server: OpenAIServer):
    openai_server.set(hang_up=True)
    err = failure(config(openai_server))
    assert (err.kind, err.message) == ("connection", f"127.0.0.1:{openai_server.port} closed the connection "
                                                     "without answering")


def test_no_answer_in_time(openai_server: OpenAIServer):
    openai_server.set(delay=3)
    err = failure(config(openai_server, timeout=0.25))
    assert (err.kind, err.status, err.message) == (
        "timeout", None, f"no answer from {openai_server.base_url} within 0.25 s (timeout)")


def test_a_stream_that_stalls_keeps_what_came(openai_server: OpenAIServer):
    openai_server.set(reply="abcdef", chunks=3, chunk_delay=2)
    err = failure(config(openai_server, timeout=0.3))
    assert (err.kind, err.message) == ("timeout", f"the stream stalled: nothing from {openai_server.base_url} for "
                                                  "0.3 s")
    assert err.partial.chunks >= 1 and "abcdef".startswith(err.partial.text)


def test_stream_cut_keeps_the_partial_reply(openai_server: OpenAIServer):
    openai_server.set(reply="abcdefgh", chunks=4, cut_after=3)
    err = failure(config(openai_server))
    assert err.kind == "broken" and err.message.startswith("the stream broke off mid-way (")
    assert (err.partial.text, err.partial.chunks, err.partial.finish) == ("abcd", 3, None)


def test_error_event_before_any_text(openai_server: OpenAIServer):
    openai_server.set(error_event_after=0, error_message="model is loading")
    err = failure(config(openai_server))
    assert (err.kind, err.message) == ("server", "the server reported an error: model is loading")


def test_error_event_mid_stream(openai_server: OpenAIServer):
    openai_server.set(reply="abcdef", chunks=3, error_event_after=2, error_message="oom")
    err = failure(config(openai_server))
    assert (err.kind, err.message, err.partial.text) == ("server", "the server reported an error mid-stream: oom",
                                                         "ab")


def test_interrupted_messages_exactly(openai_server: OpenAIServer):
    openai_server.set(no_finish=True, reply="half")
    err = failure(config(openai_server))
    assert err.message == ("the reply was cut off: the stream ended without a finish reason (llama.cpp's server "
                           "does this when another request arrives)")
    assert (err.kind, err.status, err.partial.text, err.partial.finish) == ("interrupted", None, "half", None)
    empty = interrupted(AssistConfig(base_url="http://u:p@h:1/v1/?k=s"), Reply())
    assert empty.message == ("http://h:1/v1 ended the stream without sending anything; is it an OpenAI-compatible "
                             "API? (the server's log may tell more)")


def test_cause_text_takes_the_innermost_useful_reason():
    try:
        try:
            raise OSError("  [Errno 104]\\n Connection   reset by peer ")
        except OSError as inner:
            raise RuntimeError("Connection error.") from inner
    except RuntimeError as outer:
        assert _cause_text(outer) == "[Errno 104]\\n Connection reset by peer"
    assert _cause_text(RuntimeError("Connection error.")) == "connection error"
    try:
        try:
            raise ConnectionResetError("reset while reading")
        except ConnectionResetError:
            raise RuntimeError("Connection error.")  # noqa: B904 - implicit chaining on purpose
    except RuntimeError as implicit:
        assert _cause_text(implicit) == "reset while reading"
    assert _cause_text(RuntimeError("x" * 500)) == "x" * 200
    loop = RuntimeError("a")
    loop.__cause__ = RuntimeError("b")
    loop.__cause__.__cause__ = loop  # a cycle ends after a few steps
    assert _cause_text(loop) in ("a", "b")


def connection_error(reason: str):
    """What the openai client raises for a failed connection: its own words, the reason inside."""
    import httpx2
    import openai

    err = openai.APIConnectionError(request=httpx2.Request("POST", "http://h:1/v1/chat/completions"))
    err.__cause__ = OSError(reason)
    return err


@pytest.mark.parametrize(("reason", "kind_of_message"), [
    ("[Errno -2] Name or service not known", "host"),  # Linux
    ("[Errno 8] nodename nor servname provided, or not known", "host"),  # macOS
    ("[Errno 11001] getaddrinfo failed", "host"),  # Windows
    ("[Errno -3] Temporary failure in name resolution", "host"),  # no DNS at all
    ("[Errno -5] No address associated with hostname", "host"),
    ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "tls"),
    ("certificate verify failed: self signed certificate", "tls"),
    ("TLS handshake timed out", "tls"),
    ("Server disconnected without sending a response.", "hung up"),
    ("peer disconnected", "hung up"),
    ("[Errno 101] Network is unreachable", "other"),
])
def test_connection_failures_by_platform_wording(reason: str, kind_of_message: str):
    """Each system words these failures its own way; each wording gets its plain sentence."""
    cfg = AssistConfig(base_url="http://h:1/v1")
    partial = Reply()
    err = explain(connection_error(reason), cfg, partial)
    expected = {
        "host": "cannot find the host h:1: check the base URL",
        "tls": f"secure connection to http://h:1/v1 failed ({reason}); if the server speaks plain HTTP, use an "
               "http:// base URL",
        "hung up": "h:1 closed the connection without answering",
        "other": f"cannot reach http://h:1/v1 ({reason})",
    }[kind_of_message]
    assert (err.kind, err.message, err.status, err.partial) == ("connection", expected, None, partial)


def test_explain_defaults_and_partial_text():
    import httpx2
    import openai

    cfg = AssistConfig(base_url="http://h:1/v1")
    request = httpx2.Request("POST", "http://h:1/v1/chat/completions")
    not_found = openai.NotFoundError("404", response=httpx2.Response(404, request=request), body=None)
    assert explain(not_found, cfg).message.startswith("http://h:1/v1/chat/completions is not")  # kind: chat
    assert explain(not_found, cfg, None, "other").message.startswith("http://h:1/v1 is not")
    timeout = openai.APITimeoutError(request=request)
    # text already shown (even with no chunk counted) makes it a stalled stream, not "no answer"
    assert explain(timeout, cfg, Reply(text="so far")).message.startswith("the stream stalled")
    assert explain(timeout, cfg, Reply()).message.startswith("no answer from")
    assert explain(connection_error("boom"), cfg, Reply(text="so far")).kind == "broken"


def test_explain_passes_assist_errors_through_and_names_other_failures():
    cfg = AssistConfig(api_key="sk-zzzzzzzzzzzzzzzzzzzz")
    err = AssistError("already", "client")
    assert explain(err, cfg) is err
    partial = Reply(text="kept")
    other = explain(KeyError("sk-zzzzzzzzzzzzzzzzzzzz"), cfg, partial)
    assert (other.kind, other.message, other.status, other.partial) == ("client", "KeyError: '***'", None, partial)
    import openai

    sdk = explain(openai.OpenAIError("the client says sk-zzzzzzzzzzzzzzzzzzzz"), cfg, partial)
    assert (sdk.kind, sdk.message, sdk.status, sdk.partial) == ("client", "the client says ***", None, partial)


def test_safe_url():
    assert safe_url("https://user:secret@example.com:8443/v1/?key=abc#x") == "https://example.com:8443/v1"
    assert safe_url("http://[::1") == "the base URL"
    assert safe_url("http://h/") == "http://h"
    assert safe_url("http://h/apiX/") == "http://h/apiX"


# -- what the request carries ---------------------------------------------------------------------


def test_request_for_a_local_server(openai_server: OpenAIServer):
    cfg = config(openai_server, temperature=0.0, top_p=0.5, max_tokens=9, stop=["\n\n"], extra_body={"min_p": 0.1})
    stream_reply(cfg, reply_request(chat("hi")))
    body = openai_server.posts()[-1].body
    assert body == {"model": "test-model", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                    "stop": ["\n\n"], "temperature": 0.0, "top_p": 0.5, "max_tokens": 9, "min_p": 0.1}
    stream_reply(cfg, continue_request(chat("q", "The start"), 1, "completions"))
    body = openai_server.posts()[-1].body
    assert body["max_tokens"] == 9 and "max_completion_tokens" not in body and body["prompt"].endswith("The start")


@pytest.fixture
def as_openai(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> AssistConfig:
    """A config for http://api.openai.com/v1 that reaches the test server through it as a proxy."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{openai_server.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{openai_server.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return AssistConfig(base_url="http://api.openai.com/v1", model="test-model", timeout=5, max_tokens=12)


def test_request_to_openai_itself(as_openai: AssistConfig, openai_server: OpenAIServer):
    stream_reply(as_openai, reply_request(chat("hi")))
    rec = openai_server.posts()[-1]
    assert rec.host == "api.openai.com"
    assert rec.body["max_completion_tokens"] == 12 and "max_tokens" not in rec.body
    # the legacy completions API keeps max_tokens, even at OpenAI
    stream_reply(as_openai, continue_request(chat("q", "a"), 1, "completions"))
    assert openai_server.posts()[-1].body["max_tokens"] == 12
    assert list_models(as_openai) == ["other-model", "test-model"]


def test_an_empty_stream_is_asked_again_without_streaming(openai_server: OpenAIServer):
    """llama-cpp-python answers a streamed request it cannot take with an empty stream: one
    more request, not streamed and for one token, gets the server's own error."""
    openai_server.set(status=400, empty_stream_on_error=True, error_message="too long")
    err = failure(config(openai_server, max_tokens=50))
    assert err.message == "the server rejected the request (HTTP 400: too long)"
    first, second = openai_server.posts()
    assert first.body["stream"] is True and first.body["max_tokens"] == 50
    assert second.body.get("stream") in (None, False) and second.body["max_tokens"] == 1
    assert "max_completion_tokens" not in second.body
    assert {k: v for k, v in second.body.items() if k not in ("stream", "max_tokens")} == \
        {k: v for k, v in first.body.items() if k not in ("stream", "max_tokens")}


def test_an_empty_stream_to_openai_probes_with_max_completion_tokens(as_openai: AssistConfig,
                                                                    openai_server: OpenAIServer):
    openai_server.set(status=400, empty_stream_on_error=True, error_message="nope")
    failure(as_openai)
    probe_body = openai_server.posts()[-1].body
    assert probe_body["max_completion_tokens"] == 1 and "max_tokens" not in probe_body


def test_an_empty_stream_whose_probe_succeeds_is_reported_as_empty(openai_server: OpenAIServer):
    openai_server.set(html_200=True)
    err = failure(config(openai_server))
    assert err.kind == "interrupted" and "ended the stream without sending anything" in err.message
    assert len(openai_server.posts()) == 2


def test_probe_only_reraises_status_errors():
    calls = []

    def create(**params):
        calls.append(params)
        raise ValueError("not JSON")

    probe(create, {"model": "m", "max_tokens": 5, "max_completion_tokens": 5, "messages": []}, openai_chat=False)
    assert calls == [{"model": "m", "messages": [], "max_tokens": 1, "stream": False}]
    probe(create, {"model": "m", "max_tokens": 5}, openai_chat=True)
    assert calls[-1] == {"model": "m", "max_completion_tokens": 1, "stream": False}


def test_redirects_are_followed(openai_server: OpenAIServer):
    openai_server.server.redirects["/old/"] = "/"
    cfg = config(openai_server, base_url=openai_server.base_url.replace("/v1", "/old/v1"))
    assert stream_reply(cfg, reply_request(chat("hi"))).text == "Echo: hi"
    assert list_models(cfg) == ["other-model", "test-model"]
    assert check_connection(cfg).model_listed


def test_list_models_does_not_retry_and_caps_the_timeout(openai_server: OpenAIServer):
    openai_server.server.models_status = 500
    with pytest.raises(AssistError, match=r"^the server failed \(HTTP 500: models are unavailable\)$"):
        list_models(config(openai_server))
    assert len([r for r in openai_server.requests if r.method == "GET"]) == 1
    openai_server.server.models_status = None
    openai_server.server.models_delay = 3
    with pytest.raises(AssistError, match="no answer") as info:
        list_models(config(openai_server, timeout=0.2))
    assert info.value.kind == "timeout"


def test_check_connection_report(openai_server: OpenAIServer):
    report = check_connection(config(openai_server, base_url=openai_server.base_url + "/"))
    assert (report.models, report.model_listed) == (["other-model", "test-model"], True)
    assert report.message == f"connected to {openai_server.base_url}: 2 models"
    openai_server.models[:] = ["only-one"]
    report = check_connection(config(openai_server, model="x"))
    assert report.message == (f"connected to {openai_server.base_url}: 1 model; 'x' is not among them (some servers "
                              "answer with their loaded model anyway)")
    openai_server.models[:] = []
    report = check_connection(config(openai_server, model="x"))
    assert (report.models, report.model_listed, report.message) == ([], False,
                                                                    f"connected to {openai_server.base_url}: 0 models")


# -- building requests -----------------------------------------------------------------------------


def test_openai_messages_shapes():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    c = Chat(messages=[
        Message("system", None), Message("user", "u", name="ann"), Message("assistant", None, tool_calls=[call]),
        Message("tool", "r", tool_call_id="c1"), Message("user", "x", tool_calls=[call]),
        Message("assistant", "t", tool_calls=[{"id": "c2"}]),
    ])
    assert openai_messages(c) == [
        {"role": "system", "content": ""},
        {"role": "user", "content": "u", "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": "r", "tool_call_id": "c1"},
        {"role": "user", "content": "x"},  # tool calls only travel on assistant messages
        {"role": "assistant", "content": "t", "tool_calls": [
            {"id": "c2", "type": "function", "function": {"name": "", "arguments": ""}}]},
    ]
    assert openai_messages(c, 2) == openai_messages(c)[:2]


def test_reply_request_tools_and_parallel_flag():
    tool = Tool("f", "d", {"type": "object"})
    r = reply_request(Chat(messages=[Message("user", "a"), Message("assistant", "b")], tools=[tool],
                           extra={"parallel_tool_calls": True}), upto=1)
    assert (r.kind, r.messages, r.tools, r.parallel_tool_calls) == ("chat", [{"role": "user", "content": "a"}],
                                                                    [tool.to_openai()], True)
    assert reply_request(Chat(messages=[], extra={"parallel_tool_calls": True})).parallel_tool_calls is None
    assert reply_request(Chat(messages=[], tools=[tool], extra={"parallel_tool_calls": "yes"})).parallel_tool_calls \
        is None


def test_continue_request_shapes():
    c = Chat(messages=[Message("user", "q"), Message("assistant", None), Message("assistant", "The start")],
             tools=[Tool("f")])
    r = continue_request(c, 1)
    assert (r.kind, r.prefix, r.stop) == ("completion", "", ["<|im_end|>"])
    assert r.messages == [{"role": "user", "content": "q"}]
    # The chat's tools ride in a system turn, as the token counter lays them out.
    assert r.prompt == ('<|im_start|>system\n# Tools\n\n<tools>\n{"type": "function", "function": {"name": "f"}}\n'
                        '</tools><|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n')
    r = continue_request(c, 2, "chat", upto_char=3)
    assert (r.kind, r.prefix) == ("chat", "The")
    assert r.messages == [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""},
                          {"role": "assistant", "content": "The"}]
    assert r.tools == [Tool("f").to_openai()]
    with pytest.raises(LimaError, match=r"^unknown continue method 'other' \(known: completions, chat\)$"):
        continue_request(c, 2, "other")
    with pytest.raises(LimaError, match=r"^only an assistant reply can be continued$"):
        continue_request(c, 0)


def test_chatml_prompt_details():
    msgs = [{"role": "assistant", "content": "Let me see.", "tool_calls": [
        {"function": {"name": "f", "arguments": '{"q": "é"}'}},
        {"function": {"name": "g", "arguments": "not json"}},
        {"function": {"name": "h"}}]}]
    assert chatml_prompt(msgs) == (
        '<|im_start|>assistant\nLet me see.\n<tool_call>\n{"name": "f", "arguments": {"q": "é"}}\n</tool_call>'
        '\n<tool_call>\n{"name": "g", "arguments": "not json"}\n</tool_call>'
        '\n<tool_call>\n{"name": "h", "arguments": null}\n</tool_call><|im_end|>\n<|im_start|>assistant\n')


# -- settings -> config ----------------------------------------------------------------------------


def test_every_setting_reaches_the_config():
    cfg = AssistConfig.from_settings(
        {"base_url": "http://h:1/v1", "model": "m", "temperature": "0.25", "top_p": 0.9, "max_tokens": "77",
         "stop": "END", "timeout": "12.5", "continue_method": "chat", "extra_body": {"a": 1}, "use_env_key": False,
         "api_key": "sk-settings-key"}, env={"OPENAI_API_KEY": "sk-env"})
    assert (cfg.base_url, cfg.model, cfg.temperature, cfg.top_p, cfg.max_tokens, cfg.stop, cfg.timeout,
            cfg.continue_method, cfg.extra_body, cfg.api_key, cfg.key_source) == (
        "http://h:1/v1", "m", 0.25, 0.9, 77, ["END"], 12.5, "chat", {"a": 1}, "sk-settings-key", "settings")
    empty = AssistConfig.from_settings({"base_url": "", "model": None, "temperature": "", "top_p": "",
                                        "max_tokens": 0, "stop": ["a", "b"], "timeout": 0, "extra_body": {}},
                                       env={"OPENAI_API_KEY": "sk-env-key"})
    assert (empty.base_url, empty.model, empty.temperature, empty.top_p, empty.max_tokens, empty.stop, empty.timeout,
            empty.continue_method, empty.extra_body) == (
        AssistConfig.base_url, AssistConfig.model, None, None, None, ["a", "b"], 60.0, "completions", None)
    assert (empty.api_key, empty.key_source) == ("sk-env-key", "$OPENAI_API_KEY")  # use_env_key defaults to on
    default = AssistConfig.from_settings({}, env={})
    assert (default.temperature, default.max_tokens, default.stop, default.api_key, default.key_source) == (
        0.7, 1024, [], "", "")
    assert AssistConfig.from_settings({"max_tokens": None}, env={}).max_tokens is None
    assert AssistConfig.from_settings({"max_tokens": ""}, env={}).max_tokens is None


def test_settings_come_from_the_user_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from lima_tk.settings import save_user_settings

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    save_user_settings({"model": "from-file", "base_url": "http://file:2/v1"})
    cfg = AssistConfig.from_settings()
    assert (cfg.model, cfg.base_url, cfg.api_key) == ("from-file", "http://file:2/v1", "sk-from-the-environment")


# -- a job's life ------------------------------------------------------------------------------------


def test_job_states_thread_and_queue(openai_server: OpenAIServer):
    openai_server.set(reply="ok", delay=0.3)
    job = Job(config(openai_server), reply_request(chat("hi")))
    assert (job.state, job.reply, job.error, job.running) == ("idle", None, None, False)
    assert job.join(0) is True  # never started: nothing to wait for
    assert isinstance(job.events, queue.Queue)
    job.start()
    thread = next(t for t in threading.enumerate() if t.name == "lima-assist")
    assert thread.daemon, "a job must never keep the program alive"
    wait_for(lambda: job.state == "working", what="working")
    assert job.running and job.join(0.01) is False
    assert job.join(10) and job.state == "done" and not job.running and job.reply.text == "ok"
    shared: queue.Queue = queue.Queue()
    Job(config(openai_server), reply_request(chat("x")), events=shared).run()
    assert [k for k, _ in drain(shared)] == ["delta", "done"]
    quiet = Job(config(openai_server), reply_request(chat("x")), events=None)
    assert quiet.events is None and quiet.run().text == "ok"


def test_cancel_states(openai_server: OpenAIServer):
    openai_server.set(delay=30)
    job = Job(config(openai_server, timeout=60), reply_request(chat("hi"))).start()
    wait_for(lambda: openai_server.posts(), what="the request")
    job.cancel()
    assert job.state in ("cancelling", "done")
    assert job.join(5) and job.state == "done" and job.reply.finish == "cancelled" and job.reply.cancelled
    job.cancel()  # once done, stays done
    assert job.state == "done"
    idle = Job(config(openai_server), reply_request(chat("hi")))
    idle.cancel()
    assert idle.state == "cancelling" and idle.cancel_event.is_set()
    assert idle.run().finish == "cancelled" and idle.state == "done"


def test_stream_reply_takes_a_cancel_event(openai_server: OpenAIServer):
    stop = threading.Event()
    stop.set()
    assert stream_reply(config(openai_server), reply_request(chat("hi")), cancel=stop).finish == "cancelled"
    assert openai_server.posts() == []


def test_cancel_mid_stream_ends_with_what_came(openai_server: OpenAIServer):
    openai_server.set(reply="z" * 100, chunks=50, chunk_delay=0.03)
    job = Job(config(openai_server), reply_request(chat("hi"))).start()
    wait_for(lambda: job.events.qsize() >= 3, what="some deltas")
    job.cancel()
    assert job.join(5)
    events = []
    while not job.events.empty():
        events.append(job.events.get_nowait())
    reply = events[-1][1]
    assert events[-1][0] == "done" and reply.finish == "cancelled" and 0 < len(reply.text) < 100
    assert reply.text == "".join(p for k, p in events if k == "delta")
    assert reply.chunks == len([k for k, _ in events if k == "delta"]) + 1  # + the role chunk
    assert reply.model == "test-model"


def test_drain_takes_at_most_its_limit():
    q: queue.Queue = queue.Queue()
    for i in range(600):
        q.put(("tool_call_delta", i))
    assert len(drain(q)) == 500 and len(drain(q)) == 100
    assert drain(q) == []


# -- tool calls -------------------------------------------------------------------------------------


def test_legacy_function_call_stream(openai_server: OpenAIServer):
    """A server that only knows the legacy function_call streams the call there."""
    openai_server.set(reply="", legacy_function_call=True, tool_pieces=4, tool_name_pieces=2,
                      tool_calls=[{"id": "ignored", "name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    job = Job(config(openai_server), reply_request(chat("weather?")))
    reply = job.run()
    assert reply.finish == "function_call"
    (call,) = reply.tool_calls
    assert re.fullmatch(r"call_[0-9a-f]{24}", call["id"])
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
    frags = [p for k, p in drain(job.events) if k == "tool_call_delta"]
    assert frags and all(f["index"] == 0 and f["id"] is None for f in frags)
    assert "".join(f["arguments"] or "" for f in frags) == '{"city": "Oslo"}'


def test_assembler_matches_by_id_without_index():
    a = ToolCallAssembler()
    a.add(None, "a", "one", "{")
    a.add(None, "b", "two", "[")
    a.add(None, "a", None, "}")  # by its id, not the last call
    a.add(None, None, None, "]")  # no id: the last call
    a.add(None, "a", "one", None)  # the name again: not doubled
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in a.result()] == [
        ("a", "one", "{}"), ("b", "two", "[]")]
    split = ToolCallAssembler()
    split.add(0, "x", "get_", "")
    split.add(0, None, "time", "{}")
    assert split.result()[0]["function"] == {"name": "get_time", "arguments": "{}"}


def test_connecting_socket_is_shut_when_cancelled_first(openai_server: OpenAIServer):
    """A cancel that lands while the connection is being made still closes it."""
    openai_server.set(delay=30)
    job = Job(config(openai_server, timeout=60), reply_request(chat("hi")))
    real = job._on_connect

    def late(name, info):
        if name == "connection.connect_tcp.complete":
            job.cancel_event.set()
        real(name, info)

    job._on_connect = late
    job.start()
    assert job.join(5) and job.reply.cancelled
    wait_for(lambda: not openai_server.posts() or openai_server.posts()[0].client_closed, 5,
             "the server to see the connection closed")


def test_a_call_whose_first_fragment_has_no_function(openai_server: OpenAIServer):
    openai_server.set(reply="", tool_id_alone=True, tool_calls=[{"id": "c9", "name": "f", "arguments": '{"a": 1}'}])
    reply = stream_reply(config(openai_server), reply_request(chat("go")))
    assert reply.tool_calls == [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]


def test_completion_text_arrives_as_delta_events(openai_server: OpenAIServer):
    openai_server.set(reply=" and on", chunks=3)
    job = Job(config(openai_server), continue_request(chat("q", "on"), 1, "completions"))
    job.run()
    raw = []
    while not job.events.empty():
        raw.append(job.events.get_nowait())
    assert [k for k, _ in raw] == ["delta"] * 3 + ["done"]
    assert "".join(p for k, p in raw if k == "delta") == " and on" == raw[-1][1].text


def test_a_completion_request_without_a_prompt_sends_an_empty_one(openai_server: OpenAIServer):
    from lima_tk.assist import AssistRequest

    stream_reply(config(openai_server), AssistRequest("completion", prompt=None))
    assert openai_server.posts()[-1].body["prompt"] == ""


def test_cancel_flag_alone_ends_the_stream_at_the_next_chunk(openai_server: OpenAIServer):
    """cancel() also shuts the socket; a caller's own cancel event (stream_reply(cancel=...))
    only sets the flag: the job stops at the next chunk and keeps what came."""
    openai_server.set(reply="w" * 60, chunks=30, chunk_delay=0.05)
    job = Job(config(openai_server), reply_request(chat("hi"))).start()
    wait_for(lambda: job.events.qsize() >= 3, what="some text")
    job.cancel_event.set()
    assert job.join(5)
    reply = job.reply
    assert reply is not None and reply.finish == "cancelled" and reply.cancelled
    assert 0 < len(reply.text) < 60 and reply.text == "w" * len(reply.text)


def test_a_finished_job_leaves_no_connection_open(openai_server: OpenAIServer):
    job = Job(config(openai_server), reply_request(chat("hi")))
    job.run()
    assert job._sockets and all(s.fileno() == -1 for s in job._sockets), "the job's HTTP client was not closed"


def test_not_an_openai_stream_exactly(openai_server: OpenAIServer):
    openai_server.set(reply="abcd", chunks=2, garbage_after=2)
    err = failure(config(openai_server))
    assert (err.kind, err.status) == ("protocol", None)
    assert err.message == (f"{openai_server.base_url} sent something that is not an OpenAI stream (Expecting value: "
                           "line 1 column 1 (char 0))")
    assert err.partial.text == "ab"
