"""Every export trains as written (issue 11): one JSON style in the OpenAI file, replies marked
"no train" that a format cannot mark are warned about (with the way out, which works), ShareGPT's
parallel tool results are said, and each report lists what the format cannot hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lima_tk.errors import ValidationError
from lima_tk.formats import export_file
from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore


def call(i: int, args: str) -> dict:
    return {"id": f"c{i}", "type": "function", "function": {"name": "weather", "arguments": args}}


def seed(store: DatasetStore) -> dict[str, int]:
    return {
        "plain": store.create_chat("plain", messages=[Message("user", "Hi"), Message("assistant", "Hello")]),
        "weights": store.create_chat("weights", messages=[
            Message("user", "2+2?"), Message("assistant", "5", weight=0), Message("user", "again"),
            Message("assistant", "4", weight=1)]),
        "first bad": store.create_chat("first bad", messages=[
            Message("user", "q"), Message("assistant", "wrong", weight=0)]),
        "tools": store.create_chat("tools", messages=[
            Message("user", "Weather in Oslo and Rome?"),
            Message("assistant", None, tool_calls=[call(1, '{"city": "Oslo"}'), call(2, '{"city":  "Rome"}')]),
            Message("tool", "-3C", tool_call_id="c1"), Message("tool", "20C", tool_call_id="c2"),
            Message("assistant", "Cold and warm.")],
            tools=[Tool("weather", "now", {"type": "object"}, strict=True)]),
    }


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_openai_export_has_one_json_style(tmp_path: Path, store: DatasetStore) -> None:
    """Plain chats come from SQLite (compact JSON), the others from the Python writer: both compact."""
    seed(store)
    for skip in (False, True):
        out = tmp_path / f"o{skip}.jsonl"
        export_file(store, out, "openai", skip_problems=skip)
        got = lines(out)
        assert len(got) == 4
        for line in got:
            assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))
        # the arguments string is kept byte for byte (its inner spacing is data, not style)
        assert '"arguments":"{\\"city\\":  \\"Rome\\"}"' in got[3]


@pytest.mark.parametrize("fmt", ["sharegpt", "alpaca", "hf"])
def test_no_train_replies_are_warned_about_with_the_way_out(tmp_path: Path, store: DatasetStore, fmt: str) -> None:
    seed(store)
    out = tmp_path / fmt
    rep = export_file(store, out, fmt)
    warn = [w for w in rep.warnings if '"no train"' in w]
    assert len(warn) == 1 and warn[0].endswith("(and 1 more)")  # two replies marked weight 0
    assert "weight0=drop" in warn[0] and "weight0=cut" in warn[0]
    assert any(x.startswith("weights") for x in rep.lossy)
    # drop: the two chats with such a reply are left out and counted
    rep = export_file(store, tmp_path / f"{fmt}-drop", fmt, options={"weight0": "drop"})
    assert rep.skipped_reasons.get('has replies marked "no train" (weight0=drop)') == 2
    assert not [w for w in rep.warnings if "is trained by" in w]
    # cut: "weights" would end before "5" and "first bad" before "wrong": no reply left in either
    rep = export_file(store, tmp_path / f"{fmt}-cut", fmt, options={"weight0": "cut"})
    assert rep.skipped_reasons.get('nothing left before its first reply marked "no train" (weight0=cut)') == 2
    if fmt == "hf":
        rows = [json.loads(x) for x in lines(tmp_path / "hf-cut" / "data" / "train.jsonl")]
        names = [r["name"] for r in rows]
        assert "first bad" not in names and "weights" not in names  # 2+2? with no reply left: not a chat
    with pytest.raises(ValidationError, match="weight0"):
        export_file(store, tmp_path / f"{fmt}-bad", fmt, options={"weight0": "maybe"})


def test_hf_with_the_training_flag_needs_no_warning(tmp_path: Path, store: DatasetStore) -> None:
    seed(store)
    rep = export_file(store, tmp_path / "hf", "hf", options={"training_flag": True})
    assert not [w for w in rep.warnings if '"no train"' in w]
    assert not any(x.startswith("weights") for x in rep.lossy) and any("strict" in x for x in rep.lossy)
    row = next(json.loads(x) for x in lines(tmp_path / "hf" / "data" / "train.jsonl") if '"weights"' in x)
    assert [m.get("training") for m in row["messages"]] == [False, False, False, True]


def test_cut_keeps_the_turns_before_the_reply(tmp_path: Path, store: DatasetStore) -> None:
    store.create_chat("w", messages=[Message("user", "a"), Message("assistant", "b"), Message("user", "c"),
                                     Message("assistant", "d", weight=0), Message("user", "e"),
                                     Message("assistant", "f")])
    export_file(store, tmp_path / "s.json", "sharegpt", options={"weight0": "cut"})
    rec = json.loads((tmp_path / "s.json").read_text())[0]
    assert [t["value"] for t in rec["conversations"]] == ["a", "b", "c"]


def test_sharegpt_parallel_results_are_said(tmp_path: Path, store: DatasetStore) -> None:
    seed(store)
    rep = export_file(store, tmp_path / "s.json", "sharegpt")
    assert any("parallel tool results written as one observation" in w for w in rep.warnings)
    rec = next(r for r in json.loads((tmp_path / "s.json").read_text()) if "tools" in r)
    obs = [t for t in rec["conversations"] if t["from"] == "observation"]
    assert len(obs) == 1 and json.loads(obs[0]["value"]) == ["-3C", "20C"]


def test_every_format_lists_what_it_loses(tmp_path: Path, store: DatasetStore) -> None:
    from lima_tk.formats import EXPORT_FORMATS
    from lima_tk.formats.lossy import LOSSY

    assert set(LOSSY) == set(EXPORT_FORMATS)
    seed(store)
    for fmt in EXPORT_FORMATS:
        out = tmp_path / (fmt if fmt == "hf" else f"{fmt}.json")
        rep = export_file(store, out, fmt)
        assert rep.lossy == LOSSY[fmt], fmt
    assert any("strict" in x for x in LOSSY["hf"]) and any("strict" in x for x in LOSSY["sharegpt"])


def test_cli_export_prints_what_is_lost(tmp_path: Path, store: DatasetStore) -> None:
    from click.testing import CliRunner

    from lima_tk.cli import cli

    seed(store)
    r = CliRunner().invoke(cli, ["--db", str(store.path), "export", str(tmp_path / "s.json"), "--format",
                                 "sharegpt"])
    assert r.exit_code == 0, r.output
    assert "not in this format:" in r.output and '"no train"' in r.output
