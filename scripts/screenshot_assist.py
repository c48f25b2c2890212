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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot_editor import PLAIN  # noqa: E402
from shotlib import StandInApp, display_session, grab, make_root, open_editor, settle, wait_for  # noqa: E402

STORY = ("Pass `extras_require` to `setup()`:\n\n    setup(\n        name=\"my-package\",\n"
         "        extras_require={\"plot\": [\"matplotlib>=3.8\"], \"all\": [\"matplotlib>=3.8\"]},\n"
         "    )\n\nBoth forms produce the same metadata, so users install extras the same way: "
         "`pip install my-package[all]`. Keep the lists in one place (a constant) so that `all` "
         "never drifts from the individual extras.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.pop("OPENAI_API_KEY", None)
    with display_session("lima-shot-assist-") as tmp:  # the user config goes there too
        from lima_tk.model import Message
        from lima_tk.store import DatasetStore
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

        root = make_root()
        app = StandInApp(root, store)
        app.user_settings.update(base_url=server.base_url, model="qwen2.5-7b-instruct", use_env_key=False,
                                 timeout=10)

        # 1. Mid-stream.
        server.set(reply=STORY, chunks=120, chunk_delay=0.03)
        ed = open_editor(app, stream_chat)
        ed.event_generate("<<GenerateReply>>")
        card = ed.cards[ed.assist.stream.mid]
        wait_for(root, lambda: len(card.get_text()) >= len(STORY) * 0.55)
        grab(ed, out / "assist_streaming.png", menu=True)
        ed.close()

        # 2. Version 2 of 3, generated.
        ed = open_editor(app, versions_chat)
        ed.focus_message(ed.order[3], index="end-1c")
        settle(root, 0.1)
        grab(ed, out / "assist_versions.png", menu=True)
        ed.close()

        # 3. A stream that broke off mid-way: partial text, amber marker, inline error with Retry.
        server.set(reply="Light rain is likely in Paris tomorrow afternoon, with about 70 % chance between "
                         "2 and 6 pm. Take an umbrella; temperatures stay mild at", chunks=12, cut_after=9,
                   chunk_delay=0.01)
        ed = open_editor(app, error_chat)
        ed.event_generate("<<GenerateReply>>")
        wait_for(root, lambda: not ed.assist.streaming())
        ed.canvas.focus_set()
        settle(root, 0.1)
        grab(ed, out / "assist_error.png", menu=True)
        ed.close()
        root.destroy()
        store.close()

        # 4. The Assistant settings tab of the real main window.
        from lima_tk.ui.app import App

        mainapp = App(tmp / "demo.lima.db", user_settings={
            "base_url": server.base_url, "use_env_key": False, "model": "qwen2.5-7b-instruct", "temperature": 0.7,
            "max_tokens": 1024, "timeout": 60, "stop": ["\n\nUser:"], "continue_method": "completions"})
        mainapp.root.geometry("+0+0")
        settle(mainapp.root, 0.2)
        dlg = mainapp.settings_dialog()
        dlg.geometry("+40+40")
        wait_for(mainapp.root, lambda: dlg.model_box.cget("values"))
        dlg.test_connection()
        wait_for(mainapp.root, lambda: dlg.test_result.cget("text").startswith(("✓", "✗")))
        grab(dlg, out / "assist_settings.png", menu=True)
        dlg.destroy()
        mainapp.close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
