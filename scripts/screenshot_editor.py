#!/usr/bin/env python3
"""Open the chat editor on demo chats under a virtual X screen and write PNGs of its windows.

    python3 scripts/screenshot_editor.py [--out docs/screenshots]

Writes editor_plain.png (a plain chat), editor_tools.png (a tool-calling chat), editor_find.png
(find bar and a multi-selection), editor_tool_dialog.png (a function definition with a JSON
error) and token_preview.png (a chat as the model sees it). Token counts come from a local
tokenizer folder trained here (scripts/screenshot.py `demo_tokenizer`), counted before opening.
Needs Xvfb and ImageMagick's `import` (a private Xvfb is started when $DISPLAY is unset).
The editor runs over a stand-in for the main window (the App contract of lima_tk.ui.chat_editor),
so this script does not depend on lima_tk/ui/app.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

PLAIN = [
    ("system", "You are a helpful Python packaging expert. Answer briefly and show commands."),
    ("user", "Sometimes I see this pip install command:\n\n    pip install package_name[all]\n\n"
             "Afaik it installs additional modules/dependencies. How is it done? I want to do the same "
             "for my module."),
    ("assistant", "The `[all]` part selects an *extra*: a named group of optional dependencies that your "
                  "package declares.\n\nIn `pyproject.toml`:\n\n    [project.optional-dependencies]\n"
                  "    plot = [\"matplotlib>=3.8\"]\n    all = [\"my-package[plot]\"]\n\n"
                  "Then `pip install my-package[all]` installs the base package plus everything in `all`."),
    ("user", "And with setup.py?"),
    ("assistant", "Pass `extras_require` to `setup()`:\n\n    setup(\n        name=\"my-package\",\n"
                  "        extras_require={\"plot\": [\"matplotlib>=3.8\"], \"all\": [\"matplotlib>=3.8\"]},\n"
                  "    )\n\nBoth forms produce the same metadata, so users install extras the same way."),
]


class StandInApp:
    """The App contract the editor relies on (see lima_tk/ui/chat_editor.py)."""

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


def start_display() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    if not shutil.which("Xvfb"):
        sys.exit("no $DISPLAY and no Xvfb: install xvfb")
    n = 120
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{n}"
    return proc


def grab(win: Any, path: Path) -> None:
    """Screenshot one toplevel with its menu bar (cut out of the whole screen: no window manager)."""
    win.update()
    time.sleep(0.3)
    win.update()
    geo = win.wm_geometry()  # WxH+X+Y of the wrapper, the menu bar included in its y
    size, x, y = geo.split("+")[0], int(geo.split("+")[1]), int(geo.split("+")[2])
    w, h = (int(v) for v in size.split("x"))
    h += win.winfo_rooty() - y  # the menu bar above the client area
    subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(path)], check=True)
    print("wrote", path)


def build(store: Any) -> tuple[int, int]:
    from lima_tk.model import Message, Tool

    store.set_setting("languages", ["en", "de", "ru"])
    store.set_setting("tags", ["code", "packaging", "tools", "weather", "reviewed"])
    plain = store.create_chat("pip install pkg[all]", "en", ["code", "packaging"],
                              notes="Good example of extras; maybe add a poetry variant.",
                              messages=[Message(r, c) for r, c in PLAIN])
    store.update_message(store.get_chat(plain).messages[2].id, weight=1)
    weather = Tool("get_weather", "Current weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"},
                                                     "unit": {"type": "string", "enum": ["C", "F"]}},
                    "required": ["city"]})
    convert = Tool("convert_units", "Convert a value between units",
                   {"type": "object", "properties": {"value": {"type": "number"}, "from": {"type": "string"},
                                                     "to": {"type": "string"}}})
    tools = store.create_chat("Weather in Paris and Tokyo", "en", ["tools", "weather"], tools=[weather, convert],
                              messages=[Message("system", "You can call tools to look up the weather.")])
    store.add_message(tools, "user", "What's the weather in Paris and in Tokyo right now?")
    store.add_message(tools, "assistant", None, tool_calls=[
        {"id": "call_7f3a9c", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "C"}'}},
        {"id": "call_b21e04", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Tokyo", "unit": "C"}'}}], weight=0)
    store.add_message(tools, "tool", '{"city": "Paris", "temp": 21, "sky": "sunny"}', tool_call_id="call_7f3a9c")
    store.add_message(tools, "tool", '{"city": "Tokyo", "temp": 27, "sky": "light rain"}')
    store.add_message(tools, "assistant", "Paris: 21 °C and sunny. Tokyo: 27 °C with light rain — take an "
                                          "umbrella! 東京は小雨です。", weight=1)
    return plain, tools


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xvfb = start_display()
    tmp = Path(tempfile.mkdtemp(prefix="lima-shot-"))
    try:
        import tkinter as tk

        from lima_tk.store import DatasetStore
        from lima_tk.ui.chat_editor import open_chat_editor
        from lima_tk.ui.errors import handle_callback_error

        store = DatasetStore(tmp / "demo.lima.db")
        plain, tools = build(store)
        # Token counts (issue 6): a local tokenizer with a chat template, counted up front (the
        # stand-in has no background counter; the editor shows what the cache holds).
        from screenshot import demo_tokenizer

        from lima_tk import tokens

        texts = [m.content or "" for c in store.iter_chats() for m in c.messages] * 20
        store.set_setting("tokenizer", str(demo_tokenizer(tmp / "demo-model", texts, vocab_size=600)))
        store.set_setting("context_limit", 512)
        store.journal.clear()
        tokens.ensure_counted(store)
        root = tk.Tk()
        root.withdraw()
        root.report_callback_exception = handle_callback_error
        try:  # the main window's theme when it is there, so the pictures show the real look
            from lima_tk.ui import theme

            theme.apply_theme(root, 11)
        except ImportError:
            pass
        app = StandInApp(root, store)

        ed = open_chat_editor(app, plain)
        while not ed.ready:
            root.update()
        ed.focus_force()
        ed.focus_message(ed.order[3], index="end-1c")
        grab(ed, out / "editor_plain.png")

        ed.event_generate("<<Find>>")
        ed.findbar.var.set("extras")
        ed.findbar.flush()
        ed.select(ed.order[2:4])  # a multi-selection (Ctrl+click on headers)
        ed.canvas.focus_set()
        ed.find_next(1)  # the second match: highlighted orange and scrolled into view
        grab(ed, out / "editor_find.png")
        ed.close()

        ed = open_chat_editor(app, tools)
        while not ed.ready:
            root.update()
        ed.focus_force()
        ed.focus_message(ed.order[-1], index="end-1c")
        grab(ed, out / "editor_tools.png")

        from lima_tk.ui.token_preview import open_token_preview

        win = open_token_preview(app, plain)
        win.geometry("760x620+0+0")
        while win.state == "loading":
            root.update()
        grab(win, out / "token_preview.png")
        win.destroy()

        ed.event_generate("<<EditTool>>")
        dlg = ed.dialog
        assert dlg is not None
        dlg.geometry("+40+40")
        dlg.params.set('{\n  "type": "object",\n  "properties": {\n    "city": {"type": "string"}\n'
                       '    "unit": {"type": "string", "enum": ["C", "F"]}\n  },\n  "required": ["city"]\n}')
        dlg.save()
        grab(dlg, out / "editor_tool_dialog.png")
        dlg.cancel()
        ed.close()
        root.destroy()
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
