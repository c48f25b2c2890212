#!/usr/bin/env python3
"""Store benchmark (issue 2): lima-tk against the raw baseline on the same data, in one run.

    python3 scripts/bench_store.py                 # 20,000 chats + the 100,000-chat figures
    python3 scripts/bench_store.py --chats 2000 --big 10000 --runs 1   # quick smoke run
    python3 scripts/bench_store.py --import-only --runs 9               # the import rows only

Prints a Markdown table (medians; ratio = lima-tk / baseline) to paste into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = (
    "the model data token answer question explain python function value list context train example "
    "because however therefore simple careful result number string return loop class method error "
    "привет данные модель 数据 模型 café naïve 🙂 — “quoted” tab\tinside"
).split(" ")


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def generate(path: Path, n_chats: int, seed: int = 1) -> tuple[int, int]:
    """OpenAI fine-tuning JSONL; ~6.35 messages and ~2.2 kB per chat (20,000 chats ~ 44 MB)."""
    rng = random.Random(seed)
    n_msgs = 0
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n_chats):
            msgs = []
            if rng.random() < 0.35:
                msgs.append({"role": "system", "content": text(rng, rng.randint(5, 30))})
            for _ in range(rng.choice((1, 2, 3, 3, 4))):
                msgs.append({"role": "user", "content": text(rng, rng.randint(5, 60))})
                a = {"role": "assistant", "content": text(rng, rng.randint(20, 110))}
                if rng.random() < 0.1:
                    a["weight"] = rng.choice((0, 1))
                msgs.append(a)
            n_msgs += len(msgs)
            f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    return n_chats, n_msgs


BASELINE_SCHEMA = """
CREATE TABLE chats (id INTEGER PRIMARY KEY, name TEXT, position INTEGER);
CREATE TABLE messages (id INTEGER PRIMARY KEY, chat_id INTEGER REFERENCES chats(id), position INTEGER,
                       role TEXT, content TEXT, weight INTEGER);
CREATE INDEX messages_chat ON messages(chat_id, position);
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id');
"""


def insert_baseline(db: Path, chats_messages) -> None:
    """The raw baseline's writes: plain executemany into equivalent minimal tables, 1000 chats a batch,
    FTS filled in the same transaction. `chats_messages`: per chat, its (role, content, weight) rows."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(BASELINE_SCHEMA)
    conn.execute("BEGIN")
    chats, msgs = [], []
    for cid, messages in enumerate(chats_messages, 1):
        chats.append((cid, "", cid))
        msgs += [(cid, pos, role, content, weight) for pos, (role, content, weight) in enumerate(messages)]
        if len(chats) >= 1000:
            conn.executemany("INSERT INTO chats VALUES (?, ?, ?)", chats)
            conn.executemany(
                "INSERT INTO messages (chat_id, position, role, content, weight) VALUES (?, ?, ?, ?, ?)", msgs)
            chats.clear()
            msgs.clear()
    conn.executemany("INSERT INTO chats VALUES (?, ?, ?)", chats)
    conn.executemany("INSERT INTO messages (chat_id, position, role, content, weight) VALUES (?, ?, ?, ?, ?)", msgs)
    conn.execute("INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages")
    conn.execute("COMMIT")
    conn.close()


def baseline_import(src: Path, db: Path) -> None:
    """json.loads a line at a time + insert_baseline."""
    with open(src, encoding="utf-8") as f:
        insert_baseline(db, ([(m["role"], m.get("content"), m.get("weight")) for m in json.loads(line)["messages"]]
                             for line in f))


def baseline_import_same_schema(src: Path, db: Path) -> None:
    """The raw baseline again, but into lima-tk's own tables and indexes (created by its migrations,
    triggers dropped, FTS for names and messages filled in bulk): what the schema itself costs."""
    import uuid

    from lima_tk.store.schema import apply_steps

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    apply_steps(conn)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("BEGIN")
    chats, msgs = [], []
    now = "2026-01-01T00:00:00.000Z"

    def flush() -> None:
        conn.executemany(
            "INSERT INTO chats (id, uid, name, created_at, updated_at, position) VALUES (?, ?, '', ?, ?, ?)", chats)
        conn.executemany("INSERT INTO messages (chat_id, position, role, content, weight) VALUES (?, ?, ?, ?, ?)", msgs)
        chats.clear()
        msgs.clear()

    with open(src, encoding="utf-8") as f:
        for cid, line in enumerate(f, 1):
            obj = json.loads(line)
            chats.append((cid, uuid.uuid4().hex, now, now, cid))
            for pos, m in enumerate(obj["messages"]):
                msgs.append((cid, pos, m["role"], m.get("content"), m.get("weight")))
            if len(chats) >= 1000:
                flush()
    flush()
    conn.execute("INSERT INTO chats_fts(rowid, name) SELECT id, name FROM chats")
    conn.execute("INSERT INTO messages_fts(rowid, content) SELECT id, content FROM messages")
    conn.execute("COMMIT")
    conn.close()


