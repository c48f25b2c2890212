"""Platform behaviour driven for real (issue 18). On whatever Tk runs the suite (8.6, or 9 in the
tk9 chroot): a wheel notch as this Tk sends it scrolls every scrollable area; the side buttons
(Button-4/5 on Tk 9 X11) scroll nothing; <TouchpadScroll> (Tk 9) scrolls every area; the
scrollbar thumb has no grip lines; no timer outlives its window. With aqua injected (the layer in
lima_tk/ui/platform.py): Command keys fire every action, the menus show Command accelerators, the
application menu and the ::tk::mac:: commands work, Quit settles unsaved typing, the Mac's text
keys move the cursor in a message, and right click is Button-2 (8.6) or Button-3 (9) and
Control+click."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.ui import platform, timers
from lima_tk.ui.actions import ACTIONS
from lima_tk.ui.chat_editor import open_chat_editor
from lima_tk.ui.platform import Platform
from lima_tk.ui.stats_board import open_stats_board
from tests.ui.app_helpers import app_factory, click_row, seed, settle
from tests.ui.conftest import wait_until, wheel_notch
from tests.ui.test_window_keys import press

TK_MAJOR = int(tk.TkVersion)  # the Tk this _tkinter was built for (8 or 9)


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


@pytest.fixture
def aqua9():
    with platform.use(Platform("aqua", 9)) as p:
        yield p


@pytest.fixture
def aqua8():
    with platform.use(Platform("aqua", 8)) as p:
        yield p


def side_button(widget: tk.Misc, forward: bool = True) -> None:
    """The mouse's Forward/Back side button: Button-5/4 on X11 (a wheel notch on Tk 8.6)."""
    widget.update()
    n = 5 if forward else 4
    widget.event_generate(f"<Button-{n}>", x=5, y=5)
    widget.event_generate(f"<ButtonRelease-{n}>", x=5, y=5)
    widget.update()


def touchpad(widget: tk.Misc, dy: int, dx: int = 0) -> None:
    """A Tk 9 <TouchpadScroll>: %D packs dx (high) and dy (low) as signed 16-bit numbers."""
    widget.update()
    widget.event_generate("<TouchpadScroll>", delta=((dx & 0xFFFF) << 16) | (dy & 0xFFFF), x=5, y=5)
    widget.update()


def tags_vocab(db_path: Path, n: int) -> None:
    with DatasetStore(db_path) as s:
        s.set_setting("tags", [f"tag-{i:02d}" for i in range(n)])


def long_chat(db_path: Path, n: int = 40) -> int:
    with DatasetStore(db_path) as s:
        return s.create_chat("long", "en", (), messages=[
            Message("user" if i % 2 == 0 else "assistant", f"message {i}\n" * 4) for i in range(n)])


# -- scrolling, on the running Tk ---------------------------------------------------------------


def test_wheel_scrolls_and_side_buttons_do_not_in_the_chat_list(make_app, db_path: Path) -> None:
    seed(db_path, 300)
    app = make_app()
    settle(app)
    cl = app.chat_list
    wheel_notch(cl.tree)
    assert cl.top == 3
    wheel_notch(cl.scrollbar)
    assert cl.top == 6
    wheel_notch(cl.tree, down=False)
    assert cl.top == 3
    side_button(cl.tree, forward=True)
    side_button(cl.tree, forward=True)
    side_button(cl.tree, forward=False)
    # Tk 8.6 on X11: buttons 4/5 are the wheel. Tk 9: Back/Forward, which scroll nothing.
    assert cl.top == (6 if TK_MAJOR < 9 else 3)


def test_wheel_and_side_buttons_in_the_stats_board_and_tags_dialog(make_app, db_path: Path) -> None:
    seed(db_path, 40, tags=["a"])
    tags_vocab(db_path, 60)
    app = make_app()
    settle(app)
    board = open_stats_board(app)
    board.geometry("1040x320")  # shorter than its cards whatever the fonts: it has to scroll
    wait_until(lambda: float(board.canvas.yview()[1]) < 1.0, app.root, timeout=20)
    wheel_notch(board.canvas)
    after_notch = board.canvas.yview()[0]
    assert after_notch > 0
    side_button(board.canvas, forward=False)
    assert (board.canvas.yview()[0] < after_notch) == (TK_MAJOR < 9)
    board.destroy()

    click_row(app, 0)
    dlg = app.tags_dialog()
    canvas = dlg.scroll.canvas
    wait_until(lambda: float(canvas.yview()[1]) < 1.0, app.root)
    row = dlg.checks["tag-30"]
    wheel_notch(row)  # over a tag's checkbox, not only the canvas
    top = canvas.yview()[0]
    assert top > 0
    side_button(row, forward=False)
    assert (canvas.yview()[0] < top) == (TK_MAJOR < 9)
    dlg.cancel()


