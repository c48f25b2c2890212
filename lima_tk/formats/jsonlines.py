"""Streaming text input: lines of a file as text, JSON lines, and the head used for sniffing.

Files are read as bytes and decoded line by line (never the whole file), so a bad byte or a bad
line is reported with its line number, a UTF-8 BOM and CRLF line ends are accepted, and progress
is measured in bytes.
"""

from __future__ import annotations

import csv
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lima_tk.errors import FormatError
from lima_tk.formats.base import Cancelled, Progress, check_cancel
from lima_tk.store.files import is_open_dataset

BOM = b"\xef\xbb\xbf"
PROGRESS_STEP = 256 * 1024  # bytes between progress calls
HEAD_LINE_MAX = 64 * 1024 * 1024  # sniffing reads one line; never slurp a one-line giant
LINE_MAX = HEAD_LINE_MAX  # the cap of every line of an import
NESTED_TOO_DEEP = "nested too deep"
# Control bytes that never occur in JSON or CSV text (tab, LF, FF and CR do).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
# A JSON escape of a UTF-16 surrogate: only these can smuggle a lone surrogate into a str.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
NOT_JSON: Any = object()


class EmptyFile(FormatError):
    """A file with nothing but blank lines: an import of it imports 0 chats (with a note)."""


def decode_line(raw: bytes, path: Path, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        reason = f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
        raise FormatError(str(path), line, reason) from None


class LineReader:
    """The lines of a file as text with their line ends, checking `cancel` before each one.

    `line_no` is the number of the line last yielded; `complete` says whether it ended with a
    newline (only a truncated last line does not). `offset`/`total` let several files share one
    progress bar.
    """

    def __init__(
        self,
        path: Path,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        offset: int = 0,
        total: int | None = None,
    ) -> None:
        self.path = path
        self.progress = progress
        self.cancel = cancel
        self.offset = offset
        self.size = path.stat().st_size
        self.total = total if total is not None else self.size
        self.line_no = 0
        self.complete = True
        self.done = 0

    def report(self) -> None:
        """Tell the progress callback how far the reading is now (between its regular steps)."""
        if self.progress is not None:
            self.progress(self.offset + self.done, self.total)

    def __iter__(self) -> Iterator[str]:
        progress, cancel, path = self.progress, self.cancel, self.path
        last = 0
        with open(path, "rb") as f:
            while True:
                # Every line is capped (a 1 GiB line is a hostile or minified file, never a chat).
                raw = f.readline(LINE_MAX + 1)
                if not raw:
                    break
                if len(raw) > LINE_MAX:
                    raise FormatError(str(path), self.line_no + 1, "line longer than 64 MiB: not a JSON lines file")
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                self.line_no += 1
                self.done += len(raw)
                if progress is not None and self.done - last >= PROGRESS_STEP:
                    progress(self.offset + self.done, self.total)
                    last = self.done
                if self.line_no == 1 and raw.startswith(BOM):
                    raw = raw[3:]
                self.complete = raw.endswith(b"\n")
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield decode_line(raw, path, self.line_no)  # raises with the column
        check_cancel(cancel)
        if progress is not None:
            progress(self.offset + self.done, self.total)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every line: json.loads(text, parse_constant=...) would build a new one per call.
_DECODE = json.JSONDecoder(parse_constant=_reject_constant).decode


def loads_line(text: str, path: Path, line: int, complete: bool = True) -> Any:
    """Parse one JSON line; errors name the line (a last line without newline is 'truncated')."""
    try:
        obj = _DECODE(text)
    except json.JSONDecodeError as e:
        what = f"invalid JSON: {e.msg} at column {e.colno}"
        raise FormatError(str(path), line, f"truncated last line ({what})" if not complete else what) from None
    except ValueError as e:
        raise FormatError(str(path), line, f"invalid JSON: {e}") from None
    except RecursionError:
        raise FormatError(str(path), line, NESTED_TOO_DEEP) from None
    if _SURROGATE_ESCAPE.search(text):
        # json accepts a lone surrogate escape; SQLite (UTF-8) cannot store one.
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            reason = "invalid text: a lone UTF-16 surrogate escape (\\ud800-\\udfff)"
            raise FormatError(str(path), line, reason) from None
        except RecursionError:
            raise FormatError(str(path), line, NESTED_TOO_DEEP) from None
    return obj


def deep_line(text: str, limit: int = 500) -> int | None:
    """The line where JSON `text` first nests deeper than `limit` (strings skipped), for the
    message of a document too deep to parse; None if it never does."""
    depth, line, in_str, esc = 0, 1, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            elif ch == "\n":
                line += 1
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return None


def json_lines(lines: LineReader, ctx: Any = None) -> Iterator[Any]:
    """Parsed JSON values of the non-blank lines; sets `ctx.line` so readers can name the line."""
    path = lines.path
    for text in lines:
        # Only a line that starts with white space can be blank: no copy of every line to ask.
        if (not text or text[0].isspace()) and not text.strip():
            continue
        obj = loads_line(text, path, lines.line_no, lines.complete)
        if ctx is not None:
            ctx.line = lines.line_no
        yield obj


# -- sniffing --------------------------------------------------------------------------------


@dataclass
class Head:
    """The start of a file, for `detect_format`: its first non-blank line, parsed when it is JSON."""

    path: Path
    ext: str
    size: int
    first_line: str
    line_no: int
    complete: bool
    obj: Any = NOT_JSON
    json_error: FormatError | None = None
    _whole: Any = field(default=NOT_JSON, repr=False)
    # A file that is one top-level JSON array (ShareGPT, Alpaca, conversations.json): its first
    # item, parsed from the start of the file only (`obj` stays NOT_JSON: never the whole array).
    array: bool = False
    first_item: Any = NOT_JSON
    # A .zip (ChatGPT data export): the conversations*.json members, in order.
    zip_members: tuple[str, ...] = ()

    def record(self) -> Any:
        """The first record: the first item of a top-level array, else the first line's value."""
        return self.first_item if self.array else self.obj

    def whole_json(self, limit: int = 4 * 1024 * 1024) -> Any:
        """The whole file as one JSON value (small files only: a pretty-printed config)."""
        if self._whole is NOT_JSON:
            self._whole = None
            if self.size <= limit:
                raw = self.path.read_bytes()
                if raw.startswith(BOM):
                    raw = raw[3:]
                try:
                    self._whole = json.loads(raw.decode("utf-8"))
                except (ValueError, RecursionError):
                    pass
        return self._whole

    def csv_fields(self) -> list[str]:
        try:
            return [f.strip() for f in next(csv.reader([self.first_line]), [])]
        except csv.Error:
            return []


def read_head(path: str | Path) -> Head:
    """Check that a file is non-empty UTF-8 text and read its first non-blank line."""
    p = Path(path)
    if is_open_dataset(p):  # never open() it: closing that descriptor would drop SQLite's locks
        raise FormatError(str(p), None, "a lima-tk dataset that is open, not an import file")
    try:
        size = p.stat().st_size
        f = open(p, "rb")
    except OSError as e:
        raise FormatError(str(p), None, f"cannot read: {e.strerror or e}") from None
    with f:
        start = f.read(8192)
        if start.startswith(b"SQLite format 3\x00"):
            raise FormatError(str(p), 1, "binary file: an SQLite database (open it as a dataset), not an import file")
        if start.startswith(b"PK\x03\x04"):
            zhead = _zip_head(p, size)
            if zhead is not None:
                return zhead
        bad = _BINARY.search(start)
        if bad:
            line = start[: bad.start()].count(b"\n") + 1
            raise FormatError(str(p), line, f"binary file, not text (byte 0x{start[bad.start()]:02x})")
        body = start[3:] if start.startswith(BOM) else start
        if body.lstrip(b" \t\r\n").startswith(b"["):
            return _array_head(p, f, size)
        f.seek(0)
        n = 0
        while True:
            raw = f.readline(HEAD_LINE_MAX)
            if len(raw) == HEAD_LINE_MAX and not raw.endswith(b"\n"):
                # A minified JSON document (an array of chats?) rather than JSON lines.
                raise FormatError(str(p), n + 1, "line longer than 64 MiB: not a JSON lines file")
            if not raw:
                raise EmptyFile(str(p), 1, "empty file (no data)")
            n += 1
            if n == 1 and raw.startswith(BOM):
                raw = raw[3:]
            text = decode_line(raw, p, n)
            if text.strip():
                break
        complete = raw.endswith(b"\n") or not f.read(1)
    head = Head(p, p.suffix.lower(), size, text.rstrip("\r\n"), n, complete)
    if text.lstrip().startswith(("{", "[")):
        try:
            head.obj = loads_line(text, p, n, raw.endswith(b"\n"))
        except FormatError as e:
            head.json_error = e
    return head


def _array_head(p: Path, f: Any, size: int) -> Head:
    """The head of a file that is one JSON array: its first item, read incrementally (a 100 MB
    minified conversations.json is one line; it is never read whole for sniffing)."""
    from lima_tk.formats.jsonstream import NOT_FOUND, first_value

    f.seek(0)
    n, first = 0, b""
    while not first.strip():
        first = f.readline(64 * 1024)
        n += 1
        if not first:
            break
    if n == 1 and first.startswith(BOM):
        first = first[3:]
    text = first.decode("utf-8", "replace").rstrip("\r\n")
    head = Head(p, p.suffix.lower(), size, text, n, True, array=True)
    f.seek(0)
    try:
        _, item = first_value(f, p)
        head.first_item = NOT_JSON if item is NOT_FOUND else item
    except FormatError as e:
        head.json_error = e
    return head


CONVERSATIONS_MEMBER = re.compile(r"(^|/)conversations(-\d+)?\.json$")


def conversation_members(zf: zipfile.ZipFile) -> list[str]:
    """The conversations.json (or conversations-000.json, ...) members of a ChatGPT export zip."""
    names = [i.filename for i in zf.infolist() if not i.is_dir() and CONVERSATIONS_MEMBER.search(i.filename)]
    return sorted(names)


def _zip_head(p: Path, size: int) -> Head | None:
    """A ChatGPT data export .zip: sniffed by its conversations.json. None: not a readable zip."""
    from lima_tk.formats.jsonstream import NOT_FOUND, first_value

    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    with zf:
        names = conversation_members(zf)
        if not names:
            raise FormatError(str(p), None, "a ZIP archive without conversations.json "
                                            "(only ChatGPT data exports are imported from a .zip)")
        head = Head(p, ".zip", size, "", 1, True, zip_members=tuple(names))
        try:
            with zf.open(names[0]) as member:
                head.array, item = first_value(member, p, where=f"{names[0]} in the zip: ")
            head.first_item = NOT_JSON if item is NOT_FOUND else item
        except FormatError as e:
            head.json_error = e
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as e:
            raise FormatError(str(p), None, f"cannot read {names[0]} in the zip: {e}") from None
    return head
