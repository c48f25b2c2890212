#!/usr/bin/env python3
"""Token-count and stats benchmark (issue 6): lima-tk against raw `Tokenizer.encode_batch` in one run.

    python3 scripts/bench_tokens.py                       # 20,000 chats + stats on 100,000 chats
    python3 scripts/bench_tokens.py --chats 2000 --big 10000 --runs 1   # quick smoke run

No downloads: a byte-level BPE (vocab 8k) is trained on the generated text plus the Python
standard library's sources (the generated text alone has too few words for 8k merges) and saved as
a tokenizer.json. Prints a Markdown table (medians) to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_store import fresh, generate, lima_import  # noqa: E402


def stdlib_texts(limit: int = 400) -> list[str]:
    import sysconfig

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:limit]
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


def train_tokenizer(texts: list[str], path: Path, vocab_size: int) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.save(str(path))
    return path


def all_texts(db: Path) -> list[str]:
    from lima_tk.tokens import message_text

    conn = sqlite3.connect(db)
    texts = [message_text(c, t) for c, t in conn.execute("SELECT content, tool_calls FROM messages ORDER BY id")]
    conn.close()
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=20_000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument("--rendered-only", action="store_true",
                    help="only the rendered-count measures (issue 11): cold pass and recount after an edit")
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tokenizers import Tokenizer

    from lima_tk.stats import dataset_stats
    from lima_tk.store import DatasetStore
    from lima_tk.tokens import count_chat, count_dataset, load_counter

    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="lima-bench-tokens-"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / "bench.jsonl"
    n_chats, n_msgs = generate(src, args.chats)
    db = fresh(tmp, "tokens.lima.db")
    lima_import(src, db)
    texts = all_texts(db)
    tok_path = train_tokenizer(texts[:20000] + stdlib_texts(), tmp / "tokenizer.json", args.vocab)
    size_kb = tok_path.stat().st_size / 1024
    print(f"# data: {n_chats} chats, {n_msgs} messages; BPE vocab {args.vocab}, tokenizer.json {size_kb:.0f} kB; "
          f"{tmp}", file=sys.stderr)
    rows: list[tuple[str, str, str, str, str]] = []
    rendered_rows(db, tok_path, tmp, args.runs, n_chats, rows)
    if args.rendered_only:
        print_rows(rows, args.runs)
        return

    # cold count vs raw encode_batch over the same texts, alternating runs
    raw_tok = Tokenizer.from_file(str(tok_path))
    t_raw, t_cold, t_fast = [], [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        raw = raw_tok.encode_batch(texts, add_special_tokens=False)
        t_raw.append(time.perf_counter() - t)
        del raw
        t = time.perf_counter()
        raw_tok.encode_batch_fast(texts, add_special_tokens=False)
        t_fast.append(time.perf_counter() - t)
        with DatasetStore(db) as store:
            store.clear_token_cache()
            counter = load_counter(str(tok_path))
            t = time.perf_counter()
            r = count_dataset(store, counter)
            t_cold.append(time.perf_counter() - t)
            assert r.messages == n_msgs, (r.messages, n_msgs)
    mc, mr, mf = statistics.median(t_cold), statistics.median(t_raw), statistics.median(t_fast)
    rows.append((f"cold count, {n_chats:,} chats / {n_msgs:,} messages (read, hash, encode, store)", f"{mc:.2f} s",
                 f"{mr:.2f} s (encode_batch)", f"{mc / mr:.2f}x", "<= 1.3x"))
    rows.append(("  (for reference: raw encode_batch_fast, no offsets)", "", f"{mf:.2f} s", f"{mc / mf:.2f}x", ""))

    # warm reopen: zero encodes
    with DatasetStore(db) as store:
        counter = load_counter(str(tok_path))
        t = time.perf_counter()
        r = count_dataset(store, counter)
        warm = time.perf_counter() - t
    rows.append(("reopen with a warm cache", f"{warm * 1000:.1f} ms, {counter.encoded} encodes", "", "",
                 "0 encodes"))

    # recount after editing one message: the editor's path (that chat) and the background pass
    with DatasetStore(db) as store:
        counter = load_counter(str(tok_path))
        picks = store.conn.execute("SELECT id, chat_id FROM messages ORDER BY random() LIMIT 60").fetchall()
        t_chat, t_all = [], []
        for i, (mid, cid) in enumerate(picks):
            store.edit_message_text(mid, f"edited message {i} with a few new words " * 3)
            counter.encoded = 0
            t = time.perf_counter()
            if i % 2:
                r = count_dataset(store, counter)
                t_all.append(time.perf_counter() - t)
            else:
                count_chat(store, counter, cid)
                t_chat.append(time.perf_counter() - t)
            assert counter.encoded == 1
    rows.append(("recount after editing one message: the edited chat (editor, list row)",
                 f"{statistics.median(t_chat) * 1000:.1f} ms", "", "", "<= 20 ms"))
    rows.append(("  the same found by a whole-dataset pass (count check + the chats changed last)",
                 f"{statistics.median(t_all) * 1000:.1f} ms", "", "", ""))

    # stats board data on the big dataset (counted first)
    big_src = tmp / "big.jsonl"
    generate(big_src, args.big, seed=2)
    big = fresh(tmp, "big.lima.db")
    lima_import(big_src, big)
    with DatasetStore(big) as store:
        count_dataset(store, load_counter(str(tok_path)))
        ts = []
        for _ in range(args.runs):
            t = time.perf_counter()
            s = dataset_stats(store)
            ts.append(time.perf_counter() - t)
        assert s["chats"] == args.big and not s["tokens"]["estimate"]
    rows.append((f"stats board data, {args.big:,} chats (all numbers + histograms)",
                 f"{statistics.median(ts):.2f} s", "", "", "<= 1 s"))

    print_rows(rows, args.runs)


def print_rows(rows: list[tuple[str, str, str, str, str]], runs: int) -> None:
    print("| measure | lima-tk | baseline | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{runs} runs (median)")


def rendered_rows(db: Path, tok_path: Path, tmp: Path, runs: int, n_chats: int,
                  rows: list[tuple[str, str, str, str, str]]) -> None:
    """Issue 11: the rendered count (every chat through the real Qwen2.5 template) against raw
    `encode_batch` of the same rendered strings, and the recount after one edit."""
    import shutil

    from tokenizers import Tokenizer

    from lima_tk.store import DatasetStore
    from lima_tk.tokens import count_chat, count_dataset, load_counter, render_chat, text_hash

    folder = tmp / "qwen-template"
    folder.mkdir(exist_ok=True)
    shutil.copy(tok_path, folder / "tokenizer.json")
    shutil.copy(ROOT / "tests" / "data" / "templates" / "qwen2.5-instruct.jinja", folder / "chat_template.jinja")
    (folder / "tokenizer_config.json").write_text('{"eos_token": "<|im_end|>"}', encoding="utf-8")
    raw_tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    with DatasetStore(db) as store:
        store.clear_token_cache()
        counter = load_counter(str(folder))
        assert counter.template_source == "chat_template.jinja"
        t = time.perf_counter()
        texts = [render_chat(c, counter).text for c in store.iter_chats()]
        t_render = time.perf_counter() - t
        count_dataset(store, counter)  # messages counted: what stays cached across the runs below
        tok = store.active_token_key().id
    hashes = [(tok, text_hash(x)) for x in texts]
    t_raw, t_cold = [], []
    for _ in range(runs):
        t = time.perf_counter()
        raw_tok.encode_batch(texts, add_special_tokens=False)
        t_raw.append(time.perf_counter() - t)
        with DatasetStore(db) as store:
            # cold for the rendered texts only: the message counts stay (the chat pass alone is measured)
            store.conn.execute("DELETE FROM chat_tokens")
            store.conn.executemany("DELETE FROM token_cache WHERE tok = ? AND hash = ?", hashes)
            counter = load_counter(str(folder))
            t = time.perf_counter()
            r = count_dataset(store, counter)
            t_cold.append(time.perf_counter() - t)
            assert r.chats == n_chats and r.messages == 0, (r.chats, r.messages)
    mc, mr = statistics.median(t_cold), statistics.median(t_raw)
    rows.append((f"cold rendered count, {n_chats:,} chats (load, render with the Qwen2.5 template, hash, encode, "
                 "store)", f"{mc:.2f} s", f"{mr:.2f} s (`encode_batch` of the rendered strings)", f"{mc / mr:.2f}x",
                 "<= 1.3x"))
    rows.append(("  (for reference: rendering alone, one thread)", f"{t_render:.2f} s", "", "", ""))
    with DatasetStore(db) as store:
        counter = load_counter(str(folder))
        count_dataset(store, counter)
        picks = store.conn.execute("SELECT id, chat_id FROM messages ORDER BY random() LIMIT 60").fetchall()
        t_chat, t_all = [], []
        for i, (mid, cid) in enumerate(picks):
            store.edit_message_text(mid, f"edited message {i} with a few new words " * 3)
            counter.encoded = 0
            t = time.perf_counter()
            if i % 2:
                r = count_dataset(store, counter)
                t_all.append(time.perf_counter() - t)
                assert r.chats == 1
            else:
                count_chat(store, counter, cid)
                t_chat.append(time.perf_counter() - t)
            assert counter.encoded == 2  # the message and the rendered chat
    rows.append(("recount after one edit, rendered: the edited chat (`count_chat`: editor, list row)",
                 f"{statistics.median(t_chat) * 1000:.1f} ms", "", "", "<= 20 ms"))
    rows.append(("  the same found by a whole-dataset pass (`count_dataset`)",
                 f"{statistics.median(t_all) * 1000:.1f} ms", "", "", "<= 20 ms"))


if __name__ == "__main__":
    main()
