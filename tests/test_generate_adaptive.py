"""Batch generation adapts to the server (issue 15): the real `lima-tk generate` with default flags
(--concurrency 4) against the local test server behaving like the servers people run at home.
llama-cpp-python serves one request at a time and cuts the running stream when another arrives
(it ends with [DONE] and no finish reason); others answer 429 or 503, with or without Retry-After.
Every chat must end with its complete reply, nothing cut may be saved as complete, and the run
says how far it lowered the concurrency."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lima_tk.cli import cli
from lima_tk.model import Message
from lima_tk.store import DatasetStore
from tests.assist_fixtures import running_server
from tests.openai_server import OpenAIServer


@pytest.fixture
def openai_server():
    yield from running_server()


def make_dataset(path: Path, n: int) -> list[int]:
    with DatasetStore(path) as s:
        return [s.create_chat(f"chat {i}", messages=[Message("system", "Be brief."), Message("user", f"question {i}")])
                for i in range(n)]


def generate(server: OpenAIServer, db: Path, *args: str):
    return CliRunner().invoke(cli, ["generate", "--db", str(db), "--base-url", server.base_url, "--model",
                                    "test-model", *args], catch_exceptions=False)


def assert_every_reply_complete(db: Path, ids: list[int]) -> None:
    with DatasetStore(db) as s:
        for i, cid in enumerate(ids):
            msgs = s.get_messages(cid)
            assert len(msgs) == 3, f"chat {cid}: exactly one reply"
            last = msgs[-1]
            assert (last.role, last.content, last.finish, last.source) == (
                "assistant", f"Echo: question {i} and some more words", "stop", "generated"), cid
        assert s.conn.execute("SELECT count(*) FROM messages WHERE role = 'assistant' AND "
                              "(finish IS NULL OR finish != 'stop')").fetchone()[0] == 0


def test_one_at_a_time_server_that_cuts_streams(openai_server: OpenAIServer, db_path: Path):
    ids = make_dataset(db_path, 10)
    openai_server.serve_one_at_a_time()
    # a reply in 6 pieces with a tail, so a cut reply is never mistaken for a whole one
    for i in range(10):
        openai_server.rule(f"question {i}\"", reply=f"Echo: question {i} and some more words", chunks=6,
                           chunk_delay=0.02)
    r = generate(openai_server, db_path)
    assert r.exit_code == 0, r.output
    assert "generated 10 replies for 10 chats" in r.stdout
    cut = [p for p in openai_server.posts() if p.cut]
    assert cut, "the server did cut streams: the run had to adapt"
    assert "concurrency: the server cut" in r.stderr and "lowered from 4 to 1" in r.stderr
    assert_every_reply_complete(db_path, ids)


@pytest.mark.parametrize("status, retry_after", [(429, "0.3"), (429, None), (503, None), (503, "0")])
def test_server_that_answers_busy(openai_server: OpenAIServer, db_path: Path, status: int, retry_after: str | None):
    ids = make_dataset(db_path, 8)
    openai_server.busy_above(1, status, retry_after)
    for i in range(8):
        openai_server.rule(f"question {i}\"", reply=f"Echo: question {i} and some more words", chunks=3,
                           chunk_delay=0.01)
    r = generate(openai_server, db_path)
    assert r.exit_code == 0, r.output
    assert "generated 8 replies for 8 chats" in r.stdout
    refused = [p for p in openai_server.posts() if p.status == status]
    assert refused, "the server did refuse requests: the run had to adapt"
    assert f"answered {len(refused)} request" in r.stderr and "with 429/503" in r.stderr
    assert "lowered from 4 to 1" in r.stderr
    assert_every_reply_complete(db_path, ids)
    if retry_after and float(retry_after) > 0:
        # after each refusal no new request starts before the pause the server asked for is over
        # (requests already on their way when the refusal arrived reach the server at once)
        pause = float(retry_after)
        for p in refused:
            early = [q.at - p.ended for q in openai_server.posts() if p.ended + 0.1 < q.at < p.ended + pause - 0.02]
            assert not early, early


def test_default_flags_still_run_in_parallel_when_the_server_keeps_up(openai_server: OpenAIServer,
                                                                      db_path: Path):
    make_dataset(db_path, 12)
    openai_server.set(delay=0.15)
    r = generate(openai_server, db_path)
    assert r.exit_code == 0 and "generated 12 replies" in r.stdout
    assert openai_server.max_in_flight >= 3
    assert "concurrency:" not in r.stderr  # nothing to report
