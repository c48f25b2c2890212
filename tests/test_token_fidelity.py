"""Counts equal what the trainer sees (issue 11): lima-tk's rendered count of a chat against
`len(tokenizer.apply_chat_template(messages, tools=..., tokenize=True))` of transformers, with the
real Qwen2.5, Qwen3 and Llama-3.1 templates, for every place a model folder keeps its template;
and the same number in the list, `list --json`, the over-limit filter, `validate`, the stats and
the HF card."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lima_tk import tokens
from lima_tk.cli import cli
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import ChatFilter, DatasetStore
from tests.real_templates import (
    TEMPLATES,
    as_transformers_sees,
    hf_count,
    hf_ids,
    hf_tokenizer,
    model_folder,
    saved_by_transformers,
)

pytest.importorskip("transformers")

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather at a place, now.",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Local time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def call(i: int, name: str, args: dict) -> dict:
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}


# Each chat: (name, messages as a trainer passes them to apply_chat_template, tools, weights of
# the assistant messages in order (None = unset)).
CHATS: list[tuple[str, list[dict], list[dict] | None, list[int | None]]] = [
    ("plain", [{"role": "user", "content": "What is the weather in Paris today?"},
               {"role": "assistant", "content": "It is sunny and 21 degrees."}], None, [None]),
    ("system multi-turn", [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "def add(a, b)?"}, {"role": "assistant", "content": "return a + b"}],
     None, [None, 1]),
    ("tool call", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call(1, "get_weather", {"location": "Paris"})]},
        {"role": "tool", "content": '{"temp": 21, "sky": "sunny"}', "tool_call_id": "call_1"},
        {"role": "assistant", "content": "Sunny, 21 degrees."}], [WEATHER], [None, None]),
    ("system + tools + text and a call", [
        {"role": "system", "content": "Use the tools when you need them."},
        {"role": "user", "content": "Weather in Oslo, in fahrenheit?"},
        {"role": "assistant", "content": "Let me look that up.",
         "tool_calls": [call(1, "get_weather", {"location": "Oslo", "unit": "fahrenheit"})]},
        {"role": "tool", "content": "50F, rain", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "50F and rain in Oslo."}], [WEATHER, TIME], [None, None]),
    ("parallel calls", [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Weather and time in Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [call(1, "get_weather", {"location": "Tokyo"}),
                                                            call(2, "get_time", {"city": "Tokyo"})]},
        {"role": "tool", "content": "18C, cloudy", "tool_call_id": "call_1"},
        {"role": "tool", "content": "21:04", "tool_call_id": "call_2"},
        {"role": "assistant", "content": "18C and cloudy; it is 21:04."}], [WEATHER, TIME], [None, None]),
    ("weight 0", [
        {"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": "5"},
        {"role": "user", "content": "Wrong, try again."}, {"role": "assistant", "content": "4"}], None, [0, 1]),
    ("unicode", [
        {"role": "system", "content": "Отвечай по-русски 🙂"},
        {"role": "user", "content": "Привет, как дела? 数据和模型 café naïve\ttab  "},
        {"role": "assistant", "content": "<think>\nshort thought\n</think>\n\nВсё хорошо! ✅"}], None, [None]),
]


def lima_chat(messages: list[dict], tools: list[dict] | None, weights: list[int | None]) -> Chat:
    """The same chat as lima-tk stores it (arguments as JSON strings, weights on assistants)."""
    w = iter(weights)
    out = []
    for m in messages:
        calls = [{"id": c["id"], "type": "function", "function": {
            "name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])}}
            for c in m.get("tool_calls", [])] or None
        out.append(Message(m["role"], m["content"], tool_calls=calls, tool_call_id=m.get("tool_call_id"),
                           weight=next(w) if m["role"] == "assistant" else None))
    return Chat(name="c", messages=out, tools=[Tool.from_openai(t) for t in tools or []])


def expect_failure(template: str, messages: list[dict]) -> bool:
    """Llama 3.1 refuses parallel calls (and so does every trainer that renders it)."""
    return template == "llama3.1" and any(len(m.get("tool_calls", [])) > 1 for m in messages)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("real")
    out = {}
    for name in TEMPLATES:
        for how in ("config", "jinja", "json", "named"):
            out[name, how] = model_folder(name, root / f"{name}-{how}", how)
        out[name, "saved"] = saved_by_transformers(name, root / f"{name}-saved", root)
    return out


@pytest.mark.parametrize("how", ["config", "jinja", "json", "named", "saved"])
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_rendered_count_equals_apply_chat_template(folders, template: str, how: str, tmp_path: Path) -> None:
    folder = folders[template, how]
    counter = tokens.load_counter(str(folder), strict=True)
    assert counter.template is not None and counter.template_note == ""
    assert counter.template_source == {"config": "tokenizer_config.json", "jinja": "chat_template.jinja",
                                       "json": "chat_template.json", "named": "tokenizer_config.json",
                                       "saved": "chat_template.jinja"}[how]
    with DatasetStore(tmp_path / "d.lima.db") as store:
        ids = {name: store.create_chat(name, messages=lima_chat(m, t, w).messages,
                                       tools=lima_chat(m, t, w).tools) for name, m, t, w in CHATS}
        store.set_setting("tokenizer", str(folder))
        r = tokens.ensure_counted(store)
        assert r is not None and r.chats == len(CHATS)
        totals = store.chat_token_totals(ids.values())
        for name, messages, tools, _w in CHATS:
            rendered = tokens.render_chat(store.get_chat(ids[name]), counter)
            if expect_failure(template, messages):
                with pytest.raises(Exception, match="single tool-calls"):
                    hf_count(folder, copy.deepcopy(messages), copy.deepcopy(tools))
                assert rendered.how == "chatml" and "single tool-calls" in rendered.note
                continue
            want = hf_ids(folder, copy.deepcopy(messages), copy.deepcopy(tools))
            text = hf_tokenizer(folder).apply_chat_template(copy.deepcopy(messages), tools=copy.deepcopy(tools),
                                                            tokenize=False)
            assert rendered.how == "template" and rendered.text == text, name
            assert totals[ids[name]] == (len(want), 0, totals[ids[name]].trainable), name
            assert tokens.count_chat(store, counter, ids[name]).total == len(want), name


def test_default_system_prompt_only_when_the_chat_has_none(folders) -> None:
    """Qwen2.5 adds its own system prompt to a chat without one, not to a chat with one."""
    counter = tokens.load_counter(str(folders["qwen2.5", "config"]))
    bare = Chat(messages=[Message("user", "Hi"), Message("assistant", "Hello")])
    with_system = Chat(messages=[Message("system", "Be brief."), *bare.messages])
    a, b = (tokens.render_chat(c, counter).text for c in (bare, with_system))
    assert "You are Qwen, created by Alibaba Cloud" in a and "You are Qwen" not in b
    default = counter.count("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                            "assistant.<|im_end|>\n")
    mine = counter.count("<|im_start|>system\nBe brief.<|im_end|>\n")
    assert counter.count(a) - default == counter.count(b) - mine


def test_named_templates_pick_tool_use_for_chats_with_tools(tmp_path: Path) -> None:
    """A list of named templates: "tool_use" for a chat with tools, "default" otherwise, as
    transformers' get_chat_template picks them."""
    folder = model_folder("qwen2.5", tmp_path / "m", "config")
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg["chat_template"] = [
        {"name": "default", "template": "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}"},
        {"name": "tool_use", "template": "{{ tools | length }} tools{% for m in messages %}{{ m.content }}"
                                         "<|im_end|>{% endfor %}"}]
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    counter = tokens.load_counter(str(folder))
    for tools in (None, [WEATHER]):
        msgs = [{"role": "user", "content": "hello"}]
        chat = lima_chat(msgs, tools, [])
        r = tokens.render_chat(chat, counter)
        assert r.text == hf_tokenizer(folder).apply_chat_template(msgs, tools=tools, tokenize=False)
        assert r.template == ("tool_use" if tools else "default")
        assert counter.count(r.text) == hf_count(folder, msgs, tools)


