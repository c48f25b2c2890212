#!/usr/bin/env python3
"""The lima-tk launcher: what the double-click files (lima-tk.pyw, lima-tk.command, the desktop
entry) and `python3 scripts/launch.py` run. Standard library only: it runs on a stock Python.

From a source checkout it keeps a private virtual environment (`.venv/` beside the code, or
$LIMA_TK_VENV), installs lima-tk into it on the first start and again only when pyproject.toml's
content changed, checks that lima-tk's packages are there, then starts the app. Outside a
checkout it starts the installed `lima_tk` (pip, pipx or uv). With a display the set-up shows a
small window (progress, pip's last lines, a failure dialog with the log); without one it prints
plain lines on stderr.

    python3 scripts/launch.py                    # the window, on the last dataset you used
    python3 scripts/launch.py export data.jsonl  # any lima-tk command
    python3 scripts/launch.py --install-desktop-entry   # Linux: lima-tk in the applications menu

Exit codes: the app's own, 1 when set-up failed or was cancelled, 3 when Tk is missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".lima-tk-installed"  # in the venv: the sha256 of the pyproject.toml it was installed from
SKIP_FILE = ".lima-tk-skip-packages"  # in the venv: missing packages the user chose to live without
EXIT_FAILED = 1
EXIT_NO_TK = 3
TEST_HOOK = "LIMA_TK_LAUNCHER_TEST"  # tests: print each window state, press the named buttons
TAIL_LINES = 300
_ERROR_RE = re.compile(r"\bERROR\b|error:|^\(exit code|^cannot |Error: ")

tk: Any = None  # tkinter and tkinter.ttk, imported by load_tk() only when there is a display
ttk: Any = None


# -- where lima-tk lives ---------------------------------------------------------------------


def is_checkout(root: Path = ROOT) -> bool:
    return (root / "pyproject.toml").is_file() and (root / "lima_tk" / "__init__.py").is_file()


def venv_dir(root: Path = ROOT) -> Path:
    env = os.environ.get("LIMA_TK_VENV")
    return Path(env).expanduser() if env else root / ".venv"


def venv_python(venv: Path, gui: bool = False) -> Path:
    if os.name == "nt":  # pythonw.exe: no console window behind the app
        return venv / "Scripts" / ("pythonw.exe" if gui else "python.exe")
    return venv / "bin" / "python"


def pyproject_hash(root: Path = ROOT) -> str:
    return hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()


def needs_install(venv: Path, root: Path = ROOT) -> bool:
    """True when the environment is missing or was installed from another pyproject.toml (by
    content: a checkout or a `git pull` that leaves it alone never reinstalls)."""
    if not venv_python(venv).exists():
        return True
    try:
        return (venv / STAMP).read_text(encoding="utf-8").strip() != pyproject_hash(root)
    except OSError:
        return True


def log_dir() -> Path:
    """lima-tk's log folder (lima_tk/paths.py decides; this runs before lima-tk is installed)."""
    if is_checkout():
        sys.path.insert(0, str(ROOT))
        try:
            from lima_tk.paths import user_log_dir

            return user_log_dir()
        except Exception:  # noqa: BLE001 - a broken checkout: fall back below
            pass
        finally:
            sys.path.remove(str(ROOT))
    return Path(tempfile.gettempdir()) / "lima-tk"


def installed_python() -> tuple[list[str], str | None] | None:
    """Outside a checkout: how to start an installed lima-tk, and the Python it runs on."""
    if _found("lima_tk"):
        return [sys.executable, "-m", "lima_tk"], sys.executable
    script = shutil.which("lima-tk")
    if script is None:
        return None
    return [script], _shebang_python(Path(script))


def _shebang_python(script: Path) -> str | None:
    """pip's console scripts start with `#!/path/to/env/python` (pipx, uv tool, a venv)."""
    try:
        with open(script, "rb") as f:
            first = f.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!") and " " not in first[2:].strip():
        path = first[2:].strip()
        return path if os.path.isfile(path) else None
    return None


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def wants_gui(args: list[str]) -> bool:
    """No subcommand (only --db FILE / --debug): the window. Anything else: the command line."""
    it = iter(args)
    for a in it:
        if a == "--db":
            next(it, None)
        elif not (a.startswith("--db=") or a == "--debug"):
            return False
    return True


