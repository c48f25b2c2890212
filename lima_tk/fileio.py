"""Atomic file writes: a temp file in the destination folder, then os.replace. A reader (or a
crash) never sees a half-written file, and an existing file stays as it was on any error."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, private: bool = False, newline: str | None = None,
                 fsync: bool = False) -> Iterator[TextIO]:
    """Yield a UTF-8 text file that replaces `path` when the block ends without an error.

    `private` makes it owner-only (0600, for files that may hold an API key); otherwise the
    umask applies as for any new file (mkstemp would force 0600)."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
