"""AI assist: streamed replies from any OpenAI-compatible server (worker-thread side, no tkinter).

The pieces, in the order a caller meets them:

- `AssistConfig.from_settings()`: base URL, key, model and sampling from the user settings file.
  With no key configured a placeholder is sent, so llama.cpp, vLLM and Ollama work as they are.
- `reply_request(chat)` / `continue_request(chat, index, method)`: plain data for one request.
- `Job(config, request).start()`: runs the request on a daemon thread and puts `(kind, payload)`
  events on `job.events` (a `queue.Queue`): `("delta", str)`, `("tool_call_delta", dict)`, then
  exactly one of `("done", Reply)` or `("error", AssistError)`. `job.cancel()` (any thread) stops
  it at once: the flag is checked between chunks and the connection is shut down, so a stream
  blocked on a slow server ends too and the server sees the connection closed. A cancelled
  job ends with `done` and `Reply.finish == "cancelled"`.
- A stream that ends without a finish_reason is never passed off as complete: it ends with an
  `error` of kind "interrupted" that carries the partial reply (`err.partial`).
- `list_models(config)`, `check_connection(config)`: for the settings dialog.

`openai` (and its HTTP client `httpx2`) are imported inside the functions that use them.
Secrets: the key is never put into a message, an event or a repr; server messages are scrubbed.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lima_tk.errors import LimaError
from lima_tk.model import Chat

PLACEHOLDER_KEY = "sk-no-key-required"  # local servers ignore it; the openai client insists on one
FINISHED = ("stop", "length", "tool_calls", "content_filter", "function_call")
CONTINUE_METHODS = ("completions", "chat")

# A prompt template for "continue" via the completions API: (OpenAI-shape messages, partial reply)
# -> prompt text. The default is ChatML; a tokenizer's own chat template can be plugged in later.
PromptTemplate = Callable[[list[dict[str, Any]], str], str]


# -- configuration ---------------------------------------------------------------------------


@dataclass
class AssistConfig:
    """Where and how to ask. Plain data: safe to hand to a worker thread."""

    base_url: str = "https://api.openai.com/v1"
    api_key: str = field(default="", repr=False)  # never shown in logs or reprs
    model: str = "gpt-4o-mini"
    temperature: float | None = 0.7
    top_p: float | None = None
    max_tokens: int | None = 1024
    stop: list[str] = field(default_factory=list)
    timeout: float = 60.0  # seconds to connect, and between two pieces of a stream
    max_retries: int = 0  # the client's own retries (connection errors, 429, 5xx) before a stream starts
    continue_method: str = "completions"
    extra_body: dict[str, Any] | None = None  # server-specific request fields
    key_source: str = ""  # where the key came from, for messages: "$OPENAI_API_KEY", "settings" or ""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None = None,
                      env: Mapping[str, str] | None = None) -> AssistConfig:
        """From the user settings file (or `settings`): the key comes from $OPENAI_API_KEY when
        `use_env_key` is on and it is set, else from the settings, else none (placeholder)."""
        if settings is None:
            from lima_tk.settings import load_user_settings

            settings = load_user_settings()
        env = os.environ if env is None else env
        key, source = "", ""
        if settings.get("use_env_key", True) and env.get("OPENAI_API_KEY"):
            key, source = env["OPENAI_API_KEY"], "$OPENAI_API_KEY"
        elif settings.get("api_key"):
            key, source = str(settings["api_key"]), "settings"
        stop = settings.get("stop") or []
        return cls(
            base_url=str(settings.get("base_url") or cls.base_url),
            api_key=key,
            key_source=source,
            model=str(settings.get("model") or cls.model),
            temperature=_opt_float(settings.get("temperature", cls.temperature)),
            top_p=_opt_float(settings.get("top_p")),
            max_tokens=_opt_int(settings.get("max_tokens", cls.max_tokens)),
            stop=[stop] if isinstance(stop, str) else list(stop),
            timeout=float(settings.get("timeout") or cls.timeout),
            continue_method=str(settings.get("continue_method") or cls.continue_method),
            extra_body=settings.get("extra_body") or None,
        )

    def key(self) -> str:
        return self.api_key or PLACEHOLDER_KEY

    def sampling(self, chat_api: bool) -> dict[str, Any]:
        """Request fields for the sampling settings; unset ones are left to the server."""
        out: dict[str, Any] = {}
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.max_tokens:
            # OpenAI's newer chat models refuse max_tokens; other servers only know max_tokens.
            name = "max_completion_tokens" if chat_api and _is_openai(self.base_url) else "max_tokens"
            out[name] = self.max_tokens
        return out


def _opt_float(v: Any) -> float | None:
    return None if v in (None, "") else float(v)


def _opt_int(v: Any) -> int | None:
    return None if v in (None, "", 0) else int(v)


def _is_openai(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith("api.openai.com")


# -- requests --------------------------------------------------------------------------------


@dataclass
class AssistRequest:
    """One request as plain data: `chat` (messages, tools) or `completion` (a prompt)."""

    kind: str = "chat"
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    parallel_tool_calls: bool | None = None
    prompt: str | None = None
    stop: list[str] = field(default_factory=list)  # added to the config's stop sequences
    prefix: str = ""  # the reply text the result continues (already in the message)


def openai_messages(chat: Chat, upto: int | None = None) -> list[dict[str, Any]]:
    """The chat's messages [:upto] in the OpenAI request shape (tool calls and answers kept)."""
    out: list[dict[str, Any]] = []
    for m in chat.messages[:upto]:
        d: dict[str, Any] = {"role": m.role}
        calls = m.tool_calls if m.role == "assistant" else None
        d["content"] = m.content if (m.content is not None or calls) else ""
        if m.name:
            d["name"] = m.name
        if calls:
            d["tool_calls"] = [{"id": c.get("id"), "type": "function",
                                "function": {"name": (c.get("function") or {}).get("name", ""),
                                             "arguments": (c.get("function") or {}).get("arguments", "")}}
                               for c in calls]
        if m.role == "tool":
            d["tool_call_id"] = m.tool_call_id
        out.append(d)
    return out