def test_jinja_file_wins_over_the_config(tmp_path: Path) -> None:
    """transformers' order: chat_template.jinja before tokenizer_config.json's string, and
    additional_chat_templates/*.jinja beside it are named templates."""
    folder = model_folder("qwen2.5", tmp_path / "m", "config")
    (folder / "chat_template.jinja").write_text("{% for m in messages %}J:{{ m.content }}{% endfor %}")
    (folder / "additional_chat_templates").mkdir()
    (folder / "additional_chat_templates" / "tool_use.jinja").write_text(
        "{% for m in messages %}T:{{ m.content }}{% endfor %}")
    counter = tokens.load_counter(str(folder))
    assert counter.template_source == "chat_template.jinja + additional_chat_templates/"
    for tools in (None, [WEATHER]):
        msgs = [{"role": "user", "content": "hello"}]
        r = tokens.render_chat(lima_chat(msgs, tools, []), counter)
        assert r.text == hf_tokenizer(folder).apply_chat_template(msgs, tools=tools, tokenize=False)
    assert tokens.render_chat(lima_chat(msgs, None, []), counter).text == "J:hello"


# A ChatML template with generation blocks (the form TRL's assistant_only_loss needs).
GENERATION_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' }}"
    "{% if m.role == 'assistant' %}{% generation %}{{ m.content + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ m.content + '<|im_end|>' }}{% endif %}{{ '\n' }}{% endfor %}"
)


