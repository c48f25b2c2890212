"""The window starts light (issue 15): on a new dataset file and on the default one made at the
first start, the GUI paints its list without importing sqlite_utils (which pulls in pandas and
numpy when installed), openai or tokenizers. A real subprocess under the test display."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlite_utils", "numpy", "pandas", "openai", "tokenizers", "jinja2", "httpx2")
CODE = f"""
import json, os, sys
os.environ["LIMA_TK_EXIT_AFTER_PAINT"] = "1"
from lima_tk.cli import main
sys.argv = ["lima-tk", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("MODULES " + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), flush=True)
"""


@pytest.mark.parametrize("how", ["new file", "first start"])
def test_gui_start_imports_nothing_heavy(tmp_path: Path, how: str):
    args = ["--db", str(tmp_path / "new.lima.db")] if how == "new file" else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=60)
    out = r.stdout.splitlines()
    assert any(line.startswith("painted ") for line in out), r.stdout + r.stderr
    modules = json.loads(next(x for x in out if x.startswith("MODULES ")).removeprefix("MODULES "))
    assert modules == [], r.stderr
    from lima_tk.paths import default_dataset_path

    made = tmp_path / "new.lima.db" if how == "new file" else default_dataset_path()
    assert made.exists(), "the window made the dataset it opened"
