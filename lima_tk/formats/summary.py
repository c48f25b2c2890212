"""What an import or an export did, in words: one place for the CLI's lines, the main window's
status line and heading, and the report window's text (issue 14). No I/O, no tkinter.

Every function takes an `ImportReport` or `ExportReport` (lima_tk/formats/base.py).
"""

from __future__ import annotations

from typing import Any


def plural(n: int, word: str) -> str:
    """'1 chat', '1,200 chats'."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _skips(reasons: dict[str, int]) -> str:
    return " (" + ", ".join(f"{n} {why}" for why, n in reasons.items()) + ")" if reasons else ""


# -- the CLI ----------------------------------------------------------------------------------


def import_cli_lines(r: Any) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines) of `lima-tk import` for one file."""
    extra = f", {r.skipped} skipped{_skips(r.skipped_reasons)}" if r.skipped else ""
    out = [f"{r.path}: imported {r.chats} chats, {r.messages} messages ({r.format}){extra}"]
    if r.settings_changed:
        out.append(f"  settings updated: {', '.join(r.settings_changed)}")
    return out, [f"  warning: {w}" for w in r.warnings]


def export_cli_lines(r: Any) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines) of `lima-tk export`."""
    extra = f", {r.skipped} skipped{_skips(r.skipped_reasons)}" if r.skipped else ""
    rows = f" in {r.rows} rows" if r.rows != r.chats else ""
    out = [f"{r.path}: wrote {r.chats} chats, {r.messages} messages{rows} ({r.format}){extra}"]
    if r.files:
        out.append(f"  files: {', '.join(r.files)}")
    err = [f"  warning: {w}" for w in r.warnings]
    if r.lossy:
        err.append(f"  not in this format: {'; '.join(r.lossy)}")
    return out, err


# -- the main window ------------------------------------------------------------------------


def import_status(r: Any, source: str) -> str:
    """The status line after an import of the file named `source`."""
    text = f"Imported {plural(r.chats, 'chat')} ({r.messages:,} messages) from {source}"
    if r.skipped:
        text += f", skipped {r.skipped:,}"
        dups = sum(n for why, n in r.skipped_reasons.items() if "duplicate" in why)
        if dups:
            text += f" ({plural(dups, 'duplicate')})"
    if r.settings_changed:
        text += f"; settings: {', '.join(r.settings_changed)}"
    if r.warnings:
        text += f" - {plural(len(r.warnings), 'warning')}"
    return text + " - Ctrl+Z to undo" if r.chats else text


def import_heading(r: Any, source: str, format_label: str) -> str:
    """The first line of the report window after an import."""
    return f"{source} ({format_label}): imported {plural(r.chats, 'chat')} ({r.messages:,} messages)."


def export_where(r: Any, name: str) -> str:
    """What was written: 'demo.jsonl', or 'folder demo-hf' for a folder export."""
    return f"folder {name}" if r.files else name


def export_status(r: Any, name: str, *, preference: bool, uploaded: str | None = None) -> str:
    """The status line after an export to the file (or folder) named `name`; `uploaded`: where
    the folder was uploaded to."""
    where = export_where(r, name)
    if preference:
        text = f"Exported {plural(r.rows, 'preference pair')} from {plural(r.chats, 'chat')} to {where}"
    else:
        text = f"Exported {plural(r.chats, 'chat')} ({r.messages:,} messages) to {where}"
    if r.files:
        text += f" ({', '.join(r.files)})"
    if r.skipped:
        text += f"; skipped {r.skipped:,}"
        if r.skipped_reasons:
            text += " (" + ", ".join(f"{n:,} {why}" for why, n in r.skipped_reasons.items()) + ")"
    if r.warnings:
        text += f" - {plural(len(r.warnings), 'warning')}"
    if uploaded:
        text += f"; uploaded to {uploaded}"
    return text


def export_heading(r: Any, name: str, *, preference: bool) -> str:
    """The first line of the report window after an export."""
    where = export_where(r, name)
    if preference:
        return f"{where}: {plural(r.rows, 'preference pair')} from {plural(r.chats, 'chat')}."
    return f"{where}: exported {plural(r.chats, 'chat')} ({r.messages:,} messages)."


def report_lines(r: Any, *, imported: bool) -> list[str]:
    """What was skipped and why, then the warnings: the text of the report window ([] when
    there is nothing to report)."""
    lines: list[str] = []
    if r.skipped:
        lines.append(f"Skipped {plural(r.skipped, 'chat')}:")
        reasons = dict(r.skipped_reasons)
        for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"    • {n:,} × {why}")
        rest = r.skipped - sum(reasons.values())
        if rest > 0:
            lines.append(f"    • {rest:,} × other reasons (see the warnings)")
        if imported and any("duplicate" in why for why in reasons):
            lines.append("    Duplicates are chats whose messages equal a chat's already in the dataset (or "
                         "earlier in the file). To import them anyway: File > Import with options… > "
                         "Import duplicates too.")
        if not imported and any("linter" in why for why in reasons):
            lines.append("    View > Problems (F8) lists the problems of those chats.")
        if not imported and any("rejected" in why for why in reasons):
            lines.append("    Mark a reply version as rejected in the chat editor: click its “2/3” and tick "
                         "“Version N rejected”.")
    if r.warnings:
        if lines:
            lines.append("")
        lines.append(f"{plural(len(r.warnings), 'warning')}:")
        lines += [f"    {w}" for w in r.warnings]
    lossy = getattr(r, "lossy", None)
    if lossy and lines:  # the dialog listed them before; here beside the warnings
        lines.append("")
        lines.append("Not in this format:")
        lines += [f"    • {x}" for x in lossy]
    return lines
