"""The shape of the code stays as issue 14 left it: no import cycle, no SQL in the UI, no UI class
over 600 lines or module over 800, no tkinter outside lima_tk/ui, no reaching into another
object's private names, and every worker thread of the UI started by one mechanism.

The measuring is scripts/structure_report.py (which prints the same figures); each detector is
first shown to find what it looks for in a small package written here, so a rule cannot pass by
not looking."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("structure_report", ROOT / "scripts" / "structure_report.py")
assert _spec is not None and _spec.loader is not None
sr = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("structure_report", sr)  # dataclasses look their module up there
_spec.loader.exec_module(sr)

MAX_CLASS_LINES = 600  # a UI class (porcupine's biggest, FileTab, is 527)
MAX_MODULE_LINES = 800  # a UI module
# Modules that may start a thread in the UI: the one worker mechanism.
THREAD_MODULES = {"lima_tk.ui.worker"}


@pytest.fixture(scope="module")
def mods() -> dict:
    return sr.load_modules(ROOT)


def write_package(tmp_path: Path, files: dict[str, str]) -> dict:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return sr.load_modules(tmp_path, "pkg")


# -- the detectors find what they look for ---------------------------------------------------------


def test_the_cycle_detector_sees_lazy_and_typing_imports(tmp_path: Path) -> None:
    m = write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def f():\n    from pkg import a\n    return a\nthing = 1\n",  # lazy: still a cycle
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n",
        "pkg/d.py": "from pkg.c import x\nD = 1\n",
        "pkg/e.py": "from pkg import f\n",  # a submodule by name
        "pkg/f.py": "import pkg.e\n",
    })
    assert sr.cycles(m) == [["pkg.a", "pkg.b"], ["pkg.e", "pkg.f"]]
    assert sr.cycles(m, typing=True) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"], ["pkg.e", "pkg.f"]]


def test_the_sql_and_size_detectors(tmp_path: Path) -> None:
    body = "\n".join(f"    def m{i}(self):\n        return {i}\n" for i in range(5))
    m = write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/ui/__init__.py": "",
        "pkg/ui/w.py": 'Q = "SELECT count(*) FROM chats"\nT = "Delete the selected chats"\n'
                       'J = "c.id IN (SELECT value FROM json_each(?))"\n'
                       f"class Big:\n{body}\n",
        "pkg/logic.py": "import tkinter\nP = 'PRAGMA data_version'\n",
    })
    assert [(mod, text[:6]) for mod, _, text in sr.sql_strings(m, "pkg.ui")] == [("pkg.ui.w", "SELECT"),
                                                                                 ("pkg.ui.w", "c.id I")]
    big = [c for c in sr.class_sizes(m, "pkg.ui") if c.name == "Big"][0]
    assert big.methods == 5 and big.lines == 1 + 5 * 3 - 1
    assert sr.imports_module(m, "tkinter", "pkg") == ["pkg.logic"]
    assert sr.calls_named(sr.load_modules(ROOT), "threading.Thread", "lima_tk.ui")  # the worker's own


# -- the rules on lima_tk ------------------------------------------------------------------------


def test_no_import_cycle(mods: dict) -> None:
    """Runtime imports (lazy ones included) of all of lima_tk; in the UI, TYPE_CHECKING imports
    too: its components depend on the Protocols of lima_tk/ui/interfaces.py, not on each other."""
    assert sr.cycles(mods) == []
    ui = {n: m for n, m in mods.items() if n.startswith("lima_tk.ui")}
    assert sr.cycles(ui, typing=True) == []


def test_interfaces_import_no_ui_module(mods: dict) -> None:
    m = mods["lima_tk.ui.interfaces"]
    assert not [n for n in m.runtime_imports | m.typing_imports if n.startswith("lima_tk.ui")]


def test_no_sql_in_the_ui_and_no_raw_connection_outside_the_store(mods: dict) -> None:
    assert sr.sql_strings(mods, "lima_tk.ui") == []
    outside = [(n, line) for n, line in sr.attribute_uses(mods, "conn") if not n.startswith("lima_tk.store")]
    assert outside == [], "ask the store by name (lima_tk/store/queries.py) instead of using store.conn"


def test_ui_classes_and_modules_are_small(mods: dict) -> None:
    big = [(c.module, c.name, c.lines) for c in sr.class_sizes(mods, "lima_tk.ui") if c.lines > MAX_CLASS_LINES]
    assert big == []
    long = [(n, m.lines) for n, m in mods.items() if n.startswith("lima_tk.ui") and m.lines > MAX_MODULE_LINES]
    assert long == []


def test_tkinter_only_in_the_ui(mods: dict) -> None:
    assert [n for n in sr.imports_module(mods, "tkinter") if not n.startswith("lima_tk.ui")] == []


def test_ui_threads_start_in_the_worker_module_only(mods: dict) -> None:
    """Every background task of the UI is a worker.Job (or a Ticker over a queue filled elsewhere)."""
    starts = {n for n, _ in sr.calls_named(mods, "threading.Thread", "lima_tk.ui")}
    starts |= {n for n, _ in sr.calls_named(mods, "Thread", "lima_tk.ui")}  # from threading import Thread
    assert starts <= THREAD_MODULES


@pytest.mark.skipif(shutil.which("ruff") is None and importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (pip install -e '.[test]')")
def test_no_private_access_across_objects() -> None:
    """ruff's SLF001 on lima_tk (pyproject.toml turns it on; tests and scripts are exempt)."""
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "SLF001",
                        "--output-format", "concise", "lima_tk"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
