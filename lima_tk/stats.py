"""Dataset aggregations for `lima-tk stats` and the stats board, computed in SQL.

Token numbers come from the token cache under the active tokenizer key (see lima_tk/tokens.py);
nothing here loads a tokenizer, so this module never imports `tokenizers`.
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_right
from pathlib import Path
from typing import Any

from lima_tk.fileio import atomic_write
from lima_tk.store import ChatFilter, DatasetStore


def dataset_stats(store: DatasetStore, chat_filter: ChatFilter | None = None, tokens: bool = True) -> dict[str, Any]:
    """Counts of chats and messages, messages by role, chats per tag and per language; with
    `tokens`, also the token numbers (`tokens`) and the two histograms (`histograms`).
    One pass over the messages by role and one by chat, each joined with the token counts."""
    rows = store.stats_rows(chat_filter)
    chats, per_tag, untagged, per_language, with_tools = (rows.chats, rows.per_tag, rows.untagged,
                                                          rows.per_language, rows.with_tools)
    roles, per_chat, key = rows.roles, rows.per_chat, rows.key
    empty = chats - len(per_chat)
    lengths = [r[0] for r in per_chat] + [0] * empty
    out: dict[str, Any] = {
        "chats": chats,
        "messages": sum(r[1] for r in roles),
        "messages_by_role": {r[0]: r[1] for r in roles},
        "chats_per_tag": per_tag,
        "untagged_chats": untagged,
        "chats_per_language": per_language,
        "trainable_assistant_messages": sum(r[3] for r in roles),
        "chats_with_tools": with_tools,
        "messages_per_chat": {
            "min": min(lengths, default=0),
            "max": max(lengths, default=0),
            "mean": round(sum(lengths) / len(lengths), 2) if lengths else 0,
        },
    }
    if tokens:
        per_msg, per_conv = (key.overhead_message, key.overhead_chat) if key else (0, 0)
        # The rendered count of each chat (one count everywhere: list, filter, validate, card), or
        # the message sum + overhead for a chat not rendered yet (then the stats are estimates).
        totals = [r[2] if r[2] is not None else r[1] + per_msg * r[0] + per_conv for r in per_chat] + [0] * empty
        trainable = sum(r[3] if r[3] is not None else r[4] for r in per_chat)
        unrendered = sum(1 for r in per_chat if r[2] is None)
        out["tokens"] = _token_stats(store, key, roles, totals, trainable, unrendered)
        limit = out["tokens"]["context_limit"]
        out["histograms"] = {
            "tokens_per_chat": histogram(totals, split=limit + 1 if limit else None),
            "messages_per_chat": histogram(lengths, integer_bins=True),
        }
    return out


def _token_stats(store: DatasetStore, key: Any, roles: list[tuple], totals: list[int], trainable: int,
                 unrendered: int) -> dict[str, Any]:
    limit = int(store.get_setting("context_limit") or 0)
    uncounted = sum(r[5] for r in roles)
    content = sum(r[2] for r in roles)
    total = sum(totals)
    ordered = sorted(totals)
    return {
        "tokenizer": store.get_setting("tokenizer"),
        "key": key.key if key else None,
        "estimate": bool(key is None or key.estimate or uncounted or unrendered),
        "uncounted_messages": uncounted,
        "unrendered_chats": unrendered,
        "total": total,
        "trainable": trainable,
        "content": content,
        "template_overhead": total - content,
        "by_role": {r[0]: r[2] for r in roles},
        "trainable_assistant": sum(r[4] for r in roles),
        "per_chat": {
            "min": ordered[0] if ordered else 0,
            "max": ordered[-1] if ordered else 0,
            "mean": round(total / len(ordered), 2) if ordered else 0,
            "median": ordered[len(ordered) // 2] if ordered else 0,
        },
        "context_limit": limit,
        "over_limit": sum(1 for t in totals if limit and t > limit),
    }


def nice_width(span: float, bins: int) -> int:
    """A bucket width of 1, 2 or 5 x 10^k so that about `bins` buckets cover `span`."""
    raw = max(span / max(bins, 1), 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return int(m * mag)
    return int(10 * mag)


def histogram(values: list[int], bins: int = 12, integer_bins: bool = False,
              split: int | None = None) -> list[dict[str, int]]:
    """Buckets `{"lo", "hi", "count"}` (lo <= v < hi) of equal, round width from 0 to the maximum.
    With `integer_bins` and a small maximum, one bucket per value. `split` becomes a bucket edge
    (the context limit + 1, so the buckets from there on hold exactly the chats over the limit)."""
    if not values:
        return []
    top = max(values)
    width = 1 if integer_bins and top < 2 * bins else nice_width(top + 1, bins)
    edges = list(range(0, (top // width + 2) * width, width))
    if split is not None and 0 < split < edges[-1] and split % width:
        edges.insert(split // width + 1, split)
    counts = [0] * (len(edges) - 1)
    for v in values:
        counts[bisect_right(edges, max(v, 0)) - 1] += 1
    return [{"lo": edges[i], "hi": edges[i + 1], "count": c} for i, c in enumerate(counts)]


def bucket_label(b: dict[str, int]) -> str:
    """'12' for a one-value bucket, else '0-499' (both ends included)."""
    return str(b["lo"]) if b["hi"] - b["lo"] == 1 else f"{b['lo']}-{b['hi'] - 1}"


def stats_rows(s: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The stats as (section, name, value) rows, the shape of the CSV export."""
    rows: list[tuple[str, str, Any]] = [
        ("summary", "chats", s["chats"]),
        ("summary", "messages", s["messages"]),
        ("summary", "trainable_assistant_messages", s["trainable_assistant_messages"]),
        ("summary", "chats_with_tools", s["chats_with_tools"]),
        ("summary", "untagged_chats", s["untagged_chats"]),
    ]
    rows += [("messages_per_chat", k, v) for k, v in s["messages_per_chat"].items()]
    rows += [("messages_by_role", k, v) for k, v in s["messages_by_role"].items()]
    t = s.get("tokens")
    if t:
        rows += [("tokens", k, t[k]) for k in ("tokenizer", "estimate", "uncounted_messages", "unrendered_chats",
                                                "total", "trainable", "content", "template_overhead",
                                                "trainable_assistant", "context_limit", "over_limit")]
        rows += [("tokens_per_chat", k, v) for k, v in t["per_chat"].items()]
        rows += [("tokens_by_role", k, v) for k, v in t["by_role"].items()]
    rows += [("chats_per_tag", k, v) for k, v in s["chats_per_tag"].items()]
    rows += [("chats_per_language", k or "(none)", v) for k, v in s["chats_per_language"].items()]
    for name, buckets in (s.get("histograms") or {}).items():
        rows += [(f"histogram_{name}", bucket_label(b), b["count"]) for b in buckets]
    return rows