def test_generation_blocks_give_the_trained_tokens(tmp_path: Path) -> None:
    """{% generation %} renders its body (it used to fail as an unknown tag) and its tokens are the
    trainable ones: equal to transformers' assistant_masks, less the turns with weight 0."""
    folder = model_folder("qwen2.5", tmp_path / "m", "jinja", template=GENERATION_TEMPLATE)
    counter = tokens.load_counter(str(folder))
    tok = hf_tokenizer(folder)
    for name, msgs, _tools, weights in CHATS[:2] + CHATS[5:]:
        chat = lima_chat(msgs, None, weights)
        r = tokens.render_chat(chat, counter)
        out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        assert r.how == "template" and r.text == tok.apply_chat_template(msgs, tokenize=False), name
        n, trained = counter.count_spans([r.text], [r.spans])[0]
        assert n == len(out["input_ids"]), name
        if 0 not in weights:
            assert trained == sum(out["assistant_masks"]), name
        else:  # "5" (weight 0) is not trained: transformers (which knows no weights) marks it too
            assert trained == sum(out["assistant_masks"]) - counter.count("5<|im_end|>"), name


def test_trainable_tokens_in_the_store(tmp_path: Path) -> None:
    folder = model_folder("qwen2.5", tmp_path / "m", "jinja", template=GENERATION_TEMPLATE)
    with DatasetStore(tmp_path / "d.lima.db") as store:
        msgs, weights = CHATS[5][1], CHATS[5][3]
        cid = store.create_chat("w", messages=lima_chat(msgs, None, weights).messages)
        store.set_setting("tokenizer", str(folder))
        tokens.ensure_counted(store)
        counter = tokens.load_counter(str(folder))
        t = store.chat_token_totals([cid])[cid]
        assert t.trainable == counter.count("4<|im_end|>")  # only the weight-1 reply and its end marker
        # marking the first reply trainable again changes the trained count, not the total
        first = store.get_messages(cid)[1].id
        store.update_message(first, weight=None)
        assert store.chat_token_totals([cid])[cid].uncounted  # dropped by the trigger
        tokens.ensure_counted(store)
        t2 = store.chat_token_totals([cid])[cid]
        assert (t2.total, t2.trainable) == (t.total, t.trainable + counter.count("5<|im_end|>"))


