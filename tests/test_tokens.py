"""lima_tk.tokens: loading (file, folder, hub cache, offline), counting, the cache, the template."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from lima_tk import tokens
from lima_tk.cli import cli
from lima_tk.errors import LimaError
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.tokens import TokenizerError, count_chat, count_dataset, ensure_counted, load_counter, parse_spec
from tests.tokenizer_fixtures import CHATML_TEMPLATE, bpe_tokenizer_json, model_folder, word_tokenizer_json

pytestmark = pytest.mark.usefixtures("offline_hub")  # never the network nor the real hub cache


@pytest.fixture(scope="module")
def tok_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bpe_tokenizer_json(tmp_path_factory.mktemp("tok") / "tokenizer.json")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(tmp_path_factory.mktemp("model") / "tiny-chat")


@pytest.fixture(scope="module")
def word_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(tmp_path_factory.mktemp("model") / "words", make=word_tokenizer_json)


def _seed(store: DatasetStore) -> list[int]:
    a = store.create_chat("a", "en", ["x"], messages=[
        Message("system", "you are a helpful assistant"), Message("user", "hello world"),
        Message("assistant", "the model answers the question")])
    b = store.create_chat("b", "ru", [], messages=[Message("user", "привет мир"), Message("assistant", "данные")])
    return [a, b]


def _encode(path: Path, text: str) -> int:
    from tokenizers import Tokenizer

    return len(Tokenizer.from_file(str(path)).encode(text, add_special_tokens=False).ids)


# -- the setting ---------------------------------------------------------------------------------


def test_parse_spec_kinds(tmp_path: Path, tok_file: Path, folder: Path) -> None:
    assert parse_spec("").kind == "hub" and parse_spec("").value == tokens.DEFAULT_TOKENIZER
    assert parse_spec("estimate").kind == "estimate"
    assert parse_spec("Qwen/Qwen2.5-7B-Instruct") == tokens.TokenizerSpec("hub", "Qwen/Qwen2.5-7B-Instruct",
                                                                          "Qwen/Qwen2.5-7B-Instruct")
    assert parse_spec(str(tok_file)).kind == "file"
    assert parse_spec(str(folder)).kind == "folder"
    # relative to the dataset's folder first
    assert parse_spec("tiny-chat", base_dir=folder.parent).value == str(folder.resolve())
    with pytest.raises(TokenizerError, match="no such file or folder"):
        parse_spec("./missing/tokenizer.json")
    with pytest.raises(TokenizerError, match="not a Hugging Face id"):
        parse_spec("not a model id!")


# -- loading -------------------------------------------------------------------------------------


def test_file_counts_match_the_tokenizer(tok_file: Path) -> None:
    c = load_counter(str(tok_file))
    assert not c.estimate and c.key.startswith("file:") and c.template is None
    texts = ["hello world", "привет мир, данные", "", "数据 模型 café"]
    assert c.count_batch(texts) == [_encode(tok_file, t) for t in texts]
    assert c.encoded == 4
    # same file, same key; the key follows the file's content
    assert load_counter(str(tok_file)).key == c.key


def test_folder_with_chat_template(folder: Path) -> None:
    c = load_counter(str(folder))
    assert not c.estimate and c.key.startswith("folder:") and c.template == CHATML_TEMPLATE
    assert c.special["eos_token"] == "<|im_end|>"
    assert c.overhead_message > 0 and c.overhead_chat == 0
    chat = Chat(messages=[Message("user", "hello world"), Message("assistant", "the model answers")])
    r = tokens.render_chat(chat, c)
    assert r.how == "template"
    assert r.text == "<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\nthe model answers<|im_end|>\n"
    n, r2 = tokens.count_rendered(c, chat)
    assert n == c.count(r.text) == c.count("hello world") + c.count("the model answers") + 2 * c.overhead_message


def test_folder_template_is_skipped_without_jinja2(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "jinja_available", lambda: False)
    c = load_counter(str(folder))
    assert c.overhead_message == 0  # no template applied: content only
    r = tokens.render_chat(Chat(messages=[Message("user", "hi")]), c)
    assert r.how == "chatml" and "jinja2" in r.note and r.text == "<|im_start|>user\nhi<|im_end|>\n"


def test_broken_template_falls_back_to_chatml(tok_file: Path, tmp_path: Path) -> None:
    model_folder(tmp_path / "m", template="{{ raise_exception('roles must alternate') }}")
    c = load_counter(str(tmp_path / "m"))
    r = tokens.render_chat(Chat(messages=[Message("user", "hi")]), c)
    assert r.how == "chatml" and "roles must alternate" in r.note


def test_chatml_renders_tools_and_calls() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    chat = Chat(messages=[Message("user", "Weather?"), Message("assistant", None, tool_calls=[call]),
                          Message("tool", "-3C", tool_call_id="c1")],
                tools=[Tool("weather", "now", {"type": "object", "properties": {}})])
    text = tokens.render_chatml(chat)
    assert text.startswith("<|im_start|>system\n# Tools\n\n<tools>\n{\"type\": \"function\"")
    assert '<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>' in text
    assert text.endswith("<|im_start|>tool\n-3C<|im_end|>\n")


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerError, match="has no tokenizer.json"):
        load_counter(str(tmp_path / "empty"), strict=True)
    junk = tmp_path / "junk.json"
    junk.write_text('{"not": "a tokenizer"}')
    with pytest.raises(TokenizerError, match="not a tokenizer.json file"):
        load_counter(str(junk), strict=True)
    # not strict: an estimate that says why
    c = load_counter(str(junk))
    assert c.estimate and "not a tokenizer.json" in c.reason


def test_offline_hub_id_falls_back_to_the_estimate() -> None:
    for download in (False, True):
        c = load_counter("nobody/no-such-model-xyz", download=download)
        assert c.estimate and not c.needs_download and "offline" in c.reason
        assert c.count("hello world") > 0
    assert tokens.format_count(1234, c.estimate) == "~1,234"


def test_hub_id_not_cached_online_asks_for_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    c = load_counter("nobody/no-such-model-xyz", download=False)  # never touches the network
    assert c.estimate and c.needs_download and "not downloaded yet" in c.reason


def test_hub_id_from_the_local_cache(tmp_path: Path, tok_file: Path) -> None:
    repo = tmp_path / "hub" / "models--acme--tiny-chat"
    snap = repo / "snapshots" / "0123abcd"
    model_folder(snap)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    c = load_counter("acme/tiny-chat")
    assert not c.estimate and c.key.startswith("hub:acme/tiny-chat@0123abcd+") and c.template == CHATML_TEMPLATE


def test_estimate_counter() -> None:
    c = load_counter("estimate")
    assert c.estimate and c.key == tokens.ESTIMATE_KEY
    assert c.count("<|im_start|>user") == 2
    assert c.count("hello world") == 2


# -- counting and the cache ----------------------------------------------------------------------


def test_count_dataset_then_warm_reopen_encodes_nothing(db_path: Path, tok_file: Path) -> None:
    with DatasetStore(db_path) as s:
        ids = _seed(s)
        s.set_setting("tokenizer", str(tok_file))
        c = load_counter(str(tok_file))
        seen: list[tuple[int, int]] = []
        r = count_dataset(s, c, progress=lambda d, t: seen.append((d, t)))
        assert (r.messages, r.encoded, r.chats, r.rendered, r.estimate) == (5, 5, 2, 2, False)
        assert seen[0] == (0, 7) and seen[-1] == (7, 7)  # 5 messages, then 2 chats
        totals = s.chat_token_totals(ids)
        # a bare tokenizer.json has no template: the chat is counted in the ChatML layout
        assert totals[ids[0]].total == _encode(tok_file, tokens.render_chatml(s.get_chat(ids[0])))
        assert totals[ids[0]].total > sum(_encode(tok_file, m.content or "") for m in s.get_messages(ids[0]))
        assert totals[ids[1]].uncounted == 0
    with DatasetStore(db_path) as s:
        c2 = load_counter(str(tok_file))
        r = count_dataset(s, c2)
        assert (r.messages, r.encoded, r.chats, c2.encoded) == (0, 0, 0, 0)
        assert ensure_counted(s) is None  # nothing to do: not even a tokenizer load
        # the per-message index lost (e.g. rebuilt): the content cache answers, still no encoding
        s.conn.execute("DELETE FROM message_tokens")
        r = count_dataset(s, c2)
        assert (r.messages, r.encoded, c2.encoded) == (5, 0, 0)


def test_recount_after_an_edit_touches_one_message(store: DatasetStore, tok_file: Path) -> None:
    ids = _seed(store)
    c = load_counter(str(tok_file))
    count_dataset(store, c)
    mid = store.get_messages(ids[0])[1].id
    assert mid is not None
    store.edit_message_text(mid, "hello hello world world")
    key = store.active_token_key()
    assert key is not None and store.count_uncounted(key.id) == 1
    assert store.chat_token_totals([ids[0]])[ids[0]].uncounted == 2  # the message, and the chat's rendering
    c.encoded = 0
    r = count_dataset(store, c)
    # one message text and one rendered chat encoded; the other chat is not touched
    assert (r.messages, r.encoded, r.chats, r.rendered, c.encoded) == (1, 1, 1, 1, 2)
    assert store.message_token_counts(ids[0])[mid] == _encode(tok_file, "hello hello world world")
    assert store.chat_token_totals([ids[0]])[ids[0]] == (
        _encode(tok_file, tokens.render_chatml(store.get_chat(ids[0]))), 0,
        _encode(tok_file, "the model answers the question<|im_end|>"))
    # undo brings the old text back: its count is still cached, nothing is encoded
    store.undo()
    c.encoded = 0
    r = count_dataset(store, c)
    assert (r.messages, r.encoded, r.chats, r.rendered, c.encoded) == (1, 0, 1, 0, 0)
    assert store.message_token_counts(ids[0])[mid] == _encode(tok_file, "hello world")
    # an update that does not change the text keeps the count
    store.update_message(mid, weight=None, role="user")
    assert store.count_uncounted(key.id) == 0


def test_a_change_outside_the_recent_chats_is_still_found(store: DatasetStore, tok_file: Path) -> None:
    ids = [store.create_chat(f"c{i}", messages=[Message("user", f"hello {i}")]) for i in range(60)]
    c = load_counter(str(tok_file))
    count_dataset(store, c)
    # an undo puts back an old updated_at: the oldest chat changes without becoming "recent"
    mid = store.get_messages(ids[0])[0].id
    store.conn.execute("UPDATE messages SET content = 'hello world world' WHERE id = ?", (mid,))
    assert ids[0] not in store.recently_updated_chats()
    r = count_dataset(store, c)
    assert (r.messages, r.encoded, r.chats, r.rendered) == (1, 1, 1, 1)
    assert store.message_token_counts(ids[0])[mid] == _encode(tok_file, "hello world world")
    assert store.chat_token_totals([ids[0]])[ids[0]].total == _encode(
        tok_file, "<|im_start|>user\nhello world world<|im_end|>\n")


def test_deleted_messages_and_chats_drop_their_counts(store: DatasetStore, tok_file: Path) -> None:
    ids = _seed(store)
    count_dataset(store, load_counter(str(tok_file)))
    n = store.conn.execute("SELECT count(*) FROM message_tokens").fetchone()[0]
    store.delete_messages([store.get_messages(ids[1])[0].id])
    assert store.conn.execute("SELECT count(*) FROM message_tokens").fetchone()[0] == n - 1
    store.delete_chats([ids[0]])  # cascade deletes fire the trigger too
    assert store.conn.execute("SELECT count(*) FROM message_tokens").fetchone()[0] == 1
    store.undo()  # the chat comes back, uncounted; its texts are cached
    key = store.active_token_key()
    assert key is not None and store.count_uncounted(key.id) == 3


def test_tool_calls_are_counted(store: DatasetStore, tok_file: Path) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    cid = store.create_chat("t", messages=[Message("assistant", None, tool_calls=[call])])
    c = load_counter(str(tok_file))
    count_dataset(store, c)
    expected = _encode(tok_file, '{"name": "weather", "arguments": {"city": "Oslo"}}')
    assert store.message_token_counts(cid) == {store.get_messages(cid)[0].id: expected}
    chatml = ('<|im_start|>assistant\n<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n'
              '</tool_call><|im_end|>\n')
    assert store.chat_token_totals([cid])[cid].total == _encode(tok_file, chatml)


def test_tokenizer_change_recounts_everything(store: DatasetStore, tok_file: Path, folder: Path) -> None:
    ids = _seed(store)
    store.set_setting("tokenizer", str(tok_file))
    r1 = ensure_counted(store)
    assert r1 is not None and r1.messages == 5 and not r1.estimate
    first = store.chat_token_totals(ids)
    store.set_setting("tokenizer", "estimate")
    r2 = ensure_counted(store)
    assert r2 is not None and r2.messages == 5 and r2.estimate
    key = store.active_token_key()
    assert key is not None and key.estimate
    store.set_setting("tokenizer", str(folder))
    r3 = ensure_counted(store)
    assert r3 is not None and r3.messages == 5
    key = store.active_token_key()
    assert key is not None and key.overhead_message > 0
    # going back to the first tokenizer: its counts are all still there
    store.set_setting("tokenizer", str(tok_file))
    r4 = ensure_counted(store)
    assert r4 is not None and (r4.messages, r4.encoded) == (0, 0)
    assert store.chat_token_totals(ids) == first


def test_over_limit_marking_and_filter(store: DatasetStore, word_folder: Path) -> None:
    a = store.create_chat("a", "en", ["x"], messages=[Message("user", "one two three"), Message("assistant", "four")])
    b = store.create_chat("b", "en", ["y"], messages=[Message("user", "one")])
    empty = store.create_chat("c", "en", ["x"])
    assert store.count_chats(ChatFilter(over_limit=True)) == 0  # nothing counted yet
    c = load_counter(str(word_folder))
    assert (c.overhead_chat, c.overhead_message) == (0, 3)  # <|im_start|> role ... <|im_end|>
    count_dataset(store, c)
    totals = store.chat_token_totals([a, b, empty])
    # (rendered total, uncounted, trainable: the assistant's word; no generation blocks)
    assert totals == {a: (4 + 2 * 3, 0, 1), b: (1 + 3, 0, 0)}
    store.set_setting("context_limit", 5)
    assert store.chat_ids(ChatFilter(over_limit=True)) == [a]
    assert [r.id for r in store.list_chats(ChatFilter(over_limit=True, tag="x"))] == [a]
    assert store.count_chats(ChatFilter(over_limit=True, tag="y")) == 0
    assert not ChatFilter(over_limit=True).is_empty()
    cc = count_chat(store, c, a)
    assert (cc.content, cc.overhead, cc.total, cc.over_limit, cc.label(), cc.trainable) == (4, 6, 10, True, "10 / 5", 1)
    store.set_setting("context_limit", 0)  # 0 = no limit
    assert store.count_chats(ChatFilter(over_limit=True)) == 0


def test_rendered_count_is_cached(store: DatasetStore, word_folder: Path) -> None:
    cid = store.create_chat("a", messages=[Message("user", "one two"), Message("assistant", "three")])
    c = load_counter(str(word_folder))
    chat = store.get_chat(cid)
    n, r = tokens.count_rendered(c, chat, store)
    assert r.how == "template" and n == 3 + 2 * 3
    c.encoded = 0
    assert tokens.count_rendered(c, chat, store)[0] == n and c.encoded == 0


def test_an_edit_during_counting_is_not_given_a_stale_count(db_path: Path, tok_file: Path) -> None:
    with DatasetStore(db_path) as s, DatasetStore(db_path) as other:
        ids = _seed(s)
        mid = s.get_messages(ids[0])[1].id
        assert mid == 2
        c = load_counter(str(tok_file))

        def edit_meanwhile(done: int, total: int) -> None:
            # One message per chunk: message 2 has been read (and is being encoded) when message 1
            # is stored; another connection (the GUI) commits an edit of it right then.
            if done == 1:
                other.edit_message_text(mid, "edited meanwhile")

        count_dataset(s, c, progress=edit_meanwhile, chunk=1)
        key = s.active_token_key()
        assert key is not None and s.count_uncounted(key.id) == 1
        assert s.uncounted_message_ids(key.id) == [mid]
        count_dataset(s, c)
        assert s.message_token_counts(ids[0])[mid] == _encode(tok_file, "edited meanwhile")


def test_cancel_stops_between_chunks(store: DatasetStore, tok_file: Path) -> None:
    for i in range(5):
        store.create_chat(f"c{i}", messages=[Message("user", f"hello {i}")])
    cancel = threading.Event()
    c = load_counter(str(tok_file))
    r = count_dataset(store, c, progress=lambda d, t: cancel.set() if d else None, cancel=cancel, chunk=2)
    # chunk 2 was already being encoded when chunk 1 was stored and the cancel came: it is kept
    assert r.cancelled and r.messages == 4
    assert store.active_token_key() is not None  # partial counts beat none when nothing was active


def test_count_job_reports_through_a_queue(db_path: Path, tok_file: Path) -> None:
    with DatasetStore(db_path) as s:
        _seed(s)
        s.set_setting("tokenizer", str(tok_file))
    events: queue.Queue = queue.Queue()
    tokens.start_count_job(db_path, events, download=False).join(timeout=30)
    kinds = []
    while not events.empty():
        kind, payload = events.get()
        kinds.append(kind)
        if kind == "done":
            assert payload.messages == 5 and not payload.estimate
    assert kinds[0] == "status" and "progress" in kinds and kinds[-1] == "done"


def test_cli_tokens_command(tmp_path: Path, tok_file: Path) -> None:
    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        _seed(s)
    r = CliRunner().invoke(cli, ["--db", str(db), "tokens", "--tokenizer", str(tok_file), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["counted"] == 5 and out["encoded"] == 5 and out["estimate"] is False and out["total"] > 0
    assert out["chats"] == 2
    r = CliRunner().invoke(cli, ["--db", str(db), "tokens", "--json"])
    assert json.loads(r.output)["encoded"] == 0
    r = CliRunner().invoke(cli, ["--db", str(db), "tokens", "--tokenizer", str(tmp_path / "nope.json")])
    assert r.exit_code == 2 and "no such file or folder" in r.output
    with DatasetStore(db) as s:
        assert s.get_setting("tokenizer") == str(tok_file)  # a bad value is not stored
        totals = [t.total for t in s.chat_token_totals(s.chat_ids()).values()]
        assert len(set(totals)) == 2
        s.set_setting("context_limit", min(totals))  # the bigger chat is over, the other not
    r = CliRunner().invoke(cli, ["--db", str(db), "list", "--over-limit"])
    assert r.exit_code == 0 and r.output.strip().endswith("1 of 1 chats")


def test_continuation_prompt_uses_the_tokenizers_own_template(folder: Path, tmp_path: Path) -> None:
    """Continue (completions method) renders the model's own template up to the partial reply."""
    from lima_tk.assist import continue_request

    c = load_counter(str(folder))
    render = tokens.continuation_template(c)
    assert render is not None
    chat = Chat(messages=[Message("system", "be brief"), Message("user", "hello world"),
                          Message("assistant", "the model ans")])
    req = continue_request(chat, 2, "completions", template=render)
    assert req.prompt == ("<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n"
                          "<|im_start|>assistant\nthe model ans")
    # no template: None, and the request falls back to the built-in ChatML
    assert tokens.continuation_template(load_counter(str(bpe_tokenizer_json(tmp_path / "t.json")))) is None
    assert tokens.continuation_template(None) is None
    # a template that drops the last assistant turn cannot be continued: a clear error
    model_folder(tmp_path / "drop", template="{% for m in messages[:-1] %}{{ m.content }}{% endfor %}")
    bad = tokens.continuation_template(load_counter(str(tmp_path / "drop")))
    with pytest.raises(LimaError, match="leaves out the reply"):
        continue_request(chat, 2, "completions", template=bad)