def test_wheel_and_side_buttons_in_the_chat_editor(make_app, db_path: Path) -> None:
    cid = long_chat(db_path)
    app = make_app()
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    ed.update()
    top0 = ed.view_top()
    card = max((c for c in ed.cards.values() if c.winfo_ismapped()), key=lambda c: c.y)
    wheel_notch(card.text, down=False)
    assert ed.view_top() == top0 - 60
    wheel_notch(card.header, down=True)
    assert ed.view_top() == top0
    side_button(card.text, forward=False)
    assert ed.view_top() == (top0 - 60 if TK_MAJOR < 9 else top0)


@pytest.mark.parametrize("area", ["chat list", "stats board", "tags dialog", "chat editor"])
def test_touchpad_scrolls_every_area(make_app, db_path: Path, area: str) -> None:
    """Tk 9: two-finger scrolling (<TouchpadScroll>) moves every scrollable area. Tk 8.6 has no
    such event (a touchpad sends wheel events there): binding it is an error, and the platform
    layer binds none."""
    if TK_MAJOR < 9:
        root = tk.Tk()
        try:
            assert platform.current(root).touchpad_sequences() == ()
            with pytest.raises(tk.TclError):
                root.bind("<TouchpadScroll>", lambda e: None)
        finally:
            root.destroy()
        return
    seed(db_path, 300, tags=["a"])
    tags_vocab(db_path, 60)
    app = make_app()
    settle(app)
    if area == "chat list":
        cl = app.chat_list
        touchpad(cl.tree, -35)  # 10 units a row, the rest kept
        assert cl.top == 3
        touchpad(cl.tree, -5)
        assert cl.top == 4
    elif area == "stats board":
        board = open_stats_board(app)
        board.geometry("1040x360")  # shorter than what it draws, whatever the fonts of this Tk
        wait_until(lambda: float(board.canvas.yview()[1]) < 1.0, app.root, timeout=20)
        touchpad(board.canvas, -40)
        assert board.canvas.yview()[0] > 0
        board.destroy()
    elif area == "tags dialog":
        click_row(app, 0)
        dlg = app.tags_dialog()
        canvas = dlg.scroll.canvas
        wait_until(lambda: float(canvas.yview()[1]) < 1.0, app.root)
        touchpad(dlg.checks["tag-10"], -40)
        assert canvas.yview()[0] > 0
        dlg.cancel()
    else:
        cid = long_chat(db_path)
        app.data_changed()
        ed = open_chat_editor(app, cid)
        wait_until(lambda: ed.ready, app.root)
        ed.update()
        top0 = ed.view_top()
        card = max((c for c in ed.cards.values() if c.winfo_ismapped()), key=lambda c: c.y)
        touchpad(card.text, 25)  # fingers down: the view moves up 25 px
        assert ed.view_top() == top0 - 25


# -- look and teardown ------------------------------------------------------------------------


def test_scrollbar_thumb_has_no_grip_on_this_tk(make_app, db_path: Path) -> None:
    app = make_app()
    opts = app.root.tk.splitlist(app.root.tk.call("ttk::style", "element", "options", "Vertical.Scrollbar.thumb"))
    name, value = next(iter(platform.current(app.root).scrollbar_no_grip().items()))
    assert f"-{name}" in opts  # the option this Tk's clam thumb reads (gripcount on 8.6, gripsize on 9)
    assert str(app.root.tk.call("ttk::style", "lookup", "TScrollbar", f"-{name}")) == str(value)


def test_no_timer_outlives_its_window(make_app, db_path: Path) -> None:
    cid = seed(db_path, 1)[0]
    app = make_app(count_tokens=True)
    settle(app)
    root = app.root
    # A window closed with a timer pending: the timer goes with it.
    top = tk.Toplevel(root)
    top.after(60_000, lambda: None)
    top.destroy()
    root.update()
    assert timers.orphans(root) == []
    # The main window closing with an editor open (its token count scheduled): nothing is left.
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, root)
    ed.tokens.schedule()
    app.close()
    assert timers.pending(root) == []


# -- macOS, injected --------------------------------------------------------------------------


@pytest.mark.parametrize("action", [a for a in ACTIONS if a.keys], ids=lambda a: a.event.strip("<>"))
def test_on_a_mac_every_action_fires_with_command(aqua9, make_app, db_path: Path, action) -> None:
    seed(db_path, 3)
    app = make_app()
    settle(app)
    click_row(app, 0)
    fired: list[str] = []
    app.root.bind(action.event, lambda e: fired.append(action.event) or "break")
    # Written out here, not asked of the layer: Control becomes Command, Alt becomes Option.
    keys = list(dict.fromkeys(s.replace("Control-", "Command-").replace("Alt-", "Option-") for s in action.keys))
    for seq in keys:
        press(app.chat_list.tree, seq)
    assert fired == [action.event] * len(keys)
    # Ctrl+A is "line start" on a Mac, not this action. (<<Undo>>/<<Redo>> are also Tk's own
    # virtual events, which this X11 Tk maps to Control keys: a real Mac's Tk maps them to Command.)
    if any("Control-" in s for s in action.keys) and not app.root.event_info(action.event):
        fired.clear()
        for seq in action.keys:
            press(app.chat_list.tree, seq)
        assert fired == []


