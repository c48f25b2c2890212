#!/usr/bin/env python3
"""Start-up benchmark (issue 15): every CLI command and the GUI, on a new and on an existing dataset.

    python3 scripts/bench_startup.py [--runs 7] [--baseline DIR] [--no-gui]

Each command runs as a real process (`python -m lima_tk --db FILE CMD`), timed from spawn to
exit; a "new" run deletes the file first, so the process creates the dataset. The existing
dataset holds 20 small chats (a few commands also run on a 20,000-chat one: the size must not
matter). The GUI is timed from spawn to its first painted list (`LIMA_TK_EXIT_AFTER_PAINT`),
under a private Xvfb when $DISPLAY is unset. Reference rows in the same run: a bare interpreter
(`python -c pass`) and `python -m lima_tk --version`. `--baseline DIR` times another checkout
too (`git archive main lima_tk | tar -x -C DIR`), alternating with this one run by run.

Commands that do work in proportion to the data (importing a big file, counting tokens,
linting every chat, streaming replies) are timed here on tiny inputs: what is left is start-up.
Prints a Markdown table of medians.
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

COMMANDS: list[list[str]] = [
    ["list"], ["list", "--sort", "tokens"], ["stats", "--no-count"], ["config"], ["undo"], ["redo"],
    ["export", "{tmp}/out.jsonl"], ["import", "{tmp}/in.jsonl"], ["validate", "--no-count"],
    ["generate", "--base-url", "http://127.0.0.1:9/v1"], ["about"],
]
BIG_COMMANDS: list[list[str]] = [["list"], ["list", "--sort", "tokens"], ["stats", "--no-count"], ["config"]]


def run(code_root: Path, db: Path | None, args: list[str], env: dict[str, str], tmp: Path,
        new: bool = False) -> float:
    if new and db is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "lima_tk"] + (["--db", str(db)] if db else []) + [a.format(tmp=tmp) for a in args]
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=tmp, env={**env, "PYTHONPATH": str(code_root)}, capture_output=True, text=True,
                       timeout=120)
    dt = time.perf_counter() - t
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed:\n{r.stderr}")
    return dt


def gui_once(code_root: Path, db: Path, env: dict[str, str], tmp: Path, new: bool) -> float:
    if new:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "lima_tk", "--db", str(db)], cwd=tmp, capture_output=True, text=True,
                       env={**env, "PYTHONPATH": str(code_root), "LIMA_TK_EXIT_AFTER_PAINT": "1"}, timeout=120)
    for line in r.stdout.splitlines():
        if line.startswith("painted "):
            return float(line.split()[1]) - t0
    raise SystemExit(f"GUI start failed:\n{r.stdout}\n{r.stderr}")


def bare(env: dict[str, str], tmp: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=tmp, env=env, check=True)
    return time.perf_counter() - t


def make_existing(path: Path, n: int) -> None:
    from lima_tk.model import Message
    from lima_tk.store import DatasetStore

    with DatasetStore(path) as s:
        for i in range(n):
            s.create_chat(f"chat {i}", tags=["demo"], messages=[Message("user", f"question {i}"),
                                                                  Message("assistant", f"answer {i}")])


def make_big(path: Path, n: int, tmp: Path) -> None:
    from bench_store import generate

    from lima_tk.formats import import_file
    from lima_tk.store import DatasetStore

    src = tmp / "big.jsonl"
    generate(src, n)
    with DatasetStore(path) as s:
        import_file(s, src, fmt="openai")
    src.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--big", type=int, default=20_000, help="chats of the big existing dataset (0: skip)")
    ap.add_argument("--baseline", type=Path, help="another checkout to time in the same run")
    ap.add_argument("--no-gui", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))

    tmp = Path(tempfile.mkdtemp(prefix="lima-bench-start-"))
    env = {**os.environ, "LIMA_TK_CONFIG": str(tmp / "config.json"), "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_STATE_HOME": str(tmp / "state"), "HF_HUB_OFFLINE": "1"}
    env.pop("LIMA_TK_DB", None)
    # What a user's start pays: compiled modules cached in __pycache__ (a warm-up run writes them).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    (tmp / "in.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                           {"role": "assistant", "content": "hello"}]}) + "\n")
    existing = tmp / "existing.lima.db"
    make_existing(existing, 20)
    big = tmp / "big.lima.db"
    if args.big:
        make_big(big, args.big, tmp)
    new = tmp / "new.lima.db"
    roots = {"lima-tk": ROOT}
    if args.baseline:
        roots["baseline"] = args.baseline.resolve()
    xvfb = None
    if not args.no_gui and not os.environ.get("DISPLAY"):
        from shotlib import start_xvfb

        xvfb = start_xvfb()
        env["DISPLAY"] = os.environ["DISPLAY"]
    results: dict[tuple[str, str, str], list[float]] = {}
    for root in roots.values():  # warm-up: bytecode caches and the page cache
        run(root, new, ["list"], env, tmp, new=True)
        if not args.no_gui:
            gui_once(root, new, env, tmp, True)

    def add(what: str, dataset: str, root: str, t: float) -> None:
        results.setdefault((what, dataset, root), []).append(t)

    try:
        for _ in range(args.runs):
            add("python -c pass", "-", "lima-tk", bare(env, tmp))
            for name, root in roots.items():
                add("--version", "-", name, run(root, None, ["--version"], env, tmp))
                for cmd in COMMANDS:
                    label = " ".join(cmd).replace("{tmp}/", "")
                    add(label, "new", name, run(root, new, cmd, env, tmp, new=True))
                    work = tmp / "work.lima.db"
                    shutil.copy(existing, work)
                    add(label, "existing (20 chats)", name, run(root, work, cmd, env, tmp))
                    work.unlink()
                if args.big:
                    for cmd in BIG_COMMANDS:
                        add(" ".join(cmd), f"existing ({args.big:,} chats)", name, run(root, big, cmd, env, tmp))
                if not args.no_gui:
                    add("GUI to first paint", "new", name, gui_once(root, new, env, tmp, True))
                    add("GUI to first paint", "existing (20 chats)", name, gui_once(root, existing, env, tmp, False))
                    if args.big:
                        add("GUI to first paint", f"existing ({args.big:,} chats)", name,
                            gui_once(root, big, env, tmp, False))
    finally:
        if xvfb is not None:
            from shotlib import stop_xvfb

            stop_xvfb(xvfb)
        shutil.rmtree(tmp, ignore_errors=True)

    names = list(roots)
    print("| start | dataset | " + " | ".join(names) + " |")
    print("| --- | --- |" + " ---: |" * len(names))
    seen: dict[tuple[str, str], None] = {}
    for what, dataset, _ in results:
        seen[(what, dataset)] = None
    for what, dataset in seen:
        cells = []
        for name in names:
            ts = results.get((what, dataset, name))
            cells.append(f"{statistics.median(ts) * 1000:.0f} ms" if ts else "")
        print(f"| `{what}` | {dataset} | " + " | ".join(cells) + " |")
    load = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load {load[0]:.1f}/{load[1]:.1f}, Python {sys.version.split()[0]}, "
          f"median of {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
