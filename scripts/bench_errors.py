#!/usr/bin/env python3
"""What issue 10's safety costs (docs/benchmarks.md, "Concurrency and failure"):

1. The store's translating connection (plain-sentence SQLite errors) against a plain
   sqlite3.Connection, per statement, on the same file in the same run.
2. Peak memory of importing a ChatGPT zip whose one conversation has a 400 MiB title
   (refused at the 64 MiB value cap), in a fresh process.

    python3 scripts/bench_errors.py
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lima_tk.store import DatasetStore  # noqa: E402
from lima_tk.store.sqlerrors import Connection  # noqa: E402

MEASURE = """
import resource, sys
from lima_tk.errors import LimaError
from lima_tk.formats import import_file
from lima_tk.store import DatasetStore
with DatasetStore(sys.argv[1]) as s:
    try:
        import_file(s, sys.argv[2])
    except LimaError:
        pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def per_statement(path: str, factory: type, n: int = 50_000) -> float:
    conn = sqlite3.connect(path, isolation_level=None, factory=factory)
    t = time.perf_counter()
    for i in range(n):
        conn.execute("SELECT name FROM chats WHERE id = ?", (i % 200 + 1,)).fetchone()
    dt = time.perf_counter() - t
    conn.close()
    return dt / n * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lima-bench-") as d:
        path = os.path.join(d, "b.lima.db")
        with DatasetStore(path) as s:
            for i in range(200):
                s.create_chat(f"chat {i}")
        raw, ours = [], []
        for _ in range(7):
            raw.append(per_statement(path, sqlite3.Connection))
            ours.append(per_statement(path, Connection))
        r, o = statistics.median(raw), statistics.median(ours)
        print(f"| one SELECT by id | {o:.2f} us | {r:.2f} us (sqlite3.Connection) | {o / r:.2f}x |")
        bomb = Path(d) / "export.zip"
        with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
                zf.open("conversations.json", "w", force_zip64=True) as f:
            f.write(b'[{"title": "')
            for _ in range(400):
                f.write(b"A" * (1 << 20))
            f.write(b'", "mapping": {}}]')
        out = subprocess.run([sys.executable, "-c", MEASURE, os.path.join(d, "z.lima.db"), str(bomb)],
                             capture_output=True, text=True, cwd=ROOT, check=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        print(f"| peak RSS, import of a {bomb.stat().st_size / 1e6:.1f} MB zip with a 400 MiB title | "
              f"{out.stdout.strip()} MiB | | |")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")


if __name__ == "__main__":
    main()
