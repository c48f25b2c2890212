#!/usr/bin/env python3
"""Regenerate every screenshot of README.md and docs/ under a virtual X screen (one command).

    python3 scripts/screenshot.py [--out docs/screenshots] [--chats 240] [--quick]

The main window's pictures are made here (the chat list, filters, first run with the welcome
panel, About, dialogs, empty states); then the other screenshot_*.py scripts run on the same
display for the chat editor (tool-calling chat), AI assist (streaming), import/export, the stats
board and the Problems panel. `--quick` makes only the main window's pictures from a few chats
(what tests/ui/test_screenshots.py runs). Needs Xvfb and ImageMagick's `import` (a private Xvfb is
started when $DISPLAY is unset). The user config and data folder are redirected to a temp dir, so
your own settings are never touched. Also the home of `make_demo_dataset`, which
scripts/bench_gui.py uses for its large datasets.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shotlib import display_session, grab, settle, wait_for  # noqa: E402

TOPICS = [
    ("pip install with extras", "code"), ("reset params in pytorch", "code"), ("padding and figures", "code"),
    ("spectral clustering", "math"), ("recommender systems", "ml"), ("japanese texts", "translation"),
    ("docs for setup.py", "code"), ("clone one branch", "git"), ("отчёт о продажах", "business"),
    ("jp word explanation", "translation"), ("gpt-4 meta chat", "chit-chat"), ("weather tool call", "tools"),
    ("sql window functions", "code"), ("bayes rule intuition", "math"), ("regex for emails", "code"),
    ("rebase vs merge", "git"), ("kubernetes liveness probe", "devops"), ("flight search tool", "tools"),
    ("write a haiku", "chit-chat"), ("Übersetzung ins Deutsche", "translation"), ("matrix determinant", "math"),
    ("async python basics", "code"), ("tokenizer vocab size", "ml"), ("docker multi-stage build", "devops"),
    ("LoRA rank choice", "ml"), ("unit test fixtures", "code"), ("calendar booking tool", "tools"),
    ("резюме статьи", "summaries"), ("summarize meeting notes", "summaries"), ("explain big-O", "math"),
]
LANGS = {"отчёт о продажах": "ru", "резюме статьи": "ru", "Übersetzung ins Deutsche": "de"}
USER_LINES = [
    "How do I {t}?", "Can you help me with {t}?", "Explain {t} like I'm new to it.",
    "What is the cleanest way to handle {t}?", "I keep getting an error with {t}. Ideas?",
]
ASSISTANT_LINES = [
    "Sure. The short version: start small, check each step, and keep the example minimal.",
    "Here is a worked example, then the two pitfalls people usually hit.",
    "Good question. There are three common approaches; the first is usually enough.",
    "Let's go step by step. First, make sure the inputs are what you expect.",
]


def make_chats(n: int, seed: int = 7, messages: tuple[int, int] = (2, 12)):
    """`n` plausible chats (names, languages, tags, alternating messages). Deterministic."""
    from lima_tk.model import Chat, Message

    rnd = random.Random(seed)
    for i in range(n):
        topic, tag = TOPICS[i % len(TOPICS)]
        name = topic if i < len(TOPICS) else f"{topic} #{i // len(TOPICS) + 1}"
        lang = LANGS.get(topic, "en")
        tags = [tag] + (["reviewed"] if rnd.random() < 0.3 else []) + (["hard"] if rnd.random() < 0.1 else [])
        count = rnd.randint(*messages)
        msgs = [Message("system", "You are a concise, friendly assistant.")] if rnd.random() < 0.4 else []
        for k in range(count):
            if k % 2 == 0:
                msgs.append(Message("user", rnd.choice(USER_LINES).format(t=topic)))
            else:
                msgs.append(Message("assistant", rnd.choice(ASSISTANT_LINES)))
        yield Chat(name=name, language=lang, tags=tags, messages=msgs)


def make_demo_dataset(path: str | Path, n: int, seed: int = 7, messages: tuple[int, int] = (2, 12)) -> Path:
    """Create a dataset with `n` demo chats (one store.add_chats call). Returns the path."""
    from lima_tk.store import DatasetStore

    path = Path(path)
    with DatasetStore(path) as s:
        s.set_setting("languages", ["en", "ru", "de"])
        s.set_setting("tags", ["code", "math", "ml", "tools", "translation", "git", "devops", "chit-chat",
                               "business", "summaries", "reviewed", "hard"])
        s.set_setting("tokenizer", "Qwen/Qwen2.5-7B-Instruct")
        s.add_chats(make_chats(n, seed, messages), label="Demo chats")
        s.conn.execute("DELETE FROM journal")  # a fresh demo has nothing to undo
    return path


# The ChatML layout most instruct models use (the test fixtures' template).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def demo_tokenizer(folder: Path, texts: list[str], vocab_size: int = 3000) -> Path:
    """A local model folder for the pictures (no download): a byte-level BPE trained on `texts`
    and a tokenizer_config.json with a ChatML chat template. Returns the folder."""
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": CHATML_TEMPLATE, "eos_token": "<|im_end|>", "bos_token": None}), encoding="utf-8")
    return folder


def wait_counted(app, timeout: float = 30.0) -> None:
    """Until the main window's background token count (and its total) is done."""
    t = app.tokens
    end = time.monotonic() + timeout
    while (not t.runs or t.running or t.total_pending) and time.monotonic() < end:
        app.root.update()
        time.sleep(0.01)


