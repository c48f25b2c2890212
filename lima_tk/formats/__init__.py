"""Import and export: a registry of formats that sniffs a file's content and picks the reader.

Public API (used by the GUI and the CLI; every function may run on a worker thread with a store
opened on that thread):

- `detect_format(path)`: the format name, from the file's content (the extension is a hint only).
- `import_file(s)`: stream file(s) into the store in ONE transaction and undo step; any bad
  input (or a cancel) rolls everything back and raises `FormatError` (or `Cancelled`).
- `export_file`: write chats (optionally filtered) to a temp file next to the target and rename it
  into place, so the destination is never half written.

To add a format, write a module with `sniff(head)`, `read(ctx)` and maybe `write(chat, ctx)`,
and `register()` a `FormatSpec` (sniffing follows registry order: specific formats first, so a
new format usually registers `before="openai"`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lima_tk.errors import FormatError, LimaError, ValidationError, quoted
from lima_tk.fileio import atomic_write, check_target
from lima_tk.formats import alpaca, chatgpt, hf, limagui, native, openai, preference, sharegpt
from lima_tk.formats.base import (
    PROGRESS_EVERY,
    Cancelled,
    ExportReport,
    FormatSpec,
    ImportReport,
    Progress,
    ReadContext,
    WriteContext,
    chats_to_write,
)
from lima_tk.formats.jsonlines import NESTED_TOO_DEEP, EmptyFile, Head, LineReader, deep_line, read_head
from lima_tk.model import Chat
from lima_tk.store.db import ImportResult
from lima_tk.store.journal import UNFINISHED

if TYPE_CHECKING:
    from lima_tk.store import ChatFilter, DatasetStore

__all__ = [
    "EXPORT_FORMATS",
    "FORMAT_NAMES",
    "REGISTRY",
    "Cancelled",
    "ExportReport",
    "FormatSpec",
    "ImportReport",
    "detect_format",
    "export_file",
    "import_file",
    "import_files",
    "register",
]

REGISTRY: dict[str, FormatSpec] = {}


def register(spec: FormatSpec, before: str | None = None) -> None:
    """Add (or replace) a format; `before` puts its sniffer ahead of another, e.g. "openai"."""
    REGISTRY.pop(spec.name, None)
    if before is None or before not in REGISTRY:
        REGISTRY[spec.name] = spec
        return
    items = list(REGISTRY.items())
    i = [name for name, _ in items].index(before)
    REGISTRY.clear()
    REGISTRY.update([*items[:i], (spec.name, spec), *items[i:]])


# Sniff order matters: the most specific content checks first, plain OpenAI last.
register(FormatSpec("lima", "lima-tk native JSONL (every stored field)",
                    native.sniff, native.read, native.write, native.header, (".jsonl",)))
register(FormatSpec("limagui-config", "lima-gui data_config.json (dataset settings)",
                    limagui.sniff_config, limagui.read_config, extensions=(".json",)))
register(FormatSpec("limagui", "lima-gui JSONL (name, lang, tags, messages, tools)",
                    limagui.sniff_jsonl, limagui.read_jsonl, extensions=(".jsonl",)))
register(FormatSpec("limagui-csv", "lima-gui CSV (one `chat` column of JSON chats)",
                    limagui.sniff_csv, limagui.read_csv, extensions=(".csv",)))
register(FormatSpec("openai", "OpenAI fine-tuning JSONL",
                    openai.sniff, openai.read, openai.write, extensions=(".jsonl",),
                    fast_lines=openai.fast_lines))
# Issue 7: other tools' formats. Their records are told apart by their keys (mapping; conversations
# of from/value; instruction + output), so they go ahead of the lima-gui and OpenAI sniffers.
register(FormatSpec("chatgpt", "ChatGPT data export (conversations.json or the export .zip)",
                    chatgpt.sniff, chatgpt.read, extensions=(".json", ".zip")), before="limagui")
register(FormatSpec("sharegpt", "ShareGPT JSON (FastChat / LLaMA-Factory conversations)",
                    sharegpt.sniff, sharegpt.read, sharegpt.write, extensions=(".json", ".jsonl"),
                    container="array"), before="limagui")
register(FormatSpec("alpaca", "Alpaca JSON (instruction, input, output)",
                    alpaca.sniff, alpaca.read, alpaca.write, extensions=(".json", ".jsonl"),
                    container="array"), before="limagui")
# Export only (no sniffer): kept ahead of "openai" too, so that it stays the last entry.
register(FormatSpec("hf", "Hugging Face dataset folder (data/*.jsonl + README.md card)", folder=hf.export_folder),
         before="openai")
register(FormatSpec("pref-trl", "Preference pairs, TRL conversational (prompt, chosen, rejected)",
                    write=preference.write_trl, extensions=(".jsonl",), multi=True), before="openai")
register(FormatSpec("pref-openai", "Preference pairs, OpenAI DPO (input, preferred_output, non_preferred_output)",
                    write=preference.write_openai, extensions=(".jsonl",), multi=True), before="openai")

FORMAT_NAMES: tuple[str, ...] = ("openai", "lima", "limagui", "limagui-csv", "limagui-config", "chatgpt", "sharegpt",
                                 "alpaca")
EXPORT_FORMATS: tuple[str, ...] = ("openai", "lima", "sharegpt", "alpaca", "hf", "pref-trl", "pref-openai")
LIMAGUI_FAMILY = ("limagui", "limagui-csv", "limagui-config")


# -- detection -------------------------------------------------------------------------------


def detect_format(path: str | os.PathLike[str]) -> str:
    """The import format of a file, from its content. Raises FormatError for binary/unknown files."""
    return _detect(read_head(path))


def _detect(head: Head) -> str:
    for spec in REGISTRY.values():
        if spec.sniff is not None and spec.read is not None and spec.sniff(head):
            return spec.name
    if head.first_line.strip() in ("{", "[") and head.size <= 4 * 1024 * 1024:
        # Pretty-printed JSON that did not parse: name the line where it breaks, not line 1.
        text = ""
        try:
            text = head.path.read_bytes().decode("utf-8-sig")
            json.loads(text)
        except json.JSONDecodeError as e:
            raise FormatError(str(head.path), e.lineno, f"invalid JSON: {e.msg} at column {e.colno}") from None
        except RecursionError:
            raise FormatError(str(head.path), deep_line(text), NESTED_TOO_DEEP) from None
        except UnicodeDecodeError:
            pass
    if head.json_error is not None:
        raise head.json_error
    raise FormatError(str(head.path), None, _unknown(head))


def _unknown(head: Head) -> str:
    obj = head.obj
    expected = ("expected OpenAI JSONL, a lima-tk export, lima-gui JSONL/CSV/data_config.json, "
                "a ChatGPT export, ShareGPT or Alpaca")
    if head.array:
        rec = head.record()
        if isinstance(rec, dict):
            keys = ", ".join(list(rec)[:6]) or "none"
            return f"unknown format: a JSON array of objects with keys {keys} ({expected})"
        return f"unknown format: a JSON array ({expected})"
    if isinstance(obj, dict):
        keys = ", ".join(list(obj)[:6]) or "none"
        return f"unknown format: a JSON object with keys {keys} ({expected})"
    if isinstance(obj, list):
        return f"unknown format: a JSON array ({expected})"
    if head.ext == ".csv":
        return "unknown format: a CSV file without a 'chat' column"
    return f"unknown format ({expected})"


# An empty file (or one of blank lines only) imports nothing, with a note: not an error.
EMPTY = FormatSpec("empty", "an empty file", read=lambda ctx: iter(()))


def _resolve(path: Path, fmt: str | None) -> tuple[FormatSpec, Head]:
    try:
        head = read_head(path)  # also refuses missing and binary files
    except EmptyFile:
        return EMPTY, Head(path, path.suffix.lower(), path.stat().st_size, "", 0, True)
    if not fmt or fmt == "auto":
        return REGISTRY[_detect(head)], head
    if fmt == "limagui":  # the lima-gui family: JSONL, CSV or config, told apart by content
        try:
            name = _detect(head)
        except FormatError:
            name = "limagui"
        return REGISTRY[name if name in LIMAGUI_FAMILY else "limagui"], head
    spec = REGISTRY.get(fmt)
    if spec is None or spec.read is None:
        known = ", ".join(["auto", *(n for n, s in REGISTRY.items() if s.read)])
        raise ValidationError(f"unknown import format {fmt!r} (known: {known})")
    return spec, head


# -- import ----------------------------------------------------------------------------------


def import_file(
    store: DatasetStore,
    path: str | os.PathLike[str],
    fmt: str = "auto",
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    *,
    options: dict[str, Any] | None = None,
    allow_duplicates: bool = False,
    first: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one file (all or nothing). See `import_files`."""
    return import_files(store, [path], fmt, tags, progress, cancel, options=options,
                        allow_duplicates=allow_duplicates, first=first)[0]


