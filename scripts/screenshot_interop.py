#!/usr/bin/env python3
"""Render the issue 7 windows of the real main window under a virtual X screen and write PNGs.

    python3 scripts/screenshot_interop.py [--out docs/screenshots]

Writes interop_export_hf.png (the export dialog on a Hugging Face folder, test split by ratio),
interop_export_pref.png (preference pairs, a JSONL format), interop_export_openai.png (a format
without options), interop_import_options.png (a ChatGPT .zip's options), interop_import_report.png
(what was skipped and why after that import), interop_export_sharegpt.png (replies marked "no train"
that ShareGPT cannot mark, and what the format loses) and interop_versions_menu.png (the chat editor's
list of versions with a version marked rejected). Needs Xvfb and ImageMagick's `import` (a private
Xvfb is started when $DISPLAY is unset); the user config goes to a temp dir.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot import make_demo_dataset  # noqa: E402
from shotlib import capture, display_session, grab, settle  # noqa: E402


def _node(nid: str, parent: str, children: list[str], role: str, parts: list, content_type: str = "text",
          **meta) -> dict:
    return {"id": nid, "parent": parent, "children": children,
            "message": {"id": nid, "author": {"role": role}, "create_time": 1700000000.0 + len(nid),
                        "content": {"content_type": content_type, "parts": parts}, "metadata": meta,
                        "recipient": "all"}}


def chatgpt_zip(path: Path) -> Path:
    """A small ChatGPT data export: two conversations (one with a photo and a regenerated reply),
    one already imported (a duplicate) and an empty one."""
    photo = {"title": "What is in this photo?", "create_time": 1700000000.0, "current_node": "a1b", "mapping": {
        "root": {"id": "root", "message": None, "parent": None, "children": ["u1"]},
        "u1": _node("u1", "root", ["a1a", "a1b"], "user",
                    [{"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                     "What is in this photo?"], "multimodal_text"),
        "a1a": _node("a1a", "u1", [], "assistant", ["A cat, maybe."], model_slug="gpt-4o"),
        "a1b": _node("a1b", "u1", [], "assistant", ["A grey cat asleep on a sofa."], model_slug="gpt-4o")}}
    dup = {"title": "Hello", "create_time": 1700000100.0, "current_node": "a", "mapping": {
        "root": {"id": "root", "message": None, "parent": None, "children": ["u"]},
        "u": _node("u", "root", ["a"], "user", ["How do I pip install with extras?"]),
        "a": _node("a", "u", [], "assistant", ["Sure. The short version: start small, check each step, and keep "
                                               "the example minimal."])}}
    empty = {"title": "Empty", "create_time": 1700000200.0, "current_node": "root",
             "mapping": {"root": {"id": "root", "message": None, "parent": None, "children": []}}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations.json", json.dumps([photo, dup, empty]))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with display_session("lima-shots-interop-") as tmp:
        shoot(tmp, out)
    return 0


def shoot(tmp: Path, out: Path) -> None:
    from lima_tk.model import Message
    from lima_tk.settings import USER_DEFAULTS
    from lima_tk.store import DatasetStore
    from lima_tk.ui import interop
    from lima_tk.ui.app import App

    db = make_demo_dataset(tmp / "demo.lima.db", 60)
    with DatasetStore(db) as s:
        s.add_tags(s.chat_ids()[:6], ["held-out"])
        s.set_setting("context_limit", 4096)
        cid = s.create_chat("Capital of France (versions)", "en", ["geo"], messages=[
            Message("system", "Answer in one sentence."), Message("user", "What is the capital of France?"),
            Message("assistant", "The capital of France is Paris.")])
        mid = s.get_chat(cid).messages[2].id
        s.update_message(mid, source="generated", model="qwen2.5-7b-instruct", finish="stop")
        s.add_alternative(mid, "Paris, I think, but Lyon is bigger.", model="qwen2.5-7b-instruct", finish="stop",
                          show=False)
        s.add_alternative(mid, "France's capital city is Paris, on the Seine.", model="llama-3.2-3b-instruct",
                          finish="stop", show=False)
        s.set_alternative_rejected(mid, 1, True)
        s.create_chat("Hello", "en", [], messages=[
            Message("user", "How do I pip install with extras?"),
            Message("assistant", "Sure. The short version: start small, check each step, and keep the example "
                                 "minimal.")])
        s.conn.execute("DELETE FROM journal")
    app = App(db, user_settings={**USER_DEFAULTS, "geometry": "1180x700+20+20"}, count_tokens=False)
    root = app.root
    settle(root, 0.4)

    dlg = app.export_dialog()
    dlg.set_format("hf")
    dlg.split.set("ratio")
    dlg._hf_states()
    dlg.training_flag.set(True)
    grab(dlg, out / "interop_export_hf.png")
    dlg.destroy()

    dlg = app.export_dialog()
    dlg.set_format("pref-trl")
    dlg.skip_problems.set(True)
    grab(dlg, out / "interop_export_pref.png")
    dlg.destroy()

    dlg = app.export_dialog()
    grab(dlg, out / "interop_export_openai.png")
    dlg.destroy()

    # Issue 11: replies marked "no train" that ShareGPT cannot mark, and what the format loses.
    marked = [m.id for c in app.store.iter_chats() for m in c.messages if m.role == "assistant"][:3]
    for mid in marked:
        app.store.update_message(mid, weight=0)
    dlg = app.export_dialog()
    dlg.set_format("sharegpt")
    grab(dlg, out / "interop_export_sharegpt.png")
    dlg.destroy()
    for _ in marked:
        app.store.undo()

    src = chatgpt_zip(tmp / "chatgpt-export.zip")
    dlg = app.start_import(src)
    assert isinstance(dlg, interop.ImportOptionsDialog)
    grab(dlg, out / "interop_import_options.png")
    job = dlg.start()
    while not job.finished:
        root.update()
    settle(root, 0.2)
    if app.last_report is not None:
        grab(app.last_report, out / "interop_import_report.png")
        app.last_report.destroy()

    ed = app.open_chat(cid)
    while not ed.ready:
        root.update()
    ed.geometry("1200x600+20+20")
    settle(ed, 0.4)
    card = ed.cards[ed.order[2]]
    x, y = card.meta_row.point("versions")
    menu = ed.assist.versions_menu(card, card.meta_row.winfo_rootx() + x, card.meta_row.winfo_rooty() + y + 10)
    settle(ed, 0.3)
    # The editor window and the menu posted over it, as one picture.
    ed.update_idletasks()
    x0, y0 = ed.winfo_rootx(), ed.winfo_rooty()
    w = max(ed.winfo_width(), menu.winfo_rootx() + menu.winfo_width() - x0)
    h = max(ed.winfo_height() // 2 + 40, menu.winfo_rooty() + menu.winfo_height() - y0 + 8)
    capture(x0, y0, w, h, out / "interop_versions_menu.png")
    menu.unpost()
    app.close()


if __name__ == "__main__":
    sys.exit(main())
