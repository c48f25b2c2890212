"""Plain data classes for chats, messages and tools. No I/O here.

Tool calls are kept as plain dicts in the OpenAI shape
``{"id": ..., "type": "function", "function": {"name": ..., "arguments": "<exact JSON string>"}}``
so that `arguments` survives byte for byte.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
FUNCTION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Message:
    role: str
    content: str | None = ""
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    weight: int | None = None
    id: int | None = None
    position: int | None = None
    # Provenance (issue 5): source None/'human' = written by a person, 'generated', 'edited'
    # (generated, then changed by hand); model that generated it; finish = the server's
    # finish_reason, 'interrupted' (the stream ended early) or 'cancelled' (the user stopped it).
    source: str | None = None
    model: str | None = None
    finish: str | None = None
    # Other versions of this message (regenerations), without the shown one, which sits at
    # `alt_index` among all of them: dicts {content, tool_calls, source, model, finish}.
    alternatives: list[dict[str, Any]] | None = None
    alt_index: int | None = None

    def to_row(self) -> dict[str, Any]:
        """Column values for the `messages` table (without id, chat_id, position)."""
        return {
            "role": self.role,
            "content": self.content,
            "name": self.name,
            "tool_calls": json.dumps(self.tool_calls, ensure_ascii=False) if self.tool_calls else None,
            "tool_call_id": self.tool_call_id,
            "weight": self.weight,
            "source": self.source,
            "model": self.model,
            "finish": self.finish,
            "alternatives": json.dumps(self.alternatives, ensure_ascii=False) if self.alternatives else None,
            "alt_index": self.alt_index if self.alternatives else None,
        }

    def variants(self) -> list[dict[str, Any]]:
        """Every version of this message in order, the shown one included (at `alt_index`)."""
        others = list(self.alternatives or [])
        i = min(self.alt_index or 0, len(others))
        return others[:i] + [self.variant()] + others[i:]

    def variant(self) -> dict[str, Any]:
        """The shown version as an alternatives entry."""
        return {"content": self.content, "tool_calls": self.tool_calls, "source": self.source,
                "model": self.model, "finish": self.finish}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Message:
        tc = row.get("tool_calls")
        return cls(
            role=row["role"],
            content=row["content"],
            name=row.get("name"),
            tool_calls=json.loads(tc) if tc else None,
            tool_call_id=row.get("tool_call_id"),
            weight=row.get("weight"),
            id=row.get("id"),
            position=row.get("position"),
            source=row.get("source"),
            model=row.get("model"),
            finish=row.get("finish"),
            alternatives=json.loads(alts) if (alts := row.get("alternatives")) else None,
            alt_index=row.get("alt_index"),
        )


@dataclass
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    id: int | None = None

    def to_openai(self) -> dict[str, Any]:
        fn: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            fn["description"] = self.description
        if self.parameters is not None:
            fn["parameters"] = self.parameters
        if self.strict is not None:
            fn["strict"] = self.strict
        return {"type": "function", "function": fn}

    @classmethod
    def from_openai(cls, obj: dict[str, Any]) -> Tool:
        fn = obj.get("function", obj)
        strict = fn.get("strict")
        return cls(
            name=fn["name"],
            description=fn.get("description"),
            parameters=fn.get("parameters"),
            strict=None if strict is None else bool(strict),
        )


@dataclass
class Chat:
    name: str = ""
    language: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    uid: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. parallel_tool_calls
    id: int | None = None
    position: int | None = None
