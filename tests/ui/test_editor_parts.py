"""The chat editor's parts work through their interfaces alone (lima_tk/ui/interfaces.py): each is
driven here by a small stand-in host instead of a ChatEditor, so a part that starts reaching into
the editor beyond its Protocol fails here, not only in a whole-window test."""

from __future__ import annotations

import gc
import tkinter as tk
from types import SimpleNamespace
from typing import Any

import pytest

from lima_tk.errors import DatasetBusy
from lima_tk.model import Message
from lima_tk.ui.autosave import write_wait
from lima_tk.ui.editor_navigation import Navigation
from lima_tk.ui.editor_saving import EditorSaving
from lima_tk.ui.message_frame import MessageCard
from lima_tk.ui.open_editors import OpenEditors
from tests.ui.conftest import wait_until

SHIFT, CTRL = 0x1, 0x4


@pytest.fixture
def root():
    gc.collect()
    r = tk.Tk()
    r.withdraw()
    yield r
    r.destroy()
    gc.collect()


class FakeCard:
    def __init__(self, mid: int) -> None:
        self.mid = mid
        self.selected = False

    def set_state(self, focused: bool | None = None, selected: bool | None = None) -> None:
        if selected is not None:
            self.selected = selected


class NavHost:
    """What Navigation needs (interfaces.NavigationHost), and nothing else."""

    def __init__(self, root: tk.Misc, n: int) -> None:
        self.closed = False
        self.order = list(range(10, 10 + n))
        self.messages = {m: Message("user", str(m)) for m in self.order}
        cards = {m: FakeCard(m) for m in self.order}
        self.seen: list[tuple[Any, ...]] = []
        canvas = tk.Canvas(root)
        self.view = SimpleNamespace(cards=cards, canvas=canvas, stick_bottom=True, card=lambda mid: cards[mid],
                                    see_card=lambda c, i=None: self.seen.append((c.mid, i)))
        self.add_button = tk.Button(root)
        self.find = SimpleNamespace(close_if_open=lambda: self.seen.append(("find closed",)) or True)
        self.statuses: list[str] = []

    def index_of(self, mid: int, default: Any = ...) -> Any:
        return self.order.index(mid) if mid in self.order or default is ... else default

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None:
        self.statuses.append(text)

    def is_unsaved(self, card: Any) -> bool:
        return False

    def save_soon(self) -> bool:
        return True

    def focus_get(self) -> Any:
        return None

    def update_idletasks(self) -> None:
        pass


def test_navigation_selects_by_clicks_and_keys_through_its_interface(root):
    host = NavHost(root, 6)
    nav = Navigation(host)
    cards = host.view.cards
    nav.header_click(cards[11], 0)
    nav.header_click(cards[14], SHIFT)  # a range from the anchor
    assert nav.selection == {11, 12, 13, 14} and nav.targets() == [11, 12, 13, 14]
    nav.header_click(cards[12], CTRL)  # toggle one out
    assert nav.targets() == [11, 13, 14] and [c.mid for c in cards.values() if c.selected] == [11, 13, 14]
    assert host.statuses[-1].startswith("3 messages selected")
    nav.clear_selection()
    assert nav.selection == set() and nav.targets() == [12]  # the current one: the last clicked
    nav.clear_selection()  # nothing selected: Escape closes the find bar
    assert host.seen[-1] == ("find closed",)
    nav.select_step(1)
    assert nav.selection == {13} and host.seen[-1] == (13, None)
    nav.select_step(10)  # clamped
    assert nav.current_id == 15
    host.order.remove(15)
    del host.messages[15]
    nav.reloaded()
    assert nav.current_id is None and nav.selection == set()


class SaveHost:
    """What EditorSaving needs (interfaces.SavingHost); its store fails on demand."""

    def __init__(self, root: tk.Misc) -> None:
        self.root = root
        self.closed = False
        self.chat = SimpleNamespace(name="Chat")
        self.messages = {1: Message("user", "a", id=1)}
        self.written: list[tuple[int, str]] = []
        self.busy = False
        self.statuses: list[tuple[str, bool]] = []
        self.told = 0

        def edit(mid: int, text: str) -> None:
            if self.busy:
                raise DatasetBusy("x.lima.db: another lima-tk is writing to x.lima.db; try again")
            self.written.append((mid, text))

        self.store = SimpleNamespace(edit_message_text=edit)
        self.props = SimpleNamespace(flush=lambda: False, pending=lambda: {})
        self.assist = SimpleNamespace(streaming=lambda mid=None: False)
        self.tokens = SimpleNamespace(schedule=lambda: None)
        self.view = SimpleNamespace(cards={}, schedule_layout=lambda: None)

    def index_of(self, mid: int, default: Any = ...) -> Any:
        return 0 if mid == 1 else default

    def note_typed(self, widget: tk.Misc) -> None:
        pass

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None:
        self.statuses.append((text, error))

    def tell_main_window(self) -> None:
        self.told += 1

    def show_save_state(self) -> None:
        pass

    def after(self, ms: int, func: Any, *args: Any) -> str:
        return self.root.after(ms, func, *args)

    def after_cancel(self, ident: str) -> None:
        self.root.after_cancel(ident)


def test_saving_keeps_typing_dirty_until_a_write_commits(root):
    host = SaveHost(root)
    saving = EditorSaving(host, save_delay=10_000)
    canvas = tk.Canvas(root)
    card_host = SimpleNamespace(max_lines=40, button_height=20, measurer=None, closed=False,
                                assist=SimpleNamespace(errors={}, streaming=lambda mid=None: False,
                                                       card_key=lambda c: (), card_buttons=lambda c: ([], {}),
                                                       meta_items=lambda c: ([], {}), placeholder=lambda c: None),
                                card_width=lambda: 400, text_width=lambda: 396, header_actions_width=lambda: 200,
                                tool_names=lambda: set(), can_open_settings=lambda: False, run=lambda fn: fn())
    card = MessageCard(canvas, card_host, host.messages[1], 0)
    host.view.cards[1] = card
    card.text.insert("end", "b")
    saving.touched(card)
    host.busy = True
    assert saving.flush(strict=False) == 0 and saving.dirty == {1} and saving.has_unsaved()
    assert saving.failure() == "another program is writing to the dataset"
    assert card.unsaved.startswith("Not saved: another program is writing")
    with pytest.raises(DatasetBusy, match="Nothing was changed"):
        saving.flush()  # strict: the caller changes nothing
    assert saving.unsaved_texts() == [("message #1 of “Chat”", "ab")]
    host.busy = False
    wait_until(lambda: not saving.dirty, root, timeout=5)  # the retry timer writes it by itself
    assert host.written == [(1, "ab")] and saving.flush() == 0  # nothing left to write
    assert not card.unsaved and not saving.has_unsaved() and saving.failure() is None
    assert host.statuses[-1][0].startswith("Saved")  # saving works again: said so
    assert write_wait() == 0
    saving.save_now()
    assert host.told == 1 and host.statuses[-1][0].startswith("Saved")
    saving.close()


def test_open_editors_flush_strictly_or_not():
    calls: list[str] = []

    class Ed:
        closed = False

        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def flush(self) -> int:
            calls.append("flush")
            if self.fail:
                raise DatasetBusy("busy")
            return 1

    eds = OpenEditors({1: Ed(False), 2: Ed(True)})
    eds.flush(strict=False)
    with pytest.raises(DatasetBusy):
        eds.flush()
    assert calls == ["flush"] * 4
