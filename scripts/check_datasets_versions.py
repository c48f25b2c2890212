#!/usr/bin/env python3
"""Does the hf folder load with older `datasets`? (issue 11; not in CI: it makes venvs.)

    .venv/bin/python scripts/check_datasets_versions.py
    .venv/bin/python scripts/check_datasets_versions.py --versions '3.6.*,4.*,5.*' --root /tmp/lima-tk-datasets

Run it with an interpreter that imports lima-tk (the project's venv). It exports a sample dataset
(plain chats, a system prompt, a reply marked "no train", unicode, tool chats with single and
parallel calls and tools of different parameter shapes) with the hf folder export twice, with
`tool_args=object` and with `tool_args=string`. For each `datasets` version it makes a venv under
--root once (`python3 -m venv`, `pip install 'datasets==X'`), and there runs
`load_dataset(folder, name=config)` for each configuration of each folder (offline). Every row read
back is compared with the chat it was exported from: messages (role, content, name, tool calls
with their arguments, tool_call_id; an absent key and a null one are the same), the tools, and the
type of the arguments (objects for tool_args=object, JSON strings for tool_args=string). Prints
a Markdown table (docs/trainers.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Runs in the venv of one datasets version: every row of one configuration as JSON, or the error.
LOADER = r"""
import json, sys, traceback
folder, config, cache = sys.argv[1:4]
import datasets
try:
    ds = datasets.load_dataset(folder, name=config, cache_dir=cache)
    out = {split: [dict(r) for r in ds[split]] for split in ds}
    print(json.dumps({"ok": True, "version": datasets.__version__, "rows": out}, default=repr))
except Exception as e:
    last = (str(e).strip().splitlines() or [type(e).__name__])[-1]
    print(json.dumps({"ok": False, "version": datasets.__version__, "error": f"{type(e).__name__}: {last}"[:300],
                      "trace": traceback.format_exc()[-2000:]}))
