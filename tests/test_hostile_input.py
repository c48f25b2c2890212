"""Hostile and odd input files (issue 10, item 8): deep nesting, a zip that expands to a giant
value, a giant line anywhere, long values quoted in messages, a truncated last line in
`validate`, and an empty file. Every case is one clear line (or a note), never a traceback,
and the dataset is left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lima_tk.errors import FormatError
from lima_tk.formats import import_file, jsonstream
from lima_tk.store import DatasetStore

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=120)


def deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize("name, text, line", [
    ("deep.jsonl", json.dumps(GOOD) + "\n" + '{"messages": [], "x": ' + deep(100_000) + "}\n", 2),
    ("deep.json", '[\n{"conversations": [{"from": "human", "value": "hi"}]},\n{"conversations": '
     + deep(100_000) + "}\n]\n", 3),
    ("pretty.json", "{\n" + '"a":\n' + deep(100_000) + "\n}\n", 3),
])
def test_deep_nesting_names_the_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    db = tmp_path / "d.lima.db"
    r = run("--db", str(db), "import", str(src))
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"lima-tk: error: {src}:{line}: nested too deep"
    v = run("validate", str(src))
    assert v.returncode == 1, v.stderr
    assert f"{src}:{line}: error: nested too deep [unreadable]" in v.stdout
    with DatasetStore(db) as s:
        assert s.count_chats() == 0


def _bomb(path: Path, title_mib: int) -> Path:
    """A ChatGPT export zip whose one conversation has a title of `title_mib` MiB (~0.1% of that
    on disk)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("conversations.json", "w", force_zip64=True) as f:
        f.write(b'[{"title": "')
        chunk = b"A" * (1 << 20)
        for _ in range(title_mib):
            f.write(chunk)
        f.write(b'", "mapping": {}}]')
    return path


# The peak is this process's own: VmHWM, the high-water mark of its own memory. Not ru_maxrss:
# Linux keeps that across execve, and subprocess starts the child with vfork, so it also holds the
# peak of the memory the child was started from: pytest's, hundreds of MiB after some other tests
# (seen as 478 MiB in a shuffled run, against ~200 MiB of the import itself).
MEASURE = """
import re, resource, sys
from lima_tk.formats import import_file
from lima_tk.store import DatasetStore
from lima_tk.errors import LimaError
with DatasetStore(sys.argv[1]) as s:
    try:
        import_file(s, sys.argv[2])
        print("imported")
    except LimaError as e:
        print(str(e))
try:
    with open("/proc/self/status") as f:
        print(int(re.search(r"^VmHWM:\\s+(\\d+) kB", f.read(), re.M).group(1)) // 1024)
except OSError:  # no /proc (not Linux)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_zip_that_expands_to_a_giant_title_is_refused_in_little_memory(tmp_path: Path) -> None:
    src = _bomb(tmp_path / "export.zip", 400)
    assert src.stat().st_size < 4 << 20
    r = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "d.lima.db"), str(src)], capture_output=True,
                       text=True, cwd=ROOT, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    message, peak_mib = r.stdout.strip().splitlines()
    assert message.startswith(f"{src}:1: conversations.json in the zip: one record is larger than 64 MiB")
    assert len(message) < 300
    assert int(peak_mib) < 400, f"peak memory {peak_mib} MiB"  # before issue 10: 1.7 GiB (measured)


def test_a_zip_that_declares_more_than_the_cap_is_refused(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "export.zip"
    with zipfile.ZipFile(src, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("conversations.json", json.dumps([{"title": "x" * 5000, "mapping": {}}]))
    monkeypatch.setattr(jsonstream, "ZIP_MAX", 4096)
    with DatasetStore(tmp_path / "d.lima.db") as s:
        with pytest.raises(FormatError, match="the zip expands to .* more than"):
            import_file(s, src)


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    title = "T" * 200_000
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps([{"title": title, "mapping": {}}]), encoding="utf-8")  # skipped: no messages
    r = run("--db", str(tmp_path / "d.lima.db"), "import", str(src))
    assert r.returncode == 0, r.stderr
    assert "skipped: no messages" in r.stderr and "more characters" not in r.stdout
    assert max(len(line) for line in r.stderr.splitlines()) < 500, len(r.stderr)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "R" * 100_000, "content": "x"}]}) + "\n", encoding="utf-8")
    r = run("--db", str(tmp_path / "d.lima.db"), "import", str(bad))
    assert r.returncode == 2 and len(r.stderr) < 700, len(r.stderr)


def test_the_line_cap_applies_to_every_line(tmp_path: Path) -> None:
    src = tmp_path / "giant.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        f.write(json.dumps(GOOD) + "\n")
        f.write('{"messages": "' + "x" * (65 << 20) + '"}\n')
    r = run("--db", str(tmp_path / "d.lima.db"), "import", str(src))
    assert r.returncode == 2
    assert r.stderr.strip() == f"lima-tk: error: {src}:2: line longer than 64 MiB: not a JSON lines file"


def test_validate_says_truncated_last_line_once(tmp_path: Path) -> None:
    src = tmp_path / "cut.jsonl"
    src.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD)[:40], encoding="utf-8")
    r = run("validate", str(src))
    assert r.returncode == 1
    first = r.stdout.splitlines()[0]
    assert first == (f"{src}:2: error: truncated last line (invalid JSON: Expecting ':' delimiter at column 41) "
                     "[unreadable]"), first


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_file_imports_nothing_with_a_note(tmp_path: Path, text: str) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text(text, encoding="utf-8")
    db = tmp_path / "d.lima.db"
    r = run("--db", str(db), "import", str(src))
    assert r.returncode == 0, r.stderr
    assert f"{src}: imported 0 chats, 0 messages" in r.stdout
    assert "warning: the file is empty: no chats imported" in r.stderr
    with DatasetStore(db) as s:
        assert s.count_chats() == 0
        report = import_file(s, src)
        assert (report.chats, report.warnings) == (0, ["the file is empty: no chats imported"])
    assert run("validate", str(src)).returncode == 0
