"""Versions of a generated reply (alternatives, issue 5) in the chat editor: step through them
(‹ ›), show one, delete one, and mark versions rejected for preference pairs (the shown one is
the chosen one). One `VersionActions` per editor (`editor.assist.versions`). Each change is one
store call and one undo step; while a reply streams into a message, its versions stay as they
are. What it needs from the editor is `interfaces.AssistHost`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from typing import TYPE_CHECKING

from lima_tk.ui.assist_marks import UNFINISHED, short_model

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import AssistHost, AssistParts
    from lima_tk.ui.message_frame import MessageCard


class VersionActions:
    """Tk thread only."""

    def __init__(self, assist: AssistParts, editor: AssistHost) -> None:
        self.assist = assist
        self.editor = editor
        self.open_menu: tk.Menu | None = None  # the list of versions, while it is open
        self.menu_var: tk.IntVar | None = None
        self.reject_vars: dict[int, tk.IntVar] = {}

    def step_current(self, delta: int) -> None:
        """The menu's Previous / Next version (delta ±1) and Delete this version (0), on the
        current message."""
        card = self.editor.current_card()
        if card is None or card.role != "assistant" or not card.message.alternatives:
            self.editor.status("This message has one version: ↻ (Ctrl+G on a reply) makes another")
            return
        if delta:
            self.step(card, delta)
        else:
            self.delete(card.mid)

    def prefer_current(self) -> None:
        """Alt+P: the shown version of the current reply is the preferred one; mark the others
        rejected (one undo step)."""
        card = self.editor.current_card()
        if card is None or card.role != "assistant" or not card.message.alternatives:
            self.editor.status("This message has one version: ↻ (Ctrl+G on a reply) makes another")
            return
        if all(v.get("rejected") for i, v in enumerate(card.message.variants())
               if i != (card.message.alt_index or 0)):
            self.editor.status("The other versions are already rejected")
            return
        self.reject_others(card.mid)

    def step(self, card: MessageCard, delta: int) -> None:
        m = card.message
        n = len(m.alternatives or ()) + 1
        i = (m.alt_index or 0) + delta
        if n < 2 or not 0 <= i < n:
            self.editor.bell()
            return
        self.show(card.mid, i)

    def show(self, mid: int, index: int) -> None:
        ed = self.editor
        if self.assist.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        if not ed.writable():
            return
        ed.flush()
        self.editor.store.show_alternative(mid, index)
        n = len(ed.messages[mid].alternatives or ()) + 1
        ed.changed(status=f"Version {index + 1} of {n} (the shown version is the one trained on)")

    def delete(self, mid: int, index: int | None = None) -> None:
        ed = self.editor
        if self.assist.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        m = ed.messages.get(mid)
        if m is None or not ed.writable():
            return
        n = len(m.alternatives or ()) + 1
        if n < 2:
            ed.status("This message has only one version")
            return
        index = (m.alt_index or 0) if index is None else index
        ed.flush()
        self.editor.store.delete_alternative(mid, index)
        ed.changed(status=f"Deleted version {index + 1} of {n} (Ctrl+Z outside a text undoes)")

    def set_rejected(self, mid: int, index: int, flag: bool = True) -> None:
        """Mark version `index` (0-based) of a reply rejected, or not: a preference export pairs it
        with the shown (chosen) version. One undo step."""
        ed = self.editor
        if self.assist.streaming(mid):
            ed.status("Wait for the reply or stop it (Esc) first")
            return
        if mid not in ed.messages or not ed.writable():
            return
        ed.flush()
        self.editor.store.set_alternative_rejected(mid, index, flag)
        if flag:
            text = (f"Version {index + 1} marked rejected: preference exports pair it with the shown version "
                    "(Ctrl+Z outside a text undoes)")
        else:
            text = f"Version {index + 1} is no longer rejected"
        ed.changed(status=text)

    def reject_others(self, mid: int) -> None:
        """Mark every version but the shown one rejected (one undo step)."""
        ed = self.editor
        m = ed.messages.get(mid)
        if m is None or self.assist.streaming(mid) or not ed.writable():
            return
        shown = m.alt_index or 0
        todo = [i for i, v in enumerate(m.variants()) if i != shown and not v.get("rejected")]
        if not todo:
            return
        ed.flush()
        with self.editor.store.change(f"Reject {len(todo)} versions", "alternative"):
            for i in todo:
                self.editor.store.set_alternative_rejected(mid, i, True)
        ed.changed(status=f"{len(todo)} versions marked rejected (Ctrl+Z outside a text undoes)")

    def menu(self, card: MessageCard, x: int, y: int) -> tk.Menu:
        """A small menu listing the versions (pick one to show it), marking the others rejected
        for preference pairs, and deleting the shown one."""
        m = card.message
        variants = m.variants()
        shown = m.alt_index or 0
        if self.open_menu is not None:
            try:
                self.open_menu.destroy()
            except tk.TclError:
                pass
        menu = tk.Menu(self.editor, tearoff=False)
        self.menu_var = tk.IntVar(menu, value=shown)
        any_rejected = any(v.get("rejected") for v in variants)
        for i, v in enumerate(variants):
            text = " ".join(str(v.get("content") or "").split())
            if not text and v.get("tool_calls"):
                text = "(tool calls)"
            text = (text[:48] + "…") if len(text) > 49 else (text or "(empty)")
            who = "generated" if v.get("source") == "generated" else v.get("source") or "written"
            label = f"{i + 1}. {text}  —  {who}"
            if v.get("model"):
                label += f" · {short_model(v.get('model'))}"
            if v.get("finish") not in (None, "stop", "tool_calls") or (v.get("source") == "generated"
                                                                          and not v.get("finish")):
                label += f" ({UNFINISHED.get(v.get('finish'), (v.get('finish'), ''))[0]})"
            if v.get("rejected"):
                label += "   ✗ rejected"
            elif i == shown and any_rejected:
                label += "   ✓ chosen"
            menu.add_radiobutton(label=label, variable=self.menu_var, value=i,
                                 command=lambda i=i: self.editor.run(lambda: self.show(card.mid, i)))
        menu.add_separator()
        # Preference pairs: the shown version is the chosen one; the others may be marked rejected.
        menu.add_command(label="Rejected, for preference pairs (the shown one is chosen):", state="disabled")
        self.reject_vars: dict[int, tk.IntVar] = {}
        for i, v in enumerate(variants):
            if i == shown:
                continue
            var = tk.IntVar(menu, value=1 if v.get("rejected") else 0)
            self.reject_vars[i] = var
            menu.add_checkbutton(
                label=f"Version {i + 1} rejected", variable=var, onvalue=1, offvalue=0,
                command=lambda i=i, var=var: self.editor.run(lambda: self.set_rejected(card.mid, i,
                                                                                         bool(var.get()))))
        if sum(1 for i, v in enumerate(variants) if i != shown and not v.get("rejected")) >= 2:
            menu.add_command(label="Reject all other versions",
                             command=lambda: self.editor.run(lambda: self.reject_others(card.mid)))
        menu.add_separator()
        menu.add_command(label=f"Delete version {shown + 1}",
                         command=lambda: self.editor.run(lambda: self.delete(card.mid, shown)))
        self.open_menu = menu
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()
        return menu
