"""Alpaca: `{"instruction", "input", "output"}` records (+ optional `system` and `history`, as
LLaMA-Factory reads them), as one JSON array (like `alpaca_data.json`) or as JSON lines.

Import: `system` -> system message; each `history` pair `[question, answer]` -> a user and an
assistant message; then `instruction` (+ a blank line + `input`, when there is one; the option
`input_separator` changes the "\\n\\n") -> user, `output` -> assistant.

Export (a JSON array, one record per line): chats that are an optional system message and then
user/assistant pairs, without tools. The last pair is `instruction`/`output` (`input` is always
`""`); earlier pairs go to `history` (the option `multi_turn=skip` skips such chats instead);
`system` only when the chat has one. Other chats (tools, two users in a row, no final assistant
reply...) are skipped and reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lima_tk.errors import ValidationError
from lima_tk.formats.base import ReadContext, WriteContext
from lima_tk.formats.jsonlines import Head
from lima_tk.formats.jsonstream import read_values
from lima_tk.formats.openai import derive_name, kind
from lima_tk.formats.weights import apply_weight0
from lima_tk.model import Chat, Message

KEYS = {"instruction", "input", "output", "system", "history"}
KNOWN_KEYS = {"id", "name", "lang", "language", "tags", "text"}


def sniff(head: Head) -> bool:
    rec = head.record()
    return isinstance(rec, dict) and "instruction" in rec and "output" in rec


def read(ctx: ReadContext) -> Iterator[Chat]:
    sep = ctx.options.get("input_separator", "\n\n")
    for obj in read_values(ctx, "record"):
        yield ctx.finish_chat(convert(ctx, obj, sep))


def _str(ctx: ReadContext, obj: dict[str, Any], key: str, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise ctx.error(f"'{key}' is missing")
        return ""
    if not isinstance(value, str):
        raise ctx.error(f"'{key}' must be a string, got {kind(value)}")
    return value


def convert(ctx: ReadContext, obj: Any, sep: str) -> Chat:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected a JSON object, got {kind(obj)}")
    instruction = _str(ctx, obj, "instruction", True)
    extra_input = _str(ctx, obj, "input")
    output = _str(ctx, obj, "output", True)
    system = _str(ctx, obj, "system")
    messages: list[Message] = []
    if system.strip():
        messages.append(Message("system", system))
    history = obj.get("history")
    if history is not None:
        if not isinstance(history, list):
            raise ctx.error(f"'history' must be a list of [question, answer] pairs, got {kind(history)}")
        for pair in history:
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, str) for x in pair)):
                raise ctx.error("'history' must be a list of [question, answer] pairs of strings")
            messages += [Message("user", pair[0]), Message("assistant", pair[1])]
    user = instruction + (sep + extra_input if extra_input.strip() else "")
    messages += [Message("user", user), Message("assistant", output)]
    for k in obj:
        if k not in KEYS and k not in KNOWN_KEYS:
            ctx.warn(f"unknown key {k!r} ignored")
    name = obj.get("name")
    lang = obj.get("lang", obj.get("language"))
    tags = obj.get("tags")
    return Chat(
        name=name if isinstance(name, str) and name else derive_name(messages),
        language=lang if isinstance(lang, str) and lang else None,
        tags=[t.strip() for t in dict.fromkeys(tags) if t.strip()]
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else [],
        messages=messages,
    )


def write(chat: Chat, ctx: WriteContext) -> dict[str, Any] | None:
    mode = ctx.options.get("multi_turn", "history")
    if mode not in ("history", "skip"):
        raise ValidationError(f"multi_turn must be 'history' or 'skip', got {mode!r}")
    weighted = apply_weight0(chat, ctx, "alpaca")
    if weighted is None:
        return None
    msgs = list(weighted.messages)
    system = None
    if msgs and msgs[0].role == "system":
        system = msgs.pop(0).content or ""
    if chat.tools or any(m.tool_calls or m.role == "tool" for m in msgs):
        ctx.skip(chat, "tools and tool calls have no place in Alpaca", fold=True)
        return None
    if not msgs or len(msgs) % 2 or any(m.role != ("user", "assistant")[i % 2] for i, m in enumerate(msgs)):
        ctx.skip(chat, "not (system +) user/assistant pairs", fold=True)
        return None
    pairs = [[msgs[i].content or "", msgs[i + 1].content or ""] for i in range(0, len(msgs), 2)]
    if len(pairs) > 1 and mode == "skip":
        ctx.skip(chat, "multi-turn (multi_turn=skip)", fold=True)
        return None
    last = pairs.pop()
    out: dict[str, Any] = {"instruction": last[0], "input": "", "output": last[1]}
    if system is not None:
        out["system"] = system
    if pairs:
        out["history"] = pairs
    return out
