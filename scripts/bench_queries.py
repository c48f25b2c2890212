#!/usr/bin/env python3
"""Chat-list queries at 100,000 chats (issue 15): sort by tokens and one-letter filters.

    python3 scripts/bench_queries.py [--chats 100000] [--baseline DIR] [--runs 9]

The GUI benchmark's demo dataset (scripts/screenshot.py `make_demo_dataset`, 2-6 messages a chat)
is made once in --dir with its tokens counted by the estimate counter (every chat rendered), so
the token sort has its index. Each measure is the median of --runs calls of the store method the
chat list calls; `--baseline DIR` runs the same calls on another checkout (e.g. `git archive main
lima_tk | tar -x -C DIR`) in a child process on the same file, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CALLS = [
    ("page of 50, sorted by tokens", "list_chats", {"sort": "tokens", "limit": 50}),
    ("page of 50, sorted by tokens, descending", "list_chats", {"sort": "tokens", "descending": True, "limit": 50}),
    ("page of 50 at offset 99,000, sorted by tokens", "list_chats", {"sort": "tokens", "offset": 99000, "limit": 50}),
    ("every id sorted by tokens (chat_ids)", "chat_ids", {"sort": "tokens"}),
    ("page of 50, filter `s`", "list_chats", {"text": "s", "limit": 50}),
    ("count, filter `s`", "count_chats", {"text": "s"}),
    ("every id, filter `s` (chat_ids)", "chat_ids", {"text": "s"}),
    ("page of 50, filter `sp`", "list_chats", {"text": "sp", "limit": 50}),
    ("count, filter `sp`", "count_chats", {"text": "sp"}),
    ("page of 50, filter `how`", "list_chats", {"text": "how", "limit": 50}),
    ("count, filter `how`", "count_chats", {"text": "how"}),
    ("page of 50, filter `zzz` (no match)", "list_chats", {"text": "zzz", "limit": 50}),
    ("page of 50, list order (reference)", "list_chats", {"limit": 50}),
]


def measure(path: str, runs: int) -> dict[str, float]:
    """Child side: median ms of every call (run with the checkout under test first on sys.path)."""
    from lima_tk.store import ChatFilter, DatasetStore

    out: dict[str, float] = {}
    with DatasetStore(path, readonly=True) as s:
        for label, method, kw in CALLS:
            kw = dict(kw)
            text = kw.pop("text", None)
            args = (ChatFilter(text=text),) if text is not None else ()
            fn = getattr(s, method)
            fn(*args, **kw)  # warm the page cache
            ts = []
            for _ in range(runs):
                t = time.perf_counter()
                fn(*args, **kw)
                ts.append(time.perf_counter() - t)
            out[label] = statistics.median(ts) * 1000
    return out


def child(code_root: Path, path: Path, runs: int) -> dict[str, float]:
    code = (f"import sys, json; sys.path.insert(0, {str(code_root)!r}); sys.path.insert(1, {str(ROOT)!r})\n"
            "from scripts.bench_queries import measure\n"
            f"print(json.dumps(measure({str(path)!r}, {runs})))\n")
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def dataset(folder: Path, n: int) -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    from screenshot import make_demo_dataset

    from lima_tk.store import DatasetStore
    from lima_tk.tokens import count_dataset, load_counter

    path = folder / f"queries-{n}.lima.db"
    if not path.exists():
        make_demo_dataset(path, n, messages=(2, 6))
        with DatasetStore(path) as s:
            s.set_setting("tokenizer", "estimate")
            count_dataset(s, load_counter("estimate"))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chats", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "lima-tk-bench")
    ap.add_argument("--baseline", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = dataset(args.dir, args.chats)
    now = child(ROOT, path, args.runs)
    before = child(args.baseline.resolve(), path, args.runs) if args.baseline else {}
    print("| query (100,000 chats) | now | before | target |" if args.chats == 100_000 else
          f"| query ({args.chats:,} chats) | now | before | target |")
    print("| --- | ---: | ---: | --- |")
    for label, _, _ in CALLS:
        b = f"{before[label]:.1f} ms" if label in before else ""
        target = "<= 50 ms" if label.startswith("page") else ""
        print(f"| {label} | {now[label]:.1f} ms | {b} | {target} |")
    load = os.getloadavg()
    print(f"\nmedian of {args.runs} calls, load {load[0]:.1f}, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
