"""The stats board window: numbers drawn from the real stats, filters, CSV export, live refresh."""

from __future__ import annotations

import csv
import gc
import tkinter as tk
from pathlib import Path

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.ui import timers
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.stats_board import StatsBoard, compact, open_stats_board
from lima_tk.ui.theme import apply_theme
from tests.tokenizer_fixtures import word_tokenizer_json
from tests.ui.conftest import wait_until


class StandIn:
    """What the board needs from the main window: root, store, status()."""

    def __init__(self, db: Path) -> None:
        gc.collect()  # earlier tests' Tk garbage too (see close)
        self.root = tk.Tk()
        self.root.withdraw()
        apply_theme(self.root, 10)
        self.root.report_callback_exception = handle_callback_error
        self.store = DatasetStore(db)
        self.messages: list[str] = []

    def status(self, text: str) -> None:
        self.messages.append(text)

    def close(self) -> None:
        self.store.close()
        timers.cancel_all(self.root)  # no timer fires into a deleted command
        self.root.destroy()
        # Collect this Tk's cyclic garbage here, on the main thread: left for later, a worker
        # thread's allocation could trigger the collection and delete the interpreter from there.
        gc.collect()


pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


@pytest.fixture
def app(tmp_path: Path):
    """The known dataset of tests/test_stats.py, with the word-level tokenizer (1 token per word)."""
    db = tmp_path / "board.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("A", "en", ["a"], messages=[
            Message("system", "one two"), Message("user", "three four five"), Message("assistant", "six")])
        s.create_chat("B", "de", ["a", "b"], messages=[
            Message("user", "a b c d"), Message("assistant", "e f", weight=0), Message("user", "g"),
            Message("assistant", "h i j", weight=1)])
        s.create_chat("C", "en", [], messages=[Message("user", "x")])
        s.create_chat("D", "en", ["b"])
        s.set_setting("context_limit", 5)
        s.set_setting("tokenizer", str(word_tokenizer_json(tmp_path / "words" / "tokenizer.json")))
    a = StandIn(db)
    yield a
    a.close()


def card(board: StatsBoard, key: str) -> str:
    return board.canvas.itemcget(board.canvas.find_withtag(f"card:{key}")[0], "text")


def shown(board: StatsBoard) -> dict:
    wait_until(lambda: board.state == "done" and board.stats is not None, board, timeout=20)
    board.update()
    assert board.stats is not None
    return board.stats


def test_board_draws_the_numbers(app: StandIn) -> None:
    board = open_stats_board(app)
    board.geometry("1000x800")
    s = shown(board)
    # counted by the board's worker; a bare tokenizer.json: chats rendered as ChatML (3 tokens a message)
    assert s["tokens"]["total"] == 41 and not s["tokens"]["estimate"]
    assert (card(board, "chats"), card(board, "messages"), card(board, "tokens")) == ("4", "8", "41")
    assert (card(board, "trainable"), card(board, "over_limit")) == ("6", "2")
    c = board.canvas
    assert len(c.find_withtag("hist:tokens")) == 4  # buckets 0-1, 4-5, 14-15 and 22-23 tokens
    assert len(c.find_withtag("hist:messages")) == 4
    assert c.find_withtag("hist:tokens:limit")  # the context limit is marked
    for tag in ("bars:tags:a", "bars:tags:b", "bars:tags:(untagged)", "bars:langs:en", "bars:langs:de"):
        assert c.find_withtag(tag), tag
    assert c.itemcget(c.find_withtag("bars:role_tokens:value:user")[0], "text") == "9"
    assert c.itemcget(c.find_withtag("bars:role_tokens:value:assistant (trainable)")[0], "text") == "4"
    # everything drawn lies inside the scroll region, nothing to the left of the canvas
    x0, y0, x1, y1 = c.bbox("all")
    region = [float(v) for v in str(c.cget("scrollregion")).split()]
    assert x0 >= 0 and y0 >= 0 and x1 <= region[2] and y1 <= region[3]
    board.close()


def test_filter_by_tag_and_language(app: StandIn) -> None:
    board = open_stats_board(app)
    shown(board)
    assert "b" in board.tag_box.cget("values") and "de" in board.lang_box.cget("values")
    board.tag_box.set("b")
    board.tag_box.event_generate("<<ComboboxSelected>>")
    wait_until(lambda: board.state == "done" and board.stats is not None and board.stats["chats"] == 2, board)
    board.update()
    assert (card(board, "chats"), card(board, "tokens"), card(board, "over_limit")) == ("2", "22", "1")
    board.lang_box.set("en")
    board.refresh()
    wait_until(lambda: board.state == "done" and board.stats is not None and board.stats["chats"] == 1, board)
    board.close()


def test_estimates_are_marked(app: StandIn) -> None:
    app.store.set_setting("tokenizer", "estimate")
    board = open_stats_board(app)
    s = shown(board)
    assert s["tokens"]["estimate"]
    assert card(board, "tokens").startswith("~") and card(board, "trainable").startswith("~")
    assert "estimates" in board.note.cget("text")
    board.close()


def test_export_csv(app: StandIn, tmp_path: Path) -> None:
    board = open_stats_board(app)
    shown(board)
    out = board.export_csv(tmp_path / "stats.csv")
    assert out is not None
    with open(out, encoding="utf-8", newline="") as f:
        rows = {(r[0], r[1]): r[2] for r in csv.reader(f)}
    assert rows[("tokens", "total")] == "41" and rows[("summary", "chats")] == "4"
    assert app.messages[-1].startswith("Stats saved to")
    board.close()


def test_refreshes_when_the_data_changes(app: StandIn) -> None:
    board = StatsBoard(app, poll_ms=30)
    shown(board)
    app.store.create_chat("E", "fr", ["new"], messages=[Message("user", "one two three")])
    wait_until(lambda: board.stats is not None and board.stats["chats"] == 5 and board.state == "done", board,
               timeout=20)
    board.update()
    assert card(board, "chats") == "5" and card(board, "tokens") == "47"  # the new chat was counted: 3 words + 3
    assert "new" in board.tag_box.cget("values") and "fr" in board.lang_box.cget("values")
    board.close()


def test_open_twice_raises_the_same_window_and_close_stops_work(app: StandIn) -> None:
    a = open_stats_board(app)
    assert open_stats_board(app) is a
    shown(a)
    a.close()
    assert not a.winfo_exists()
    b = open_stats_board(app)
    assert b is not a
    shown(b)
    b.close()


def test_compact_numbers() -> None:
    assert [compact(v) for v in (0, 950, 1500, 12_000, 1_200_000, 3_000_000)] == [
        "0", "950", "1,500", "12k", "1.2M", "3M"]
