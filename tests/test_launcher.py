"""The launcher (scripts/launch.py) without a display: when it installs, plain stderr lines
instead of windows, a Python without Tk, missing packages, the double-click files, the Linux
desktop entry. Each run is a real subprocess; the window tests are in tests/ui/test_launcher_gui.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.launcher_helpers import (
    ROOT,
    blocker_dir,
    fake_checkout,
    launcher_env,
    load_launcher,
    run_launcher,
    stand_in_venv,
)

posix_only = pytest.mark.skipif(os.name == "nt", reason="the stand-in environment is a shell script")


@pytest.fixture
def launch():
    return load_launcher()


# -- what needs installing ---------------------------------------------------------------------


def test_reinstall_only_when_pyproject_content_changes(launch, tmp_path: Path) -> None:
    root = fake_checkout(tmp_path / "src")
    venv = tmp_path / "venv"
    assert launch.needs_install(venv, root)  # no environment yet
    stand_in_venv(venv, root)
    assert not launch.needs_install(venv, root)
    # A checkout update that rewrites the file with the same content (git checkout, touch): no.
    pyproject = root / "pyproject.toml"
    st = pyproject.stat()
    pyproject.write_bytes(pyproject.read_bytes())
    os.utime(pyproject, (st.st_atime + 100, st.st_mtime + 100))
    assert not launch.needs_install(venv, root)
    # New dependencies: yes.
    pyproject.write_text(pyproject.read_text() + "# a new dependency\n")
    assert launch.needs_install(venv, root)
    (venv / ".lima-tk-installed").unlink()
    assert launch.needs_install(venv, root)


@pytest.mark.parametrize("args, gui", [
    ([], True), (["--db", "x.lima.db"], True), (["--db=x.lima.db", "--debug"], True),
    (["export", "out.jsonl"], False), (["--db", "x.lima.db", "list"], False), (["--version"], False),
    (["--help"], False),
])
def test_gui_or_command_line(launch, args: list[str], gui: bool) -> None:
    assert launch.wants_gui(args) is gui


def test_failure_hints_in_plain_words(launch) -> None:
    assert "offline" in launch.failure_hint(["ERROR: No matching distribution found for openai>=1.0"])
    assert "python3-venv" in launch.failure_hint(["ensurepip is not available"])
    assert "disk is full" in launch.failure_hint(["OSError: [Errno 28] No space left on device"])
    assert "log below" in launch.failure_hint(["something else"])


# -- no display --------------------------------------------------------------------------------


def test_first_install_without_display_fails_offline_with_plain_lines(tmp_path: Path) -> None:
    """The environment is missing: it is made, pip cannot reach an index (offline), and the
    launcher says so on stderr, with the log's path, and exits 1. The next start tries again."""
    root = fake_checkout(tmp_path / "src")
    env = launcher_env(tmp_path, PIP_NO_INDEX="1")
    env.pop("DISPLAY", None)
    r = run_launcher([], env, script=root / "scripts" / "launch.py", timeout=240)
    assert r.returncode == 1, r.stderr
    assert "lima-tk: setting up lima-tk (first start only)" in r.stderr
    assert "Creating lima-tk's own Python environment" in r.stderr
    assert "set-up failed" in r.stderr and "Are you offline?" in r.stderr
    assert "launcher-test" not in r.stdout  # no window
    log = tmp_path / "state" / "lima-tk" / "install.log"
    assert f"the full log is in {log}" in r.stderr
    text = log.read_text()
    assert "No matching distribution" in text and text.rstrip().endswith("FAILED")
    assert (root / ".venv" / "bin" / "python").exists()
    assert not (root / ".venv" / ".lima-tk-installed").exists()  # so the next start installs again


def test_python_without_tk_gets_a_clear_message(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, PYTHONPATH=str(blocker_dir(tmp_path / "hooks")), LIMA_TK_TEST_BLOCK="tkinter,_tkinter")
    r = run_launcher([], env)
    assert r.returncode == 3
    assert "lima-tk needs Tk" in r.stderr and "No module named 'tkinter'" in r.stderr
    assert "sudo apt install python3-tk" in r.stderr and "dnf install python3-tkinter" in r.stderr
    assert "Traceback" not in r.stderr


