#!/usr/bin/env python3
"""Interop benchmark (issue 7): importing a ~100 MB ChatGPT-style export and a 100,000-row ShareGPT
file with lima-tk, against `json.load` + the raw insert baseline of scripts/bench_store.py.

    python3 scripts/bench_interop.py                      # ~100 MB export, 100,000 ShareGPT rows
    python3 scripts/bench_interop.py --mb 10 --rows 10000 # quick smoke run

Every import runs in a fresh child process (time of the import call only, and the process's peak
RSS). The files are generated once into --tmp (default /tmp/lima-bench-interop). Prints a Markdown
table for docs/benchmarks.md.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_store import baseline_import, insert_baseline, text  # noqa: E402, F401

ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


# -- data ------------------------------------------------------------------------------------------


def _node(nid: str, parent: str | None, children: list[str], msg: dict | None) -> dict:
    return {"id": nid, "message": msg, "parent": parent, "children": children}


def _msg(rng: random.Random, nid: str, role: str, parts: list, t: float, ctype: str = "text",
         hidden: bool = False, recipient: str = "all") -> dict:
    """A message with the metadata noise real exports carry (about half of their bytes)."""
    meta: dict = {"timestamp_": "absolute", "message_type": None, "request_id": f"{rng.getrandbits(64):016x}"}
    if role == "assistant":
        meta.update({"finish_details": {"type": "stop", "stop_tokens": [200002]}, "citations": [],
                     "content_references": [], "model_slug": "gpt-4o", "default_model_slug": "auto",
                     "parent_id": nid, "is_complete": True})
    if hidden:
        meta["is_visually_hidden_from_conversation"] = True
    content = {"content_type": ctype, "parts": parts} if ctype in ("text", "multimodal_text") else {
        "content_type": ctype, "language": "python", "text": parts[0]}
    return {"id": nid, "author": {"role": role, "name": "python" if role == "tool" else None, "metadata": {}},
            "create_time": t, "update_time": None, "content": content, "status": "finished_successfully",
            "end_turn": role == "assistant" or None, "weight": 1.0, "metadata": meta, "recipient": recipient,
            "channel": None}


def chatgpt_conversation(rng: random.Random, i: int) -> dict:
    t0 = 1.7e9 + i * 3600.0
    mapping: dict[str, dict] = {}
    ids = iter(f"{i:06d}-{k:04d}-{rng.getrandbits(48):012x}" for k in range(10_000))
    root, sysn = next(ids), next(ids)
    mapping[root] = _node(root, None, [sysn], None)
    mapping[sysn] = _node(sysn, root, [], _msg(rng, sysn, "system", [""], t0, hidden=True))
    last = sysn
    t = t0
    for _ in range(rng.choice((1, 2, 3, 3, 4, 5, 6))):
        t += 30
        u = next(ids)
        parts: list = [text(rng, rng.randint(8, 80))]
        ctype = "text"
        if rng.random() < 0.05:
            parts.insert(0, {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-x",
                             "size_bytes": 12345, "width": 512, "height": 512, "fovea": None, "metadata": None})
            ctype = "multimodal_text"
        mapping[u] = _node(u, last, [], _msg(rng, u, "user", parts, t, ctype))
        mapping[last]["children"].append(u)
        if rng.random() < 0.08:  # code interpreter: call, output, answer
            c, o = next(ids), next(ids)
            mapping[c] = _node(c, u, [o], _msg(rng, c, "assistant", ["print(sum(range(100)))"], t + 1, "code",
                                               recipient="python"))
            mapping[o] = _node(o, c, [], _msg(rng, o, "tool", ["4950"], t + 2, "execution_output"))
            mapping[u]["children"].append(c)
            u = o
        versions = 2 if rng.random() < 0.1 else 1  # a regenerated reply: a second branch
        for _ in range(versions):
            a = next(ids)
            mapping[a] = _node(a, u, [], _msg(rng, a, "assistant", [text(rng, rng.randint(40, 260))], t + 5))
            mapping[u]["children"].append(a)
        last = mapping[u]["children"][-1]
    return {"title": text(rng, rng.randint(2, 6)) if rng.random() < 0.95 else None, "create_time": t0,
            "update_time": t, "mapping": mapping, "moderation_results": [], "current_node": last,
            "plugin_ids": None, "conversation_id": f"conv-{i}", "conversation_template_id": None,
            "gizmo_id": None, "is_archived": False, "safe_urls": [], "default_model_slug": "auto", "id": f"conv-{i}"}


def generate_chatgpt(path: Path, mb: float, seed: int = 7) -> int:
    """A minified conversations.json (one line, like the real export) of about `mb` megabytes."""
    rng = random.Random(seed)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        while f.tell() < mb * 1e6:
            f.write(("," if n else "") + json.dumps(chatgpt_conversation(rng, n), ensure_ascii=False,
                                                     separators=(",", ":")))
            n += 1
        f.write("]")
    return n


def generate_sharegpt(path: Path, rows: int, seed: int = 3) -> int:
    """A ShareGPT JSON array, one record per line (as json.dump(indent=None) + newlines writes it)."""
    rng = random.Random(seed)
    n_msgs = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(rows):
            conv = []
            if rng.random() < 0.3:
                conv.append({"from": "system", "value": text(rng, rng.randint(5, 30))})
            for _ in range(rng.choice((1, 2, 2, 3))):
                conv.append({"from": "human", "value": text(rng, rng.randint(5, 50))})
                conv.append({"from": "gpt", "value": text(rng, rng.randint(20, 90))})
            n_msgs += len(conv)
            f.write(("" if i == 0 else ",\n") + json.dumps({"id": f"r{i}", "conversations": conv},
                                                           ensure_ascii=False))
        f.write("\n]\n")
    return n_msgs


def openai_equivalent(src: Path, out: Path) -> None:
    """The ShareGPT file's chats as OpenAI JSONL: the reference for what the store costs."""
    from lima_tk.formats.jsonstream import JsonStream

    with open(src, "rb") as f, open(out, "w", encoding="utf-8") as o:
        for r in JsonStream(f, src):
            msgs = [{"role": ROLES[t["from"]], "content": t["value"]} for t in r["conversations"]]
            o.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")


