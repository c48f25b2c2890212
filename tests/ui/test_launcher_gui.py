"""The launcher's window under Xvfb: the first-install progress and failure dialog, Cancel, the
missing-package dialog (continue with fewer features, install, do not ask again).

End to end, the launcher runs as a subprocess and reports each window state (once the window is
mapped) under LIMA_TK_LAUNCHER_TEST, which also names the button to press in each state. The
install-from-the-dialog paths run in this process against a real virtual environment and a real
pip (offline: a local wheel folder, or nothing)."""

from __future__ import annotations

import os
import sqlite3
import sys
import venv
from pathlib import Path

import pytest

from lima_tk.first_run import EXAMPLE_NAME
from lima_tk.ui.errors import handle_callback_error
from tests.launcher_helpers import (
    blocker_dir,
    fake_checkout,
    hook_lines,
    launcher_env,
    load_launcher,
    make_wheel,
    run_launcher,
    stand_in_venv,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in environment is a shell script")


def test_missing_package_dialog_then_continue_in_reduced_mode(tmp_path: Path) -> None:
    """openai is missing: the dialog names it and what is lost; Continue starts lima-tk, which
    runs without it (first run: the default dataset with its example chat opens)."""
    env = launcher_env(tmp_path, DISPLAY=os.environ["DISPLAY"], PYTHONPATH=str(blocker_dir(tmp_path / "hooks")),
                       LIMA_TK_TEST_BLOCK="openai", LIMA_TK_VENV=str(stand_in_venv(tmp_path / "venv")),
                       LIMA_TK_LAUNCHER_TEST="missing=continue", LIMA_TK_EXIT_AFTER_PAINT="1")
    r = run_launcher([], env)
    assert r.returncode == 0, r.stderr
    (state,) = hook_lines(r.stdout)
    assert state["state"] == "missing" and state["mapped"] and state["packages"] == ["openai"]
    assert state["title"] == "lima-tk: missing package"
    assert state["buttons"] == ["continue", "install"]
    # The app painted its list: the example chat of the first run.
    assert "painted" in r.stdout and "rows=1 total=1" in r.stdout
    db = tmp_path / "data" / "lima-tk" / "dataset.lima.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM chats").fetchall() == [(EXAMPLE_NAME,)]
    log = (tmp_path / "state" / "lima-tk" / "lima-tk.log").read_text()
    assert "reduced features: openai is not installed" in log


def test_first_install_shows_progress_then_the_failure_dialog_with_the_log(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "src")
    env = launcher_env(tmp_path, DISPLAY=os.environ["DISPLAY"], PIP_NO_INDEX="1",
                       LIMA_TK_LAUNCHER_TEST="failed=close")
    r = run_launcher([], env, script=root / "scripts" / "launch.py", timeout=240)
    assert r.returncode == 1, r.stderr
    progress, failed = hook_lines(r.stdout)
    assert progress["state"] == "progress" and progress["mapped"]
    assert progress["heading"] == "Setting up lima-tk (first start only)" and progress["buttons"] == ["cancel"]
    assert failed["state"] == "failed" and failed["title"] == "lima-tk: set-up failed"
    assert failed["buttons"] == ["close", "copy", "retry"]
    assert "Are you offline?" in failed["hint"]
    log = tmp_path / "state" / "lima-tk" / "install.log"
    assert failed["log"] == str(log)
    assert any("No matching distribution" in line or "exit code" in line for line in failed["tail"])
    assert "No matching distribution" in log.read_text()
    assert not (root / ".venv" / ".lima-tk-installed").exists()


def test_cancel_during_first_install(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "src")
    env = launcher_env(tmp_path, DISPLAY=os.environ["DISPLAY"], PIP_NO_INDEX="1",
                       LIMA_TK_LAUNCHER_TEST="progress=cancel")
    r = run_launcher([], env, script=root / "scripts" / "launch.py", timeout=240)
    assert r.returncode == 1
    assert [s["state"] for s in hook_lines(r.stdout)] == ["progress"]  # no failure dialog after a cancel
    assert "set-up cancelled" in r.stderr
    assert not (root / ".venv" / ".lima-tk-installed").exists()
    assert "pip install" not in (tmp_path / "state" / "lima-tk" / "install.log").read_text()


# -- installing from the dialog, in this process ---------------------------------------------------