def lima_import(src: Path, db: Path) -> None:
    from lima_tk.formats import import_file
    from lima_tk.store import DatasetStore

    with DatasetStore(db) as store:
        import_file(store, src, fmt="openai")


def open_as_new(src: Path, db: Path) -> None:
    """What the window's File > Open of a chat file runs (ui/app.py `_import_new`): a new dataset
    beside it, the import with the format detected, then the first page of the list and its count
    (what `open_dataset` shows first)."""
    from lima_tk.formats import import_file
    from lima_tk.store import DatasetStore

    with DatasetStore(db) as store:
        import_file(store, src, "auto")
    with DatasetStore(db) as store:
        store.list_chats(limit=50)
        store.count_chats()


def process_time(fn: str, src: Path, db: Path) -> float:
    """Seconds from spawn to exit of a fresh interpreter running `fn(src, db)` from this script."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from pathlib import Path\n"
            f"from scripts.bench_store import {fn}\n"
            f"{fn}(Path({str(src)!r}), Path({str(db)!r}))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t


def baseline_export(db: Path, out: Path) -> None:
    """One SQLite json_object/json_group_array query written to a file."""
    conn = sqlite3.connect(db)
    sql = """
    SELECT json_object('messages', (
        SELECT json_group_array(json(CASE WHEN m.weight IS NULL
            THEN json_object('role', m.role, 'content', m.content)
            ELSE json_object('role', m.role, 'content', m.content, 'weight', m.weight) END))
        FROM (SELECT * FROM messages WHERE chat_id = c.id ORDER BY position) m))
    FROM chats c ORDER BY c.position
    """
    with open(out, "w", encoding="utf-8") as f:
        for (line,) in conn.execute(sql):
            f.write(line + "\n")
    conn.close()


def lima_export(db: Path, out: Path) -> None:
    from lima_tk.formats import export_file
    from lima_tk.store import DatasetStore

    with DatasetStore(db) as store:
        export_file(store, out, fmt="openai")


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def fresh(tmp: Path, name: str) -> Path:
    p = tmp / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(p) + suffix).unlink(missing_ok=True)
    return p


def rss_of_import(src: Path, db: Path, which: str) -> float:
    """Peak RSS (MB) of a child process that imports `src` (lima-tk or baseline)."""
    fn = "lima_import" if which == "lima" else "baseline_import"
    code = (
        f"import sys, resource; sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        f"from scripts.bench_store import {fn}\n"
        f"{fn}(Path({str(src)!r}), Path({str(db)!r}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True)
    return int(out.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=20_000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument("--import-only", action="store_true", help="only the two import rows")
    args = ap.parse_args()
    from lima_tk.store import ChatFilter, DatasetStore

    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="lima-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / "bench.jsonl"
    n_chats, n_msgs = generate(src, args.chats)
    size_mb = src.stat().st_size / 1e6
    print(f"# data: {n_chats} chats, {n_msgs} messages, {size_mb:.1f} MB JSONL in {tmp}", file=sys.stderr)

    rows: list[tuple[str, str, str, str, str]] = []

    # import, alternating runs so both see the same machine state
    t_lima, t_base, t_same = [], [], []
    for _ in range(args.runs):
        t_base.append(timed(baseline_import, src, fresh(tmp, "base.db")))
        t_same.append(timed(baseline_import_same_schema, src, fresh(tmp, "same.db")))
        t_lima.append(timed(lima_import, src, fresh(tmp, "lima.lima.db")))
    ml, mb, ms = statistics.median(t_lima), statistics.median(t_base), statistics.median(t_same)
    rows.append((f"import {n_chats:,} chats ({size_mb:.0f} MB)", f"{ml:.2f} s", f"{mb:.2f} s (minimal tables)",
                 f"{ml / mb:.2f}x", "<= 1.3x"))
    rows.append(("import, baseline into lima-tk's own schema", f"{ml:.2f} s", f"{ms:.2f} s (same tables)",
                 f"{ml / ms:.2f}x", "<= 1.3x"))
    if args.import_only:
        print_table(rows, args.runs)
        return

    # File > Open of the JSONL into a new dataset, whole process (spawn to exit) against the
    # baseline's whole process
    p_lima, p_base = [], []
    for _ in range(args.runs):
        p_base.append(process_time("baseline_import", src, fresh(tmp, "pbase.db")))
        p_lima.append(process_time("open_as_new", src, fresh(tmp, "open.lima.db")))
    ml, mb = statistics.median(p_lima), statistics.median(p_base)
    rows.append(("open the JSONL as a new dataset, whole process (+ first page)", f"{ml:.2f} s",
                 f"{mb:.2f} s (whole process)", f"{ml / mb:.2f}x", "<= 1.1 s (LIMA-GUI)"))

    # export
    lima_db = tmp / "lima.lima.db"
    e_lima, e_base = [], []
    for _ in range(args.runs):
        e_base.append(timed(baseline_export, lima_db, tmp / "base-out.jsonl"))
        e_lima.append(timed(lima_export, lima_db, tmp / "lima-out.jsonl"))
    ml, mb = statistics.median(e_lima), statistics.median(e_base)
    rows.append(("export to OpenAI JSONL", f"{ml:.2f} s", f"{mb:.2f} s", f"{ml / mb:.2f}x", "<= 1.5x"))
    with open(tmp / "base-out.jsonl", encoding="utf-8") as a, open(tmp / "lima-out.jsonl", encoding="utf-8") as b:
        same = all(json.loads(x) == json.loads(y) for x, y in zip(a, b, strict=True))
    print(f"# export equals the baseline's JSON: {same}", file=sys.stderr)

    # one message edit including journal + FTS (alternating messages: no coalescing)
    with DatasetStore(lima_db) as store:
        mids = [r[0] for r in store.conn.execute("SELECT id FROM messages ORDER BY random() LIMIT 400")]
        times = []
        for i, mid in enumerate(mids):
            t = time.perf_counter()
            store.edit_message_text(mid, f"edited text {i} " + "word " * 60)
            times.append(time.perf_counter() - t)
        conn = sqlite3.connect(lima_db)
        raw = []
        for i, mid in enumerate(mids[:200]):
            t = time.perf_counter()
            conn.execute("UPDATE messages SET content = ? WHERE id = ?", (f"raw {i} " + "word " * 60, mid))
            conn.commit()
            raw.append(time.perf_counter() - t)
        conn.close()
    me, mr = statistics.median(times) * 1000, statistics.median(raw) * 1000
    rows.append(("one message edit (journal + FTS)", f"{me:.2f} ms", f"{mr:.2f} ms", f"{me / mr:.2f}x",
                 "<= 5 ms median"))

    # 100,000-chat dataset: first page, peak RSS of the import
    big_src = tmp / "big.jsonl"
    generate(big_src, args.big, seed=2)
    big_mb = big_src.stat().st_size / 1e6
    rss_lima = rss_of_import(big_src, fresh(tmp, "big.lima.db"), "lima")
    rss_base = rss_of_import(big_src, fresh(tmp, "big-base.db"), "baseline")
    rows.append((f"peak RSS importing {args.big:,} chats ({big_mb:.0f} MB)", f"{rss_lima:.0f} MB",
                 f"{rss_base:.0f} MB", f"{rss_lima / rss_base:.2f}x", "<= 200 MB"))
    with DatasetStore(tmp / "big.lima.db") as store:
        for sort, flt, label in (
            ("position", None, "list order"),
            ("name", None, "sorted by name"),
            ("messages", None, "sorted by message count"),
            ("position", ChatFilter(text="python"), "full-text filter 'python'"),
        ):
            ts = []
            for _ in range(15):
                t = time.perf_counter()
                page = store.list_chats(flt, sort=sort, limit=50)
                total = store.count_chats(flt)
                ts.append(time.perf_counter() - t)
            assert len(page) == 50 and total > 0
            conn = sqlite3.connect(tmp / "big.lima.db")
            rs = []
            for _ in range(15):
                t = time.perf_counter()
                conn.execute("SELECT id, name FROM chats ORDER BY position LIMIT 50").fetchall()
                rs.append(time.perf_counter() - t)
            conn.close()
            m, r = statistics.median(ts) * 1000, statistics.median(rs) * 1000
            rows.append((f"first page of 50 + count, {args.big:,} chats, {label}", f"{m:.1f} ms",
                         f"{r:.2f} ms (bare LIMIT 50)", f"{m / r:.0f}x", "<= 50 ms"))

    print_table(rows, args.runs)


def print_table(rows: list[tuple[str, str, str, str, str]], runs: int) -> None:
    print("| measure | lima-tk | baseline | ratio | target |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{runs} runs (median)")


if __name__ == "__main__":
    main()
