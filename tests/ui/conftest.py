"""GUI test helpers: a display is required (CI fails instead of skipping), callback errors fail
the test, and `wait_until` pumps the Tk loop until a condition holds (never a fixed sleep)."""

from __future__ import annotations

import gc
import logging
import os
import time
import tkinter as tk
from collections.abc import Callable

import pytest


def _display_ok() -> bool:
    try:
        r = tk.Tk()
        r.destroy()
        return True
    except tk.TclError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _need_display() -> None:
    if not _display_ok():
        if os.environ.get("CI") == "true":
            pytest.fail("no X display could be started for the GUI tests (install xvfb)")
        pytest.skip("no X display (install xvfb to run the GUI tests)")


@pytest.fixture(autouse=True)
def _offline_hub(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main window counts tokens in the background: never from the network, never from the
    user's own hub cache (a hub tokenizer falls back to the estimate)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.getbasetemp() / "hf-hub"))


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_callback_error(request: pytest.FixtureRequest):
    """Every Tk callback error goes through lima_tk.ui.errors, which logs to 'lima_tk.ui';
    a test fails when any was logged, unless it is marked `expect_callback_error`."""
    collector = _Collector()
    logger = logging.getLogger("lima_tk.ui")
    logger.addHandler(collector)
    yield collector
    # Collect this test's Tk garbage here, on the main thread: a collection that happens later
    # in some worker thread would delete Tk variables off the main thread.
    gc.collect()
    logger.removeHandler(collector)
    if collector.records and not request.node.get_closest_marker("expect_callback_error"):
        msgs = "; ".join(r.getMessage() + (f" ({r.exc_info[1]!r})" if r.exc_info else "") for r in collector.records)
        pytest.fail(f"a Tk callback raised: {msgs}")


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The error dialogs a test caused, as (title, message), instead of modal windows."""
    from lima_tk.ui import dialogs

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, msg: shown.append((title, msg)))
    return shown


def wait_until(predicate: Callable[[], object], widget: tk.Misc, timeout: float = 5.0) -> object:
    """Pump the Tk event loop until predicate() is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        widget.update()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def wheel_notch(widget: tk.Misc, down: bool = True) -> None:
    """One wheel notch as this Tk sends it on X11: buttons 5/4 on Tk 8.6, <MouseWheel> -/+120 on
    Tk 9 (where buttons 4/5 are the side buttons, which scroll nothing)."""
    widget.update()
    if tk.TkVersion >= 9:
        widget.event_generate("<MouseWheel>", delta=-120 if down else 120, x=5, y=5)
    else:
        widget.event_generate("<Button-5>" if down else "<Button-4>", x=5, y=5)
    widget.update()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "expect_callback_error: the test provokes a Tk callback error on purpose")
