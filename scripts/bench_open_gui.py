#!/usr/bin/env python3
"""File > Open of a big chat file in the real window (issue 15): how soon the progress shows, how
soon the chats show, against the raw baseline import of the same file in the same run.

    python3 scripts/bench_open_gui.py [--chats 20000] [--runs 3]

Each run: a fresh window on an empty dataset, then what File > Open of a JSONL does after its name
question (`DatasetFiles.import_as_new(src, name)`); the Tk loop is pumped while we watch for
(1) the progress dialog mapped on screen, (2) its first progress figure ("x of y MB"), (3) the
imported dataset's first page in the list (its first chats are committed apart and shown read-only
while the rest is imported), (4) every chat in the list and the dataset writable. The raw baseline
(`json.loads` + `executemany` into two tables + FTS, scripts/bench_store.py) runs on the same file
between the runs. Needs Xvfb when
$DISPLAY is unset. Prints a Markdown table (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_store import baseline_import, generate  # noqa: E402
from scripts.shotlib import display_session  # noqa: E402


def one_run(tmp: Path, src: Path, i: int, n_chats: int) -> dict[str, float]:
    import tkinter as tk

    from lima_tk.ui.app import App

    app = App(tmp / f"start{i}.lima.db", count_tokens=False)
    app.root.update()
    seen: dict[str, float] = {}
    t0 = time.perf_counter()
    job = app.files.import_as_new(src, name=f"opened{i}")
    dialog = getattr(job, "dialog", None)
    deadline = t0 + 120
    while time.perf_counter() < deadline:
        app.root.update()
        now = time.perf_counter() - t0
        try:
            if "dialog" not in seen and dialog is not None and dialog.winfo_viewable():
                seen["dialog"] = now
            if "figure" not in seen and dialog is not None and " of " in str(dialog.counts.cget("text")):
                seen["figure"] = now
        except tk.TclError:
            pass
        cl = app.chat_list
        if "list" not in seen and app.store is not None and app.store.path.name.startswith(f"opened{i}") \
                and cl.tree.get_children():
            seen["list"] = now
        if job.finished and app.store is not None and not app.store.readonly \
                and app.store.path.name.startswith(f"opened{i}") and cl.total == n_chats:
            seen["all"] = now
            break
        time.sleep(0.001)
    app.close()
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with display_session("lima-bench-open-") as tmp:
        src = tmp / "big.jsonl"
        n_chats, n_msgs = generate(src, args.chats)
        mb = src.stat().st_size / 1e6
        rows: dict[str, list[float]] = {"dialog": [], "figure": [], "list": [], "all": [], "baseline": []}
        for i in range(args.runs):
            for k, v in one_run(tmp, src, i, n_chats).items():
                rows[k].append(v)
            t = time.perf_counter()
            baseline_import(src, tmp / f"base{i}.db")
            rows["baseline"].append(time.perf_counter() - t)
        med = {k: statistics.median(v) if v else float("nan") for k, v in rows.items()}
        print(f"{n_chats:,} chats, {n_msgs:,} messages, {mb:.0f} MB of OpenAI JSONL; medians of {args.runs}\n")
        print("| measure | time |")
        print("| --- | ---: |")
        print(f"| progress dialog on screen | {med['dialog'] * 1000:.0f} ms |")
        print(f"| first progress figure (MB read) | {med['figure'] * 1000:.0f} ms |")
        print(f"| first page of the imported chats in the list (read-only while the rest is imported) | "
              f"{med['list']:.2f} s |")
        print(f"| every chat listed, the dataset writable (import done) | {med['all']:.2f} s |")
        print(f"| raw baseline import of the same file (in process) | {med['baseline']:.2f} s |")
        print(f"| ratio first page / baseline | {med['list'] / med['baseline']:.2f}x |")
        print(f"| ratio import done / baseline | {med['all'] / med['baseline']:.2f}x |")


if __name__ == "__main__":
    main()