def import_files(
    store: DatasetStore,
    paths: Iterable[str | os.PathLike[str]],
    fmt: str = "auto",
    tags: Sequence[str] = (),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    *,
    options: dict[str, Any] | None = None,
    allow_duplicates: bool = False,
    first: Callable[[int], None] | None = None,
) -> list[ImportReport]:
    """Import files in ONE transaction and undo step; bad input anywhere leaves the dataset untouched.

    `progress(done_bytes, total_bytes)` is called now and then; `cancel` is checked before each
    line and raises `Cancelled` (rolled back). Any thread, with a store opened on that thread.
    `options` go to the readers by name (e.g. ChatGPT's `placeholder`, ShareGPT's `sharegpt_tags`;
    see docs/formats.md). A chat whose messages equal those of a chat already in the dataset (or
    earlier in the import) is skipped and reported, unless `allow_duplicates`.

    `first` (one file into a dataset without chats: File > Open of a chat file, issue 15): the
    first chats (FIRST_CHATS, or fewer when they fill FIRST_BYTES of the file) are committed on
    their own and `first(n)` is called, so a window can show them while the rest is read; the
    rest joins their undo step. If the rest fails or is cancelled, the first chats are taken out
    again, so the import is still all or nothing (for a moment other readers saw them).
    """
    files = [Path(p) for p in paths]
    if not files:
        return []
    if first is not None and (len(files) != 1 or store.has_chats()):
        raise ValidationError("showing the first chats early is only for one file into a dataset without chats")
    tag_list = list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))
    plan = [(p, *_resolve(p, fmt)) for p in files]  # detect everything before writing anything
    total = sum(head.size for _, _, head in plan)
    label = f"Import {files[0].name}" if len(files) == 1 else f"Import {len(files)} files"
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    if progress is not None:
        progress(0, total)
    reports: list[ImportReport] = []
    offset = 0
    # With `first`, _add_in_two makes the two changes itself.
    with store.change(label, "import") if first is None else nullcontext():
        known = None if allow_duplicates else _Known(store)
        for path, spec, head in plan:
            assert spec.read is not None
            lines = LineReader(path, progress, cancel, offset, total)
            ctx = ReadContext(store, path, spec.name, tag_list, lines, options, head)
            chats: Iterable[Chat] = _checked(ctx, spec.read(ctx))
            if known is not None:
                chats = known.filter(ctx, chats)
            try:
                if first is None:
                    result = store.add_chats(chats, label, bulk=True)
                else:
                    result = _add_in_two(store, chats, label, lines, first)
            except RecursionError:  # a value nested deeper than a reader or the store can walk
                raise FormatError(str(path), ctx.line or None, NESTED_TOO_DEEP) from None
            report = ctx.report
            if spec is EMPTY:
                ctx.warn("the file is empty: no chats imported")
            elif not report.chats and not report.skipped and not report.settings_changed \
                    and spec.name != "limagui-config":
                ctx.line = 0
                ctx.warn("no chats in the file")
            report.warnings = ctx.warnings.lines() + _fold(result.warnings)
            reports.append(report)
            offset += head.size
    return reports


