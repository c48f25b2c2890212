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


# Sockets behind refused_port(): kept bound for the whole test session.
_held: list[socket.socket] = []


def refused_port() -> int:
    """A loopback port whose connections are refused, for as long as the tests run.

    The port is held by a socket that is bound but never listens: the kernel answers a connect
    to it with a reset (ECONNREFUSED), and no other program can take the port meanwhile. (A port
    that was bound and then closed could be taken by anyone, e.g. a parallel test's server.)"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    _held.append(s)
    return s.getsockname()[1]
