"""ChatGPT data export: `conversations.json` (a JSON array of conversations) or the export `.zip`.

Each conversation is a tree in `mapping` (node id -> {message, parent, children}). The chat that
is imported is the visible thread: from `current_node` up through `parent` to the root, reversed
(when `current_node` is missing or unknown, from the most recent leaf). Nodes without a message,
hidden nodes (`metadata.is_visually_hidden_from_conversation`) and empty ones are skipped.

Options (`import_file(..., options={...})`, CLI flags in brackets):

- `placeholder` (`--placeholder`): text for a non-text part (an image, a file, audio), with
  `{kind}` replaced by "image", "audio", "video", "file" or the part's type; default `[{kind}]`;
  `""` drops such parts.
- `code_turns` (`--code-turns`): `tools` (default) turns code the assistant ran (and other calls
  to ChatGPT's own tools: browsing, images) into tool calls and their output into tool messages;
  `drop` leaves them out.
- `custom_instructions` (`--no-custom-instructions`): keep the user's custom instructions (the
  hidden `user_editable_context` node or a system message carrying `user_context_message_data`)
  as the system message; default true.
- `regenerations` (`--regenerations`): `alternatives` (default) keeps the other versions of an
  assistant reply (sibling branches: "regenerate") as alternatives of the message, to compare or
  to mark as rejected for preference pairs; `drop` keeps the visible version only.

Title -> chat name (an untitled conversation or "New chat" is named after the first words of the
first user message); `create_time` -> created_at, `update_time` -> updated_at; the conversation
id is kept in `extra["chatgpt_id"]`. Assistant replies are marked as generated, with the model
(`metadata.model_slug`). A conversation with no user or assistant message is skipped and counted.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from lima_tk.errors import ValidationError, quoted
from lima_tk.formats.base import ReadContext
from lima_tk.formats.jsonlines import Head
from lima_tk.formats.jsonstream import read_values
from lima_tk.formats.openai import derive_name, kind
from lima_tk.model import Chat, Message, Tool

UNTITLED = {"", "new chat", "untitled"}
_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]")
# Content types that are the model's own notes or UI state, never a turn of the chat.
SILENT_TYPES = {"thoughts", "reasoning_recap", "model_editable_context", "tether_browsing_display",
                "system_error", "app_pairing_content"}
PART_KINDS = {"image_asset_pointer": "image", "audio_asset_pointer": "audio",
              "real_time_user_audio_video_asset_pointer": "video", "file_asset_pointer": "file"}
_PLACEHOLDER_LINE = re.compile(r"^\[[\w ]+\]$\n?", re.MULTILINE)
# Definitions of ChatGPT's own tools, so that the imported calls have a tool to call.
TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "python": ("Run Python code (ChatGPT's code interpreter) and see its output",
               {"type": "object", "properties": {"code": {"type": "string", "description": "the code to run"}},
                "required": ["code"]}),
}
OPTIONS = {"placeholder": "[{kind}]", "code_turns": "tools", "custom_instructions": True,
           "regenerations": "alternatives"}


def sniff(head: Head) -> bool:
    if head.zip_members:
        return True
    rec = head.record()
    return isinstance(rec, dict) and isinstance(rec.get("mapping"), dict)


def options(ctx: ReadContext) -> dict[str, Any]:
    out = dict(OPTIONS)
    for key, value in ctx.options.items():
        if key in OPTIONS and value is not None:
            out[key] = value
    if out["code_turns"] not in ("tools", "drop"):
        raise ValidationError(f"code_turns must be 'tools' or 'drop', got {out['code_turns']!r}")
    if out["regenerations"] not in ("alternatives", "drop"):
        raise ValidationError(f"regenerations must be 'alternatives' or 'drop', got {out['regenerations']!r}")
    return out


def read(ctx: ReadContext) -> Iterator[Chat]:
    opts = options(ctx)
    for conv in read_values(ctx, "conversation"):
        chat = convert(ctx, conv, opts)
        if chat is None:
            continue
        yield ctx.finish_chat(chat)


def iso_time(value: Any) -> str | None:
    """A ChatGPT timestamp (epoch seconds, float) as the store's ISO form; None if absent/odd."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        t = datetime.fromtimestamp(float(value), timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the visible thread ----------------------------------------------------------------------


def thread(ctx: ReadContext, mapping: dict[str, Any], current: Any) -> list[str]:
    """Node ids from the root to `current` (or to the most recent leaf)."""
    if not isinstance(current, str) or current not in mapping:
        if current is not None:
            ctx.warn("current_node not in the mapping; the most recent branch was taken")
        current = latest_leaf(mapping)
        if current is None:
            return []
    path: list[str] = []
    seen: set[str] = set()
    node_id: Any = current
    while isinstance(node_id, str) and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        path.append(node_id)
        node = mapping[node_id]
        node_id = node.get("parent") if isinstance(node, dict) else None
    path.reverse()
    return path


