"""Formats off the default path: ShareGPT with non-default role and key names (system messages
included), a ChatGPT export whose current_node points at an older branch, a Hugging Face export
into a folder that holds somebody else's files, and fsync before every rename into place."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lima_tk.errors import LimaError
from lima_tk.formats import export_file, import_file
from lima_tk.model import Message, Tool
from lima_tk.store import DatasetStore


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def turns(chat) -> list[tuple]:
    return [(m.role, m.content) for m in chat.messages]


# -- ShareGPT with other tag names ------------------------------------------------------------------

OPENAI_STYLE = "messages=messages,role=role,content=content,user=user,assistant=assistant,system=system"
CUSTOM = ("messages=dialog,role=speaker,content=text,user=asker,assistant=answerer,system=rules,"
          "function=call,observation=result,system_column=preamble,tools_column=functions")


def test_sharegpt_openai_style_tags_with_system_turns(tmp_path: Path, store: DatasetStore):
    records = [
        {"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"},
                      {"role": "assistant", "content": "4"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                      {"role": "system", "content": "Now answer in French."}, {"role": "user", "content": "Bye"},
                      {"role": "assistant", "content": "Au revoir"}], "system": "Top prompt."},
    ]
    src = write_json(tmp_path / "oa.json", records)
    report = import_file(store, src, "sharegpt", options={"sharegpt_tags": OPENAI_STYLE})
    assert (report.chats, report.warnings) == (2, [])
    first, second = store.iter_chats()
    assert turns(first) == [("system", "Be terse."), ("user", "2+2?"), ("assistant", "4")]
    # the system column goes first; a system turn later in the chat stays where it is
    assert turns(second) == [("system", "Top prompt."), ("user", "Hi"), ("assistant", "Hello"),
                             ("system", "Now answer in French."), ("user", "Bye"), ("assistant", "Au revoir")]


def test_sharegpt_every_tag_renamed_both_ways(tmp_path: Path, store: DatasetStore):
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "zebra"}'}}
    store.create_chat("c", messages=[
        Message("system", "Rules here."), Message("user", "Find zebras"), Message("assistant", None, tool_calls=[call]),
        Message("tool", "3 zebras", tool_call_id="c1"), Message("assistant", "Three.")],
        tools=[Tool("lookup", "Search", {"type": "object"})])
    for system in ("turn", "column"):
        out = tmp_path / f"custom-{system}.json"
        export_file(store, out, "sharegpt", options={"sharegpt_tags": CUSTOM, "system": system})
        (rec,) = json.loads(out.read_text("utf-8"))
        speakers = [t["speaker"] for t in rec["dialog"]]
        if system == "turn":
            assert speakers == ["rules", "asker", "call", "result", "answerer"] and "preamble" not in rec
        else:
            assert speakers == ["asker", "call", "result", "answerer"] and rec["preamble"] == "Rules here."
        assert set(rec) <= {"dialog", "preamble", "functions"} and json.loads(rec["functions"])[0]["name"] == "lookup"
        with DatasetStore(tmp_path / f"back-{system}.lima.db") as back:
            import_file(back, out, "sharegpt", options={"sharegpt_tags": CUSTOM})
            (chat,) = back.iter_chats()
            assert turns(chat) == [("system", "Rules here."), ("user", "Find zebras"), ("assistant", None),
                                   ("tool", "3 zebras"), ("assistant", "Three.")]
            assert chat.messages[2].tool_calls[0]["function"] == {"name": "lookup", "arguments": '{"q": "zebra"}'}
            assert chat.messages[3].tool_call_id == chat.messages[2].tool_calls[0]["id"]
            assert [t.name for t in chat.tools] == ["lookup"]


def test_sharegpt_default_names_still_read_with_custom_tags(tmp_path: Path, store: DatasetStore):
    """Custom names add to the usual ones: a file mixing `human` and the custom user name reads."""
    src = write_json(tmp_path / "mixed.json", [{"dialog": [
        {"speaker": "asker", "text": "q1"}, {"speaker": "gpt", "text": "a1"},
        {"speaker": "human", "text": "q2"}, {"speaker": "answerer", "text": "a2"}]}])
    import_file(store, src, "sharegpt", options={"sharegpt_tags": CUSTOM})
    assert turns(next(store.iter_chats())) == [("user", "q1"), ("assistant", "a1"), ("user", "q2"),
                                               ("assistant", "a2")]


# -- ChatGPT: current_node on an older branch ------------------------------------------------------


def node(mid: str, parent: str | None, children: list[str], role: str | None = None, text: str = "",
         t: float | None = None) -> dict:
    msg = None
    if role is not None:
        msg = {"id": mid, "author": {"role": role}, "create_time": t,
               "content": {"content_type": "text", "parts": [text]},
               "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {}, "recipient": "all"}
    return {"id": mid, "message": msg, "parent": parent, "children": children}


def branching(current: str | None) -> dict:
    """A regenerated first answer: the old branch (a1 -> u2 -> a2) and a newer one (b1 -> v2 -> b2)."""
    mapping = {
        "root": node("root", None, ["u1"]),
        "u1": node("u1", "root", ["a1", "b1"], "user", "First question", 1),
        "a1": node("a1", "u1", ["u2"], "assistant", "Old answer", 2),
        "u2": node("u2", "a1", ["a2"], "user", "Follow-up on the old answer", 3),
        "a2": node("a2", "u2", [], "assistant", "Old final", 4),
        "b1": node("b1", "u1", ["v2"], "assistant", "New answer", 5),
        "v2": node("v2", "b1", ["b2"], "user", "Follow-up on the new answer", 6),
        "b2": node("b2", "v2", [], "assistant", "New final", 7),
    }
    conv = {"title": "Branches", "create_time": 1.0, "update_time": 7.0, "mapping": mapping, "id": "conv-1"}
    if current is not None:
        conv["current_node"] = current
    return conv


def test_chatgpt_current_node_on_an_older_branch(tmp_path: Path, store: DatasetStore):
    src = write_json(tmp_path / "conversations.json", [branching("a2")])
    report = import_file(store, src)
    assert (report.format, report.chats, report.warnings) == ("chatgpt", 1, [])
    (chat,) = store.iter_chats()
    assert turns(chat) == [("user", "First question"), ("assistant", "Old answer"),
                           ("user", "Follow-up on the old answer"), ("assistant", "Old final")]
    # the newer regeneration is the first answer's other version; the shown one stays the old one
    first = chat.messages[1]
    assert [v["content"] for v in first.variants()] == ["Old answer", "New answer"] and first.alt_index == 0


def test_chatgpt_newest_branch_without_current_node(tmp_path: Path, store: DatasetStore):
    src = write_json(tmp_path / "conversations.json", [branching(None), {**branching("nowhere"), "id": "conv-2"}])
    report = import_file(store, src, allow_duplicates=True)
    assert report.chats == 2
    assert any("current_node not in the mapping" in w for w in report.warnings)
    for chat in store.iter_chats():
        assert [c for _, c in turns(chat)] == ["First question", "New answer", "Follow-up on the new answer",
                                               "New final"]
        assert chat.messages[1].alt_index == 1


def test_chatgpt_older_branch_without_regenerations(tmp_path: Path, store: DatasetStore):
    src = write_json(tmp_path / "conversations.json", [branching("a2")])
    import_file(store, src, options={"regenerations": "drop"})
    (chat,) = store.iter_chats()
    assert chat.messages[1].content == "Old answer" and chat.messages[1].alternatives is None


# -- Hugging Face folder over somebody else's files ------------------------------------------------


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def seeded(store: DatasetStore, n: int = 3) -> None:
    for i in range(n):
        store.create_chat(f"c{i}", messages=[Message("user", f"q{i}"), Message("assistant", f"a{i}")])


@pytest.mark.parametrize("theirs", [".git/config", ".gitattributes", "notes.md", "data/validation.jsonl",
                                    "data/extra/part-0.parquet"])
def test_hf_export_never_deletes_files_it_did_not_write(tmp_path: Path, store: DatasetStore, theirs: str):
    """A folder that an earlier export made, to which the user added files (a git clone of the
    Hub repository, their own notes, another split): exporting again must keep every one."""
    seeded(store)
    out = tmp_path / "ds"
    export_file(store, out, "hf")
    extra = out / theirs
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(b"somebody else's \x00 bytes")
    before = tree(out)
    with pytest.raises(LimaError, match=r"not from lima-tk") as info:
        export_file(store, out, "hf")
    parts = theirs.split("/")
    assert (parts[0] if parts[0] != "data" else "/".join(parts[:2])) in str(info.value)  # named
    assert tree(out) == before, "nothing in the folder may change"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "test.lima.db", "test.lima.db-shm",
                                                          "test.lima.db-wal"], "no temp folder left behind"


def test_hf_export_over_its_own_folder_still_replaces_it(tmp_path: Path, store: DatasetStore):
    seeded(store)
    out = tmp_path / "ds"
    export_file(store, out, "hf", options={"test_ratio": 0.5})
    assert (out / "data" / "test.jsonl").exists()
    store.create_chat("new", messages=[Message("user", "q"), Message("assistant", "a")])
    assert export_file(store, out, "hf").chats == 4
    assert sorted(tree(out)) == ["README.md", "data/train.jsonl"]


# -- fsync before the rename -----------------------------------------------------------------------


@pytest.fixture
def fs_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every fsync (by the path of its descriptor) and every rename, in order, in this process."""
    log: list[tuple] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, *a, **k):
        log.append(("rename", str(src), str(dst)))
        return real_replace(src, dst, *a, **k)

    def rename(src, dst, *a, **k):
        log.append(("rename", str(src), str(dst)))
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    return log


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name a descriptor's file")
@pytest.mark.parametrize("fmt", ["openai", "lima", "sharegpt", "alpaca", "pref-trl"])
def test_export_fsyncs_the_temp_file_before_renaming_it(tmp_path: Path, store: DatasetStore, fmt: str,
                                                        fs_log: list[tuple]):
    seeded(store)
    out = tmp_path / f"out.{fmt}"
    out.write_text("the old file")
    export_file(store, out, fmt)
    renames = [e for e in fs_log if e[0] == "rename"]
    assert len(renames) == 1 and renames[0][2] == str(out)
    tmp = renames[0][1]
    assert ("fsync", tmp) in fs_log[:fs_log.index(renames[0])], f"{tmp} was not fsynced before the rename"
    assert out.read_text() != "the old file"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name a descriptor's file")
