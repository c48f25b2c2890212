"""Running a check the way an ordinary user would: file permissions apply.

Root ignores them (CAP_DAC_OVERRIDE), and CI runs as root, so a test of "a read-only file opens
read-only" would test nothing there. `unprivileged()` gives the command prefix that runs a
subprocess without root's file-permission capabilities: `setpriv` (util-linux, on every Debian)
drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set, so the child
and whatever it starts stay uid 0 (it can still reach a checkout under /root, its X display and
its own files) but get only the owner's permission bits, as any user does. For a non-root user
the prefix is empty: the permission bits already apply.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

DROP = "-dac_override,-dac_read_search,-fowner"
SETPRIV = ("setpriv", f"--bounding-set={DROP}", f"--inh-caps={DROP}")


@functools.cache
def _prefix() -> tuple[str, ...] | str:
    """The prefix, or why there is none (a str)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        return "running the permission tests as root needs setpriv (util-linux) to drop privileges"
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "read-only"
        probe.write_text("x")
        probe.chmod(0o444)
        # The proof that it works: the child cannot append to a read-only file.
        r = subprocess.run([*SETPRIV, "sh", "-c", f"echo y >> '{probe}'"], capture_output=True, text=True)
        if r.returncode == 0 or probe.read_text() != "x":
            return f"setpriv could not drop root's file-permission capabilities here: {r.stderr.strip()}"
    return SETPRIV


def unprivileged() -> tuple[str, ...]:
    """The command prefix that makes file permissions apply to a subprocess. Never skips: a root
    that cannot drop its capabilities fails the test (it would otherwise pass without testing)."""
    got = _prefix()
    if isinstance(got, str):
        pytest.fail(got)
    return got