def test_continuation_prompt_passes_the_tools_to_the_template(tmp_path: Path) -> None:
    """Issue 15: continuing with the model's own template renders the chat's tools as the template
    does (it reads `tools`), not without them."""
    from lima_tk.assist import continue_request

    template = ("{% if tools %}[tools:{% for t in tools %}{{ t.function.name }};{% endfor %}]{% endif %}"
                "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
    model_folder(tmp_path / "tools", template=template)
    render = tokens.continuation_template(load_counter(str(tmp_path / "tools")))
    assert render is not None
    chat = Chat(messages=[Message("user", "hi"), Message("assistant", "par")],
                tools=[Tool("lookup", "find", {"type": "object"}), Tool("add")])
    prompt = continue_request(chat, 1, "completions", template=render).prompt
    assert prompt == "[tools:lookup;add;]<user>hi<assistant>par"
    chat.tools = []
    assert continue_request(chat, 1, "completions", template=render).prompt == "<user>hi<assistant>par"


# -- issue 17: ChatML with a system prompt and tools, text beside calls, edits of calls and tools --


def _weather_chat() -> Chat:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    return Chat(messages=[Message("system", "Be brief."), Message("user", "Weather?"),
                          Message("assistant", "Checking.", tool_calls=[call]),
                          Message("tool", "-3C", tool_call_id="c1"), Message("assistant", "Cold: -3C.")],
                tools=[Tool("weather", "now", {"type": "object", "properties": {}}, strict=True)])


def test_chatml_with_a_system_prompt_tools_and_text_beside_a_call() -> None:
    """The tools block goes into the chat's own system message (not a second one), `strict` is left
    out, and a message with text and a call keeps both, text first."""
    text, spans = tokens._chatml(_weather_chat())
    tool = '{"type": "function", "function": {"name": "weather", "description": "now", "parameters": ' \
           '{"type": "object", "properties": {}}}}'
    assert text == (
        f"<|im_start|>system\nBe brief.\n\n# Tools\n\n<tools>\n{tool}\n</tools><|im_end|>\n"
        "<|im_start|>user\nWeather?<|im_end|>\n"
        '<|im_start|>assistant\nChecking.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n'
        "</tool_call><|im_end|>\n"
        "<|im_start|>tool\n-3C<|im_end|>\n"
        "<|im_start|>assistant\nCold: -3C.<|im_end|>\n")
    assert [text[a:b] for a, b in spans] == [
        'Checking.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>',
        "Cold: -3C.<|im_end|>"]
    assert tokens.render_chatml(_weather_chat()) == text
    # no system message: the tools block is one of its own, first
    chat = _weather_chat()
    chat.messages = chat.messages[1:]
    assert tokens.render_chatml(chat).startswith(f"<|im_start|>system\n# Tools\n\n<tools>\n{tool}\n</tools><|im_end|>\n"
                                                 "<|im_start|>user\nWeather?")
    # weight 0 on the first reply: only the second is trained
    chat = _weather_chat()
    chat.messages[2].weight = 0
    text, spans = tokens._chatml(chat)
    assert [text[a:b] for a, b in spans] == ["Cold: -3C.<|im_end|>"]


def test_message_text_of_text_and_calls() -> None:
    calls = [{"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
             {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]
    assert tokens.message_text("Hi", calls) == (
        'Hi\n{"name": "f", "arguments": {"x": 1}}\n{"name": "g", "arguments": {}}')
    assert tokens.message_text(None, json.dumps(calls)) == '{"name": "f", "arguments": {"x": 1}}\n' \
                                                            '{"name": "g", "arguments": {}}'
    assert tokens.message_text("only text", None) == "only text"


def test_counts_follow_edits_of_tool_calls_and_tool_definitions(store: DatasetStore, tok_file: Path) -> None:
    """The cache is dropped by what a template reads besides content: tool calls, tool definitions
    (add, edit, delete), weights and order; each recount equals a fresh count, and undo encodes nothing."""
    chat = _weather_chat()
    cid = store.create_chat("w", messages=chat.messages, tools=chat.tools)
    c = load_counter(str(tok_file))
    count_dataset(store, c)
    key = store.active_token_key()
    assert key is not None

    def fresh() -> int:
        return _encode(tok_file, tokens.render_chatml(store.get_chat(cid)))

    def recount() -> tuple[int, int]:
        before = c.encoded
        count_dataset(store, c)
        t = store.chat_token_totals([cid])[cid]
        assert t.uncounted == 0 and t.total == fresh()
        return t.total, c.encoded - before

    first = store.chat_token_totals([cid])[cid].total
    assert first == fresh()
    mid = store.get_messages(cid)[2].id
    new_call = [{"id": "c1", "type": "function",
                 "function": {"name": "weather", "arguments": '{"city": "Oslo", "unit": "celsius"}'}}]
    store.update_message(mid, tool_calls=new_call)
    assert store.count_uncounted(key.id) == 1 and store.count_uncounted_chats(key.id) == 1
    n, enc = recount()
    assert n > first and enc == 2  # the message text and the rendered chat
    assert store.message_token_counts(cid)[mid] == _encode(tok_file, tokens.message_text("Checking.", new_call))
    tool_id = store.get_tools(cid)[0].id
    assert tool_id is not None
    store.update_tool(tool_id, Tool("weather", "the weather now, anywhere", {"type": "object", "properties": {}}))
    assert store.count_uncounted(key.id) == 0 and store.count_uncounted_chats(key.id) == 1
    n2, enc = recount()
    assert n2 > n and enc == 1
    store.add_tool(cid, Tool("clock", "time"))
    n3, enc = recount()
    assert n3 > n2 and enc == 1
    store.delete_tool(tool_id)
    n4, _ = recount()
    assert n4 < n3
    t_before = store.chat_token_totals([cid])[cid]
    store.update_message(mid, weight=0)  # not in the text: the total stays, the trainable part drops
    assert store.count_uncounted_chats(key.id) == 1
    n5, enc = recount()  # the same text, other trained spans: encoded once more for the offsets
    assert n5 == n4 and enc == 1
    # only the last reply (and its end marker) is trained now
    assert t_before.trainable > store.chat_token_totals([cid])[cid].trainable == _encode(
        tok_file, "Cold: -3C.<|im_end|>")
    for _ in range(5):  # back to the first version: every text is cached
        store.undo()
    assert store.count_uncounted_chats(key.id) == 1
    n6, enc = recount()
    assert (n6, enc) == (first, 0)


def test_moving_a_message_recounts_the_chat(store: DatasetStore, tok_file: Path) -> None:
    cid = store.create_chat("m", messages=[Message("user", "hello"), Message("assistant", "world")])
    other = store.create_chat("o", messages=[Message("user", "x")])
    c = load_counter(str(tok_file))
    count_dataset(store, c)
    key = store.active_token_key()
    assert key is not None
    store.move_messages([store.get_messages(cid)[1].id], -1)
    assert store.uncounted_chat_ids(key.id) == [cid]  # the other chat keeps its count
    count_dataset(store, c)
    assert store.chat_token_totals([cid])[cid].total == _encode(
        tok_file, "<|im_start|>assistant\nworld<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n")
    assert store.chat_token_totals([other])[other].uncounted == 0


def test_editing_the_template_recounts_the_chats(store: DatasetStore, tmp_path: Path) -> None:
    """The key includes the templates: a changed chat_template.jinja (same tokenizer.json) is a new
    key, so no count rendered with the old template is read."""
    folder = model_folder(tmp_path / "m", make=word_tokenizer_json)
    cid = store.create_chat("a", messages=[Message("user", "one two"), Message("assistant", "three")])
    store.set_setting("tokenizer", str(folder))
    tokens.ensure_counted(store)
    first = store.chat_token_totals([cid])[cid].total
    key1 = load_counter(str(folder)).key
    (folder / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }} {% endfor %}")
    c2 = load_counter(str(folder))
    assert key1 != c2.key and key1.split("+")[0] == c2.key.split("+")[0]  # same tokenizer.json
    r = count_dataset(store, c2)  # what `lima-tk tokens` and the window's count do after loading it
    assert (r.chats, r.messages) == (1, 2)  # a new key: everything is counted again
    assert store.chat_token_totals([cid])[cid].total == 3 != first


def test_trainable_without_generation_blocks_skips_no_train_replies(store: DatasetStore, word_folder: Path) -> None:
    """A template without {% generation %}: the trained tokens are the replies' own counts, and a
    reply marked "no train" is not among them."""
    cid = store.create_chat("w", messages=[
        Message("user", "one"), Message("assistant", "two three", weight=0), Message("user", "four"),
        Message("assistant", "five six seven"), Message("assistant", "eight", weight=1)])
    c = load_counter(str(word_folder))
    count_dataset(store, c)
    t = store.chat_token_totals([cid])[cid]
    assert (t.total, t.trainable) == (8 + 5 * 3, 3 + 1)
    assert count_chat(store, c, cid).trainable == 4


def test_a_chat_edited_during_the_chat_pass_is_not_given_a_stale_count(db_path: Path, tok_file: Path) -> None:
    with DatasetStore(db_path) as s, DatasetStore(db_path) as other:
        ids = _seed(s)
        c = load_counter(str(tok_file))
        mid = s.get_messages(ids[1])[1].id
        assert mid is not None

        def edit_meanwhile(done: int, total: int) -> None:
            # One chat per chunk: chat 2 has been rendered (and is being encoded) when chat 1 is
            # stored; another connection commits an edit of it right then.
            if done == 5 + 1:
                other.edit_message_text(mid, "edited meanwhile")

        r = count_dataset(s, c, progress=edit_meanwhile, chat_chunk=1)
        assert r.chats == 2
        key = s.active_token_key()
        assert key is not None and s.uncounted_chat_ids(key.id) == [ids[1]]
        count_dataset(s, c)
        assert s.chat_token_totals([ids[1]])[ids[1]].total == _encode(
            tok_file, tokens.render_chatml(s.get_chat(ids[1])))
