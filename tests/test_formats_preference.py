"""Preference-pair exports with tools in the prompt (issue 17): OpenAI DPO keeps tool-call
arguments as JSON strings, the tools as they are (with `strict`) and `parallel_tool_calls`; TRL
gives the chat template arguments as objects and tools without `strict`."""

from __future__ import annotations

import json
from pathlib import Path

from lima_tk.formats import export_file
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import DatasetStore

CALL = {"id": "c1", "type": "function", "function": {"name": "wetter", "arguments": '{"ort": "Köln"}'}}


def _store(tmp_path: Path) -> DatasetStore:
    s = DatasetStore(tmp_path / "d.lima.db")
    reply = Message("assistant", "Kalt: -3C.", source="generated",
                    alternatives=[{"content": "Warm.", "tool_calls": None, "source": "generated", "model": None,
                                   "finish": None, "rejected": True}], alt_index=0)
    chat = Chat(name="p", messages=[Message("user", "Wetter?", name="ann"),
                                    Message("assistant", None, tool_calls=[CALL]),
                                    Message("tool", "-3C", tool_call_id="c1"), reply],
                tools=[Tool("wetter", "Das Wetter", {"type": "object", "properties": {"ort": {"type": "string"}}},
                            strict=True)],
                extra={"parallel_tool_calls": False})
    s.add_chats([chat], "Add")
    return s


def test_openai_dpo_rows(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        out = tmp_path / "dpo.jsonl"
        assert export_file(s, out, "pref-openai").rows == 1
        row = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert row["input"]["messages"] == [
        {"role": "user", "content": "Wetter?", "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "wetter", "arguments": '{"ort": "Köln"}'}}]},
        {"role": "tool", "content": "-3C", "tool_call_id": "c1"}]
    assert row["input"]["tools"] == [{"type": "function", "function": {
        "name": "wetter", "description": "Das Wetter", "parameters": {"type": "object", "properties": {
            "ort": {"type": "string"}}}, "strict": True}}]
    assert row["input"]["parallel_tool_calls"] is False
    assert row["preferred_output"] == [{"role": "assistant", "content": "Kalt: -3C."}]
    assert row["non_preferred_output"] == [{"role": "assistant", "content": "Warm."}]


def test_trl_rows(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        out = tmp_path / "trl.jsonl"
        assert export_file(s, out, "pref-trl").rows == 1
        row = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert row["prompt"][1]["tool_calls"][0]["function"]["arguments"] == {"ort": "Köln"}
    assert row["prompt"][2] == {"role": "tool", "content": "-3C", "tool_call_id": "c1"}
    assert row["tools"] == [{"type": "function", "function": {
        "name": "wetter", "description": "Das Wetter", "parameters": {"type": "object", "properties": {
            "ort": {"type": "string"}}}}}]
    assert (row["chosen"], row["rejected"]) == ([{"role": "assistant", "content": "Kalt: -3C."}],
                                                [{"role": "assistant", "content": "Warm."}])