# -- Tk or not -------------------------------------------------------------------------------


def load_tk() -> str | None:
    """Import tkinter; None when it works, else why not (for the message)."""
    global tk, ttk
    try:
        import tkinter
        import tkinter.ttk
    except ImportError as e:
        return str(e)
    tk, ttk = tkinter, tkinter.ttk
    return None


def no_tk_message(why: str) -> str:
    where = f"Python {sys.version.split()[0]} at {sys.executable}"
    if sys.platform == "win32":
        how = ['Run the python.org installer again, choose "Modify" and tick "tcl/tk and IDLE".']
    elif sys.platform == "darwin":
        how = ["Use Python from python.org (it includes Tk), or with Homebrew: brew install python-tk"]
    else:
        how = ["Debian, Ubuntu:  sudo apt install python3-tk python3-venv",
               "Fedora:          sudo dnf install python3-tkinter",
               "Arch:            sudo pacman -S tk",
               "openSUSE:        sudo zypper install python3-tk"]
    return ("lima-tk needs Tk (Python's tkinter module) for its window, and this Python has none\n"
            f"({where}: {why}).\nInstall it, then start lima-tk again:\n  " + "\n  ".join(how) + "\n"
            "(The command line works without Tk: python3 scripts/launch.py --help)")


def say(text: str) -> None:
    """A line on stderr, when there is one (pythonw has none)."""
    if sys.stderr is not None:
        try:
            print(text, file=sys.stderr, flush=True)
        except OSError:
            pass


def fatal(text: str) -> None:
    """A reason not to start, also where nobody sees stderr: a message box under pythonw."""
    say(text)
    if os.name == "nt" and sys.stderr is None:
        import ctypes

        ctypes.windll.user32.MessageBoxW(None, text, "lima-tk", 0x10)  # MB_ICONERROR


# -- installing (worker thread) --------------------------------------------------------------


class Job:
    """Steps (label, command) run one after another on a worker thread; their output goes to
    the log file and, line by line, to `events` as ("step", i, label), ("line", text) and
    finally ("end", ok). `cancel()` (any thread) ends the running command."""

    def __init__(self, steps: list[tuple[str, list[str] | Callable[[], None]]], log_path: Path,
                 title: str) -> None:
        self.steps = steps
        self.log_path = log_path
        self.title = title
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.cancelled = threading.Event()
        self.ok = False
        self.tail: list[str] = []  # the last lines, for the failure dialog
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lima-tk-install", daemon=True)
        self._thread.start()

    def run(self) -> bool:
        """Run in this thread (the no-window case); True when every step succeeded."""
        self._run()
        return self.ok

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def _put(self, *event: Any) -> None:
        if event[0] == "line":
            self.tail = (self.tail + [event[1]])[-TAIL_LINES:]
        self.events.put(event)

    def _run(self) -> None:
        ok = False
        try:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                log_file = open(self.log_path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError:  # a read-only home: the temp folder keeps the log instead
                self.log_path = Path(tempfile.gettempdir()) / "lima-tk-install.log"
                log_file = open(self.log_path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            with log_file as log:
                log.write(f"{self.title}\npython {sys.version.split()[0]} at {sys.executable}\n")
                ok = self._steps(log)
                log.write("done\n" if ok else "FAILED\n")
        except OSError as e:
            self._put("line", f"cannot write the log {self.log_path}: {e}")
        self.ok = ok and not self.cancelled.is_set()
        self._put("end", self.ok)

    def _steps(self, log: Any) -> bool:
        for i, (label, command) in enumerate(self.steps):
            if self.cancelled.is_set():
                return False
            self._put("step", i, label)
            log.write(f"\n== {label}\n")
            if callable(command):
                try:
                    command()
                except Exception as e:  # noqa: BLE001 - every failure ends in the dialog with the log
                    text = f"{type(e).__name__}: {e}"
                    log.write(text + "\n")
                    self._put("line", text)
                    return False
                continue
            log.write("$ " + " ".join(command) + "\n")
            code = self._command(command, log)
            if code != 0:
                text = f"(exit code {code})"
                log.write(text + "\n")
                self._put("line", text)
                return False
        return True

    def _command(self, command: list[str], log: Any) -> int:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PIP_NO_INPUT": "1", "PYTHONIOENCODING": "utf-8"}
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console flashing up
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                                    env=env, creationflags=flags)
        except OSError as e:
            self._put("line", f"cannot run {command[0]}: {e}")
            log.write(f"cannot run {command[0]}: {e}\n")
            return -1
        with self._lock:
            self._proc = proc
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            line = line.rstrip()
            if line:
                self._put("line", line)
        code = proc.wait()
        with self._lock:
            self._proc = None
        return code


def install_steps(venv: Path, root: Path, fresh: bool) -> list[tuple[str, list[str] | Callable[[], None]]]:
    """Create the environment (when `fresh`) and install lima-tk from the checkout into it."""
    py = str(venv_python(venv))
    steps: list[tuple[str, list[str] | Callable[[], None]]] = []
    if fresh:
        def create() -> None:
            if not _found("ensurepip"):
                raise RuntimeError("this Python cannot make virtual environments: ensurepip is missing "
                                   "(Debian, Ubuntu: sudo apt install python3-venv)")
            import venv as venv_mod

            venv_mod.EnvBuilder(with_pip=False, clear=venv.exists(), symlinks=os.name != "nt").create(venv)

        steps.append((f"Creating lima-tk's own Python environment in {venv}", create))
        steps.append(("Adding pip to it", [py, "-m", "ensurepip", "--upgrade", "--default-pip"]))
    steps.append(("Downloading and installing lima-tk's packages (a minute or two)",
                  [py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                   "-e", str(root)]))
    return steps


def package_steps(python: str, requirements: list[str]) -> list[tuple[str, list[str] | Callable[[], None]]]:
    names = ", ".join(re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] for r in requirements)
    return [(f"Installing {names} into lima-tk's environment",
             [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
              *requirements])]


