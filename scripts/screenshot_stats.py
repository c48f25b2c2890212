#!/usr/bin/env python3
"""Render the stats board on a generated dataset under a virtual X screen and save a PNG.

    python3 scripts/screenshot_stats.py [--out docs/screenshots/stats_board.png] [--chats 3000]

Needs Xvfb and ImageMagick's `import` (a private Xvfb is started when $DISPLAY is unset). The
tokenizer is a byte-level BPE trained here on the generated text (no downloads).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shotlib import PanelApp, display_session, grab, settle, wait_for  # noqa: E402

TAGS = ["code", "math", "translation", "tools", "chit-chat", "summaries", "reviewed", "hard", "git", "devops"]
LANGS = ["en"] * 6 + ["ru", "ru", "de", "ja", "fr"]


def make_dataset(path: Path, n: int, tmp: Path, estimate: bool = False) -> Path:
    """`n` generated chats with tags, languages and a trained tokenizer; context limit 512."""
    from lima_tk.store import DatasetStore
    from lima_tk.tokens import count_dataset, load_counter
    from scripts.bench_store import generate, lima_import
    from scripts.bench_tokens import train_tokenizer

    src = tmp / "demo.jsonl"
    generate(src, n, seed=5)
    lima_import(src, path)
    rnd = random.Random(3)
    with DatasetStore(path) as store:
        ids = store.chat_ids()
        for tag in TAGS:
            store.add_tags([i for i in ids if rnd.random() < 0.9 / (1 + TAGS.index(tag))], [tag])
        by_lang: dict[str, list[int]] = {}
        for i in ids:
            by_lang.setdefault(rnd.choice(LANGS), []).append(i)
        for lang, chat_ids in by_lang.items():
            store.set_language(chat_ids, lang)
        texts = [c or "" for (c,) in store.conn.execute("SELECT content FROM messages LIMIT 20000")]
        tok = train_tokenizer(texts, tmp / "tokenizer.json", 2000)
        store.set_setting("tokenizer", "estimate" if estimate else str(tok))
        store.set_setting("context_limit", 512)
        count_dataset(store, load_counter(store.get_setting("tokenizer")))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "stats_board.png")
    ap.add_argument("--chats", type=int, default=3000)
    ap.add_argument("--font-size", type=int, default=10)
    ap.add_argument("--geometry", default="1040x960", help="Window size (check that nothing is clipped).")
    ap.add_argument("--estimate", action="store_true", help="Use the estimate instead of a tokenizer.")
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    with display_session("lima-shot-stats-", screen="1400x1000x24") as tmp:
        from lima_tk.ui.stats_board import open_stats_board

        app = PanelApp(make_dataset(tmp / "demo.lima.db", args.chats, tmp, args.estimate), args.font_size)
        board = open_stats_board(app)
        board.geometry(f"{args.geometry}+0+0")
        wait_for(board, lambda: board.stats is not None)
        settle(board, 0.4)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        grab(board, args.out)
        board.close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
