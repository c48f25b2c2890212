"""Native full-fidelity JSONL (`--format lima`): every stored field, for backups and moves.

Line 1 is a header `{"lima_tk": 1, "settings": {languages, tags, tokenizer, context_limit}}`,
then one object per chat. Keys are written in a fixed order with `ensure_ascii=False`, and the
reader keeps every value as given (uids, timestamps, extra, tool_calls untouched), so
export -> import into a fresh dataset -> export gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lima_tk.errors import ValidationError
from lima_tk.formats.base import ReadContext, WriteContext
from lima_tk.formats.jsonlines import Head, json_lines
from lima_tk.formats.openai import convert_tools, kind
from lima_tk.model import ROLES, Chat, Message
from lima_tk.store.db import check_provenance

if TYPE_CHECKING:
    from lima_tk.store import DatasetStore

VERSION = 1
SETTING_KEYS = ("languages", "tags", "tokenizer", "context_limit")
CHAT_KEYS = ("uid", "name", "language", "tags", "notes", "created_at", "updated_at", "extra", "messages", "tools")
# Provenance and alternatives (issue 5) come last and are written only when set, so files of
# datasets without them are unchanged.
MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "weight",
                "source", "model", "finish", "alternatives", "alt_index")


def sniff(head: Head) -> bool:
    return isinstance(head.obj, dict) and "lima_tk" in head.obj


def header(store: DatasetStore) -> dict[str, Any]:
    settings = store.get_settings()
    return {"lima_tk": VERSION, "settings": {k: settings[k] for k in SETTING_KEYS}}


def write(chat: Chat, ctx: WriteContext) -> dict[str, Any]:
    return {
        "uid": chat.uid,
        "name": chat.name,
        "language": chat.language,
        "tags": chat.tags,
        "notes": chat.notes,
        "created_at": chat.created_at,
        "updated_at": chat.updated_at,
        "extra": chat.extra,
        "messages": [_message(m) for m in chat.messages],
        "tools": [t.to_openai() for t in chat.tools],
    }


def _message(m: Message) -> dict[str, Any]:
    d: dict[str, Any] = {"role": m.role}
    for key in MESSAGE_KEYS[1:]:
        value = getattr(m, key)
        if value is not None:
            d[key] = value
    return d


# -- import ----------------------------------------------------------------------------------


def read(ctx: ReadContext) -> Iterator[Chat]:
    seen_header = False
    for obj in json_lines(ctx.lines, ctx):
        if isinstance(obj, dict) and "lima_tk" in obj:
            _header(ctx, obj)  # a second header: files concatenated with `cat`
            seen_header = True
            continue
        if not seen_header:
            raise ctx.error('not a lima-tk file: the first line must be the {"lima_tk": 1, ...} header')
        yield ctx.finish_chat(chat_from_native(ctx, obj))


def _header(ctx: ReadContext, obj: dict[str, Any]) -> None:
    version = obj["lima_tk"]
    if type(version) is not int or version < 1:
        raise ctx.error(f"bad lima_tk format version {version!r}")
    if version > VERSION:
        raise ctx.error(f"written by a newer lima-tk (format {version}); upgrade lima-tk to read it")
    settings = obj.get("settings", {})
    if not isinstance(settings, dict):
        raise ctx.error(f"'settings' must be an object, got {kind(settings)}")
    ctx.merge_settings(settings)


def _opt(ctx: ReadContext, obj: dict[str, Any], key: str, types: type | tuple[type, ...], where: str = "") -> Any:
    value = obj.get(key)
    if value is not None and not isinstance(value, types):
        raise ctx.error(f"{where}'{key}' has the wrong type ({kind(value)})")
    return value


def chat_from_native(ctx: ReadContext, obj: Any) -> Chat:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected a JSON object, got {kind(obj)}")
    for key in obj:
        if key not in CHAT_KEYS:
            ctx.warn(f"unknown key {key!r} ignored")
    raw = obj.get("messages")
    if not isinstance(raw, list):
        raise ctx.error(f"'messages' must be a list, got {kind(raw)}")
    tags = obj.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ctx.error("'tags' must be a list of strings")
    return Chat(
        uid=_opt(ctx, obj, "uid", str),
        name=_opt(ctx, obj, "name", str) or "",
        language=_opt(ctx, obj, "language", str) or None,
        tags=tags,
        notes=_opt(ctx, obj, "notes", str) or "",
        created_at=_opt(ctx, obj, "created_at", str),
        updated_at=_opt(ctx, obj, "updated_at", str),
        extra=_opt(ctx, obj, "extra", dict) or {},
        messages=[_message_from(ctx, m, i) for i, m in enumerate(raw, 1)],
        tools=convert_tools(ctx, obj.get("tools"), "tools"),
    )


def _message_from(ctx: ReadContext, m: Any, i: int) -> Message:
    where = f"message {i}: "
    if not isinstance(m, dict):
        raise ctx.error(f"{where}expected an object, got {kind(m)}")
    role = m.get("role")
    if role not in ROLES:
        raise ctx.error(f"{where}unknown role {role!r} (known: {', '.join(ROLES)})")
    for key in m:
        if key not in MESSAGE_KEYS:
            ctx.warn(f"unknown message key {key!r} ignored")
    calls = _opt(ctx, m, "tool_calls", list, where)
    if calls is not None and not all(isinstance(c, dict) for c in calls):
        raise ctx.error(f"{where}tool calls must be objects")
    weight = m.get("weight")
    if weight is not None and (type(weight) is not int or weight not in (0, 1)):
        raise ctx.error(f"{where}weight must be 0 or 1, got {weight!r}")
    source = _opt(ctx, m, "source", str, where)
    alternatives = _opt(ctx, m, "alternatives", list, where)
    alt_index = m.get("alt_index")
    if alt_index is not None and type(alt_index) is not int:
        raise ctx.error(f"{where}alt_index must be a whole number, got {kind(alt_index)}")
    try:
        check_provenance(source, alternatives, alt_index)
    except ValidationError as e:
        raise ctx.error(f"{where}{e}") from None
    return Message(
        role=role,
        content=_opt(ctx, m, "content", str, where),
        name=_opt(ctx, m, "name", str, where),
        tool_calls=calls or None,
        tool_call_id=_opt(ctx, m, "tool_call_id", str, where),
        weight=weight,
        source=source,
        model=_opt(ctx, m, "model", str, where),
        finish=_opt(ctx, m, "finish", str, where),
        alternatives=alternatives or None,
        alt_index=alt_index if alternatives else None,
    )
