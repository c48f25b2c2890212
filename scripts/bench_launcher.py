#!/usr/bin/env python3
"""What the launcher adds to a start once lima-tk is installed: `launch.py ARGS` against
`python -m lima_tk ARGS` run directly, alternating, medians of N runs.

    .venv/bin/python scripts/bench_launcher.py [--runs 15]

The launcher runs on the base Python (as a double-click would) against a stand-in for its
environment whose bin/python runs this interpreter (a one-line shell script: ~1 ms of the
difference). With $DISPLAY set it also times a GUI start to the first painted list.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stand_in(folder: Path) -> Path:
    (folder / "bin").mkdir(parents=True)
    py = folder / "bin" / "python"
    py.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    py.chmod(0o755)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    (folder / ".lima-tk-installed").write_text(digest + "\n")
    return folder


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
    base = getattr(sys, "_base_executable", sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "LIMA_TK_VENV": str(stand_in(Path(tmp) / "venv")), "HF_HUB_OFFLINE": "1",
               "XDG_DATA_HOME": str(Path(tmp) / "data"), "XDG_STATE_HOME": str(Path(tmp) / "state"),
               "XDG_CONFIG_HOME": str(Path(tmp) / "config")}
        cases = [("--version", ["--version"], {})]
        if os.environ.get("DISPLAY"):
            cases.append(("GUI to first paint", [], {"LIMA_TK_EXIT_AFTER_PAINT": "1"}))
        print(f"{runs} runs each, alternating; launcher on {base}")
        for label, args, extra in cases:
            e = {**env, **extra}
            direct: list[float] = []
            launched: list[float] = []
            timed([sys.executable, "-m", "lima_tk", *args], e)  # warm the caches (and the first run)
            for _ in range(runs):
                direct.append(timed([sys.executable, "-m", "lima_tk", *args], e))
                launched.append(timed([base, str(ROOT / "scripts" / "launch.py"), *args], e))
            d, lch = statistics.median(direct), statistics.median(launched)
            print(f"{label:20} direct {d * 1000:6.0f} ms   launcher {lch * 1000:6.0f} ms   "
                  f"+{(lch - d) * 1000:.0f} ms ({lch / d:.2f}x)")


if __name__ == "__main__":
    main()
