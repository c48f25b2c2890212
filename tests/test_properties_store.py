"""Property-based test of the store and its undo journal: random sequences of create, import,
rename, edit (typing coalesces), add, move and delete, undo, redo and reopen, on a real dataset
file, checked after every step against a plain in-memory model (a list of chats and two stacks
of whole-dataset snapshots). The journal's cap is small, so trimming is part of every run.

Runs under the hypothesis profile in tests/conftest.py ("ci": derandomized, a few seconds);
`HYPOTHESIS_PROFILE=dev` searches far longer."""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lima_tk.model import Chat, Message
from lima_tk.store import ChatFilter, DatasetStore

CAP = 6  # small: trimming the history happens in most runs
ROLES = ("system", "user", "assistant")
WORDS = st.sampled_from(["zebra", "quokka", "ёжик", "kiwi", "🦓", "a\tb", "", "  ", "Zebra!", "line\nbreak"])
TEXT = st.lists(WORDS, max_size=4).map(" ".join)
NAME = st.lists(WORDS, max_size=3).map(" ".join)
MESSAGES = st.lists(st.tuples(st.sampled_from(ROLES), TEXT), max_size=4)
PICK = st.integers(min_value=0, max_value=10_000)  # an index, taken modulo the number of candidates


@dataclass
class Step:
    label: str
    kind: str
    target: int | None
    before: list  # the model's chats before the step
    after: list | None = None  # filled when the step is undone


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="lima-prop-"))
        self.path = self.dir / "prop.lima.db"
        self.store = DatasetStore(self.path)
        self.store.set_setting("journal_cap", CAP)
        self.store.journal.clear()
        # the model: chats in list order as [id, name, [[message id, role, content], ...]]
        self.chats: list[list] = []
        self.undo_stack: list[Step] = []
        self.redo_stack: list[Step] = []

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the model's bookkeeping -----------------------------------------------------------------

    def record(self, label: str, kind: str, target: int | None = None, coalesce: bool = False) -> None:
        """Call before changing the model for a new step."""
        top = self.undo_stack[-1] if self.undo_stack else None
        if coalesce and not self.redo_stack and top and (top.kind, top.target) == (kind, target):
            return  # typing in the same message: one step, its first "before" stays
        self.redo_stack.clear()
        self.undo_stack.append(Step(label, kind, target, copy.deepcopy(self.chats)))
        del self.undo_stack[:-CAP]

    def messages(self) -> list[tuple[list, list]]:
        return [(chat, m) for chat in self.chats for m in chat[2]]

    def store_messages(self, chat_id: int) -> list[list]:
        return [[m.id, m.role, m.content] for m in self.store.get_messages(chat_id)]

    # -- rules -----------------------------------------------------------------------------------

    @rule(name=NAME, msgs=MESSAGES)
    def create(self, name: str, msgs: list[tuple[str, str]]) -> None:
        self.record("New chat", "create_chat")
        cid = self.store.create_chat(name, messages=[Message(r, t) for r, t in msgs])
        stored = self.store_messages(cid)
        assert [m[1:] for m in stored] == [list(m) for m in msgs]
        self.chats.append([cid, name, stored])

    @rule(chats=st.lists(st.tuples(NAME, MESSAGES), min_size=1, max_size=3))
    def import_chats(self, chats: list[tuple[str, list[tuple[str, str]]]]) -> None:
        self.record("Import test", "add_chats")
        result = self.store.add_chats([Chat(name=n, messages=[Message(r, t) for r, t in ms]) for n, ms in chats],
                                      label="Import test")
        assert result.chats == len(chats) and result.first_id is not None
        for cid, (name, msgs) in zip(range(result.first_id, result.last_id + 1), chats, strict=True):
            stored = self.store_messages(cid)
            assert [m[1:] for m in stored] == [list(m) for m in msgs]
            self.chats.append([cid, name, stored])

    @precondition(lambda self: self.chats)
    @rule(pick=PICK, name=NAME)
    def rename(self, pick: int, name: str) -> None:
        chat = self.chats[pick % len(self.chats)]
        self.record("Rename chat", "update_chats")
        self.store.rename_chat(chat[0], name)
        chat[1] = name

    @precondition(lambda self: any(c[2] for c in self.chats))
    @rule(pick=PICK, text=TEXT, extra=st.booleans())
    def type_text(self, pick: int, text: str, extra: bool) -> None:
        """Typing: one or two saves of the same message (consecutive ones are one step)."""
        msgs = self.messages()
        _, m = msgs[pick % len(msgs)]
        for t in ([text, text + "x"] if extra else [text]):
            changed = t != m[2]
            if changed:
                self.record("Edit message", "edit_text", m[0], coalesce=True)
            assert self.store.edit_message_text(m[0], t) is changed
            m[2] = t

    @precondition(lambda self: self.chats)
    @rule(pick=PICK, role=st.sampled_from(ROLES), text=TEXT, position=st.integers(-1, 6))
    def add_message(self, pick: int, role: str, text: str, position: int) -> None:
        chat = self.chats[pick % len(self.chats)]
        self.record("Add message", "add_message")
        mid = self.store.add_message(chat[0], role, text, position=position)
        at = len(chat[2]) if position >= len(chat[2]) else max(0, position)
        chat[2].insert(at, [mid, role, text])

    @precondition(lambda self: self.chats)
    @rule(pick=PICK)
    def delete_chat(self, pick: int) -> None:
        chat = self.chats[pick % len(self.chats)]
        self.record("Delete 1 chat", "delete_chats")
        assert self.store.delete_chats([chat[0]]) == 1
        self.chats.remove(chat)

    @precondition(lambda self: any(c[2] for c in self.chats))
    @rule(pick=PICK)
    def delete_message(self, pick: int) -> None:
        msgs = self.messages()
        chat, m = msgs[pick % len(msgs)]
        self.record("Delete 1 message", "delete_messages")
        assert self.store.delete_messages([m[0]]) == 1
        chat[2].remove(m)

    @precondition(lambda self: self.chats)
    @rule(pick=PICK, delta=st.sampled_from([-2, -1, 1, 2]))
    def move_chat(self, pick: int, delta: int) -> None:
        i = pick % len(self.chats)
        self.record(f"Move 1 chat {'up' if delta < 0 else 'down'}", "move_chats")
        self.store.move_chats([self.chats[i][0]], delta)
        self.chats.insert(min(max(i + delta, 0), len(self.chats) - 1), self.chats.pop(i))

    @precondition(lambda self: any(len(c[2]) > 1 for c in self.chats))
    @rule(pick=PICK, delta=st.sampled_from([-2, -1, 1, 2]))
    def move_message(self, pick: int, delta: int) -> None:
        msgs = [(c, m) for c, m in self.messages() if len(c[2]) > 1]
        chat, m = msgs[pick % len(msgs)]
        i = chat[2].index(m)
        j = min(max(i + delta, 0), len(chat[2]) - 1)
        if i != j:  # a move that changes nothing is no step
            self.record("Move 1 message", "move_messages")
        self.store.move_messages([m[0]], delta)
        chat[2].insert(j, chat[2].pop(i))

    @rule()
    def undo(self) -> None:
        step = self.store.undo()
        if not self.undo_stack:
            assert step is None
            return
        top = self.undo_stack.pop()
        assert step is not None and (step.label, step.undone) == (top.label, True)
        top.after = copy.deepcopy(self.chats)
        self.chats = copy.deepcopy(top.before)
        self.redo_stack.append(top)

    @rule()
    def redo(self) -> None:
        step = self.store.redo()
        if not self.redo_stack:
            assert step is None
            return
        top = self.redo_stack.pop()
        assert step is not None and (step.label, step.undone) == (top.label, False)
        self.chats = copy.deepcopy(top.after)
        self.undo_stack.append(top)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = DatasetStore(self.path)

    # -- after every step --------------------------------------------------------------------------

    @invariant()
    def same_chats_in_the_same_order(self) -> None:
        got = [[c.id, c.name, [[m.id, m.role, m.content] for m in c.messages]] for c in self.store.iter_chats()]
        assert got == self.chats
        assert [m.position for c in self.store.iter_chats() for m in c.messages] == \
            [i for c in self.chats for i in range(len(c[2]))]

    @invariant()
    def same_history(self) -> None:
        assert self.store.undo_label() == (self.undo_stack[-1].label if self.undo_stack else None)
        assert self.store.redo_label() == (self.redo_stack[-1].label if self.redo_stack else None)
        assert len(self.store.journal.steps(1000)) == len(self.undo_stack) + len(self.redo_stack)

    @invariant()
    def search_finds_what_the_model_holds(self) -> None:
        for word in ("zebra", "quokka", "ёжик"):
            expect = {c[0] for c in self.chats
                      if any(_has_word(t, word) for t in [c[1], *(m[2] for m in c[2])])}
            assert set(self.store.chat_ids(ChatFilter(text=word))) == expect, word


def _has_word(text: str, word: str) -> bool:
    return any(w.lower().startswith(word) for w in re.split(r"\W+", text))


TestStoreAndJournal = StoreMachine.TestCase
# max_examples, seed handling and the like come from the active profile (tests/conftest.py)
TestStoreAndJournal.settings = settings(deadline=None, stateful_step_count=30)
