"""The import's fast paths (issue 15): into an empty dataset the secondary indexes are dropped for
the insert and built again before commit; plain turns go through a narrower INSERT. Neither may
change what is stored, the schema the file ends with, or the all-or-nothing rule."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lima_tk.errors import FormatError
from lima_tk.formats import import_file
from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore


def schema_of(store: DatasetStore) -> list[tuple]:
    return store.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def write_jsonl(path: Path, chats: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in chats) + tail, encoding="utf-8")
    return path


PLAIN = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}",
                                                                      "weight": i % 2}]} for i in range(30)]


def test_import_into_an_empty_dataset_keeps_the_schema_and_its_indexes(db_path: Path, tmp_path: Path):
    with DatasetStore(db_path) as s:
        before = schema_of(s)
        cache = s.conn.execute("PRAGMA cache_size").fetchone()[0]
        import_file(s, write_jsonl(tmp_path / "a.jsonl", PLAIN), "openai")
        assert schema_of(s) == before, "every index and trigger is back after the bulk insert"
        assert s.conn.execute("PRAGMA cache_size").fetchone()[0] == cache
        plan = " ".join(r[3] for r in s.conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM chats ORDER BY name COLLATE NOCASE LIMIT 5"))
        assert "chats_name" in plan
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the indexes hold every row: a search through them finds what a scan finds
        q = s.conn.execute
        assert q("SELECT count(*) FROM messages INDEXED BY messages_chat WHERE chat_id > 0").fetchone()[0] \
            == q("SELECT count(*) FROM messages NOT INDEXED").fetchone()[0] == 60
        assert s.count_chats() == 30 and [c.name for c in s.list_chats(sort="name", limit=2)] == [
            "question 0", "question 1"]
        assert s.list_chats(f=None, limit=1)[0].n_messages == 2
        from lima_tk.store import ChatFilter

        assert s.count_chats(ChatFilter(text="answer")) == 30  # the FTS was filled
        from lima_tk.store.db import FTS_HASH_SIZE

        # a bigger FTS5 term buffer for bulk fills (fewer segments to write and merge)
        assert s.conn.execute("SELECT v FROM messages_fts_config WHERE k = 'hashsize'").fetchone() == (FTS_HASH_SIZE,)
        # a second import into the now non-empty dataset takes the ordinary path
        import_file(s, write_jsonl(tmp_path / "b.jsonl", [{"messages": [{"role": "user", "content": "more"}]}]),
                    "openai")
        assert schema_of(s) == before and s.count_chats() == 31
        s.undo()
        s.undo()
        assert s.count_chats() == 0 and schema_of(s) == before


def test_a_failing_import_into_an_empty_dataset_leaves_it_as_it_was(db_path: Path, tmp_path: Path):
    with DatasetStore(db_path) as s:
        before = schema_of(s)
        src = write_jsonl(tmp_path / "bad.jsonl", PLAIN, tail='{"messages": [{"role": "user", "content": 1}]}\n')
        with pytest.raises(FormatError) as e:
            import_file(s, src, "openai")
        assert e.value.line == 31
        assert schema_of(s) == before and s.count_chats() == 0
        assert s.undo_label() is None
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_plain_and_rich_messages_store_the_same_columns(db_path: Path):
    """A batch of plain turns takes the narrow INSERT; a batch with one rich message the full one:
    every stored column must be what was given (an empty name stays '', not NULL)."""
    rich = [Message("user", "plain", weight=None),
            Message("assistant", "", name="", tool_call_id=None, weight=0),
            Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                    "function": {"name": "f", "arguments": "{}"}}]),
            Message("tool", "42", tool_call_id="c1"),
            Message("assistant", "gen", source="generated", model="m", finish="stop",
                    alternatives=[{"content": "old", "source": "generated"}], alt_index=1)]
    plain = [Message("system", "s"), Message("user", "u", weight=None), Message("assistant", "a", weight=1)]
    cols = "role, content, name, tool_calls, tool_call_id, weight, source, model, finish, alternatives, alt_index"
    with DatasetStore(db_path) as s:
        r = s.add_chats([Chat("plain", messages=plain), Chat("rich", messages=rich)], batch=1)  # one batch each
        rows = s.conn.execute(f"SELECT chat_id, position, {cols} FROM messages ORDER BY chat_id, position").fetchall()
    assert r.chats == 2 and r.messages == 8
    expected = [
        (1, 0, "system", "s", None, None, None, None, None, None, None, None, None),
        (1, 1, "user", "u", None, None, None, None, None, None, None, None, None),
        (1, 2, "assistant", "a", None, None, None, 1, None, None, None, None, None),
        (2, 0, "user", "plain", None, None, None, None, None, None, None, None, None),
        (2, 1, "assistant", "", "", None, None, 0, None, None, None, None, None),
        (2, 2, "assistant", None, None, json.dumps(rich[2].tool_calls), None, None, None, None, None, None, None),
        (2, 3, "tool", "42", None, None, "c1", None, None, None, None, None, None),
        (2, 4, "assistant", "gen", None, None, None, None, "generated", "m", "stop",
         json.dumps(rich[4].alternatives), 1),
    ]
    assert rows == expected
    # ids follow the order of the import within and across batches
    with DatasetStore(db_path) as s:
        ids = [r[0] for r in s.conn.execute("SELECT id FROM messages ORDER BY chat_id, position")]
    assert ids == sorted(ids)


# -- File > Open of a chat file: the first chats committed apart (issue 15) --------------------


def many(n: int, start: int = 0) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"question {i}"},
                          {"role": "assistant", "content": f"answer {i}"}]} for i in range(start, start + n)]


def test_first_chats_are_committed_and_announced_then_the_rest_joins_their_undo_step(db_path: Path, tmp_path: Path):
    from lima_tk.formats import FIRST_CHATS
    from lima_tk.store import ChatFilter

    src = write_jsonl(tmp_path / "big.jsonl", many(FIRST_CHATS + 250))
    seen: list[tuple[int, int, list[str]]] = []
    progress: list[tuple[int, int]] = []
    with DatasetStore(db_path) as s:
        before = schema_of(s)

        def first(n: int) -> None:
            # the progress bar has moved with the first chats (a small file reports nothing else)
            done, total = progress[-1]
            assert 0 < done < total

            # Another connection (the window's) sees the first chats committed, and the step says
            # it is unfinished (what a crash here would leave).
            with DatasetStore(db_path, readonly=True) as other:
                seen.append((n, other.count_chats(), [st.label for st in other.journal.steps()]))

        report = import_file(s, src, "openai", first=first, progress=lambda d, t: progress.append((d, t)))
        assert seen == [(FIRST_CHATS, FIRST_CHATS, ["Import big.jsonl (unfinished)"])]
        assert report.chats == FIRST_CHATS + 250 and s.count_chats() == FIRST_CHATS + 250
        assert [st.label for st in s.journal.steps()] == ["Import big.jsonl"], "one undo step"
        assert [c.name for c in s.list_chats(limit=3)] == ["question 0", "question 1", "question 2"]
        assert s.count_chats(ChatFilter(text="answer")) == FIRST_CHATS + 250  # FTS of both parts
        assert schema_of(s) == before
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        q = s.conn.execute
        assert q("SELECT count(*) FROM messages INDEXED BY messages_chat WHERE chat_id > 0").fetchone()[0] \
            == q("SELECT count(*) FROM messages NOT INDEXED").fetchone()[0] == 2 * (FIRST_CHATS + 250)
        s.undo()
        assert s.count_chats() == 0 and q("SELECT count(*) FROM messages").fetchone()[0] == 0
        s.redo()
        assert s.count_chats() == FIRST_CHATS + 250


def test_first_part_stops_at_a_megabyte_of_big_chats(db_path: Path, tmp_path: Path):
    big = [{"messages": [{"role": "user", "content": f"q{i} " + "x" * 100_000}]} for i in range(30)]
    counts: list[int] = []
    with DatasetStore(db_path) as s:
        import_file(s, write_jsonl(tmp_path / "big.jsonl", big), "openai", first=counts.append)
        assert counts == [11] and s.count_chats() == 30  # 11 lines of ~100 kB pass 1 MiB


@pytest.mark.parametrize("failure", ["bad line", "cancel"])
def test_a_failure_after_the_first_chats_takes_them_out_again(db_path: Path, tmp_path: Path, failure: str):
    import threading

    from lima_tk.errors import Cancelled
    from lima_tk.formats import FIRST_CHATS

    tail = "{not json\n" if failure == "bad line" else ""
    src = write_jsonl(tmp_path / "broken.jsonl", many(FIRST_CHATS + 100), tail)
    cancel = threading.Event()
    announced: list[int] = []

    def first(n: int) -> None:
        announced.append(n)
        if failure == "cancel":
            cancel.set()

    with DatasetStore(db_path) as s:
        before = schema_of(s)
        with pytest.raises(FormatError if failure == "bad line" else Cancelled) as e:
            import_file(s, src, "openai", first=first, cancel=cancel)
        if failure == "bad line":
            assert e.value.line == FIRST_CHATS + 101
        assert announced == [FIRST_CHATS]
        assert s.count_chats() == 0 and s.conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
        assert s.conn.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'answer'").fetchone()[0] == 0
        assert s.journal.steps() == [] and s.undo_label() is None and s.redo_label() is None
        assert schema_of(s) == before


def test_first_is_refused_into_a_dataset_with_chats_or_for_several_files(db_path: Path, tmp_path: Path):
    from lima_tk.errors import ValidationError
    from lima_tk.formats import import_files

    a = write_jsonl(tmp_path / "a.jsonl", many(3))
    with DatasetStore(db_path) as s:
        with pytest.raises(ValidationError):
            import_files(s, [a, a], "openai", first=lambda n: None)
        import_file(s, a, "openai")
        with pytest.raises(ValidationError):
            import_file(s, write_jsonl(tmp_path / "b.jsonl", many(3, 3)), "openai", first=lambda n: None)
        assert s.count_chats() == 3


def test_a_small_file_is_all_in_the_first_part(db_path: Path, tmp_path: Path):
    counts: list[int] = []
    with DatasetStore(db_path) as s:
        report = import_file(s, write_jsonl(tmp_path / "small.jsonl", many(5)), "openai", first=counts.append)
        assert counts == [5] and report.chats == 5 and s.count_chats() == 5
        assert [st.label for st in s.journal.steps()] == ["Import small.jsonl"]


def test_kill_9_between_the_two_commits_leaves_the_first_chats_labelled_unfinished(db_path: Path, tmp_path: Path):
    """A real process killed right after the first commit (what a crash there leaves): the file is
    sound, holds the first chats, and its undo step says the import did not finish."""
    import os
    import subprocess
    import sys
    import textwrap

    from lima_tk.formats import FIRST_CHATS

    src = write_jsonl(tmp_path / "big.jsonl", many(FIRST_CHATS + 500))
    code = textwrap.dedent(f"""
        import os, signal
        from lima_tk.formats import import_file
        from lima_tk.store import DatasetStore
        with DatasetStore({str(db_path)!r}) as s:
            import_file(s, {str(src)!r}, "openai", first=lambda n: os.kill(os.getpid(), signal.SIGKILL))
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    with DatasetStore(db_path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.count_chats() == FIRST_CHATS
        assert s.undo_label() == "Import big.jsonl (unfinished)"
        s.undo()
        assert s.count_chats() == 0
