#!/usr/bin/env python3
"""GUI benchmark (issue 3): start-up, filter-as-you-type, bulk delete + undo, memory.

    python3 scripts/bench_gui.py [--runs 5] [--dir /tmp/lima-bench] [--sizes 0,20000,100000]

* start-up: whole process (`python -m lima_tk --db FILE`) from spawn to the first painted chat
  list, under Xvfb, median of --runs, for each dataset size;
* filter-as-you-type on the biggest dataset: per-query time from the filter change to the painted
  list, the time from the last keystroke of a typed word to its result (includes the 150 ms
  debounce), and the longest the window was blocked while typing;
* bulk delete of 10,000 selected chats and its undo (store call + list refresh);
* peak RSS: after the first paint, and at the end of the whole interactive session;
* with --tokens (issue 6): spawn -> first paint -> token counts on screen (the background count
  starts after the paint), with a warm token cache and, on the smaller datasets, a cold one
  (a BPE tokenizer trained in the run, no download); and whether `tokenizers` was imported
  before the paint. `--baseline DIR` also times the first paint of another checkout (e.g.
  `git archive HEAD lima_tk | tar -x -C DIR`) in the same run.

Datasets are generated with `make_demo_dataset` (scripts/screenshot.py) and kept in --dir.
A private Xvfb is started when $DISPLAY is unset; the user config goes to a temp file.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(ROOT / "scripts"))


def dataset(folder: Path, n: int) -> Path:
    from screenshot import make_demo_dataset

    from lima_tk.store import DatasetStore

    path = folder / f"bench-{n}.lima.db"
    if path.exists():
        with DatasetStore(path) as s:
            if s.count_chats() == n:
                return path
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    t = time.perf_counter()
    make_demo_dataset(path, n, messages=(2, 6))
    print(f"  generated {n:,} chats in {time.perf_counter() - t:.1f} s -> {path}", flush=True)
    return path


def startup_once(path: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds from spawn to the first painted list, and the peak RSS (KB) at that moment."""
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "lima_tk", "--db", str(path)], cwd=env.get("LIMA_TK_ROOT", ROOT),
                            env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    painted = rss = None
    for line in out.splitlines():
        if line.startswith("painted "):
            painted = float(line.split()[1])
        elif line.startswith("maxrss_kb "):
            rss = int(line.split()[1])
    if painted is None or rss is None:
        raise SystemExit(f"start-up run failed:\n{out}\n{err}")
    return painted - t0, rss


