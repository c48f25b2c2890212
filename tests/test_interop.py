"""Issue 7 formats: ChatGPT export, ShareGPT, Alpaca imports and exports, duplicates, the streaming
JSON reader, preference pairs and the export filters. (The Hugging Face folder: test_hf_export.py.)"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from lima_tk.errors import FormatError, ValidationError
from lima_tk.formats import detect_format, export_file, import_file
from lima_tk.formats.jsonstream import JsonStream
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import ChatFilter, DatasetStore

DATA = Path(__file__).parent / "data"
CHATGPT = DATA / "chatgpt_conversations.json"


def chats(store: DatasetStore) -> list[Chat]:
    return list(store.iter_chats())


def turns(chat: Chat) -> list[tuple[str, str | None]]:
    return [(m.role, m.content) for m in chat.messages]


def write_json(path: Path, value: Any, indent: int | None = 2) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def state(store: DatasetStore) -> tuple:
    q = store.conn.execute
    return (store.count_chats(), q("SELECT count(*) FROM messages").fetchone()[0],
            q("SELECT max(id) FROM journal").fetchone()[0])


# -- the streaming JSON reader ------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_json_stream_any_chunk_size(chunk: int):
    items = [{"a": "ü\n🙂", "b": [1, 2.5, None, True]}, "x", 12345678901234567890, [], {}, -0.5e-3]
    raw = ("\ufeff[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n").encode()
    stream = JsonStream(io.BytesIO(raw), "f", chunk=chunk)
    got = []
    for v in stream:
        got.append((stream.line, v))
    assert [v for _, v in got] == items
    assert [line for line, _ in got] == [2, 3, 4, 5, 6, 7]
    assert stream.is_array
    lines = b"".join(json.dumps(i).encode() + b"\n\n" for i in items)
    stream = JsonStream(io.BytesIO(lines), "f", chunk=chunk)
    assert list(stream) == items and stream.is_array is False


@pytest.mark.parametrize("raw, line, reason", [
    (b'[{"a": 1},\n {"a": }]', 2, "invalid JSON"),
    (b'[{"a": 1},\n {"a": 2}', 2, "not closed"),
    (b'[1, 2]\n[3]', 2, "extra data"),
    (b'[1,\n"\\ud800"]', 2, "surrogate"),
    (b'[1,\nNaN]', 2, "NaN"),
    (b'[1,\n"caf\xe9"]', 2, "not UTF-8"),
    (b'{"a": 1}\n{"a": "unterminated', 2, "truncated"),
])
def test_json_stream_errors_name_the_line(raw: bytes, line: int, reason: str):
    with pytest.raises(FormatError) as ei:
        list(JsonStream(io.BytesIO(raw), "f.json", chunk=3))
    assert ei.value.line == line and reason in str(ei.value), str(ei.value)


# -- ChatGPT export -------------------------------------------------------------------------------


def test_chatgpt_detected_by_content(tmp_path: Path):
    assert detect_format(CHATGPT) == "chatgpt"
    one_line = write_json(tmp_path / "export.txt", json.loads(CHATGPT.read_text()), indent=None)
    assert detect_format(one_line) == "chatgpt"


def test_chatgpt_import_visible_thread(store: DatasetStore):
    report = import_file(store, CHATGPT)
    assert (report.format, report.chats, report.skipped) == ("chatgpt", 4, 1)
    assert report.skipped_reasons == {"no messages": 1}
    assert any("'Empty' skipped: no messages" in w for w in report.warnings)
    branching, multimodal, no_current, code = chats(store)
    # current_node's branch, reversed; the hidden root, the hidden instructions node (kept as the
    # system message) and the thoughts node are not turns.
    assert branching.name == "Capital of France"
    assert turns(branching) == [
        ("system", "I am a geography teacher.\n\nAnswer in one sentence."),
        ("user", "What is the capital of France?"),
        ("assistant", "The capital of France is Paris."),
        ("user", "And of Italy?"),
        ("assistant", "Rome is the capital of Italy."),
    ]
    assert branching.created_at == "2023-11-14T22:13:20.500Z"
    assert branching.updated_at == "2023-11-14T22:18:20.250Z"
    assert branching.extra == {"chatgpt_id": "conv-branching"}
    a1, a2 = branching.messages[2], branching.messages[4]
    assert (a1.source, a1.model, a1.finish) == ("generated", "gpt-4o", "stop")
    # The other branches (regenerations) are the messages' other versions, in the tree's order.
    assert [v["content"] for v in a1.variants()] == ["Paris, I think.", "The capital of France is Paris."]
    assert a1.alt_index == 1
    assert [v["content"] for v in a2.variants()] == ["Rome is the capital of Italy.", "Milan."]
    # Untitled: named after the first user words (placeholders left out); image -> [image].
    assert multimodal.name == "Describe this picture of my cat please it…"
    assert turns(multimodal) == [("user", "[image]\nDescribe this picture of my cat please\nit is orange"),
                                 ("assistant", "An orange cat on a sofa.")]
    # No current_node: the most recent leaf.
    assert turns(no_current) == [("user", "Say hi"), ("assistant", "Hi (newest)")]
    assert [v["content"] for v in no_current.messages[1].variants()] == ["Hi (newest)", "Hi (older)"]
    # Code interpreter: a tool call, the tool's output, and a `python` tool to call.
    assert [m.role for m in code.messages] == ["user", "assistant", "tool", "assistant"]
    call = code.messages[1].tool_calls[0]
    assert call["function"] == {"name": "python", "arguments": '{"code": "print(2**100)"}'}
    assert code.messages[2].tool_call_id == call["id"] and code.messages[2].content == "1267650600228229401496703205376"
    assert [t.name for t in code.tools] == ["python"] and code.tools[0].parameters["required"] == ["code"]


def test_chatgpt_options(store: DatasetStore):
    opts = {"placeholder": "<{kind} omitted>", "code_turns": "drop", "custom_instructions": False,
            "regenerations": "drop"}
    import_file(store, CHATGPT, options=opts)
    branching, multimodal, _, code = chats(store)
    assert branching.messages[0].role == "user"
    assert all(m.alternatives is None for m in branching.messages)
    assert multimodal.messages[0].content.startswith("<image omitted>\n")
    assert [m.role for m in code.messages] == ["user", "assistant"] and code.tools == []
    store2 = DatasetStore(store.path.parent / "b.lima.db")
    import_file(store2, CHATGPT, options={"placeholder": ""})
    assert chats(store2)[1].messages[0].content == "Describe this picture of my cat please\nit is orange"
    store2.close()
    with pytest.raises(ValidationError, match="code_turns"):
        import_file(store, CHATGPT, options={"code_turns": "keep"})


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_chatgpt_zip(tmp_path: Path, store: DatasetStore):
    data = CHATGPT.read_bytes()
    z = _zip(tmp_path / "export.zip", {"user.json": b"{}", "chat.html": b"<html></html>",
                                       "conversations.json": data, "message_feedback.json": b"[]"})
    assert detect_format(z) == "chatgpt"
    calls: list[tuple[int, int]] = []
    report = import_file(store, z, progress=lambda d, t: calls.append((d, t)))
    assert (report.format, report.chats, report.skipped) == ("chatgpt", 4, 1)
    assert calls[-1][0] == calls[-1][1] == z.stat().st_size
    # Split exports: conversations-000.json, conversations-001.json (in a folder), read in order.
    convs = json.loads(data)
    z2 = _zip(tmp_path / "split.zip", {"export/conversations-001.json": json.dumps(convs[2:]).encode(),
                                       "export/conversations-000.json": json.dumps(convs[:2]).encode()})
    other = DatasetStore(tmp_path / "o.lima.db")
    assert import_file(other, z2).chats == 4
    assert [c.name for c in chats(other)][0] == "Capital of France"
    other.close()


def test_chatgpt_zip_errors(tmp_path: Path, store: DatasetStore):
    z = _zip(tmp_path / "photos.zip", {"a.jpg": b"\xff\xd8"})
    with pytest.raises(FormatError, match="without conversations.json"):
        detect_format(z)
    bad = _zip(tmp_path / "bad.zip", {"conversations.json": b'[{"mapping": {}},\n{"mapping": ]'})
    before = state(store)
    with pytest.raises(FormatError) as ei:
        import_file(store, bad)
    assert ei.value.line == 2 and "conversations.json in the zip" in str(ei.value)
    assert state(store) == before


def test_chatgpt_bad_conversation_rolls_back(tmp_path: Path, seeded_store: DatasetStore):
    convs = json.loads(CHATGPT.read_text())
    convs.insert(2, {"title": "broken", "mapping": ["not", "an", "object"]})
    path = write_json(tmp_path / "conversations.json", convs)
    before = state(seeded_store)
    with pytest.raises(FormatError) as ei:
        import_file(seeded_store, path)
    assert "conversation 3: 'mapping' must be an object" in str(ei.value)
    assert state(seeded_store) == before


def test_chatgpt_big_one_line_file_is_streamed(tmp_path: Path, store: DatasetStore):
    """A minified export over 64 KiB on one line (once refused as a JSON-lines line) imports."""
    base = json.loads(CHATGPT.read_text())[1]
    convs = []
    for i in range(400):
        c = json.loads(json.dumps(base))
        c["mapping"]["u1"]["message"]["content"]["parts"][1] = f"question {i} " + "x" * 300
        convs.append(c)
    path = write_json(tmp_path / "conversations.json", convs, indent=None)
    assert b"\n" not in path.read_bytes() and path.stat().st_size > 150_000
    report = import_file(store, path)
    assert report.chats == 400 and store.count_chats() == 400


@pytest.fixture
def seeded_store(store: DatasetStore) -> DatasetStore:
    store.create_chat("existing", "en", ["keep"], messages=[Message("user", "hi"), Message("assistant", "hello")])
    return store


# -- ShareGPT ------------------------------------------------------------------------------------

SHAREGPT = [
    {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello! How can I help?"}],
     "system": "Be brief.", "id": "x1"},
    {"conversations": [
        {"from": "system", "value": "You can call tools."},
        {"from": "human", "value": "Weather in Paris and Oslo?"},
        {"from": "function_call", "value": json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}},
                                                       {"name": "get_weather", "arguments": {"city": "Oslo"}}])},
        {"from": "observation", "value": json.dumps(["18C", "-3C"])},
        {"from": "gpt", "value": "Paris 18C, Oslo -3C."},
        {"from": "human", "value": "And Rome?"},
        {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": "Rome"}})},
        {"from": "observation", "value": "21C"},
        {"from": "gpt", "value": "21C in Rome."}],
     "tools": json.dumps([{"name": "get_weather", "description": "Weather now",
                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])},
]


def test_sharegpt_import_array_and_jsonl(tmp_path: Path, store: DatasetStore):
    arr = write_json(tmp_path / "sg.json", SHAREGPT)
    assert detect_format(arr) == "sharegpt"
    report = import_file(store, arr)
    assert (report.format, report.chats, report.messages, report.warnings) == ("sharegpt", 2, 13, [])
    simple, tools = chats(store)
    assert turns(simple) == [("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello! How can I help?")]
    assert simple.name == "Hi"
    assert [m.role for m in tools.messages] == ["system", "user", "assistant", "tool", "tool", "assistant", "user",
                                                "assistant", "tool", "assistant"]
    c1, c2 = tools.messages[2].tool_calls
    assert (c1["id"], c1["function"]) == ("call_1", {"name": "get_weather", "arguments": '{"city": "Paris"}'})
    assert c2["function"]["arguments"] == '{"city": "Oslo"}'
    assert [(m.content, m.tool_call_id) for m in tools.messages[3:5]] == [("18C", "call_1"), ("-3C", "call_2")]
    assert tools.messages[8].tool_call_id == "call_3"
    assert [t.name for t in tools.tools] == ["get_weather"]
    other = DatasetStore(tmp_path / "l.lima.db")
    jsonl = write_jsonl(tmp_path / "sg.jsonl", SHAREGPT)
    assert detect_format(jsonl) == "sharegpt"
    import_file(other, jsonl)
    assert [turns(c) for c in chats(other)] == [turns(c) for c in chats(store)]
    other.close()


def test_sharegpt_custom_tags(tmp_path: Path, store: DatasetStore):
    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
             "system_prompt": "s"}]
    path = write_jsonl(tmp_path / "lf.jsonl", rows)
    tags = "messages=messages,role=role,content=content,user=user,assistant=assistant,system_column=system_prompt"
    import_file(store, path, "sharegpt", options={"sharegpt_tags": tags})
    assert turns(chats(store)[0]) == [("system", "s"), ("user", "q"), ("assistant", "a")]
    with pytest.raises(ValidationError, match="unknown sharegpt tag"):
        import_file(store, path, "sharegpt", options={"sharegpt_tags": "speaker=role"})


@pytest.mark.parametrize("row, reason", [
    ({"conversations": [{"from": "alien", "value": "x"}]}, "unknown role 'alien'"),
    ({"conversations": "hi"}, "'conversations' must be a list"),
    ({"conversations": [{"from": "human", "value": 3}]}, "must be a string"),
    ({"conversations": [{"from": "function_call", "value": "not json"}]}, "function_call value must be JSON"),
])
def test_sharegpt_bad_records(tmp_path: Path, seeded_store: DatasetStore, row: dict, reason: str):
    path = write_json(tmp_path / "bad.json", [SHAREGPT[0], row])
    before = state(seeded_store)
    with pytest.raises(FormatError) as ei:
        import_file(seeded_store, path, "sharegpt")
    assert reason in str(ei.value) and "record 2" in str(ei.value)
    assert state(seeded_store) == before


def test_sharegpt_export_shape_and_round_trip(tmp_path: Path, store: DatasetStore):
    import_file(store, write_json(tmp_path / "sg.json", SHAREGPT))
    store.create_chat("no reply", messages=[Message("user", "only a question")])
    out = tmp_path / "out.json"
    rep = export_file(store, out, "sharegpt")
    assert (rep.chats, rep.skipped, rep.rows) == (2, 1, 2)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("[\n{") and text.endswith("}\n]\n") and text.count("\n") == 4  # one record per line
    rows = json.loads(text)
    assert rows[0] == {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                                         {"from": "gpt", "value": "Hello! How can I help?"}]}
    conv = rows[1]["conversations"]
    assert [t["from"] for t in conv] == ["system", "human", "function_call", "observation", "gpt", "human",
                                         "function_call", "observation", "gpt"]
    assert json.loads(conv[2]["value"]) == [{"name": "get_weather", "arguments": {"city": "Paris"}},
                                            {"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert json.loads(conv[3]["value"]) == ["18C", "-3C"]
    assert json.loads(conv[6]["value"]) == {"name": "get_weather", "arguments": {"city": "Rome"}}
    assert conv[7]["value"] == "21C"
    assert json.loads(rows[1]["tools"])[0]["name"] == "get_weather"
    # Round trip: the export imports back to the same chats.
    again = DatasetStore(tmp_path / "again.lima.db")
    import_file(again, out)
    a, b = chats(store)[:2], chats(again)
    assert [turns(c) for c in a] == [turns(c) for c in b]
    assert [[m.tool_calls for m in c.messages] for c in a] == [[m.tool_calls for m in c.messages] for c in b]
    assert [[m.tool_call_id for m in c.messages] for c in a] == [[m.tool_call_id for m in c.messages] for c in b]
    again.close()
    # The system prompt as a column instead of a turn.
    export_file(store, out, "sharegpt", options={"system": "column"})
    first = json.loads(out.read_text())[0]
    assert first["system"] == "Be brief." and first["conversations"][0] == {"from": "human", "value": "Hi"}


def test_array_export_of_nothing_is_an_empty_array(tmp_path: Path, store: DatasetStore):
    for fmt in ("sharegpt", "alpaca"):
        export_file(store, tmp_path / f"{fmt}.json", fmt)
        assert json.loads((tmp_path / f"{fmt}.json").read_text()) == []


# -- Alpaca --------------------------------------------------------------------------------------

ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well. 2. Move. 3. Sleep."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour",
     "system": "You are a translator."},
    {"instruction": "And good night?", "input": "", "output": "Bonne nuit",
     "history": [["Translate 'hello' to French.", "Bonjour"], ["And 'thanks'?", "Merci"]]},
]


def test_alpaca_import(tmp_path: Path, store: DatasetStore):
    path = tmp_path / "alpaca_data.json"
    path.write_text(json.dumps(ALPACA, indent=4), encoding="utf-8")
    assert detect_format(path) == "alpaca"
    report = import_file(store, path)
    assert (report.format, report.chats, report.messages) == ("alpaca", 3, 11)
    one, two, three = chats(store)
    assert turns(one) == [("user", "Give three tips for staying healthy."),
                          ("assistant", "1. Eat well. 2. Move. 3. Sleep.")]
    assert turns(two) == [("system", "You are a translator."), ("user", "Translate to French.\n\nGood morning"),
                          ("assistant", "Bonjour")]
    assert turns(three) == [("user", "Translate 'hello' to French."), ("assistant", "Bonjour"),
                            ("user", "And 'thanks'?"), ("assistant", "Merci"), ("user", "And good night?"),
                            ("assistant", "Bonne nuit")]
    other = DatasetStore(tmp_path / "o.lima.db")
    import_file(other, write_jsonl(tmp_path / "a.jsonl", ALPACA[1:2]), options={"input_separator": "\n"})
    assert chats(other)[0].messages[1].content == "Translate to French.\nGood morning"
    other.close()
    bad = write_json(tmp_path / "bad.json", [{"instruction": "x"}, {"instruction": "y", "output": 3}])
    with pytest.raises(FormatError, match="record 1: 'output' is missing"):
        import_file(store, bad, "alpaca")


def test_alpaca_export_and_round_trip(tmp_path: Path, store: DatasetStore):
    path = write_json(tmp_path / "a.json", ALPACA)
    import_file(store, path)
    store.create_chat("tools", messages=[Message("user", "q"), Message("assistant", "a")], tools=[Tool("f")])
    store.create_chat("two users", messages=[Message("user", "q"), Message("user", "q2"), Message("assistant", "a")])
    out = tmp_path / "out.json"
    rep = export_file(store, out, "alpaca")
    assert (rep.chats, rep.skipped) == (3, 2)
    assert rep.skipped_reasons == {"tools and tool calls have no place in Alpaca": 1,
                                   "not (system +) user/assistant pairs": 1}
    rows = json.loads(out.read_text())
    assert rows[0] == {"instruction": "Give three tips for staying healthy.", "input": "",
                       "output": "1. Eat well. 2. Move. 3. Sleep."}
    assert rows[1] == {"instruction": "Translate to French.\n\nGood morning", "input": "", "output": "Bonjour",
                       "system": "You are a translator."}
    assert rows[2] == {"instruction": "And good night?", "input": "", "output": "Bonne nuit",
                       "history": [["Translate 'hello' to French.", "Bonjour"], ["And 'thanks'?", "Merci"]]}
    again = DatasetStore(tmp_path / "again.lima.db")
    import_file(again, out)
    assert [turns(c) for c in chats(again)] == [turns(c) for c in chats(store)[:3]]
    again.close()
    rep = export_file(store, out, "alpaca", options={"multi_turn": "skip"})
    assert rep.chats == 2 and rep.skipped_reasons["multi-turn (multi_turn=skip)"] == 1


# -- duplicates ----------------------------------------------------------------------------------


def test_duplicates_are_skipped_unless_allowed(tmp_path: Path, store: DatasetStore):
    path = write_json(tmp_path / "sg.json", SHAREGPT)
    assert import_file(store, path).chats == 2
    again = import_file(store, path)
    assert (again.chats, again.messages, again.skipped) == (0, 0, 2)
    assert again.skipped_reasons == {"duplicate of a chat in the dataset": 2}
    assert not any("no chats in the file" in w for w in again.warnings)
    assert store.count_chats() == 2
    # Leading and trailing whitespace does not make a chat new; other text does.
    rows = [SHAREGPT[0], {"conversations": [{"from": "human", "value": " Hi "},
                                            {"from": "gpt", "value": "Hello! How can I help?\n"}],
                          "system": "Be brief."},
            {"conversations": [{"from": "human", "value": "Hi!"}, {"from": "gpt", "value": "Hello!"}]},
            {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!  How can I help?"}],
             "system": "Be brief."}]
    r = import_file(store, write_json(tmp_path / "more.json", rows))
    assert (r.chats, r.skipped) == (2, 2)
    # Within one file, the second copy is the duplicate.
    fresh = DatasetStore(tmp_path / "f.lima.db")
    r = import_file(fresh, write_json(tmp_path / "twice.json", [SHAREGPT[0], SHAREGPT[0], SHAREGPT[1]]))
    assert (r.chats, r.skipped_reasons) == (2, {"duplicate of an earlier chat in the import": 1})
    r = import_file(fresh, path, allow_duplicates=True)
    assert r.chats == 2 and fresh.count_chats() == 4
    fresh.close()


# -- preference pairs ----------------------------------------------------------------------------


def _pref_dataset(store: DatasetStore) -> int:
    """A chat whose 2nd assistant turn has three versions: shown 'B', others 'A' and 'C'."""
    cid = store.create_chat("prefs", tools=[Tool("f", "a function", {"type": "object"})], messages=[
        Message("system", "Be kind."), Message("user", "Hi"), Message("assistant", "Hello"),
        Message("user", "Tell me a joke"),
        Message("assistant", "B", alternatives=[{"content": "A"}, {"content": "C"}], alt_index=1),
    ])
    store.create_chat("no versions", messages=[Message("user", "q"), Message("assistant", "a")])
    return cid


def test_set_alternative_rejected_is_undoable(store: DatasetStore):
    cid = _pref_dataset(store)
    mid = store.get_chat(cid).messages[4].id
    store.set_alternative_rejected(mid, 2)
    msg = store.get_message(mid)[1]
    assert [v.get("rejected", False) for v in msg.variants()] == [False, False, True]
    assert (msg.content, msg.alt_index) == ("B", 1)
    assert store.undo_label() == "Reject version 3"
    store.undo()
    assert not any(v.get("rejected") for v in store.get_message(mid)[1].variants())
    store.redo()
    assert store.get_message(mid)[1].alternatives[1]["rejected"] is True
    store.set_alternative_rejected(mid, 2, False)
    assert "rejected" not in store.get_message(mid)[1].alternatives[1]
    with pytest.raises(ValidationError, match="shown version"):
        store.set_alternative_rejected(mid, 1)
    with pytest.raises(ValidationError, match="no version 4"):
        store.set_alternative_rejected(mid, 3)
    # Showing a rejected version makes it the chosen one: it is no longer rejected.
    store.set_alternative_rejected(mid, 0)
    store.show_alternative(mid, 0)
    msg = store.get_message(mid)[1]
    assert msg.content == "A" and not any(v.get("rejected") for v in msg.variants())


def test_preference_exports(tmp_path: Path, store: DatasetStore):
    cid = _pref_dataset(store)
    mid = store.get_chat(cid).messages[4].id
    out = tmp_path / "p.jsonl"
    rep = export_file(store, out, "pref-trl")
    assert (rep.chats, rep.rows, rep.skipped) == (0, 0, 2) and out.read_text() == ""
    store.set_alternative_rejected(mid, 0)
    store.set_alternative_rejected(mid, 2)
    rep = export_file(store, out, "pref-trl")
    assert (rep.chats, rep.rows, rep.skipped, rep.skipped_reasons) == (1, 2, 1, {"no rejected alternative": 1})
    prompt = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
              {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Tell me a joke"}]
    # the chat's tools come along: TRL's DPOTrainer renders the prompt with them (issue 11)
    tools = [{"type": "function", "function": {"name": "f", "description": "a function",
                                                "parameters": {"type": "object"}}}]
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"prompt": prompt, "chosen": [{"role": "assistant", "content": "B"}],
         "rejected": [{"role": "assistant", "content": "A"}], "tools": tools},
        {"prompt": prompt, "chosen": [{"role": "assistant", "content": "B"}],
         "rejected": [{"role": "assistant", "content": "C"}], "tools": tools},
    ]
    export_file(store, out, "pref-openai")
    tool = {"type": "function",
            "function": {"name": "f", "description": "a function", "parameters": {"type": "object"}}}
    assert json.loads(out.read_text().splitlines()[1]) == {
        "input": {"messages": prompt, "tools": [tool]},
        "preferred_output": [{"role": "assistant", "content": "B"}],
        "non_preferred_output": [{"role": "assistant", "content": "C"}],
    }
    # rejected=all: every version not shown, marked or not.
    store.set_alternative_rejected(mid, 2, False)
    assert export_file(store, out, "pref-trl").rows == 1
    assert export_file(store, out, "pref-trl", options={"rejected": "all"}).rows == 2


def test_preference_pairs_from_a_chatgpt_export(tmp_path: Path, store: DatasetStore):
    import_file(store, CHATGPT)
    rep = export_file(store, tmp_path / "p.jsonl", "pref-trl", options={"rejected": "all"})
    rows = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert rep.rows == 3 and [r["rejected"][0]["content"] for r in rows] == ["Paris, I think.", "Milan.", "Hi (older)"]
    assert rows[1]["prompt"][-1] == {"role": "user", "content": "And of Italy?"}


# -- export filters ------------------------------------------------------------------------------


def test_no_problems_only_export(tmp_path: Path, store: DatasetStore):
    store.create_chat("good", "en", ["t"], messages=[Message("user", "q"), Message("assistant", "a")])
    store.create_chat("empty reply", "en", ["t"], messages=[Message("user", "q2"), Message("assistant", "  ")])
    store.create_chat("warning only", "en", ["t"], messages=[Message("user", "q3"), Message("user", "q4"),
                                                             Message("assistant", "a")])
    for fmt in ("openai", "sharegpt", "lima"):
        out = tmp_path / f"o.{fmt}"
        rep = export_file(store, out, fmt, skip_problems=True)
        assert (rep.chats, rep.skipped, rep.skipped_reasons) == (2, 1, {"has linter errors": 1}), fmt
    rep = export_file(store, tmp_path / "o.jsonl", "openai", chat_filter=ChatFilter(ids=[1, 2]), skip_problems=True)
    assert rep.chats == 1


def test_cancel_mid_stream_rolls_back(tmp_path: Path, seeded_store: DatasetStore):
    import threading

    from lima_tk.formats import Cancelled

    rows = [{"conversations": [{"from": "human", "value": f"question {i} " + "x" * 400},
                               {"from": "gpt", "value": "answer " + "y" * 400}]} for i in range(3000)]
    path = write_json(tmp_path / "big.json", rows, indent=None)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if total / 3 < done < total:
            cancel.set()

    before = state(seeded_store)
    with pytest.raises(Cancelled):
        import_file(seeded_store, path, progress=progress, cancel=cancel)
    assert state(seeded_store) == before
    assert seen[0] == 0 and path.stat().st_size / 3 < seen[-1] < path.stat().st_size
