"""Files a command writes (issue 10, items 4 and 9): never over the dataset or its -wal/-shm
(through symlinks and hard links too); exports through a symlink, keeping the mode, flushed
before the rename; stale temp files of killed exports removed; every chat that cannot be written
named; small losses in import and delete."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lima_tk.errors import DatasetError, FormatError
from lima_tk.fileio import atomic_write
from lima_tk.formats import export_file, import_file
from lima_tk.formats.hf import MARKER
from lima_tk.model import Message
from lima_tk.stats import dataset_stats, write_stats_csv
from lima_tk.store import DatasetStore

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def digest(path: Path) -> str:
    """Only for files no store in this process has open (see lima_tk/store/files.py)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        for i in range(3):
            s.create_chat(f"chat {i}", messages=[Message("user", f"q {i}"), Message("assistant", f"a {i}")])
    return db


# -- item 4: never write over the dataset -----------------------------------------------------


def _targets(db: Path, tmp_path: Path) -> dict[str, Path]:
    link = tmp_path / "link.jsonl"
    link.symlink_to(db)
    hard = tmp_path / "hard.jsonl"
    os.link(db, hard)
    wal_link = tmp_path / "wal-link.jsonl"
    wal_link.symlink_to(Path(f"{db}-wal"))  # dangling while the dataset is closed
    return {"itself": db, "symlink": link, "hard link": hard, "wal": Path(f"{db}-wal"),
            "shm": Path(f"{db}-shm"), "symlink to the wal": wal_link,
            "relative": Path(os.path.relpath(db, ROOT))}


@pytest.mark.parametrize("command", ["export", "stats --csv"])
def test_cli_refuses_to_write_over_the_dataset(dataset: Path, tmp_path: Path, command: str) -> None:
    before = digest(dataset)
    for what, target in _targets(dataset, tmp_path).items():
        args = ["export", str(target)] if command == "export" else ["stats", "--no-count", "--csv", str(target)]
        r = run("--db", str(dataset), *args)
        assert r.returncode == 2, (what, r.stdout, r.stderr)
        line = r.stderr.strip()
        assert "Traceback" not in line and line.count("\n") == 0, line
        assert "is the dataset" in line and "choose another file" in line, (what, line)
        assert digest(dataset) == before, what
        assert not Path(f"{dataset}-wal").is_file() or what not in ("wal",)
    with DatasetStore(dataset) as s:
        assert s.count_chats() == 3


def test_hf_export_refuses_the_dataset_and_a_folder_that_holds_it(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "README.md").write_text(f"# old\n\n{MARKER}\n", encoding="utf-8")  # looks like an earlier export
    db = folder / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("x", messages=[Message("user", "q"), Message("assistant", "a")])
    before = digest(db)
    r = run("--db", str(db), "export", "--format", "hf", str(folder))
    assert r.returncode == 2 and "holds the dataset" in r.stderr, r.stderr
    r = run("--db", str(db), "export", "--format", "hf", str(tmp_path / "exports" / ".." / "exports"))
    assert r.returncode == 2 and "holds the dataset" in r.stderr, r.stderr
    r = run("--db", str(db), "export", "--format", "hf", f"{db}-wal")
    assert r.returncode == 2 and "is the dataset" in r.stderr, r.stderr
    assert db.exists() and digest(db) == before
    assert not Path(f"{db}-wal").is_dir()


def test_api_refuses_any_dataset_open_in_the_process(dataset: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.lima.db"
    with DatasetStore(dataset) as s, DatasetStore(other) as o:
        with pytest.raises(DatasetError, match="is the dataset"):
            export_file(s, Path(f"{dataset}-shm"))
        with pytest.raises(DatasetError, match="is the dataset"):
            export_file(s, other)  # another dataset open in this process
        with pytest.raises(DatasetError, match="is the dataset"), atomic_write(other):
            pass
        assert o.count_chats() == 0 and s.count_chats() == 3


# -- item 9: temp files, modes, symlinks, fsync ----------------------------------------------


KILLED_EXPORT = """
import dataclasses, os, signal, sys
import lima_tk.formats as f
from lima_tk.store import DatasetStore

spec = f.REGISTRY["sharegpt"]
done = []

def write(chat, ctx):
    done.append(chat.id)
    if len(done) == 2:  # the first chat is in the temp file: die as a killed export does
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return spec.write(chat, ctx)

f.REGISTRY["sharegpt"] = dataclasses.replace(spec, write=write)
f.export_file(DatasetStore(sys.argv[1]), sys.argv[2], "sharegpt")
"""


def test_stale_temp_files_of_a_killed_export_are_removed_on_the_next(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(dataset), str(out)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == -9, r.stderr
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".out.json.")]
    assert len(left) == 1 and not out.exists()
    stale = left[0]
    old = time.time() - 3600
    os.utime(stale, (old, old))  # a while ago (a fresh one may be a writer that is just starting)
    live = tmp_path / ".out.json.89abcdef.tmp"  # another export writing right now: it holds a lock
    import fcntl

    fd = os.open(live, os.O_WRONLY | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.utime(live, (old, old))
    foreign = tmp_path / ".notes.txt.0123abcd.tmp"  # not a temp file of this export
    foreign.write_text("keep me")
    os.utime(foreign, (old, old))
    try:
        r = run("--db", str(dataset), "export", "--format", "sharegpt", str(out))
        assert r.returncode == 0, r.stderr
        assert not stale.exists()
        assert live.exists() and foreign.exists()
        assert len(json.loads(out.read_text(encoding="utf-8"))) == 3
    finally:
        os.close(fd)
    from lima_tk.fileio import sweep_stale

    assert sweep_stale(out) == [live]  # unlocked now and old: removed


def test_hf_export_removes_the_stale_folder_of_a_killed_export(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    stale = tmp_path / ".hf.0123abcd.tmp"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "train.jsonl").write_text("{}\n")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    r = run("--db", str(dataset), "export", "--format", "hf", str(out))
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and (out / "data" / "train.jsonl").is_file()


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "hf"])
def test_re_export_keeps_the_mode_and_writes_through_a_symlink(dataset: Path, tmp_path: Path, fmt: str) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / ("out" if fmt == "hf" else "out.json")
    first = run("--db", str(dataset), "export", "--format", fmt, str(target))
    assert first.returncode == 0, first.stderr
    files = [target / "data" / "train.jsonl", target / "README.md"] if fmt == "hf" else [target]
    for f in files:
        os.chmod(f, 0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    again = run("--db", str(dataset), "export", "--format", fmt, str(link))
    assert again.returncode == 0, again.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link is kept...
    for f in files:  # ...and the file it points to was replaced, with its mode
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in real_dir.iterdir() if p.name.startswith(".")] == []


