"""lima_tk.stats: exact numbers on a known dataset (a word-level tokenizer: one token per word),
histograms, filters, the CSV export and `lima-tk stats`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lima_tk.cli import cli
from lima_tk.model import Message
from lima_tk.stats import dataset_stats, format_stats, histogram, nice_width, write_stats_csv
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.tokens import count_dataset, load_counter
from tests.tokenizer_fixtures import model_folder, word_tokenizer_json

pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


def known(store: DatasetStore) -> None:
    """4 chats: 17 words in 8 messages (token counts = word counts with the word tokenizer)."""
    store.create_chat("A", "en", ["a"], messages=[
        Message("system", "one two"), Message("user", "three four five"), Message("assistant", "six")])
    store.create_chat("B", "de", ["a", "b"], messages=[
        Message("user", "a b c d"), Message("assistant", "e f", weight=0), Message("user", "g"),
        Message("assistant", "h i j", weight=1)])
    store.create_chat("C", "en", [], messages=[Message("user", "x")])
    store.create_chat("D", "en", ["b"])
    store.set_setting("context_limit", 5)


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return word_tokenizer_json(tmp_path / "words" / "tokenizer.json")


def test_token_numbers_on_a_known_dataset(store: DatasetStore, words: Path) -> None:
    known(store)
    count_dataset(store, load_counter(str(words)))
    s = dataset_stats(store)
    assert (s["chats"], s["messages"]) == (4, 8)
    t = s["tokens"]
    assert t["estimate"] is False and t["uncounted_messages"] == 0 and t["unrendered_chats"] == 0
    # No chat template in a bare tokenizer.json: chats are counted in the ChatML layout, 3 tokens
    # per message (<|im_start|>, the role word, <|im_end|>) on top of the 17 words.
    assert (t["total"], t["content"], t["template_overhead"]) == (41, 17, 24)
    assert t["by_role"] == {"assistant": 6, "system": 2, "user": 9}
    assert t["trainable_assistant"] == 4  # "six" (unset) + "h i j" (1); "e f" has weight 0
    assert t["trainable"] == 6  # the same turns with their <|im_end|>, as rendered
    assert t["per_chat"] == {"min": 0, "max": 22, "mean": 10.25, "median": 15}
    assert (t["context_limit"], t["over_limit"]) == (5, 2)  # A 15, B 22 (C renders to 4)
    h = s["histograms"]
    assert [(b["lo"], b["count"]) for b in h["tokens_per_chat"] if b["count"]] == [(0, 1), (4, 1), (14, 1), (22, 1)]
    assert [b["count"] for b in h["messages_per_chat"]] == [1, 1, 0, 1, 1]
    # the old keys are unchanged
    assert s["messages_by_role"] == {"assistant": 3, "system": 1, "user": 4}
    assert s["messages_per_chat"] == {"min": 0, "max": 4, "mean": 2.0}
    assert s["trainable_assistant_messages"] == 2


def test_template_overhead_and_filters(store: DatasetStore, tmp_path: Path) -> None:
    known(store)
    folder = model_folder(tmp_path / "m", make=word_tokenizer_json)
    count_dataset(store, load_counter(str(folder)))
    t = dataset_stats(store)["tokens"]
    # 3 tokens per message (<|im_start|>, the role word, <|im_end|>): 8 messages
    assert (t["content"], t["template_overhead"], t["total"]) == (17, 24, 41)
    assert t["per_chat"]["max"] == 10 + 12 and t["over_limit"] == 2  # A: 6 + 9, B: 22; C: 1 + 3
    tb = dataset_stats(store, ChatFilter(tag="b"))
    assert tb["chats"] == 2 and tb["tokens"]["total"] == 22 and tb["tokens"]["over_limit"] == 1
    assert tb["tokens"]["per_chat"]["min"] == 0
    te = dataset_stats(store, ChatFilter(language="en"))["tokens"]
    assert te["by_role"] == {"assistant": 1, "system": 2, "user": 4} and te["total"] == 7 + 4 * 3


def test_uncounted_is_an_estimate(store: DatasetStore, words: Path) -> None:
    known(store)
    t = dataset_stats(store)["tokens"]
    assert t["estimate"] is True and t["uncounted_messages"] == 8 and t["total"] == 0
    count_dataset(store, load_counter(str(words)))
    store.add_message(1, "user", "seven eight")
    t = dataset_stats(store)["tokens"]
    # chat A changed: not rendered again yet, so its message sum stands in (6 words, no overhead
    # measured for a bare tokenizer.json); B and C keep their rendered counts (22 + 4)
    assert t["estimate"] is True and t["uncounted_messages"] == 1 and t["unrendered_chats"] == 1
    assert t["total"] == 6 + 22 + 4
    s = dataset_stats(store, tokens=False)
    assert "tokens" not in s and s["messages"] == 9


def test_histogram_buckets() -> None:
    assert histogram([]) == []
    assert nice_width(4097, 12) == 500 and nice_width(11, 12) == 1 and nice_width(130, 12) == 20
    h = histogram([0, 499, 500, 4096])
    assert [(b["lo"], b["hi"]) for b in h][:2] == [(0, 500), (500, 1000)]
    assert [b["count"] for b in h] == [2, 1, 0, 0, 0, 0, 0, 0, 1]
    assert [b["lo"] for b in histogram([1, 3, 30], integer_bins=True)] == [0, 5, 10, 15, 20, 25, 30]
    # the context limit (512) + 1 becomes an edge: the buckets after it hold exactly the chats over it
    h = histogram([0, 499, 500, 511, 512, 513, 600, 699], split=513)
    assert [(b["lo"], b["hi"], b["count"]) for b in h][-3:] == [(500, 513, 3), (513, 600, 1), (600, 700, 2)]
    assert sum(b["count"] for b in h if b["lo"] >= 513) == 3


def test_csv_export(store: DatasetStore, words: Path, tmp_path: Path) -> None:
    known(store)
    count_dataset(store, load_counter(str(words)))
    out = write_stats_csv(dataset_stats(store), tmp_path / "stats.csv")
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["section", "name", "value"]
    d = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert d[("summary", "chats")] == "4" and d[("tokens", "total")] == "41" and d[("tokens", "trainable")] == "6"
    assert d[("tokens", "estimate")] == "false" and d[("tokens", "over_limit")] == "2"
    assert d[("tokens_by_role", "user")] == "9" and d[("chats_per_language", "en")] == "3"
    assert d[("histogram_tokens_per_chat", "22-23")] == "1" and d[("chats_per_tag", "a")] == "2"
    assert not list(tmp_path.glob(".stats-*"))  # the temp file was renamed


def test_format_stats_shows_tokens(store: DatasetStore, words: Path) -> None:
    known(store)
    count_dataset(store, load_counter(str(words)))
    text = format_stats(dataset_stats(store))
    assert "tokens (" in text and "over 5" in text and "~" not in text


def test_cli_stats_json_and_csv(tmp_path: Path, words: Path) -> None:
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        known(s)
        s.set_setting("tokenizer", str(words))
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(cli, ["--db", str(db), "stats", "--json", "--csv", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)  # counted first (from the local file), then reported
    assert s["tokens"]["total"] == 41 and s["tokens"]["estimate"] is False
    assert "histograms" in s and out.read_text(encoding="utf-8").startswith("section,name,value")
    r = CliRunner().invoke(cli, ["--db", str(db), "stats", "--tag", "b", "--json", "--no-count"])
    assert json.loads(r.output)["tokens"]["total"] == 22  # B (4 messages, 10 words, ChatML) + D (empty)
