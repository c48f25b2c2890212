"""One place where Tk callback errors go: logged (so tests and users' logs see them) and shown;
and `as_status_line`, the wrapper that turns a user action's dataset problem into a status line."""

from __future__ import annotations

import logging
import sqlite3
import traceback
from collections.abc import Callable
from functools import wraps
from types import TracebackType
from typing import Any

from lima_tk.errors import LimaError

log = logging.getLogger("lima_tk.ui")


def handle_callback_error(
    exc: type[BaseException],
    val: BaseException,
    tb: TracebackType | None,
    show: Callable[[str], None] | None = None,
) -> None:
    """Use as `root.report_callback_exception`. Tk thread only."""
    log.error("error in a Tk callback: %s", val, exc_info=(exc, val, tb))
    if show is not None:
        try:
            if isinstance(val, sqlite3.Error):  # never SQLite's own words ("database is locked")
                from lima_tk.ui.autosave import plain_reason

                show(f"Not done: {plain_reason(val)}; try again")
                return
            show(f"Error: {val}" if str(val) else f"Error: {exc.__name__}")
        except Exception:  # the status bar itself may be gone while closing
            traceback.print_exception(exc, val, tb)


def as_status_line(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A user action (a method of an object with `status(text, error)` and `store`): a dataset
    problem (LimaError) becomes a status message and a bell; a write the store did not put in
    words (busy, full) a plain sentence naming the file; anything else reaches
    report_callback_exception (logged and shown)."""

    @wraps(fn)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except LimaError as e:
            self.status(str(e), error=True)
            return None
        except sqlite3.OperationalError as e:
            self.status(plain_sqlite(e, self.store), error=True)
            return None

    return run


def plain_sqlite(e: sqlite3.Error, store: Any) -> str:
    """A SQLite error as one plain sentence that names the file (never "database is locked")."""
    from lima_tk.ui.autosave import plain_reason

    name = store.path.name if store is not None else "the dataset"
    return f"Nothing was changed: {plain_reason(e).replace('the dataset', name)}; try again"