def test_hf_export_fsyncs_every_file_before_the_folder_is_renamed(tmp_path: Path, store: DatasetStore,
                                                                  fs_log: list[tuple]):
    seeded(store)
    out = tmp_path / "ds"
    export_file(store, out, "hf", options={"test_ratio": 0.4})
    export_file(store, out, "hf", options={"test_ratio": 0.4})  # again: over the old folder
    into_place = [i for i, e in enumerate(fs_log) if e[0] == "rename" and e[2] == str(out)]
    assert len(into_place) == 2
    for i in into_place:
        tmp = Path(fs_log[i][1])
        synced = {Path(e[1]) for e in fs_log[:i] if e[0] == "fsync"}
        for name in ("README.md", "data/train.jsonl", "data/test.jsonl"):
            assert tmp / name in synced, f"{name} was not fsynced before the folder was renamed into place"


# -- where a broken or too deep file is broken (issue 17) ------------------------------------


def test_the_line_where_json_nests_too_deep() -> None:
    from lima_tk.formats.jsonlines import deep_line

    assert deep_line("[[[", limit=2) == 1
    assert deep_line("[[]]" * 10 + "\n[[", limit=2) is None  # never deeper than 2
    assert deep_line('{"a": "[[[[\\"[[[",\n"b": [[', limit=2) == 2  # brackets in strings, escaped quotes
    assert deep_line('"x\ny"\n\n[[[', limit=2) == 4  # a line break inside a string is a line too
    assert deep_line("[" * 501) == 1 and deep_line("[" * 500) is None  # the default limit


@pytest.mark.parametrize("text, where", [
    ('[\n {"conversations": [{"from": "human", "value": "hi"}]},\n  {"conversations": [x]}\n]\n',
     ":3: invalid JSON: Expecting value at column 22"),
    ('[{"conversations": [{"from": "human", "value": "hi"}]}, {"conversations": [x]}]',
     ":1: invalid JSON: Expecting value at column 76"),
])
def test_an_error_in_a_json_array_names_its_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    src = tmp_path / "s.json"
    src.write_text(text, encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s, pytest.raises(LimaError) as e:
        import_file(s, src)
    assert str(e.value) == f"{src}{where}"
    assert text.splitlines()[int(where.split(":")[1]) - 1][int(where.rsplit(" ", 1)[1]) - 1] == "x"
