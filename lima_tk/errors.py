"""Domain exceptions. The CLI prints them as one line (exit 2); the GUI shows them."""

from __future__ import annotations


class LimaError(Exception):
    """Base class for errors a user should see as one clear line."""


class NotFound(LimaError, KeyError):
    """An id (chat, message, tool) that does not exist in the dataset."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain words
        return str(self.args[0]) if self.args else "not found"


class Cancelled(LimaError):
    """The user cancelled an import (rolled back), an export (temp file removed) or a copy."""


class DatasetError(LimaError):
    """The dataset file cannot be opened or written (locked, read-only, not a dataset)."""


class DatasetBusy(DatasetError):
    """Another process holds the dataset's write lock: nothing was changed; try again later."""


class DatasetFull(DatasetError):
    """The disk that holds the dataset is full: nothing was changed."""


MESSAGE_MAX = 400  # characters of a reason or warning; a hostile file's 1 GiB title is not echoed


def clip(text: str, limit: int = MESSAGE_MAX) -> str:
    """`text`, cut to `limit` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def quoted(value: object, limit: int = 60) -> str:
    """repr() of a value from a file or the dataset for a message, cut to `limit` characters."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"… ({len(value):,} characters)"
    return clip(repr(value), limit + 20)


class FormatError(LimaError):
    """Bad input while importing: names the file, the line and the reason."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason = clip(reason)
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


class ValidationError(LimaError):
    """A value that breaks a rule of the model (role, name pattern, JSON arguments...)."""