@posix_only
def test_command_line_needs_no_tk(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, PYTHONPATH=str(blocker_dir(tmp_path / "hooks")), LIMA_TK_TEST_BLOCK="tkinter",
                       LIMA_TK_VENV=str(stand_in_venv(tmp_path / "venv")))
    r = run_launcher(["--version"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "lima-tk, version 0.1.0"


@posix_only
def test_missing_optional_package_without_display_is_one_line_and_the_app_starts(tmp_path: Path) -> None:
    db = tmp_path / "d.lima.db"
    env = launcher_env(tmp_path, PYTHONPATH=str(blocker_dir(tmp_path / "hooks")), LIMA_TK_TEST_BLOCK="openai",
                       LIMA_TK_VENV=str(stand_in_venv(tmp_path / "venv")))
    env.pop("DISPLAY", None)
    r = run_launcher(["--db", str(db)], env)
    assert "lima-tk: openai is not installed (without it: no AI assist" in r.stderr
    assert f'"{tmp_path / "venv" / "bin" / "python"}" -m pip install "openai>=1.0"' in r.stderr
    assert "continuing with fewer features" in r.stderr
    # Then lima-tk itself ran (and, with no display, said so in one line).
    assert r.returncode == 2 and "lima-tk: error:" in r.stderr and "display" in r.stderr


@posix_only
def test_missing_required_package_stops_with_the_install_command(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, PYTHONPATH=str(blocker_dir(tmp_path / "hooks")), LIMA_TK_TEST_BLOCK="sqlite_utils",
                       LIMA_TK_VENV=str(stand_in_venv(tmp_path / "venv")))
    r = run_launcher(["list"], env)
    assert r.returncode == 1
    assert "sqlite-utils is not installed (lima-tk cannot start without it)" in r.stderr
    assert 'pip install "sqlite-utils>=4"' in r.stderr


# -- the double-click files --------------------------------------------------------------------


@posix_only
def test_pyw_and_command_files_run_the_launcher(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, LIMA_TK_VENV=str(stand_in_venv(tmp_path / "venv")))
    r = run_launcher(["--version"], env, script=ROOT / "scripts" / "lima-tk.pyw")
    assert (r.returncode, r.stdout.strip()) == (0, "lima-tk, version 0.1.0"), r.stderr
    command = ROOT / "scripts" / "lima-tk.command"
    assert os.access(command, os.X_OK)
    # It picks a Python >= 3.10 from PATH: put this one first.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run([str(command), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, "lima-tk, version 0.1.0"), r.stderr
    if shutil.which("git") and (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "-s", "scripts/lima-tk.command"], capture_output=True,
                                 text=True, cwd=ROOT).stdout
        assert not tracked or tracked.startswith("100755"), "lima-tk.command must be committed executable"


def test_desktop_entry_gets_absolute_quoted_paths(launch, tmp_path: Path) -> None:
    template = (ROOT / "scripts" / "lima-tk.desktop").read_text()
    entry = launch.desktop_entry(template, "/opt/my python/bin/python3", Path("/home/a b/lima-tk/scripts/launch.py"))
    fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line and not line.startswith("#"))
    assert fields["Exec"] == '"/opt/my python/bin/python3" "/home/a b/lima-tk/scripts/launch.py"'
    assert fields["TryExec"] == "/opt/my python/bin/python3"
    assert fields["Path"] == "/home/a b/lima-tk"
    assert fields["Type"] == "Application" and fields["Terminal"] == "false"
    assert "[Desktop Entry]" in entry and "/path/to" not in entry
    odd = launch.desktop_entry(template, "/usr/bin/python3", Path('/srv/100%$`"x/scripts/launch.py'))
    exec_line = next(line for line in odd.splitlines() if line.startswith("Exec="))
    assert exec_line == 'Exec=/usr/bin/python3 "/srv/100%%\\$\\`\\"x/scripts/launch.py"'


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="desktop entries are for Linux")
def test_install_and_remove_desktop_entry(tmp_path: Path) -> None:
    env = launcher_env(tmp_path)
    r = run_launcher(["--install-desktop-entry"], env)
    assert r.returncode == 0, r.stderr
    target = tmp_path / "data" / "applications" / "lima-tk.desktop"
    text = target.read_text()
    assert f"Exec={sys._base_executable} {ROOT / 'scripts' / 'launch.py'}" in text
    assert os.access(target, os.X_OK) and str(target) in r.stderr
    r = run_launcher(["--remove-desktop-entry"], env)
    assert r.returncode == 0 and not target.exists()
