#!/usr/bin/env python3
"""AI-assist benchmark (issue 5): `lima-tk generate` over N chats against the local test server
(tests/openai_server.py) answering after a fixed latency, at --concurrency 1 and 8.

    python3 scripts/bench_assist.py                  # 100 chats, 0.2 s latency, 1 run each
    python3 scripts/bench_assist.py --runs 3 --chats 50 --latency 0.1
    python3 scripts/bench_assist.py --server one-at-a-time --levels 1,4 --latency 0 --chunk-delay 0.02
    python3 scripts/bench_assist.py --server busy --levels 1,4   # 429 beyond one request at once

--server (issue 15) plays a home server under load: `one-at-a-time` cuts the running stream when
a request arrives (llama-cpp-python), `busy` answers 429 without Retry-After beyond one request at
once. The run then adapts its concurrency; the table also shows how many requests were sent again.

Each run is the real command in a subprocess on a fresh copy of the dataset. Prints a Markdown
table for docs/benchmarks.md. The Tk-side figures (event loop gaps, chunk-to-screen delay) belong
to the GUI part and are measured there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lima_tk.model import Message  # noqa: E402
from lima_tk.store import DatasetStore  # noqa: E402
from tests.openai_server import OpenAIServer  # noqa: E402


def make_dataset(path: Path, n: int) -> None:
    with DatasetStore(path) as s:
        for i in range(n):
            s.create_chat(f"chat {i}", messages=[Message("system", "Be brief."), Message("user", f"question {i}")])


def run_generate(db: Path, server: OpenAIServer, concurrency: int, env: dict[str, str]) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "lima_tk", "generate", "--db", str(db), "--base-url", server.base_url,
         "--model", "test-model", "--concurrency", str(concurrency)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"generate failed ({p.returncode}): {p.stderr}")
    again = 0
    for line in p.stderr.splitlines():
        if line.startswith("concurrency:") and "sent again" in line:
            again = int(line.rsplit(";", 1)[1].split()[0])
    return elapsed, again


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.2, help="server delay before each answer (s)")
    ap.add_argument("--chunks", type=int, default=8, help="streamed pieces per reply")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--levels", default="1,8", help="comma-separated --concurrency values")
    ap.add_argument("--server", choices=["normal", "one-at-a-time", "busy"], default="normal")
    ap.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed pieces")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="lima-bench-assist-") as tmp:
        tmpdir = Path(tmp)
        base = tmpdir / "base.lima.db"
        make_dataset(base, args.chats)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LIMA_TK_CONFIG": str(tmpdir / "config.json")}
        env.pop("OPENAI_API_KEY", None)
        times: dict[int, list[float]] = {c: [] for c in levels}
        again: dict[int, list[int]] = {c: [] for c in levels}
        with OpenAIServer() as server:
            server.set(delay=args.latency, chunks=args.chunks, chunk_delay=args.chunk_delay)
            if args.server == "one-at-a-time":
                server.serve_one_at_a_time()
            elif args.server == "busy":
                server.busy_above(1, 429)
            for _ in range(args.runs):
                for c in levels:
                    db = tmpdir / f"run-{c}.lima.db"
                    shutil.copy(base, db)
                    elapsed, sent_again = run_generate(db, server, c, env)
                    times[c].append(elapsed)
                    again[c].append(sent_again)
                    with DatasetStore(db) as s:  # every chat got its complete reply
                        n = s.conn.execute("SELECT count(*) FROM messages WHERE source = 'generated' "
                                           "AND finish = 'stop'").fetchone()[0]
                    assert n == args.chats, (n, args.chats)
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
    med = {c: statistics.median(v) for c, v in times.items()}
    print(f"`lima-tk generate` over {args.chats} chats, server {args.server}, latency {args.latency:g} s, "
          f"{args.chunks} chunks per reply ({args.chunk_delay:g} s apart), median of {args.runs} run(s):\n")
    print("| --concurrency | wall time | replies/s | speed-up vs 1 | requests sent again |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for c in levels:
        speed = med[levels[0]] / med[c]
        print(f"| {c} | {med[c]:.2f} s | {args.chats / med[c]:.1f} | {speed:.2f}x | "
              f"{statistics.median(again[c]):.0f} |")


if __name__ == "__main__":
    main()
