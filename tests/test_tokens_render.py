"""What is counted and how it is laid out (issue 17): message texts with odd tool calls, ChatML
with non-ASCII tools and calls, continuation prompts that carry names, calls and call ids to the
model's own template, the trained spans, labels, special tokens, lone surrogates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lima_tk import tokens
from lima_tk.errors import LimaError
from lima_tk.model import Chat, Message, Tool
from lima_tk.tokens import ChatCount, load_counter, message_text
from tests.tokenizer_fixtures import model_folder, word_tokenizer_json

pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


def test_message_text_of_every_shape_of_tool_call() -> None:
    full = {"id": "c1", "type": "function", "function": {"name": "météo", "arguments": '{"ville": "Zürich"}'}}
    legacy = {"name": "add", "arguments": '{"a": 1}'}  # a bare function object, as some exports have
    assert message_text(None, [full]) == '{"name": "météo", "arguments": {"ville": "Zürich"}}'
    assert message_text("", [legacy]) == '{"name": "add", "arguments": {"a": 1}}'
    assert message_text("ok", json.dumps([full, legacy])) == (
        'ok\n{"name": "météo", "arguments": {"ville": "Zürich"}}\n{"name": "add", "arguments": {"a": 1}}')
    # no name, no arguments, not an object: still one line each, never an error
    assert message_text(None, [{"function": {}}]) == '{"name": "", "arguments": }'
    assert message_text(None, ["junk"]) == '{"name": "", "arguments": }'
    assert message_text("text", []) == "text" and message_text(None, None) == ""


def test_text_hash_takes_lone_surrogates() -> None:
    """JSON may carry "\\ud800" escapes: such content is stored, so it must be countable."""
    a, b = tokens.text_hash("x\ud800"), tokens.text_hash("x\ud801")
    assert len(a) == 20 and a != b and a == tokens.text_hash("x\ud800")


def test_arguments_as_objects_for_templates() -> None:
    assert tokens.arguments_object('{"a": 1}') == {"a": 1}
    assert tokens.arguments_object("") == {}
    assert tokens.arguments_object("[1, 2]") == "[1, 2]"  # not an object: kept as the string
    assert tokens.arguments_object("not json") == "not json"
    assert tokens.arguments_object({"b": 2}) == {"b": 2}


def test_template_messages_give_calls_their_id_type_and_object_arguments() -> None:
    chat = Chat(messages=[
        Message("assistant", None, tool_calls=[{"id": "c9", "type": "function",
                                                "function": {"name": "f", "arguments": '{"x": 1}'}}]),
        Message("assistant", None, tool_calls=[{"id": "c10"}])])  # a call without its function
    msgs, tools = tokens.template_messages(chat)
    assert msgs[0]["tool_calls"] == [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]
    assert msgs[1]["tool_calls"] == [{"id": "c10", "type": "function", "function": {"arguments": None}}]
    assert tools is None


def test_chatml_keeps_non_ascii_tools_and_calls_as_they_are() -> None:
    chat = Chat(messages=[
        Message("user", "Wetter?"),
        Message("assistant", None, tool_calls=[{"id": "c1", "type": "function",
                                                "function": {"name": "wetter", "arguments": '{"ort": "Köln"}'}}])],
        tools=[Tool("wetter", "Das Wetter in einer Stadt (°C)", {"type": "object"}), Tool("zeit", "Uhrzeit")])
    text = tokens.render_chatml(chat)
    tools_block = text.split("<tools>\n")[1].split("\n</tools>")[0]
    lines = tools_block.split("\n")
    assert len(lines) == 2 and [json.loads(x)["function"]["name"] for x in lines] == ["wetter", "zeit"]
    assert "(°C)" in lines[0] and "\\u" not in text
    assert '<tool_call>\n{"name": "wetter", "arguments": {"ort": "Köln"}}\n</tool_call><|im_end|>' in text


CONT = ("{% for m in messages %}<{{ m.role }}{% if m.name %}:{{ m.name }}{% endif %}"
        "{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %}>{{ m.content }}"
        "{% for c in m.tool_calls or [] %}[{{ c.function.name }}:{{ c.function.arguments.city }}]{% endfor %}"
        "{% endfor %}")


def test_continuing_with_the_models_template_keeps_names_calls_and_call_ids(tmp_path: Path) -> None:
    model_folder(tmp_path / "m", make=word_tokenizer_json, template=CONT)
    render = tokens.continuation_template(load_counter(str(tmp_path / "m")))
    assert render is not None
    history = [{"role": "user", "content": "hi", "name": "ann"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]},
               {"role": "tool", "content": "-3C", "tool_call_id": "c1"}]
    assert render(history, "It is") == "<user:ann>hi<assistant>[weather:Oslo]<tool#c1>-3C<assistant>It is"


def test_a_template_that_drops_the_reply_cannot_be_continued(tmp_path: Path) -> None:
    model_folder(tmp_path / "drop", make=word_tokenizer_json,
                 template="{% for m in messages[:-1] %}{{ m.content }}{% endfor %}")
    render = tokens.continuation_template(load_counter(str(tmp_path / "drop")))
    with pytest.raises(LimaError) as e:
        render([{"role": "user", "content": "hi"}], "par")
    assert str(e.value) == "the chat template leaves out the reply being continued; use the chat method"


def test_a_template_with_nothing_before_the_reply_continues_from_the_partial_text(tmp_path: Path) -> None:
    model_folder(tmp_path / "only", make=word_tokenizer_json,
                 template="{% for m in messages %}{% if m.role == 'assistant' %}{{ m.content }}{% endif %}{% endfor %}")
    render = tokens.continuation_template(load_counter(str(tmp_path / "only")))
    assert render([{"role": "user", "content": "hi"}], "") == ""
    assert render([{"role": "user", "content": "hi"}], "The") == "The"


def test_chatml_continuation_is_cut_right_after_the_partial_reply() -> None:
    history = [{"role": "user", "content": "hi"}]
    assert tokens.chatml_continuation(history) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokens.chatml_continuation(history, "The ans") == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nThe ans")
    tools = [{"type": "function", "function": {"name": "add", "description": "sum", "parameters": {}}}]
    with_tools = tokens.chatml_continuation(history, "x", tools)
    assert with_tools.startswith("<|im_start|>system\n# Tools\n\n<tools>\n") and '"name": "add"' in with_tools
    assert with_tools.endswith("<|im_start|>assistant\nx")


GEN = ("{% for m in messages %}{% if m.role == 'assistant' %}assistant {% generation %}{{ m.content }}"
       "{% endgeneration %}{% else %}{{ m.role }} {{ m.content }}{% endif %} {% endfor %}")


def test_generation_blocks_of_no_train_replies_are_not_trained(tmp_path: Path) -> None:
    model_folder(tmp_path / "g", make=word_tokenizer_json, template=GEN)
    c = load_counter(str(tmp_path / "g"))
    chat = Chat(messages=[Message("user", "one"), Message("assistant", "two three", weight=0),
                          Message("user", "four"), Message("assistant", "five six seven"),
                          Message("assistant", "eight", weight=1)])
    r = tokens.render_chat(chat, c)
    assert r.template == "default" and r.spans is not None
    assert [r.text[a:b] for a, b in r.spans] == ["five six seven", "eight"]
    n, trained = c.count_spans([r.text], [r.spans])[0]
    assert trained == 4 and n == c.count(r.text)
    # a template that writes fewer blocks than there are replies: every block counts
    model_folder(tmp_path / "g1", make=word_tokenizer_json,
                 template="{% for m in messages %}{{ m.content }} {% endfor %}{% generation %}x{% endgeneration %}")
    one = tokens.render_chat(chat, load_counter(str(tmp_path / "g1")))
    assert [one.text[a:b] for a, b in one.spans] == ["x"]
    assert c.count_spans([r.text], [[]]) == [(n, 0)]  # no spans: nothing trained


def test_special_tokens_of_the_tokenizer_are_not_added_to_counts(tmp_path: Path) -> None:
    """A tokenizer whose post-processor adds <s> to every encoding: counts are of the text only
    (the template writes the specials it wants)."""
    from tokenizers import Tokenizer, processors

    path = word_tokenizer_json(tmp_path / "tokenizer.json")
    tok = Tokenizer.from_file(str(path))
    tok.add_special_tokens(["<s>"])
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tok.save(str(path))
    c = load_counter(str(path))
    assert c.count_batch(["one two", "three"]) == [2, 1]
    assert c.count_spans(["one two three"], [[(4, 13)]]) == [(3, 2)]


def test_labels_and_formatted_counts() -> None:
    assert tokens.format_count(None) == "" and tokens.format_count(None, True) == ""
    assert tokens.format_count(1234) == "1,234" and tokens.format_count(1234, True) == "~1,234"
    assert tokens.format_count(0) == "0"
    exact = ChatCount({}, 10, 2, 1234, False, 4096)
    assert exact.label() == "1,234 / 4,096" and not exact.over_limit
    approx = ChatCount({}, 10, 2, 5000, True, 0)
    assert approx.label() == "~5,000" and not approx.over_limit
    assert ChatCount({}, 10, 2, 5000, True, 4096).over_limit


def test_the_estimate_counter_says_why_and_counts_what_it_encodes() -> None:
    c = tokens.estimate_counter()
    assert (c.name, c.reason, c.setting, c.estimate) == ("estimate", "no tokenizer chosen", tokens.ESTIMATE, True)
    c.count_batch(["a b", "c"])
    c.count_batch(["d"])
    assert c.encoded == 3


def test_without_jinja2_chats_are_laid_out_in_chatml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tokens.jinja_available()
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 raises ImportError
    assert tokens.jinja_available() is False
    model_folder(tmp_path / "m", make=word_tokenizer_json, template=CONT)
    c = load_counter(str(tmp_path / "m"))
    chat = Chat(messages=[Message("user", "one")])
    assert tokens.render_chat(chat, c).text == tokens.render_chatml(chat)
    assert tokens.continuation_template(c) is None


def _render(tmp_path: Path, template: str, chat: Chat) -> tokens.Rendered:
    folder = tmp_path / f"t{abs(hash(template))}"
    model_folder(folder, make=word_tokenizer_json, template=template)
    return tokens.render_chat(chat, load_counter(str(folder)))


def test_templates_get_what_transformers_gives_them(tmp_path: Path) -> None:
    """The features real chat templates use, each with the result transformers renders."""
    chat = Chat(messages=[Message("user", "Grüße"), Message("assistant", "one"), Message("user", "two")],
                tools=[Tool("f", "d", {"type": "object"})])
    # trim_blocks and lstrip_blocks: a block tag's own line leaves no blank line or indent
    r = _render(tmp_path, "{% for m in messages %}\n    {% if m.role == 'user' %}\n{{ m.content }}|\n"
                          "    {% endif %}\n{% endfor %}", chat)
    assert r.text == "Grüße|\ntwo|\n"
    # loop controls
    r = _render(tmp_path, "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}"
                          "{% if m.role == 'assistant' %}{% continue %}{% endif %}{{ m.content }};{% endfor %}", chat)
    assert r.text == "Grüße;"
    # tojson: no ASCII escapes, no HTML escapes, and its arguments work
    r = _render(tmp_path, "{{ messages[0] | tojson }}|{{ {'b': 1, 'a': '<&>'} | tojson(sort_keys=true) }}|"
                          "{{ [1] | tojson(indent=2) }}|{{ {'a': 1} | tojson(separators=(',', ':')) }}|"
                          "{{ 'é' | tojson(ensure_ascii=true) }}", chat)
    assert r.text == '{"role": "user", "content": "Grüße"}|{"a": "<&>", "b": 1}|[\n  1\n]|{"a":1}|"\\u00e9"'
    # the tools as OpenAI function objects, dict(), strftime_now, the special tokens, no generation prompt
    r = _render(tmp_path, "{{ tools[0].function.name }}{{ dict(a=1).a }}{{ strftime_now('%Y') | length }}"
                          "{{ eos_token }}{{ add_generation_prompt }}{{ documents }}", chat)
    assert r.text == "f14<|im_end|>FalseNone" and (r.how, r.template) == ("template", "default")


def test_a_template_that_raises_or_breaks_the_sandbox_falls_back_to_chatml(tmp_path: Path) -> None:
    chat = Chat(messages=[Message("user", "one"), Message("assistant", "two")])
    r = _render(tmp_path, "{{ raise_exception('only user and assistant roles, alternating') }}", chat)
    assert r.text == tokens.render_chatml(chat) and r.how == "chatml"
    assert r.note == "the chat template failed: only user and assistant roles, alternating"
    r = _render(tmp_path, "{% set _ = messages.append(1) %}{{ messages | length }}", chat)  # immutable
    assert r.how == "chatml" and r.note.startswith("the chat template failed: ")
