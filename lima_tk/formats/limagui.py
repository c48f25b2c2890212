"""lima-gui files, so its users can bring their data over unchanged.

- JSONL (newer): one chat per line with `name`, `lang`, `tags`, `messages`, `tools`; assistant
  messages may carry a legacy `function_call` whose `arguments` is an object, answered by
  `function` role messages. The OpenAI converter handles all of it.
- CSV (older): one column `chat`; each cell is a JSON chat with `name`, `lang`, `tags`, `dialog`.
- `data_config.json`: languages, tag vocabulary, tokenizer -> dataset settings (no chats).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from typing import Any

from lima_tk.formats.base import ReadContext
from lima_tk.formats.jsonlines import Head, loads_line
from lima_tk.formats.openai import chat_from_object, kind
from lima_tk.formats.openai import read as read_jsonl
from lima_tk.model import Chat

LIMAGUI_KEYS = {"name", "lang", "tags", "dialog"}
CONFIG_KEYS = ("languages", "tags", "tokenizer", "context_limit")
CONFIG_MAX_BYTES = 16 * 1024 * 1024  # a config is tiny; refuse to slurp a huge file by mistake

__all__ = ["read_jsonl", "sniff_jsonl", "read_csv", "sniff_csv", "read_config", "sniff_config"]


def sniff_jsonl(head: Head) -> bool:
    obj = head.obj
    return isinstance(obj, dict) and ("messages" in obj or "dialog" in obj) and bool(obj.keys() & LIMAGUI_KEYS)


# -- CSV -------------------------------------------------------------------------------------


def sniff_csv(head: Head) -> bool:
    return head.json_error is None and not isinstance(head.obj, (dict, list)) and "chat" in head.csv_fields()


def read_csv(ctx: ReadContext) -> Iterator[Chat]:
    # One cell holds a whole chat, easily more than the csv module's default 128 KiB field limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    lines = ctx.lines
    reader = csv.reader(lines, strict=True)
    col = -1
    while True:
        start = lines.line_no + 1  # a record may span lines; errors name the line it starts on
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ctx.error(f"bad CSV: {e}", lines.line_no) from None
        ctx.line = start
        if col < 0:
            fields = [f.strip() for f in row]
            if "chat" not in fields:
                raise ctx.error("the CSV header has no 'chat' column")
            col = fields.index("chat")
            continue
        if not any(c.strip() for c in row):
            continue
        if len(row) <= col or not row[col].strip():
            ctx.report.skipped += 1
            ctx.warn("row without a chat skipped")
            continue
        obj = loads_line(row[col], ctx.path, start)
        if not isinstance(obj, dict):
            raise ctx.error(f"the chat cell must hold a JSON object, got {kind(obj)}")
        yield ctx.finish_chat(chat_from_object(ctx, obj, "dialog" if "dialog" in obj else "messages"))


# -- data_config.json ------------------------------------------------------------------------


def _config_object(head: Head) -> Any:
    if isinstance(head.obj, dict):
        return head.obj
    if head.first_line.strip().startswith("{") and head.json_error is not None:
        return head.whole_json()  # pretty-printed over many lines
    return None


RECORD_KEYS = frozenset({"messages", "dialog", "lima_tk", "conversations", "instruction", "output", "mapping"})


def sniff_config(head: Head) -> bool:
    obj = _config_object(head)
    return (
        isinstance(obj, dict)
        and any(k in obj for k in ("languages", "tags", "tokenizer"))
        # a chat record that has tags (lima-gui, ShareGPT or Alpaca JSON lines) is not a config
        and not (RECORD_KEYS & obj.keys())
    )


def read_config(ctx: ReadContext) -> Iterator[Chat]:
    """Merge the config into the dataset settings; yields no chats."""
    if ctx.lines.size > CONFIG_MAX_BYTES:
        raise ctx.error("too large for a data_config.json", 1)
    text = "".join(ctx.lines)  # via the line reader: BOM, UTF-8 errors by line, progress, cancel
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ctx.error(f"invalid JSON: {e.msg} at column {e.colno}", e.lineno) from None
    if not isinstance(obj, dict):
        raise ctx.error(f"a data_config.json holds a JSON object, got {kind(obj)}", 1)
    ctx.line = 1
    for key in sorted(obj.keys() - set(CONFIG_KEYS)):
        ctx.warn(f"unknown config key {key!r} ignored")
    ctx.merge_settings({k: obj[k] for k in CONFIG_KEYS if k in obj})
    yield from ()
