"""The dataset linter behind `lima-tk validate` and the GUI's Problems panel. No I/O here but the store.

Every finding has a severity (error or warning) and a stable code: scripts and the Problems panel
filter by them, so codes are never renamed (see `CODES`). Errors are what a trainer rejects or what
teaches a model something wrong; warnings are worth a look. `lint_chat` checks one chat;
`Linter` adds what needs the whole dataset (duplicates); `lint_store` runs over a dataset with the
token totals of the token cache (for the context limit).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lima_tk.errors import quoted
from lima_tk.model import ROLES, Chat, Message, Tool

if TYPE_CHECKING:
    from lima_tk.store import ChatFilter, DatasetStore

ERROR = "error"
WARNING = "warning"

# code -> (severity, what it means). Never rename a code; add new ones.
CODES: dict[str, tuple[str, str]] = {
    "empty-chat": (ERROR, "the chat has no messages"),
    "no-assistant": (ERROR, "the chat has no assistant message"),
    "unknown-role": (ERROR, "a role other than system, user, assistant, tool"),
    "system-not-first": (WARNING, "a system message that is not the first message"),
    "starts-with-assistant": (WARNING, "the chat starts with an assistant message"),
    "same-role-twice": (WARNING, "two user (or two assistant) messages in a row"),
    "no-final-reply": (WARNING, "the chat does not end with an assistant reply"),
    "empty-message": (ERROR, "a message that is empty or only whitespace"),
    "trailing-whitespace": (WARNING, "a message that ends with spaces, tabs or blank lines"),
    "bad-arguments": (ERROR, "tool-call arguments that are not valid JSON"),
    "arguments-schema": (ERROR, "tool-call arguments that do not match the tool's parameter schema"),
    "unknown-function": (ERROR, "a call to a function that is not among the chat's tools"),
    "missing-tool-call-id": (ERROR, "a tool message without tool_call_id"),
    "dangling-tool-call-id": (ERROR, "a tool message whose tool_call_id answers no earlier call"),
    "unanswered-tool-call": (WARNING, "a tool call that no tool message answers"),
    "over-context-limit": (WARNING, "the chat has more tokens than the context limit"),
    "duplicate-chat": (WARNING, "the same messages as an earlier chat (up to leading/trailing whitespace)"),
    "near-duplicate-chat": (WARNING, "the same text as an earlier chat, up to case, punctuation and whitespace"),
    "language-mismatch": (WARNING, "the declared language is written in another script than the text"),
    "unreadable": (ERROR, "a file that cannot be read (validate FILE)"),
}


@dataclass
class Finding:
    code: str
    severity: str
    message: str
    chat_id: int | None = None
    chat_name: str = ""
    message_index: int | None = None  # 0-based position in the chat
    source: str | None = None  # "file:line" when checking a file that could not be read

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def where(self) -> str:
        if self.source:
            return self.source
        name = f" {quoted(self.chat_name)}" if self.chat_name else ""  # a giant name is cut (issue 10)
        msg = f" message {self.message_index + 1}" if self.message_index is not None else ""
        return f"chat {self.chat_id}{name}{msg}"


# -- one chat ----------------------------------------------------------------------------------


def lint_chat(chat: Chat, tokens: int | None = None, limit: int = 0, estimate: bool = False) -> list[Finding]:
    """Every problem of one chat on its own. `tokens`: its token total, checked against `limit`."""
    out: list[Finding] = []

    def add(code: str, text: str, index: int | None = None) -> None:
        out.append(Finding(code, CODES[code][0], text, chat.id, chat.name, index))

    msgs = chat.messages
    if not msgs:
        add("empty-chat", "the chat has no messages")
        return out
    if not any(m.role == "assistant" for m in msgs):
        add("no-assistant", "the chat has no assistant message")
    tools = {t.name: t for t in chat.tools}
    open_calls: dict[str, str] = {}
    answered: set[str] = set()
    prev = None
    for i, m in enumerate(msgs):
        if m.role not in ROLES:
            add("unknown-role", f"unknown role {m.role!r}", i)
        if m.role == "system" and i > 0:
            add("system-not-first", "a system message that is not the first message", i)
        if i == 0 and m.role == "assistant":
            add("starts-with-assistant", "the chat starts with an assistant message", i)
        if prev is not None and m.role == prev and m.role in ("user", "assistant") and not m.tool_calls:
            add("same-role-twice", f"two {m.role} messages in a row", i)
        has_text = bool(m.content and m.content.strip())
        if not has_text and not (m.role == "assistant" and m.tool_calls):
            add("empty-message", "the message is " + ("empty" if not m.content else "only whitespace"), i)
        elif has_text and m.content and m.content != m.content.rstrip():
            add("trailing-whitespace", "the message ends with whitespace", i)
        for call in m.tool_calls or []:
            _check_call(add, call, tools, i)
            if call.get("id"):
                open_calls[call["id"]] = (call.get("function") or {}).get("name", "")
        if m.role == "tool":
            if not m.tool_call_id:
                add("missing-tool-call-id", "a tool message without tool_call_id", i)
            elif m.tool_call_id not in open_calls:
                add("dangling-tool-call-id", f"tool_call_id {m.tool_call_id!r} answers no earlier call", i)
            else:
                answered.add(m.tool_call_id)
        prev = m.role
    for i, m in enumerate(msgs):
        for call in m.tool_calls or []:
            cid = call.get("id")
            if cid and cid not in answered and m.role == "assistant":
                name = (call.get("function") or {}).get("name")
                add("unanswered-tool-call", f"no tool message answers the call to {name!r} ({cid})", i)
    if msgs[-1].role != "assistant":
        add("no-final-reply", "the chat does not end with an assistant reply", len(msgs) - 1)
    if tokens is not None and limit and tokens > limit:
        mark = "~" if estimate else ""
        add("over-context-limit", f"{mark}{tokens:,} tokens, over the context limit of {limit:,}")
    mismatch = language_mismatch(chat.language, msgs)
    if mismatch:
        add("language-mismatch", mismatch)
    return out


def _check_call(add: Callable[..., None], call: dict[str, Any], tools: dict[str, Tool], i: int) -> None:
    fn = call.get("function") or {}
    name = fn.get("name")
    args = fn.get("arguments")
    try:
        if not isinstance(args, str):
            raise ValueError("not a string")
        value = json.loads(args)
    except ValueError:
        add("bad-arguments", f"arguments of the call to {name!r} are not valid JSON", i)
        value = _INVALID
    tool = tools.get(name) if isinstance(name, str) else None
    if tool is None:
        known = ", ".join(sorted(tools)) if tools else "the chat declares no tools"
        add("unknown-function", f"call to {name!r}, which is not among the chat's tools ({known})", i)
        return
    if value is not _INVALID and isinstance(tool.parameters, dict):
        problems = schema_problems(value, tool.parameters)
        if problems:
            more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
            add("arguments-schema", f"arguments of the call to {name!r}: {'; '.join(problems[:2])}{more}", i)


_INVALID: Any = object()
_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _kind(v: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](v):
            return name
    return type(v).__name__


def schema_problems(value: Any, schema: Any, path: str = "", depth: int = 0) -> list[str]:
    """The basic JSON Schema checks (type, required, properties, additionalProperties: false,
    enum, items, anyOf/oneOf) that catch a wrong call; unknown keywords are ignored."""
    if not isinstance(schema, dict) or depth > 20:
        return []
    where = path or "arguments"
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            if all(schema_problems(value, o, path, depth + 1) for o in options):
                return [f"{where} matches none of the allowed shapes"]
    types = schema.get("type")
    if isinstance(types, str):
        types = [types]
    if isinstance(types, list) and types:
        known = [t for t in types if t in _JSON_TYPES]
        if known and not any(_JSON_TYPES[t](value) for t in known):
            return [f"{where} should be {' or '.join(known)}, got {_kind(value)}"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return [f"{where} should be one of {', '.join(json.dumps(e, ensure_ascii=False) for e in enum[:6])}"]
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required")
        if isinstance(required, list):
            for key in required:
                if isinstance(key, str) and key not in value:
                    out.append(f"missing required {(path + '.' if path else '') + key!r}")
        for key, sub in value.items():
            if key in props:
                out += schema_problems(sub, props[key], f"{path}.{key}" if path else key, depth + 1)
            elif schema.get("additionalProperties") is False:
                out.append(f"unknown key {(path + '.' if path else '') + key!r}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for j, item in enumerate(value[:50]):
            out += schema_problems(item, schema["items"], f"{where}[{j}]", depth + 1)
    return out


# -- declared language vs the script of the text -------------------------------------------------

_RANGES = [
    (0x41, 0x5A, "Latin"), (0x61, 0x7A, "Latin"), (0xC0, 0x24F, "Latin"), (0x370, 0x3FF, "Greek"),
    (0x400, 0x52F, "Cyrillic"), (0x530, 0x58F, "Armenian"), (0x590, 0x5FF, "Hebrew"), (0x600, 0x6FF, "Arabic"),
    (0x750, 0x77F, "Arabic"), (0x900, 0x97F, "Devanagari"), (0x980, 0x9FF, "Bengali"), (0xA00, 0xA7F, "Gurmukhi"),
    (0xA80, 0xAFF, "Gujarati"), (0xB80, 0xBFF, "Tamil"), (0xC00, 0xC7F, "Telugu"), (0xC80, 0xCFF, "Kannada"),
    (0xD00, 0xD7F, "Malayalam"), (0xE00, 0xE7F, "Thai"), (0x10A0, 0x10FF, "Georgian"), (0x1100, 0x11FF, "Hangul"),
    (0x1200, 0x137F, "Ethiopic"), (0x1E00, 0x1EFF, "Latin"), (0x1F00, 0x1FFF, "Greek"), (0x3040, 0x30FF, "Kana"),
    (0x3130, 0x318F, "Hangul"), (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"), (0xAC00, 0xD7AF, "Hangul"),
    (0xF900, 0xFAFF, "Han"), (0xFB50, 0xFDFF, "Arabic"), (0xFE70, 0xFEFF, "Arabic"), (0x20000, 0x2FFFF, "Han"),
]
_SCRIPT_RX = {name: re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b, n in _RANGES if n == name) + "]+")
              for name in dict.fromkeys(r[2] for r in _RANGES)}
_LETTER = re.compile(r"[^\W\d_]+")


def _count(rx: re.Pattern[str], text: str) -> int:
    """Characters matched by `rx` (a class with +): runs, not single characters, are listed."""
    return sum(map(len, rx.findall(text)))
_LATIN = ("af az bs ca cs cy da de en eo es et eu fi fil fr ga gl ha hr hu id is it la lb lt lv ms mt nb nl nn no "
          "pl pt ro sk sl so sq sv sw tl tr uz vi yo zu").split()
LANGUAGE_SCRIPTS: dict[str, set[str]] = {
    **{code: {"Latin"} for code in _LATIN},
    **{code: {"Cyrillic"} for code in "ru uk be bg mk kk ky mn tg".split()},
    "sr": {"Cyrillic", "Latin"}, "el": {"Greek"}, "he": {"Hebrew"}, "yi": {"Hebrew"},
    **{code: {"Arabic"} for code in "ar fa ur ps ug".split()},
    **{code: {"Devanagari"} for code in "hi mr ne sa".split()},
    "bn": {"Bengali"}, "as": {"Bengali"}, "pa": {"Gurmukhi"}, "gu": {"Gujarati"}, "ta": {"Tamil"},
    "te": {"Telugu"}, "kn": {"Kannada"}, "ml": {"Malayalam"}, "th": {"Thai"}, "ka": {"Georgian"},
    "hy": {"Armenian"}, "am": {"Ethiopic"}, "ko": {"Hangul", "Han"}, "ja": {"Kana", "Han"}, "zh": {"Han"},
}
LANGUAGE_NAMES = {"english": "en", "russian": "ru", "german": "de", "french": "fr", "spanish": "es",
                  "italian": "it", "portuguese": "pt", "dutch": "nl", "polish": "pl", "ukrainian": "uk",
                  "chinese": "zh", "japanese": "ja", "korean": "ko", "arabic": "ar", "hebrew": "he",
                  "greek": "el", "hindi": "hi", "turkish": "tr", "thai": "th", "persian": "fa"}
MIN_LETTERS = 20  # too little text says nothing
MIN_SHARE = 0.25  # the declared script must be at least this share of the letters
SAMPLE_CHARS = 8_000


def _sample(texts: Iterable[str], limit: int) -> str:
    parts: list[str] = []
    left = limit
    for text in texts:
        if left <= 0:
            break
        parts.append(text[:left])
        left -= len(parts[-1])
    return "\n".join(parts)


def script_counts(texts: Iterable[str], limit: int = SAMPLE_CHARS) -> dict[str, int]:
    """Letters per script (Latin, Cyrillic, Han, ...) in the first `limit` characters of the texts."""
    text = _sample(texts, limit)
    counts = {}
    for name, rx in _SCRIPT_RX.items():
        n = _count(rx, text)
        if n:
            counts[name] = n
    return counts


def language_mismatch(language: str | None, messages: list[Message]) -> str | None:
    """A finding's text when the declared language's script is (nearly) absent from the text."""
    if not language:
        return None
    lang = language.strip().lower()
    lang = LANGUAGE_NAMES.get(lang, re.split(r"[-_]", lang)[0])
    expected = LANGUAGE_SCRIPTS.get(lang)
    if expected is None:
        return None
    text = _sample((m.content for m in messages if m.content and m.role in ("system", "user", "assistant")),
                   SAMPLE_CHARS)
    total = _count(_LETTER, text)  # regular expressions: C speed, no loop over characters here
    if total < MIN_LETTERS:
        return None
    share = sum(_count(_SCRIPT_RX[s], text) for s in expected) / total
    if share >= MIN_SHARE:
        return None
    counts = script_counts([text], 1000)  # only to name the script the text is in
    main = max(counts, key=lambda s: counts[s]) if counts else "another"
    return (f"declared language {language!r}, but the text is mostly {main} script "
            f"({'/'.join(sorted(expected))}: {share:.0%} of the letters)")


# -- the whole dataset: duplicates ---------------------------------------------------------------

_NEAR_DELETE = (string.punctuation + string.whitespace).encode()


def fingerprint(messages: Iterable[Message]) -> int:
    """Identity of a chat's messages: roles, texts (without leading and trailing whitespace) and
    tool calls. Equal fingerprints: a duplicate (import skips it; the linter reports it).
    Python's 64-bit string hash, in memory only (it differs between processes): a false match
    among a million chats has a chance of about 1 in 30 million."""
    key: list[Any] = []
    add = key.append
    for m in messages:
        add(m.role)
        add(m.content.strip() if m.content else "")
        if m.tool_calls:
            for call in m.tool_calls:
                fn = call.get("function") or {}
                add((fn.get("name", ""), str(fn.get("arguments", "")).strip()))
    return hash(tuple(key))


def near_fingerprint(messages: Iterable[Message]) -> bytes:
    """Identity up to case, ASCII punctuation and whitespace, ignoring system prompts (bytes.translate:
    six times faster than a regular expression over 100,000 chats)."""
    h = hashlib.blake2b(digest_size=16)
    for m in messages:
        if m.role == "system":
            continue
        h.update(m.role.encode())
        h.update(b"\x1f")
        if m.content:
            h.update(m.content.lower().encode("utf-8", "surrogatepass").translate(None, _NEAR_DELETE))
        h.update(b"\x1e")
    return h.digest()


class Linter:
    """Lints chats one after another, remembering what it saw to report duplicates of earlier ones."""

    def __init__(self) -> None:
        self.exact: dict[int, tuple[int | None, str]] = {}
        self.near: dict[bytes, tuple[int | None, str]] = {}

    def lint(self, chat: Chat, tokens: int | None = None, limit: int = 0, estimate: bool = False) -> list[Finding]:
        out = lint_chat(chat, tokens, limit, estimate)
        if not chat.messages:
            return out
        fp = fingerprint(chat.messages)
        first = self.exact.get(fp)
        if first is not None:
            out.append(Finding("duplicate-chat", WARNING, f"the same messages as chat {first[0]} {first[1]!r}",
                               chat.id, chat.name))
            return out
        self.exact[fp] = (chat.id, chat.name)
        nfp = near_fingerprint(chat.messages)
        first = self.near.get(nfp)
        if first is not None:
            out.append(Finding("near-duplicate-chat", WARNING,
                               f"the same text as chat {first[0]} {first[1]!r} (up to case, punctuation, whitespace)",
                               chat.id, chat.name))
        else:
            self.near[nfp] = (chat.id, chat.name)
        return out


def lint_chats(chats: Iterable[Chat]) -> Iterator[Finding]:
    """Every finding of these chats (duplicates of earlier ones included; no token checks)."""
    linter = Linter()
    for chat in chats:
        yield from linter.lint(chat)


def lint_store(
    store: DatasetStore,
    chat_filter: ChatFilter | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    batch: int = 500,
) -> Iterator[Finding]:
    """Every finding of the dataset (or the filtered chats), in list order. The context limit is
    checked against the token totals in the token cache (as last counted, see lima_tk.tokens);
    chats not counted yet are not checked. `progress(chats_done, total)`; `cancel` stops early."""
    key = store.active_token_key()
    limit = int(store.get_setting("context_limit") or 0)
    total = store.count_chats(chat_filter)
    linter = Linter()
    done = 0
    pending: list[Chat] = []

    def flush() -> Iterator[Finding]:
        totals = store.chat_token_totals([c.id for c in pending], key) if key is not None and limit else {}
        for chat in pending:
            t = totals.get(chat.id)  # type: ignore[arg-type]
            yield from linter.lint(chat, t.total if t else None, limit, bool(key and key.estimate))
        pending.clear()

    if progress is not None:
        progress(0, total)
    for chat in store.iter_chats(chat_filter):
        if cancel is not None and cancel.is_set():
            return
        pending.append(chat)
        if len(pending) >= batch:
            yield from flush()
            done += batch
            if progress is not None:
                progress(done, total)
    yield from flush()
    if progress is not None:
        progress(total, total)


def has_errors(chat: Chat) -> bool:
    """True when the chat has a linter error on its own (what "no problems only" exports leave out)."""
    return any(f.severity == ERROR for f in lint_chat(chat))