def write_stats_csv(s: dict[str, Any], path: str | Path, dataset: str | Path | None = None) -> Path:
    """Write the stats as CSV (section,name,value) via a temp file and a rename. Any thread.
    Refuses to write over `dataset` or any dataset open in this process."""
    path = Path(path)
    with atomic_write(path, newline="", dataset=dataset) as f:
        w = csv.writer(f)
        w.writerow(("section", "name", "value"))
        for section, name, value in stats_rows(s):
            w.writerow((section, name, str(value).lower() if isinstance(value, bool) else value))
    return path


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
    t = s.get("tokens")
    if t:
        mark = "~" if t["estimate"] else ""
        lines += ["", f"tokens ({t['tokenizer'] or 'default tokenizer'}){': estimates (~)' if t['estimate'] else ''}",
                  f"  total          {mark}{t['total']:>8}",
                  f"  trainable      {mark}{t['trainable']:>8}",
                  f"  per chat       min {t['per_chat']['min']}, median {t['per_chat']['median']}, "
                  f"mean {t['per_chat']['mean']}, max {t['per_chat']['max']}",
                  f"  over {t['context_limit']:<9} {t['over_limit']:>8}"]
        lines += [f"  {role:<14} {mark}{n:>8}" for role, n in t["by_role"].items()]
        if t["uncounted_messages"] or t["unrendered_chats"]:
            lines.append(f"  ({t['uncounted_messages']} messages and {t['unrendered_chats']} chats not counted yet: "
                         "run lima-tk tokens)")
    return "\n".join(lines)