# -- the two importers -------------------------------------------------------------------------------


def baseline_sharegpt(src: Path, db: Path) -> None:
    with open(src, encoding="utf-8") as f:
        data = json.load(f)
    insert_baseline(db, ([(ROLES[t["from"]], t["value"], None) for t in r["conversations"]] for r in data))


def baseline_chatgpt(src: Path, db: Path) -> None:
    """json.load, then the minimal thread walk (current_node up, reversed; text parts only)."""
    with open(src, encoding="utf-8") as f:
        data = json.load(f)

    def thread(conv: dict) -> list[tuple[str, str, None]]:
        mapping, out, node = conv["mapping"], [], conv.get("current_node")
        while node:
            n = mapping[node]
            m = n.get("message")
            if m and not (m.get("metadata") or {}).get("is_visually_hidden_from_conversation"):
                c = m["content"]
                body = "\n".join(p for p in c.get("parts", [c.get("text", "")]) if isinstance(p, str))
                if body.strip():
                    out.append((m["author"]["role"], body, None))
            node = n.get("parent")
        return out[::-1]

    insert_baseline(db, (thread(c) for c in data))


def lima_import(src: Path, db: Path) -> None:
    from lima_tk.formats import import_file
    from lima_tk.store import DatasetStore

    with DatasetStore(db) as store:
        import_file(store, src)


def run_child(fn: str, src: Path, db: Path) -> tuple[float, float]:
    """(seconds of the import call, peak RSS MB) of `fn` in a fresh process."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    code = (
        f"import sys, time, resource; sys.path.insert(0, {str(ROOT)!r})\n"
        "from pathlib import Path\n"
        f"from scripts.bench_interop import {fn}\n"
        "import lima_tk.formats, lima_tk.store\n"  # imports are not part of the measure
        "t = time.perf_counter()\n"
        f"{fn}(Path({str(src)!r}), Path({str(db)!r}))\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True)
    secs, rss = out.split()[-2:]
    return float(secs), int(rss) / 1024


def counts(db: Path, lima: bool) -> tuple[int, int]:
    conn = sqlite3.connect(db)
    out = (conn.execute("SELECT count(*) FROM chats").fetchone()[0],
           conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100, help="Size of the ChatGPT-style export (MB).")
    ap.add_argument("--rows", type=int, default=100_000, help="Rows of the ShareGPT file.")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tmp", type=Path, default=Path("/tmp/lima-bench-interop"))
    args = ap.parse_args()
    tmp = args.tmp
    tmp.mkdir(parents=True, exist_ok=True)
    cg = tmp / f"conversations-{args.mb:g}mb.json"
    sg = tmp / f"sharegpt-{args.rows}.json"
    if not cg.exists():
        t = time.perf_counter()
        n = generate_chatgpt(cg, args.mb)
        print(f"# generated {cg.name}: {n:,} conversations in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if not sg.exists():
        generate_sharegpt(sg, args.rows)
    oa = tmp / f"sharegpt-{args.rows}-as-openai.jsonl"
    if not oa.exists():
        openai_equivalent(sg, oa)
    rows = []
    for label, src, base_fn in (("ChatGPT export", cg, "baseline_chatgpt"), ("ShareGPT array", sg, "baseline_sharegpt"),
                                ("reference: the same chats as OpenAI JSONL", oa, "baseline_import")):
        mb = src.stat().st_size / 1e6
        lt, lr, bt, br = [], [], [], []
        for _ in range(args.runs):
            secs, rss = run_child(base_fn, src, tmp / "base.db")
            bt.append(secs)
            br.append(rss)
            secs, rss = run_child("lima_import", src, tmp / "lima.lima.db")
            lt.append(secs)
            lr.append(rss)
        nl, nb = counts(tmp / "lima.lima.db", True), counts(tmp / "base.db", False)
        print(f"# {label}: lima-tk {nl[0]:,} chats / {nl[1]:,} messages; baseline {nb[0]:,} / {nb[1]:,}",
              file=sys.stderr)
        ml, mbase = statistics.median(lt), statistics.median(bt)
        what = f"{label}, {mb:.0f} MB, {nl[0]:,} chats, {nl[1]:,} messages"
        ref = label.startswith("reference")
        rows.append((f"import {what}: time", f"{ml:.1f} s", f"{mbase:.1f} s", f"{ml / mbase:.2f}x",
                     "(reference)" if ref else "<= 1.5x"))
        rows.append((f"import {what}: peak RSS", f"{max(lr):.0f} MB", f"{max(br):.0f} MB", f"{max(lr) / max(br):.2f}x",
                     "(reference)" if ref else "<= 250 MB"))
    print("| measure | lima-tk | json.load + raw insert | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{args.runs} run(s) (median time, max RSS)")


if __name__ == "__main__":
    main()