def failure_hint(tail: list[str]) -> str:
    """What most likely went wrong, in plain words, from the last lines of the log."""
    text = "\n".join(tail)
    low = text.lower()
    if "ensurepip" in low:
        return ("This Python cannot make virtual environments. On Debian or Ubuntu install python3-venv "
                "(sudo apt install python3-venv), then start lima-tk again.")
    if any(s in low for s in ("name resolution", "failed to establish", "network is unreachable", "no matching "
                              "distribution", "could not find a version", "connection", "timed out", "proxy")):
        return ("pip could not download the packages lima-tk needs. Are you offline? Connect to the internet "
                "(or set your proxy in PIP_PROXY) and start lima-tk again.")
    if "no space left" in low:
        return "The disk is full. Free some space and start lima-tk again."
    if "permission denied" in low or "access is denied" in low:
        return "lima-tk may not write into its folder. Move the lima-tk folder somewhere of yours and try again."
    return "The installation failed. The log below says why."


# -- the window ------------------------------------------------------------------------------


def windows_dpi_aware() -> None:
    """Windows: per-monitor DPI awareness before the first Tk window, or Windows stretches a 96 DPI
    bitmap (blurry text). The app itself does the same in lima_tk/ui/windows.py (not importable
    here before lima-tk's environment exists)."""
    if os.name != "nt":
        return
    import ctypes

    for call in (lambda: ctypes.windll.shcore.SetProcessDpiAwareness(2),  # type: ignore[attr-defined]
                 lambda: ctypes.windll.user32.SetProcessDPIAware()):  # type: ignore[attr-defined]
        try:
            call()
            return
        except (AttributeError, OSError):
            continue


