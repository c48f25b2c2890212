"""ChatGPT export shapes (issue 17): custom instructions in their newer metadata form, system
and code turns, content given as `text` instead of `parts`, regenerated replies (text ones
become versions; a version that calls a tool is left out and said so; hidden nodes are looked
past), and a conversation without user or assistant text."""

from __future__ import annotations

import json
from pathlib import Path

from lima_tk.formats import import_file
from lima_tk.store import DatasetStore


def _node(nid: str, parent: str | None, children: list[str], role: str | None = None, **msg) -> dict:
    node: dict = {"id": nid, "parent": parent, "children": children}
    if role is not None:
        content = msg.pop("content", {"content_type": "text", "parts": [msg.pop("text", "")]})
        node["message"] = {"id": nid, "author": {"role": role}, "content": content,
                           "metadata": msg.pop("metadata", {}), **msg}
    return node


def _conv(title: str, nodes: list[dict], current: str) -> dict:
    return {"title": title, "id": f"id-{title}", "create_time": 1_700_000_000, "update_time": 1_700_000_100,
            "current_node": current, "mapping": {n["id"]: n for n in nodes}}


def test_a_conversation_with_instructions_versions_and_odd_turns(tmp_path: Path) -> None:
    nodes = [
        _node("root", None, ["ctx"]),
        # custom instructions, newer style: in the metadata of a hidden system message
        _node("ctx", "root", ["sys"], "system", text="", metadata={
            "is_user_system_message": True,
            "user_context_message_data": {"about_user_message": "I am Ann. ", "about_model_message": " Be brief."}}),
        _node("sys", "ctx", ["u1"], "system", text="Shown system text"),
        _node("u1", "sys", ["a1", "a2", "hidden", "gone", "img", "a3"], "user",
              content={"content_type": "text", "text": "Hi there"}),
        _node("a1", "u1", [], "assistant", text="Hello (first try)", metadata={"model_slug": "gpt-4o"}),
        _node("gone", "u1", []),  # a node without a message (and nothing below it)
        _node("img", "u1", [], "assistant", content={"content_type": "multimodal_text", "parts": [
            "Here:", {"content_type": "image_asset_pointer", "asset_pointer": "file-1"}]}),
        _node("a2", "u1", [], "assistant", text="print(1)", recipient="python"),
        _node("hidden", "u1", ["a4"], "assistant", text="", metadata={"is_visually_hidden_from_conversation": True}),
        _node("a4", "hidden", [], "assistant", text="Hello (under a hidden node)"),
        _node("a3", "u1", ["c1"], "assistant", text="Hello (shown)", metadata={"model_slug": "gpt-4o"}),
        _node("c1", "a3", [], "assistant", content={"content_type": "code", "text": "x = 1"}),
    ]
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps([_conv("Odd shapes", nodes, "c1")]), encoding="utf-8")
    with DatasetStore(tmp_path / "d.lima.db") as s:
        r = import_file(s, src)
        assert (r.chats, r.skipped) == (1, 0)
        assert r.warnings == ["line 1: a regenerated reply that calls a tool was left out "
                              "(only text versions are kept)", "line 1: image parts became placeholders"]
        chat = s.get_chat(s.list_chats()[0].id)
        assert [(m.role, m.content) for m in chat.messages] == [
            ("system", "I am Ann.\n\nBe brief."), ("system", "Shown system text"), ("user", "Hi there"),
            ("assistant", "Hello (shown)"), ("assistant", "x = 1")]
        shown = chat.messages[3]
        assert shown.alt_index == 3 and [a["content"] for a in shown.alternatives] == [
            "Hello (first try)", "Hello (under a hidden node)", "Here:\n[image]"]
        assert shown.alternatives[0] == {"content": "Hello (first try)", "tool_calls": None, "source": "generated",
                                         "model": "gpt-4o", "finish": None}
        assert chat.extra == {"chatgpt_id": "id-Odd shapes"}


def test_without_custom_instructions_and_without_text(tmp_path: Path) -> None:
    nodes = [_node("root", None, ["ctx"]),
             _node("ctx", "root", ["u1"], "user", content={"content_type": "user_editable_context",
                                                            "user_profile": "Ann", "user_instructions": ""}),
             _node("u1", "ctx", ["a1"], "user", text="Hi"),
             _node("a1", "u1", [], "assistant", text="Hello")]
    empty = [_node("root", None, ["s"]), _node("s", "root", [], "system", text="only a system text")]
    solo = [_node("root", None, ["a"]), _node("a", "root", [], "assistant", text="a greeting, unprompted")]
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps([_conv("With", nodes, "a1"), _conv("Empty", empty, "s"), _conv("Solo", solo, "a")]),
                   encoding="utf-8")
    with DatasetStore(tmp_path / "a.lima.db") as s:
        r = import_file(s, src)
        assert (r.chats, r.skipped, r.skipped_reasons) == (2, 1, {"no messages": 1})
        assert [(m.role, m.content) for m in s.get_chat(s.list_chats()[0].id).messages] == [
            ("system", "Ann"), ("user", "Hi"), ("assistant", "Hello")]
    with DatasetStore(tmp_path / "b.lima.db") as s:
        import_file(s, src, options={"custom_instructions": False})
        assert [m.role for m in s.get_chat(s.list_chats()[0].id).messages] == ["user", "assistant"]
