#!/usr/bin/env python3
"""Filter-as-you-type in the real window at 100,000 chats (issue 15): time from the filter change
to the first rows on screen and to the exact count, with the page-first worker result on and off
(off = before issue 15's GUI part), alternating in one run.

    python3 scripts/bench_filter_gui.py [--chats 100000] [--runs 5] [--dir DIR]

The dataset is scripts/bench_queries.py's (the GUI benchmark's demo data; made on the first run,
kept in DIR). Each query: clear the filter, set the text, `apply_filter()`, then pump the Tk loop
until the list shows rows of that filter (first page) and until the worker's full result is in
(count). Needs Xvfb when $DISPLAY is unset. Prints a Markdown table (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_queries import dataset  # noqa: E402
from scripts.shotlib import display_session  # noqa: E402

QUERIES = ("s", "sp", "how", "zzz")


def measure(app, q: str) -> tuple[float, float]:
    cl = app.chat_list
    app.clear_filter()
    app.root.update()
    app.filter_var.set(q)
    t = time.perf_counter()
    app.apply_filter()
    first = None
    while True:
        app.root.update()
        now = time.perf_counter() - t
        fq = app.filter_query
        if first is None and cl.filter.text == q and (cl.total or not (fq and fq.pending)):
            first = now
        if cl.filter.text == q and not (fq and fq.pending):
            return first if first is not None else now, now
        time.sleep(0.0005)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "lima-tk-bench"))
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = dataset(folder, args.chats)
    with display_session("lima-bench-filter-"):
        from lima_tk.ui import filter_query
        from lima_tk.ui.app import App

        app = App(path, count_tokens=False)
        app.root.update()
        res: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for _ in range(args.runs):
            for q in QUERIES:
                for on in (True, False):
                    filter_query.FIRST_PAGE_FIRST = on
                    res.setdefault((q, on), []).append(measure(app, q))
        app.close()
    print(f"{args.chats:,} chats; medians of {args.runs}; ms from the filter change\n")
    print("| filter | first rows, now | exact count, now | first rows, before (count first) |")
    print("| --- | ---: | ---: | ---: |")
    for q in QUERIES:
        now, before = res[(q, True)], res[(q, False)]
        f_now = statistics.median(a for a, _ in now) * 1000
        c_now = statistics.median(b for _, b in now) * 1000
        f_before = statistics.median(a for a, _ in before) * 1000
        print(f"| `{q}` | {f_now:.0f} | {c_now:.0f} | {f_before:.0f} |")


if __name__ == "__main__":
    main()
