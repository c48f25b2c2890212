"""What a bad input file says, word for word (issue 17): the file, the line, the message, and
what it was instead. A user fixes the file from this one line, so each part of it matters."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lima_tk.errors import LimaError
from lima_tk.formats import import_file
from lima_tk.store import DatasetStore

EXPECTED = ("expected OpenAI JSONL, a lima-tk export, lima-gui JSONL/CSV/data_config.json, a ChatGPT export, "
            "ShareGPT or Alpaca")


def _call(**function) -> dict:
    return {"messages": [{"role": "user", "content": "q"},
                         {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": function}]}]}


@pytest.mark.parametrize("obj, message", [
    (_call(name="f", arguments=5), "message 2: arguments must be a JSON string or object, got a number"),
    (_call(name="", arguments="{}"), "message 2: a tool call needs a function name"),
    (_call(arguments="{}"), "message 2: a tool call needs a function name"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [
        {"id": 7, "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]},
     "message 2: a tool call id must be a string, got a number"),
    ({"messages": [{"role": "user", "content": ["hi"]}]}, "message 1: content parts must be objects, got a string"),
    ({"messages": [{"role": "user", "content": [None]}]}, "message 1: content parts must be objects, got null"),
])
def test_openai_lines_that_cannot_be_read(tmp_path: Path, obj: dict, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "fine"}]}) + "\n" + json.dumps(obj) + "\n",
                   encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        with pytest.raises(LimaError) as e:
            import_file(s, src)
        assert str(e.value) == f"{src}:2: {message}"
        assert s.count_chats() == 0  # nothing of a file that fails


def test_arguments_given_as_an_object_are_kept_as_a_json_string_with_a_warning(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(_call(name="wetter", arguments={"ort": "Köln"}), ensure_ascii=False) + "\n",
                   encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        r = import_file(s, src)
        assert r.warnings == ["line 1: tool call arguments given as an object were turned into a JSON string"]
        call = s.get_chat(s.list_chats()[0].id).messages[1].tool_calls[0]
        assert json.loads(call["function"]["arguments"]) == {"ort": "Köln"} and "Köln" in call["function"]["arguments"]


@pytest.mark.parametrize("name, content, message", [
    ("a.json", json.dumps([{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7}]),
     f"unknown format: a JSON array of objects with keys a, b, c, d, e, f ({EXPECTED})"),
    ("e.json", "[{}]", f"unknown format: a JSON array of objects with keys none ({EXPECTED})"),
    ("n.json", "[1, 2]", f"unknown format: a JSON array ({EXPECTED})"),
    ("o.json", '{"x": 1}', f"unknown format: a JSON object with keys x ({EXPECTED})"),
    ("eo.json", "{}", f"unknown format: a JSON object with keys none ({EXPECTED})"),
])
def test_unknown_formats_say_what_the_file_holds(tmp_path: Path, name: str, content: str, message: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}: {message}"


def test_a_zip_that_is_not_a_chatgpt_export(tmp_path: Path) -> None:
    src = tmp_path / "z.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("other.txt", "hi")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == (f"{src}: a ZIP archive without conversations.json (only ChatGPT data exports are "
                            "imported from a .zip)")


@pytest.mark.parametrize("name, text, where", [
    ("a.json", '[\n  {"a": \n]\n', ":3: invalid JSON: Expecting value at column 1"),
    ("o.json", '{\n "x": ,\n}\n', ":2: invalid JSON: Expecting value at column 7"),
    ("deep.json", "[\n" + "[" * 100_000 + "]" * 100_000 + "\n]\n", ":2: nested too deep"),
])
def test_pretty_printed_json_that_does_not_parse_names_the_line(tmp_path: Path, name: str, text: str,
                                                                where: str) -> None:
    src = tmp_path / name
    src.write_text(text, encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}{where}"


def test_alpaca_lines_with_tags_and_languages_are_chats_not_a_config(tmp_path: Path) -> None:
    """A bug this test found: an Alpaca (or ShareGPT) JSON lines file whose first record has `tags`
    was taken for a lima-gui data_config.json, and its import failed ("Extra data")."""
    src = tmp_path / "alpaca.jsonl"
    src.write_text(json.dumps({"instruction": "Do it", "input": "with this", "output": "Done",
                               "tags": ["t1", " t2 ", "t1"], "language": "de"}) + "\n"
                   + json.dumps({"instruction": "X", "input": "  ", "output": "Y", "lang": "fr", "tags": "no list"})
                   + "\n", encoding="utf-8")
    share = tmp_path / "share.jsonl"
    share.write_text(json.dumps({"tags": ["s"], "conversations": [{"from": "human", "value": "q"},
                                                                  {"from": "gpt", "value": "a"}]}) + "\n",
                     encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        r = import_file(s, src)
        assert (r.format, r.chats, r.warnings) == ("alpaca", 2, [])
        assert [(c.language, c.tags, [(m.role, m.content) for m in c.messages]) for c in s.iter_chats()] == [
            ("de", ["t1", "t2"], [("user", "Do it\n\nwith this"), ("assistant", "Done")]),
            ("fr", [], [("user", "X"), ("assistant", "Y")])]
        assert import_file(s, share).format == "sharegpt"
        with pytest.raises(LimaError, match="^multi_turn must be 'history' or 'skip', got 'bogus'$"):
            from lima_tk.formats import export_file

            export_file(s, tmp_path / "out.json", "alpaca", options={"multi_turn": "bogus"})


def _native_lines(tmp_path: Path, change) -> str:
    from lima_tk.formats import export_file
    from lima_tk.model import Message

    with DatasetStore(tmp_path / "src.lima.db") as s:
        s.create_chat("c", messages=[Message("user", "q"), Message("assistant", "a")])
        export_file(s, tmp_path / "n.jsonl", "lima")
    lines = (tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[-1])
    change(obj)
    return "\n".join([*lines[:-1], json.dumps(obj)]) + "\n"


@pytest.mark.parametrize("change, message", [
    (lambda o: o["messages"][1].__setitem__("model", 5), ":2: message 2: 'model' has the wrong type (a number)"),
    (lambda o: o["messages"][1].__setitem__("source", 5), ":2: message 2: 'source' has the wrong type (a number)"),
    (lambda o: o.__setitem__("notes", 5), ":2: 'notes' has the wrong type (a number)"),
    (lambda o: o.__setitem__("tools", [{"name": 5}]), ":2: tools[1]: a function needs a name"),
])
def test_lima_exports_with_a_wrong_field(tmp_path: Path, change, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(_native_lines(tmp_path, change), encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}{message}"


@pytest.mark.parametrize("obj, message", [
    ({"messages": [{"role": "user", "content": "q"}], "parallel_tool_calls": "x"},
     ":1: 'parallel_tool_calls' must be true or false, got a string"),
    ({"messages": "hi"}, ":1: 'messages' must be a list, got a string"),
    ({"messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function", "function": {"name": 5}}]},
     ":1: tools[1]: a function needs a name"),
])
def test_openai_records_with_a_wrong_field(tmp_path: Path, obj: dict, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(obj) + "\n", encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}{message}"


def test_lima_gui_lines_with_the_older_dialog_key(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"name": "n", "lang": "de", "dialog": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}) + "\n", encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        r = import_file(s, src)
        assert (r.format, r.chats, r.warnings) == ("limagui", 1, [])
        chat = s.get_chat(s.list_chats()[0].id)
        assert (chat.name, chat.language, [(m.role, m.content) for m in chat.messages]) == (
            "n", "de", [("user", "q"), ("assistant", "a")])


def test_a_data_config_too_large_to_be_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lima_tk.formats import limagui

    monkeypatch.setattr(limagui, "CONFIG_MAX_BYTES", 10)
    src = tmp_path / "data_config.json"
    src.write_text(json.dumps({"languages": ["en", "de"], "tags": ["a"]}), encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}:1: too large for a data_config.json"
