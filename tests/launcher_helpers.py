"""Shared pieces of the launcher tests (no tests here): the launcher loaded as a module, an
environment that stands in for lima-tk's own venv, an import blocker for a subprocess, a fake
checkout, and a hand-made wheel for pip to install offline."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "scripts" / "launch.py"

# Imported by every Python started with this folder on PYTHONPATH (the launcher and the app it
# starts): it makes the modules named in $LIMA_TK_TEST_BLOCK unimportable, as if not installed.
BLOCKER = '''
import os, sys
_BLOCK = set(filter(None, os.environ.get("LIMA_TK_TEST_BLOCK", "").split(",")))
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
if _BLOCK:
    sys.meta_path.insert(0, _Blocker())
'''


def load_launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lima_tk_launcher", LAUNCHER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def stand_in_venv(path: Path, root: Path = ROOT) -> Path:
    """A folder that looks like lima-tk's installed environment (stamp matching `root`'s
    pyproject.toml) whose bin/python runs the test interpreter, where lima-tk is installed."""
    (path / "bin").mkdir(parents=True)
    py = path / "bin" / "python"
    py.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    py.chmod(0o755)
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (path / ".lima-tk-installed").write_text(digest + "\n", encoding="utf-8")
    return path


def blocker_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    return path


def fake_checkout(path: Path, dependencies: tuple[str, ...] = ()) -> Path:
    """A minimal lima-tk checkout: pyproject.toml, lima_tk/{__init__,paths}.py and the launcher."""
    (path / "lima_tk").mkdir(parents=True)
    (path / "scripts").mkdir()
    for name in ("__init__.py", "paths.py"):
        shutil.copy(ROOT / "lima_tk" / name, path / "lima_tk" / name)
    shutil.copy(LAUNCHER, path / "scripts" / "launch.py")
    deps = ", ".join(json.dumps(d) for d in dependencies)
    (path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "lima-tk"\nversion = "0.1.0"\ndependencies = [{deps}]\n', encoding="utf-8")
    return path


def launcher_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a launcher subprocess: user folders inside `tmp`, nothing inherited
    that would point it elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIMA_TK_", "PIP_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(XDG_STATE_HOME=str(tmp / "state"), XDG_DATA_HOME=str(tmp / "data"),
               XDG_CONFIG_HOME=str(tmp / "config"), HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp / "hub"),
               PIP_CONFIG_FILE=os.devnull)  # the machine's pip.conf (an index, find-links) stays out
    env.update(extra)
    return env


def run_launcher(args: list[str], env: dict[str, str], script: Path = LAUNCHER, timeout: float = 120,
                 python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, str(script), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def hook_lines(stdout: str) -> list[dict]:
    """The window states the launcher reported under LIMA_TK_LAUNCHER_TEST."""
    return [json.loads(line.split(": ", 1)[1]) for line in stdout.splitlines() if line.startswith("launcher-test: ")]


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel (`import name` works after installing it)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lima-tk-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as z:
        for p, text in files.items():
            z.writestr(p, text)
        z.writestr(f"{info}/RECORD", record)
    return wheel
