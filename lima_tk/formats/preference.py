"""Preference pairs (DPO) from message alternatives: `pref-trl` and `pref-openai` exports (JSONL).

An assistant message with other versions (alternatives, from regenerating or from a ChatGPT
export's branches) gives one row per version marked *rejected* (`DatasetStore.set_alternative_rejected`,
or the editor): the shown version is the chosen one, the messages before the turn are the prompt.
With the option `rejected=all`, every version that is not shown counts as rejected.

- `pref-trl` (TRL conversational preference): `{"prompt": [messages], "chosen": [{"role":
  "assistant", "content"}], "rejected": [{"role": "assistant", "content"}], "tools"?: [...]}`;
  `tools` (the chat's, without `strict`) only when it has some; tool-call arguments in the prompt
  are objects, as chat templates expect.
- `pref-openai` (OpenAI preference fine-tuning): `{"input": {"messages": [...], "tools"?: [...],
  "parallel_tool_calls"?: bool}, "preferred_output": [{"role": "assistant", "content"}],
  "non_preferred_output": [{"role": "assistant", "content"}]}`.

Prompt messages are in the OpenAI shape (role, content, and tool_calls / tool_call_id / name when
set). Pairs where either version calls tools (text only in preference outputs), or with no prompt,
are left out with a warning; chats without any pair are counted as skipped.
"""

from __future__ import annotations

import json
from typing import Any

from lima_tk.errors import ValidationError
from lima_tk.formats.base import WriteContext
from lima_tk.model import Chat, Message
from lima_tk.tokens import arguments_object


def _message(m: Message, object_args: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role, "content": m.content if (m.content is not None or m.tool_calls) else ""}
    if m.name:
        d["name"] = m.name
    if m.tool_calls and m.role == "assistant":
        calls = []
        for tc in m.tool_calls:
            fn = tc.get("function") or {}
            args = fn.get("arguments", "")
            calls.append({"id": tc.get("id"), "type": "function",
                          "function": {"name": fn.get("name", ""),
                                       "arguments": _args(args, object_args)}})
        d["tool_calls"] = calls
    if m.role == "tool":
        d["tool_call_id"] = m.tool_call_id
    return d


def _args(args: Any, as_object: bool) -> Any:
    """OpenAI wants a JSON string; TRL renders the prompt with the model's chat template, which
    expects an object (a string would be trained as an escaped string)."""
    if as_object:
        return arguments_object(args)
    return args if isinstance(args, str) else json.dumps(args)


def pairs(chat: Chat, ctx: WriteContext, object_args: bool = False) -> list[tuple[list[dict[str, Any]], str, str]]:
    """(prompt messages, chosen text, rejected text) of every preference pair in the chat."""
    mode = ctx.options.get("rejected", "marked")
    if mode not in ("marked", "all"):
        raise ValidationError(f"rejected must be 'marked' or 'all', got {mode!r}")
    out = []
    for i, m in enumerate(chat.messages):
        if m.role != "assistant" or not m.alternatives:
            continue
        rejected = [a for a in m.alternatives if mode == "all" or a.get("rejected")]
        if not rejected:
            continue
        if i == 0:
            ctx.warn("a reply with rejected versions but no prompt before it left out")
            continue
        if m.tool_calls or any(a.get("tool_calls") for a in rejected):
            ctx.warn("preference pairs whose versions call tools left out (text only)")
            continue
        prompt = [_message(p, object_args) for p in chat.messages[:i]]
        for a in rejected:
            out.append((prompt, m.content or "", a.get("content") or ""))
    return out


def write_trl(chat: Chat, ctx: WriteContext) -> list[dict[str, Any]] | None:
    # DPOTrainer passes an optional `tools` column to the chat template with the prompt (issue 11).
    tools = [{"type": "function", "function": {k: v for k, v in t.to_openai()["function"].items() if k != "strict"}}
             for t in chat.tools]
    rows = [{"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
             "rejected": [{"role": "assistant", "content": rejected}], **({"tools": tools} if tools else {})}
            for prompt, chosen, rejected in pairs(chat, ctx, object_args=True)]
    if not rows:
        ctx.skip(chat, "no rejected alternative", fold=True)
        return None
    return rows


def write_openai(chat: Chat, ctx: WriteContext) -> list[dict[str, Any]] | None:
    rows = []
    for prompt, chosen, rejected in pairs(chat, ctx):
        inp: dict[str, Any] = {"messages": prompt}
        if chat.tools:
            inp["tools"] = [t.to_openai() for t in chat.tools]
        ptc = chat.extra.get("parallel_tool_calls")
        if isinstance(ptc, bool):
            inp["parallel_tool_calls"] = ptc
        rows.append({"input": inp, "preferred_output": [{"role": "assistant", "content": chosen}],
                     "non_preferred_output": [{"role": "assistant", "content": rejected}]})
    if not rows:
        ctx.skip(chat, "no rejected alternative", fold=True)
        return None
    return rows
