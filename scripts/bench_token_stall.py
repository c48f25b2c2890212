#!/usr/bin/env python3
"""Main-thread stalls while the background token count runs (issue 15): a Tk-free proxy.

    python3 scripts/bench_token_stall.py [--chats 20000] [--runs 5] [--baseline DIR]

The window counts tokens on a worker thread (`tokens.start_count_job`) while its Tk loop keeps
running; every pause of the worker that holds the GIL (a garbage collection above all: it runs in
C, holding the GIL, over every tracked object of the process) freezes the window. The proxy runs
the same job in a fresh process while the main thread ticks every 5 ms (as `after(5)` would) and
drains the job's queue; it reports the longest gap between two ticks beyond the 5 ms, the 99th
percentile, and every garbage collection of generation 2 (count, longest, on which thread) from
`gc.callbacks`. Data: the store benchmark's chats (`bench_store.generate`), imported, and a
byte-level BPE with an 8k vocabulary trained in the run (no download); cold cache each run.
`--baseline DIR` runs the same on another checkout (`git archive main lima_tk | tar -x -C DIR`),
alternating with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(db: str) -> dict:
    """Child side: one cold count of `db` on the job's thread, the main thread ticking."""
    import gc
    import queue
    import threading
    import time

    from lima_tk.store import DatasetStore
    from lima_tk.tokens import start_count_job

    with DatasetStore(db) as s:
        s.clear_token_cache()
    collections: list[tuple[int, float, str]] = []
    started: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        key = threading.get_ident()
        if phase == "start":
            started[key] = time.perf_counter()
        elif key in started:
            collections.append((info["generation"], time.perf_counter() - started.pop(key),
                                threading.current_thread().name))

    gc.callbacks.append(on_gc)
    events: queue.Queue = queue.Queue()
    t0 = time.perf_counter()
    job = start_count_job(db, events, download=False)
    gaps = []
    last = time.perf_counter()
    done = None
    while done is None:
        time.sleep(0.005)
        now = time.perf_counter()
        gaps.append(max(0.0, now - last - 0.005))
        last = now
        while True:
            try:
                kind, payload = events.get_nowait()
            except queue.Empty:
                break
            if kind in ("done", "error"):
                done = (kind, payload)
    job.join()
    total = time.perf_counter() - t0
    gc.callbacks.remove(on_gc)
    full = [c for c in collections if c[0] == 2]
    gaps.sort()
    return {"seconds": total, "worst_gap_ms": gaps[-1] * 1000, "p99_gap_ms": gaps[int(len(gaps) * 0.99)] * 1000,
            "gen2": len(full), "gen2_worst_ms": max((c[1] for c in full), default=0) * 1000,
            "gen2_threads": sorted({c[2] for c in full}), "result": str(done[0]),
            "objects_tracked": len(gc.get_objects())}


def child(code_root: Path, db: Path) -> dict:
    code = (f"import sys, json; sys.path.insert(0, {str(code_root)!r}); sys.path.insert(1, {str(ROOT)!r})\n"
            "from scripts.bench_token_stall import measure\n"
            f"print(json.dumps(measure({str(db)!r})))\n")
    env = {**os.environ, "PYTHONPATH": str(code_root), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chats", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--tmp", type=Path)
    ap.add_argument("--baseline", type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from lima_tk.store import DatasetStore
    from scripts.bench_store import fresh, generate, lima_import
    from scripts.bench_tokens import all_texts, stdlib_texts, train_tokenizer

    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="lima-bench-stall-"))
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "stall.lima.db"
    tok_path = tmp / "tokenizer.json"
    if not db.exists() or not tok_path.exists():
        src = tmp / "bench.jsonl"
        generate(src, args.chats)
        lima_import(src, fresh(tmp, "stall.lima.db"))
        train_tokenizer(all_texts(db)[:20000] + stdlib_texts(), tok_path, args.vocab)
        with DatasetStore(db) as s:
            s.set_setting("tokenizer", str(tok_path))
    roots = {"now": ROOT}
    if args.baseline:
        roots["before"] = args.baseline.resolve()
    res: dict[str, list[dict]] = {k: [] for k in roots}
    for i in range(args.runs):
        for name, root in roots.items():
            r = child(root, db)
            res[name].append(r)
            print(f"run {i} {name}: {json.dumps(r)}", file=sys.stderr, flush=True)
    print("| checkout | worst gap | 99th pct gap | gen-2 collections | longest gen-2 | count time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, rs in res.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("worst_gap_ms", "p99_gap_ms", "gen2", "gen2_worst_ms",
                                                                 "seconds")}
        rng = f"{min(r['worst_gap_ms'] for r in rs):.0f}-{max(r['worst_gap_ms'] for r in rs):.0f}"
        print(f"| {name} | {med['worst_gap_ms']:.0f} ms ({rng}) | {med['p99_gap_ms']:.1f} ms | {med['gen2']:.0f} | "
              f"{med['gen2_worst_ms']:.0f} ms | {med['seconds']:.1f} s |")
    load = os.getloadavg()
    print(f"\nmedian of {args.runs} runs, load {load[0]:.1f}, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
