#!/usr/bin/env python3
"""Render the Problems panel on a small dataset with assorted problems under a virtual X screen.

    python3 scripts/screenshot_problems.py [--out docs/screenshots/problems.png]

Needs Xvfb and ImageMagick's `import` (a private Xvfb is started when $DISPLAY is unset).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shotlib import PanelApp, display_session, grab, settle, wait_for  # noqa: E402


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "problems.png")
    ap.add_argument("--font-size", type=int, default=10)
    ap.add_argument("--geometry", default="1000x500", help="Window size (check that nothing is clipped).")
    args = ap.parse_args()
    with display_session("lima-shot-problems-", screen="1400x1000x24") as tmp:
        from lima_tk.ui.problems import open_problems_panel

        app = PanelApp(make_dataset(tmp / "demo.lima.db"), args.font_size)
        panel = open_problems_panel(app)
        panel.geometry(f"{args.geometry}+0+0")
        wait_for(panel, lambda: panel.state == "done")
        panel.tree.selection_set("2")
        settle(panel, 0.4)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        grab(panel, args.out, note=f": {len(panel.findings)} findings")
        panel.close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