def test_mac_menus_and_application_menu(aqua9, make_app, db_path: Path) -> None:
    seed(db_path, 2)
    app = make_app()
    settle(app)
    file_menu = app.menus["File"]
    labels = [file_menu.entrycget(i, "label") for i in range(file_menu.index("end") + 1)
              if file_menu.type(i) == "command"]
    assert "Quit" not in labels and "Settings…" not in labels  # in the application menu on a Mac
    menu, i = app.menu_bar.index["<<NewChat>>"]
    assert menu.entrycget(i, "accelerator") == "Command-N"
    menu, i = app.menu_bar.index["<<Redo>>"]
    assert menu.entrycget(i, "accelerator") == "Command-Shift-Z"
    apple = app.root.nametowidget(str(app.menu_bar.menubar) + ".apple")
    assert apple.entrycget(0, "label") == "About lima-tk"
    fired: list[str] = []
    for ev in ("<<Settings>>", "<<About>>", "<<Shortcuts>>"):
        app.root.bind(ev, lambda e, ev=ev: fired.append(ev) or "break")
    apple.invoke(0)
    app.root.tk.call("::tk::mac::ShowPreferences")
    app.root.tk.call("::tk::mac::ShowHelp")
    app.root.update()
    assert fired == ["<<About>>", "<<Settings>>", "<<Shortcuts>>"]
    dlg = app.shortcuts_dialog()  # Help > Keyboard shortcuts speaks Mac
    assert ("Save now", "Cmd+S") in dlg.rows and ("Move up", "Option+Up") in dlg.rows
    # Control stays only where the binding keeps it: Tab and Space (Cmd+Tab, Cmd+Space are the system's).
    assert not [k for _label, keys in dlg.rows for k in keys.split(" / ")
                if "Ctrl+" in k and k.rsplit("+", 1)[-1] not in ("Tab", "Space")]
    dlg.cancel()


def test_mac_status_and_empty_state_say_command(aqua9, make_app, db_path: Path) -> None:
    app = make_app()  # an empty dataset: the list's empty state names its keys
    settle(app)
    empty = " ".join(str(w.cget("text")) for w in app.chat_list.empty_state.frame.winfo_children()
                     if isinstance(w, ttk.Label))
    assert "Cmd+N" in empty and "Cmd+I" in empty and "Ctrl+" not in empty
    app.status("Deleted 1 chat (Ctrl+Z to undo)")
    assert app.status_text == "Deleted 1 chat (Cmd+Z to undo)"


def test_mac_open_document_and_quit_settles_typing(aqua9, make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 1)
    (tmp_path / "Zoë Łukasz").mkdir()
    other = tmp_path / "Zoë Łukasz" / "données ü.lima"  # a non-ASCII user folder
    cid = seed(other, 1)[0]
    app = make_app()
    settle(app)
    app.root.tk.call("::tk::mac::OpenDocument", str(other))  # double-clicked in Finder
    app.root.update()
    assert Path(app.store.path) == other
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    ed.save_delay = 60_000  # the debounce would not save it in time: Quit must
    card = ed.cards[ed.order[-1]]
    card.text.insert("end", " typed just before Cmd+Q")
    app.root.update()
    app.root.tk.call("::tk::mac::Quit")
    assert app._closed
    with DatasetStore(other) as s:
        assert s.get_chat(cid).messages[-1].content.endswith(" typed just before Cmd+Q")


def test_mac_text_keys_in_the_message_editor(aqua9, make_app, db_path: Path) -> None:
    cid = seed(db_path, 1)[0]
    app = make_app()
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    card = ed.cards[ed.order[0]]
    t = card.text
    t.delete("1.0", "end")
    t.insert("1.0", "first line here\nsecond words")
    ed.focus_message(card.mid, index="1.6")
    t.focus_force()
    t.mark_set("insert", "1.6")

    def key(seq: str) -> str:
        t.update()
        t.event_generate(seq)
        t.update()
        return t.index("insert")

    assert key("<Command-Right>") == "1.15"
    assert key("<Command-Left>") == "1.0"
    assert key("<Option-Right>") in ("1.5", "1.6")  # after "first" (Tk's word end)
    t.mark_set("insert", "1.11")
    assert key("<Option-Left>") == "1.6"
    assert key("<Command-Down>") == t.index("end-1c")
    assert key("<Command-Up>") == "1.0"
    key("<Command-a>")
    assert t.get("sel.first", "sel.last").rstrip("\n") == "first line here\nsecond words"


