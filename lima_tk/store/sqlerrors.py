"""SQLite failures in plain words: every error a user can meet becomes one sentence that names the
dataset file and says what to do (issue 10). The store's connection translates them where they
happen, so reads, writes, undo and redo, in the GUI and in the CLI, all say the same thing.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from lima_tk.errors import DatasetBusy, DatasetError, DatasetFull


def plain_error(e: BaseException, path: str | os.PathLike[str]) -> DatasetError | None:
    """The DatasetError for an SQLite failure, or None when it is not one a user can act on
    (a constraint, a bug: those stay as they are)."""
    if not isinstance(e, sqlite3.DatabaseError) or isinstance(e, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
        return None
    name = getattr(e, "sqlite_errorname", "") or ""  # Python 3.11+
    msg = str(e).lower()
    p = os.fspath(path)
    # SQLITE_BUSY is another connection's lock. SQLITE_LOCKED ("database table is locked") is a
    # conflict inside one connection: a bug, not something to retry, so it is left alone.
    if name.startswith("SQLITE_BUSY") or "database is locked" in msg or "database is busy" in msg:
        return DatasetBusy(f"another lima-tk is writing to {p}; try again")
    if name == "SQLITE_FULL" or "disk is full" in msg:
        return DatasetFull(f"no space left on the disk of {p}; nothing was changed")
    if name.startswith("SQLITE_READONLY") or "readonly database" in msg:
        return DatasetError(f"{p} is read-only; nothing was changed")
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in msg:
        return DatasetError(f"cannot read or write {p} (disk I/O error); nothing was changed: check the disk "
                            "and try again")
    if name.startswith("SQLITE_CORRUPT") or "malformed" in msg:
        return DatasetError(f"{p} is damaged (database disk image is malformed); restore it from a copy")
    if name == "SQLITE_NOTADB" or "file is not a database" in msg:
        return DatasetError(f"{p}: not a lima-tk dataset (not an SQLite file)")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open database" in msg:
        return DatasetError(f"cannot open {p} or its -wal/-shm files: check that the file and its folder "
                            "can be read (and written, to edit)")
    return None


class Connection(sqlite3.Connection):
    """A sqlite3 connection whose statements raise plain DatasetErrors (see `plain_error`) for
    failures a user can act on. `sqlite3.connect(..., factory=Connection)`; set `lima_path`."""

    lima_path: str = ""

    def _plain(self, e: sqlite3.Error) -> BaseException:
        return plain_error(e, self.lima_path) or e

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as e:
            err = self._plain(e)
            if err is e:
                raise
            raise err from e

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.DatabaseError as e:
            err = self._plain(e)
            if err is e:
                raise
            raise err from e

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(sql_script)
        except sqlite3.DatabaseError as e:
            err = self._plain(e)
            if err is e:
                raise
            raise err from e
