"""Property-based round trips of every format with a writer and a reader: generated chats
(unicode of every kind, empty and whitespace-only content, tool calls and their answers, weights,
alternatives and provenance) are stored, exported, imported into a fresh dataset, and must come
back the same, as far as the format can express them (what each one loses is in docs/formats.md).

Runs under the hypothesis profile in tests/conftest.py ("ci": derandomized, a few seconds);
`HYPOTHESIS_PROFILE=dev` searches far longer."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lima_tk.formats import export_file, import_file
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import DatasetStore

# -- generated content ------------------------------------------------------------------------

# Any character SQLite and JSON can hold (lone surrogates cannot be stored), with the awkward ones
# made likely: NUL, CR LF, tabs, line and paragraph separators, RTL, emoji, combining marks.
AWKWARD = ["", " ", "\t", "  trailing  ", "\n", "a\r\nb", "\x00", "nul\x00inside", "\u2028\u2029", "שלום עולם",
           "🦓🏳️‍🌈", "e\u0301", "\ufeffbom", "\\n not a newline", '"quoted"', "</script>", "{\"json\": 1}"]
TEXT = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=24),
    st.lists(st.sampled_from(AWKWARD), min_size=2, max_size=4).map("".join),
)
NAME = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
ARGUMENTS = st.dictionaries(st.text(max_size=6), JSON_VALUE, max_size=3)


@st.composite
def conversations(draw: st.DrawFn, *, tools: bool = True, weights: bool = True, names: bool = True,
                  tool_text: bool = True) -> Chat:
    """A chat a trainer accepts: optional system prompt, user turns each answered by the
    assistant, optionally through tool calls that tool messages answer."""
    msgs: list[Message] = []
    functions: dict[str, Tool] = {}
    if draw(st.booleans()):
        msgs.append(Message("system", draw(TEXT)))
    n_call = 0
    for _ in range(draw(st.integers(1, 3))):
        msgs.append(Message("user", draw(TEXT), name=draw(st.none() | NAME) if names else None))
        if tools and draw(st.integers(0, 3)) == 0:
            calls = []
            for _ in range(draw(st.integers(1, 2))):
                n_call += 1
                fname = draw(NAME)
                functions.setdefault(fname, Tool(fname, draw(st.none() | TEXT),
                                                 {"type": "object", "properties": draw(ARGUMENTS)}))
                args = json.dumps(draw(ARGUMENTS), ensure_ascii=draw(st.booleans()))
                calls.append({"id": f"call_{n_call}", "type": "function",
                              "function": {"name": fname, "arguments": args}})
            content = draw(st.sampled_from([None, ""]) | TEXT) if tool_text else None
            msgs.append(Message("assistant", content, tool_calls=calls))
            for c in calls:
                msgs.append(Message("tool", draw(TEXT), tool_call_id=c["id"]))
        weight = draw(st.sampled_from([None, 0, 1])) if weights else None
        msgs.append(Message("assistant", draw(TEXT), weight=weight))
    return Chat(name=draw(TEXT), messages=msgs, tools=list(functions.values()))


@st.composite
def anything(draw: st.DrawFn) -> Chat:
    """Every field the store keeps, for the native format: any roles in any order, provenance,
    alternatives, notes, extra, chats without messages."""
    chat = draw(conversations())
    msgs = draw(st.lists(st.sampled_from(chat.messages), max_size=len(chat.messages))) if draw(st.booleans()) \
        else chat.messages
    out = []
    for m in msgs:
        m = Message(m.role, m.content, m.name, m.tool_calls, m.tool_call_id, m.weight)
        if m.role == "assistant" and draw(st.booleans()):
            alts = draw(st.lists(st.fixed_dictionaries(
                {"content": st.none() | TEXT},
                optional={"source": st.sampled_from(["human", "generated", "edited"]), "model": TEXT,
                          "finish": st.sampled_from(["stop", "length", "interrupted"]), "rejected": st.booleans()}),
                min_size=1, max_size=3))
            m.alternatives, m.alt_index = alts, draw(st.integers(0, len(alts)))
            m.source = draw(st.sampled_from([None, "human", "generated", "edited"]))
            m.model, m.finish = draw(st.none() | TEXT), draw(st.sampled_from([None, "stop", "length"]))
        out.append(m)
    return Chat(name=chat.name, language=draw(st.sampled_from([None, "en", "ru", "zh-Hant"])),
                tags=draw(st.lists(NAME, max_size=3, unique=True)), notes=draw(TEXT), messages=out,
                tools=chat.tools, extra=draw(st.sampled_from([{}, {"parallel_tool_calls": False}, {"k": [1, "ü"]}])))


# -- one round trip ---------------------------------------------------------------------------------


def round_trip(chats: list[Chat], fmt: str, options: dict | None = None) -> tuple[list[Chat], list[Chat], str]:
    """Store `chats`, export them as `fmt`, import into a fresh dataset: (stored, imported, text)."""
    tmp = Path(tempfile.mkdtemp(prefix="lima-rt-"))
    try:
        with DatasetStore(tmp / "a.lima.db") as a, DatasetStore(tmp / "b.lima.db") as b:
            a.add_chats(chats)
            out = tmp / f"out.{fmt}"
            report = export_file(a, out, fmt, options=options)
            assert report.skipped == 0, report.warnings
            text = out.read_text("utf-8")
            back = import_file(b, out, fmt, options=options, allow_duplicates=True)
            assert back.chats == len(chats), back.warnings
            return list(a.iter_chats()), list(b.iter_chats()), text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def messages(chat: Chat, keep: Callable[[Message], tuple]) -> list[tuple]:
    return [keep(m) for m in chat.messages]


def every_field(m: Message) -> tuple:
    return (m.role, m.content, m.name, m.tool_calls, m.tool_call_id, m.weight, m.source, m.model, m.finish,
            m.alternatives, m.alt_index)


def openai_fields(m: Message) -> tuple:
    return (m.role, m.content if m.content is not None or not m.tool_calls else None, m.name, m.tool_calls,
            m.tool_call_id, m.weight)


def sharegpt_fields(m: Message) -> tuple:
    return (m.role, m.content or "", args_value(m.tool_calls))


def text_fields(m: Message) -> tuple:
    return (m.role, m.content)


def args_value(calls: list[dict] | None) -> list | None:
    """Tool calls with their arguments parsed (formats that write them as objects)."""
    if not calls:
        return None
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


CHATS = st.lists(conversations(), min_size=1, max_size=3)


@settings(max_examples=30)
@given(st.lists(anything(), min_size=1, max_size=3))
def test_native_keeps_every_field(chats: list[Chat]):
    stored, back, _ = round_trip(chats, "lima")
    fields = ("uid", "name", "language", "tags", "notes", "created_at", "updated_at", "extra")
    for x, y in zip(stored, back, strict=True):
        assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields]
        assert [t.to_openai() for t in x.tools] == [t.to_openai() for t in y.tools]
        assert messages(x, every_field) == messages(y, every_field)


@given(CHATS)
def test_openai_keeps_messages_tools_and_weights(chats: list[Chat]):
    stored, back, text = round_trip(chats, "openai")
    for line in text.rstrip("\n").split("\n"):  # not splitlines(): U+2028 is not a line end here
        assert set(json.loads(line)) <= {"messages", "tools", "parallel_tool_calls"}
    for x, y in zip(stored, back, strict=True):
        assert messages(x, openai_fields) == messages(y, openai_fields)
        assert [t.to_openai() for t in x.tools] == [t.to_openai() for t in y.tools]


@given(CHATS, st.sampled_from(["turn", "column"]))
def test_sharegpt_keeps_turns_and_calls(chats: list[Chat], system: str):
    chats = [_sharegpt_shape(c) for c in chats]
    stored, back, _ = round_trip(chats, "sharegpt", {"system": system})
    for x, y in zip(stored, back, strict=True):
        expect = messages(x, sharegpt_fields)
        if system == "column":  # a blank "system" column means "none" in other tools' files
            expect = _without_blank_system(expect)
        assert messages(y, sharegpt_fields) == expect
        # the tool messages answer the calls made just before them, whatever the ids became
        for msgs in (x.messages, y.messages):
            open_ids = []
            for m in msgs:
                open_ids += [c["id"] for c in m.tool_calls or ()]
                if m.role == "tool":
                    assert m.tool_call_id == open_ids.pop(0)
        assert [t.to_openai() for t in x.tools] == [t.to_openai() for t in y.tools]


SHAREGPT_TAGS = {"sharegpt_tags": "messages=messages,role=role,content=content,user=user,assistant=assistant,"
                                  "system=system,function=function_call,observation=tool"}


@given(CHATS)
def test_sharegpt_with_custom_tags_round_trips(chats: list[Chat]):
    """Non-default role and key names (LLaMA-Factory's OpenAI-style variant), system turns included."""
    chats = [_sharegpt_shape(c) for c in chats]
    stored, back, text = round_trip(chats, "sharegpt", SHAREGPT_TAGS)
    records = json.loads(text)
    assert all(set(r) <= {"messages", "tools"} for r in records)
    roles = {t["role"] for r in records for t in r["messages"]}
    assert roles <= {"user", "assistant", "system", "function_call", "tool"}
    for x, y in zip(stored, back, strict=True):
        assert messages(x, sharegpt_fields) == messages(y, sharegpt_fields)


@given(st.lists(conversations(tools=False, weights=False, names=False), min_size=1, max_size=3))
def test_alpaca_keeps_pairs_and_system(chats: list[Chat]):
    stored, back, _ = round_trip(chats, "alpaca")
    for x, y in zip(stored, back, strict=True):
        # a blank "system" means "none" in other tools' Alpaca files: it is not imported
        assert messages(y, text_fields) == _without_blank_system(messages(x, text_fields))


def _without_blank_system(msgs: list[tuple]) -> list[tuple]:
    return msgs[1:] if msgs and msgs[0][0] == "system" and not (msgs[0][1] or "").strip() else msgs


def _sharegpt_shape(chat: Chat) -> Chat:
    """What ShareGPT can say: no text beside tool calls, no names, no weights, every call answered."""
    msgs = [Message(m.role, "" if m.tool_calls else m.content, tool_calls=m.tool_calls, tool_call_id=m.tool_call_id)
            for m in chat.messages]
    return Chat(name=chat.name, messages=msgs, tools=chat.tools)
