"""Helpers for the AI-assist tests: a real local OpenAI-compatible server (tests/openai_server.py).

A test module defines its fixture in two lines (importing a fixture object trips the linter):

    @pytest.fixture
    def openai_server():
        yield from running_server()
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

from tests.openai_server import OpenAIServer


def running_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `cond()` is true (never a fixed sleep); fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def refused_port() -> int:
    """A loopback port with nothing listening (bound, then closed): connections are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
