"""One place where Tk callback errors go: logged (so tests and users' logs see them) and shown."""

from __future__ import annotations

import logging
import sqlite3
import traceback
from collections.abc import Callable
from types import TracebackType

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
