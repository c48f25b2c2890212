"""OpenAI fine-tuning JSONL: `{"messages": [...], "tools": [...]?, "parallel_tool_calls": bool?}` per line.

Import also takes the legacy shapes (top-level `functions`, assistant `function_call`, role
`function`) and converts them to tools / tool_calls / tool messages. The chat converter here is
shared with the lima-gui JSONL and CSV readers, which use the same message shape.
Export follows guide section 4: only known keys, content strings, no dangling tool_call_id,
every example has an assistant message.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from lima_tk.formats.base import ReadContext, WriteContext
from lima_tk.formats.jsonlines import Head, json_lines
from lima_tk.model import FUNCTION_NAME_RE, ROLES, Chat, Message, Tool

CHAT_KEYS = {"messages", "tools", "functions", "parallel_tool_calls", "name", "lang", "tags", "dialog"}
MESSAGE_KEYS = {"role", "content", "name", "tool_calls", "tool_call_id", "weight", "function_call"}
NAME_WORDS = 8  # a derived chat name: the first words of the first user message


def kind(value: Any) -> str:
    """How a JSON value reads in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def sniff(head: Head) -> bool:
    return isinstance(head.obj, dict) and "messages" in head.obj


def read(ctx: ReadContext) -> Iterator[Chat]:
    for obj in json_lines(ctx.lines, ctx):
        yield ctx.finish_chat(chat_from_object(ctx, obj))


# -- import: one JSON object -> Chat ----------------------------------------------------------


def chat_from_object(ctx: ReadContext, obj: Any, messages_key: str = "messages") -> Chat:
    """An OpenAI (or lima-gui) chat object to a Chat; raises ctx.error on a wrong shape."""
    if type(obj) is dict and len(obj) == 1:  # the usual {"messages": [...]}: nothing else to read
        raw = obj.get(messages_key)
        if type(raw) is list:
            messages = convert_messages(ctx, raw)
            return Chat(derive_name(messages), messages=messages)
    if not isinstance(obj, dict):
        raise ctx.error(f"expected a JSON object, got {kind(obj)}")
    raw = obj.get(messages_key)
    if raw is None and messages_key == "messages" and "dialog" in obj:
        raw = obj["dialog"]  # lima-gui's older key
    if not isinstance(raw, list):
        raise ctx.error(f"'{messages_key}' must be a list, got {kind(raw)}")
    if not obj.keys() <= CHAT_KEYS:
        for key in sorted(obj.keys() - CHAT_KEYS):
            ctx.warn(f"unknown key {key!r} ignored")
    tools = convert_tools(ctx, obj.get("tools"), "tools")
    legacy = convert_tools(ctx, obj.get("functions"), "functions")
    if legacy:
        have = {t.name for t in tools}
        tools += [t for t in legacy if t.name not in have]
    chat = Chat(messages=convert_messages(ctx, raw), tools=tools)
    chat.name = _str_or_none(ctx, obj, "name") or derive_name(chat.messages)
    chat.language = _str_or_none(ctx, obj, "lang") or None
    tags = obj.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ctx.error("'tags' must be a list of strings")
        chat.tags = [t.strip() for t in dict.fromkeys(tags) if t.strip()]
    ptc = obj.get("parallel_tool_calls")
    if ptc is not None:
        if not isinstance(ptc, bool):
            raise ctx.error(f"'parallel_tool_calls' must be true or false, got {kind(ptc)}")
        chat.extra["parallel_tool_calls"] = ptc
    return chat


def derive_name(messages: list[Message]) -> str:
    """Something readable for the chat list: the first words of the first user message."""
    for m in messages:
        if m.role == "user" and m.content:
            words = m.content.split(maxsplit=NAME_WORDS)  # never split all of a long message
            name = " ".join(words[:NAME_WORDS])
            return name[:80] + ("…" if len(words) > NAME_WORDS or len(name) > 80 else "")
    return ""


def _str_or_none(ctx: ReadContext, obj: dict[str, Any], key: str, where: str = "") -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ctx.error(f"{where}'{key}' must be a string, got {kind(value)}")
    return value


