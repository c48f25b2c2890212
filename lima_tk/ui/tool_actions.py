"""Functions (tools) and tool calls in a chat editor: add, edit and delete them, keep the calls
and the tool messages that answer them consistent, and link a tool message to the call it
answers (docs/editor.md, "Functions (tools) and tool calls").

References never dangle silently: renaming or deleting a function that calls use asks first
(yes renames or deletes the calls too, and their answers: one undo step); removing a call that a
tool message answers asks, then unlinks the answer; changing a call's id relinks its answer.
What it needs from the editor is `interfaces.ToolHost`; the dialogs are in tool_editor.py.
Tk thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError
from lima_tk.model import Tool
from lima_tk.ui.tool_editor import ToolCallDialog, ToolDialog, new_call_id

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ToolHost
    from lima_tk.ui.message_frame import MessageCard


def _dialog_errors(save: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """A dialog's on_save: a dataset problem (busy, disk full) is shown in the dialog, which
    stays open with what was typed, instead of escaping as a callback error."""

    def run(value: Any) -> str | None:
        try:
            return save(value)
        except LimaError as e:
            return str(e)

    return run


class ToolActions:
    """Tool and tool-call actions of one editor. Tk thread only."""

    def __init__(self, host: ToolHost) -> None:
        self.host = host
        # tool message id -> (open calls it may answer: (call id, function name), warning or None)
        self.links: dict[int, tuple[list[tuple[str, str]], str | None]] = {}

    # -- which call a tool message answers -------------------------------------------------------

    def compute_links(self) -> None:
        """For each tool message: the open calls it may answer, and a warning when it is not
        linked to exactly one earlier call."""
        ed = self.host
        answered: dict[str, int] = {}
        for mid in ed.order:
            m = ed.messages[mid]
            if m.role == "tool" and m.tool_call_id:
                answered.setdefault(m.tool_call_id, mid)
        opened: list[tuple[str, str]] = []
        self.links = {}
        for mid in ed.order:
            m = ed.messages[mid]
            if m.role == "assistant" and m.tool_calls:
                for call in m.tool_calls:
                    fn = call.get("function") or {}
                    opened.append((str(call.get("id", "")), str(fn.get("name", "?"))))
            elif m.role == "tool":
                options = [(cid, name) for cid, name in opened if answered.get(cid) in (None, mid)]
                ids = {cid for cid, _ in opened}
                cid = m.tool_call_id
                if not cid:
                    warning = "⚠ not linked to a call"
                elif cid not in ids:
                    warning = "⚠ no earlier call has this id"
                elif answered.get(cid) != mid:
                    warning = f"⚠ call already answered by #{ed.index_of(answered[cid]) + 1}"
                else:
                    warning = None
                self.links[mid] = (options, warning)

    def show_link(self, card: MessageCard) -> None:
        """The card's answered-call choice and warning, as computed."""
        if card.mid in self.links:
            card.set_answer_options(*self.links[card.mid])

    def calls_to(self, function: str) -> list[tuple[int, int]]:
        """(message id, call index) of every tool call of this chat that names `function`."""
        ed = self.host
        out = []
        for mid in ed.order:
            for i, call in enumerate(ed.messages[mid].tool_calls or []):
                if (call.get("function") or {}).get("name") == function:
                    out.append((mid, i))
        return out

    def answers_to(self, call_ids: Iterable[str]) -> list[int]:
        ed = self.host
        ids = set(call_ids)
        return [mid for mid in ed.order
                if ed.messages[mid].role == "tool" and ed.messages[mid].tool_call_id in ids]

    def set_answer(self, card: MessageCard, call_id: str) -> None:
        """Link a tool message to the call it answers."""
        ed = self.host
        if not ed.writable():
            return
        try:
            ed.flush()
            ed.store.update_message(card.mid, tool_call_id=call_id)
        except LimaError:
            self.show_link(card)  # nothing changed: show the link it has
            raise
        ed.changed()

    # -- tool calls -------------------------------------------------------------------------------

    def add_tool_call(self, card: MessageCard | None = None) -> ToolCallDialog | None:
        ed = self.host
        card = card or ed.current_card()
        if card is None or card.role != "assistant":
            ed.status("Tool calls belong to assistant messages: pick one first")
            return None
        if ed.busy(card.mid):
            return None
        if not ed.writable():
            return None
        if not ed.chat.tools:
            ed.status("This chat has no functions yet: add one in the Tools panel first")
            self.add_tool()
            return None
        mid = card.mid
        dialog = ToolCallDialog(ed, ed.chat.tools, None,
                                on_save=_dialog_errors(lambda call: self._save_call(mid, None, call)))
        ed.dialog = dialog
        return dialog

    def edit_tool_call(self, card: MessageCard, index: int | None) -> ToolCallDialog | None:
        ed = self.host
        calls = ed.messages[card.mid].tool_calls or []
        if index is None or not 0 <= index < len(calls):
            return None
        mid = card.mid
        dialog = ToolCallDialog(ed, ed.chat.tools, calls[index],
                                on_save=_dialog_errors(lambda call: self._save_call(mid, index, call)))
        ed.dialog = dialog
        return dialog

    def _save_call(self, mid: int, index: int | None, call: dict[str, Any]) -> str | None:
        ed = self.host
        if mid not in ed.messages:
            return "The message no longer exists"
        calls = [dict(c) for c in ed.messages[mid].tool_calls or []]
        old_id = calls[index].get("id") if index is not None else None
        used = {c.get("id") for m in ed.order for j, c in enumerate(ed.messages[m].tool_calls or [])
                if not (m == mid and j == index)}
        if call["id"] in used:
            return f"The call id {call['id']} is already used in this chat"
        if index is None:
            calls.append(call)
        else:
            calls[index] = call
        ed.flush()
        with ed.store.change("Edit tool call" if index is not None else "Add tool call", "update_message"):
            ed.store.update_message(mid, tool_calls=calls)
            if old_id and old_id != call["id"]:
                for answer in self.answers_to([old_id]):
                    ed.store.update_message(answer, tool_call_id=call["id"])
        ed.changed()
        return None

    def remove_tool_call(self, card: MessageCard, index: int) -> bool:
        ed = self.host
        calls = [dict(c) for c in ed.messages[card.mid].tool_calls or []]
        if not 0 <= index < len(calls) or not ed.writable():
            return False
        call = calls.pop(index)
        answers = self.answers_to([str(call.get("id"))])
        if answers:
            where = ", ".join(f"#{ed.index_of(a) + 1}" for a in answers)
            if not ed.confirm("Remove tool call",
                              f"Message {where} answers this call. Remove the call and unlink that answer?"):
                return False
        ed.flush()
        with ed.store.change("Remove tool call", "update_message"):
            ed.store.update_message(card.mid, tool_calls=calls or None)
            for answer in answers:
                ed.store.update_message(answer, tool_call_id=None)
        ed.changed()
        return True

    # -- tools (function definitions) --------------------------------------------------------------

    def add_tool(self) -> ToolDialog | None:
        ed = self.host
        if not ed.writable():
            return None
        dialog = ToolDialog(ed, None, on_save=_dialog_errors(self._save_new_tool))
        ed.dialog = dialog
        return dialog

    def _save_new_tool(self, tool: Tool) -> str | None:
        ed = self.host
        if tool.name in ed.tool_names():
            return f"This chat already has a function named {tool.name!r}"
        ed.flush()
        ed.store.add_tool(ed.chat_id, tool)
        ed.changed(status=f"Added function {tool.name}")
        return None

    def _tool(self, tool_id: int | None) -> Tool | None:
        ed = self.host
        tool_id = tool_id if tool_id is not None else ed.selected_tool_id()
        return next((t for t in ed.chat.tools if t.id == tool_id), None)

    def edit_tool(self, tool_id: int | None = None) -> ToolDialog | None:
        ed = self.host
        tool = self._tool(tool_id)
        if tool is None:
            ed.status("Select a function in the Tools panel first")
            return None
        if not ed.writable():
            return None
        dialog = ToolDialog(ed, tool, on_save=_dialog_errors(lambda new: self._save_tool_edit(tool, new)))
        ed.dialog = dialog
        return dialog

    def _save_tool_edit(self, old: Tool, new: Tool) -> str | None:
        ed = self.host
        refs: list[tuple[int, int]] = []
        if new.name != old.name:
            if new.name in ed.tool_names():
                return f"This chat already has a function named {new.name!r}"
            refs = self.calls_to(old.name)
            if refs and not ed.confirm(
                    "Rename function",
                    f"{len(refs)} tool call(s) in this chat use {old.name!r}. Rename them to {new.name!r} as well?"):
                return f"Not renamed: {len(refs)} tool call(s) still use {old.name!r}"
        ed.flush()
        with ed.store.change(f"Edit tool {new.name}", "tool"):
            ed.store.update_tool(old.id, new)  # type: ignore[arg-type]
            for mid in sorted({m for m, _ in refs}):
                calls = [dict(c) for c in ed.messages[mid].tool_calls or []]
                for _, i in [r for r in refs if r[0] == mid]:
                    calls[i]["function"] = dict(calls[i].get("function") or {}, name=new.name)
                ed.store.update_message(mid, tool_calls=calls)
        ed.changed(status=f"Saved function {new.name}" + (f" and {len(refs)} call(s)" if refs else ""))
        return None

    def delete_tool(self, tool_id: int | None = None) -> bool:
        ed = self.host
        tool = self._tool(tool_id)
        if tool is None:
            ed.status("Select a function in the Tools panel first")
            return False
        if not ed.writable():
            return False
        refs = self.calls_to(tool.name)
        call_ids = [str(ed.messages[m].tool_calls[i].get("id")) for m, i in refs]  # type: ignore[index]
        answers = self.answers_to(call_ids)
        if refs and not ed.confirm(
                "Delete function",
                f"{len(refs)} tool call(s) use {tool.name!r}"
                + (f" and {len(answers)} tool message(s) answer them" if answers else "")
                + ". Delete the function together with these calls"
                + (" and answers" if answers else "") + "?"):
            return False
        ed.flush()
        with ed.store.change(f"Delete tool {tool.name}", "tool"):
            ed.store.delete_tool(tool.id)  # type: ignore[arg-type]
            for mid in sorted({m for m, _ in refs}):
                calls = [c for c in ed.messages[mid].tool_calls or []
                         if (c.get("function") or {}).get("name") != tool.name]
                ed.store.update_message(mid, tool_calls=calls or None)
            if answers:
                ed.store.delete_messages(answers)
        ed.changed(status=f"Deleted function {tool.name}")
        return True

    @staticmethod
    def fresh_call_ids(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copies of calls with new ids (call ids must stay unique within a chat)."""
        return [dict(c, id=new_call_id()) for c in calls]
