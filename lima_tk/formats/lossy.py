"""What each export format cannot hold (issue 11): listed in the export dialog before an export
and in its report after, so nothing is lost without being said."""

from __future__ import annotations

from typing import Any

_META = "chat name, language, tags, notes, uid and timestamps"
_VERSIONS = "other versions of replies (alternatives) and their provenance"

LOSSY: dict[str, list[str]] = {
    "openai": [_META, _VERSIONS],
    "lima": ["the undo history, row ids and list positions (the order is kept)"],
    "sharegpt": [
        "notes, uid, timestamps and " + _VERSIONS + " (name, language and tags are kept)",
        'weights: a reply marked "no train" is trained (option weight0)',
        "assistant text beside tool calls",
        "tool call ids, and the order of parallel tool results (one observation holding a JSON list)",
        "message names and tool `strict` flags",
    ],
    "alpaca": [
        "chats with tools or tool calls, and chats not made of user/assistant pairs (skipped)",
        'weights: a reply marked "no train" is trained (option weight0)',
        "notes, uid, timestamps and " + _VERSIONS + " (name, language and tags are kept)",
    ],
    "hf": [
        "notes, timestamps and " + _VERSIONS,
        "tool `strict` flags (no chat template reads them)",
        'weights, unless training_flag is set: a reply marked "no train" is trained (option weight0)',
        "parallel_tool_calls",
    ],
    "pref-trl": [
        "everything but the prompt, the chosen and the rejected reply and the chat's tools; "
        "chats without a rejected version are skipped",
        "tool `strict` flags",
    ],
    "pref-openai": [
        "everything but the prompt, tools, the preferred and the non-preferred reply; chats "
        "without a rejected version are skipped",
    ],
}


def lossy_fields(fmt: str, options: dict[str, Any] | None = None) -> list[str]:
    """What `fmt` (with these writer options) does not carry, one phrase each."""
    out = list(LOSSY.get(fmt, []))
    opts = options or {}
    if fmt == "hf" and opts.get("training_flag"):
        out = [x for x in out if not x.startswith("weights")]
    if fmt == "hf" and str(opts.get("tool_args") or "object") == "string":
        out.append("nothing more, but tool-call arguments become escaped strings in a chat template")
    return out
