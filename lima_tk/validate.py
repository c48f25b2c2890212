"""Structural checks of chats (the linter behind `lima-tk validate`). No I/O here but the store.

Codes are stable: scripts and the GUI's Problems panel filter by them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from lima_tk.model import ROLES, Chat

ERROR = "error"
WARNING = "warning"


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
        name = f" {self.chat_name!r}" if self.chat_name else ""
        msg = f" message {self.message_index + 1}" if self.message_index is not None else ""
        return f"chat {self.chat_id}{name}{msg}"


def lint_chat(chat: Chat) -> list[Finding]:
    """Every structural problem of one chat."""
    out: list[Finding] = []

    def add(code: str, severity: str, text: str, index: int | None = None) -> None:
        out.append(Finding(code, severity, text, chat.id, chat.name, index))

    msgs = chat.messages
    if not msgs:
        add("empty-chat", ERROR, "the chat has no messages")
        return out
    if not any(m.role == "assistant" for m in msgs):
        add("no-assistant", ERROR, "the chat has no assistant message")
    open_calls: dict[str, str] = {}
    prev = None
    for i, m in enumerate(msgs):
        if m.role not in ROLES:
            add("unknown-role", ERROR, f"unknown role {m.role!r}", i)
        if m.role == "system" and i > 0:
            add("system-not-first", WARNING, "a system message that is not the first message", i)
        if i == 0 and m.role == "assistant":
            add("starts-with-assistant", WARNING, "the chat starts with an assistant message", i)
        if prev is not None and m.role == prev and m.role in ("user", "assistant") and not m.tool_calls:
            add("same-role-twice", WARNING, f"two {m.role} messages in a row", i)
        has_text = bool(m.content and m.content.strip())
        if not has_text and not (m.role == "assistant" and m.tool_calls):
            add("empty-message", ERROR, "the message is empty", i)
        for call in m.tool_calls or []:
            fn = call.get("function") or {}
            args = fn.get("arguments")
            try:
                if not isinstance(args, str):
                    raise ValueError("not a string")
                json.loads(args)
            except ValueError:
                add("bad-arguments", ERROR, f"arguments of the call to {fn.get('name')!r} are not valid JSON", i)
            if call.get("id"):
                open_calls[call["id"]] = fn.get("name", "")
        if m.role == "tool":
            if not m.tool_call_id:
                add("missing-tool-call-id", ERROR, "a tool message without tool_call_id", i)
            elif m.tool_call_id not in open_calls:
                add("dangling-tool-call-id", ERROR, f"tool_call_id {m.tool_call_id!r} answers no earlier call", i)
        prev = m.role
    if msgs[-1].role != "assistant":
        add("no-final-reply", WARNING, "the chat does not end with an assistant reply", len(msgs) - 1)
    return out


def lint_chats(chats: Iterator[Chat]) -> Iterator[Finding]:
    for chat in chats:
        yield from lint_chat(chat)
