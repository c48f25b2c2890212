"""Import/export formats: detection, round trips, legacy conversion, bad input, cancel, atomic export."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from lima_tk.errors import FormatError, LimaError, ValidationError
from lima_tk.formats import (
    EXPORT_FORMATS,
    FORMAT_NAMES,
    REGISTRY,
    Cancelled,
    detect_format,
    export_file,
    import_file,
    import_files,
)
from lima_tk.model import Message, Tool
from lima_tk.store import ChatFilter, DatasetStore

DATA = Path(__file__).parent / "data"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}

# A valid OpenAI fine-tuning file using every feature we support.
OPENAI_FULL: list[dict[str, Any]] = [
    {
        "messages": [
            {"role": "system", "content": "You are\tterse.  "},
            {"role": "user", "content": "Weather in Paris and Tokyo?", "name": "alice"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_a", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city":  "Paris"}'}},
                    {"id": "call_b", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "東京"}'}},
                ],
            },
            {"role": "tool", "content": "18°C", "tool_call_id": "call_a"},
            {"role": "tool", "content": "22°C", "tool_call_id": "call_b"},
            {"role": "assistant", "content": "Paris 18°C, Tokyo 22°C 🌤", "weight": 1},
            {"role": "user", "content": "مرحبا بالعالم\u0000 and \r\n crlf"},
            {"role": "assistant", "content": "old answer", "weight": 0},
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    },
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
    {
        "messages": [
            {"role": "user", "content": "call it"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "x1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "content": "ok", "tool_call_id": "x1"},
            {"role": "assistant", "content": "done", "name": "bot"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        "parallel_tool_calls": True,
    },
]


def write_jsonl(path: Path, objs: list[Any], newline: str = "\n", bom: bool = False) -> Path:
    text = "".join(json.dumps(o, ensure_ascii=False) + newline for o in objs)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def state(store: DatasetStore) -> tuple:
    """Everything an import could change, to check that a failed one changed nothing."""
    q = store.conn.execute
    return (
        store.count_chats(),
        q("SELECT count(*) FROM messages").fetchone()[0],
        q("SELECT count(*) FROM tools").fetchone()[0],
        q("SELECT count(*) FROM journal").fetchone()[0],
        q("SELECT max(id) FROM journal").fetchone()[0],
        store.get_settings(),
    )


@pytest.fixture
def seeded(store: DatasetStore) -> DatasetStore:
    store.create_chat("existing", "en", ["keep"], messages=[Message("user", "hi"), Message("assistant", "hello")])
    return store


# -- registry and detection ------------------------------------------------------------------


def test_public_names():
    assert FORMAT_NAMES == ("openai", "lima", "limagui", "limagui-csv", "limagui-config", "chatgpt", "sharegpt",
                            "alpaca")
    assert EXPORT_FORMATS == ("openai", "lima", "sharegpt", "alpaca", "hf", "pref-trl", "pref-openai")
    assert all(n in REGISTRY for n in FORMAT_NAMES)
    assert all(REGISTRY[n].write or REGISTRY[n].folder for n in EXPORT_FORMATS)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("chatgpt_chats.csv", "limagui-csv"),
        ("chatgpt_chats.jsonl", "limagui"),
        ("function_calling.jsonl", "limagui"),
        ("data_config.json", "limagui-config"),
    ],
)
def test_detect_lima_gui_fixtures(shared_fixtures: Path, name: str, fmt: str):
    assert detect_format(shared_fixtures / "lima-gui" / name) == fmt


def test_detect_by_content_not_extension(tmp_path: Path, store: DatasetStore):
    # OpenAI content in a .csv file, CSV content in a .txt file: the content decides.
    assert detect_format(write_jsonl(tmp_path / "a.csv", OPENAI_FULL)) == "openai"
    csv_copy = tmp_path / "chats.txt"
    csv_copy.write_bytes((DATA / "limagui_small.csv").read_bytes())
    assert detect_format(csv_copy) == "limagui-csv"
    assert detect_format(DATA / "data_config_small.json") == "limagui-config"
    assert detect_format(write_jsonl(tmp_path / "g.jsonl", [{"name": "x", "messages": []}])) == "limagui"
    export_file(store, tmp_path / "native.data", "lima")
    assert detect_format(tmp_path / "native.data") == "lima"


@pytest.mark.parametrize(
    "content, line",
    [
        (b'{"foo": 1}\n', None),
        (b"[1, 2]\n", None),
        (b"just some text\n", None),
        (b"PK\x03\x04\x14\x00\x00\x00binary", 1),
        (b"SQLite format 3\x00" + b"\x00" * 100, 1),
        (b"", 1),
        (b"\n\n  \n", 1),
    ],
)
def test_detect_refuses_unknown_binary_and_empty(tmp_path: Path, content: bytes, line: int | None):
    path = tmp_path / "thing.jsonl"
    path.write_bytes(content)
    with pytest.raises(FormatError) as ei:
        detect_format(path)
    assert str(path) in str(ei.value)
    assert ei.value.line == line


def test_detect_missing_file(tmp_path: Path):
    with pytest.raises(FormatError, match="cannot read"):
        detect_format(tmp_path / "nope.jsonl")


# -- lima-gui --------------------------------------------------------------------------------


def test_import_lima_gui_csv_and_jsonl_fixtures_agree(shared_fixtures: Path, tmp_path: Path):
    a = DatasetStore(tmp_path / "a.lima.db")
    b = DatasetStore(tmp_path / "b.lima.db")
    ra = import_file(a, shared_fixtures / "lima-gui" / "chatgpt_chats.csv")
    rb = import_file(b, shared_fixtures / "lima-gui" / "chatgpt_chats.jsonl")
    assert (ra.format, rb.format) == ("limagui-csv", "limagui")
    assert ra.chats == rb.chats == 6 and ra.messages == rb.messages == 30
    assert ra.warnings == [] and rb.warnings == []
    ca, cb = list(a.iter_chats()), list(b.iter_chats())
    for x, y in zip(ca, cb, strict=True):
        assert (x.name, x.language, x.tags) == (y.name, y.language, y.tags)
        assert [(m.role, m.content) for m in x.messages] == [(m.role, m.content) for m in y.messages]
    assert ca[0].name == "Nucleus sampling" and ca[0].language == "en"
    assert ca[0].tags == ["conversational", "world qa"]
    assert "world qa" in a.get_setting("tags")
    a.close()
    b.close()


def test_import_lima_gui_function_calling(shared_fixtures: Path, store: DatasetStore):
    report = import_file(store, shared_fixtures / "lima-gui" / "function_calling.jsonl")
    assert (report.chats, report.messages) == (2, 10)
    chat = next(store.iter_chats())
    assert chat.name == "Calculator" and chat.tags == []
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = chat.messages[2].tool_calls[0]
    assert call == {"id": "call_1", "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "97*3 - 147"}'}}
    assert chat.messages[2].content == ""
    assert chat.messages[3].tool_call_id == "call_1" and chat.messages[3].content == "144"
    assert chat.messages[3].name is None
    assert chat.tools[0].name == "calculator"
    assert chat.tools[0].parameters["properties"]["expression"]["enum"] == []
    # ... and the OpenAI export of it is a valid fine-tuning file.
    out = tmp = store.path.parent / "fc.jsonl"
    rep = export_file(store, out)
    assert (rep.chats, rep.skipped) == (2, 0)
    line = read_jsonl(tmp)[1]
    assert line["messages"][2]["tool_calls"][0]["function"]["arguments"] == json.dumps(
        {"code": "n = 7\nsum_of_numbers = n * (n + 1) // 2\nsum_of_numbers"})
    assert line["messages"][3] == {"role": "tool", "content": "28", "tool_call_id": "call_1"}


def test_import_lima_gui_config_fixture(shared_fixtures: Path, store: DatasetStore):
    before = state(store)
    report = import_file(store, shared_fixtures / "lima-gui" / "data_config.json")
    assert report.format == "limagui-config" and report.chats == 0
    assert sorted(report.settings_changed) == ["languages", "tags", "tokenizer"]
    s = store.get_settings()
    assert s["languages"] == ["ru", "en"]
    assert "creative text generation" in s["tags"] and len(s["tags"]) == 14
    assert s["tokenizer"] == "mistralai/Mistral-7B-v0.1"
    assert store.count_chats() == before[0]
    store.undo()
    assert store.get_settings() == before[5]


def test_config_merges_into_used_dataset(seeded: DatasetStore):
    seeded.set_setting("tokenizer", "my/tok")
    seeded.set_setting("languages", ["fr"])
    report = import_file(seeded, DATA / "data_config_small.json")
    s = seeded.get_settings()
    assert s["languages"] == ["fr", "de", "en"]
    assert s["tags"] == ["keep", "coding", "logic"]
    assert s["tokenizer"] == "my/tok"  # the dataset's own tokenizer wins
    assert report.settings_changed == ["languages", "tags"]


def test_import_own_csv_with_bom_crlf(store: DatasetStore):
    report = import_file(store, DATA / "limagui_small.csv", tags=["from-csv"])
    assert (report.format, report.chats, report.messages) == ("limagui-csv", 2, 5)
    a, b = store.iter_chats()
    assert a.messages[0].content == "Hello!\tHow are you?  "
    assert a.messages[1].content == "Fine, thanks 🙂"
    assert a.tags == ["conversational", "from-csv"]
    assert (b.name, b.language, b.tags) == ("Привет", "ru", ["from-csv"])  # no tags -> [] + --tag
    assert {"en", "ru"} <= set(store.get_setting("languages"))


def test_explicit_limagui_format_picks_csv_or_config(store: DatasetStore):
    assert import_file(store, DATA / "limagui_small.csv", fmt="limagui").format == "limagui-csv"
    assert import_file(store, DATA / "data_config_small.json", fmt="limagui").format == "limagui-config"
    with pytest.raises(ValidationError, match="unknown import format"):
        import_file(store, DATA / "limagui_small.csv", fmt="sharegpt-ish")


# -- OpenAI ----------------------------------------------------------------------------------


def test_openai_round_trip_same_json_values(tmp_path: Path, store: DatasetStore):
    src = write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL)
    report = import_file(store, src)
    assert (report.format, report.chats, report.messages) == ("openai", 3, 14)
    assert report.warnings == []
    out = tmp_path / "out.jsonl"
    rep = export_file(store, out)
    assert (rep.chats, rep.messages, rep.skipped, rep.warnings) == (3, 14, 0, [])
    assert read_jsonl(out) == OPENAI_FULL
    raw = out.read_bytes()
    assert raw.endswith(b"\n") and b"\r\n" not in raw.replace(b"\\r\\n", b"")
    assert "東京".encode() in raw and "🌤".encode() in raw  # ensure_ascii=False
    # Twice round is stable too.
    store2 = DatasetStore(tmp_path / "2.lima.db")
    import_file(store2, out)
    export_file(store2, tmp_path / "out2.jsonl")
    assert (tmp_path / "out2.jsonl").read_bytes() == raw
    store2.close()


def test_openai_import_keeps_content_exactly(tmp_path: Path, store: DatasetStore):
    import_file(store, write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL, newline="\r\n", bom=True))
    chat = next(store.iter_chats())
    assert chat.messages[0].content == "You are\tterse.  "
    assert chat.messages[6].content == "مرحبا بالعالم\x00 and \r\n crlf"
    assert chat.messages[2].content is None
    assert chat.messages[2].tool_calls[0]["function"]["arguments"] == '{"city":  "Paris"}'
    assert chat.messages[5].weight == 1 and chat.messages[7].weight == 0
    assert chat.messages[1].name == "alice"
    assert chat.extra == {"parallel_tool_calls": False}
    assert chat.tools == [Tool("get_weather", "Weather now", WEATHER_TOOL["function"]["parameters"], True,
                               chat.tools[0].id)]
    assert chat.name == "Weather in Paris and Tokyo?"  # derived for the list, not exported


def test_openai_legacy_functions_are_converted(tmp_path: Path, store: DatasetStore):
    line = {
        "functions": [{"name": "lookup", "description": "Find", "parameters": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "find"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"q":  1}'}},
            {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": {"q": "ü"}}},
            {"role": "function", "name": "lookup", "content": "first"},
            {"role": "function", "name": "lookup", "content": "second"},
            {"role": "assistant", "content": "both found"},
        ],
    }
    report = import_file(store, write_jsonl(tmp_path / "legacy.jsonl", [line]))
    assert any("joined" in w for w in report.warnings)
    chat = next(store.iter_chats())
    assert chat.messages[0].content == "find\ntwo"
    assert [t.name for t in chat.tools] == ["lookup"]
    c1, c2 = chat.messages[1].tool_calls[0], chat.messages[2].tool_calls[0]
    assert (c1["id"], c1["function"]["arguments"]) == ("call_1", '{"q":  1}')  # a string is kept exactly
    assert (c2["id"], c2["function"]["arguments"]) == ("call_2", '{"q": "ü"}')  # an object is dumped
    assert [(m.role, m.tool_call_id) for m in chat.messages[3:5]] == [("tool", "call_1"), ("tool", "call_2")]
    export_file(store, tmp_path / "out.jsonl")
    (out,) = read_jsonl(tmp_path / "out.jsonl")
    assert set(out) == {"messages", "tools"}
    assert out["tools"] == [{"type": "function", "function": {"name": "lookup", "description": "Find",
                                                              "parameters": {"type": "object"}}}]
    assert out["messages"][3] == {"role": "tool", "content": "first", "tool_call_id": "call_1"}


def test_openai_export_rules(tmp_path: Path, store: DatasetStore):
    store.create_chat("no answer", messages=[Message("user", "only a question")])
    store.create_chat("dangling", messages=[
        Message("user", "q"), Message("tool", "result", tool_call_id="call_zz"), Message("assistant", "a")])
    good = store.create_chat("good one", "en", ["t"], notes="private notes", messages=[
        Message("system", None), Message("user", "q", weight=1), Message("assistant", "a", weight=0),
        Message("assistant", "b")])
    rep = export_file(store, tmp_path / "out.jsonl")
    assert (rep.chats, rep.skipped, rep.messages) == (1, 2, 4)
    assert any("'no answer'" in w and "no assistant" in w for w in rep.warnings)
    assert any("'dangling'" in w and "call_zz" in w for w in rep.warnings)
    assert any("weight" in w for w in rep.warnings)
    (line,) = read_jsonl(tmp_path / "out.jsonl")
    assert line == {"messages": [
        {"role": "system", "content": ""},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "weight": 0},
        {"role": "assistant", "content": "b"},
    ]}
    assert good


def test_tags_added_to_every_chat_and_vocabulary(tmp_path: Path, store: DatasetStore):
    report = import_file(store, write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL), tags=["batch1", " x "])
    assert report.chats == 3
    assert all(c.tags == ["batch1", "x"] for c in store.iter_chats())
    assert store.get_setting("tags") == ["batch1", "x"]
    assert store.count_chats(ChatFilter(tag="batch1")) == 3


# -- native ----------------------------------------------------------------------------------


def build_rich_dataset(store: DatasetStore) -> None:
    store.set_setting("languages", ["ar", "en", "ja"])
    store.set_setting("tags", ["rtl", "tools", "unused"])
    store.set_setting("tokenizer", "gpt2")
    store.set_setting("context_limit", 8192)
    store.create_chat("RTL ‏مرحبا", "ar", ["rtl"], notes="note\twith tab \r\n and CRLF", messages=[
        Message("system", "be\tkind  "),
        Message("user", "مرحبا 🌍\x00nul", name="u1"),
        Message("assistant", "أهلا\r\nline", weight=1),
        Message("assistant", "", weight=0),
    ])
    cid = store.create_chat("tools", "ja", ["tools"], messages=[
        Message("user", "東京の天気は？"),
        Message("assistant", None, tool_calls=[{"id": "c9", "type": "function",
                                                 "function": {"name": "get_weather", "arguments": '{"city":"東京"}'}}]),
        Message("tool", "晴れ", tool_call_id="c9"),
        Message("assistant", "晴れです"),
    ], tools=[Tool.from_openai(WEATHER_TOOL), Tool("plain")])
    store.update_chat(cid, extra={"parallel_tool_calls": True, "source": {"z": 1, "a": [1, 2]}})
    store.create_chat()  # an empty chat with nothing set


def test_native_round_trip_is_byte_identical(tmp_path: Path, store: DatasetStore):
    build_rich_dataset(store)
    first = tmp_path / "one.jsonl"
    rep = export_file(store, first, "lima")
    assert (rep.format, rep.chats, rep.skipped) == ("lima", 3, 0)
    header = read_jsonl(first)[0]
    assert header == {"lima_tk": 1, "settings": {"languages": ["ar", "en", "ja"], "tags": ["rtl", "tools", "unused"],
                                                 "tokenizer": "gpt2", "context_limit": 8192}}
    fresh = DatasetStore(tmp_path / "fresh.lima.db")
    report = import_file(fresh, first)
    assert (report.format, report.chats, report.messages) == ("lima", 3, 8)
    assert sorted(report.settings_changed) == ["context_limit", "languages", "tags", "tokenizer"]
    second = tmp_path / "two.jsonl"
    export_file(fresh, second, "lima")
    assert second.read_bytes() == first.read_bytes()
    a, b = list(store.iter_chats()), list(fresh.iter_chats())
    assert [(c.uid, c.created_at, c.updated_at, c.notes, c.extra) for c in a] == [
        (c.uid, c.created_at, c.updated_at, c.notes, c.extra) for c in b]
    assert b[0].messages[1].content == "مرحبا 🌍\x00nul"
    fresh.close()


def test_native_import_into_used_dataset_merges(tmp_path: Path, store: DatasetStore, seeded: DatasetStore):
    other = DatasetStore(tmp_path / "other.lima.db")
    build_rich_dataset(other)
    export_file(other, tmp_path / "n.jsonl", "lima")
    uids = {c.uid for c in other.iter_chats()}
    other.close()
    seeded.set_setting("context_limit", 2048)
    report = import_file(seeded, tmp_path / "n.jsonl")
    s = seeded.get_settings()
    assert s["languages"] == ["en", "ar", "ja"]
    assert s["tags"] == ["keep", "rtl", "tools", "unused"]
    assert s["context_limit"] == 2048 and s["tokenizer"] == "gpt2"
    assert report.chats == 3
    # Importing the same file again skips the chats whose messages are already there (issue 7)...
    dup = import_file(seeded, tmp_path / "n.jsonl")
    assert (dup.chats, dup.skipped) == (1, 2) and dup.skipped_reasons == {"duplicate of a chat in the dataset": 2}
    seeded.undo()
    # ... and with allow_duplicates, uids clash, so they get new ones (with a warning).
    again = import_file(seeded, tmp_path / "n.jsonl", allow_duplicates=True)
    assert again.chats == 3 and any("uid" in w for w in again.warnings)
    assert len({c.uid for c in seeded.iter_chats()}) == 7 and uids <= {c.uid for c in seeded.iter_chats()}


def test_native_needs_header(tmp_path: Path, store: DatasetStore):
    path = write_jsonl(tmp_path / "n.jsonl", [{"lima_tk": 1}, {"uid": "u", "messages": [{"role": "user"}]}])
    assert import_file(store, path).chats == 1
    assert next(store.iter_chats()).messages[0].content is None
    bad = write_jsonl(tmp_path / "b.jsonl", [{"lima_tk": 2, "settings": {}}])
    with pytest.raises(FormatError, match="newer lima-tk"):
        import_file(store, bad)


# -- bad input: one test per kind, each leaves the dataset untouched --------------------------

GOOD = b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'

BAD_INPUTS = {
    "invalid JSON": (GOOD + b'{"messages": [}\n' + GOOD, 2, "invalid JSON"),
    "invalid JSON on line 1": (b'{"messages": [\n' + GOOD, 1, "invalid JSON"),
    "truncated last line": (GOOD + GOOD + b'{"messages": [{"role": "user", "content": "a"}', 3, "truncated"),
    "not UTF-8": (GOOD + GOOD + b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n', 3, "not UTF-8"),
    "unknown role": (GOOD + b'{"messages": [{"role": "bot", "content": "a"}]}\n', 2, "unknown role 'bot'"),
    "messages not a list": (GOOD + b'{"messages": "hello"}\n', 2, "'messages' must be a list"),
    "content a number": (GOOD + b'{"messages": [{"role": "user", "content": 42}]}\n', 2, "content must be a string"),
    "line not an object": (GOOD + b"[1, 2]\n", 2, "expected a JSON object"),
    "bad weight": (GOOD + b'{"messages": [{"role": "assistant", "content": "a", "weight": 2}]}\n', 2, "weight"),
    "bad tool_calls": (GOOD + b'{"messages": [{"role": "assistant", "tool_calls": {}}]}\n', 2, "tool_calls"),
    "lone surrogate": (GOOD + b'{"messages": [{"role": "user", "content": "\\ud800"}]}\n', 2, "surrogate"),
    "binary file": (b"\x7fELF\x02\x01\x01\x00\x00\x00", 1, "binary"),
    # (an empty file is not bad input: it imports 0 chats with a note, see test_hostile_input.py)
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_names_file_and_line_and_rolls_back(tmp_path: Path, seeded: DatasetStore, kind: str):
    content, line, reason = BAD_INPUTS[kind]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    before = state(seeded)
    with pytest.raises(FormatError) as ei:
        import_file(seeded, path)
    msg = str(ei.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert reason in msg
    assert ei.value.line == line
    assert state(seeded) == before


@pytest.mark.parametrize(
    "fmt, content, line, reason",
    [
        ("limagui-csv", b'chat\n"{""name"": ""a"", ""dialog"": []}"\n"{""name"": ]"\n', 3, "invalid JSON"),
        ("limagui-csv", b'chat\n"{""dialog"": [{""role"": ""human"", ""content"": ""x""}]}"\n', 2, "unknown role"),
        ("limagui-csv", b'other\n"x"\n', 1, "no 'chat' column"),
        ("limagui-csv", b'chat\n"{""dialog"": []}"\n"{""dialog', 3, "bad CSV"),
        ("lima", b'{"lima_tk": 1}\n{"messages": [{"role": "user", "content": 1}]}\n', 2, "wrong type"),
        ("lima", b'{"messages": []}\n', 1, "header"),
        ("limagui-config", b'{\n  "languages": ["en"],\n  "tags": [,]\n}\n', 3, "invalid JSON"),
        ("limagui-config", b'{"languages": "en", "tags": [1]}\n', 1, "bad setting tags"),
    ],
)
def test_bad_input_other_formats(tmp_path: Path, seeded: DatasetStore, fmt: str, content: bytes, line: int,
                                 reason: str):
    path = tmp_path / "bad.data"
    path.write_bytes(content)
    before = state(seeded)
    with pytest.raises(FormatError) as ei:
        import_file(seeded, path, fmt=fmt)
    assert str(ei.value).startswith(f"{path}:{line}: "), str(ei.value)
    assert reason in str(ei.value)
    assert state(seeded) == before


def test_bad_config_detected_names_line(tmp_path: Path):
    path = tmp_path / "data_config.json"
    path.write_bytes(b'{\n  "languages": ["en"],\n  "tags": [,]\n}\n')
    with pytest.raises(FormatError) as ei:
        detect_format(path)
    assert ei.value.line == 3


def test_import_files_is_one_step_and_all_or_nothing(tmp_path: Path, seeded: DatasetStore):
    a = write_jsonl(tmp_path / "a.jsonl", OPENAI_FULL)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(GOOD + b'{"messages": 3}\n')
    before = state(seeded)
    with pytest.raises(FormatError, match="bad.jsonl:2:"):
        import_files(seeded, [a, DATA / "limagui_small.csv", bad])
    assert state(seeded) == before
    reports = import_files(seeded, [a, DATA / "limagui_small.csv", DATA / "data_config_small.json"], tags=["t"])
    assert [r.format for r in reports] == ["openai", "limagui-csv", "limagui-config"]
    assert seeded.count_chats() == 1 + 3 + 2
    assert seeded.undo_label() == "Import 3 files"
    seeded.undo()
    assert state(seeded)[:3] == before[:3] and seeded.get_settings() == before[5]
    assert import_files(seeded, []) == []


def test_undo_of_single_import(tmp_path: Path, seeded: DatasetStore):
    before = state(seeded)
    import_file(seeded, write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL))
    assert seeded.undo_label() == "Import in.jsonl"
    seeded.undo()
    assert state(seeded)[:3] == before[:3]


# -- progress, cancel, threads ---------------------------------------------------------------


def big_file(path: Path, n: int = 4000) -> Path:
    # Distinct chats: an import skips duplicates (issue 7).
    return write_jsonl(path, [{"messages": [{"role": "user", "content": f"{i:06d}" + "q" * 144},
                                            {"role": "assistant", "content": "a" * 150}]} for i in range(n)])


def test_progress_reports_bytes(tmp_path: Path, store: DatasetStore):
    path = big_file(tmp_path / "big.jsonl")
    calls: list[tuple[int, int]] = []
    import_file(store, path, progress=lambda d, t: calls.append((d, t)))
    size = path.stat().st_size
    assert calls[0] == (0, size) and calls[-1] == (size, size) and len(calls) > 3
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_cancel_mid_import_rolls_back(tmp_path: Path, seeded: DatasetStore):
    path = big_file(tmp_path / "big.jsonl")
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if total / 2 < done < total:
            cancel.set()  # as the Cancel button would, after some batches were written

    before = state(seeded)
    with pytest.raises(Cancelled):
        import_file(seeded, path, progress=progress, cancel=cancel)
    assert state(seeded) == before
    assert seen[-1] > path.stat().st_size / 2 and seen[-1] < path.stat().st_size
    assert isinstance(Cancelled("x"), LimaError)


def test_import_and_export_on_a_worker_thread(tmp_path: Path, db_path: Path):
    src = write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL)
    out: dict[str, Any] = {}

    def work() -> None:
        with DatasetStore(db_path) as s:
            out["imp"] = import_file(s, src)
            out["exp"] = export_file(s, tmp_path / "out.jsonl")

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert out["imp"].chats == 3 and out["exp"].chats == 3


# -- export: filters, atomicity --------------------------------------------------------------


def test_export_filters_and_counts(tmp_path: Path, store: DatasetStore):
    import_file(store, DATA / "limagui_small.csv")
    import_file(store, write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL), tags=["oa"])
    calls: list[tuple[int, int]] = []
    rep = export_file(store, tmp_path / "ru.jsonl", chat_filter=ChatFilter(language="ru"),
                      progress=lambda d, t: calls.append((d, t)))
    assert (rep.chats, rep.messages) == (1, 3) and calls[-1] == (1, 1)
    assert export_file(store, tmp_path / "oa.jsonl", chat_filter=ChatFilter(tag="oa")).chats == 3
    ids = store.chat_ids()[:2]
    rep = export_file(store, tmp_path / "ids.jsonl", "lima", chat_filter=ChatFilter(ids=ids))
    assert rep.chats == 2 and len(read_jsonl(tmp_path / "ids.jsonl")) == 3
    with pytest.raises(ValidationError):
        export_file(store, tmp_path / "x.csv", "limagui-csv")


def test_export_cancel_keeps_old_file(tmp_path: Path, store: DatasetStore):
    import_file(store, big_file(tmp_path / "big.jsonl", 1200))
    dest = tmp_path / "out" / "data.jsonl"
    dest.parent.mkdir()
    dest.write_text("previous\n")
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done:
            cancel.set()

    with pytest.raises(Cancelled):
        export_file(store, dest, progress=progress, cancel=cancel)
    assert dest.read_text() == "previous\n"
    assert [p.name for p in dest.parent.iterdir()] == ["data.jsonl"]


def test_export_error_keeps_old_file(tmp_path: Path, store: DatasetStore, monkeypatch: pytest.MonkeyPatch):
    import_file(store, write_jsonl(tmp_path / "in.jsonl", OPENAI_FULL))
    dest = tmp_path / "out" / "data.jsonl"
    dest.parent.mkdir()
    dest.write_text("previous\n")
    real = REGISTRY["openai"]
    n = {"calls": 0}

    def boom(chat, ctx):
        n["calls"] += 1
        if n["calls"] == 2:
            raise RuntimeError("disk on fire")
        return real.write(chat, ctx)

    monkeypatch.setitem(REGISTRY, "openai", dataclasses.replace(real, write=boom))
    with pytest.raises(RuntimeError):
        export_file(store, dest)
    assert dest.read_text() == "previous\n"
    assert [p.name for p in dest.parent.iterdir()] == ["data.jsonl"]
    monkeypatch.setitem(REGISTRY, "openai", real)
    rep = export_file(store, dest)
    assert rep.chats == 3 and len(read_jsonl(dest)) == 3
    assert [p.name for p in dest.parent.iterdir()] == ["data.jsonl"]


def test_export_to_missing_folder_or_folder(tmp_path: Path, store: DatasetStore):
    with pytest.raises(LimaError, match="cannot write"):
        export_file(store, tmp_path / "no" / "such" / "out.jsonl")
    with pytest.raises(LimaError, match="folder"):
        export_file(store, tmp_path)


def test_registry_is_extensible(tmp_path: Path, store: DatasetStore, monkeypatch: pytest.MonkeyPatch):
    from lima_tk.formats import FormatSpec, register
    from lima_tk.formats.jsonlines import json_lines
    from lima_tk.formats.openai import chat_from_object

    def sniff(head):
        return isinstance(head.obj, dict) and "dialogue" in head.obj

    def read(ctx):
        roles = {"human": "user", "gpt": "assistant"}
        for obj in json_lines(ctx.lines, ctx):
            msgs = [{"role": roles[m["from"]], "content": m["value"]} for m in obj["dialogue"]]
            yield ctx.finish_chat(chat_from_object(ctx, {"messages": msgs}))

    monkeypatch.setattr("lima_tk.formats.REGISTRY", dict(REGISTRY))
    register(FormatSpec("dialogue-test", "test", sniff, read), before="openai")
    from lima_tk import formats

    assert list(formats.REGISTRY)[-2:] == ["dialogue-test", "openai"]
    path = write_jsonl(tmp_path / "s.jsonl", [{"dialogue": [{"from": "human", "value": "hi"},
                                                             {"from": "gpt", "value": "yo"}]}])
    assert detect_format(path) == "dialogue-test"
    assert import_file(store, path).chats == 1


def test_openai_fast_export_equals_checked_writer(store, tmp_path, monkeypatch):
    """SQLite-built lines for plain chats parse to exactly what the checked writer produces."""
    import dataclasses

    from lima_tk import formats
    from lima_tk.model import Message, Tool

    store.create_chat("plain", messages=[Message("system", "s\x00\t 🙂 مرحبا"), Message("user", "q\r\nx  "),
                                         Message("assistant", "a\u2028\u0007", weight=0)])
    store.create_chat("weights", messages=[Message("user", "q", weight=1), Message("assistant", "a", weight=1)])
    store.create_chat("tools", messages=[Message("user", "q"), Message("assistant", "a")], tools=[Tool("f")])
    store.create_chat("no reply", messages=[Message("user", "q")])
    fast = tmp_path / "fast.jsonl"
    slow = tmp_path / "slow.jsonl"
    r1 = formats.export_file(store, fast)
    spec = formats.REGISTRY["openai"]
    monkeypatch.setitem(formats.REGISTRY, "openai", dataclasses.replace(spec, fast_lines=None))
    r2 = formats.export_file(store, slow)
    parse = lambda p: [json.loads(x) for x in p.read_text(encoding="utf-8").split("\n") if x]  # noqa: E731
    assert parse(fast) == parse(slow) and len(parse(fast)) == 3
    assert (r1.chats, r1.messages, r1.skipped) == (r2.chats, r2.messages, r2.skipped) == (3, 7, 1)
    assert r1.warnings == r2.warnings