def latest_leaf(mapping: dict[str, Any]) -> str | None:
    """The leaf whose message is newest (create_time); the last leaf when no times are given."""
    best: tuple[float, int] | None = None
    best_id = None
    for i, (node_id, node) in enumerate(mapping.items()):
        if not isinstance(node, dict):
            continue
        children = node.get("children") or []
        if any(c in mapping for c in children if isinstance(c, str)):
            continue
        msg = node.get("message")
        t = msg.get("create_time") if isinstance(msg, dict) else None
        key = (float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else float("-inf"), i)
        if best is None or key > best:
            best, best_id = key, node_id
    return best_id


# -- one conversation -> Chat ----------------------------------------------------------------


def convert(ctx: ReadContext, conv: Any, opts: dict[str, Any]) -> Chat | None:
    if not isinstance(conv, dict):
        raise ctx.error(f"a conversation must be a JSON object, got {kind(conv)}")
    mapping = conv.get("mapping")
    if not isinstance(mapping, dict):
        raise ctx.error(f"'mapping' must be an object, got {kind(mapping)}")
    title = conv.get("title")
    what = f"conversation {quoted(title)}" if isinstance(title, str) and title else "conversation"
    conv_tools = _Calls()
    messages: list[Message] = []
    system: list[str] = []
    path = thread(ctx, mapping, conv.get("current_node"))
    prev = -1  # index in `path` of the last node that became a message
    for j, node_id in enumerate(path):
        node = mapping[node_id]
        msg = node.get("message") if isinstance(node, dict) else None
        if not isinstance(msg, dict):
            continue
        m = _message(ctx, msg, opts, conv_tools, system)
        if m is None:
            continue
        # Also when the shown reply is a tool call: the other versions (text replies) are kept.
        if (m.role == "assistant" and opts["regenerations"] == "alternatives"
                and prev >= 0 and messages and messages[-1].role == "user"):
            _alternatives(ctx, mapping, path[prev], path[prev + 1], m, opts)
        messages.append(m)
        prev = j
    if system and opts["custom_instructions"]:
        messages.insert(0, Message("system", "\n\n".join(system)))
    if not any(m.role in ("user", "assistant") for m in messages):
        ctx.skip("no messages", what)
        return None
    name = title.strip() if isinstance(title, str) else ""
    if name.lower() in UNTITLED:
        name = derive_name([Message(m.role, _PLACEHOLDER_LINE.sub("", m.content or "")) for m in messages])
    tools = []
    for call_name in dict.fromkeys(tc["function"]["name"] for m in messages for tc in m.tool_calls or ()):
        tools.append(Tool(call_name, *TOOLS.get(call_name, (f"ChatGPT's {call_name} tool", {"type": "object"}))))
    extra: dict[str, Any] = {}
    cid = conv.get("conversation_id") or conv.get("id")
    if isinstance(cid, str) and cid:
        extra["chatgpt_id"] = cid
    created = iso_time(conv.get("create_time"))
    return Chat(name=name, messages=messages, tools=tools, created_at=created,
                updated_at=iso_time(conv.get("update_time")) or created, extra=extra)


class _Calls:
    """Open tool calls of one conversation: ids for them, and answers FIFO."""

    def __init__(self) -> None:
        self.n = 0
        self.open: deque[str] = deque()

    def new(self) -> str:
        self.n += 1
        cid = f"call_{self.n}"
        self.open.append(cid)
        return cid

    def answer(self) -> str | None:
        return self.open.popleft() if self.open else None


def _text_parts(ctx: ReadContext, content: dict[str, Any], opts: dict[str, Any]) -> str:
    """The text of `text` / `multimodal_text` content: string parts, placeholders for the rest."""
    parts = content.get("parts")
    if parts is None:
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if not isinstance(parts, list):
        raise ctx.error(f"'parts' must be a list, got {kind(parts)}")
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if part:
                out.append(part)
        elif isinstance(part, dict):
            ptype = part.get("content_type")
            if ptype == "audio_transcription" and isinstance(part.get("text"), str):
                if part["text"]:
                    out.append(part["text"])
                continue
            if isinstance(part.get("text"), str) and ptype in (None, "text"):
                out.append(part["text"])
                continue
            label = PART_KINDS.get(str(ptype), str(ptype or "attachment"))
            if opts["placeholder"]:
                out.append(str(opts["placeholder"]).replace("{kind}", label))
            ctx.warn(f"{label} parts became placeholders" if opts["placeholder"] else f"{label} parts dropped")
        elif part is not None:
            out.append(json.dumps(part, ensure_ascii=False))
    return "\n".join(out)


