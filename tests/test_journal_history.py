"""Undo history as a user walks it: several undos then redos (which step comes back), the cap
after a reopen and after its own undo, compound steps that insert then edit a row, and undo/redo
shared by two processes on one file (the real `lima-tk undo` / `redo` CLI in a subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.store.journal import now_iso
from tests.test_journal import dump, seed

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    """The real command line in its own process (PYTHONPATH: this checkout, as tests/test_cli.py)."""
    return subprocess.run([sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def history(store: DatasetStore) -> list[tuple[str, str, bool]]:
    """(label, kind, undone) of every step, newest first."""
    return [(s.label, s.kind, s.undone) for s in store.journal.steps(1000)]


@pytest.fixture
def three_steps(store):
    """A seeded store with an empty journal, then three different steps; the four states."""
    k = seed(store)
    store.journal.clear()
    assert store.undo() is None and store.redo() is None and history(store) == []
    states = [dump(store)]
    store.rename_chat(k["a"], "first")
    states.append(dump(store))
    store.edit_message_text(k["m1"], "second")
    states.append(dump(store))
    store.delete_chats([k["b"]])
    states.append(dump(store))
    return store, k, states


def test_several_undos_then_redo_brings_back_the_oldest_undone_step(three_steps):
    store, _, states = three_steps
    assert history(store) == [("Delete 1 chat", "delete_chats", False), ("Edit message", "edit_text", False),
                              ("Rename chat", "update_chats", False)]
    undone = [store.undo(), store.undo()]
    assert [s.label for s in undone] == ["Delete 1 chat", "Edit message"]
    assert all(s.undone is True for s in undone)
    assert dump(store) == states[1]
    assert store.undo_label() == "Rename chat" and store.redo_label() == "Edit message"
    step = store.redo()  # the step undone last comes back first, not the newest one
    assert step is not None and step.label == "Edit message" and step.undone is False
    assert dump(store) == states[2]
    assert store.redo_label() == "Delete 1 chat" and store.undo_label() == "Edit message"
    assert store.redo().label == "Delete 1 chat"
    assert dump(store) == states[3]
    assert store.redo() is None and store.redo_label() is None
    # all the way down and one step up again
    assert [store.undo().label for _ in range(3)] == ["Delete 1 chat", "Edit message", "Rename chat"]
    assert store.undo() is None and dump(store) == states[0]
    assert store.redo().label == "Rename chat" and dump(store) == states[1]
    assert history(store) == [("Delete 1 chat", "delete_chats", True), ("Edit message", "edit_text", True),
                              ("Rename chat", "update_chats", False)]


def test_new_step_after_several_undos_drops_exactly_the_redo_tail(three_steps):
    store, k, states = three_steps
    store.undo()
    store.undo()
    store.rename_chat(k["b"], "other")
    assert store.redo() is None
    assert [label for label, _, _ in history(store)] == ["Rename chat", "Rename chat"]
    store.undo()
    assert dump(store) == states[1]
    assert store.undo().label == "Rename chat" and dump(store) == states[0]
    assert store.undo() is None


def test_undo_redo_survive_a_reopen_in_the_middle_of_the_history(three_steps, db_path):
    store, _, states = three_steps
    store.undo()
    store.undo()
    store.close()
    with DatasetStore(db_path) as again:
        assert dump(again) == states[1]
        assert again.redo().label == "Edit message" and dump(again) == states[2]
        assert again.undo().label == "Edit message" and again.undo().label == "Rename chat"
        assert dump(again) == states[0]


def test_step_reports_kind_and_target(store):
    k = seed(store)
    store.edit_message_text(k["m2"], "typed")
    top = store.journal.next_undo()
    assert (top.label, top.kind, top.target, top.undone) == ("Edit message", "edit_text", k["m2"], False)
    assert store.journal.steps(1)[0].id == top.id and store.journal.steps(1)[0].target == k["m2"]
    undone = store.undo()
    assert (undone.id, undone.kind, undone.target, undone.undone) == (top.id, "edit_text", k["m2"], True)
    nxt = store.journal.next_redo()
    assert (nxt.id, nxt.kind, nxt.target, nxt.undone) == (top.id, "edit_text", k["m2"], True)
    assert store.journal.steps(1)[0].undone is True


def test_steps_lists_newest_first_up_to_the_limit(store):
    cid = store.create_chat("c")
    for i in range(120):
        store.rename_chat(cid, f"n{i}")
    steps = store.journal.steps()
    assert len(steps) == 100  # the default limit
    ids = [s.id for s in steps]
    assert ids == sorted(ids, reverse=True) and len(store.journal.steps(1000)) == 121
    assert steps[0].label == "Rename chat" and store.journal.steps(1000)[-1].label == "New chat"


def test_clear_forgets_undo_and_redo(store):
    k = seed(store)
    store.rename_chat(k["a"], "x")
    store.undo()
    store.journal.clear()
    assert store.undo() is None and store.redo() is None and store.journal.steps() == []
    assert store.conn.execute("SELECT count(*) FROM journal_chats").fetchone()[0] == 0


# -- the cap -------------------------------------------------------------------------------------


def orphan_images(store: DatasetStore) -> int:
    return sum(store.conn.execute(f"SELECT count(*) FROM journal_{t} WHERE entry_id NOT IN (SELECT id FROM journal)")
               .fetchone()[0] for t in ("chats", "messages", "tools", "settings", "new"))


def test_cap_holds_after_the_file_is_reopened(db_path):
    with DatasetStore(db_path) as s:
        cid = s.create_chat("c", messages=[Message("user", "x")])
        s.set_setting("journal_cap", 3)
    with DatasetStore(db_path) as s:
        for i in range(10):
            s.rename_chat(cid, f"n{i}")
        assert len(s.journal.steps(1000)) == 3
        assert orphan_images(s) == 0, "trimmed steps leave no row images behind"
        assert [s.undo().label for _ in range(3)] == ["Rename chat"] * 3
        assert s.undo() is None and s.get_chat(cid).name == "n6"


def test_cap_of_one_keeps_one_step_and_zero_keeps_all(store):
    cid = store.create_chat("c")
    store.set_setting("journal_cap", 1)
    store.rename_chat(cid, "a")
    store.rename_chat(cid, "b")
    assert [label for label, _, _ in history(store)] == ["Rename chat"]
    store.set_setting("journal_cap", 0)  # 0: no limit
    for i in range(8):
        store.rename_chat(cid, f"n{i}")
    assert len(store.journal.steps(1000)) == 10


def test_undoing_a_cap_change_restores_the_old_cap(store):
    """The cap lives in the dataset: undoing "Set journal cap" must not leave the history
    trimmed to the undone value (it did: the open store kept the new cap in memory)."""
    cid = store.create_chat("c")
    store.set_setting("journal_cap", 2)
    assert store.undo().label == "Set journal cap" and store.get_setting("journal_cap") == 500
    for i in range(6):
        store.rename_chat(cid, f"n{i}")
    assert len(store.journal.steps(1000)) == 7  # "New chat" and six renames: nothing trimmed


def test_cap_set_by_another_process_applies_to_an_open_store(store, db_path):
    cid = store.create_chat("c")
    r = cli("config", "journal_cap", "2", "--db", str(db_path))
    assert r.returncode == 0, r.stderr
    for i in range(5):
        store.rename_chat(cid, f"n{i}")
    assert len(store.journal.steps(1000)) == 2


# -- compound steps --------------------------------------------------------------------------------


def test_step_that_inserts_then_edits_rows_undoes_to_nothing(store):
    """Rows a step inserted have no "before": editing them later in the same step must not
    record one, or undo would bring the half-made chat back instead of removing it."""
    k = seed(store)
    before = dump(store)
    with store.change("Draft a chat", "group"):
        cid = store.create_chat("draft", messages=[Message("user", "zebra draft")])
        mid = store.add_message(cid, "assistant", "first")
        store.edit_message_text(mid, "second")
        store.set_role([mid], "user")
        store.rename_chat(cid, "renamed draft")
        store.rename_chat(k["a"], "touched too")
    after = dump(store)
    assert store.undo().label == "Draft a chat"
    assert dump(store) == before
    store.redo()
    assert dump(store) == after


def test_now_iso_is_utc_with_milliseconds_and_z():
    stamp = now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - parsed).total_seconds()) < 60


# -- two processes, one file -----------------------------------------------------------------------


def test_undo_and_redo_from_another_process(three_steps, db_path):
    """The GUI (this process) keeps the file open while `lima-tk undo` / `redo` run: both walk
    one history, and each sees the other's steps at once."""
    store, k, states = three_steps
    r = cli("undo", "--db", str(db_path))
    assert (r.returncode, r.stdout.strip()) == (0, "undid: Delete 1 chat"), r.stderr
    assert dump(store) == states[2]
    assert store.redo_label() == "Delete 1 chat" and store.undo_label() == "Edit message"
    assert cli("undo", "--db", str(db_path)).stdout.strip() == "undid: Edit message"
    assert dump(store) == states[1]
    # this process redoes one of them; the other process redoes the rest
    assert store.redo().label == "Edit message" and dump(store) == states[2]
    assert cli("redo", "--db", str(db_path)).stdout.strip() == "redid: Delete 1 chat"
    assert dump(store) == states[3]
    assert cli("redo", "--db", str(db_path)).stdout.strip() == "nothing to redo"
    # a new step here cuts the redo tail the other process left
    store.undo()
    store.rename_chat(k["a"], "new")
    assert cli("redo", "--db", str(db_path)).stdout.strip() == "nothing to redo"
    assert cli("undo", "--db", str(db_path)).stdout.strip() == "undid: Rename chat"
    assert store.get_chat(k["a"]).name == "first"


