"""The linter: every finding code is triggered by a chat that has the problem and not by its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lima_tk.model import Chat, Message, Tool
from lima_tk.store import DatasetStore
from lima_tk.validate import (
    CODES,
    ERROR,
    WARNING,
    Linter,
    fingerprint,
    language_mismatch,
    lint_chat,
    lint_chats,
    lint_store,
    schema_problems,
    script_counts,
)

U, A, S = "user", "assistant", "system"
WEATHER = Tool("get_weather", "now", {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                   "unit": {"type": "string", "enum": ["C", "F"]},
                   "opts": {"type": "object", "properties": {"hourly": {"type": "boolean"}},
                            "additionalProperties": False}},
    "required": ["city"],
    "additionalProperties": False,
})


def msgs(*pairs: tuple[str, str | None]) -> list[Message]:
    return [Message(r, c) for r, c in pairs]


def call(args: str, name: str = "get_weather", cid: str = "c1") -> dict:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def tool_chat(args: str, name: str = "get_weather", answer: str | None = "c1", tools=(WEATHER,)) -> Chat:
    m = [Message(U, "weather?"), Message(A, None, tool_calls=[call(args, name)])]
    if answer is not None:
        m.append(Message("tool", "5C", tool_call_id=answer))
    m.append(Message(A, "5C."))
    return Chat(name="t", messages=m, tools=list(tools))


def codes(chat: Chat, **kw) -> set[str]:
    return {f.code for f in lint_chat(chat, **kw)}


GOOD = Chat(name="good", language="en", messages=msgs((S, "Be kind."), (U, "How are you today?"),
                                                     (A, "Fine, thanks for asking!")))

# (code, a chat with the problem, the same chat fixed)
CASES = [
    ("empty-chat", Chat(), GOOD),
    ("no-assistant", Chat(messages=msgs((U, "q"))), Chat(messages=msgs((U, "q"), (A, "a")))),
    ("unknown-role", Chat(messages=[Message("bot", "x"), Message(A, "a")]), Chat(messages=msgs((U, "x"), (A, "a")))),
    ("system-not-first", Chat(messages=msgs((U, "q"), (S, "s"), (A, "a"))),
     Chat(messages=msgs((S, "s"), (U, "q"), (A, "a")))),
    ("starts-with-assistant", Chat(messages=msgs((A, "hi"), (U, "q"), (A, "a"))),
     Chat(messages=msgs((U, "q"), (A, "a")))),
    ("same-role-twice", Chat(messages=msgs((U, "q"), (U, "q2"), (A, "a"))),
     Chat(messages=msgs((U, "q"), (A, "a"), (U, "q2"), (A, "a2")))),
    ("no-final-reply", Chat(messages=msgs((U, "q"), (A, "a"), (U, "q2"))), Chat(messages=msgs((U, "q"), (A, "a")))),
    ("empty-message", Chat(messages=msgs((U, "q"), (A, " \n\t"))), Chat(messages=msgs((U, "q"), (A, "a")))),
    ("trailing-whitespace", Chat(messages=msgs((U, "q  "), (A, "a\n"))), Chat(messages=msgs((U, "  q"), (A, "a")))),
    ("bad-arguments", tool_chat('{"city": '), tool_chat('{"city": "Oslo"}')),
    ("arguments-schema", tool_chat('{"days": 3}'), tool_chat('{"city": "Oslo", "days": 3}')),
    ("unknown-function", tool_chat('{"city": "Oslo"}', "get_forecast"), tool_chat('{"city": "Oslo"}')),
    ("missing-tool-call-id", tool_chat('{"city": "Oslo"}', answer=""), tool_chat('{"city": "Oslo"}')),
    ("dangling-tool-call-id", tool_chat('{"city": "Oslo"}', answer="c9"), tool_chat('{"city": "Oslo"}')),
    ("unanswered-tool-call", tool_chat('{"city": "Oslo"}', answer=None), tool_chat('{"city": "Oslo"}')),
    ("language-mismatch",
     Chat(language="ru", messages=msgs((U, "How do I cook borscht at home?"), (A, "Boil beets, cabbage, potatoes."))),
     Chat(language="ru", messages=msgs((U, "Как приготовить борщ дома?"), (A, "Сварите свёклу, капусту, картофель.")))),
]


@pytest.mark.parametrize("code, bad, good", CASES, ids=[c[0] for c in CASES])
def test_each_finding_triggered_and_not(code: str, bad: Chat, good: Chat):
    found = [f for f in lint_chat(bad) if f.code == code]
    assert found, f"{code} not found in {[f.code for f in lint_chat(bad)]}"
    assert all(f.severity == CODES[code][0] for f in found)
    assert code not in codes(good)


def test_the_good_chats_are_clean():
    assert lint_chat(GOOD) == []
    assert lint_chat(tool_chat('{"city": "Oslo", "unit": "C", "opts": {"hourly": true}}')) == []


def test_findings_point_at_the_message():
    (f,) = [f for f in lint_chat(tool_chat('{"city": "Oslo"}', answer="c9")) if f.code == "dangling-tool-call-id"]
    assert (f.message_index, f.where()) == (2, "chat None 't' message 3")
    (f,) = lint_chat(Chat(name="x", messages=msgs((U, "q"), (A, "  "))))
    assert (f.code, f.message, f.message_index) == ("empty-message", "the message is only whitespace", 1)


def test_over_context_limit():
    assert "over-context-limit" in codes(GOOD, tokens=5000, limit=4096)
    (f,) = [f for f in lint_chat(GOOD, tokens=5000, limit=4096, estimate=True) if f.code == "over-context-limit"]
    assert f.severity == WARNING and "~5,000 tokens" in f.message
    assert "over-context-limit" not in codes(GOOD, tokens=4096, limit=4096)
    assert "over-context-limit" not in codes(GOOD, tokens=5000, limit=0)
    assert "over-context-limit" not in codes(GOOD)


def test_schema_checks():
    schema = WEATHER.parameters
    assert schema_problems({"city": "Oslo"}, schema) == []
    assert schema_problems({"city": 3}, schema) == ["city should be string, got integer"]
    assert schema_problems({"city": "x", "days": 2.5}, schema) == ["days should be integer, got number"]
    assert schema_problems({"city": "x", "days": 2.0}, schema) == []
    assert schema_problems({"city": "x", "unit": "K"}, schema) == ['unit should be one of "C", "F"']
    assert schema_problems({"city": "x", "wind": 1}, schema) == ["unknown key 'wind'"]
    assert schema_problems({"city": "x", "opts": {"daily": True}}, schema) == ["unknown key 'opts.daily'"]
    assert schema_problems([1], schema) == ["arguments should be object, got array"]
    assert schema_problems({"a": [1, "x"]}, {"properties": {"a": {"items": {"type": "integer"}}}}) == [
        "a[1] should be integer, got string"]
    assert schema_problems(3, {"anyOf": [{"type": "string"}, {"type": "null"}]}) == [
        "arguments matches none of the allowed shapes"]
    assert schema_problems(True, {"type": "integer"}) == ["arguments should be integer, got boolean"]
    assert schema_problems({"x": 1}, {"type": "object", "properties": {}, "required": [], "enum": []}) == []


def test_language_script_heuristic():
    assert script_counts(["Hello мир 世界 ひらがな"]) == {"Latin": 5, "Cyrillic": 3, "Han": 2, "Kana": 4}
    jp = msgs((U, "日本語で説明してください。"), (A, "はい、わかりました。Python の for ループです。"))
    assert language_mismatch("ja", jp) is None
    pure = msgs((U, "日本語で説明してください。"), (A, "はい、わかりました。ループの説明です。"))
    assert language_mismatch("de", pure) == ("declared language 'de', but the text is mostly Kana script "
                                             "(Latin: 0% of the letters)")
    mixed = msgs((U, "Translate to Russian: good morning, how are you doing today?"), (A, "Доброе утро, как дела?"))
    assert language_mismatch("en", mixed) is None and language_mismatch("ru", mixed) is None
    assert language_mismatch("English", msgs((U, "Как дела сегодня у тебя, друг?"))) is not None
    assert language_mismatch("xx", msgs((U, "Как дела сегодня у тебя, друг?"))) is None  # unknown code
    assert language_mismatch("en", msgs((U, "Да?"))) is None  # too little text to tell
    assert language_mismatch("pt-BR", msgs((U, "Как дела сегодня у тебя, друг?"))) is not None


def test_duplicates_exact_and_near():
    a = Chat(name="a", messages=msgs((U, "Hello there!"), (A, "Hi.")))
    a.id = 1
    b = Chat(name="b", messages=msgs((U, " Hello there!"), (A, "Hi.\n")))  # outer whitespace only: exact
    b.id = 2
    c = Chat(name="c", messages=msgs((S, "Other system"), (U, "hello,  there"), (A, "hi")))  # near
    c.id = 3
    d = Chat(name="d", messages=msgs((U, "Hello there!"), (A, "Hello.")))  # different
    d.id = 4
    found = [f for f in lint_chats([a, b, c, d]) if "duplicate" in f.code]
    assert [(f.chat_id, f.code) for f in found] == [(2, "duplicate-chat"), (3, "near-duplicate-chat")]
    assert "chat 1 'a'" in found[0].message and "chat 1 'a'" in found[1].message
    assert fingerprint(a.messages) == fingerprint(b.messages) != fingerprint(d.messages)
    linter = Linter()
    assert linter.lint(a) == [] and linter.lint(d) == []


def test_every_code_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text(encoding="utf-8")
    for code, (severity, _) in CODES.items():
        assert f"`{code}`" in doc, code
        assert severity in (ERROR, WARNING)


def test_lint_store_with_token_totals(store: DatasetStore):
    from lima_tk.tokens import count_dataset, estimate_counter

    store.create_chat("short", "en", messages=msgs((U, "Hi there"), (A, "Hello to you")))
    long_text = msgs((U, ("word " * 400).strip()), (A, ("more words " * 300).strip()))
    long_id = store.create_chat("long", "en", messages=long_text)
    store.create_chat("short again", "en", messages=msgs((U, "Hi there"), (A, "Hello to you")))
    store.set_setting("context_limit", 200)
    found = list(lint_store(store))
    assert [f.code for f in found] == ["duplicate-chat"]  # nothing counted yet: no limit check
    count_dataset(store, estimate_counter())
    seen: list[tuple[int, int]] = []
    found = list(lint_store(store, progress=lambda d, t: seen.append((d, t)), batch=2))
    assert [(f.chat_id, f.code) for f in found] == [(long_id, "over-context-limit"), (3, "duplicate-chat")]
    assert "~" in found[0].message
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
