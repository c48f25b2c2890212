#!/usr/bin/env python3
"""Screenshots of AI assist in the chat editor and of the Assistant settings tab, under Xvfb.

    python3 scripts/screenshot_assist.py [--out docs/screenshots]

Writes assist_streaming.png (a reply streaming in), assist_versions.png (a regenerated reply
showing version 2/3 and its provenance), assist_error.png (a stream that broke off: the partial
text, the amber marker, the inline error with Retry) and assist_settings.png (the Assistant tab
with the model list fetched and "Test connection" done). The local test server
(tests/openai_server.py) plays the model. Needs Xvfb and ImageMagick's `import`; a private Xvfb is
started when $DISPLAY is unset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot_editor import PLAIN, StandInApp, grab, start_display  # noqa: E402

STORY = ("Pass `extras_require` to `setup()`:\n\n    setup(\n        name=\"my-package\",\n"
         "        extras_require={\"plot\": [\"matplotlib>=3.8\"], \"all\": [\"matplotlib>=3.8\"]},\n"
         "    )\n\nBoth forms produce the same metadata, so users install extras the same way: "
         "`pip install my-package[all]`. Keep the lists in one place (a constant) so that `all` "
         "never drifts from the individual extras.")


def pump(root, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        root.update()
        time.sleep(0.01)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xvfb = start_display()
    tmp = Path(tempfile.mkdtemp(prefix="lima-shot-assist-"))
    os.environ["LIMA_TK_CONFIG"] = str(tmp / "config.json")  # never the real user settings
    os.environ.pop("OPENAI_API_KEY", None)
    try:
        import tkinter as tk

        from lima_tk.model import Message
        from lima_tk.store import DatasetStore
        from lima_tk.ui import theme
        from lima_tk.ui.chat_editor import open_chat_editor
        from lima_tk.ui.errors import handle_callback_error
        from tests.openai_server import OpenAIServer

        server = OpenAIServer().start()
        server.strict_models = False
        server.models[:] = ["qwen2.5-7b-instruct", "llama-3.2-3b-instruct", "smollm2-135m-instruct"]
        store = DatasetStore(tmp / "demo.lima.db")
        store.set_setting("tags", ["code", "packaging"])
        stream_chat = store.create_chat("pip install pkg[all]", "en", ["code", "packaging"],
                                        messages=[Message(r, c) for r, c in PLAIN[:4]])
        versions_chat = store.create_chat("pip install pkg[all] (versions)", "en", ["code"],
                                          messages=[Message(r, c) for r, c in PLAIN])
        mid = store.get_chat(versions_chat).messages[4].id
        store.update_message(mid, source="generated", model="qwen2.5-7b-instruct", finish="stop")
        store.add_alternative(mid, STORY, model="qwen2.5-7b-instruct", finish="stop")
        store.add_alternative(mid, "Use `extras_require` in `setup()`; the keys are the extra names.",
                              model="llama-3.2-3b-instruct", finish="length")
        store.show_alternative(mid, 1)
        error_chat = store.create_chat("Weather question", "en", [],
                                       messages=[Message("system", "You are a weather assistant."),
                                                 Message("user", "Will it rain in Paris tomorrow afternoon?")])

        root = tk.Tk()
        root.withdraw()
        root.report_callback_exception = handle_callback_error
        theme.apply_theme(root, 11)
        app = StandInApp(root, store)
        app.user_settings.update(base_url=server.base_url, model="qwen2.5-7b-instruct", use_env_key=False,
                                 timeout=10)

        # 1. Mid-stream.
        server.set(reply=STORY, chunks=120, chunk_delay=0.03)
        ed = open_chat_editor(app, stream_chat)
        while not ed.ready:
            root.update()
        ed.focus_force()
        ed.event_generate("<<GenerateReply>>")
        card = ed.cards[ed.assist.stream.mid]
        while len(card.get_text()) < len(STORY) * 0.55:
            root.update()
            time.sleep(0.005)
        grab(ed, out / "assist_streaming.png")
        ed.close()

        # 2. Version 2 of 3, generated.
        ed = open_chat_editor(app, versions_chat)
        while not ed.ready:
            root.update()
        ed.focus_force()
        ed.focus_message(ed.order[3], index="end-1c")
        pump(root, 0.1)
        grab(ed, out / "assist_versions.png")
        ed.close()

        # 3. A stream that broke off mid-way: partial text, amber marker, inline error with Retry.
        server.set(reply="Light rain is likely in Paris tomorrow afternoon, with about 70 % chance between "
                         "2 and 6 pm. Take an umbrella; temperatures stay mild at", chunks=12, cut_after=9,
                   chunk_delay=0.01)
        ed = open_chat_editor(app, error_chat)
        while not ed.ready:
            root.update()
        ed.focus_force()
        ed.event_generate("<<GenerateReply>>")
        while ed.assist.streaming():
            root.update()
            time.sleep(0.005)
        ed.canvas.focus_set()
        pump(root, 0.1)
        grab(ed, out / "assist_error.png")
        ed.close()
        root.destroy()
        store.close()

        # 4. The Assistant settings tab of the real main window.
        from lima_tk.ui.app import App

        mainapp = App(tmp / "demo.lima.db", user_settings={
            "base_url": server.base_url, "use_env_key": False, "model": "qwen2.5-7b-instruct", "temperature": 0.7,
            "max_tokens": 1024, "timeout": 60, "stop": ["\n\nUser:"], "continue_method": "completions"})
        mainapp.root.geometry("+0+0")
        pump(mainapp.root, 0.2)
        dlg = mainapp.settings_dialog()
        dlg.geometry("+40+40")
        while not dlg.model_box.cget("values"):
            mainapp.root.update()
            time.sleep(0.01)
        dlg.test_connection()
        while not dlg.test_result.cget("text").startswith(("✓", "✗")):
            mainapp.root.update()
            time.sleep(0.01)
        grab(dlg, out / "assist_settings.png")
        dlg.destroy()
        mainapp.close()
        server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