def token_startup_once(path: Path, env: dict[str, str]) -> tuple[float, float, bool]:
    """Seconds from spawn to the first paint and to the token counts on screen, and whether
    `tokenizers` was imported before the paint."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "lima_tk", "--db", str(path)], cwd=env.get("LIMA_TK_ROOT", ROOT),
                          env={**env, "LIMA_TK_EXIT_AFTER_PAINT": "count"}, capture_output=True, text=True,
                          timeout=600)
    painted = counted = None
    imported = True
    for line in proc.stdout.splitlines():
        if line.startswith("painted "):
            painted = float(line.split()[1])
            imported = "tokenizers=True" in line
        elif line.startswith("counted "):
            counted = float(line.split()[1])
    if painted is None or counted is None:
        raise SystemExit(f"token start-up run failed:\n{proc.stdout}\n{proc.stderr}")
    return painted - t0, counted - t0, imported


def token_bench(paths: dict[int, Path], folder: Path, env: dict[str, str], runs: int, baseline: str | None) -> dict:
    from screenshot import demo_tokenizer

    from lima_tk.store import DatasetStore

    env = {**env, "HF_HUB_OFFLINE": "1"}
    model = folder / "bench-model"
    if not (model / "tokenizer.json").exists():
        texts = []
        with DatasetStore(paths[max(paths)], readonly=True) as s:
            for i, c in enumerate(s.iter_chats()):
                texts += [m.content or "" for m in c.messages]
                if i > 3000:
                    break
        demo_tokenizer(model, texts, vocab_size=4000)
    out: dict = {}
    for n, src in paths.items():
        if not n:
            continue
        path = folder / f"bench-tokens-{n}.lima.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(src, path)
        with DatasetStore(path) as s:
            s.set_setting("tokenizer", str(model))
            s.set_setting("context_limit", 4096)
            s.conn.execute("DELETE FROM journal")
        res: dict = {}
        if n <= 20000:  # cold: every message encoded by the background pass
            cold = []
            for _ in range(max(1, runs // 3)):
                with DatasetStore(path) as s:
                    s.clear_token_cache()
                cold.append(token_startup_once(path, env))
            res["cold"] = {"paint_s": round(statistics.median(r[0] for r in cold), 3),
                           "counted_s": round(statistics.median(r[1] for r in cold), 3),
                           "tokenizers_before_paint": any(r[2] for r in cold)}
        else:
            with DatasetStore(path) as s:
                from lima_tk.tokens import ensure_counted

                t = time.perf_counter()
                ensure_counted(s)
                res["cold_count_outside_gui_s"] = round(time.perf_counter() - t, 1)
        warm = [token_startup_once(path, env) for _ in range(runs)]
        res["warm"] = {"paint_s": round(statistics.median(r[0] for r in warm), 3),
                       "counted_s": round(statistics.median(r[1] for r in warm), 3),
                       "tokenizers_before_paint": any(r[2] for r in warm)}
        if baseline:
            base, mine = [], []
            for _ in range(runs):  # alternating, so a busy moment hits both
                base.append(startup_once(path, {**env, "LIMA_TK_ROOT": baseline, "PYTHONPATH": baseline})[0])
                mine.append(startup_once(path, env)[0])
            res["paint_baseline_s"] = round(statistics.median(base), 3)
            res["paint_this_s"] = round(statistics.median(mine), 3)
        out[n] = res
        print(f"tokens {n:>7,} chats: {json.dumps(res)}", flush=True)
    # Responsiveness during a cold count of distinct texts (the demo chats repeat their lines, so
    # the cache makes their count cheap): the store benchmark's 20,000 chats and an 8k BPE.
    from bench_store import fresh, generate, lima_import
    from bench_tokens import all_texts, stdlib_texts, train_tokenizer

    db = folder / "bench-tokens-unique.lima.db"
    if not db.exists():
        src = folder / "bench-tokens-unique.jsonl"
        generate(src, 20_000)
        lima_import(src, fresh(folder, db.name))
    tok = folder / "bench-unique-tokenizer.json"
    if not tok.exists():
        train_tokenizer(all_texts(db)[:20000] + stdlib_texts(), tok, 8000)
    with DatasetStore(db) as s:
        s.set_setting("tokenizer", str(tok))
        s.clear_token_cache()
    senv = {k: v for k, v in env.items() if k != "LIMA_TK_EXIT_AFTER_PAINT"}
    proc = subprocess.run([sys.executable, __file__, "--token-session", str(db)], env=senv, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode:
        raise SystemExit(f"token session failed:\n{proc.stderr}")
    out["responsive"] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"tokens, counting 20,000 distinct chats in the window: {json.dumps(out['responsive'])}", flush=True)
    return out


def token_session(path: str) -> dict:
    """In a child process: open the window on a dataset whose tokens are not counted and measure,
    while the background pass counts everything, the longest the Tk event loop was blocked (a 5 ms
    ticker) and the slowest page scroll of the list (one every 100 ms)."""
    from lima_tk.ui.app import App

    app = App(path, count_delay_ms=0, user_settings={})
    root, cl, t = app.root, app.chat_list, app.tokens
    gaps: list[float] = []
    scrolls: list[float] = []
    last = [time.perf_counter()]
    started = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if t.working:
            started[0] = started[0] or now
            gaps.append(now - last[0])
        last[0] = now
        if t.runs and not t.running and not t.total_pending:
            root.quit()
            return
        root.after(5, tick)

    def scroll() -> None:
        if t.working:
            s0 = time.perf_counter()
            cl.scroll_by(cl.page if cl.top + 2 * cl.page < cl.total else -cl.top)
            root.update_idletasks()
            scrolls.append(time.perf_counter() - s0)
        root.after(100, scroll)

    root.after(5, tick)
    root.after(100, scroll)
    root.mainloop()
    gaps.sort()
    res = {"count_s": round(time.perf_counter() - started[0], 2), "messages": t.result.messages if t.result else 0,
           "max_block_ms": round(gaps[-1] * 1000, 1), "p99_block_ms": round(gaps[int(len(gaps) * .99)] * 1000, 1),
           "max_scroll_ms": round(max(scrolls) * 1000, 1) if scrolls else None, "scrolls": len(scrolls)}
    app.close()
    return res


def session(path: str) -> dict:
    """In-process measurements on one dataset (run in a child process, see --session)."""
    import resource

    from lima_tk.ui.app import App

    app = App(path)
    root = app.root
    cl = app.chat_list

    def pump(seconds: float = 0.0) -> None:
        end = time.perf_counter() + seconds
        while True:
            root.update()
            if time.perf_counter() >= end:
                return
            time.sleep(0.002)

    def until(pred, timeout: float = 30.0) -> None:
        end = time.perf_counter() + timeout
        while not pred():
            root.update()
            if time.perf_counter() > end:
                raise SystemExit("bench: timed out")
            time.sleep(0.0005)

    pump(0.5)
    res: dict = {"chats": cl.total}

    # Per-query: filter change -> painted list (worker thread on big datasets).
    queries = ["s", "sp", "spe", "spec", "spectral", "spectral c", "how", "how do", "tool", "unit test", "zzz"]
    per_query = {}
    for q in queries:
        times = []
        for _ in range(3):
            app.clear_filter()
            pump()
            app.filter_var.set(q)
            t = time.perf_counter()
            app.apply_filter()
            until(lambda q=q: not (app.filter_query and app.filter_query.pending) and cl.filter.text == q)
            root.update_idletasks()
            times.append((time.perf_counter() - t) * 1000)
        per_query[q] = {"ms": round(statistics.median(times), 1), "matches": cl.total}
    res["filter_per_query_ms"] = per_query
    app.clear_filter()
    pump(0.1)

    # Typing "spectral clustering" at 8 keys/s: the longest block of the event loop, and the
    # time from the last key to the painted result (debounce included).
    word = "spectral clustering"
    longest = 0.0
    for i in range(1, len(word) + 1):
        app.filter_var.set(word[:i])
        end = time.perf_counter() + 0.125
        while time.perf_counter() < end:
            t = time.perf_counter()
            root.update()
            longest = max(longest, time.perf_counter() - t)
            time.sleep(0.001)
    t_last = time.perf_counter() - 0.125
    until(lambda: cl.filter.text == word and not (app.filter_query and app.filter_query.pending))
    root.update_idletasks()
    res["typing_last_key_to_result_ms"] = round((time.perf_counter() - t_last) * 1000, 1)
    res["typing_longest_block_ms"] = round(longest * 1000, 1)
    res["typing_matches"] = cl.total
    app.clear_filter()
    pump(0.1)

    # Tag / language filters (synchronous).
    for label, setter in (("tag", lambda: app.tag_var.set("tools")), ("language", lambda: app.lang_var.set("ru"))):
        app.clear_filter()
        setter()
        t = time.perf_counter()
        app.apply_filter()
        root.update_idletasks()
        res[f"filter_{label}_ms"] = round((time.perf_counter() - t) * 1000, 1)
    app.clear_filter()

    # Scrolling: End key, scrollbar drags to random places.
    t = time.perf_counter()
    cl.move_cursor(cl.total - 1)
    root.update_idletasks()
    res["end_key_ms"] = round((time.perf_counter() - t) * 1000, 1)
    drags = []
    for frac in (0.13, 0.5, 0.77, 0.31, 0.99, 0.05):
        t = time.perf_counter()
        cl._on_scrollbar("moveto", str(frac))
        root.update_idletasks()
        drags.append((time.perf_counter() - t) * 1000)
    res["scrollbar_drag_ms_median"] = round(statistics.median(drags), 1)
    res["scrollbar_drag_ms_max"] = round(max(drags), 1)
    res["treeview_items"] = len(cl.tree.get_children())

    # Bulk delete of 10,000 chats and its undo.
    ids = app.store.chat_ids()[:10_000]
    cl.select_ids(ids)
    root.update()
    t = time.perf_counter()
    app.delete_chats()
    root.update_idletasks()
    res["delete_10000_s"] = round(time.perf_counter() - t, 3)
    assert app.store.count_chats() == res["chats"] - 10_000, "delete failed"
    t = time.perf_counter()
    app.undo()
    root.update_idletasks()
    res["undo_delete_10000_s"] = round(time.perf_counter() - t, 3)
    assert app.store.count_chats() == res["chats"], "undo failed"
    t = time.perf_counter()
    cl.select_all()
    root.update_idletasks()
    res["select_all_ms"] = round((time.perf_counter() - t) * 1000, 1)
    res["peak_rss_mb_session"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    app.close()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "lima-tk-bench"))
    ap.add_argument("--sizes", default="0,20000,100000")
    ap.add_argument("--session", help=argparse.SUPPRESS)
    ap.add_argument("--tokens", action="store_true", help="only the token-count start-up runs (issue 6)")
    ap.add_argument("--baseline", help="a checkout whose first paint is timed too (with --tokens)")
    ap.add_argument("--token-session", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.session:
        print(json.dumps(session(args.session)))
        return 0
    if args.token_session:
        print(json.dumps(token_session(args.token_session)))
        return 0

    from shotlib import start_xvfb, stop_xvfb

    xvfb = start_xvfb()
    cfg = Path(tempfile.mkdtemp(prefix="lima-bench-cfg-"))
    env = {**os.environ, "LIMA_TK_CONFIG": str(cfg / "config.json"), "LIMA_TK_EXIT_AFTER_PAINT": "rss"}
    env.pop("LIMA_TK_DB", None)
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    report: dict = {"python": sys.version.split()[0], "startup": {}}
    try:
        import tkinter

        report["tk"] = tkinter.TkVersion
        sizes = [int(x) for x in args.sizes.split(",")]
        paths = {n: dataset(folder, n) for n in sizes}
        if args.tokens:
            report["tokens"] = token_bench(paths, folder, env, args.runs, args.baseline)
            print(json.dumps(report))
            return 0
        for n, path in paths.items():
            startup_once(path, env)  # warm the page cache once
            runs = [startup_once(path, env) for _ in range(args.runs)]
            secs = sorted(r[0] for r in runs)
            report["startup"][n] = {
                "median_s": round(statistics.median(secs), 3), "min_s": round(secs[0], 3),
                "max_s": round(secs[-1], 3), "rss_mb": round(statistics.median(r[1] for r in runs) / 1024, 1),
            }
            print(f"start-up {n:>7,} chats: median {report['startup'][n]['median_s']:.3f} s "
                  f"(min {secs[0]:.3f}, max {secs[-1]:.3f}), RSS {report['startup'][n]['rss_mb']} MB", flush=True)
        big = paths[max(sizes)]
        work = folder / "bench-session.lima.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copy(big, work)
        senv = {k: v for k, v in env.items() if k != "LIMA_TK_EXIT_AFTER_PAINT"}
        out = subprocess.run([sys.executable, __file__, "--session", str(work)], env=senv, capture_output=True,
                             text=True, timeout=900)
        if out.returncode:
            raise SystemExit(f"session failed:\n{out.stderr}")
        report["session"] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(report["session"], indent=2))
    finally:
        shutil.rmtree(cfg, ignore_errors=True)
        stop_xvfb(xvfb)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