def test_exports_fsync_before_the_rename(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    with DatasetStore(dataset) as s:
        export_file(s, tmp_path / "o.jsonl")
        assert events[:2] == ["fsync", "replace"]
        events.clear()
        write_stats_csv(dataset_stats(s, tokens=False), tmp_path / "stats.csv")
        assert events[:2] == ["fsync", "replace"]


# -- item 9: surrogates, empty undo steps ----------------------------------------------------


def test_lone_surrogate_in_tool_call_arguments_is_refused_at_import(tmp_path: Path) -> None:
    row = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "weather", "arguments": '{"city": "\\ud800"}'}}]},
        {"role": "tool", "content": "cold", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Cold."}]}
    args = row["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert "\\ud800" in args and json.loads(args)  # a lone surrogate escape in a valid JSON string
    src = tmp_path / "in.jsonl"
    src.write_text("{}\n".replace("{}", json.dumps(row)), encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        with pytest.raises(FormatError, match=r"in\.jsonl:1: .*surrogate.*arguments"):
            import_file(s, src)
        assert s.count_chats() == 0


def test_an_export_that_cannot_write_a_chat_names_it(tmp_path: Path) -> None:
    """A chat stored before the import check (or by another tool) with such arguments: the
    export goes on and names the chat it left out."""
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("fine", messages=[Message("user", "q"), Message("assistant", "a")])
        bad = s.create_chat("broken one", messages=[
            Message("user", "q"),
            Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                     "function": {"name": "f", "arguments": '{"x": "\\ud800"}'}}]),
            Message("tool", "r", tool_call_id="c1"), Message("assistant", "done")])
    for fmt in ("sharegpt", "openai", "lima", "hf"):
        out = tmp_path / f"out-{fmt}"
        r = run("--db", str(db), "export", "--format", fmt, str(out))
        assert r.returncode == 0, (fmt, r.stderr)
        if fmt == "sharegpt":
            assert f"chat {bad} 'broken one' skipped: cannot be written" in r.stderr, r.stderr
            assert "1 skipped" in r.stdout


def test_deleting_a_chat_that_does_not_exist_records_no_undo_step(tmp_path: Path) -> None:
    with DatasetStore(tmp_path / "d.lima.db") as s:
        cid = s.create_chat("x")
        label = s.undo_label()
        assert s.delete_chats([cid + 100]) == 0
        assert s.undo_label() == label
        assert s.delete_chats([]) == 0
        assert s.undo_label() == label


def _node(node_id: str, parent: str | None, children: list[str], role: str | None = None, text: str = "",
          **msg: object) -> tuple[str, dict]:
    message = None
    if role is not None:
        message = {"author": {"role": role}, "content": {"content_type": msg.pop("content_type", "text"),
                                                          "parts": [text]} if "code" not in msg else
                   {"content_type": "code", "text": msg.pop("code")}, "metadata": {}, **msg}
    return node_id, {"id": node_id, "message": message, "parent": parent, "children": children}


def test_chatgpt_keeps_a_regenerated_reply_when_the_shown_one_is_a_tool_call(tmp_path: Path) -> None:
    mapping = dict([
        _node("root", None, ["u"]),
        _node("u", "root", ["call", "text"], "user", "What is 2**10?"),
        _node("call", "u", ["out"], "assistant", recipient="python", code="print(2**10)"),
        _node("out", "call", ["final"], "tool", "1024"),
        _node("final", "out", [], "assistant", "It is 1024."),
        _node("text", "u", [], "assistant", "2**10 is 1024."),  # the regeneration: a plain reply
    ])
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps([{"title": "Powers", "mapping": mapping, "current_node": "final"}]), encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        import_file(s, src)
        chat = s.get_chat(s.chat_ids()[0])
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    call = chat.messages[1]
    assert call.tool_calls and call.tool_calls[0]["function"]["name"] == "python"
    assert [v["content"] for v in call.variants()] == [None, "2**10 is 1024."]  # tree order, shown first
    assert call.alt_index == 0 and call.variants()[0]["tool_calls"] == call.tool_calls
