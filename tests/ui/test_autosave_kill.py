"""kill -9 of a GUI process while its user types continuously (issue 10, item 10): the real
main window and editor in a subprocess (tests/ui/gui_typist.py) with the REAL default save
delays, typing ~80 words a minute; killed 0.1 s after the last key. Everything typed more than
a second before the kill must be in the file (README: every keystroke is saved within a second).
Before the max-wait, the 0.5 s debounce restarted on every key and nothing at all was saved."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ui.process_helpers import read_content, seed

TYPIST = Path(__file__).resolve().parent / "gui_typist.py"
TEXT = "The quick brown fox jumps over the lazy dog again."  # 50 characters
MS_PER_KEY = 76  # 50 keys in 3.8 s, as in the issue


class Lines:
    """The lines a process prints, read straight from the pipe (select() and a buffered reader
    do not mix: a line already in the buffer would not wake select)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.fd = proc.stdout.fileno()  # type: ignore[union-attr]
        self.proc = proc
        self.buf = b""
        self.lines: list[str] = []

    def until(self, prefix: str, timeout: float) -> list[str]:
        """Lines up to (and with) the first that starts with `prefix`."""
        deadline = time.monotonic() + timeout
        out: list[str] = []
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                out.append(line.decode().strip())
                if out[-1].startswith(prefix):
                    return out
            left = deadline - time.monotonic()
            assert left > 0, f"the GUI process did not print {prefix!r} in time: {out[-3:]}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the GUI process ended early (exit {self.proc.poll()}): {out[-3:]}"
                self.buf += chunk


def test_kill_9_while_typing_loses_at_most_the_last_second(db_path: Path) -> None:
    cid, mids = seed(db_path)
    proc = subprocess.Popen([sys.executable, str(TYPIST), str(db_path), str(cid), TEXT, str(MS_PER_KEY)],
                            stdout=subprocess.PIPE, env=dict(os.environ))
    try:
        out = Lines(proc)
        out.until("ready", timeout=30)
        lines = out.until("done", timeout=30)
        keys = [float(line.split()[2]) for line in lines if line.startswith("key ")]
        assert len(keys) == len(TEXT)
        # 0.1 s after the last key (a moment in time, not a condition to wait for).
        time.sleep(max(0.0, keys[-1] + 0.1 - time.time()))
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stored = read_content(db_path, mids[-1]) or ""
    due = "Hi!" + TEXT[: sum(1 for t in keys if t <= killed_at - 1.0)]
    assert ("Hi!" + TEXT).startswith(stored), stored
    assert len(stored) >= len(due), f"lost more than the last second: stored {stored!r}, due {due!r}"
