"""The chat list's fast paths (issue 15) give exactly what the plain SQL gives: the sort by tokens
read from the index of rendered counts (merged with chats not rendered yet), and a full-text
filter's first pages found block by block in list order instead of reading every match."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lima_tk.model import Chat, Message
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.store.db import SORTS

WORDS = ["alpha", "beta", "gamma", "delta", "sigma", "spectral", "salt", "stone", "omega", "zeta"]


def reference_by_tokens(s: DatasetStore, descending: bool) -> list[int]:
    d = "DESC" if descending else "ASC"
    return [r[0] for r in s.conn.execute(f"SELECT c.id FROM chats c ORDER BY {SORTS['tokens']} {d}, c.id {d}")]


@pytest.fixture
def tokens_store(db_path: Path):
    rng = random.Random(5)
    with DatasetStore(db_path) as s:
        s.add_chats([Chat(f"c{i}", messages=[Message("user", "q" * rng.randint(1, 9)), Message("assistant", "a")])
                     for i in range(300)] + [Chat("empty")])
        tok = s.token_key("test:v1")
        s.activate_token_key(tok)
        ids = [r[0] for r in s.conn.execute("SELECT id FROM chats ORDER BY id")]
        # most chats rendered (with ties), some only counted per message, one empty
        s.set_chat_tokens(tok, [(cid, rng.randint(5, 40), 0) for cid in ids[:250]])
        mids = [r[0] for r in s.conn.execute("SELECT id FROM messages WHERE chat_id > ?", (ids[250],))]
        s.set_message_tokens(tok, [(m, rng.randint(1, 30)) for m in mids])
        yield s, tok, ids


@pytest.mark.parametrize("descending", [False, True])
def test_sort_by_tokens_matches_the_plain_sql(tokens_store, descending: bool):
    s, tok, ids = tokens_store
    want = reference_by_tokens(s, descending)
    assert s.chat_ids(sort="tokens", descending=descending) == want
    for offset, limit in [(0, 50), (37, 20), (240, 30), (290, 50), (301, 10)]:
        page = [r.id for r in s.list_chats(sort="tokens", descending=descending, offset=offset, limit=limit)]
        assert page == want[offset:offset + limit], (offset, limit)
    # every chat rendered: the index alone (the merge is skipped), same order
    s.set_chat_tokens(tok, [(cid, 7, 0) for cid in ids[250:]])
    want = reference_by_tokens(s, descending)
    assert s.chat_ids(sort="tokens", descending=descending) == want
    assert [r.id for r in s.list_chats(sort="tokens", descending=descending, offset=100, limit=60)] == want[100:160]


@pytest.mark.parametrize("descending", [False, True])
def test_a_page_by_ids_keeps_the_order_of_the_whole_list(tokens_store, descending: bool):
    """The chat list pages a token sort by ids (chat_ids once, then list_chats of a window of
    ids): ties must come in the same order both ways, also when list order is not id order."""
    s, tok, ids = tokens_store
    s.move_chats(ids[200:260], -150)
    s.move_chats([ids[3]], 40)
    order = s.chat_ids(sort="tokens", descending=descending)
    for lo in (0, 17, 120, 250):
        window = order[lo:lo + 40]
        rows = s.list_chats(ChatFilter(ids=window), sort="tokens", descending=descending, limit=len(window))
        assert [r.id for r in rows] == window, lo
    # without a tokenizer key the generic SQL sorts the same way (ties by id)
    s.conn.execute("UPDATE token_keys SET active = 0")
    order = s.chat_ids(sort="tokens", descending=descending)
    window = order[30:80]
    rows = s.list_chats(ChatFilter(ids=window), sort="tokens", descending=descending, limit=len(window))
    assert [r.id for r in rows] == window


def test_sort_by_tokens_follows_an_edit(tokens_store):
    s, tok, ids = tokens_store
    first = s.list_chats(sort="tokens", descending=True, limit=1)[0].id
    s.edit_message_text(s.get_messages(first)[0].id, "changed")  # the trigger drops its rendered count
    assert s.chat_tokens_of(first, tok) is None
    assert [r.id for r in s.list_chats(sort="tokens", descending=True, limit=300)] == \
        reference_by_tokens(s, True)[:300]


@pytest.fixture
def text_store(db_path: Path):
    """1,500 chats: words of every frequency, names that match alone, and then edits that give
    early chats messages with high ids and move chats around the list."""
    rng = random.Random(11)
    chats = []
    for i in range(1500):
        n = rng.randint(1, 4)
        msgs = [Message(rng.choice(["user", "assistant"]), " ".join(rng.choice(WORDS[:9]) for _ in range(3)))
                for _ in range(n)]
        if i % 97 == 0:
            msgs.append(Message("user", "a rare zeta word"))
        chats.append(Chat("sigma name" if i % 50 == 0 else f"chat {i}", messages=msgs))
    with DatasetStore(db_path) as s:
        s.add_chats(chats)
        for cid in (3, 8, 700):
            s.add_message(cid, "user", "late spectral zeta message")
        s.move_chats([1400, 1401], -1300)
        s.move_chats([5], 900)
        yield s


QUERIES = ["s", "sp", "sa", "z", "zeta", "spectral", "sigma", "sigma name", "alpha beta", "nothing-here", "o"]


@pytest.mark.parametrize("descending", [False, True])
def test_text_filter_pages_match_the_plain_sql(text_store: DatasetStore, descending: bool):
    s = text_store
    for text in QUERIES:
        f = ChatFilter(text=text)
        want = s.chat_ids(f, descending=descending)  # every match, sorted by SQL
        assert s.count_chats(f) == len(want), text
        for offset, limit in [(0, 50), (0, 1), (13, 40), (600, 50), (950, 50)]:
            page = [r.id for r in s.list_chats(f, descending=descending, offset=offset, limit=limit)]
            assert page == want[offset:offset + limit], (text, offset, limit)


def test_text_filter_page_is_found_without_reading_every_match(text_store: DatasetStore, monkeypatch):
    """The page-first path must really be taken for a broad filter (and its rows be complete)."""
    s = text_store
    calls = []
    original = s._text_page
    monkeypatch.setattr(s, "_text_page", lambda *a, **k: calls.append(original(*a, **k)) or calls[-1])
    rows = s.list_chats(ChatFilter(text="s"), limit=50)
    assert calls and calls[0] is not None and len(rows) == 50
    assert all(r.n_messages >= 1 and r.name for r in rows)
    calls.clear()
    s.list_chats(ChatFilter(text="zeta"), limit=50)  # selective: falls back to reading every match
    assert calls == [None]