def reply_request(chat: Chat, upto: int | None = None) -> AssistRequest:
    """The next assistant reply after messages [:upto] (default: all), with the chat's tools."""
    tools = [t.to_openai() for t in chat.tools] or None
    ptc = chat.extra.get("parallel_tool_calls")
    return AssistRequest("chat", openai_messages(chat, upto), tools,
                         ptc if tools and isinstance(ptc, bool) else None)


def continue_request(chat: Chat, index: int, method: str = "completions", template: PromptTemplate | None = None,
                     upto_char: int | None = None) -> AssistRequest:
    """Continue the assistant message at `index` from the end of its text (or from `upto_char`).

    "completions": a prompt rendered by `template` (ChatML by default) ending with the partial
    reply. "chat": the partial reply sent as a final assistant message, which llama.cpp, Ollama
    and others continue (vLLM needs `continue_final_message` in extra_body)."""
    if method not in CONTINUE_METHODS:
        raise LimaError(f"unknown continue method {method!r} (known: {', '.join(CONTINUE_METHODS)})")
    msg = chat.messages[index]
    if msg.role != "assistant":
        raise LimaError("only an assistant reply can be continued")
    partial = (msg.content or "")[:upto_char]
    history = openai_messages(chat, index)
    if method == "chat":
        req = reply_request(chat, index)
        req.messages.append({"role": "assistant", "content": partial})
        req.prefix = partial
        return req
    render = template or chatml_prompt
    return AssistRequest("completion", history, prompt=render(history, partial),
                         stop=["<|im_end|>"] if template is None else [], prefix=partial)