@pytest.mark.parametrize("tk_major,button", [(8, 2), (9, 3)])
def test_mac_right_click_and_control_click(make_app, db_path: Path, monkeypatch, tk_major: int, button: int) -> None:
    seed(db_path, 3)
    with platform.use(Platform("aqua", tk_major)):
        app = make_app()
        settle(app)
        posted: list[str] = []
        monkeypatch.setattr(app.menu_bar, "popup", lambda name, x, y: posted.append(name))
        tree = app.chat_list.tree
        x, y, _w, h = tree.bbox(app.chat_list._slots[1])
        tree.event_generate(f"<Button-{button}>", x=x + 10, y=y + h // 2)
        app.root.update()
        assert posted == ["Chat"] and app.chat_list.cursor == 1
        tree.event_generate("<Control-Button-1>", x=x + 10, y=y + h // 2)
        app.root.update()
        assert posted == ["Chat", "Chat"]
        click_row(app, 0)
        click_row(app, 2, "Command")  # Command+click adds a chat to the selection
        assert len(app.chat_list.selected) == 2


# -- text indices: Tk 8.6 counts an emoji as two characters, Tk 9 as one -------------------------


def test_tool_editor_error_column_lands_on_the_character_after_emoji(make_app, db_path: Path) -> None:
    cid = seed(db_path, 1)[0]
    app = make_app()
    ed = open_chat_editor(app, cid)
    wait_until(lambda: ed.ready, app.root)
    ed.event_generate("<<AddTool>>")
    ed.update()
    dlg = ed.dialog
    dlg.name_var.set("emoji_tool")
    dlg.params.set('{"type": "object",\n "description": "😀🎉 ok" x}')  # the error is at the x
    assert dlg.save() is False
    t = dlg.params.text
    assert t.get("error.first", "error.last") == "x"
    assert str(t.tag_ranges("error_line")[0]) == "2.0"
    dlg.destroy()


def test_search_highlights_land_on_the_words_after_emoji(make_app, db_path: Path) -> None:
    from lima_tk.ui.find_replace import search_text

    app = make_app()
    t = tk.Text(app.root)
    t.insert("1.0", "🎉😀 find me 😀 find")
    found = search_text(t, "find", case=False)
    assert [t.get(a, b) for a, b in found] == ["find", "find"]
    t.destroy()


def test_case_insensitive_search_over_emoji_on_many_lines(make_app, db_path: Path) -> None:
    """Tk 8.6's own `search -nocase` crashes the process on emoji: this must not."""
    from lima_tk.ui.find_replace import search_text

    app = make_app()
    t = tk.Text(app.root)
    t.insert("1.0", "🎉 Find\nno\n😀😀 x FIND y 😀 find\n")
    found = search_text(t, "find", case=False)
    assert [t.get(a, b) for a, b in found] == ["Find", "FIND", "find"]
    assert [a for a, _b in found][0].startswith("1.") and found[1][0].startswith("3.")
    assert [t.get(a, b) for a, b in search_text(t, "FIND", case=True)] == ["FIND"]
    t.destroy()


# -- Windows, injected: scaling from the monitor's DPI; the icon ---------------------------------


def test_windows_scaling_follows_the_monitor_dpi(make_app, db_path: Path, monkeypatch) -> None:
    from lima_tk.ui import windows
    from tests.test_platform import fake_windll

    log: list = []
    fake = fake_windll(log, user32={"GetDpiForWindow": {"result": 144}})  # 150 %
    monkeypatch.setattr(windows, "_windll", lambda: fake)
    with platform.use(Platform("win32", 9)):
        app = make_app()
    assert float(app.root.tk.call("tk", "scaling")) == pytest.approx(2.0, abs=0.01)  # 144 / 72 pixels a point
    assert [name for name, _args in log][:2] == ["SetCurrentProcessExplicitAppUserModelID",
                                                 "SetProcessDpiAwarenessContext"]
    assert "GetDpiForWindow" in [name for name, _args in log]
    # The user's own scale (Settings) wins over the monitor's.
    log.clear()
    with platform.use(Platform("win32", 9)):
        app2 = make_app(user_settings={"ui_scale": 1.25})
    assert float(app2.root.tk.call("tk", "scaling")) == pytest.approx(1.25, abs=0.01)
    assert "GetDpiForWindow" not in [name for name, _args in log]


def test_every_window_gets_the_icon(make_app, db_path: Path) -> None:
    from lima_tk.ui import app_icon

    app = make_app()
    big, small = app_icon._kept[app.root]
    assert (big.width(), big.height(), small.width()) == (64, 64, 32)
    assert big.transparency_get(0, 0) and not big.transparency_get(32, 5)  # rounded corners