def test_one_number_everywhere(tmp_path: Path) -> None:
    """The list, `list --json`, the over-limit filter, `validate`, `lima-tk stats` and the HF card
    all report the rendered count (Qwen2.5: tools and the default system prompt included)."""
    folder = model_folder("qwen2.5", tmp_path / "qwen", "jinja")
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as store:
        ids = {name: store.create_chat(name, messages=lima_chat(m, t, w).messages, tools=lima_chat(m, t, w).tools)
               for name, m, t, w in CHATS}
        store.set_setting("tokenizer", str(folder))
    want = {name: hf_count(folder, copy.deepcopy(m), copy.deepcopy(t)) for name, m, t, _w in CHATS}
    limit = sorted(want.values())[3]  # some chats over, some not
    over = {n for n, v in want.items() if v > limit}
    run = CliRunner().invoke
    r = run(cli, ["--db", str(db), "tokens", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["total"] == sum(want.values())
    r = run(cli, ["--db", str(db), "config", "context_limit", str(limit)])
    assert r.exit_code == 0, r.output
    listed = json.loads(run(cli, ["--db", str(db), "list", "--json"]).output)["chats"]
    assert {c["name"]: c["tokens"] for c in listed} == want
    assert all(c["trainable_tokens"] > 0 and c["tokens_estimate"] is False for c in listed)
    text = run(cli, ["--db", str(db), "list", "--sort", "tokens", "--desc"]).output
    assert re.search(rf"\b{max(want.values()):,}\b tok", text.splitlines()[0])
    flagged = json.loads(run(cli, ["--db", str(db), "list", "--over-limit", "--json"]).output)["chats"]
    assert {c["name"] for c in flagged} == over
    with DatasetStore(db) as store:
        assert {n for n in want if store.count_chats(ChatFilter(over_limit=True, ids=[ids[n]]))} == over
        assert {store.get_chat(i).name: t.total for i, t in store.chat_token_totals(ids.values()).items()} == want
    found = json.loads(run(cli, ["--db", str(db), "validate", "--json"]).output)["problems"]
    lim = {p["chat_name"]: p["message"] for p in found if p["code"] == "over-context-limit"}
    assert set(lim) == over and all(f"{want[n]:,} tokens" in lim[n] for n in over)
    stats = json.loads(run(cli, ["--db", str(db), "stats", "--json"]).output)["tokens"]
    assert (stats["total"], stats["over_limit"], stats["per_chat"]["max"]) == (
        sum(want.values()), len(over), max(want.values()))
    assert stats["trainable"] == sum(c["trainable_tokens"] for c in listed)
    out = tmp_path / "hf"
    r = run(cli, ["--db", str(db), "export", str(out), "--format", "hf"])
    assert r.exit_code == 0, r.output
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"| {sum(want.values()):,} | {min(want.values()):,} |" in card
    assert f"| {max(want.values()):,} | {len(over)} (limit {limit:,}) |" in card


def test_fallback_is_said(tmp_path: Path) -> None:
    """A folder without a template: ChatML, and the preview note, `lima-tk tokens` and the
    counter say so (it used to be silent: reason "")."""
    from tests.real_templates import tokenizer_json

    tokenizer_json("qwen2.5", tmp_path / "bare" / "tokenizer.json")
    counter = tokens.load_counter(str(tmp_path / "bare"))
    assert "no chat template found" in counter.template_note and "chat_template.jinja" in counter.template_note
    r = tokens.render_chat(Chat(messages=[Message("user", "hi")]), counter)
    assert r.how == "chatml" and r.note == counter.template_note
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as store:
        store.create_chat("a", messages=[Message("user", "hi"), Message("assistant", "yo")])
    res = CliRunner().invoke(cli, ["--db", str(db), "tokens", "--tokenizer", str(tmp_path / "bare"), "--json"])
    assert res.exit_code == 0, res.output
    assert "no chat template found" in json.loads(res.output)["template_note"]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_hf_folder_rows_render_with_each_template(folders, template: str, tmp_path: Path) -> None:
    """Item 4 and 5: the hf folder loads with `datasets`, and every row of both configurations goes
    through transformers' apply_chat_template with the real template (Llama-3.1 included, which
    used to fail on every row) to exactly lima-tk's count, tool-call arguments as objects."""
    import datasets

    from lima_tk.formats import export_file

    folder = folders[template, "jinja"]
    chats = [c for c in CHATS if not expect_failure(template, c[1])]
    with DatasetStore(tmp_path / "d.lima.db") as store:
        for name, m, t, w in chats:
            ch = lima_chat(m, t, w)
            store.create_chat(name, messages=ch.messages, tools=ch.tools)
        store.set_setting("tokenizer", str(folder))
        tokens.ensure_counted(store)
        counts = {store.get_chat(i).name: t.total for i, t in store.chat_token_totals(store.chat_ids()).items()}
        export_file(store, tmp_path / "hf", "hf")
    seen = set()
    for config in ("default", "tools"):
        ds = datasets.load_dataset(str(tmp_path / "hf"), config, cache_dir=str(tmp_path / "cache"))["train"]
        for row in ds:
            n = hf_count(folder, row["messages"], row.get("tools"))
            assert n == counts[row["name"]], (config, row["name"])
            seen.add(row["name"])
    assert seen == {c[0] for c in chats}
    args = [c["function"]["arguments"] for r in ds for m in r["messages"] for c in m["tool_calls"] or []]
    assert args and all(isinstance(a, dict) for a in args)


def test_keys_without_a_value_are_left_out_as_transformers_does(tmp_path: Path) -> None:
    """transformers drops None-valued keys before rendering; a template testing `'key' in message`
    (as Llama-3.1 does with tool_calls) must see the same."""
    probe = ("{% for m in messages %}{{ m.role }}:{{ 'tool_call_id' in m }},{{ 'tool_calls' in m }},"
             "{{ 'name' in m }};{% endfor %}")
    folder = model_folder("qwen2.5", tmp_path / "m", "jinja", template=probe)
    counter = tokens.load_counter(str(folder))
    msgs, tools, weights = CHATS[2][1], CHATS[2][2], CHATS[2][3]
    r = tokens.render_chat(lima_chat(msgs, tools, weights), counter)
    want = hf_tokenizer(folder).apply_chat_template(as_transformers_sees(
        [{**m, "name": None, "tool_call_id": m.get("tool_call_id")} for m in msgs]), tools=tools, tokenize=False)
    assert r.text == want == ("user:False,False,False;assistant:False,True,False;tool:True,False,False;"
                              "assistant:False,False,False;")


def test_a_failing_template_is_said_by_lima_tk_tokens(tmp_path: Path) -> None:
    """A template that fails on a chat: that chat is counted in ChatML, and `lima-tk tokens` says so
    (the counter itself has no note: the template was found)."""
    folder = model_folder("llama3.1", tmp_path / "llama", "jinja")
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as store:
        for name, m, t, w in CHATS:
            ch = lima_chat(m, t, w)
            store.create_chat(name, messages=ch.messages, tools=ch.tools)
    res = CliRunner().invoke(cli, ["--db", str(db), "tokens", "--tokenizer", str(folder), "--json"])
    assert res.exit_code == 0, res.output
    note = json.loads(res.output)["template_note"]
    assert "the chat template failed on 1 chat (" in note and "single tool-calls" in note and "ChatML" in note
    res = CliRunner().invoke(cli, ["--db", str(db), "tokens"])  # a warm cache renders nothing: no note
    assert res.exit_code == 0 and "note:" not in res.output
