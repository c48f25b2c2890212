#!/usr/bin/env python3
"""Render the Problems panel on a small dataset with assorted problems under a virtual X screen.

    python3 scripts/screenshot_problems.py [--out docs/screenshots/problems.png]

Needs Xvfb and ImageMagick's `import` (a private Xvfb is started when $DISPLAY is unset).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_dataset(path: Path) -> Path:
    """A dataset whose chats show most of the linter's findings."""
    from lima_tk.formats import import_file
    from lima_tk.model import Message, Tool
    from lima_tk.store import DatasetStore

    weather = Tool("get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"},
                                                                                    "days": {"type": "integer"}},
                                                  "required": ["city"]})

    def call(cid: str, name: str, args: str) -> dict:
        return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}

    with DatasetStore(path) as s:
        s.set_setting("languages", ["en", "ru", "de"])
        import_file(s, ROOT / "tests" / "data" / "chatgpt_conversations.json", tags=["chatgpt"])
        s.create_chat("Weather in Oslo", "en", ["tools"], messages=[
            Message("user", "Weather in Oslo for 3 days?"),
            Message("assistant", None, tool_calls=[call("c1", "get_weather", '{"city": "Oslo", "days": "3"}')]),
            Message("tool", "-3C, snow", tool_call_id="c1"),
            Message("assistant", "Cold and snowy: -3C.")], tools=[weather])
        s.create_chat("Forecast, broken call", "en", ["tools"], messages=[
            Message("user", "And tomorrow?"),
            Message("assistant", None, tool_calls=[call("c1", "get_forecast", '{"city": "Oslo"')]),
            Message("tool", "sunny", tool_call_id="c7"),
            Message("assistant", "Sunny.")], tools=[weather])
        s.create_chat("Рецепт борща", "de", ["cooking"], messages=[
            Message("user", "Как приготовить борщ? Нужен простой рецепт на четыре порции."),
            Message("assistant", "Свёкла, капуста, картофель, морковь, лук и томатная паста; варить около часа.  ")])
        s.create_chat("Two questions", "en", [], messages=[
            Message("system", "You are terse."), Message("user", "What is 2+2?"), Message("user", "And 3+3?"),
            Message("assistant", "4 and 6.")])
        s.create_chat("Unanswered", "en", [], messages=[Message("user", "Are you there?"), Message("assistant", " ")])
        hello = [Message("user", "Hello!"), Message("assistant", "Hi there.")]
        s.create_chat("Greeting", "en", [], messages=hello)
        s.create_chat("Greeting (copy)", "en", [],
                      messages=[Message("user", "hello"), Message("assistant", "Hi, there")])
        s.create_chat("Greeting again", "en", [], messages=hello)
        s.create_chat("Starts with the bot", "en", [], messages=[Message("assistant", "How can I help?"),
                                                                  Message("user", "Never mind.")])
    return path


def start_xvfb() -> subprocess.Popen | None:
    if os.environ.get("DISPLAY"):
        return None
    n = 93
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1400x1000x24"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{n}").exists():
            break
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{n}"
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "problems.png")
    ap.add_argument("--font-size", type=int, default=10)
    ap.add_argument("--geometry", default="1000x500", help="Window size (check that nothing is clipped).")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lima-shot-problems-"))
    xvfb = start_xvfb()
    try:
        import tkinter as tk

        from lima_tk.store import DatasetStore
        from lima_tk.ui.errors import handle_callback_error
        from lima_tk.ui.problems import open_problems_panel
        from lima_tk.ui.theme import apply_theme

        db = make_dataset(tmp / "demo.lima.db")

        class App:
            def __init__(self) -> None:
                self.root = tk.Tk()
                self.root.withdraw()
                apply_theme(self.root, args.font_size)
                self.root.report_callback_exception = handle_callback_error
                self.store = DatasetStore(db)

            def status(self, text: str) -> None:
                print("status:", text)

            def open_chat(self, chat_id: int, message_index: int | None = None) -> None:
                print("open", chat_id, message_index)

        app = App()
        panel = open_problems_panel(app)
        panel.geometry(f"{args.geometry}+0+0")
        deadline = time.monotonic() + 60
        while panel.state != "done" and time.monotonic() < deadline:
            panel.update()
            time.sleep(0.02)
        panel.tree.selection_set("2")
        for _ in range(20):
            panel.update()
            time.sleep(0.02)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        x, y, w, h = panel.winfo_rootx(), panel.winfo_rooty(), panel.winfo_width(), panel.winfo_height()
        subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage", str(args.out)],
                       check=True)
        print(f"wrote {args.out} ({w}x{h}): {len(panel.findings)} findings")
        panel.close()
        app.store.close()
        app.root.destroy()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
