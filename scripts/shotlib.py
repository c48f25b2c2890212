"""Shared pieces of the screenshot and GUI benchmark scripts: a private Xvfb display, a temp dir
with the user config redirected into it, a themed hidden Tk root, a stand-in for the main window
(the App contract of lima_tk.ui.chat_editor), and cropping windows out of the screen into PNGs.

Needs Xvfb (when $DISPLAY is unset) and, for the pictures, ImageMagick's `import`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# -- display -------------------------------------------------------------------------------------


def start_xvfb(screen: str = "1400x900x24") -> subprocess.Popen | None:
    """Start a private Xvfb on the first free display number from :90 and point $DISPLAY at it.
    None when $DISPLAY is already set (nothing to stop later)."""
    if os.environ.get("DISPLAY"):
        return None
    if not shutil.which("Xvfb"):
        sys.exit("no $DISPLAY and no Xvfb (apt-get install xvfb)")
    n = 90
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", screen, "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{n}"
    return proc


def stop_xvfb(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=5)


@contextmanager
def display_session(prefix: str, screen: str = "1400x900x24") -> Iterator[Path]:
    """A display (a private Xvfb when $DISPLAY is unset) and a temp dir that holds the user config
    (never the real one); both go away at the end. Yields the temp dir."""
    xvfb = start_xvfb(screen)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["LIMA_TK_CONFIG"] = str(tmp / "config.json")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        stop_xvfb(xvfb)


# -- Tk --------------------------------------------------------------------------------------------


def make_root(font_size: int = 11) -> Any:
    """A hidden, themed Tk root whose callback errors go through lima_tk.ui.errors."""
    import tkinter as tk

    from lima_tk.ui.errors import handle_callback_error
    from lima_tk.ui.theme import apply_theme

    root = tk.Tk()
    root.withdraw()
    root.report_callback_exception = handle_callback_error
    apply_theme(root, font_size)
    return root


def wait_for(widget: Any, predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Run the Tk loop until predicate() holds (or `timeout` seconds have passed)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        widget.update()
        time.sleep(0.01)


def settle(widget: Any, seconds: float = 0.3) -> None:
    """Let Tk draw (and any after() jobs run) for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        widget.update()
        time.sleep(0.02)


class StandInApp:
    """The App contract the chat editor relies on (see lima_tk/ui/chat_editor.py), over a real
    Tk root and a real DatasetStore, so the editor scripts do not depend on lima_tk/ui/app.py."""

    def __init__(self, root: Any, store: Any) -> None:
        self.root, self.store = root, store
        self.user_settings: dict[str, Any] = {"editor_geometry": "1120x780+0+0"}  # the default editor width
        self.editors: dict[int, Any] = {}
        self.font_size = 11

    def status(self, text: str) -> None:
        pass

    def data_changed(self, source: object | None = None) -> None:
        for ed in list(self.editors.values()):
            if ed is not source:
                ed.reload()

    def flush_pending(self) -> None:
        for ed in list(self.editors.values()):
            ed.flush()

    def undo(self) -> None:
        self.flush_pending()
        self.store.undo()
        self.data_changed()

    def redo(self) -> None:
        self.flush_pending()
        self.store.redo()
        self.data_changed()


class PanelApp:
    """A stand-in main window for the stats board and the Problems panel: a themed root, the
    dataset, and status lines and "open this chat" requests printed."""

    def __init__(self, db: Path, font_size: int = 10) -> None:
        from lima_tk.store import DatasetStore

        self.root = make_root(font_size)
        self.store = DatasetStore(db)

    def status(self, text: str) -> None:
        print("status:", text)

    def open_chat(self, chat_id: int, message_index: int | None = None) -> None:
        print("open", chat_id, message_index)

    def close(self) -> None:
        self.store.close()
        self.root.destroy()


def open_editor(app: Any, chat_id: int) -> Any:
    """The chat editor on `chat_id`, every card built, with the keyboard."""
    from lima_tk.ui.chat_editor import open_chat_editor

    ed = open_chat_editor(app, chat_id)
    while not ed.ready:
        app.root.update()
    ed.focus_force()
    return ed


# -- pictures --------------------------------------------------------------------------------------


def capture(x: int, y: int, w: int, h: int, out: Path, note: str = "") -> None:
    """Write the screen rectangle to the PNG `out` (the whole virtual screen is the only window
    there is: no window manager to ask)."""
    subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(out)], check=True)
    print(f"wrote {out} ({w}x{h}){note}")


def grab(window: Any, out: Path, menu: bool = False, note: str = "") -> None:
    """Crop a toplevel out of the screen after letting it draw. `menu`: include its menu bar,
    which sits above the client area (from the frame's y in wm_geometry)."""
    window.update_idletasks()
    settle(window, 0.3)
    x, y = window.winfo_rootx(), window.winfo_rooty()
    w, h = window.winfo_width(), window.winfo_height()
    if menu:
        top = int(window.wm_geometry().split("+")[2])
        h += y - top
        y = top
    capture(x, y, w, h, out, note)
