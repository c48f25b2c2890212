"""Shared pieces of the format readers and writers: reports, registry entries, read/write contexts.

A reader is a generator `read(ctx) -> Iterator[Chat]`; it runs *inside* the import transaction
(the store's `add_chats` pulls from it), so raising anywhere rolls the whole import back.
A writer turns one stored chat into one JSON value (or None to skip it, with a warning).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lima_tk.errors import Cancelled, FormatError, LimaError, clip, quoted
from lima_tk.model import Chat
from lima_tk.settings import DATASET_DEFAULTS, parse_dataset_setting

if TYPE_CHECKING:
    from lima_tk.formats.jsonlines import Head, LineReader
    from lima_tk.store import ChatFilter, DatasetStore

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 500  # chats between export progress calls

# Repeated warnings are folded into one line so 100,000 alike chats give one warning, not 100,000.
MAX_WARNING_KINDS = 50


@dataclass
class _Report:
    """What an import or an export did: counts, warnings, and why chats were skipped."""

    path: str
    format: str
    chats: int = 0
    messages: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)  # reason -> chats skipped for it


@dataclass
class ImportReport(_Report):
    settings_changed: list[str] = field(default_factory=list)


@dataclass
class ExportReport(_Report):
    rows: int = 0  # lines/items written (a preference export writes one row per pair)
    files: list[str] = field(default_factory=list)  # a folder export: the files written, relative
    lossy: list[str] = field(default_factory=list)  # what the format cannot hold (formats/lossy.py)


@dataclass(frozen=True)
class FormatSpec:
    """One registry entry. A later format only needs a sniff and a read (and maybe a write)."""

    name: str
    description: str
    sniff: Callable[[Head], bool] | None = None
    read: Callable[[ReadContext], Iterable[Chat]] | None = None
    write: Callable[[Chat, WriteContext], dict[str, Any] | None] | None = None
    header: Callable[[DatasetStore], dict[str, Any]] | None = None  # first line of an export
    extensions: tuple[str, ...] = ()
    # Optional fast path: yields (chat_id, line or None, n_messages) in list order; None means
    # "this chat needs the checked `write`" (export_file then loads it with get_chat).
    fast_lines: Callable[[DatasetStore, Any], Iterator[tuple[int, str | None, int]]] | None = None
    container: str = "lines"  # "lines": one JSON value per line; "array": one JSON array, an item per line
    multi: bool = False  # `write` returns a list of rows (preference pairs: any number per chat)
    folder: Callable[..., ExportReport] | None = None  # exports a folder instead (Hugging Face)


class Warnings:
    """Collects warnings, folding repeats of the same message: "line 7: ... (and 41 more)"."""

    def __init__(self) -> None:
        self._seen: dict[str, list[Any]] = {}  # message -> [first where, count]

    def add(self, message: str, where: str = "") -> None:
        message = clip(message)
        slot = self._seen.get(message)
        if slot is not None:
            slot[1] += 1
        elif len(self._seen) < MAX_WARNING_KINDS:
            self._seen[message] = [where, 1]

    def lines(self) -> list[str]:
        out = []
        for msg, (where, n) in self._seen.items():
            text = f"{where}: {msg}" if where else msg
            out.append(text + (f" (and {n - 1} more)" if n > 1 else ""))
        return out


class ReadContext:
    """What a reader gets: the file's lines, the store (for settings), and a place for warnings."""

    def __init__(
        self, store: DatasetStore, path: Path, fmt: str, tags: list[str], lines: LineReader,
        options: dict[str, Any] | None = None, head: Head | None = None,
    ) -> None:
        self.store = store
        self.path = path
        self.tags = tags
        self.lines = lines
        self.options = dict(options or {})  # reader options (import_file(options=...)), by name
        self.head = head
        self.report = ImportReport(str(path), fmt)
        self.line = 0  # the line being converted, for error messages
        self.where = ""  # e.g. "conversations.json in the zip, item 7: ", put before error reasons
        self.warnings = Warnings()

    def skip(self, reason: str, what: str = "") -> None:
        """Count a record that is not imported, with its reason (folded in the warnings)."""
        self.report.skipped += 1
        reasons = self.report.skipped_reasons
        reasons[reason] = reasons.get(reason, 0) + 1
        self.warn(f"{what or 'record'} skipped: {reason}")

    def error(self, reason: str, line: int | None = None) -> FormatError:
        return FormatError(str(self.path), line if line is not None else self.line, self.where + reason)

    def warn(self, message: str) -> None:
        self.warnings.add(message, f"line {self.line}" if self.line else "")

    def finish_chat(self, chat: Chat) -> Chat:
        """Common last step of every reader: add the --tag tags and count."""
        if self.tags:
            chat.tags = chat.tags + [t for t in self.tags if t not in chat.tags]
        self.report.chats += 1
        self.report.messages += len(chat.messages)
        return chat

    def merge_settings(self, values: dict[str, Any]) -> None:
        """Merge dataset settings found in the file (lima header, lima-gui data_config.json).

        In a fresh dataset (no chats yet) a setting still at its default takes the file's value
        exactly, so a native export re-imported into a new dataset gets the same vocabulary in the
        same order. Otherwise the file is merged in: list values appended, the tokenizer only
        when the dataset has none, and the dataset's own context limit kept.
        """
        store = self.store
        fresh = store.count_chats() == 0
        for key, raw in values.items():
            if key not in ("languages", "tags", "tokenizer", "context_limit"):
                self.warn(f"unknown setting {key!r} ignored")
                continue
            try:
                value = parse_dataset_setting(key, raw)
            except LimaError as e:
                raise self.error(f"bad setting {key}: {e}") from None
            before = store.get_setting(key)
            if fresh and before == DATASET_DEFAULTS[key]:
                if value != before:
                    store.set_setting(key, value)
            elif key in ("languages", "tags"):
                store.extend_setting(key, value)
            elif key == "tokenizer" and not before and value:
                store.set_setting(key, value)
            if store.get_setting(key) != before and key not in self.report.settings_changed:
                self.report.settings_changed.append(key)


