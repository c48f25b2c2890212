"""Dataset aggregations for `lima-tk stats` (and later the stats board), computed in SQL."""

from __future__ import annotations

from typing import Any

from lima_tk.store import ChatFilter, DatasetStore


def dataset_stats(store: DatasetStore, chat_filter: ChatFilter | None = None) -> dict[str, Any]:
    """Counts of chats and messages, messages by role, chats per tag and per language."""
    where, params = store.filter_sql(chat_filter)
    sel = f"SELECT c.id FROM chats c{where}"
    q = store.conn.execute
    chats = q(f"SELECT count(*) FROM ({sel})", params).fetchone()[0]
    messages = q(f"SELECT count(*) FROM messages WHERE chat_id IN ({sel})", params).fetchone()[0]
    by_role = {r: n for r, n in q(
        f"SELECT role, count(*) FROM messages WHERE chat_id IN ({sel}) GROUP BY role ORDER BY role", params)}
    per_tag = {t: n for t, n in q(
        f"SELECT tag, count(*) FROM chat_tags WHERE chat_id IN ({sel}) GROUP BY tag ORDER BY count(*) DESC, tag",
        params)}
    untagged = q(
        f"SELECT count(*) FROM chats WHERE id IN ({sel}) AND id NOT IN (SELECT chat_id FROM chat_tags)", params
    ).fetchone()[0]
    per_language = {(lang or ""): n for lang, n in q(
        f"SELECT language, count(*) FROM chats WHERE id IN ({sel}) GROUP BY language ORDER BY count(*) DESC, language",
        params)}
    trainable = q(
        f"SELECT count(*) FROM messages WHERE chat_id IN ({sel}) AND role = 'assistant' "
        "AND (weight IS NULL OR weight = 1)", params).fetchone()[0]
    with_tools = q(f"SELECT count(DISTINCT chat_id) FROM tools WHERE chat_id IN ({sel})", params).fetchone()[0]
    lengths = [n for (n,) in q(
        f"SELECT count(m.id) FROM chats c LEFT JOIN messages m ON m.chat_id = c.id WHERE c.id IN ({sel}) "
        "GROUP BY c.id", params)]
    return {
        "chats": chats,
        "messages": messages,
        "messages_by_role": by_role,
        "chats_per_tag": per_tag,
        "untagged_chats": untagged,
        "chats_per_language": per_language,
        "trainable_assistant_messages": trainable,
        "chats_with_tools": with_tools,
        "messages_per_chat": {
            "min": min(lengths, default=0),
            "max": max(lengths, default=0),
            "mean": round(sum(lengths) / len(lengths), 2) if lengths else 0,
        },
    }


def format_stats(s: dict[str, Any]) -> str:
    """The text table `lima-tk stats` prints."""
    lines = [
        f"chats            {s['chats']:>8}",
        f"messages         {s['messages']:>8}",
        f"  per chat       min {s['messages_per_chat']['min']}, mean {s['messages_per_chat']['mean']}, "
        f"max {s['messages_per_chat']['max']}",
        f"trainable turns  {s['trainable_assistant_messages']:>8}",
        f"chats with tools {s['chats_with_tools']:>8}",
        "",
        "messages by role",
    ]
    lines += [f"  {role:<14} {n:>8}" for role, n in s["messages_by_role"].items()]
    lines += ["", "chats per language"]
    lines += [f"  {(lang or '(none)'):<14} {n:>8}" for lang, n in s["chats_per_language"].items()]
    lines += ["", "chats per tag"]
    lines += [f"  {tag:<14} {n:>8}" for tag, n in s["chats_per_tag"].items()]
    lines.append(f"  {'(untagged)':<14} {s['untagged_chats']:>8}")
    return "\n".join(lines)
