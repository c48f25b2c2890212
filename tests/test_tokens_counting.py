"""Counting the dataset (issue 17): when a pass is needed, what a pass of some chats touches, its
progress and its cancel in each pass, which key becomes active, a chat counted without its
rendering, and the count job's events. Real tokenizers, real SQLite files."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from lima_tk import tokens
from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore
from lima_tk.tokens import count_chat, count_dataset, counting_needed, ensure_counted, load_counter
from tests.tokenizer_fixtures import bpe_tokenizer_json, word_tokenizer_json

pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


@pytest.fixture(scope="module")
def tok_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bpe_tokenizer_json(tmp_path_factory.mktemp("tok") / "tokenizer.json")


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return word_tokenizer_json(tmp_path_factory.mktemp("words") / "tokenizer.json")


def _chats(store: DatasetStore, n: int = 3) -> list[int]:
    return [store.create_chat(f"c{i}", messages=[Message("user", f"hello {i}"), Message("assistant", "world one")])
            for i in range(n)]


def test_counting_needed_follows_the_dataset_and_the_setting(store: DatasetStore, words: Path) -> None:
    assert counting_needed(store) is False  # no messages: nothing to count
    assert ensure_counted(store) is None
    ids = _chats(store, 2)
    store.set_setting("tokenizer", str(words))
    assert counting_needed(store) is True  # nothing counted yet
    r = ensure_counted(store)
    assert r is not None and (r.messages, r.chats, r.estimate) == (4, 2, False)
    assert counting_needed(store) is False and ensure_counted(store) is None
    # one new message: needed, and only that message (and its chat's rendering) is counted
    store.add_message(ids[0], "user", "two three")
    assert counting_needed(store) is True
    r = ensure_counted(store)
    assert r is not None and (r.messages, r.chats) == (1, 1)
    assert counting_needed(store) is False
    # the tool definitions change the rendering only: no message is uncounted, the chat is
    store.add_tool(ids[1], Tool("weather", "w", {"type": "object", "properties": {}}))
    key = store.active_token_key()
    assert key is not None and store.count_uncounted(key.id) == 0 and store.count_uncounted_chats(key.id) == 1
    assert counting_needed(store) is True
    r = ensure_counted(store)
    assert r is not None and (r.messages, r.chats) == (0, 1)
    # another tokenizer: everything again, under a new key
    store.set_setting("tokenizer", "estimate")
    assert counting_needed(store) is True
    r = ensure_counted(store)
    assert r is not None and r.estimate and (r.messages, r.chats) == (5, 2)
    assert counting_needed(store) is False  # the estimate asked for is settled
    assert store.active_token_key().estimate


def test_an_estimate_standing_in_for_a_tokenizer_is_tried_again(store: DatasetStore) -> None:
    """Offline, a hub id is counted as an estimate; the next pass tries the tokenizer again (it
    may be in the cache by now), and a read-only dataset never counts."""
    _chats(store, 1)
    store.set_setting("tokenizer", "acme/not-cached")
    r = ensure_counted(store)
    assert r is not None and r.estimate and "acme/not-cached" in r.reason
    key = store.active_token_key()
    assert key is not None and key.estimate and key.setting == "acme/not-cached"
    assert store.count_uncounted(key.id) == 0 and store.count_uncounted_chats(key.id) == 0
    assert counting_needed(store) is True
    ro = DatasetStore(store.path, readonly=True)
    try:
        assert counting_needed(ro) is False
    finally:
        ro.close()


def test_a_count_of_some_chats_touches_only_those(store: DatasetStore, tok_file: Path) -> None:
    ids = _chats(store, 3)
    c = tokens.estimate_counter(reason="testing the reason")
    r = count_dataset(store, c, chat_ids=[ids[1]], activate=False)
    assert (r.key, r.estimate, r.reason, r.note) == (c.key, True, "testing the reason", c.template_note)
    assert (r.messages, r.chats, r.cancelled) == (2, 1, False)
    assert store.active_token_key() is None  # activate=False: the list keeps what it shows
    tok = tokens.token_key_id(store, c)
    assert store.uncounted_message_ids(tok) == [m.id for i in (ids[0], ids[2]) for m in store.get_messages(i)]
    assert sorted(store.uncounted_chat_ids(tok)) == [ids[0], ids[2]]
    # a bare tokenizer.json lays chats out in ChatML, and says so
    b = load_counter(str(tok_file))
    assert b.template_note
    r = count_dataset(store, b, chat_ids=[ids[0], ids[2]])
    assert (r.messages, r.chats, r.note) == (4, 2, b.template_note)
    assert store.active_token_key().key == b.key  # activate=True and nothing was active


def test_progress_counts_messages_then_chats_to_the_total(store: DatasetStore, tok_file: Path) -> None:
    _chats(store, 5)
    seen: list[tuple[int, int]] = []
    r = count_dataset(store, load_counter(str(tok_file)), progress=lambda d, t: seen.append((d, t)),
                      chunk=3, chat_chunk=2)
    assert (r.messages, r.chats) == (10, 5)
    # 10 messages in chunks of 3, then 5 chats in chunks of 2, every report with the total 15
    assert seen == [(0, 15), (3, 15), (6, 15), (9, 15), (10, 15), (12, 15), (14, 15), (15, 15)]


def test_a_cancel_in_the_message_pass_counts_no_chats_and_keeps_the_active_key(store: DatasetStore,
                                                                             tok_file: Path) -> None:
    _chats(store, 4)
    first = tokens.estimate_counter()
    count_dataset(store, first)
    active = store.active_token_key()
    assert active is not None and active.key == first.key
    cancel = threading.Event()
    r = count_dataset(store, load_counter(str(tok_file)), progress=lambda d, t: cancel.set() if d else None,
                      cancel=cancel, chunk=2)
    assert r.cancelled and r.messages == 4 and r.chats == 0 and r.rendered == 0
    # a half-counted tokenizer does not replace the complete counts the list shows
    assert store.active_token_key().key == first.key


def test_a_cancel_in_the_chat_pass_stops_it(store: DatasetStore, tok_file: Path) -> None:
    _chats(store, 6)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 12:  # past the 12 messages: the first chunk of chats is stored
            cancel.set()

    r = count_dataset(store, load_counter(str(tok_file)), progress=progress, cancel=cancel, chat_chunk=2)
    # the second chunk was already being encoded when the first was stored: it is kept
    assert r.cancelled and r.messages == 12 and r.chats == 4
    tok = store.active_token_key()
    assert tok is not None and store.count_uncounted_chats(tok.id) == 2


def test_an_empty_chat_counts_nothing(store: DatasetStore, words: Path) -> None:
    empty = store.create_chat("empty")
    c = load_counter(str(words))
    nothing = count_chat(store, c, empty)
    assert (nothing.per_message, nothing.content, nothing.total, nothing.overhead, nothing.trainable) == \
        ({}, 0, 0, 0, 0)
    assert nothing.label() == "0 / 4,096" and not nothing.over_limit


def test_count_chat_counts_that_chat_and_activates_a_key_only_when_none_is(store: DatasetStore,
                                                                            words: Path) -> None:
    ids = _chats(store, 3)
    c = load_counter(str(words))
    cc = count_chat(store, c, ids[2])
    assert cc.content == 2 + 2 and set(cc.per_message) == {m.id for m in store.get_messages(ids[2])}
    assert cc.limit == 4096  # the default
    store.set_setting("context_limit", 0)  # no limit
    cc = count_chat(store, c, ids[2])
    assert cc.limit == 0 and cc.label() == f"{cc.total:,}" and not cc.over_limit
    tok = tokens.token_key_id(store, c)
    assert store.active_token_key().id == tok  # nothing was active: this one is
    assert store.count_uncounted(tok) == 4  # the other chats are left for the pass
    other = tokens.estimate_counter()
    est = count_chat(store, other, ids[0])
    assert est.estimate and est.label().startswith("~")
    assert store.active_token_key().id == tok  # the editor's count does not switch the list's key


def test_the_count_job_reports_status_progress_and_done(db_path: Path, tok_file: Path) -> None:
    folder = db_path.parent
    (folder / "tok").mkdir()
    (folder / "tok" / "tokenizer.json").write_bytes(tok_file.read_bytes())
    with DatasetStore(db_path) as s:
        _chats(s, 2)
        s.set_setting("tokenizer", "tok/tokenizer.json")  # relative to the dataset's folder
    events: queue.Queue = queue.Queue()
    t = tokens.start_count_job(db_path, events)
    assert t.daemon  # a count never keeps lima-tk from exiting
    t.join(timeout=60)
    got = []
    while not events.empty():
        got.append(events.get())
    assert got[0] == ("status", "Loading tokenizer tok/tokenizer.json…")
    assert [p for k, p in got if k == "progress"] == [(0, 6), (4, 6), (6, 6)]
    kind, result = got[-1]
    assert kind == "done" and not result.estimate and (result.messages, result.chats) == (4, 2)


def test_the_count_job_says_why_counts_are_estimates_and_reports_errors(db_path: Path, tmp_path: Path) -> None:
    with DatasetStore(db_path) as s:
        _chats(s, 1)
    events: queue.Queue = queue.Queue()
    cancel = threading.Event()
    cancel.set()
    tokens.start_count_job(db_path, events, cancel=cancel).join(timeout=60)
    got = []
    while not events.empty():
        got.append(events.get())
    assert got[0] == ("status", f"Loading tokenizer {tokens.DEFAULT_TOKENIZER}…")
    assert got[1][0] == "status" and got[1][1].startswith("Token counts are estimates: ")
    kind, result = got[-1]
    assert kind == "done" and result.cancelled and result.messages == 0  # cancelled before the first chunk
    # a dataset that cannot be opened: one error event with a message
    events = queue.Queue()
    tokens.start_count_job(tmp_path, events).join(timeout=60)
    kind, text = events.get_nowait()
    assert kind == "error" and "folder" in text
    assert events.empty()


def test_a_text_being_encoded_is_not_encoded_again_by_the_next_chunk(store: DatasetStore, tok_file: Path) -> None:
    """Chunk 2 is read while chunk 1 is being encoded: a text of chunk 1 met again is counted once."""
    store.create_chat("a", messages=[Message("user", "same text"), Message("user", "same text"),
                                     Message("user", "other"), Message("user", "same text")])
    c = load_counter(str(tok_file))
    r = count_dataset(store, c, chunk=1)
    assert (r.messages, r.encoded) == (4, 2)
    tok = store.active_token_key()
    assert len(set(store.message_token_counts(store.list_chats()[0].id, tok.id).values())) == 2


def test_ensure_counted_reads_relative_paths_from_the_dataset_folder_and_reports(db_path: Path,
                                                                              words: Path) -> None:
    (db_path.parent / "tok").mkdir()
    (db_path.parent / "tok" / "tokenizer.json").write_bytes(words.read_bytes())
    with DatasetStore(db_path) as s:
        _chats(s, 2)
        s.set_setting("tokenizer", "tok/tokenizer.json")
        cancel = threading.Event()
        cancel.set()
        r = ensure_counted(s, cancel=cancel)
        assert r is not None and r.cancelled and r.messages == 0 and not r.estimate
        seen: list[tuple[int, int]] = []
        r = ensure_counted(s, progress=lambda d, t: seen.append((d, t)))
        assert r is not None and not r.estimate and (r.messages, r.chats) == (4, 2)
        assert seen[0] == (0, 6) and seen[-1] == (6, 6)


def test_the_default_tokenizer_from_the_cache_settles(store: DatasetStore, tmp_path: Path, words: Path) -> None:
    """No tokenizer chosen: the default one, here in the local hub cache; once counted, nothing
    is needed until something changes."""
    from tests.tokenizer_fixtures import model_folder

    repo = tmp_path / "hub" / ("models--" + tokens.DEFAULT_TOKENIZER.replace("/", "--"))
    model_folder(repo / "snapshots" / "abc123", make=word_tokenizer_json)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    _chats(store, 1)
    assert store.get_setting("tokenizer") in (None, "")
    r = ensure_counted(store)
    assert r is not None and not r.estimate
    assert counting_needed(store) is False and ensure_counted(store) is None


def test_count_chat_counts_with_the_counter_it_is_given(store: DatasetStore, words: Path) -> None:
    text = "supercalifragilisticexpialidocious"  # one (unknown) word: one token for the words tokenizer
    cid = store.create_chat("c", messages=[Message("user", text)])
    mid = store.get_messages(cid)[0].id
    assert count_chat(store, load_counter(str(words)), cid).per_message == {mid: 1}  # the words key is active now
    est = tokens.estimate_counter()
    assert est.count(text) != 1
    assert count_chat(store, est, cid).per_message == {mid: est.count(text)}  # not the active key's count


def test_a_chat_pass_counts_trainable_messages_the_cache_lost(store: DatasetStore, tmp_path: Path,
                                                             words: Path) -> None:
    """The per-message counts are there but the content cache lost their texts (rebuilt, or an
    older file): the chat pass counts the trainable replies itself."""
    from tests.tokenizer_fixtures import model_folder

    folder = model_folder(tmp_path / "m", make=word_tokenizer_json)  # a template without generation blocks
    cid = store.create_chat("c", messages=[Message("user", "one two"), Message("assistant", "three four five"),
                                           Message("user", "six"), Message("assistant", "seven eight", weight=0),
                                           Message("assistant", "nine ten hello world")])
    c = load_counter(str(folder))
    count_dataset(store, c)
    tok = tokens.token_key_id(store, c)
    assert store.chat_token_totals([cid])[cid].trainable == 3 + 4
    store.conn.execute("DELETE FROM token_cache")
    store.add_tool(cid, Tool("noop"))  # the rendering changes: the chat is counted again
    r = count_dataset(store, c)
    assert (r.messages, r.chats) == (0, 1)
    assert store.chat_token_totals([cid])[cid].trainable == 3 + 4
    assert store.count_uncounted_chats(tok) == 0