# The other screenshot scripts: (script, its --out argument: a folder, or a file in it).
SCRIPTS = (
    ("screenshot_editor.py", ""),
    ("screenshot_assist.py", ""),
    ("screenshot_interop.py", ""),
    ("screenshot_stats.py", "stats_board.png"),
    ("screenshot_problems.py", "problems.png"),
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--chats", type=int, default=240)
    ap.add_argument("--quick", action="store_true", help="Only the main window's pictures, from 30 chats.")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    with display_session("lima-shots-") as tmp:
        shoot(tmp, out, 30 if args.quick else args.chats, quick=args.quick)
        for script, target in () if args.quick else SCRIPTS:
            # Each in its own process (one Tk per process), on this display ($DISPLAY is set).
            r = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--out", str(out / target)])
            if r.returncode:
                failed.append(script)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def shoot(tmp: Path, out: Path, n: int, quick: bool = False) -> None:
    from lima_tk.ui.app import App
    from lima_tk.ui.progress import ProgressDialog

    db = make_demo_dataset(tmp / "demo.lima.db", n)
    # Exact token counts from a local tokenizer folder (trained here, no download), and a context
    # limit that a few of the long demo chats exceed.
    from lima_tk.store import DatasetStore

    with DatasetStore(db) as s:
        texts = [m.content or "" for c in s.iter_chats() for m in c.messages]
        s.set_setting("tokenizer", str(demo_tokenizer(tmp / "demo-model", texts)))
        s.set_setting("context_limit", 240)
        s.conn.execute("DELETE FROM journal")
    settings = {"geometry": "1180x700+20+20"}
    from lima_tk.settings import USER_DEFAULTS

    app = App(db, user_settings={**USER_DEFAULTS, **settings}, count_delay_ms=0)
    root = app.root
    settle(root, 0.5)
    wait_counted(app)
    cl = app.chat_list
    cl.tree.focus_set()
    cl.move_cursor(2)
    cl.move_cursor(4, extend=True)
    app.status("Deleted 3 chats - Ctrl+Z to undo")
    grab(root, out / "main_window.png", menu=True)

    app.filter_var.set("tool")
    app.apply_filter()
    cl.tree.focus_set()
    cl.move_cursor(1)
    app.status("Type to filter; Escape clears")
    grab(root, out / "main_filtered.png", menu=True)
    app.clear_filter()

    app.over_check.invoke()  # only the chats over the context limit
    cl.move_cursor(0)
    app.status("Chats over the context limit (240 tokens)")
    grab(root, out / "main_over_limit.png", menu=True)
    app.clear_filter()

    cl.move_cursor(0)
    entry = cl.start_rename()
    if entry is not None:
        entry.delete(0, "end")
        entry.insert(0, "pip install with extras (2)")
    grab(root, out / "rename_in_place.png", menu=True)
    cl.cancel_rename()

    cl.move_cursor(3)
    cl.move_cursor(6, extend=True)
    dlg = app.tags_dialog()
    grab(dlg, out / "tags_dialog.png")
    dlg.destroy()
    dlg = app.language_dialog()
    grab(dlg, out / "language_dialog.png")
    dlg.destroy()

    dlg = app.settings_dialog()
    grab(dlg, out / "settings_assistant.png")
    dlg.nb.select(2)
    grab(dlg, out / "settings_dataset.png")
    dlg.destroy()

    dlg = app.export_dialog()
    grab(dlg, out / "export_dialog.png")
    dlg.destroy()

    dlg = app.shortcuts_dialog()
    grab(dlg, out / "shortcuts.png")
    dlg.destroy()

    pd = ProgressDialog(root, "Importing", "Importing conversations.jsonl into demo.lima.db…", unit="bytes")
    pd.set_progress(3_400_000, 9_100_000)
    grab(pd, out / "progress_dialog.png")
    pd.close()
    app.close()

    shoot_first_run(out, {**USER_DEFAULTS, **settings})
    if quick:
        return

    empty = tmp / "empty.lima.db"
    app = App(empty, user_settings={**USER_DEFAULTS, **settings})
    grab(app.root, out / "empty_state.png", menu=True)
    board = app.open_stats_board()
    wait_for(board, lambda: board.state == "done")
    board.geometry("760x360")
    grab(board, out / "stats_empty.png")
    app.close()

    app = App(db, readonly=True, user_settings={**USER_DEFAULTS, **settings})
    grab(app.root, out / "read_only.png", menu=True)
    app.close()
    shoot_open_importing(tmp, out, {**USER_DEFAULTS, **settings})


def shoot_open_importing(tmp: Path, out: Path, settings: dict) -> None:
    """File > Open of a chat file: its first chats shown read-only while the rest is imported.
    The rest waits for the picture (a small file would be done before it could be taken)."""
    import json

    from lima_tk.ui.app import App
    from tests.ui.app_helpers import rest_of_open_held

    src = tmp / "conversations.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for chat in make_chats(600, seed=11):
            f.write(json.dumps({"messages": [{"role": m.role, "content": m.content} for m in chat.messages]},
                               ensure_ascii=False) + "\n")
    with rest_of_open_held(60) as go:
        app = App(tmp / "before-open.lima.db", user_settings=settings)
        job = app.import_as_new(src, name="conversations")
        wait_for(app.root, lambda: app.store is not None and app.store.readonly)
        settle(app.root, 0.3)
        grab(app.root, out / "open_importing.png", menu=True)
        go.set()
        wait_for(app.root, lambda: job.finished)
        app.close()


def shoot_first_run(out: Path, settings: dict) -> None:
    """The very first start: the default dataset with its example chat and the welcome panel,
    then Help > About over it."""
    from lima_tk.first_run import prepare_start
    from lima_tk.ui.app import App

    # A home of its own (the data and log folders are shown as ~/...), never the real one.
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")}
    os.environ["HOME"] = str(Path(os.environ["LIMA_TK_CONFIG"]).parent / "home")
    os.environ.pop("XDG_DATA_HOME", None)
    os.environ.pop("XDG_STATE_HOME", None)
    try:
        settings = dict(settings, last_dataset="")
        path = prepare_start(settings)  # creates the example and asks for the welcome panel
        app = App(path, user_settings=settings, count_tokens=False)
        settle(app.root, 0.3)
        app.chat_list.move_cursor(0)
        grab(app.root, out / "first_run.png", menu=True)
        dlg = app.about()
        grab(dlg, out / "about.png")
        dlg.destroy()
        app.close()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


if __name__ == "__main__":
    sys.exit(main())