class Window:
    """The launcher's one small window; Tk thread only. It shows one state at a time: progress
    (a bar and pip's last lines), a question (a missing package) or a result (with the log)."""

    def __init__(self) -> None:
        windows_dpi_aware()
        self.root = tk.Tk(className="Lima-tk")
        self.root.withdraw()
        self.root.title("lima-tk")
        self.root.minsize(560, 1)  # every state about as wide: the window does not jump around
        style = ttk.Style(self.root)
        if sys.platform.startswith("linux") and "clam" in style.theme_names():
            style.theme_use("clam")
        self.answer = tk.StringVar(self.root, "")
        self.root.protocol("WM_DELETE_WINDOW", lambda: self._press("close"))
        self.frame: Any = None
        self.buttons: dict[str, Any] = {}
        self.text: Any = None
        self.state = ""
        self._job: Job | None = None
        self._shown = False

    # -- states

    def _clear(self, title: str, heading: str) -> Any:
        if self.frame is not None:
            self.frame.destroy()
        self.buttons = {}
        self.root.title(title)
        self.frame = ttk.Frame(self.root, padding=16)
        self.frame.pack(fill="both", expand=True)
        font = ("TkDefaultFont", 0, "bold")
        ttk.Label(self.frame, text=heading, font=font).pack(anchor="w")
        return self.frame

    def _tail_box(self, lines: list[str], height: int) -> None:
        box = ttk.Frame(self.frame)
        box.pack(fill="both", expand=True, pady=(8, 0))
        self.text = tk.Text(box, height=height, width=88, wrap="word", font="TkFixedFont", relief="flat",
                            background="#f4f4f2", foreground="#333333", padx=6, pady=4)
        self.text.tag_configure("error", foreground="#b3261e")
        bar = ttk.Scrollbar(box, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=bar.set)
        bar.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        self._append(lines)
        self.text.configure(state="disabled")

    def _append(self, lines: list[str]) -> None:
        """Add lines to the tail box (pip's errors in red), keep the last TAIL_LINES, show the end."""
        for line in lines:
            sep = "\n" if self.text.index("end-1c") != "1.0" else ""
            bad = _ERROR_RE.search(line) is not None
            self.text.insert("end", sep + line, ("error",) if bad else ())
        extra = int(self.text.index("end-1c").split(".")[0]) - TAIL_LINES
        if extra > 0:
            self.text.delete("1.0", f"{extra + 1}.0")
        self.text.see("end")

    def _button_row(self, specs: list[tuple[str, str]], default: str) -> None:
        row = ttk.Frame(self.frame)
        row.pack(fill="x", pady=(12, 0))
        for key, label in reversed(specs):
            b = ttk.Button(row, text=label, command=lambda k=key: self._press(k))
            b.pack(side="right", padx=(8, 0))
            self.buttons[key] = b
        if default in self.buttons:
            self.buttons[default].configure(default="active")
            self.buttons[default].focus_set()
            self.root.bind("<Return>", lambda _e: self._press(default))
        self.root.bind("<Escape>", lambda _e: self._press("cancel" if "cancel" in self.buttons else "close"))

    def progress(self, job: Job, heading: str) -> bool:
        """Run `job` with a progress bar and pip's last lines; returns when it ended (True: done).
        Cancel (or closing the window) stops it."""
        f = self._clear("lima-tk: setting up", heading)
        self.step_label = ttk.Label(f, text="Starting...", wraplength=620, justify="left")
        self.step_label.pack(anchor="w", pady=(8, 4))
        self.bar = ttk.Progressbar(f, mode="indeterminate", length=620)
        self.bar.pack(fill="x")
        self.bar.start(15)
        self.detail = ttk.Label(f, text="", foreground="#666666")
        self.detail.pack(anchor="w", pady=(4, 0))
        self._collected = 0
        self._tail_box([], 10)
        ttk.Label(f, text=f"Log: {job.log_path}", foreground="#666666").pack(anchor="w", pady=(6, 0))
        self._button_row([("cancel", "Cancel")], "")
        self._job = job
        self.answer.set("")
        self._show("progress", heading=heading)
        job.start()
        self.root.after(50, self._drain)
        while self.answer.get() != "job-end":  # Cancel and the close box cancel the job: it ends soon
            self.root.wait_variable(self.answer)
        self.bar.stop()
        self._job = None
        return job.ok

    def _drain(self) -> None:
        job = self._job
        if job is None:
            return
        lines: list[str] = []
        ended = False
        for _ in range(500):
            try:
                event = job.events.get_nowait()
            except queue.Empty:
                break
            if event[0] == "line":
                lines.append(event[1])
            elif event[0] == "step":
                n = len(job.steps)
                prefix = f"Step {event[1] + 1} of {n}: " if n > 1 else ""
                self.step_label.configure(text=prefix + event[2])
                say(f"lima-tk: {event[2]}")
            elif event[0] == "end":
                ended = True
        if lines:
            self.text.configure(state="normal")
            self._append(lines)
            self.text.configure(state="disabled")
            self._count(lines)
        if ended:
            self.answer.set("job-end")
        else:
            self.root.after(50, self._drain)

    def _count(self, lines: list[str]) -> None:
        """pip gives no total, so say how far it got: packages found, then installing N."""
        for line in lines:
            if line.startswith("Collecting "):
                self._collected += 1
                self.detail.configure(text=f"{self._collected} packages found so far")
            elif line.startswith("Installing collected packages:"):
                n = line.count(",") + 1
                self.detail.configure(text=f"Installing {n} packages (the longest part; nothing to download now)")
            elif line.startswith("Successfully installed"):
                self.detail.configure(text="Installed")

    def failure(self, heading: str, hint: str, tail: list[str], log_path: Path | None,
                buttons: list[tuple[str, str]], default: str) -> str:
        """Something failed: why, the log's last lines, the log's path. Returns the button pressed."""
        f = self._clear("lima-tk: set-up failed", heading)
        ttk.Label(f, text=hint, wraplength=620, justify="left").pack(anchor="w", pady=(8, 0))
        self._tail_box(tail, 14)
        if log_path is not None:
            ttk.Label(f, text=f"The full log: {log_path}", foreground="#666666").pack(anchor="w", pady=(6, 0))
        self._button_row([("copy", "Copy log"), *buttons], default)
        self.buttons["copy"].configure(command=lambda: self._copy(tail, log_path))
        return self._ask("failed", heading=heading, hint=hint, log=str(log_path), tail=tail[-5:])

    def missing(self, deps: list[dict[str, Any]], where: str) -> tuple[str, bool]:
        """Missing packages: Install, Continue without (optional ones only) or Quit.
        Returns (button, don't-ask-again)."""
        required = [d for d in deps if d["required"]]
        names = ", ".join(d["package"] for d in deps)
        one = len(deps) == 1
        f = self._clear("lima-tk: missing package" + ("" if one else "s"),
                        f"lima-tk's environment lacks {'a package' if one else 'some packages'}: {names}")
        for d in deps:
            what = "lima-tk cannot start without it" if d["required"] else d["without"]
            ttk.Label(f, text=f"•  {d['package']}: {what}", wraplength=600, justify="left").pack(
                anchor="w", pady=(6, 0), padx=(8, 0))
        ttk.Label(f, text=f"Install {'it' if one else 'them'} into lima-tk's own environment ({where})"
                          + ("." if required else ", or continue with fewer features."),
                  wraplength=620, justify="left").pack(anchor="w", pady=(12, 0))
        self.dont_ask = tk.BooleanVar(self.root, False)
        if not required:
            ttk.Checkbutton(f, text="Do not ask again for " + ("it" if one else "them"),
                            variable=self.dont_ask).pack(anchor="w", pady=(8, 0))
        specs = [("install", "Install")] + ([("quit", "Quit")] if required else [("continue", "Continue without")])
        self._button_row(specs, "install")
        answer = self._ask("missing", heading=names, packages=[d["package"] for d in deps])
        return answer, bool(self.dont_ask.get())

    def installed(self, names: str) -> str:
        f = self._clear("lima-tk: installed", f"Installed {names}")
        ttk.Label(f, text=f"{names} is ready in lima-tk's environment." if "," not in names else
                  f"{names} are ready in lima-tk's environment.", wraplength=620).pack(anchor="w", pady=(8, 0))
        self._button_row([("start", "Start lima-tk")], "start")
        return self._ask("installed", heading=names)

    def _copy(self, tail: list[str], log_path: Path | None) -> None:
        try:
            text = log_path.read_text(encoding="utf-8", errors="replace") if log_path else "\n".join(tail)
        except OSError:
            text = "\n".join(tail)
        self.root.clipboard_clear()
        self.root.clipboard_append(text)

    def _press(self, key: str) -> None:
        if self._job is not None and key in ("cancel", "close"):
            self._job.cancel()
            return
        self.answer.set(key)

    def _ask(self, state: str, **info: Any) -> str:
        self.answer.set("")
        self._show(state, **info)
        self.root.wait_variable(self.answer)
        return self.answer.get()

    def _show(self, state: str, **info: Any) -> None:
        self.state = state
        if not self._shown:
            self.root.update_idletasks()
            w, h = self.root.winfo_reqwidth(), self.root.winfo_reqheight()
            x = max(0, (self.root.winfo_screenwidth() - w) // 2)
            y = max(0, (self.root.winfo_screenheight() - h) // 3)
            self.root.geometry(f"+{x}+{y}")
            self.root.deiconify()
            self._shown = True
        self.root.lift()
        hook = os.environ.get(TEST_HOOK)
        if hook is not None:
            self.root.after_idle(lambda: self._test_hook(hook, state, info))

    def _test_hook(self, hook: str, state: str, info: dict[str, Any]) -> None:
        """Tests: report the state once the window is on screen, then press the button that
        `LIMA_TK_LAUNCHER_TEST=state=button,...` names for it."""
        self.root.update()
        line = {"state": state, "title": self.root.title(), "mapped": bool(self.root.winfo_ismapped()),
                "buttons": sorted(self.buttons), **info}
        if sys.stdout is not None:
            print("launcher-test: " + json.dumps(line), flush=True)
        wanted = dict(p.split("=", 1) for p in hook.split(",") if "=" in p).get(state)
        if wanted and wanted in self.buttons:
            self.buttons[wanted].invoke()

    def close(self) -> None:
        try:
            # No timer and no idle work of Tk's (the theme change) may run after the window is
            # gone: they would print `invalid command name` / `application has been destroyed`.
            for after_id in self.root.tk.splitlist(self.root.tk.call("after", "info")):
                self.root.after_cancel(after_id)
            self.root.update_idletasks()
            self.root.destroy()
        except tk.TclError:
            pass


class Screen:
    """The launcher window, made only when there is something to show: a start with nothing to
    set up opens none (and costs no Tk start-up)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._win: Window | None = None

    def get(self) -> Window | None:
        if self.enabled and self._win is None:
            self._win = open_window()
            self.enabled = self._win is not None
        return self._win

    def close(self) -> None:
        if self._win is not None:
            self._win.close()
            self._win = None


def open_window() -> Window | None:
    """The launcher window, or None without Tk or a display (then lines go to stderr)."""
    if tk is None and load_tk() is not None:
        return None
    try:
        return Window()
    except tk.TclError:  # no display
        return None


# -- the steps of a start --------------------------------------------------------------------


def ensure_installed(win: Window | None, venv: Path, root: Path, fresh: bool | None = None) -> bool:
    """Install (or update) lima-tk in its environment, visibly. True when it is ready."""
    if fresh is None:  # update in place only an environment that works (a README-made .venv does)
        fresh = not venv_python(venv).exists() or not _has_pip(venv)
    first = fresh or not (venv / STAMP).exists()
    title = "Setting up lima-tk (first start only)" if first else "Updating lima-tk's packages"
    while True:
        job = Job(install_steps(venv, root, fresh), log_dir() / "install.log", title)
        if win is None:
            say(f"lima-tk: {title.lower()}; the log is in {job.log_path}")
            ok = _run_plain(job)
        else:
            ok = win.progress(job, title)
        if ok:
            (venv / STAMP).write_text(pyproject_hash(root) + "\n", encoding="utf-8")
            return True
        if job.cancelled.is_set():
            say("lima-tk: set-up cancelled; it starts again next time")
            return False
        hint = failure_hint(job.tail)
        if win is None:
            say(f"lima-tk: set-up failed. {hint}\nlima-tk: the full log is in {job.log_path}")
            return False
        again = win.failure("lima-tk could not be installed", hint, job.tail, job.log_path,
                            [("retry", "Try again"), ("close", "Close")], "retry")
        if again != "retry":
            return False


def _has_pip(venv: Path) -> bool:
    lib = [venv / "Lib" / "site-packages"] if os.name == "nt" else list(venv.glob("lib/python3*/site-packages"))
    return any((d / "pip").is_dir() for d in lib)


def _run_plain(job: Job) -> bool:
    """No window: the job in this thread, its steps and output as lines on stderr."""
    done = threading.Event()

    def pump() -> None:
        while True:
            event = job.events.get()
            if event[0] == "step":
                say(f"lima-tk: {event[2]}")
            elif event[0] == "line":
                say(f"  {event[1]}")
            else:
                done.set()
                return

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        ok = job.run()
    except KeyboardInterrupt:
        job.cancel()
        ok = False
    done.wait(5)
    return ok


def check_packages(python: str) -> dict[str, Any] | None:
    """What `python -m lima_tk.deps` reports for lima-tk's environment, None if it cannot run."""
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    try:
        r = subprocess.run([python, "-m", "lima_tk.deps"], capture_output=True, text=True, timeout=120,
                           creationflags=flags)
        return json.loads(r.stdout) if r.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def offer_packages(win: Window | None, python: str, report: dict[str, Any], gui: bool,
                   venv: Path | None) -> bool:
    """Missing packages: ask (window) or tell (stderr). False when lima-tk should not start."""
    deps = report["missing"]
    skip_file = venv / SKIP_FILE if venv is not None else None
    skipped = _read_skip(skip_file)
    required = [d for d in deps if d["required"]]
    if not required and {d["package"] for d in deps} <= skipped:
        return True  # the user chose to go without these
    if win is None or not gui:
        for d in deps if gui else required:  # a command says itself when it needs an optional one
            what = "lima-tk cannot start without it" if d["required"] else f"without it: {d['without']}"
            say(f"lima-tk: {d['package']} is not installed ({what}); install it with: "
                f'"{python}" -m pip install "{d["requirement"]}"')
        if required:
            return False
        if gui:
            say("lima-tk: continuing with fewer features")
        return True
    names = ", ".join(d["package"] for d in deps)
    while True:
        answer, dont_ask = win.missing(deps, str(venv or Path(python).parent.parent))
        if answer == "continue":
            if dont_ask and skip_file is not None:
                _write_skip(skip_file, skipped | {d["package"] for d in deps})
            return True
        if answer != "install":
            return False
        if not report.get("pip"):
            packages = " ".join(d["requirement"] for d in deps)
            how = [f"{python} has no pip.", f"pipx users: pipx inject lima-tk {packages}",
                   f"uv users: uv tool install --reinstall {' '.join('--with ' + d['requirement'] for d in deps)} "
                   "lima-tk"]
            return win.failure(f"Cannot install {names} here", "lima-tk's environment has no pip: install "
                               "with the tool that installed lima-tk.", how, None,
                               [("quit", "Quit")] + ([] if required else [("continue", "Continue without")]),
                               "quit" if required else "continue") == "continue"
        job = Job(package_steps(python, [d["requirement"] for d in deps]), log_dir() / "install.log",
                  f"Installing {names}")
        if win.progress(job, f"Installing {names}"):
            after = check_packages(python)
            still = [d["package"] for d in (after or {}).get("missing", []) if d["package"] in names.split(", ")]
            if after is not None and not still:
                return win.installed(names) == "start"
            job.tail.append(f"pip finished, but {', '.join(still) or names} still cannot be found by {python}")
        answer = win.failure(f"Could not install {names}", failure_hint(job.tail), job.tail, job.log_path,
                             [("quit", "Quit")] + ([] if required else [("continue", "Continue without")]),
                             "quit" if required else "continue")
        return answer == "continue" and not required


def _read_skip(path: Path | None) -> set[str]:
    try:
        return set(path.read_text(encoding="utf-8").split()) if path is not None else set()
    except OSError:
        return set()


def _write_skip(path: Path, names: set[str]) -> None:
    try:
        path.write_text("\n".join(sorted(names)) + "\n", encoding="utf-8")
    except OSError:
        pass


def start_app(command: list[str], args: list[str]) -> int:
    """Hand over to lima-tk: replace this process on POSIX, wait for it on Windows."""
    full = [*command, *args]
    if os.name == "nt":
        return subprocess.call(full)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os.execv(full[0], full)
    return 0  # not reached


# -- Linux desktop entry ---------------------------------------------------------------------


def _exec_quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec wants (and escape % field codes)."""
    arg = arg.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_./+:@=,-]+", arg):
        return arg
    return '"' + re.sub(r'([\\"`$])', r"\\\1", arg) + '"'


def desktop_entry(template: str, python: str, launcher: Path) -> str:
    """The template with the real, absolute interpreter and launcher paths filled in."""
    values = {"Exec": f"{_exec_quote(python)} {_exec_quote(str(launcher))}",
              "TryExec": python, "Path": str(launcher.parent.parent)}
    out = []
    for line in template.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in values and "=" in line:
            line = f"{key}={values.pop(key)}"
        out.append(line)
    out += [f"{k}={v}" for k, v in values.items()]  # keys the template lacks
    return "\n".join(out) + "\n"


def install_desktop_entry(remove: bool = False) -> int:
    """Write ~/.local/share/applications/lima-tk.desktop (XDG_DATA_HOME respected) that starts
    this launcher with this Python, so lima-tk appears in the applications menu."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    target = base / "applications" / "lima-tk.desktop"
    if remove:
        target.unlink(missing_ok=True)
        say(f"lima-tk: removed {target}")
        return 0
    if sys.platform in ("win32", "darwin"):
        say("lima-tk: desktop entries are for Linux; on Windows double-click scripts/lima-tk.pyw, "
            "on macOS scripts/lima-tk.command")
        return EXIT_FAILED
    # A venv's python would tie the menu entry to that venv: use the Python it was made from.
    python = getattr(sys, "_base_executable", None) or sys.executable
    template = (Path(__file__).resolve().parent / "lima-tk.desktop").read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(desktop_entry(template, python, Path(__file__).resolve()), encoding="utf-8")
    target.chmod(0o755)
    if shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", str(target.parent)], capture_output=True)
    say(f"lima-tk: wrote {target}; lima-tk is now in your applications menu")
    why = load_tk()
    if why is not None:  # started from the menu, nobody would see this message
        say(no_tk_message(why))
    return 0


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if sys.version_info < (3, 10):  # noqa: UP036 - an old stock Python gets this far: tell it plainly
        fatal(f"lima-tk needs Python 3.10 or newer; this is {sys.version.split()[0]} ({sys.executable}). "
            "Get one from https://www.python.org/downloads/")
        return EXIT_FAILED
    if args[:1] in (["--install-desktop-entry"], ["--remove-desktop-entry"]):
        return install_desktop_entry(remove=args[0] == "--remove-desktop-entry")
    gui = wants_gui(args)
    why = load_tk() if gui else None  # the command line needs no Tk
    if why is not None:
        fatal(no_tk_message(why))
        return EXIT_NO_TK
    screen = Screen(gui)
    try:
        if is_checkout():
            venv = venv_dir()
            python = str(venv_python(venv))
            if needs_install(venv, ROOT) and not ensure_installed(screen.get(), venv, ROOT):
                return EXIT_FAILED
            report = check_packages(python)
            if report is None:  # the environment is broken (moved checkout, new Python): rebuild it
                if not ensure_installed(screen.get(), venv, ROOT, fresh=True):
                    return EXIT_FAILED
                report = check_packages(python)
            command = [str(venv_python(venv, gui=gui)), "-m", "lima_tk"]
        else:
            venv = None
            found = installed_python()
            if found is None:
                fatal("lima-tk is not installed and this is not a lima-tk checkout: run this launcher from the "
                    "lima-tk folder, or install it with pipx install lima-tk")
                return EXIT_FAILED
            command, python = found
            report = check_packages(python) if python else None
        if report is not None and report["missing"] and python:
            if not offer_packages(screen.get(), python, report, gui, venv):
                return EXIT_FAILED
    finally:
        screen.close()
    return start_app(command, args)


if __name__ == "__main__":
    sys.exit(main())