def convert_tools(ctx: ReadContext, raw: Any, key: str) -> list[Tool]:
    """`tools` ([{type, function: {...}}]) or legacy `functions` ([{name, ...}]) to Tools."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ctx.error(f"'{key}' must be a list, got {kind(raw)}")
    out: list[Tool] = []
    for j, t in enumerate(raw, 1):
        where = f"{key}[{j}]: "
        if not isinstance(t, dict):
            raise ctx.error(f"{where}expected an object, got {kind(t)}")
        if t.get("type", "function") != "function":
            ctx.warn(f"tools of type {t.get('type')!r} are not supported; dropped")
            continue
        fn = t["function"] if "function" in t else t
        if not isinstance(fn, dict):
            raise ctx.error(f"{where}'function' must be an object, got {kind(fn)}")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise ctx.error(f"{where}a function needs a name")
        _str_or_none(ctx, fn, "description", where)
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise ctx.error(f"{where}'parameters' must be an object, got {kind(params)}")
        strict = fn.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise ctx.error(f"{where}'strict' must be true or false, got {kind(strict)}")
        if not FUNCTION_NAME_RE.match(name):
            ctx.warn(f"function name {name!r} does not match ^[A-Za-z0-9_-]{{1,64}}$")
        out.append(Tool.from_openai(fn))
    return out


def _content(ctx: ReadContext, value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        # A list of content parts: keep the text parts, joined (lossy, so say so).
        texts = []
        for part in value:
            if not isinstance(part, dict):
                raise ctx.error(f"{where}content parts must be objects, got {kind(part)}")
            if part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise ctx.error(f"{where}a text part needs a string 'text'")
                texts.append(text)
            else:
                ctx.warn(f"content parts of type {part.get('type')!r} dropped")
        ctx.warn("content given as a list of parts was joined into one string")
        return "\n".join(texts)
    raise ctx.error(f"{where}content must be a string, got {kind(value)}")


def _arguments(ctx: ReadContext, value: Any, where: str) -> str:
    """Tool-call arguments as a JSON string: a string is kept exactly, an object is dumped."""
    if isinstance(value, str):
        return value
    if value is None:
        ctx.warn("tool call without arguments given '{}'")
        return "{}"
    if not isinstance(value, (dict, list)):
        raise ctx.error(f"{where}arguments must be a JSON string or object, got {kind(value)}")
    return json.dumps(value, ensure_ascii=False)


class _Calls:
    """Tool-call ids of one chat: generates missing ids, and matches legacy answers FIFO by name."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.open: dict[str, deque[str]] = {}
        self.n = 0

    def new_id(self) -> str:
        while True:
            self.n += 1
            cid = f"call_{self.n}"
            if cid not in self.used:
                return cid

    def opened(self, cid: str, name: str) -> None:
        self.used.add(cid)
        self.open.setdefault(name, deque()).append(cid)

    def answer(self, name: str | None, cid: str | None = None) -> str | None:
        """Close the call `cid`, or the oldest open call of function `name`; returns its id."""
        if cid is not None:
            for q in self.open.values():
                if cid in q:
                    q.remove(cid)
                    break
            return cid
        q = self.open.get(name or "")
        return q.popleft() if q else None


_PLAIN_ROLES = {"system", "user", "assistant"}


def convert_messages(ctx: ReadContext, raw: list[Any]) -> list[Message]:
    calls: _Calls | None = None  # made at the first message that is not a plain turn
    out: list[Message] = []
    append = out.append
    for i, m in enumerate(raw, 1):
        # Fast path for the common plain text turn ({role, content} and maybe a 0/1 weight: a
        # length test instead of a key-set comparison, ~1/3 of a big import's reading, issue 15);
        # anything else takes the checked path below.
        if type(m) is dict:
            role, content = m.get("role"), m.get("content")
            if role in _PLAIN_ROLES and type(content) is str:
                n = len(m)
                if n == 2:
                    append(Message(role, content))
                    continue
                if n == 3:
                    weight = m.get("weight")
                    if weight is not None and type(weight) is int and weight in (0, 1):
                        append(Message(role, content, None, None, None, weight))
                        continue
        if calls is None:
            calls = _Calls()
        where = f"message {i}: "
        if not isinstance(m, dict):
            raise ctx.error(f"{where}expected an object, got {kind(m)}")
        role = m.get("role")
        if not isinstance(role, str):
            raise ctx.error(f"{where}'role' must be a string, got {kind(role)}")
        if role not in ROLES and role != "function":
            raise ctx.error(f"{where}unknown role {role!r} (known: {', '.join(ROLES)}, function)")
        content = _content(ctx, m.get("content"), where)
        name = _str_or_none(ctx, m, "name", where) or None
        tool_call_id = _str_or_none(ctx, m, "tool_call_id", where)
        weight = m.get("weight")
        if weight is not None and (type(weight) is not int or weight not in (0, 1)):
            raise ctx.error(f"{where}weight must be 0 or 1, got {weight!r}")
        if not m.keys() <= MESSAGE_KEYS:
            for key in sorted(m.keys() - MESSAGE_KEYS):
                ctx.warn(f"unknown message key {key!r} ignored")
        tool_calls = _tool_calls(ctx, m, calls, where)
        if role == "function":  # legacy answer: becomes a tool message tied to the open call
            if name is None:
                raise ctx.error(f"{where}a 'function' message needs the function's 'name'")
            role, tool_call_id = "tool", calls.answer(name)
            if tool_call_id is None:
                ctx.warn(f"function answer {name!r} has no open function_call to answer")
            name = None
        elif role == "tool":
            tool_call_id = calls.answer(name, tool_call_id)
        if content is None and not tool_calls:
            content = ""  # null text is only meaningful next to tool calls
        out.append(Message(role, content, name, tool_calls or None, tool_call_id, weight))
    return out