def chatml_prompt(messages: list[dict[str, Any]], partial: str = "") -> str:
    """ChatML: <|im_start|>role\\ntext<|im_end|> per message, then the open assistant turn.
    Tool calls are rendered Hermes-style as <tool_call>{"name", "arguments"}</tool_call>."""
    parts = []
    for m in messages:
        text = m.get("content") or ""
        for c in m.get("tool_calls") or []:
            fn = c.get("function") or {}
            try:
                args: Any = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                args = fn.get("arguments")
            call = json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False)
            text += f"\n<tool_call>\n{call}\n</tool_call>"
        parts.append(f"<|im_start|>{m['role']}\n{text}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n" + partial


# -- results and errors ----------------------------------------------------------------------


@dataclass
class Reply:
    """What a stream produced. `finish`: the server's finish_reason, or "cancelled"."""

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish: str | None = None
    model: str | None = None
    chunks: int = 0

    @property
    def cancelled(self) -> bool:
        return self.finish == "cancelled"


class AssistError(LimaError):
    """A request that failed, in plain words. `kind` is one of: auth, forbidden, model, url,
    context, request, rate, server, http, timeout, connection, broken, interrupted, protocol,
    client. `partial` is what arrived before the failure (keep it: it is the user's data now)."""

    FATAL = ("auth", "forbidden", "model", "url", "connection", "client")  # every request would fail

    def __init__(self, message: str, kind: str, status: int | None = None, partial: Reply | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.partial = partial

    @property
    def finish(self) -> str:
        """What to store as the message's finish: the reply did not complete."""
        return "interrupted"


class ToolCallAssembler:
    """Builds tool calls from streamed fragments: the first fragment of a call carries its index,
    id and name, later ones pieces of the arguments string (kept exactly as sent)."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, index: int | None, call_id: str | None, name: str | None, arguments: str | None) -> dict[str, Any]:
        """Feed one fragment; returns it as a plain dict for a `tool_call_delta` event."""
        if index is None:  # some servers omit it: match by id, else a new call / the last one
            index = next((i for i, c in self._calls.items() if call_id and c["id"] == call_id), None)
            if index is None:
                index = len(self._calls) if (call_id or not self._calls) else max(self._calls)
        call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if call_id:
            call["id"] = call_id
        if name and name != call["name"]:
            call["name"] += name
        if arguments:
            call["arguments"] += arguments
        return {"index": index, "id": call_id, "name": name, "arguments": arguments}

    def result(self) -> list[dict[str, Any]] | None:
        if not self._calls:
            return None
        return [{"id": c["id"] or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
                for _, c in sorted(self._calls.items())]


# -- the job ---------------------------------------------------------------------------------


class Job:
    """One streamed request. `start()` runs it on a daemon thread; `run()` runs it here.

    States: idle -> working -> (cancelling ->) done. Events go to `self.events` (its own queue by
    default, so one Tk drain loop per job); pass `events=None` to get only the return value."""

    def __init__(self, config: AssistConfig, request: AssistRequest,
                 events: queue.Queue[tuple[str, Any]] | None | bool = True) -> None:
        self.config = config
        self.request = request
        self.events: queue.Queue[tuple[str, Any]] | None = (
            queue.Queue() if events is True else (events or None))
        self.cancel_event = threading.Event()
        self.state = "idle"
        self.reply: Reply | None = None
        self.error: AssistError | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    # Any thread.
    def start(self) -> Job:
        self._thread = threading.Thread(target=self._run_quietly, name="lima-assist", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Any thread. Stop now: the partial reply is kept and the job ends with `done`."""
        with self._lock:
            if self.state in ("idle", "working"):
                self.state = "cancelling"
            self.cancel_event.set()
            socks = list(self._sockets)
        for s in socks:
            _shutdown(s)

    def join(self, timeout: float | None = None) -> bool:
        """Any thread but the job's. True when the worker thread has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _emit(self, kind: str, payload: Any) -> None:
        if self.events is not None:
            self.events.put((kind, payload))

    def _run_quietly(self) -> None:
        try:
            self.run()
        except AssistError:
            pass  # already reported as an "error" event

    def run(self) -> Reply:
        """Worker thread (or any thread, blocking). Returns the reply or raises AssistError; the
        same outcome is also put on the queue as the final event."""
        with self._lock:
            if self.state == "idle":
                self.state = "working"
        try:
            reply = self._stream()
        except AssistError as e:
            with self._lock:
                self.error, self.state = e, "done"
            self._emit("error", e)
            raise
        with self._lock:
            self.reply, self.state = reply, "done"
        self._emit("done", reply)
        return reply

    # -- worker side ----------------------------------------------------------------------

    def _on_connect(self, name: str, info: dict[str, Any]) -> None:
        """httpcore trace hook: remember each new connection's socket, so cancel() can shut it."""
        if name != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
        if self.cancel_event.is_set():
            _shutdown(sock)

    def _client(self) -> Any:
        import httpx2
        import openai

        def hook(request: Any) -> None:
            request.extensions["trace"] = self._on_connect

        # One HTTP client per job: its connections are this job's alone, so shutting them down
        # on cancel touches nothing else.
        http = httpx2.Client(verify=_ssl_context(), follow_redirects=True, event_hooks={"request": [hook]})
        return openai.OpenAI(api_key=self.config.key(), base_url=self.config.base_url, http_client=http,
                             timeout=self.config.timeout, max_retries=self.config.max_retries)

    def _stream(self) -> Reply:
        cfg, req = self.config, self.request
        reply = Reply()
        if self.cancel_event.is_set():
            reply.finish = "cancelled"
            return reply
        pieces: list[str] = []
        tools = ToolCallAssembler()
        stream = None
        client = None
        try:
            client = self._client()
            common: dict[str, Any] = {"model": cfg.model, "stream": True, "extra_body": cfg.extra_body}
            stop = [*cfg.stop, *req.stop]
            if stop:  # absent rather than null: some servers refuse "stop": null
                common["stop"] = stop
            if req.kind == "completion":
                stream = client.completions.create(prompt=req.prompt or "", **common, **cfg.sampling(False))
            else:
                extra: dict[str, Any] = {}
                if req.tools:
                    extra["tools"] = req.tools
                    if req.parallel_tool_calls is not None:
                        extra["parallel_tool_calls"] = req.parallel_tool_calls
                stream = client.chat.completions.create(messages=req.messages, **common, **extra,
                                                        **cfg.sampling(True))
            for chunk in stream:
                if self.cancel_event.is_set():
                    break
                reply.chunks += 1
                reply.model = getattr(chunk, "model", None) or reply.model
                for choice in chunk.choices or ():
                    if choice.index not in (0, None):
                        continue  # n > 1 is not asked for; ignore stray choices
                    text = self._apply(choice, req.kind, tools)
                    if text:
                        pieces.append(text)
                    if choice.finish_reason:
                        reply.finish = choice.finish_reason
        except Exception as e:  # noqa: BLE001 - every failure becomes one plain-words AssistError
            reply.text, reply.tool_calls = "".join(pieces), tools.result()
            if self.cancel_event.is_set():
                reply.finish = "cancelled"
                return reply
            raise explain(e, cfg, reply, req.kind) from None
        finally:
            if stream is not None:
                stream.close()  # closes the connection when the body was not read to the end
            if client is not None:
                client.close()
        reply.text, reply.tool_calls = "".join(pieces), tools.result()
        if self.cancel_event.is_set():
            reply.finish = "cancelled"
        elif reply.finish is None:
            raise _interrupted(cfg, reply)
        return reply

    def _apply(self, choice: Any, kind: str, tools: ToolCallAssembler) -> str | None:
        if kind == "completion":
            text = getattr(choice, "text", None)
            if text:
                self._emit("delta", text)
            return text
        delta = choice.delta
        if delta is None:
            return None
        for tc in delta.tool_calls or ():
            fn = tc.function
            frag = tools.add(tc.index, tc.id, fn.name if fn else None, fn.arguments if fn else None)
            self._emit("tool_call_delta", frag)
        if delta.function_call is not None:  # legacy single function call
            fc = delta.function_call
            self._emit("tool_call_delta", tools.add(0, None, fc.name, fc.arguments))
        if delta.content:
            self._emit("delta", delta.content)
        return delta.content


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it (close() would not)
    except OSError:
        pass  # already closed


@functools.lru_cache(maxsize=1)
def _ssl_context() -> Any:
    """One TLS context for all jobs (building one costs ~30 ms)."""
    import httpx2

    return httpx2.create_ssl_context()


def drain(events: queue.Queue[tuple[str, Any]], limit: int = 500) -> list[tuple[str, Any]]:
    """Any thread (meant for a Tk `after()` tick): take up to `limit` pending events, with
    consecutive deltas joined into one, so the UI inserts text once per tick."""
    out: list[tuple[str, Any]] = []
    for _ in range(limit):
        try:
            kind, payload = events.get_nowait()
        except queue.Empty:
            break
        if kind == "delta" and out and out[-1][0] == "delta":
            out[-1] = ("delta", out[-1][1] + payload)
        else:
            out.append((kind, payload))
    return out


def stream_reply(config: AssistConfig, request: AssistRequest, cancel: threading.Event | None = None) -> Reply:
    """Blocking convenience: run one request in this thread (no events)."""
    job = Job(config, request, events=None)
    if cancel is not None:
        job.cancel_event = cancel
    return job.run()


# -- models and connection check -------------------------------------------------------------


def list_models(config: AssistConfig) -> list[str]:
    """Any thread (blocking). The model ids the server lists at /models, sorted."""
    import openai

    client = openai.OpenAI(api_key=config.key(), base_url=config.base_url, timeout=min(config.timeout, 15.0),
                           max_retries=0, http_client=_plain_http())
    try:
        return sorted({m.id for m in client.models.list()})
    except Exception as e:  # noqa: BLE001
        raise explain(e, config, None, "models") from None
    finally:
        client.close()


def _plain_http() -> Any:
    import httpx2

    return httpx2.Client(verify=_ssl_context(), follow_redirects=True)


@dataclass
class ConnectionReport:
    models: list[str]
    model_listed: bool
    message: str


def check_connection(config: AssistConfig) -> ConnectionReport:
    """Any thread (blocking). Ask /models; raises AssistError in plain words when it fails."""
    models = list_models(config)
    url = safe_url(config.base_url)
    listed = config.model in models
    msg = f"connected to {url}: {len(models)} model{'s' if len(models) != 1 else ''}"
    if models and not listed:
        msg += f"; {config.model!r} is not among them (some servers answer with their loaded model anyway)"
    return ConnectionReport(models, listed, msg)


# -- errors in plain words -------------------------------------------------------------------

_CONTEXT_RE = re.compile(r"context.?length|context (size|window)|maximum context|too many tokens|n_ctx|"
                         r"prompt is too long|exceeds? the (available )?context", re.I)


def explain(exc: BaseException, config: AssistConfig, partial: Reply | None = None, kind: str = "chat") -> AssistError:
    """Turn any failure of a request into an AssistError with one plain sentence."""
    import openai

    if isinstance(exc, AssistError):
        return exc
    url = safe_url(config.base_url)
    endpoint = {"chat": "/chat/completions", "completion": "/completions", "models": "/models"}.get(kind, "")
    got = partial is not None and (partial.chunks > 0 or bool(partial.text))
    kept = "; the text so far is kept" if got and partial and partial.text else ""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _server_message(exc, config)
        said = f"HTTP {status}" + (f": {detail}" if detail else "")
        code = (exc.code or "").lower()
        if code == "model_not_found" or (status == 404 and "model" in detail.lower()):
            return AssistError(f"the server does not know the model {config.model!r} ({said}); "
                               "pick one the server lists", "model", status, partial)
        if status == 401:
            if config.api_key:
                where = f" (from {config.key_source})" if config.key_source else ""
                text = f"the server refused the API key{where} ({said}); check it in Settings or $OPENAI_API_KEY"
            else:
                text = f"the server needs an API key ({said}); set one in Settings or in $OPENAI_API_KEY"
            return AssistError(text, "auth", status, partial)
        if status == 403:
            return AssistError(f"the server denied access ({said})", "forbidden", status, partial)
        if status in (404, 405):
            return AssistError(f"{url}{endpoint} is not an OpenAI-compatible endpoint ({said}); check the base "
                               "URL (it usually ends in /v1)", "url", status, partial)
        if code == "context_length_exceeded" or _CONTEXT_RE.search(detail):
            return AssistError(f"the chat is too long for the model's context window ({said}); shorten the chat "
                               "or lower max tokens", "context", status, partial)
        if status == 429:
            return AssistError(f"rate limit or quota reached ({said}); wait a little and retry", "rate", status,
                               partial)
        if status >= 500:
            return AssistError(f"the server failed ({said})", "server", status, partial)
        if 400 <= status < 500:
            return AssistError(f"the server rejected the request ({said})", "request", status, partial)
        return AssistError(f"unexpected answer from the server ({said})", "http", status, partial)
    if isinstance(exc, openai.APITimeoutError):
        if got:
            return AssistError(f"the stream stalled: nothing from {url} for {config.timeout:g} s{kept}",
                               "timeout", None, partial)
        return AssistError(f"no answer from {url} within {config.timeout:g} s (timeout)", "timeout", None, partial)
    if isinstance(exc, openai.APIConnectionError):
        reason = _cause_text(exc)
        if got:
            return AssistError(f"the stream broke off mid-way ({reason}){kept}", "broken", None, partial)
        low = reason.lower()
        host = urlsplit(config.base_url).netloc.rpartition("@")[2] or url
        if "refused" in low:
            return AssistError(f"cannot connect to {host}: connection refused (is the server running?)",
                               "connection", None, partial)
        if any(s in low for s in ("name or service", "nodename", "getaddrinfo", "name resolution", "no address")):
            return AssistError(f"cannot find the host {host}: check the base URL", "connection", None, partial)
        if "ssl" in low or "certificate" in low or "tls" in low:
            return AssistError(f"secure connection to {url} failed ({reason}); if the server speaks plain HTTP, "
                               "use an http:// base URL", "connection", None, partial)
        if "without sending a response" in low or "disconnected" in low:
            return AssistError(f"{host} closed the connection without answering", "connection", None, partial)
        return AssistError(f"cannot reach {url} ({reason})", "connection", None, partial)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        msg = _scrub(exc.message or str(exc), config)
        where = " mid-stream" if got else ""
        return AssistError(f"the server reported an error{where}: {msg}{kept}", "server", None, partial)
    if isinstance(exc, ValueError):  # a data line that is not JSON
        return AssistError(f"{url} sent something that is not an OpenAI stream ({_scrub(str(exc), config)[:200]})"
                           f"{kept}", "protocol", None, partial)
    if isinstance(exc, openai.OpenAIError):
        return AssistError(_scrub(str(exc), config), "client", None, partial)
    return AssistError(f"{type(exc).__name__}: {_scrub(str(exc), config)}", "client", None, partial)


def _interrupted(config: AssistConfig, reply: Reply) -> AssistError:
    if not reply.chunks:
        msg = (f"{safe_url(config.base_url)} ended the stream without sending anything; is it an "
               "OpenAI-compatible API?")
    else:
        msg = ("the reply was cut off: the stream ended without a finish reason (llama.cpp's server does this "
               "when another request arrives)" + ("; the text so far is kept" if reply.text or reply.tool_calls
                                                 else ""))
    return AssistError(msg, "interrupted", None, reply)


def _server_message(exc: Any, config: AssistConfig) -> str:
    body = exc.body
    msg = ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            msg = str(inner.get("message") or inner.get("detail") or "")
        elif isinstance(inner, str):
            msg = inner
        msg = msg or str(body.get("detail") or body.get("message") or "")
    elif isinstance(body, str) and not body.lstrip().startswith("<"):
        msg = body
    return _scrub(" ".join(msg.split())[:300], config)


def _cause_text(exc: BaseException) -> str:
    """The innermost useful reason of a connection error (the SDK's own text is generic)."""
    seen: BaseException | None = exc
    reason = ""
    for _ in range(10):  # chains are short; the bound only guards against a cycle
        if seen is None:
            break
        text = str(seen)
        if text and text not in ("Connection error.", "Request timed out."):
            reason = text
        seen = seen.__cause__ or seen.__context__
    return " ".join(reason.split())[:200] or "connection error"


_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{0,4})[A-Za-z0-9_*-]{8,}")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.I)


def _scrub(text: str, config: AssistConfig) -> str:
    """Keys never reach a message: the configured one, anything key-like, bearer tokens."""
    if config.api_key and len(config.api_key) >= 4:
        text = text.replace(config.api_key, "***")
    return _BEARER.sub(r"\1***", _KEYLIKE.sub(r"\1***", text))


def safe_url(url: str) -> str:
    """The URL without user:password and query, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the base URL"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