# File > Open of a chat file: what is committed first, to be shown while the rest is imported.
FIRST_CHATS = 200
FIRST_BYTES = 1 << 20


def _add_in_two(store: DatasetStore, chats: Iterable[Chat], label: str, lines: LineReader,
                first: Callable[[int], None]) -> ImportResult:
    """add_chats in two changes: the first chats, committed and announced, then the rest, whose
    step takes the first one in (see import_files). Until the rest is in, the first step's label
    says "(unfinished)": what a crash in between leaves is named in the Edit menu."""
    rest = iter(chats)

    def first_part() -> Iterator[Chat]:
        for n, chat in enumerate(rest, 1):
            yield chat
            if n >= FIRST_CHATS or lines.done >= FIRST_BYTES:
                return

    with store.change(label, "import") as entry:
        head = store.add_chats(first_part(), label, bulk=True)
        store.journal.relabel(entry.id, label + UNFINISHED)  # until the rest is in
    try:
        lines.report()  # the progress bar moves with the first chats, even in a small file
        first(head.chats)
        with store.change(label, "import") as more:
            tail = store.add_chats(rest, label, bulk=True)
            store.journal.merge_into(entry.id, more.id)  # one undo step for the whole file
    except BaseException:
        try:
            store.journal.drop_newest(entry.id)  # the first chats out again: nothing imported
        except (LimaError, sqlite3.Error):
            pass  # the first error is the one to tell (a new dataset's file is removed anyway)
        raise
    return ImportResult(head.chats + tail.chats, head.messages + tail.messages,
                        head.first_id if head.first_id is not None else tail.first_id,
                        tail.last_id if tail.last_id is not None else head.last_id, head.warnings + tail.warnings)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _checked(ctx: ReadContext, chats: Iterable[Chat]) -> Iterator[Chat]:
    """Refuse what the store would keep but no export could write: tool-call arguments (JSON
    strings, kept as given) that decode to a lone UTF-16 surrogate, as in message content."""
    for chat in chats:
        for m in chat.messages:
            for tc in m.tool_calls or ():
                fn = tc.get("function") if isinstance(tc, dict) else None
                args = fn.get("arguments") if isinstance(fn, dict) else None
                if isinstance(args, str) and _SURROGATE_ESCAPE.search(args) and _lone_surrogate(args):
                    raise ctx.error("invalid text: a lone UTF-16 surrogate escape (\\ud800-\\udfff) in the "
                                    "arguments of a tool call")
        yield chat


