#!/usr/bin/env python3
"""Open the chat editor on demo chats under a virtual X screen and write PNGs of its windows.

    python3 scripts/screenshot_editor.py [--out docs/screenshots]

Writes editor_plain.png (a plain chat), editor_tools.png (a tool-calling chat), editor_find.png
(find bar and a multi-selection), editor_tool_dialog.png (a function definition with a JSON
error), token_preview.png (a chat as the model sees it), editor_not_saved.png (typing while
another connection holds the write lock) and editor_close_unsaved.png (closing then). Token counts come from a local
tokenizer folder trained here (scripts/screenshot.py `demo_tokenizer`), counted before opening.
Needs Xvfb and ImageMagick's `import` (a private Xvfb is started when $DISPLAY is unset).
The editor runs over a stand-in for the main window (the App contract of lima_tk.ui.chat_editor),
so this script does not depend on lima_tk/ui/app.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shotlib import StandInApp, display_session, grab, make_root, open_editor, wait_for  # noqa: E402

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


def not_saved(app: Any, store: Any, chat_id: int, out: Path) -> None:
    """Typing while another connection holds the dataset's write lock (as `lima-tk import` does):
    the "Not saved" line, then the question asked on close."""
    import sqlite3

    from lima_tk.ui.autosave import GUI_BUSY_TIMEOUT_MS, UnsavedDialog

    store.conn.execute(f"PRAGMA busy_timeout = {GUI_BUSY_TIMEOUT_MS}")  # as the main window sets it
    ed = open_editor(app, chat_id)
    ed.geometry("1120x640+0+0")
    card = ed.cards[ed.order[3]]
    ed.focus_message(card.mid, index="end-1c")
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    for ch in " And with pyproject.toml only?":
        card.text.event_generate("<KeyPress>", keysym={" ": "space", "?": "question", ".": "period"}.get(ch, ch))
    wait_for(ed, lambda: card.unsaved)
    ed.see_card(card)
    grab(ed, out / "editor_not_saved.png", menu=True)

    def answer() -> None:
        d = UnsavedDialog.current
        if d is None or not d.winfo_viewable():
            ed.after(50, answer)
            return
        d.geometry("+60+60")
        grab(d, out / "editor_close_unsaved.png")
        d.keep_button.invoke()

    ed.close_grace_ms = 200
    ed.after(50, answer)
    ed.close()
    other.execute("ROLLBACK")
    other.close()
    wait_for(ed, lambda: not card.unsaved)
    ed.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with display_session("lima-shot-") as tmp:
        from lima_tk.store import DatasetStore

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
        root = make_root()  # the main window's theme, so the pictures show the real look
        app = StandInApp(root, store)

        ed = open_editor(app, plain)
        ed.focus_message(ed.order[3], index="end-1c")
        grab(ed, out / "editor_plain.png", menu=True)

        ed.event_generate("<<Find>>")
        ed.findbar.var.set("extras")
        ed.findbar.flush()
        ed.select(ed.order[2:4])  # a multi-selection (Ctrl+click on headers)
        ed.canvas.focus_set()
        ed.find_next(1)  # the second match: highlighted orange and scrolled into view
        grab(ed, out / "editor_find.png", menu=True)
        ed.close()

        ed = open_editor(app, tools)
        ed.focus_message(ed.order[-1], index="end-1c")
        grab(ed, out / "editor_tools.png", menu=True)

        from lima_tk.ui.token_preview import open_token_preview

        win = open_token_preview(app, plain)
        win.geometry("760x620+0+0")
        wait_for(root, lambda: win.state != "loading")
        grab(win, out / "token_preview.png", menu=True)
        win.destroy()

        ed.event_generate("<<EditTool>>")
        dlg = ed.dialog
        assert dlg is not None
        dlg.geometry("+40+40")
        dlg.params.set('{\n  "type": "object",\n  "properties": {\n    "city": {"type": "string"}\n'
                       '    "unit": {"type": "string", "enum": ["C", "F"]}\n  },\n  "required": ["city"]\n}')
        dlg.save()
        grab(dlg, out / "editor_tool_dialog.png", menu=True)
        dlg.cancel()
        ed.close()

        not_saved(app, store, plain, out)
        root.destroy()
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
