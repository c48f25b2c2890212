#!/usr/bin/env python3
"""Double-click launcher: make a private virtual environment next to the project once, install
lima-tk into it, then start the GUI (or pass any lima-tk arguments through).

    python3 scripts/launch.py            # opens the default dataset in the user data dir
    python3 scripts/launch.py export data.jsonl
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_installed() -> Path:
    py = venv_python()
    stamp = VENV / ".lima-tk-installed"
    pyproject = ROOT / "pyproject.toml"
    if py.exists() and stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return py
    if not py.exists():
        print("lima-tk: creating a virtual environment in", VENV, flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("lima-tk: installing (first start only)...", flush=True)
    subprocess.check_call([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", str(ROOT)])
    stamp.touch()
    return py


def main() -> int:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        print("lima-tk needs Tk: install your system's python3-tk package.", file=sys.stderr)
    py = ensure_installed()
    return subprocess.call([str(py), "-m", "lima_tk", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