@pytest.fixture(scope="module")
def empty_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real virtual environment with pip and nothing else (openai is missing for real)."""
    path = tmp_path_factory.mktemp("launcher") / "env"
    venv.EnvBuilder(with_pip=True).create(path)
    return path


OPENAI = {"module": "openai", "package": "openai", "requirement": "openai>=1.0", "required": False,
          "without": "no AI assist (generating and continuing replies, the model list)"}


def press_when(win, state: str, button: str, before=None) -> None:
    """Once the launcher window shows `state`, press `button` (from Tk's own loop)."""

    def check() -> None:
        if win.state == state and button in win.buttons:
            if before is not None:
                before(win)
            win.root.update()
            win.buttons[button].invoke()
        else:
            win.root.after(20, check)

    win.root.after(20, check)


@pytest.fixture
def window(monkeypatch: pytest.MonkeyPatch):
    launch = load_launcher()
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))  # lima_tk.deps in the env
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # the machine's pip.conf (an index, find-links) stays out
    win = launch.open_window()
    assert win is not None
    win.root.report_callback_exception = handle_callback_error  # a callback error fails the test
    yield launch, win
    win.close()


def test_install_a_missing_package_from_the_dialog(window, empty_env: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    launch, win = window
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(make_wheel(tmp_path / "wheels", "openai", "1.2.0").parent))
    python = str(empty_env / "bin" / "python")
    seen: list[str] = []
    press_when(win, "missing", "install", before=lambda w: seen.append(w.root.title()))
    press_when(win, "installed", "start", before=lambda w: seen.append(w.root.title()))
    assert launch.offer_packages(win, python, {"missing": [OPENAI], "pip": True}, True, empty_env)
    assert seen == ["lima-tk: missing package", "lima-tk: installed"]
    assert "lima-tk: Installing openai into lima-tk's environment" in capsys.readouterr().err  # the step shown
    assert "Successfully installed openai-1.2.0" in (tmp_path / "state" / "lima-tk" / "install.log").read_text()
    report = launch.check_packages(python)
    assert "openai" not in [d["package"] for d in report["missing"]]


def test_a_failed_install_shows_the_log_then_continues_without(window, empty_env: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    launch, win = window
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    python = str(empty_env / "bin" / "python")
    shown: dict[str, str] = {}

    def grab(w) -> None:
        shown["title"] = w.root.title()
        shown["text"] = w.text.get("1.0", "end")

    press_when(win, "missing", "install")
    press_when(win, "failed", "continue", before=grab)
    tokenizers = {**OPENAI, "module": "tokenizers", "package": "tokenizers", "requirement": "tokenizers>=0.15"}
    assert launch.offer_packages(win, python, {"missing": [tokenizers], "pip": True}, True, empty_env)
    assert shown["title"] == "lima-tk: set-up failed"
    assert "No matching distribution found for tokenizers>=0.15" in shown["text"]
    assert win.text.tag_ranges("error")  # pip's errors stand out in red


def test_do_not_ask_again_remembers_the_choice(window, tmp_path: Path) -> None:
    launch, win = window
    env = stand_in_venv(tmp_path / "venv")
    report = {"missing": [OPENAI], "pip": True}
    press_when(win, "missing", "continue", before=lambda w: w.dont_ask.set(True))
    assert launch.offer_packages(win, sys.executable, report, True, env)
    assert (env / ".lima-tk-skip-packages").read_text().split() == ["openai"]
    win.state = ""
    # Next start: no question (the window stays as it was) and lima-tk starts.
    assert launch.offer_packages(win, sys.executable, report, True, env)
    assert win.state == ""
    # A package newly missing is asked about again.
    tokenizers = {**OPENAI, "package": "tokenizers", "module": "tokenizers"}
    press_when(win, "missing", "continue")
    assert launch.offer_packages(win, sys.executable, {"missing": [OPENAI, tokenizers], "pip": True}, True, env)
    assert win.state == "missing"


def test_a_required_package_cannot_be_skipped(window, tmp_path: Path) -> None:
    launch, win = window
    click = {"module": "click", "package": "click", "requirement": "click", "required": True,
             "without": "the lima-tk command itself"}
    buttons: list[list[str]] = []
    press_when(win, "missing", "quit", before=lambda w: buttons.append(sorted(w.buttons)))
    assert not launch.offer_packages(win, sys.executable, {"missing": [click], "pip": True}, True, None)
    assert buttons == [["install", "quit"]]
