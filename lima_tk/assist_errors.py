"""AI assist failures in plain words: `AssistError`, and `explain()` that turns whatever the
`openai` client raised into one. Keys never reach a message: server text is scrubbed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from lima_tk.errors import LimaError

if TYPE_CHECKING:
    from lima_tk.assist import AssistConfig, Reply


class AssistError(LimaError):
    """A request that failed, in plain words. `kind` is one of: auth, forbidden, model, url,
    context, request, rate, server, http, timeout, connection, broken, interrupted, protocol,
    client. `partial` is what arrived before the failure (keep it: it is the user's data now)."""

    FATAL = ("auth", "forbidden", "model", "url", "connection", "client")  # every request would fail
    retry_after: float | None = None  # seconds the server asked to wait (Retry-After of a 429/503)

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


_CONTEXT_RE = re.compile(r"context.?length|context (size|window)|maximum context|too many tokens|n_ctx|"
                         r"prompt is too long|exceeds? the (available )?context", re.I)


def require_openai() -> Any:
    """The `openai` module, or an AssistError ("client": every request would fail) saying how to
    install it: lima-tk runs without it, with AI assist off."""
    try:
        import openai
    except ImportError:
        from lima_tk.deps import needs_message

        raise AssistError(needs_message("openai", "AI assist"), "client") from None
    return openai


def explain(exc: BaseException, config: AssistConfig, partial: Reply | None = None, kind: str = "chat") -> AssistError:
    """Turn any failure of a request into an AssistError with one plain sentence."""
    if isinstance(exc, AssistError):
        return exc
    openai = require_openai()
    url = safe_url(config.base_url)
    endpoint = {"chat": "/chat/completions", "completion": "/completions", "models": "/models"}.get(kind, "")
    got = partial is not None and (partial.chunks > 0 or bool(partial.text))
    if isinstance(exc, openai.APIStatusError):
        err = _status_error(exc, config, partial, url, endpoint, kind)
        err.retry_after = retry_after_of(exc)
        return err
    if isinstance(exc, openai.APITimeoutError):
        if got:
            return AssistError(f"the stream stalled: nothing from {url} for {config.timeout:g} s",
                               "timeout", None, partial)
        return AssistError(f"no answer from {url} within {config.timeout:g} s (timeout)", "timeout", None, partial)
    if isinstance(exc, openai.APIConnectionError):
        reason = _cause_text(exc)
        if got:
            return AssistError(f"the stream broke off mid-way ({reason})", "broken", None, partial)
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
        if "disconnected" in low:  # "Server disconnected without sending a response."
            return AssistError(f"{host} closed the connection without answering", "connection", None, partial)
        return AssistError(f"cannot reach {url} ({reason})", "connection", None, partial)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        msg = _scrub(exc.message or str(exc), config)
        where = " mid-stream" if got else ""
        return AssistError(f"the server reported an error{where}: {msg}", "server", None, partial)
    if isinstance(exc, ValueError):  # a data line that is not JSON
        return AssistError(f"{url} sent something that is not an OpenAI stream ({_scrub(str(exc), config)[:200]})",
                           "protocol", None, partial)
    if isinstance(exc, openai.OpenAIError):
        return AssistError(_scrub(str(exc), config), "client", None, partial)
    return AssistError(f"{type(exc).__name__}: {_scrub(str(exc), config)}", "client", None, partial)


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds from a response's Retry-After (or retry-after-ms) header, if it has one."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from datetime import datetime, timezone
            from email.utils import parsedate_to_datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def _status_error(exc: Any, config: AssistConfig, partial: Reply | None, url: str, endpoint: str,
                  kind: str) -> AssistError:
    """An HTTP error answer in plain words."""
    status = exc.status_code
    detail = _server_message(exc, config)
    said = f"HTTP {status}" + (f": {detail}" if detail else "")
    code = (exc.code or "").lower()
    # A 404 that names a model is about the model, except from /models itself: there it is the
    # URL that is wrong ("Cannot GET /v1/models").
    if code == "model_not_found" or (status == 404 and "model" in detail.lower() and kind != "models"):
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


def interrupted(config: AssistConfig, reply: Reply) -> AssistError:
    if not reply.chunks:
        msg = (f"{safe_url(config.base_url)} ended the stream without sending anything; is it an "
               "OpenAI-compatible API? (the server's log may tell more)")
    else:
        msg = ("the reply was cut off: the stream ended without a finish reason (llama.cpp's server does this "
               "when another request arrives)")
    return AssistError(msg, "interrupted", None, reply)


def _server_message(exc: Any, config: AssistConfig) -> str:
    # The openai SDK already took the error object out of {"error": {...}}; one more level is for
    # servers that nest it twice. FastAPI's {"detail": ...} and a bare {"message": ...} are read too.
    body = exc.body
    if isinstance(body, dict) and "error" in body:
        body = body["error"]
    msg = ""
    if isinstance(body, dict):
        msg = str(body.get("message") or body.get("detail") or "")
    elif isinstance(body, str) and not body.startswith("<"):  # (the SDK strips the text) an HTML page: nothing
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
        if text and text != "Connection error.":  # the SDK's own words (a timeout is explained before)
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
