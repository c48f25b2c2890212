"""Shared fixtures: temp datasets, and a virtual X display for the GUI tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from lima_tk.store import DatasetStore

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

_xvfb: subprocess.Popen | None = None

# Hypothesis profiles. "ci" (the default) is derandomized and sized so that all property tests
# together stay well under a minute on a loaded 2-core machine; "dev" searches much longer with a
# fresh seed each run (HYPOTHESIS_PROFILE=dev pytest tests/test_properties*.py); "mutation" is the
# short fixed run scripts/mutation.py uses for every mutant.
_slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40, print_blob=True,
                          suppress_health_check=_slow_ok)
settings.register_profile("dev", deadline=None, max_examples=1000, print_blob=True, suppress_health_check=_slow_ok)
settings.register_profile("mutation", derandomize=True, deadline=None, max_examples=25, database=None,
                          suppress_health_check=_slow_ok)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _start_xvfb() -> None:
    """Start a private Xvfb when there is no display, so GUI tests run headless. `-displayfd`
    lets the server pick a free display number itself, so suites running side by side never
    race for one."""
    global _xvfb
    if os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        return
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_fd,),
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()  # written once the server accepts connections
    if not number:
        proc.kill()
        return
    os.environ["DISPLAY"] = f":{number}"
    _xvfb = proc


def pytest_configure(config: pytest.Config) -> None:
    _start_xvfb()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _xvfb is not None:
        _xvfb.terminate()
        _xvfb.wait(timeout=5)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user config or data dirs from a test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the log file
    monkeypatch.setenv("LIMA_TK_CONFIG", str(tmp_path / "config" / "lima-tk" / "config.json"))
    monkeypatch.delenv("LIMA_TK_DB", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(autouse=True)
def _fresh_template_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test compiles the chat templates it renders: the process-wide cache of compiled
    templates (lima_tk.tokens) would otherwise carry one test's templates into the next (and a
    mutation run, which forks each mutant from a session that already compiled them, would
    never run the compiling code)."""
    tokens = sys.modules.get("lima_tk.tokens")
    if tokens is not None:
        monkeypatch.setattr(tokens, "_TEMPLATES", {})
        monkeypatch.setattr(tokens, "_TRACK", None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.lima.db"


@pytest.fixture
def store(db_path: Path):
    s = DatasetStore(db_path)
    yield s
    s.close()


@pytest.fixture
def shared_fixtures() -> Path:
    """The real sample files in ../shared/fixtures (read at test time, never copied)."""
    if not SHARED_FIXTURES.exists():
        pytest.skip("../shared/fixtures is not present")
    return SHARED_FIXTURES


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach the network nor the real Hugging Face cache (the token tests use it for every test:
    `pytestmark = pytest.mark.usefixtures("offline_hub")`)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