class WriteContext:
    """What a writer gets: a place for warnings, the skip count and the export options."""

    def __init__(self, report: ExportReport, options: dict[str, Any] | None = None) -> None:
        self.report = report
        self.warnings = Warnings()
        self.options = dict(options or {})
        self._named_skips = 0

    def skip(self, chat: Chat, reason: str, fold: bool = False) -> None:
        """Count a chat not written. Each is named in the warnings (up to 200; `fold` for a
        common, expected reason puts one folded line instead)."""
        self.report.skipped += 1
        reasons = self.report.skipped_reasons
        reasons[reason] = reasons.get(reason, 0) + 1
        if fold or self._named_skips >= 200:
            self.warnings.add(f"chats skipped: {reason}")
        else:
            self._named_skips += 1
            self.report.warnings.append(clip(f"chat {chat.id} {quoted(chat.name)} skipped: {reason}"))

    def warn(self, message: str) -> None:
        self.warnings.add(message)


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def chats_to_write(store: DatasetStore, chat_filter: ChatFilter | None, ctx: WriteContext, total: int,
                   progress: Progress | None, cancel: threading.Event | None,
                   skip_problems: bool) -> Iterator[Chat]:
    """The (filtered) chats of an export, in order. Checks `cancel` before each, calls
    `progress(done, total)` every PROGRESS_EVERY chats, and with `skip_problems` counts the chats
    with linter errors as skipped instead of yielding them."""
    from lima_tk.validate import has_errors

    done = 0
    for chat in store.iter_chats(chat_filter):
        check_cancel(cancel)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        if skip_problems and has_errors(chat):
            ctx.skip(chat, "has linter errors", fold=True)
            continue
        yield chat