def _instructions(content: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    if content.get("content_type") == "user_editable_context":
        texts = [content.get("user_profile"), content.get("user_instructions")]
    data = meta.get("user_context_message_data")
    if isinstance(data, dict) and not any(isinstance(t, str) and t.strip() for t in texts):
        texts = [data.get("about_user_message"), data.get("about_model_message")]
    return [t.strip() for t in texts if isinstance(t, str) and t.strip()]


def _message(ctx: ReadContext, msg: dict[str, Any], opts: dict[str, Any], calls: _Calls,
             system: list[str]) -> Message | None:
    meta = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
    content = msg.get("content") if isinstance(msg.get("content"), dict) else {}
    author = msg.get("author") if isinstance(msg.get("author"), dict) else {}
    role = author.get("role")
    ctype = content.get("content_type", "text")
    if ctype == "user_editable_context" or meta.get("is_user_system_message"):
        if not system:  # the same instructions may appear twice (old and new style)
            system.extend(_instructions(content, meta))
        return None
    if meta.get("is_visually_hidden_from_conversation"):
        return None
    if ctype in SILENT_TYPES:
        return None
    recipient = msg.get("recipient")
    if role == "assistant" and isinstance(recipient, str) and recipient not in ("all", ""):
        # A call to one of ChatGPT's tools (python, browser, dalle...): a tool call.
        if opts["code_turns"] == "drop":
            return None
        text = content.get("text") if isinstance(content.get("text"), str) else _text_parts(ctx, content, opts)
        if ctype == "code":
            args = json.dumps({"code": text}, ensure_ascii=False)
        else:
            args = text if _is_json_object(text) else json.dumps({"input": text}, ensure_ascii=False)
        name = _NAME_BAD.sub("_", recipient)[:64] or "tool"
        call = {"id": calls.new(), "type": "function", "function": {"name": name, "arguments": args}}
        return Message("assistant", None, tool_calls=[call], source="generated", model=_model(meta))
    if role == "tool":
        if opts["code_turns"] == "drop":
            return None
        text = content.get("text") if isinstance(content.get("text"), str) else _text_parts(ctx, content, opts)
        cid = calls.answer()
        if cid is None:
            ctx.warn("tool output without a call dropped")
            return None
        return Message("tool", text or "", tool_call_id=cid)
    if ctype not in ("text", "multimodal_text", "code", "execution_output"):
        ctx.warn(f"content of type {ctype!r} skipped")
        return None
    text = _text_parts(ctx, content, opts) if ctype in ("text", "multimodal_text") else str(content.get("text") or "")
    if not text.strip():
        return None
    if role == "user":
        return Message("user", text)
    if role == "assistant":
        finish = meta.get("finish_details", {}).get("type") if isinstance(meta.get("finish_details"), dict) else None
        return Message("assistant", text, source="generated", model=_model(meta),
                       finish=finish if isinstance(finish, str) else None)
    if role == "system":
        return Message("system", text)
    ctx.warn(f"messages by {role!r} skipped")
    return None


def _model(meta: dict[str, Any]) -> str | None:
    slug = meta.get("model_slug")
    return slug if isinstance(slug, str) and slug else None


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _alternatives(ctx: ReadContext, mapping: dict[str, Any], anchor: str, on_thread: str, m: Message,
                  opts: dict[str, Any]) -> None:
    """Other replies to the same user message (regenerations) become the message's other versions.
    `anchor` is the user message's node, `on_thread` its child on the visible thread."""
    node = mapping.get(anchor)
    children = node.get("children") if isinstance(node, dict) else None
    if not isinstance(children, list) or len(children) < 2:
        return
    versions: list[dict[str, Any]] = []
    shown = None
    for child in children:
        if child == on_thread:
            shown = len(versions)
            versions.append(m.variant())
            continue
        msg = _first_visible(mapping, child)
        if msg is None or (msg.get("author") or {}).get("role") != "assistant":
            continue
        content = msg.get("content") if isinstance(msg.get("content"), dict) else {}
        meta = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
        if content.get("content_type", "text") not in ("text", "multimodal_text") or msg.get("recipient") not in (
                None, "all"):
            # A version that calls a tool has its answers further down its own branch: it cannot
            # be one version of this message. Say so rather than drop it silently.
            ctx.warn("a regenerated reply that calls a tool was left out (only text versions are kept)")
            continue
        text = _text_parts(ctx, content, opts)
        if text.strip():
            versions.append({"content": text, "tool_calls": None, "source": "generated", "model": _model(meta),
                             "finish": None})
    if shown is None or len(versions) < 2:
        return
    m.alternatives = versions[:shown] + versions[shown + 1:]
    m.alt_index = shown


def _first_visible(mapping: dict[str, Any], node_id: Any) -> dict[str, Any] | None:
    """The first message at or below a node that a person sees (past thoughts, hidden nodes)."""
    for _ in range(50):
        node = mapping.get(node_id) if isinstance(node_id, str) else None
        if not isinstance(node, dict):
            return None
        msg = node.get("message")
        if isinstance(msg, dict):
            meta = msg.get("metadata") if isinstance(msg.get("metadata"), dict) else {}
            content = msg.get("content") if isinstance(msg.get("content"), dict) else {}
            if not meta.get("is_visually_hidden_from_conversation") and content.get("content_type") not in SILENT_TYPES:
                return msg
        children = node.get("children") or []
        if not children:
            return None
        node_id = children[-1]  # the newest branch
    return None