"""


def sample(store) -> None:
    from lima_tk.model import Message, Tool

    weather = Tool("get_weather", "The weather at a place, now.", {
        "type": "object", "properties": {"location": {"type": "string"},
                                         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"]})
    clock = Tool("get_time", "Local time in a city.", {
        "type": "object", "properties": {"city": {"type": "string"}, "utc_offset": {"type": "integer"}}})
    for i in range(3):
        store.create_chat(f"plain {i}", "en", [], messages=[
            Message("user", f"What is {i} + {i}?"), Message("assistant", f"It is {2 * i}.")])
    store.create_chat("system", "en", [], messages=[
        Message("system", "You are terse."), Message("user", "Hi!"), Message("assistant", "Hello.")])
    store.create_chat("no train", "en", [], messages=[
        Message("user", "2 + 2?"), Message("assistant", "5", weight=0), Message("user", "Again."),
        Message("assistant", "4")])
    store.create_chat("unicode", "ru", [], messages=[
        Message("user", "Привет! 数据 café 🙂"), Message("assistant", "Привет, всё хорошо ✅")])

    def call(i: int, name: str, args: dict) -> dict:
        return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}

    store.create_chat("tool call", "en", ["tools"], messages=[
        Message("user", "Weather in Paris?"),
        Message("assistant", "", tool_calls=[call(1, "get_weather", {"location": "Paris"})]),
        Message("tool", '{"temp": 21}', tool_call_id="call_1"), Message("assistant", "21 degrees.")],
        tools=[weather])
    store.create_chat("parallel calls", "en", ["tools"], messages=[
        Message("system", "Use the tools."), Message("user", "Weather and time in Tokyo, in fahrenheit?"),
        Message("assistant", "Looking.", tool_calls=[
            call(2, "get_weather", {"location": "Tokyo", "unit": "fahrenheit"}),
            call(3, "get_time", {"city": "Tokyo", "utc_offset": 9})]),
        Message("tool", "64F", tool_call_id="call_2"), Message("tool", "21:04", tool_call_id="call_3"),
        Message("assistant", "64F; it is 21:04.")], tools=[weather, clock])


def expected(store) -> dict[str, dict[str, Any]]:
    """name -> {"messages", "tools"} as the chat is stored, arguments and parameters as objects."""
    out = {}
    for cid in store.chat_ids():
        chat = store.get_chat(cid)
        msgs = []
        for m in chat.messages:
            d: dict[str, Any] = {"role": m.role, "content": m.content or ""}
            if m.name:
                d["name"] = m.name
            if m.tool_call_id:
                d["tool_call_id"] = m.tool_call_id
            if m.tool_calls:
                d["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                    "name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}}
                    for c in m.tool_calls]
            msgs.append(d)
        tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                   "parameters": t.parameters}} for t in chat.tools]
        out[chat.name] = {"messages": msgs, "tools": tools}
    return out


def _drop_nulls(d: dict[str, Any]) -> dict[str, Any]:
    """An absent message key and a null one are the same (transformers drops None values too)."""
    return {k: v for k, v in d.items() if v is not None and k != "training"}


def compare(row: dict[str, Any], want: dict[str, Any], as_object: bool) -> str:
    """"" when the row is the chat, else what differs first."""
    got_msgs = []
    for m in row["messages"]:
        m = _drop_nulls(m)
        for c in m.get("tool_calls") or []:
            args = c["function"]["arguments"]
            if as_object and not isinstance(args, dict):
                return f"arguments read back as {type(args).__name__}, not an object"
            if not as_object:
                if not isinstance(args, str):
                    return f"arguments read back as {type(args).__name__}, not a string"
                c["function"]["arguments"] = json.loads(args)
        got_msgs.append(m)
    if got_msgs != want["messages"]:
        return "messages differ"
    got_tools = []
    for t in row.get("tools") or []:
        fn = dict(t["function"])
        params = fn.get("parameters")
        if isinstance(params, str):
            if as_object:
                return "tool parameters read back as a string"
            fn["parameters"] = json.loads(params)
        got_tools.append({"type": t["type"], "function": fn})
    if got_tools != want["tools"]:
        return "tools differ"
    return ""


def make_venv(root: Path, version: str) -> tuple[Path | None, str]:
    """A venv with datasets==version under root (made once); (python, "") or (None, why)."""
    venv = root / f"venv-datasets-{version.replace('*', 'x')}"
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import datasets"], capture_output=True).returncode == 0:
        return py, ""
    print(f"making {venv} (pip install 'datasets=={version}')...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", f"datasets=={version}"], capture_output=True, text=True)
    if r.returncode != 0:
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR")] or r.stderr.splitlines()[-1:]
        return None, f"cannot install datasets=={version} here: {' '.join(err)[:200]}"
    return py, ""


def run(versions: list[str], root: Path) -> int:
    from lima_tk.formats import export_file
    from lima_tk.store import DatasetStore

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="exports-", dir=root))
    with DatasetStore(work / "sample.lima.db") as store:
        sample(store)
        want = expected(store)
        for how in ("object", "string"):
            export_file(store, work / f"hf-{how}", "hf", options={"tool_args": how})
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    lines = ["| datasets | tool_args | config | rows | result |", "| --- | --- | --- | --- | --- |"]
    failures = 0
    for version in versions:
        py, why = make_venv(root, version)
        if py is None:
            lines.append(f"| {version} | - | - | - | {why} |")
            failures += 1
            continue
        for how in ("object", "string"):
            folder = work / f"hf-{how}"
            for config in ("default", "tools"):
                r = subprocess.run([str(py), "-c", LOADER, str(folder), config, str(work / f"cache-{version}")],
                                   capture_output=True, text=True, env=env)
                try:
                    out = json.loads(r.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    out = {"ok": False, "error": (r.stderr.strip().splitlines() or ["no output"])[-1][:300]}
                label = out.get("version", version)
                if not out["ok"]:
                    lines.append(f"| {label} | {how} | {config} | - | fails: `{out['error']}` |")
                    failures += 1
                    continue
                rows = [row for split in out["rows"].values() for row in split]
                bad = [(row.get("name"), compare(row, want[row["name"]], how == "object")) for row in rows]
                bad = [(n, d) for n, d in bad if d]
                n_chats = sum(1 for n in want if (config == "tools") == bool(
                    want[n]["tools"] or any("tool_calls" in m or m["role"] == "tool" for m in want[n]["messages"])))
                if len(rows) != n_chats:
                    bad.append(("", f"{len(rows)} rows, {n_chats} chats"))
                result = "ok: every row equals its chat" if not bad else "differs: " + "; ".join(
                    f"{n}: {d}" for n, d in bad[:3])
                failures += bool(bad)
                lines.append(f"| {label} | {how} | {config} | {len(rows)} | {result} |")
    print("\n".join(lines))
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--versions", default="3.6.*,4.*,5.*", help="comma-separated pip version specs of datasets")
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "lima-tk-datasets",
                    help="where the venvs and exports go (default: /tmp/lima-tk-datasets)")
    a = ap.parse_args()
    return run([v.strip() for v in a.versions.split(",") if v.strip()], a.root)


if __name__ == "__main__":
    sys.exit(main())
