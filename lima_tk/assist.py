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
Secrets: the key is never put into a message, an event or a repr; server messages are scrubbed
(see lima_tk/assist_errors.py for the errors in plain words).
"""

from __future__ import annotations

import functools
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lima_tk.assist_errors import AssistError, explain, interrupted, require_openai, safe_url
from lima_tk.errors import LimaError
from lima_tk.model import Chat

__all__ = [
    "CONTINUE_METHODS", "FINISHED", "PLACEHOLDER_KEY", "AssistConfig", "AssistError", "AssistRequest",
    "ConnectionReport", "Job", "Reply", "ToolCallAssembler", "chatml_prompt", "check_connection",
    "continue_request", "drain", "explain", "list_models", "openai_messages", "reply_request", "safe_url",
    "stream_reply",
]

PLACEHOLDER_KEY = "sk-no-key-required"  # local servers ignore it; the openai client insists on one
FINISHED = ("stop", "length", "tool_calls", "content_filter", "function_call")  # the server's own ends
CONTINUE_METHODS = ("completions", "chat")

# A prompt template for "continue" via the completions API: (OpenAI-shape messages, partial reply)
# -> prompt text; one that takes a `tools` keyword also gets the chat's tool definitions (OpenAI
# shape). The default is ChatML; the tokenizer's own chat template plugs in the same way.
PromptTemplate = Callable[..., str]


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
    tools = [t.to_openai() for t in chat.tools] or None
    prompt = render(history, partial, tools=tools) if tools and _takes_tools(render) else render(history, partial)
    return AssistRequest("completion", history, prompt=prompt,
                         stop=["<|im_end|>"] if template is None else [], prefix=partial)


def _takes_tools(render: Callable[..., str]) -> bool:
    """Does a prompt template take the chat's tool definitions (a `tools` keyword)? The built-in
    ones do; a caller's own two-argument template is called as before."""
    import inspect

    try:
        params = inspect.signature(render).parameters
    except (TypeError, ValueError):
        return False
    return "tools" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def chatml_prompt(messages: list[dict[str, Any]], partial: str = "", tools: list[dict[str, Any]] | None = None) -> str:
    """ChatML: <|im_start|>role\\ntext<|im_end|> per message, then the open assistant turn with the
    partial reply. The layout is the token counter's generic one (`tokens.chatml_continuation`):
    the chat's tools in a `# Tools` block of the system turn, tool calls Hermes-style as
    <tool_call>{"name", "arguments"}</tool_call>."""
    from lima_tk.tokens import chatml_continuation

    return chatml_continuation(messages, partial, tools)


# -- results -----------------------------------------------------------------------------


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


class ToolCallAssembler:
    """Builds tool calls from streamed fragments: the first fragment of a call carries its index,
    id and name, later ones pieces of the arguments string (kept exactly as sent)."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}
        self.modern = False  # tool_calls deltas seen (then legacy function_call ones are echoes)

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
    default, so one Tk drain loop per job); pass `events=None` to get only the return value.

    With `limit` (a lima_tk.concurrency.AdaptiveLimit shared by the jobs to one server), the job
    waits for a slot before it sends (event `waiting`, then `sending`), and a stream the server cut
    while another ran, or a 429/503, lowers the limit and is sent again, up to `attempts` times in
    all: event `restart` (payload: the reason) tells the consumer to drop what that attempt
    streamed. Without `limit` the job sends at once, one attempt (the CLI's batch runs its own)."""

    def __init__(self, config: AssistConfig, request: AssistRequest,
                 events: queue.Queue[tuple[str, Any]] | None | bool = True, *,
                 limit: Any = None, attempts: int = 4) -> None:
        self.config = config
        self.request = request
        self.limit = limit
        self.attempts = max(1, attempts)
        self.restarts = 0  # attempts sent again after a cut or a 429/503
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
            reply = self._stream() if self.limit is None else self._stream_limited()
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

    def _stream_limited(self) -> Reply:
        from lima_tk.concurrency import RETRY, UNUSED, classify

        limit = self.limit
        while True:
            slot = limit.try_acquire()
            if slot is None:
                self._emit("waiting", limit.in_flight)
                while slot is None:
                    if self.cancel_event.is_set():
                        return Reply(finish="cancelled")
                    slot = limit.acquire(self.cancel_event, timeout=0.2)
                self._emit("sending", None)
            try:
                reply = self._stream()
            except AssistError as e:
                outcome = classify(e, slot)
                limit.release(slot, outcome, e.retry_after)
                if outcome in RETRY and self.restarts + 1 < self.attempts and not self.cancel_event.is_set():
                    self.restarts += 1
                    self._emit("restart", e.message)
                    continue
                raise
            limit.release(slot, UNUSED if reply.cancelled else classify(reply, slot))
            return reply

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
        openai = require_openai()
        import httpx2

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
            create, params = self._call(client)
            stream = create(**params, stream=True)
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
            if not reply.chunks and not self.cancel_event.is_set():
                _probe(create, params, req.kind == "chat" and _is_openai(cfg.base_url))
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
            raise interrupted(cfg, reply)
        return reply

    def _call(self, client: Any) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The SDK method and its arguments (without `stream`) for this job's request."""
        cfg, req = self.config, self.request
        params: dict[str, Any] = {"model": cfg.model, "extra_body": cfg.extra_body}
        stop = [*cfg.stop, *req.stop]
        if stop:  # absent rather than null: some servers refuse "stop": null
            params["stop"] = stop
        if req.kind == "completion":
            return client.completions.create, {**params, "prompt": req.prompt or "", **cfg.sampling(False)}
        if req.tools:
            params["tools"] = req.tools
            if req.parallel_tool_calls is not None:
                params["parallel_tool_calls"] = req.parallel_tool_calls
        return client.chat.completions.create, {**params, "messages": req.messages, **cfg.sampling(True)}

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
        if delta.tool_calls:
            tools.modern = True
        elif delta.function_call is not None and not tools.modern:
            # Legacy single function call. llama-cpp-python mirrors each tool_calls fragment in
            # function_call as well; only a server that sends nothing else is heard here.
            fc = delta.function_call
            self._emit("tool_call_delta", tools.add(0, None, fc.name, fc.arguments))
        if delta.content:
            self._emit("delta", delta.content)
        return delta.content


def _probe(create: Callable[..., Any], params: dict[str, Any], openai_chat: bool) -> None:
    """An empty stream tells nothing: llama-cpp-python, for one, answers a streamed request it
    cannot take (a chat longer than its context) with an empty 200 stream. Ask once more without
    streaming and for one token, so the server's own error (raised from here) can be shown."""
    import openai

    probe = {k: v for k, v in params.items() if k not in ("max_tokens", "max_completion_tokens")}
    probe["max_completion_tokens" if openai_chat else "max_tokens"] = 1
    try:
        create(**probe, stream=False)
    except openai.APIStatusError:
        raise
    except Exception:  # noqa: BLE001 - no clearer answer: report the empty stream itself
        pass


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
    openai = require_openai()

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
