"""Streaming JSON values: the items of one big top-level array, or the values of a JSON lines file.

`json.load` of a 100 MB `conversations.json` holds the whole document (several times its size in
Python objects) before the first chat is stored. `JsonStream` instead decodes the bytes in chunks
and hands out one top-level value at a time with `json.JSONDecoder.raw_decode` (the C scanner), so
memory stays at one chunk plus the value being converted. It accepts:

- one top-level array `[v1, v2, ...]` (pretty-printed or minified on one line): yields v1, v2, ...
- a sequence of values separated by whitespace (JSON lines, concatenated objects, one object).

Errors are `FormatError`s naming the line (and column) where the JSON breaks; progress is reported
in bytes and `cancel` is checked before every value.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lima_tk.errors import FormatError
from lima_tk.formats.base import Cancelled, Progress

CHUNK = 1 << 20  # bytes decoded at a time
MAX_VALUE = 64 << 20  # characters of one top-level value (a conversation), as the 64 MiB line cap
ZIP_MAX = 4 << 30  # bytes a ChatGPT export zip may expand to (its conversations*.json together)
PROGRESS_STEP = 256 * 1024
_WS = re.compile(r"[ \t\n\r]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# Errors that mean "the value goes on past the end of what was read so far".
_MORE = ("Unterminated string",)
_NUMBER = frozenset("0123456789.eE+-")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_SCAN = json.JSONDecoder(parse_constant=_reject_constant).raw_decode


class JsonStream:
    """The top-level values of a byte stream (see the module doc). Iterate once.

    `line` is the line where the value last yielded starts (1-based); `is_array` tells, once the
    first value was read, whether the stream is one top-level array. `scale` converts bytes read
    into progress units (a zip member reports compressed bytes of the archive).
    """

    def __init__(
        self,
        raw: IO[bytes],
        path: str | Path,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        offset: int = 0,
        total: int | None = None,
        scale: float = 1.0,
        chunk: int = CHUNK,
        where: str = "",
        max_value: int = MAX_VALUE,
    ) -> None:
        self.raw = raw
        self.path = str(path)
        self.where = where  # e.g. "conversations.json in the zip: "
        self.progress = progress
        self.cancel = cancel
        self.offset = offset
        self.total = total
        self.scale = scale
        self.chunk = chunk
        self.max_value = max_value
        self.line = 0
        self.is_array: bool | None = None
        self.bytes_read = 0
        self._last_progress = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line_base = 1  # line number of _buf[0]
        self._col_base = 0  # columns before _buf[0] on that line
        self._first = True
        self._nl_pos = 0  # newlines in _buf[:_nl_pos], counted once (line numbers without rescans)
        self._nl_count = 0

    def _lines_to(self, pos: int) -> int:
        """Newlines in _buf[:pos], counting only what was not counted before."""
        if pos < self._nl_pos:
            return self._buf.count("\n", 0, pos)
        self._nl_count += self._buf.count("\n", self._nl_pos, pos)
        self._nl_pos = pos
        return self._nl_count

    # -- buffer ---------------------------------------------------------------------------

    def _error(self, reason: str, pos: int | None = None) -> FormatError:
        line = None
        if pos is not None:
            pos = min(pos, len(self._buf))
            line = self._line_base + self._buf.count("\n", 0, pos)
            nl = self._buf.rfind("\n", 0, pos)
            col = pos - nl if nl >= 0 else self._col_base + pos + 1
            reason = f"{reason} at column {col}" if reason.startswith("invalid JSON") else reason
        return FormatError(self.path, line, self.where + reason)

    def _fill(self, want: int) -> bool:
        """Read at least `want` more bytes (or to the end); False at the end of the stream."""
        if self._eof:
            return False
        if self._pos:
            pos = self._pos
            n = self._lines_to(pos)
            if n:
                self._line_base += n
                self._col_base = pos - self._buf.rfind("\n", 0, pos) - 1
            else:
                self._col_base += pos
            self._buf = self._buf[pos:]
            self._pos = 0
            self._nl_pos = self._nl_count = 0
        raw = self.raw.read(max(want, self.chunk))
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")
        self.bytes_read += len(raw)
        if self.progress is not None and self.bytes_read - self._last_progress >= PROGRESS_STEP:
            self._last_progress = self.bytes_read
            self.progress(self.offset + int(self.bytes_read * self.scale), self.total or 0)
        final = not raw
        try:
            text = self._decoder.decode(raw, final)
        except UnicodeDecodeError as e:
            data = e.object if isinstance(e.object, bytes) else raw
            bad = data[e.start] if e.start < len(data) else 0
            line = self._line_base + self._buf.count("\n") + data[: e.start].count(b"\n")
            raise FormatError(self.path, line, f"{self.where}not UTF-8 text (byte 0x{bad:02x})") from None
        if self._first and text:
            self._first = False
            if text.startswith("\ufeff"):
                text = text[1:]
        self._buf += text
        if final:
            self._eof = True
        return not final or bool(text)

    def _skip_ws(self) -> bool:
        """Move past whitespace; False when the stream ends there."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return True
            if not self._fill(self.chunk):
                return False

    def _value(self) -> Any:
        """Decode the value at the cursor, reading more while it runs past the buffer."""
        while True:
            buf, pos = self._buf, self._pos
            try:
                obj, end = _SCAN(buf, pos)
            except json.JSONDecodeError as e:
                if not self._eof and (e.pos >= len(buf) - 16 or e.msg.startswith(_MORE)):
                    # Double the window (linear in the value's size), never past the cap.
                    self._fill(self._grow(len(buf) - pos, pos))
                    continue
                if self._eof and (e.pos >= len(buf) - 1 or e.msg.startswith(_MORE)):
                    raise self._error(f"truncated JSON ({e.msg})", pos) from None
                raise self._error(f"invalid JSON: {e.msg}", e.pos) from None
            except ValueError as e:  # NaN / Infinity
                raise self._error(f"invalid JSON: {e}", pos) from None
            except RecursionError:
                raise self._error("nested too deep", pos) from None
            if not self._eof and buf[pos] in "-0123456789" and (end >= len(buf) or buf[end] in _NUMBER):
                self._fill(self._grow(len(buf) - pos, pos))  # a number at the end of the window may go on
                continue
            self.line = self._line_base + self._lines_to(pos)
            if _SURROGATE_ESCAPE.search(buf, pos, end):
                try:
                    json.dumps(obj, ensure_ascii=False).encode("utf-8")
                except UnicodeEncodeError:
                    raise self._error("invalid text: a lone UTF-16 surrogate escape (\\ud800-\\udfff)", pos) from None
            self._pos = end
            return obj

    def _grow(self, size: int, pos: int) -> int:
        """How much more to read for a value of `size` characters so far. One value (a
        conversation) is held whole while it is read: it is capped, so a small zip that expands
        to a 1.5 GiB title cannot take the machine's memory."""
        if size > self.max_value:
            raise self._error(f"one record is larger than {self.max_value >> 20} MiB: not a chat export "
                              "lima-tk can import", pos)
        return max(1, min(size, self.max_value + 1 - size))

    # -- iteration ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        cancel = self.cancel
        if not self._skip_ws():
            return
        self.is_array = self._buf[self._pos] == "["
        if not self.is_array:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                yield self._value()
                if not self._skip_ws():
                    break
        else:
            self._pos += 1
            if not self._skip_ws():
                raise self._error("truncated JSON: the array is not closed", self._pos)
            if self._buf[self._pos] == "]":
                self._pos += 1
            else:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("cancelled")
                    yield self._value()
                    if not self._skip_ws():
                        raise self._error("truncated JSON: the array is not closed", self._pos)
                    c = self._buf[self._pos]
                    self._pos += 1
                    if c == "]":
                        break
                    if c != ",":
                        raise self._error("invalid JSON: Expecting ',' delimiter", self._pos - 1)
                    if not self._skip_ws():
                        raise self._error("truncated JSON: the array is not closed", self._pos)
            if self._skip_ws():
                raise self._error("invalid JSON: extra data after the top-level array", self._pos)
        if self.progress is not None:
            self.progress(self.offset + int(self.bytes_read * self.scale), self.total or 0)


