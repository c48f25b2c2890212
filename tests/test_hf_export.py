"""The Hugging Face dataset folder export, loaded back with the real `datasets` library."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import datasets
import pytest

from lima_tk.errors import LimaError, ValidationError
from lima_tk.formats import Cancelled, export_file, import_file
from lima_tk.formats.hf import push_folder
from lima_tk.model import Message, Tool
from lima_tk.store import ChatFilter, DatasetStore

datasets.disable_progress_bars()

WEATHER = Tool("get_weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}},
                                              "required": ["city"]}, True)


def call(cid: str, args: str) -> dict:
    return {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": args}}


def build(store: DatasetStore) -> None:
    store.create_chat("plain", "en", ["a"], messages=[
        Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hello", weight=0),
        Message("user", "Again"), Message("assistant", "Hello again", weight=1)])
    store.create_chat("tools", "de", ["b", "a"], messages=[
        Message("user", "Wetter?", name="ann"),
        Message("assistant", None, tool_calls=[call("c1", '{"city": "Berlin"}'), call("c2", '{"city":"Bonn"}')]),
        Message("tool", "5C", tool_call_id="c1"), Message("tool", "7C", tool_call_id="c2"),
        Message("assistant", "5C und 7C.")], tools=[WEATHER, Tool("noop")])
    store.create_chat("no language", None, ["held-out"], messages=[Message("user", "q"), Message("assistant", "a")])
    for i in range(7):
        store.create_chat(f"more {i}", "en", [], messages=[Message("user", f"q{i}"), Message("assistant", f"a{i}")])


def expected_row(chat, training: bool) -> dict:
    """What a loaded row holds, written out by hand (not with the exporter's own code): plain chats
    have role and content only; tool chats the full message shape, arguments and parameters as
    objects."""
    plain = not chat.tools and not any(m.tool_calls or m.role == "tool" or m.name for m in chat.messages)
    msgs = []
    for m in chat.messages:
        row = {"role": m.role, "content": m.content if m.content is not None else ""}
        if not plain:
            row.update({"name": m.name, "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}}
                for c in m.tool_calls] if m.tool_calls else None, "tool_call_id": m.tool_call_id})
        if training:
            row["training"] = m.role == "assistant" and m.weight != 0
        msgs.append(row)
    out = {"id": chat.uid, "name": chat.name, "language": chat.language, "tags": chat.tags, "messages": msgs}
    if not plain:
        out["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                          "parameters": t.parameters}} for t in chat.tools]
    return out


def load(folder: Path, tmp: Path, *args, **kw) -> datasets.DatasetDict:
    return datasets.load_dataset(str(folder), *args, cache_dir=str(tmp / "hf-cache"), **kw)


def test_hf_folder_loads_row_by_row(tmp_path: Path, store: DatasetStore):
    build(store)
    out = tmp_path / "my-dataset"
    calls: list[tuple[int, int]] = []
    rep = export_file(store, out, "hf", options={"test_tag": "held-out", "training_flag": True},
                      progress=lambda d, t: calls.append((d, t)))
    assert (rep.format, rep.chats, rep.rows, rep.messages) == ("hf", 10, 10, 26)
    assert rep.files == ["README.md", "data/train.jsonl", "data/test.jsonl", "data/tools-train.jsonl"]
    assert calls[-1] == (10, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-dataset", "test.lima.db", "test.lima.db-shm",
                                                          "test.lima.db-wal"]  # no temp folder left
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n")
    assert 'path: "data/test.jsonl"' in card and "num_examples: 1" in card
    assert '- config_name: tools\n  data_files:\n  - split: train\n    path: "data/tools-train.jsonl"' in card
    assert 'language:\n- "de"\n- "en"\n' in card
    assert "| en | 8 |" in card and "| a | 2 |" in card and "not counted yet" in card
    assert any("strict" in w for w in rep.warnings)  # WEATHER is strict: listed as lossy
    ds = load(out, tmp_path)
    assert set(ds) == {"train", "test"}
    assert (ds["train"].num_rows, ds["test"].num_rows) == (8, 1)
    tools = load(out, tmp_path, "tools")
    assert set(tools) == {"train"} and tools["train"].num_rows == 1
    by_name = {c.name: c for c in store.iter_chats()}
    for d in (ds, tools):
        for split in d:
            for row in d[split]:
                assert row == expected_row(by_name[row["name"]], True), row["name"]
    assert ds["test"][0]["name"] == "no language"
    # plain rows have no tool keys at all: Llama-3.1's `'tool_calls' in message` stays false
    assert set(ds["train"][0]["messages"][0]) == {"role", "content", "training"}
    tools_row = tools["train"][0]
    assert tools_row["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert tools_row["messages"][1]["tool_calls"][1]["function"]["arguments"] == {"city": "Bonn"}


def test_hf_rows_keep_one_schema_across_batches(tmp_path: Path, store: DatasetStore):
    """Many tool chats without calls before the first call, read in small batches: every batch
    must cast to the declared features (an inferred list<null> would not take the later structs)."""
    for i in range(300):
        store.create_chat(f"c{i}", messages=[Message("user", f"q{i} " + "x" * 50), Message("assistant", f"a{i}")],
                          tools=[Tool("noop")])
    store.create_chat("late tools", messages=[
        Message("user", "w?"), Message("assistant", None, tool_calls=[call("c1", '{"city": "Rome"}')]),
        Message("tool", "20C", tool_call_id="c1"), Message("assistant", "20C")], tools=[WEATHER])
    out = tmp_path / "ds"
    export_file(store, out, "hf")
    ds = load(out, tmp_path, "tools", chunksize=2048)
    assert ds["train"].num_rows == 301
    assert ds["train"][300]["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Rome"}
    assert ds["train"][0]["messages"][0]["tool_calls"] is None
    assert "training" not in ds["train"][0]["messages"][0]
    # the string form for older datasets versions
    export_file(store, tmp_path / "s", "hf", options={"tool_args": "string"})
    ds = load(tmp_path / "s", tmp_path, "tools")
    assert ds["train"][300]["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Rome"}'


def test_hf_test_split_by_ratio_is_seeded(tmp_path: Path, store: DatasetStore):
    build(store)
    names = []
    for i, seed in enumerate((7, 7, 8)):
        out = tmp_path / f"r{i}"
        rep = export_file(store, out, "hf", options={"test_ratio": 0.3, "seed": seed})
        assert rep.files[-2:] == ["data/test.jsonl", "data/tools-train.jsonl"]
        test = [json.loads(x)["name"] for x in (out / "data" / "test.jsonl").read_text().splitlines()]
        train = [json.loads(x)["name"] for x in (out / "data" / "train.jsonl").read_text().splitlines()]
        tools = [json.loads(x)["name"] for x in (out / "data" / "tools-train.jsonl").read_text().splitlines()]
        assert len(test) == 3 and len(train) + len(tools) == 7 and not set(test) & set(train)
        names.append(test)
    assert names[0] == names[1] and names[0] != names[2]
    with pytest.raises(ValidationError, match="not both"):
        export_file(store, tmp_path / "x", "hf", options={"test_ratio": 0.2, "test_tag": "a"})
    with pytest.raises(ValidationError, match="below 1"):
        export_file(store, tmp_path / "x", "hf", options={"test_ratio": 1})


def test_hf_filters_and_no_problems(tmp_path: Path, store: DatasetStore):
    build(store)
    store.create_chat("broken", "en", ["a"], messages=[Message("user", "q"), Message("assistant", "")])
    rep = export_file(store, tmp_path / "f", "hf", chat_filter=ChatFilter(tag="a"), skip_problems=True)
    assert (rep.chats, rep.skipped, rep.skipped_reasons) == (2, 1, {"has linter errors": 1})
    assert rep.files == ["README.md", "data/train.jsonl", "data/tools-train.jsonl"]
    assert "1 chats were left out: has linter errors (1)." in (tmp_path / "f" / "README.md").read_text()


def test_hf_replaces_only_its_own_folder(tmp_path: Path, store: DatasetStore):
    build(store)
    out = tmp_path / "ds"
    export_file(store, out, "hf", options={"test_tag": "held-out"})
    assert (out / "data" / "test.jsonl").exists()
    export_file(store, out, "hf")  # again, without a test split: the old test file is gone
    assert sorted(p.name for p in (out / "data").iterdir()) == ["tools-train.jsonl", "train.jsonl"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(LimaError, match="not empty"):
        export_file(store, foreign, "hf")
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(LimaError, match="is a file"):
        export_file(store, tmp_path / "file.txt", "hf")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_file(store, empty, "hf").chats == 10


def test_hf_cancel_keeps_the_old_folder(tmp_path: Path, store: DatasetStore):
    for i in range(1200):
        store.create_chat(f"c{i}", messages=[Message("user", f"q{i}"), Message("assistant", "a")])
    out = tmp_path / "ds"
    export_file(store, out, "hf", chat_filter=ChatFilter(ids=[1, 2]))
    before = (out / "data" / "train.jsonl").read_bytes()
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        export_file(store, out, "hf", progress=lambda d, t: cancel.set() if d else None, cancel=cancel)
    assert (out / "data" / "train.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("test.lima")) == ["ds"]


def test_hf_card_token_stats(tmp_path: Path, store: DatasetStore):
    from lima_tk.tokens import count_dataset, estimate_counter

    build(store)
    store.set_setting("context_limit", 10)
    count_dataset(store, estimate_counter())
    export_file(store, tmp_path / "ds", "hf")
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "Tokens (estimates" in card and "| total | min | median | mean | max | over the limit |" in card
    assert "(limit 10)" in card


def test_push_needs_the_hub_library_and_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if it were not installed
    with pytest.raises(LimaError, match=r"lima-tk\[hub\]"):
        push_folder(tmp_path, "me/data")
    monkeypatch.undo()
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(LimaError, match="not logged in"):
        push_folder(tmp_path, "me/data")
    with pytest.raises(ValidationError, match="user/name"):
        push_folder(tmp_path, "no slash")

    uploads: list[tuple] = []

    class FakeApi:
        def __init__(self, token: str) -> None:
            assert token == "hf_test"

        def create_repo(self, repo_id, **kw):
            uploads.append(("create", repo_id, kw["repo_type"], kw["private"]))

        def upload_folder(self, **kw):
            uploads.append(("upload", kw["repo_id"], kw["folder_path"]))

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert push_folder(tmp_path, "me/data", private=True) == "https://huggingface.co/datasets/me/data"
    assert uploads == [("create", "me/data", "dataset", True), ("upload", "me/data", str(tmp_path))]


def test_cli_export_hf_and_push_errors(tmp_path: Path, store: DatasetStore):
    from click.testing import CliRunner

    from lima_tk.cli import cli

    build(store)
    db = str(store.path)
    r = CliRunner().invoke(cli, ["--db", db, "export", str(tmp_path / "out"), "--format", "hf", "--test-tag",
                                 "held-out", "--training-flag"])
    assert r.exit_code == 0, r.output
    assert "wrote 10 chats" in r.output and "files: README.md, data/train.jsonl, data/test.jsonl" in r.output
    assert '"training"' in (tmp_path / "out" / "data" / "train.jsonl").read_text()
    r = CliRunner().invoke(cli, ["--db", db, "export", str(tmp_path / "o.jsonl"), "--push", "me/x"])
    assert r.exit_code == 2 and "--format hf" in r.output


def test_import_of_own_exports_keeps_chats(tmp_path: Path, store: DatasetStore):
    """The hf rows are not an import format, but ShareGPT/Alpaca of the same chats round-trip."""
    build(store)
    export_file(store, tmp_path / "s.json", "sharegpt")
    other = DatasetStore(tmp_path / "o.lima.db")
    rep = import_file(other, tmp_path / "s.json")
    assert rep.chats == 10
    other.close()


CARD_BODY = """
# my-dataset

<!-- written by lima-tk (hf export) -->
Chat dataset exported by lima-tk {version}: 10 chats, 26 messages.

```python
from datasets import load_dataset

ds = load_dataset("path/to/my-dataset")  # this folder, or "user/name" once uploaded
tool_chats = load_dataset("path/to/my-dataset", "tools")  # chats with tools
```

| config | split | file | chats | messages |
|---|---|---|---:|---:|
| default | train | data/train.jsonl | 8 | 19 |
| default | test | data/test.jsonl | 1 | 2 |
| tools | train | data/tools-train.jsonl | 1 | 5 |

Rows: `id`, `name`, `language`, `tags`, `messages`. In `default` (chats without tools) a message is `role` and \
`content`{training}; in `tools` it also has `name`, `tool_calls` and `tool_call_id` (null when not set) and the row \
has `tools`. Tool-call `arguments` and tool `parameters` are {args}.
{training_note}
## Languages

| language | chats |
|---|---:|
| en | 8 |
| (none) | 1 |
| de | 1 |

## Tags

| tag | chats |
|---|---:|
| a | 2 |
| b | 1 |
| held-out | 1 |

## Tokens

Token counts: not counted yet (run `lima-tk tokens`).
"""


@pytest.mark.parametrize("training, tool_args", [(True, "object"), (False, "string")])
def test_hf_card_in_full(tmp_path: Path, store: DatasetStore, training: bool, tool_args: str):
    """The whole dataset card: its YAML header as the hub reads it, and its text."""
    import yaml

    from lima_tk import __version__

    build(store)
    out = tmp_path / "my-dataset"
    export_file(store, out, "hf", options={"test_tag": "held-out", "training_flag": training, "tool_args": tool_args})
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(head)
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train.jsonl"},
                                                  {"split": "test", "path": "data/test.jsonl"}]},
        {"config_name": "tools", "data_files": [{"split": "train", "path": "data/tools-train.jsonl"}]}]
    info = {c["config_name"]: c for c in meta["dataset_info"]}
    sizes = {p: (out / "data" / f"{p}.jsonl").stat().st_size for p in ("train", "test", "tools-train")}
    assert info["default"]["splits"] == [{"name": "train", "num_bytes": sizes["train"], "num_examples": 8},
                                         {"name": "test", "num_bytes": sizes["test"], "num_examples": 1}]
    assert info["tools"]["splits"] == [{"name": "train", "num_bytes": sizes["tools-train"], "num_examples": 1}]
    plain_msg = [f["name"] for f in info["default"]["features"][4]["list"]]
    assert plain_msg == ["role", "content", *(["training"] if training else [])]
    tool_feats = {f["name"]: f for f in info["tools"]["features"]}
    args = tool_feats["messages"]["list"][3]["list"][2]["struct"][1]
    assert args == {"name": "arguments", "dtype": "json" if tool_args == "object" else "string"}
    assert (meta["language"], meta["task_categories"], meta["tags"], meta["size_categories"]) == (
        ["de", "en"], ["text-generation"], ["lima-tk", "conversational"], ["n<1K"])
    assert body == CARD_BODY.format(
        version=__version__, training=" and `training`" if training else "",
        args="JSON objects (the `Json` feature: datasets >= 4.7; export with tool_args=string for an older one)"
        if tool_args == "object" else "JSON strings (`json.loads` them)",
        training_note="\n`training` marks the messages to train on (assistant messages whose weight is not 0).\n"
        if training else "")


def test_hf_options_and_refusals_say_what_is_wrong(tmp_path: Path, store: DatasetStore):
    from lima_tk.formats.hf import _size_category

    build(store)
    for options, message in [
        ({"test_ratio": "a lot"}, "test_ratio must be a number and seed a whole number"),
        ({"seed": "1.5"}, "test_ratio must be a number and seed a whole number"),
        ({"test_ratio": 1}, "test_ratio must be at least 0 and below 1, got 1.0"),
        ({"test_ratio": 0.5, "test_tag": "a"}, "give a test split by ratio or by tag, not both"),
        ({"tool_args": "yaml"}, "tool_args must be 'object' or 'string', got 'yaml'"),
    ]:
        with pytest.raises(ValidationError) as e:
            export_file(store, tmp_path / "x", "hf", options=options)
        assert str(e.value) == message
    assert not (tmp_path / "x").exists()
    for flag, messages in (("on", True), ("YES", True), ("off", False), ("0", False)):
        out = tmp_path / f"f-{flag}"
        export_file(store, out, "hf", options={"training_flag": flag})
        row = json.loads((out / "data" / "train.jsonl").read_text().splitlines()[0])
        assert ("training" in row["messages"][0]) is messages, flag
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(LimaError) as e:
        export_file(store, foreign, "hf")
    assert str(e.value) == f"{foreign}: the folder is not empty and not an earlier lima-tk hf export; " \
                           "choose a new or empty folder"
    assert [_size_category(n) for n in (0, 999, 1_000, 9_999, 10_000, 99_999, 100_000, 999_999, 1_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "10K<n<100K", "100K<n<1M", "100K<n<1M", "1M<n<10M"]


def test_hf_small_splits_progress_odd_text_and_foreign_files(tmp_path: Path, store: DatasetStore):
    a = store.create_chat("a", messages=[Message("user", "q"), Message("assistant", "a")])
    store.create_chat("b", messages=[Message("user", "q2"), Message("assistant", "a2")])
    # two chats, a ratio near 1: one goes to test, one stays to train on
    rep = export_file(store, tmp_path / "two", "hf", options={"test_ratio": 0.99})
    assert rep.files == ["README.md", "data/train.jsonl", "data/test.jsonl"]
    calls: list[tuple[int, int]] = []
    store.create_chat("bad", messages=[  # arguments that decode to a lone surrogate (stored by another tool)
        Message("user", "q"), Message("assistant", None, tool_calls=[call("c1", '{"city": "\\ud800"}')]),
        Message("tool", "r", tool_call_id="c1"), Message("assistant", "done")])
    rep = export_file(store, tmp_path / "odd", "hf", progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert (rep.chats, rep.skipped) == (2, 1)
    assert rep.skipped_reasons == {"cannot be written (a lone UTF-16 surrogate in its text)": 1}
    # an earlier export with somebody else's files in it is refused, naming a few of them
    out = tmp_path / "two"
    for name in ("e.txt", "d.txt", "c.txt", "b.txt", "a.txt"):
        (out / name).write_text("mine")
    with pytest.raises(LimaError) as e:
        export_file(store, out, "hf")
    assert str(e.value) == (f"{out}: holds files that are not from lima-tk (a.txt, b.txt, c.txt and 2 more); nothing "
                            "was changed: choose a new or empty folder, or move them out first")
    (out / "a.txt").unlink()
    with pytest.raises(LimaError, match=r"\(b\.txt, c\.txt, d\.txt and 1 more\); nothing"):
        export_file(store, out, "hf")
    (out / "b.txt").unlink()
    with pytest.raises(LimaError, match=r"\(c\.txt, d\.txt, e\.txt\); nothing"):
        export_file(store, out, "hf")
    assert store.get_chat(a).name == "a"


def test_hf_card_says_how_many_chats_were_not_counted(tmp_path: Path, store: DatasetStore):
    from lima_tk.tokens import count_dataset, estimate_counter

    build(store)
    count_dataset(store, estimate_counter())
    first = store.list_chats()[0]
    store.add_message(first.id, "user", "one more")
    export_file(store, tmp_path / "ds", "hf")
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "\n\n1 chats were not counted since their last change; their numbers are estimates." in card
