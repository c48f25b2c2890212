"""The store's named reads and housekeeping (lima_tk/store/queries.py) that the windows, formats,
stats and CLI use instead of SQL of their own (issue 14)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from lima_tk.errors import Cancelled
from lima_tk.model import Message
from lima_tk.store import ChatFilter, DatasetStore


@pytest.fixture()
def store(tmp_path):
    s = DatasetStore(tmp_path / "q.lima.db")
    yield s
    s.close()


def _chats(store: DatasetStore) -> tuple[int, int, int]:
    a = store.create_chat(name="a", messages=[Message("user", "hi"), Message("assistant", "hello", weight=0)])
    b = store.create_chat(name="b", messages=[Message("user", "question")])
    c = store.create_chat(name="c")
    return a, b, c


def test_save_copy_is_a_whole_dataset_and_cancel_leaves_no_file(store, tmp_path):
    _chats(store)
    seen: list[tuple[int, int]] = []
    out = store.save_copy(tmp_path / "copy.lima.db", progress=lambda d, t: seen.append((d, t)), pages=1)
    assert out == tmp_path / "copy.lima.db" and seen and seen[-1][0] == seen[-1][1]
    with DatasetStore(out, readonly=True) as copy:
        assert [c.name for c in copy.list_chats()] == ["a", "b", "c"]
    # a self-contained file: no -wal to carry along
    assert not (tmp_path / "copy.lima.db-wal").exists()

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        store.save_copy(tmp_path / "never.lima.db", cancel=cancel, pages=1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".never", "never"))) == []


def test_counts_and_signatures_follow_the_data(store):
    assert not store.has_messages()
    sig = store.content_signature()
    stats_sig = store.stats_signature()
    a, b, _ = _chats(store)
    assert store.has_messages()
    assert store.no_train_reply_count() == 1
    assert store.rejected_version_count() == 0
    assert store.content_signature() != sig and store.stats_signature() != stats_sig
    sig = store.content_signature()
    tok = store.token_key("k", "setting")
    store.set_message_tokens(tok, [(m.id, 3) for m in store.get_chat(a).messages])
    assert store.content_signature() == sig  # token counts are not data
    assert store.has_token_key(tok, "k") and not store.has_token_key(tok, "other")
    mid = store.get_chat(a).messages[1].id
    store.add_alternative(mid, "another")
    store.set_alternative_rejected(mid, 0, True)
    assert store.rejected_version_count() == 1


def test_rows_for_duplicates_generate_and_stats(store):
    a, b, c = _chats(store)
    outlines = list(store.message_outlines())
    assert [cid for cid, _ in outlines] == [a, b]  # the empty chat has no outline
    assert [(m.role, m.content) for m in outlines[0][1]] == [("user", "hi"), ("assistant", "hello")]
    last = store.last_messages()
    assert [(cid, role) for cid, _, role in last] == [(a, "assistant"), (b, "user"), (c, None)]
    assert store.last_message_id(b) == store.get_chat(b).messages[-1].id
    assert store.last_message_id(c) is None
    rows = store.stats_rows(ChatFilter(ids=[a, c]))
    assert rows.chats == 2 and len(rows.per_chat) == 1 and rows.key is None
    assert {r[0]: r[1] for r in rows.roles} == {"assistant": 1, "user": 1}


def test_extend_setting_appends_once_and_is_one_undo_step(store):
    store.set_setting("languages", ["en"])
    store.extend_setting("languages", ["de", "en", "de", ""])
    assert store.get_setting("languages") == ["en", "de"]
    store.undo()
    assert store.get_setting("languages") == ["en"]


def test_interrupt_stops_a_running_query_from_another_thread(store):
    _chats(store)
    timer = threading.Timer(0.05, store.interrupt)
    timer.start()
    with pytest.raises(sqlite3.OperationalError, match="interrupt"):
        # a query that runs until interrupted
        store.conn.execute("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
                           "SELECT count(*) FROM r").fetchone()
    timer.join()