def first_value(raw: IO[bytes], path: str | Path, limit: int = 64 * 1024 * 1024, where: str = "") -> tuple[bool, Any]:
    """(is_array, first item or top-level value) of a stream, for sniffing; reads at most ~`limit`
    bytes (a first value larger than that is not parsed: returns (is_array, NOT_FOUND))."""
    stream = JsonStream(_Limited(raw, limit), path, chunk=64 * 1024, where=where)  # type: ignore[arg-type]
    try:
        for value in stream:
            return bool(stream.is_array), value
    except _TooBig:
        pass
    return bool(stream.is_array), NOT_FOUND


NOT_FOUND: Any = object()


class _Limited:
    """A reader that stops (as at the end of the data) after `limit` bytes."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.left = limit
        self.hit = False

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            self.hit = True
            raise _TooBig()
        data = self.raw.read(min(n, self.left) if n >= 0 else self.left)
        self.left -= len(data)
        return data


class _TooBig(Exception):
    pass


class _Capped:
    """A zip member's bytes, refused past `limit` (zipfile trusts the declared size until the end)."""

    def __init__(self, raw: IO[bytes], limit: int, path: str | Path) -> None:
        self.raw = raw
        self.left = limit
        self.path = path

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n >= 0 else self.left + 1)
        self.left -= len(data)
        if self.left < 0:
            raise FormatError(str(self.path), None, f"the zip expands to more than {ZIP_MAX >> 30} GiB: not imported")
        return data