def test_typing_after_another_process_undid_it_is_a_new_step(store, db_path):
    k = seed(store)
    original = store.get_message(k["m1"])[1].content
    store.edit_message_text(k["m1"], "typed here")
    assert cli("undo", "--db", str(db_path)).stdout.strip() == "undid: Edit message"
    assert store.get_message(k["m1"])[1].content == original
    store.edit_message_text(k["m1"], "typed again")  # must not merge into the undone step
    assert store.redo_label() is None
    store.undo()
    assert store.get_message(k["m1"])[1].content == original


def test_cap_without_a_setting_row_falls_back_to_the_journals_own(store):
    """Every dataset has a journal_cap row; a file edited by hand may not (or hold garbage)."""
    cid = store.create_chat("c")
    store.conn.execute("DELETE FROM settings WHERE key = 'journal_cap'")
    store.journal.cap = 2
    for i in range(4):
        store.rename_chat(cid, f"n{i}")
    assert len(store.journal.steps(1000)) == 2
    store.conn.execute("INSERT INTO settings (key, value) VALUES ('journal_cap', 'not json')")
    store.journal.cap = 3
    for i in range(4):
        store.rename_chat(cid, f"m{i}")
    assert len(store.journal.steps(1000)) == 3


def test_a_dataset_without_a_cap_row_opens_with_the_default_cap(db_path):
    with DatasetStore(db_path) as s:
        cid = s.create_chat("c")
        s.conn.execute("DELETE FROM settings WHERE key = 'journal_cap'")
    with DatasetStore(db_path) as s:
        assert s.journal.current_cap() == 500
        s.rename_chat(cid, "still journaled")
        assert s.undo().label == "Rename chat"
