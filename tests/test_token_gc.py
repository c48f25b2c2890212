"""The background token count and garbage collection (issue 15). A collection runs in C holding
the GIL over every tracked object, so the counting thread's allocations froze the Tk loop for up
to ~140 ms at a time. The count job freezes the heap it starts with (and thaws it when it ends),
and renders chats in chunks small enough that few of them are alive at once. The stall itself
is measured by scripts/bench_token_stall.py, not here."""

from __future__ import annotations

import gc
import queue
import threading
import time
import weakref
from pathlib import Path

import pytest

from lima_tk import tokens
from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore
from lima_tk.tokens import count_dataset, frozen_heap, load_counter, start_count_job
from tests.tokenizer_fixtures import bpe_tokenizer_json

pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


@pytest.fixture(scope="module")
def tok_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bpe_tokenizer_json(tmp_path_factory.mktemp("tok") / "tokenizer.json")


def _dataset(path: Path, n: int, tok_file: Path) -> None:
    with DatasetStore(path) as s:
        s.add_chats([Chat(f"c{i}", messages=[Message("user", f"hello number {i}"),
                                             Message("assistant", f"the answer is {i} words long")])
                     for i in range(n)])
        s.set_setting("tokenizer", str(tok_file))


class _Recording(queue.Queue):
    """The job's event queue, noting whether the heap was frozen at each progress event."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen: list[int] = []

    def put(self, item, block=True, timeout=None):  # noqa: ANN001 - queue.Queue's signature
        if item[0] == "progress":
            self.frozen.append(gc.get_freeze_count())
        super().put(item, block, timeout)


@pytest.fixture(autouse=True)
def thawed_heap():
    """Start from a thawed heap: Python 3.12.0-3.12.x starts with a few hundred objects frozen
    (gc.get_freeze_count() is 375 at start-up, before any import), and a count job of an earlier
    test may still be ending on its thread."""
    deadline = time.monotonic() + 10
    while tokens._frozen_depth and time.monotonic() < deadline:
        time.sleep(0.01)
    gc.unfreeze()
    yield


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_count_job_runs_frozen_and_thaws_what_died_meanwhile(db_path: Path, tok_file: Path):
    _dataset(db_path, 40, tok_file)
    assert gc.get_freeze_count() == 0
    garbage = _Cycle()
    dead = weakref.ref(garbage)
    events = _Recording()
    job = start_count_job(db_path, events, download=False)
    del garbage  # dies in a cycle while (or before) the heap is frozen
    job.join(60)
    kinds = []
    while not events.empty():
        kinds.append(events.get()[0])
    assert kinds[-1] == "done", kinds
    assert events.frozen and all(n > 0 for n in events.frozen), "the count runs with the heap frozen"
    assert gc.get_freeze_count() == 0, "and thaws it when it ends"
    gc.collect()
    assert dead() is None, "a cycle that died meanwhile is collected once the heap is thawed"


def test_frozen_heap_nests_across_threads():
    assert gc.get_freeze_count() == 0
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with frozen_heap():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    with frozen_heap():
        t.start()
        assert inside.wait(10)
    assert gc.get_freeze_count() > 0, "the other count still runs: the heap stays frozen"
    release.set()
    t.join(10)
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_rendering_keeps_few_chats_alive(db_path: Path, tok_file: Path):
    """Chats are rendered in chunks, two in flight (one encoding, one rendering): the objects
    every full collection has to walk stay bounded, whatever the size of the dataset."""
    _dataset(db_path, 900, tok_file)
    alive: list[int] = []
    gc.collect()
    before = sum(1 for o in gc.get_objects() if type(o) is Chat)  # other tests' leftovers

    def progress(done: int, total: int) -> None:
        alive.append(sum(1 for o in gc.get_objects() if type(o) is Chat) - before)

    with DatasetStore(db_path) as s:
        r = count_dataset(s, load_counter(str(tok_file)), progress)
    assert r.chats == 900
    assert max(alive) <= 2 * 256 + 10, max(alive)


def test_counts_are_the_same_whatever_the_chunks(db_path: Path, tok_file: Path, tmp_path: Path):
    _dataset(db_path, 70, tok_file)
    other = tmp_path / "other.lima.db"
    _dataset(other, 70, tok_file)
    c = load_counter(str(tok_file))
    with DatasetStore(db_path) as a, DatasetStore(other) as b:
        count_dataset(a, c, chat_chunk=7)
        count_dataset(b, c, chat_chunk=2048)
        ka, kb = a.active_token_key(), b.active_token_key()
        assert ka is not None and kb is not None
        ids = [r[0] for r in a.conn.execute("SELECT id FROM chats")]
        assert a.chat_token_totals(ids, ka) == b.chat_token_totals(ids, kb)