def _tool_calls(ctx: ReadContext, m: dict[str, Any], calls: _Calls, where: str) -> list[dict[str, Any]]:
    raw = m.get("tool_calls")
    out: list[dict[str, Any]] = []
    if raw is not None:
        if not isinstance(raw, list):
            raise ctx.error(f"{where}'tool_calls' must be a list, got {kind(raw)}")
        for tc in raw:
            if not isinstance(tc, dict) or not isinstance(tc.get("function"), dict):
                raise ctx.error(f"{where}a tool call must be {{id, type, function: {{name, arguments}}}}")
            fn = tc["function"]
            name = fn.get("name")
            if not isinstance(name, str) or not name:
                raise ctx.error(f"{where}a tool call needs a function name")
            cid = tc.get("id")
            if cid is None:
                cid = calls.new_id()
                ctx.warn("tool call without id given a generated one")
            elif not isinstance(cid, str):
                raise ctx.error(f"{where}a tool call id must be a string, got {kind(cid)}")
            if not isinstance(fn.get("arguments"), str):
                ctx.warn("tool call arguments given as an object were turned into a JSON string")
            args = _arguments(ctx, fn.get("arguments"), where)
            out.append({"id": cid, "type": "function", "function": {"name": name, "arguments": args}})
            calls.opened(cid, name)
    fc = m.get("function_call")
    if fc is not None:  # legacy single call; lima-gui writes `arguments` as an object
        if not isinstance(fc, dict) or not isinstance(fc.get("name"), str) or not fc["name"]:
            raise ctx.error(f"{where}'function_call' must be {{name, arguments}}")
        cid = calls.new_id()
        args = _arguments(ctx, fc.get("arguments"), where)
        out.append({"id": cid, "type": "function", "function": {"name": fc["name"], "arguments": args}})
        calls.opened(cid, fc["name"])
    return out


# -- export: Chat -> one JSON object ----------------------------------------------------------


def write(chat: Chat, ctx: WriteContext) -> dict[str, Any] | None:
    """The training example for one chat, or None (skipped, with a warning) when it would be invalid."""
    if not any(m.role == "assistant" for m in chat.messages):
        ctx.skip(chat, "no assistant message")
        return None
    for t in chat.tools:
        if not FUNCTION_NAME_RE.match(t.name or ""):
            ctx.skip(chat, f"tool name {t.name!r} does not match ^[A-Za-z0-9_-]{{1,64}}$")
            return None
    opened: set[str] = set()
    messages = []
    for m in chat.messages:
        d: dict[str, Any] = {"role": m.role}
        calls = m.tool_calls if m.role == "assistant" else None
        if m.tool_calls and not calls:
            ctx.warn(f"tool calls on {m.role} messages dropped")
        d["content"] = m.content if (m.content is not None or calls) else ""
        if m.name:
            d["name"] = m.name
        if calls:
            out_calls = []
            for tc in calls:
                fn = tc.get("function") or {}
                name, args = fn.get("name", ""), fn.get("arguments", "")
                if not FUNCTION_NAME_RE.match(name or ""):
                    ctx.skip(chat, f"tool call name {name!r} does not match ^[A-Za-z0-9_-]{{1,64}}$")
                    return None
                if not isinstance(args, str):
                    args = json.dumps(args, ensure_ascii=False)
                fn_out = {"name": name, "arguments": args}
                out_calls.append({"id": tc.get("id"), "type": "function", "function": fn_out})
                opened.add(tc.get("id"))
            d["tool_calls"] = out_calls
        if m.role == "tool":
            if m.tool_call_id is None or m.tool_call_id not in opened:
                ctx.skip(chat, f"tool message with dangling tool_call_id {m.tool_call_id!r}")
                return None
            d["tool_call_id"] = m.tool_call_id
        if m.weight is not None:
            if m.role == "assistant":
                d["weight"] = m.weight
            else:
                ctx.warn(f"weight on {m.role} messages dropped (assistant messages only)")
        messages.append(d)
    out: dict[str, Any] = {"messages": messages}
    if chat.tools:
        out["tools"] = [t.to_openai() for t in chat.tools]
    ptc = chat.extra.get("parallel_tool_calls")
    if isinstance(ptc, bool):
        out["parallel_tool_calls"] = ptc
    return out


# -- export fast path -------------------------------------------------------------------------


def fast_lines(store: Any, chat_filter: Any, batch: int = 1000) -> Iterator[tuple[int, str | None, int]]:
    """For a plain chat (text turns only, an assistant turn, weights only on assistant turns, no
    tools or extra fields) SQLite builds the exact line `write` would, as the raw baseline does
    (`DatasetStore.openai_lines`); any other chat gets None and goes through `write` with its
    checks and warnings."""
    return store.openai_lines(chat_filter, batch)