def read_values(ctx: Any, what: str = "item") -> Iterator[Any]:
    """The records of an import file (a plain file, or the conversations*.json members of a
    ChatGPT export zip), streamed; sets `ctx.line` and `ctx.where` ("item 7: ") for messages."""
    import zipfile

    lines = ctx.lines
    head = ctx.head
    members = head.zip_members if head is not None else ()
    if not members:
        with open(ctx.path, "rb") as raw:
            stream = JsonStream(raw, ctx.path, lines.progress, lines.cancel, lines.offset, lines.total)
            yield from _numbered(ctx, stream, what, "")
        return
    with zipfile.ZipFile(ctx.path) as zf:
        sizes = [zf.getinfo(m).file_size for m in members]
        if sum(sizes) > ZIP_MAX:
            raise FormatError(str(ctx.path), None, f"the zip expands to {sum(sizes) >> 20:,} MiB of conversations, "
                                                   f"more than {ZIP_MAX >> 30} GiB: not imported")
        scale = lines.size / max(sum(sizes), 1)
        done = 0
        for member, size in zip(members, sizes, strict=True):
            prefix = f"{member} in the zip, " if len(members) > 1 or member != "conversations.json" else ""
            with zf.open(member) as opened:
                raw = _Capped(opened, ZIP_MAX - done, ctx.path)  # the sizes a zip declares may lie
                stream = JsonStream(raw, ctx.path, lines.progress, lines.cancel, lines.offset + int(done * scale),
                                    lines.total, scale, where=f"{member} in the zip: ")
                yield from _numbered(ctx, stream, what, prefix)
            done += size


def _numbered(ctx: Any, stream: JsonStream, what: str, prefix: str) -> Iterator[Any]:
    for n, value in enumerate(stream, 1):
        ctx.line = stream.line
        ctx.where = f"{prefix}{what} {n}: " if stream.is_array else prefix
        yield value
    ctx.where = ""
