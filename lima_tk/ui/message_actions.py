"""Structural changes to the messages of a chat editor: insert, duplicate, delete, move, the
train-on-this-turn flag and the role. Each applies to the selected messages, else the current one;
each first writes pending typing (and changes nothing when that fails), then is one store call
and one undo step, then the editor re-reads the chat. What it needs from the editor is
`interfaces.MessageActionsHost`. Tk thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError
from lima_tk.ui.tool_actions import ToolActions

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import MessageActionsHost
    from lima_tk.ui.message_frame import MessageCard

# The role a new message gets after one of this role (user <-> assistant; after system: user;
# after tool: assistant).
NEXT_ROLE = {"user": "assistant", "assistant": "user", "system": "user", "tool": "assistant"}


def _s(n: int) -> str:
    return "s" if n != 1 else ""


class MessageActions:
    """Tk thread only."""

    def __init__(self, host: MessageActionsHost) -> None:
        self.host = host

    def add(self, position: int | None, role: str, content: str = "") -> int:
        """Insert a message (position None: at the end), focus it and show it."""
        ed = self.host
        if not ed.writable():
            return -1
        ed.flush()
        mid = ed.store.add_message(ed.chat_id, role, content, position)
        ed.view.stick_bottom = position is None or position >= len(ed.order)
        ed.changed(focus=mid)
        return mid

    def add_at_end(self) -> None:
        ed = self.host
        last = ed.messages[ed.order[-1]].role if ed.order else None
        self.add(None, NEXT_ROLE.get(last, "user") if last else "user")

    def insert(self, below: bool = True) -> None:
        ed = self.host
        card = ed.nav.current_card()
        if card is None:
            self.add_at_end()
            return
        i = ed.index_of(card.mid)
        if below:
            self.add(i + 1, NEXT_ROLE.get(card.role, "user"))
        else:
            prev = ed.messages[ed.order[i - 1]].role if i > 0 else None
            self.add(i, NEXT_ROLE.get(prev, "user") if prev else "user")

    def duplicate(self) -> None:
        ed = self.host
        ids = ed.nav.targets()
        if not ids or not ed.writable():
            return
        ed.flush()
        current = ed.nav.current_id
        new_of: dict[int, int] = {}
        with ed.store.change(f"Duplicate {len(ids)} message{_s(len(ids))}", "add_message"):
            for mid in reversed(ids):
                new = ed.store.duplicate_message(mid)
                new_of[mid] = new
                calls = ed.messages[mid].tool_calls
                if calls:  # call ids must stay unique within the chat
                    ed.store.update_message(new, tool_calls=ToolActions.fresh_call_ids(calls))
        focus = new_of.get(current) if current in new_of else new_of[ids[-1]]  # type: ignore[arg-type]
        ed.changed(focus=focus, status=f"Duplicated {len(ids)} message{_s(len(ids))}")

    def delete(self) -> None:
        ed = self.host
        ids = ed.nav.targets()
        if not ids or not ed.writable():
            return
        if ed.assist.stream is not None and ed.assist.stream.mid in ids:
            ed.assist.stop()
        ed.flush()
        first = min(ed.index_of(m) for m in ids)
        had_focus = ed.nav.focused_card() is not None
        n = ed.store.delete_messages(ids)
        ed.nav.selection = set()
        ed.nav.current_id = None
        rest = [m for m in ed.order if m not in set(ids)]
        focus = rest[min(first, len(rest) - 1)] if rest else None
        ed.changed(focus=focus if had_focus else None,
                   status=f"Deleted {n} message{_s(n)} (Ctrl+Z outside a text undoes)")
        if focus is not None and not had_focus:
            ed.nav.current_id = focus
            ed.view.canvas.focus_set()
        elif focus is None:
            ed.view.canvas.focus_set()

    def move(self, delta: int) -> None:
        ed = self.host
        ids = ed.nav.targets()
        if not ids or not ed.writable():
            return
        ed.flush()
        before = list(ed.order)
        ed.store.move_messages(ids, delta)
        focused = ed.nav.focused_card()
        ed.reload()
        if ed.order == before:
            ed.bell()
            return
        ed.tell_main_window()
        card = ed.view.cards.get(focused.mid if focused else ids[0 if delta < 0 else -1])
        if card is not None:
            ed.view.see_card(card, "insert" if focused else None)
            if focused is not None:
                card.text.focus_set()

    def toggle_train(self) -> None:
        """Train on this turn: default -> 1 -> 0, on the assistant messages among the targets."""
        ed = self.host
        ids = [m for m in ed.nav.targets() if ed.messages[m].role == "assistant"]
        if not ids:
            ed.status("“Train on this turn” applies to assistant messages")
            return
        if not ed.writable():
            return
        cycle = {None: 1, 1: 0, 0: None}
        weight = cycle[ed.messages[ids[0]].weight]
        ed.flush()
        with ed.store.change("Set train on this turn", "update_message"):
            for mid in ids:
                ed.store.update_message(mid, weight=weight)
        label = {None: "default", 1: "train (weight 1)", 0: "do not train (weight 0)"}[weight]
        ed.changed(status=f"Train on this turn: {label}")

    def role_key(self, role: str) -> None:
        """Ctrl+1..4: the role of the current message (or of the selection it is in)."""
        ed = self.host
        card = ed.nav.current_card()
        if card is None:
            ed.status("Put the cursor in a message first (Alt+Up / Alt+Down)")
            return
        ids = ed.nav.targets() if card.mid in ed.nav.selection else [card.mid]
        if all(ed.messages[m].role == role for m in ids):
            ed.status(f"Already {role}")
            return
        card.role_box.set(role)
        self.change_role(card, role)

    def change_role(self, card: MessageCard, role: str) -> None:
        """A card's role list (on the selection, when the card is selected); what the new role
        cannot have (tool calls, weight, answered call) goes, after asking about tool calls."""
        ed = self.host
        if not ed.writable() or ed.busy(card.mid):
            card.role_box.set(card.role)
            return
        selection = ed.nav.selection
        ids = [m for m in ed.order if m in selection] if card.mid in selection else [card.mid]
        dropped = sum(len(ed.messages[m].tool_calls or []) for m in ids if role != "assistant")
        if dropped and not ed.confirm("Change role",
                                      f"{dropped} tool call(s) belong to the assistant message(s); changing the "
                                      "role removes them. Continue?"):
            card.role_box.set(card.role)
            return
        try:
            ed.flush()
            with ed.store.change(f"Change role to {role}", "set_role"):
                ed.store.set_role(ids, role)
                for mid in ids:
                    m = ed.messages[mid]
                    fields: dict[str, Any] = {}
                    if role != "assistant" and m.weight is not None:
                        fields["weight"] = None
                    if role != "assistant" and m.tool_calls:
                        fields["tool_calls"] = None
                    if role != "tool" and m.tool_call_id:
                        fields["tool_call_id"] = None
                    if fields:
                        ed.store.update_message(mid, **fields)
        except LimaError:
            card.role_box.set(card.role)  # nothing changed: show the role the message still has
            raise
        ed.changed()