def _lone_surrogate(args: str) -> bool:
    try:
        json.dumps(json.loads(args), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except ValueError:
        return False  # not JSON: the linter reports it; an escape in plain text is just text
    return False


class _Known:
    """Fingerprints of the dataset's chats (read once, lazily), to skip duplicates on import."""

    def __init__(self, store: DatasetStore) -> None:
        self.store = store
        self.seen: dict[int, int | None] | None = None

    def _load(self) -> dict[int, int | None]:
        from lima_tk.validate import fingerprint

        seen: dict[int, int | None] = {}
        for chat_id, msgs in self.store.message_outlines():
            seen.setdefault(fingerprint(msgs), chat_id)
        return seen

    def load(self) -> None:
        """Read the dataset's fingerprints now (the store's thread only)."""
        if self.seen is None:
            self.seen = self._load()

    def filter(self, ctx: ReadContext, chats: Iterable[Chat]) -> Iterator[Chat]:
        from lima_tk.validate import fingerprint

        self.load()
        seen = self.seen
        assert seen is not None
        for chat in chats:
            if chat.messages:
                fp = fingerprint(chat.messages)
                if fp in seen:
                    first = seen[fp]
                    ctx.report.chats -= 1
                    ctx.report.messages -= len(chat.messages)
                    ctx.skip("duplicate of a chat in the dataset" if first is not None
                             else "duplicate of an earlier chat in the import", f"chat {quoted(chat.name)}")
                    continue
                seen[fp] = None
            yield chat


def _short_reason(e: BaseException, limit: int = 200) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, UnicodeEncodeError):
        text = "a lone UTF-16 surrogate (\\ud800-\\udfff) in its text"
    return text if len(text) <= limit else text[:limit] + "…"


def _fold(warnings: list[str], keep: int = 5) -> list[str]:
    if len(warnings) <= keep:
        return warnings
    return [*warnings[:keep], f"... and {len(warnings) - keep} more like these"]


# -- export ----------------------------------------------------------------------------------


