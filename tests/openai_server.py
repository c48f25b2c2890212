"""A small real OpenAI-compatible HTTP server for the assist tests (standard library only).

It speaks `/v1/models`, `/v1/chat/completions` and `/v1/completions` with SSE streaming over
HTTP/1.1 chunked encoding, and misbehaves on request: delays, HTTP errors in the OpenAI error
shape, tool-call deltas, a stream cut off mid-way (no terminating chunk: the client sees a broken
body), a stream that ends with `[DONE]` but no `finish_reason` (what llama.cpp's server does to a
running stream when a second request arrives). It can also send the valid stream shapes real
servers differ in: the last text in the finish chunk (vLLM), tool-call names and arguments split
over many chunks, parallel calls interleaved, a chunk with an empty `choices` list, a usage-only
final chunk, and a stray second choice. Every request is recorded, with whether the client
closed the connection before the server finished.

Behaviour is chosen per request: `server.default`, overridden by the first `server.rules` entry
whose text occurs in the raw request body (so a subprocess test can steer it through chat text).

Two server-wide modes of home servers under load (issue 15): `one_at_a_time` (llama-cpp-python:
a new request cuts the stream that is running, which then ends with `[DONE]` and no finish
reason) and `busy_over = N` (more than N requests at once are answered `busy_status`, 429 or
503, with `busy_retry_after` as the Retry-After header when set).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Behaviour:
    reply: str | None = None  # default: "Echo: <last user text>"
    chunks: int = 4  # the reply is split into this many content deltas
    delay: float = 0.0  # before the response headers (server latency)
    chunk_delay: float = 0.0  # between chunks
    status: int | None = None  # answer with this HTTP error instead (OpenAI error body)
    error_message: str = "boom"
    error_code: str | None = None
    error_type: str = "invalid_request_error"
    finish: str | None = "stop"  # finish_reason of the last chunk
    no_finish: bool = False  # end with [DONE] but never send a finish_reason
    cut_after: int | None = None  # close the connection after this many chunks (broken body)
    error_event_after: int | None = None  # send an SSE `{"error": ...}` event after this many chunks
    garbage_after: int | None = None  # send a data line that is not JSON after this many chunks
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # [{"id", "name", "arguments"}]
    html_404: bool = False  # a plain web server's 404 page
    html_200: bool = False  # a plain web page instead of an API answer
    vary: bool = False  # append " #<request number>" to the reply, so replies differ
    # llama-cpp-python's ways: a streamed request it cannot take gets an empty 200 stream (the
    # `status` error only without streaming); tool_calls fragments mirrored in function_call.
    empty_stream_on_error: bool = False
    mirror_function_call: bool = False
    # Stream shapes real servers send (all valid OpenAI streams):
    finish_with_text: bool = False  # the last delta carries finish_reason too (vLLM), no separate chunk
    empty_choices_first: bool = False  # first chunk has "choices": [] (Azure's prompt_filter_results)
    usage_chunk: bool = False  # after the finish, a chunk with "choices": [] and usage (include_usage)
    stray_choice: bool = False  # every chunk also carries a choice with index 1 (n > 1 not asked for)
    tool_pieces: int = 3  # each tool call's arguments arrive in this many fragments
    tool_name_pieces: int = 1  # ... and its name in this many (the first one with the id)
    tool_calls_together: bool = False  # parallel calls: fragment i of every call in one chunk
    legacy_function_call: bool = False  # the (first) call only as legacy `function_call` deltas
    tool_id_alone: bool = False  # a call's first fragment has its id and no `function` at all
    error_body: str | None = None  # with `status`: this body as it is, instead of the OpenAI error shape
    error_content_type: str = "application/json"
    hang_up: bool = False  # read the request, then close the connection without any answer


@dataclass
class Record:
    path: str
    method: str
    body: dict[str, Any] | None
    auth: str | None
    host: str | None = None  # the Host header (through a proxy: the host the client thinks it talks to)
    client_closed: bool = False
    finished: bool = False
    cut: bool = False  # ended early by a newer request (one_at_a_time)
    status: int = 200
    at: float = 0.0  # time.monotonic() when the request arrived
    ended: float = 0.0  # when the answer was complete


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -------------------------------------------------------------------------

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, b: Behaviour, status: int | None = None, message: str | None = None,
               code: str | None = None) -> None:
        status = status or b.status or 500
        if b.error_body is not None and message is None:
            data = b.error_body.encode()
            self.send_response(status)
            self.send_header("Content-Type", b.error_content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        err = {"message": message or b.error_message, "type": b.error_type, "param": None,
               "code": code if code is not None else b.error_code}
        self._json(status, {"error": err})

    def _wait(self, seconds: float, rec: Record) -> bool:
        """Sleep, but notice a client that hangs up meanwhile. False when it did."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if r:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        rec.client_closed = True
                        return False
                except OSError:
                    rec.client_closed = True
                    return False

    def _chunk(self, data: bytes, rec: Record) -> bool:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            return True
        except OSError:  # BrokenPipe / ConnectionReset: the client went away
            rec.client_closed = True
            return False

    def _event(self, obj: Any, rec: Record) -> bool:
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        return self._chunk(f"data: {payload}\n\n".encode(), rec)

    # -- routes ---------------------------------------------------------------------------

    def _route(self) -> bool:
        """Proxy requests (absolute URLs) are served as if sent here; `server.redirects` answer
        307. False when the request was answered already."""
        if self.path.startswith(("http://", "https://")):
            self.path = "/" + self.path.split("://", 1)[1].partition("/")[2]
        for old, new in self.server.redirects.items():
            if self.path.startswith(old):
                if self.command == "POST":
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.server.record(self, None)
                self.send_response(307)
                self.send_header("Location", new + self.path[len(old):])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
        return True

    def do_GET(self) -> None:
        if not self._route():
            return
        rec = self.server.record(self, None)
        if self.path.rstrip("/") == "/v1/models":
            if not self._wait(self.server.models_delay, rec) or not self._auth_ok(rec):
                return
            if self.server.models_status:
                self._error(Behaviour(), self.server.models_status, "models are unavailable")
                return
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.server.models]
            self._json(200, {"object": "list", "data": data})
        else:
            self._not_found()
        rec.finished = True

    def do_POST(self) -> None:
        if not self._route():
            return
        srv = self.server
        with srv._lock:
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            busy = srv.busy_over is not None and srv.in_flight > srv.busy_over
            self._cut: threading.Event | None = None
            if srv.one_at_a_time and not busy:
                if srv.running is not None:
                    srv.running.set()  # cut the stream that runs now
                srv.running = self._cut = threading.Event()
        try:
            if busy:
                self._busy()
            else:
                self._post()
        finally:
            with srv._lock:
                srv.in_flight -= 1
                if self._cut is not None and srv.running is self._cut:
                    srv.running = None

    def _busy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        rec = self.server.record(self, json.loads(raw) if raw else {})
        rec.status = self.server.busy_status
        message = "Rate limit reached, slow down" if rec.status == 429 else "Server busy, try again later"
        data = json.dumps({"error": {"message": message, "type": "rate_limit_error" if rec.status == 429 else
                                     "server_error", "param": None, "code": None}}).encode()
        self.send_response(rec.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.server.busy_retry_after is not None:
            self.send_header("Retry-After", self.server.busy_retry_after)
        self.end_headers()
        self.wfile.write(data)
        rec.finished = True
        rec.ended = time.monotonic()

    def _post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        rec = self.server.record(self, body)
        b = self.server.behaviour_for(raw)
        if b.hang_up:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if not self._wait(b.delay, rec):
            return
        path = self.path.rstrip("/")
        if path not in ("/v1/chat/completions", "/v1/completions") or b.html_404:
            self._not_found(html=True)
            return
        if b.html_200:
            page = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if not self._auth_ok(rec):
            return
        if body is None:
            self._error(b, 400, "could not parse the JSON body")
            return
        if b.status and b.empty_stream_on_error and body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b"", rec)
            rec.finished = True
            return
        if b.status:
            self._error(b)
            return
        model = body.get("model")
        if self.server.strict_models and model not in self.server.models:
            self._error(b, 404, f"The model `{model}` does not exist or you do not have access to it.",
                        "model_not_found")
            return
        text = b.reply if b.reply is not None else "Echo: " + _last_user_text(body)
        if b.vary:
            text += f" #{len(self.server.requests)}"
        if path == "/v1/chat/completions":
            self._stream(rec, b, body, text, chat=True)
        else:
            self._stream(rec, b, body, text, chat=False)

    def _auth_ok(self, rec: Record) -> bool:
        key = self.server.api_key
        if key is not None and rec.auth != f"Bearer {key}":
            self._error(Behaviour(), 401, "Incorrect API key provided.", "invalid_api_key")
            return False
        return True

    def _not_found(self, html: bool = False) -> None:
        data = b"<html><body><h1>404 Not Found</h1></body></html>" if html else b'{"detail":"Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, rec: Record, b: Behaviour, body: dict[str, Any], text: str, chat: bool) -> None:
        model = body.get("model") or "test-model"
        if not body.get("stream"):
            self._whole(b, model, text, chat)
            rec.finished = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "cmpl-test", "object": "chat.completion.chunk" if chat else "text_completion",
                "created": 0, "model": model}
        events: list[Any] = []
        if chat:
            events.append({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]})
        for piece in _split(text, b.chunks) if text else []:
            if chat:
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            else:
                choice = {"index": 0, "text": piece, "logprobs": None, "finish_reason": None}
            events.append({**base, "choices": [choice]})
        if chat and b.tool_calls and b.legacy_function_call:
            for frag in _tool_fragments(0, b.tool_calls[0], b):
                fn = frag.get("function", {})
                fc = {k: fn[k] for k in ("name", "arguments") if k in fn}
                events.append({**base, "choices": [{"index": 0, "delta": {"function_call": fc},
                                                    "finish_reason": None}]})
        elif chat and b.tool_calls:
            per_call = [_tool_fragments(i, tc, b) for i, tc in enumerate(b.tool_calls)]
            if b.tool_calls_together:  # fragment j of every call in one delta
                steps = [[frags[j] for frags in per_call if j < len(frags)]
                         for j in range(max(len(f) for f in per_call))]
            else:
                steps = [[frag] for frags in per_call for frag in frags]
            for step in steps:
                delta: dict[str, Any] = {"tool_calls": step}
                if b.mirror_function_call:
                    fn = step[0].get("function", {})
                    delta["function_call"] = {"name": fn.get("name"), "arguments": fn.get("arguments")}
                events.append({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        if not b.no_finish:
            finish = ("function_call" if b.legacy_function_call else "tool_calls") \
                if (b.tool_calls and b.finish == "stop") else b.finish
            carrier = events[-1]["choices"][0] if events and events[-1]["choices"] else None
            if b.finish_with_text and carrier is not None and (carrier.get("text") or carrier.get("delta")):
                carrier["finish_reason"] = finish
            else:
                last: dict[str, Any] = {"index": 0, "finish_reason": finish}
                if chat:
                    last["delta"] = {}
                else:
                    last.update(text="", logprobs=None)
                events.append({**base, "choices": [last]})
        if b.empty_choices_first:
            events.insert(0, {**base, "choices": [], "prompt_filter_results": [{"prompt_index": 0}]})
        if b.stray_choice:
            for ev in events:
                if ev["choices"]:
                    stray = {"index": 1, "finish_reason": None}
                    stray.update({"delta": {"content": "STRAY"}} if chat else {"text": "STRAY", "logprobs": None})
                    ev["choices"] = [stray, *ev["choices"]]  # listed first: it must be skipped, not end the chunk
        if b.usage_chunk:
            n = len(events)
            events.append({**base, "choices": [],
                           "usage": {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 7 + n}})
        for n, ev in enumerate(events):
            if self._cut is not None and self._cut.is_set():
                # llama-cpp-python: a newer request ends this stream, [DONE] without a finish reason
                rec.cut = True
                if self._event("[DONE]", rec) and self._chunk(b"", rec):
                    rec.finished = True
                    rec.ended = time.monotonic()
                return
            if b.cut_after is not None and n >= b.cut_after:
                # Hang up without the terminating chunk: the client sees an incomplete body.
                self.close_connection = True
                rec.finished = True
                return
            if n and b.chunk_delay and not self._wait(b.chunk_delay, rec):
                return
            if b.garbage_after is not None and n >= b.garbage_after:
                self._event("<html>oops</html>", rec)
                break
            if b.error_event_after is not None and n >= b.error_event_after:
                self._event({"error": {"message": b.error_message, "type": "server_error", "code": None}}, rec)
                break
            if not self._event(ev, rec):
                return
        if self._event("[DONE]", rec) and self._chunk(b"", rec):
            rec.finished = True
            rec.ended = time.monotonic()

    def _whole(self, b: Behaviour, model: str, text: str, chat: bool) -> None:
        if chat:
            msg: dict[str, Any] = {"role": "assistant", "content": text}
            if b.tool_calls:
                msg["tool_calls"] = [{"id": t["id"], "type": "function",
                                      "function": {"name": t["name"], "arguments": t.get("arguments", "")}}
                                     for t in b.tool_calls]
            choice: dict[str, Any] = {"index": 0, "message": msg, "finish_reason": b.finish}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": b.finish}
            obj = "text_completion"
        self._json(200, {"id": "cmpl-test", "object": obj, "created": 0, "model": model, "choices": [choice]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.default = Behaviour()
        self.rules: list[tuple[str, Behaviour]] = []
        self.models: list[str] = ["test-model", "other-model"]
        self.strict_models = True
        self.api_key: str | None = None
        self.requests: list[Record] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most POSTs handled at the same time
        self.one_at_a_time = False
        self.running: threading.Event | None = None  # set to cut the stream that runs (one_at_a_time)
        self.busy_over: int | None = None
        self.busy_status = 429
        self.busy_retry_after: str | None = None
        self.redirects: dict[str, str] = {}  # path prefix -> new prefix, answered with 307
        self.models_status: int | None = None  # /v1/models answers this HTTP error
        self.models_delay = 0.0
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a client hanging up is normal
            super().handle_error(request, client_address)

    def record(self, handler: _Handler, body: dict[str, Any] | None) -> Record:
        rec = Record(handler.path, handler.command, body, handler.headers.get("Authorization"),
                     handler.headers.get("Host"), at=time.monotonic())
        with self._lock:
            self.requests.append(rec)
        return rec

    def behaviour_for(self, raw_body: str) -> Behaviour:
        for needle, b in self.rules:
            if needle in raw_body:
                return b
        return self.default


class OpenAIServer:
    """Start with `OpenAIServer().start()`; `base_url` is `http://127.0.0.1:<port>/v1`."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        """`tls`: (certificate file, key file) to speak HTTPS."""
        self._srv = _Server()
        self.scheme = "http"
        if tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._srv.socket = ctx.wrap_socket(self._srv.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="openai-test-server", daemon=True)

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._srv.server_address[1]

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/v1"

    @property
    def server(self) -> _Server:
        """The server object itself: `redirects`, `models_status`, `models_delay`."""
        return self._srv

    @property
    def default(self) -> Behaviour:
        return self._srv.default

    def set(self, **kw: Any) -> Behaviour:
        """Change the default behaviour, e.g. `server.set(status=401)`."""
        self._srv.default = replace(self._srv.default, **kw)
        return self._srv.default

    def rule(self, needle: str, **kw: Any) -> None:
        """Requests whose body contains `needle` behave like `Behaviour(**kw)`."""
        self._srv.rules.append((needle, Behaviour(**kw)))

    @property
    def models(self) -> list[str]:
        return self._srv.models

    @property
    def api_key(self) -> str | None:
        return self._srv.api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self._srv.api_key = value

    @property
    def strict_models(self) -> bool:
        return self._srv.strict_models

    @strict_models.setter
    def strict_models(self, value: bool) -> None:
        self._srv.strict_models = value

    @property
    def requests(self) -> list[Record]:
        with self._srv._lock:
            return list(self._srv.requests)

    @property
    def max_in_flight(self) -> int:
        return self._srv.max_in_flight

    def serve_one_at_a_time(self, on: bool = True) -> None:
        """llama-cpp-python's way: a new request cuts the running stream ([DONE], no finish reason)."""
        self._srv.one_at_a_time = on

    def busy_above(self, n: int | None, status: int = 429, retry_after: str | None = None) -> None:
        """Answer `status` (429 or 503) to requests beyond `n` at once, with Retry-After if given."""
        self._srv.busy_over, self._srv.busy_status, self._srv.busy_retry_after = n, status, retry_after

    def posts(self) -> list[Record]:
        return [r for r in self.requests if r.method == "POST"]


def _last_user_text(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return str(body["prompt"])[-40:]
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else json.dumps(c)
    return ""


def _tool_fragments(i: int, tc: dict[str, str], b: Behaviour) -> list[dict[str, Any]]:
    """One tool call as stream fragments: id and the first piece of the name, the rest of the
    name, then the arguments in pieces (OpenAI sends the whole name at once; others do not)."""
    name, args = tc["name"], tc.get("arguments", "")
    names = _split(name, b.tool_name_pieces) if name else [""]
    frags: list[dict[str, Any]] = [{"index": i, "id": tc["id"], "type": "function",
                                    "function": {"name": names[0], "arguments": ""}}]
    if b.tool_id_alone:
        frags = [{"index": i, "id": tc["id"], "type": "function"}, {"index": i, "function": {"name": names[0]}}]
    frags += [{"index": i, "function": {"name": piece}} for piece in names[1:]]
    frags += [{"index": i, "function": {"arguments": piece}} for piece in (_split(args, b.tool_pieces) if args else [])]
    return frags


def _split(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n)
    return [text[i:i + size] for i in range(0, len(text), size)]


if __name__ == "__main__":  # manual use: python3 tests/openai_server.py
    with OpenAIServer() as s:
        s.strict_models = False
        print(s.base_url, flush=True)
        threading.Event().wait()
