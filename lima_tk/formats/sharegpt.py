"""ShareGPT: `{"conversations": [{"from": "human", "value": "..."}, ...]}` records, as one JSON
array (the FastChat / LLaMA-Factory shape) or as JSON lines.

Roles: `human` -> user, `gpt` -> assistant, `system` -> system, `function_call` -> an assistant
tool call (the value is JSON `{"name", "arguments"}` or a list of them), `observation` -> the tool
result. A top-level `system` string becomes the first message and `tools` (a JSON string or a
list, as LLaMA-Factory writes it) the chat's tools. The key and role names can be changed like
LLaMA-Factory's `dataset_info.json` "tags" with the option `sharegpt_tags` (CLI
`--sharegpt-tags messages=conversations,role=from,content=value,user=human,assistant=gpt,...`).

Export: a JSON array, one record per line: `{"conversations": [...], "tools": "<JSON string>"?}`.
The system prompt is the first turn (`"from": "system"`, as LLaMA-Factory reads it) or, with the
option `system=column`, a top-level `"system"` key (FastChat ignores it; LLaMA-Factory reads it
when its dataset_info maps the column). An assistant turn that calls tools is a `function_call`
turn whose value is `{"name", "arguments"}` (arguments an object) or a list of them for parallel
calls; the answers are one `observation` turn (their contents; a JSON list for several).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import Any

from lima_tk.errors import ValidationError
from lima_tk.formats.base import ReadContext, WriteContext
from lima_tk.formats.jsonlines import Head
from lima_tk.formats.jsonstream import read_values
from lima_tk.formats.openai import convert_tools, derive_name, kind
from lima_tk.formats.weights import apply_weight0
from lima_tk.model import Chat, Message

TAGS = {"messages": "conversations", "role": "from", "content": "value", "user": "human", "assistant": "gpt",
        "system": "system", "function": "function_call", "observation": "observation",
        "system_column": "system", "tools_column": "tools"}
USER_ALIASES = {"human", "user"}
ASSISTANT_ALIASES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model"}
TOOL_ALIASES = {"observation", "tool", "function_response"}
KNOWN_KEYS = {"id", "name", "lang", "language", "tags"}


def sniff(head: Head) -> bool:
    rec = head.record()
    if not isinstance(rec, dict):
        return False
    for key in ("conversations", "messages"):
        conv = rec.get(key)
        if isinstance(conv, list) and conv and isinstance(conv[0], dict) and "from" in conv[0]:
            return True
    return isinstance(rec.get("conversations"), list) and not rec.get("conversations")


def parse_tags(value: Any) -> dict[str, str]:
    """LLaMA-Factory-style tag names: a dict, or 'key=value,key=value' (the CLI's form)."""
    if value is None or value == "":
        return dict(TAGS)
    if isinstance(value, str):
        pairs = {}
        for item in value.split(","):
            if not item.strip():
                continue
            if "=" not in item:
                raise ValidationError(f"sharegpt tags must be key=value pairs, got {item!r}")
            k, v = item.split("=", 1)
            pairs[k.strip()] = v.strip()
        value = pairs
    if not isinstance(value, dict):
        raise ValidationError("sharegpt tags must be key=value pairs")
    unknown = set(value) - set(TAGS)
    if unknown:
        raise ValidationError(f"unknown sharegpt tag {sorted(unknown)[0]!r} (known: {', '.join(TAGS)})")
    return {**TAGS, **{k: str(v) for k, v in value.items()}}


def read(ctx: ReadContext) -> Iterator[Chat]:
    tags = parse_tags(ctx.options.get("sharegpt_tags"))
    roles = _roles(tags)
    for obj in read_values(ctx, "record"):
        yield ctx.finish_chat(convert(ctx, obj, tags, roles))


def _roles(tags: dict[str, str]) -> dict[str, str]:
    roles = {r: "user" for r in USER_ALIASES} | {r: "assistant" for r in ASSISTANT_ALIASES}
    roles |= {r: "tool" for r in TOOL_ALIASES} | {"system": "system", "function_call": "call"}
    roles |= {tags["user"]: "user", tags["assistant"]: "assistant", tags["system"]: "system",
              tags["function"]: "call", tags["observation"]: "tool"}
    return roles


_PLAIN = {"user", "assistant", "system"}


def convert(ctx: ReadContext, obj: Any, tags: dict[str, str], roles: dict[str, str] | None = None) -> Chat:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected a JSON object, got {kind(obj)}")
    key = tags["messages"]
    raw = obj.get(key)
    if raw is None and key == "conversations" and isinstance(obj.get("messages"), list):
        raw = obj["messages"]
    if not isinstance(raw, list):
        raise ctx.error(f"'{key}' must be a list, got {kind(raw)}")
    roles = roles or _roles(tags)
    role_key, content_key = tags["role"], tags["content"]
    messages: list[Message] = []
    append = messages.append
    open_calls: deque[str] = deque()
    n_calls = 0
    for i, turn in enumerate(raw, 1):
        # Fast path for the common plain text turn; anything else takes the checked path below.
        if type(turn) is dict:
            who = turn.get(role_key)
            value = turn.get(content_key)
            if type(who) is str and type(value) is str:
                role = roles.get(who)
                if role in _PLAIN:
                    append(Message(role, value))
                    continue
        where = f"turn {i}: "
        if not isinstance(turn, dict):
            raise ctx.error(f"{where}expected an object, got {kind(turn)}")
        who = turn.get(role_key)
        role = roles.get(who) if isinstance(who, str) else None
        if role is None:
            raise ctx.error(f"{where}unknown role {who!r} (known: {', '.join(sorted(set(roles)))})")
        value = turn.get(content_key)
        if value is None:
            value = ""
        if role == "call":
            calls = _calls(ctx, value, where)
            out = []
            for name, args in calls:
                n_calls += 1
                cid = f"call_{n_calls}"
                open_calls.append(cid)
                out.append({"id": cid, "type": "function", "function": {"name": name, "arguments": args}})
            messages.append(Message("assistant", None, tool_calls=out))
            continue
        if not isinstance(value, str):
            raise ctx.error(f"{where}'{content_key}' must be a string, got {kind(value)}")
        if role == "tool":
            parts = [value]
            if len(open_calls) > 1:
                try:
                    many = json.loads(value)
                except ValueError:
                    many = None
                if isinstance(many, list) and len(many) == len(open_calls):
                    parts = [p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in many]
            for part in parts:
                cid = open_calls.popleft() if open_calls else None
                if cid is None:
                    ctx.warn("an observation without a function_call before it")
                messages.append(Message("tool", part, tool_call_id=cid))
            continue
        messages.append(Message(role, value))
    system = obj.get(tags["system_column"])
    if isinstance(system, str) and system.strip() and not (messages and messages[0].role == "system"):
        messages.insert(0, Message("system", system))
    elif system is not None and not isinstance(system, str):
        raise ctx.error(f"'{tags['system_column']}' must be a string, got {kind(system)}")
    tools_raw = obj.get(tags["tools_column"])
    if isinstance(tools_raw, str):
        if tools_raw.strip():
            try:
                tools_raw = json.loads(tools_raw)
            except ValueError:
                raise ctx.error(f"'{tags['tools_column']}' is not valid JSON") from None
        else:
            tools_raw = None
    chat = Chat(messages=messages, tools=convert_tools(ctx, tools_raw, tags["tools_column"]) if tools_raw else [])
    if len(obj) > 1:
        used = {key, "messages", tags["system_column"], tags["tools_column"]}
        for k in obj:
            if k not in used and k not in KNOWN_KEYS:
                ctx.warn(f"unknown key {k!r} ignored")
        name = obj.get("name")
        if isinstance(name, str) and name:
            chat.name = name
        lang = obj.get("lang", obj.get("language"))
        chat.language = lang if isinstance(lang, str) and lang else None
        rec_tags = obj.get("tags")
        if isinstance(rec_tags, list) and all(isinstance(t, str) for t in rec_tags):
            chat.tags = [t.strip() for t in dict.fromkeys(rec_tags) if t.strip()]
    if not chat.name:
        chat.name = derive_name(messages)
    return chat


def _calls(ctx: ReadContext, value: Any, where: str) -> list[tuple[str, str]]:
    """A function_call value: JSON {"name", "arguments"} or a list of them -> (name, arguments JSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ctx.error(f"{where}a function_call value must be JSON {{\"name\", \"arguments\"}}") from None
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ctx.error(f"{where}a function_call needs a 'name'")
        args = item.get("arguments", item.get("parameters", {}))
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        out.append((item["name"], args))
    if not out:
        raise ctx.error(f"{where}an empty function_call")
    return out


# -- export ----------------------------------------------------------------------------------


def write(chat: Chat, ctx: WriteContext) -> dict[str, Any] | None:
    tags = parse_tags(ctx.options.get("sharegpt_tags"))
    system_mode = ctx.options.get("system", "turn")
    if system_mode not in ("turn", "column"):
        raise ValidationError(f"system must be 'turn' or 'column', got {system_mode!r}")
    if not any(m.role == "assistant" for m in chat.messages):
        ctx.skip(chat, "no assistant message")
        return None
    chat = apply_weight0(chat, ctx, "sharegpt")
    if chat is None:
        return None
    role_key, content_key = tags["role"], tags["content"]
    turns: list[dict[str, Any]] = []
    system: str | None = None
    msgs = chat.messages
    i = 0
    while i < len(msgs):
        m = msgs[i]
        if m.role == "system" and i == 0 and system_mode == "column":
            system = m.content or ""
        elif m.role == "assistant" and m.tool_calls:
            if m.content and m.content.strip():
                ctx.warn("assistant text next to tool calls dropped (ShareGPT has no place for it)")
            calls = [_call_value(tc) for tc in m.tool_calls]
            value = calls[0] if len(calls) == 1 else calls
            turns.append({role_key: tags["function"], content_key: json.dumps(value, ensure_ascii=False)})
            answers = []
            while i + 1 < len(msgs) and msgs[i + 1].role == "tool":
                i += 1
                answers.append(msgs[i].content or "")
            if len(answers) > 1:
                ctx.warn("parallel tool results written as one observation holding a JSON list (LLaMA-Factory "
                         "trains it as one <tool_response>; see docs/formats.md)")
            if answers:
                value = answers[0] if len(answers) == 1 else json.dumps(answers, ensure_ascii=False)
                turns.append({role_key: tags["observation"], content_key: value})
        else:
            role = {"user": tags["user"], "assistant": tags["assistant"], "system": tags["system"],
                    "tool": tags["observation"]}[m.role]
            turns.append({role_key: role, content_key: m.content or ""})
        i += 1
    out: dict[str, Any] = {tags["messages"]: turns}
    if system is not None:
        out[tags["system_column"]] = system
    if chat.tools:
        out[tags["tools_column"]] = json.dumps([t.to_openai()["function"] for t in chat.tools], ensure_ascii=False)
    return out


def _call_value(tc: dict[str, Any]) -> dict[str, Any]:
    fn = tc.get("function") or {}
    args = fn.get("arguments", "")
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except ValueError:
        parsed = args  # not JSON: kept as the string (the linter reports it)
    return {"name": fn.get("name", ""), "arguments": parsed}