def export_file(
    store: DatasetStore,
    out_path: str | os.PathLike[str],
    fmt: str = "openai",
    chat_filter: ChatFilter | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    *,
    options: dict[str, Any] | None = None,
    skip_problems: bool = False,
) -> ExportReport:
    """Write the (filtered) chats to `out_path` atomically: temp file in the same folder, then
    os.replace. On error or cancel the temp file is removed and an old file stays as it was.
    `progress(chats_done, total_chats)`. Any thread, with a store opened on that thread.

    `options` go to the writer by name (see docs/formats.md); `skip_problems` leaves out chats
    with linter errors ("no problems only"). The `hf` format writes a folder (see formats/hf.py).
    """
    spec = REGISTRY.get(fmt)
    if spec is None or (spec.write is None and spec.folder is None):
        raise ValidationError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    from lima_tk.formats.lossy import lossy_fields

    if spec.folder is not None:
        folder_report = spec.folder(store, out_path, chat_filter, progress, cancel, options, skip_problems)
        folder_report.lossy = lossy_fields(spec.name, options)
        return folder_report
    assert spec.write is not None
    out = Path(out_path)
    if out.is_dir():
        raise LimaError(f"{out}: is a folder; give a file name")
    check_target(out, store.path)  # never over the dataset (or its -wal/-shm)
    report = ExportReport(str(out), spec.name, lossy=lossy_fields(spec.name, options))
    ctx = WriteContext(report, options)
    total = store.count_chats(chat_filter)
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    array = spec.container == "array"
    try:
        with atomic_write(out, newline="\n", dataset=store.path) as f:
            # One JSON style per file: a format whose plain lines SQLite builds (compact, as
            # json_object writes them) writes its other lines compact too (issue 11).
            compact = (",", ":") if spec.fast_lines is not None else None
            dumps = json.JSONEncoder(ensure_ascii=False, separators=compact).encode
            if spec.header is not None:
                f.write(dumps(spec.header(store)) + "\n")
            if array:
                f.write("[")

            def put(lines: list[str]) -> None:
                # An array keeps one item per line: "[\n{...},\n{...}\n]\n". One write per chat:
                # the text is encoded before anything of it reaches the file.
                if array:
                    text = "".join(("\n" if not report.rows and i == 0 else ",\n") + line
                                   for i, line in enumerate(lines))
                else:
                    text = "".join(line + "\n" for line in lines)
                f.write(text)
                report.rows += len(lines)

            def emit(chat_id: int, name: str | None, make: Callable[[], list[str] | None], n_messages: int) -> None:
                """Write one chat's rows; a chat that cannot be written is skipped by name."""
                try:
                    lines = make()
                    if lines is None:
                        return
                    put(lines)
                except (ValueError, TypeError, KeyError, AttributeError, UnicodeError) as e:
                    if name is None:
                        name = store.get_chat(chat_id).name
                    ctx.skip(Chat(name=name, id=chat_id), f"cannot be written ({_short_reason(e)})")
                    return
                report.chats += 1
                report.messages += n_messages

            if progress is not None:
                progress(0, total)
            done = 0
            write = spec.write

            def rows_of(chat: Chat) -> list[str] | None:
                obj = write(chat, ctx)
                if obj is None:
                    return None
                return [dumps(row) for row in (obj if spec.multi else [obj])]

            if spec.fast_lines is not None and not skip_problems:
                # SQLite builds the lines of plain chats; the rest take the checked writer.
                for chat_id, line, n_messages in spec.fast_lines(store, chat_filter):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("cancelled")
                    if line is None:
                        chat = store.get_chat(chat_id)
                        emit(chat_id, chat.name, lambda chat=chat: rows_of(chat), n_messages)
                    else:
                        emit(chat_id, None, lambda line=line: [line], n_messages)
                    done += 1
                    if progress is not None and done % PROGRESS_EVERY == 0:
                        progress(done, total)
            else:
                for chat in chats_to_write(store, chat_filter, ctx, total, progress, cancel, skip_problems):
                    emit(chat.id or 0, chat.name, lambda chat=chat: rows_of(chat), len(chat.messages))
            if array:
                f.write("\n]\n" if report.rows else "]\n")
    except OSError as e:
        raise LimaError(f"{out}: cannot write ({e.strerror or e})") from e
    report.warnings += ctx.warnings.lines()
    if progress is not None:
        progress(total, total)
    return report
