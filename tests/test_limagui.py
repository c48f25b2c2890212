"""The lima-gui reader on fixtures of our own (tests/data/limagui_*), written from the format's
description, so it is tested in any clone (the tests on the project's published samples in
../shared/fixtures run only where that folder exists)."""

from __future__ import annotations

import json
from pathlib import Path

from lima_tk.formats import detect_format, export_file, import_file
from lima_tk.store import DatasetStore

DATA = Path(__file__).parent / "data"


def chats(store: DatasetStore) -> list[tuple]:
    return [(c.name, c.language, c.tags, [(m.role, m.content) for m in c.messages]) for c in store.iter_chats()]


def test_csv_and_jsonl_of_the_same_chats_agree(tmp_path: Path):
    assert detect_format(DATA / "limagui_small.jsonl") == "limagui"
    assert detect_format(DATA / "limagui_small.csv") == "limagui-csv"
    with DatasetStore(tmp_path / "a.lima.db") as a, DatasetStore(tmp_path / "b.lima.db") as b:
        ra = import_file(a, DATA / "limagui_small.csv")
        rb = import_file(b, DATA / "limagui_small.jsonl")
        assert (ra.chats, ra.messages, ra.warnings) == (rb.chats, rb.messages, rb.warnings) == (2, 5, [])
        assert chats(a) == chats(b) == [
            ("Greeting", "en", ["conversational"],
             [("user", "Hello!\tHow are you?  "), ("assistant", "Fine, thanks 🙂")]),
            ("Привет", "ru", [],
             [("system", "Отвечай кратко."), ("user", "Столица Франции?"), ("assistant", "Париж.")]),
        ]
        assert {"en", "ru"} <= set(b.get_setting("languages")) and "conversational" in b.get_setting("tags")


def test_legacy_function_calls_become_tool_calls(store: DatasetStore):
    assert detect_format(DATA / "limagui_function_calling.jsonl") == "limagui"
    report = import_file(store, DATA / "limagui_function_calling.jsonl")
    assert (report.format, report.chats, report.messages, report.warnings) == ("limagui", 2, 9, [])
    units, code = store.iter_chats()
    assert (units.name, units.language, units.tags) == ("Units", "en", [])
    assert [m.role for m in units.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = units.messages[2].tool_calls[0]
    # the object arguments become the JSON string trainers expect, with a made-up id the answer uses
    assert call["type"] == "function" and call["function"]["name"] == "unit_convert"
    assert json.loads(call["function"]["arguments"]) == {"value": 26.2, "from": "mi", "to": "km"}
    assert units.messages[2].content == ""
    assert units.messages[3].tool_call_id == call["id"] and units.messages[3].content == "42.16"
    assert units.messages[3].name is None
    assert [t.name for t in units.tools] == ["unit_convert"]
    assert units.tools[0].parameters["properties"]["from"]["enum"] == []
    # text and a call in one message; a multi-line code argument kept exactly
    assert (code.language, code.tags) == ("de", ["coding", "agent"])
    assert code.messages[1].content == "Ich zähle sie mit Python."
    args = json.loads(code.messages[1].tool_calls[0]["function"]["arguments"])
    assert args == {"code": "print(len([n for n in range(2, 30)\n           if all(n % d for d in range(2, n))]))"}
    assert code.messages[2].tool_call_id == code.messages[1].tool_calls[0]["id"]
    assert {"coding", "agent"} <= set(store.get_setting("tags")) and "de" in store.get_setting("languages")


def test_function_calling_chats_export_as_valid_openai(store: DatasetStore, tmp_path: Path):
    import_file(store, DATA / "limagui_function_calling.jsonl")
    out = tmp_path / "fc.jsonl"
    rep = export_file(store, out)
    assert (rep.chats, rep.skipped) == (2, 0)
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    msgs = lines[0]["messages"]
    assert msgs[2]["tool_calls"][0]["function"]["arguments"] == json.dumps({"value": 26.2, "from": "mi", "to": "km"})
    assert msgs[3] == {"role": "tool", "content": "42.16", "tool_call_id": msgs[2]["tool_calls"][0]["id"]}
    assert lines[0]["tools"][0]["function"]["name"] == "unit_convert"


def test_config_fills_a_new_dataset(store: DatasetStore):
    report = import_file(store, DATA / "data_config_small.json")
    assert report.format == "limagui-config" and report.chats == 0
    s = store.get_settings()
    assert set(s["languages"]) == {"en", "de"} and s["tags"] == ["coding", "logic"] and s["tokenizer"] == "gpt2"
    assert store.undo() is not None and store.get_setting("tokenizer") == ""
