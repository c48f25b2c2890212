"""The platform layer (lima_tk/ui/platform.py) for every windowing system and Tk version, injected
on this Linux machine: key sequences, menu and help labels, wheel/touchpad/right-click events,
scroll amounts, the scrollbar grip option and text indices. No display needed."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from lima_tk.ui.actions import ACTIONS, EDITOR_ACTIONS, LIST_KEYS, REDO_KEYS, UNDO_KEYS, by_event
from lima_tk.ui.mac import APP_MENU_EVENTS, app_menu_events
from lima_tk.ui.platform import Platform

ALL = [Platform(ws, tk) for ws, tk in itertools.product(("aqua", "win32", "x11"), (8, 9))]
MAC8, MAC9, WIN8, WIN9, X8, X9 = (Platform("aqua", 8), Platform("aqua", 9), Platform("win32", 8),
                                  Platform("win32", 9), Platform("x11", 8), Platform("x11", 9))


def editor(event: str):
    return next(a for a in EDITOR_ACTIONS if a.event == event)


def test_unknown_windowing_system_is_refused() -> None:
    with pytest.raises(ValueError):
        Platform("wayland", 9)


# -- keys -------------------------------------------------------------------------------------

# The Mac shortcuts the issue lists: action -> the sequences bound on aqua.
MAC_KEYS = {
    "<<Save>>": "<Command-s>",
    "<<Undo>>": "<Command-z>",
    "<<Redo>>": "<Command-Shift-Z>",
    "<<NewChat>>": "<Command-n>",
    "<<OpenDataset>>": "<Command-o>",
    "<<Find>>": "<Command-f>",
    "<<Quit>>": "<Command-q>",
    "<<Settings>>": "<Command-comma>",
}


@pytest.mark.parametrize("tk", [8, 9])
def test_mac_binds_command_keys(tk: int) -> None:
    mac = Platform("aqua", tk)
    for event, seq in MAC_KEYS.items():
        assert seq in mac.key_sequences(by_event(event).keys), event
    assert "<Command-w>" in mac.key_sequences(editor("<<CloseEditor>>").keys)
    assert mac.key_sequences(UNDO_KEYS) == ("<Command-z>",)
    assert "<Command-Z>" in mac.key_sequences(REDO_KEYS)
    assert mac.key_sequence("<Alt-Up>") == "<Option-Up>"
    assert mac.key_sequence("<Alt-Shift-Down>") == "<Option-Shift-Down>"
    # Command+Tab switches apps and Command+Space is Spotlight: those stay on Control.
    assert mac.key_sequence("<Control-Tab>") == "<Control-Tab>"
    assert mac.key_sequence("<Control-space>") == "<Control-space>"
    assert mac.key_sequence("<<Save>>") == "<<Save>>" and mac.key_sequence("<F1>") == "<F1>"


@pytest.mark.parametrize("plat", ALL, ids=str)
def test_no_control_shortcut_is_left_on_a_mac_and_none_changes_elsewhere(plat: Platform) -> None:
    for a in (*ACTIONS, *EDITOR_ACTIONS):
        seqs = plat.key_sequences(a.keys)
        if plat.aqua:
            assert not [s for s in seqs if "Control-" in s or "Alt-" in s], a.event
            assert len(seqs) == len(set(a.keys)), a.event  # one sequence for each of the table's
        else:
            assert seqs == tuple(dict.fromkeys(a.keys)), a.event


def test_menu_accelerators() -> None:
    for plat in (MAC8, MAC9):
        assert plat.menu_accelerator("Ctrl+S") == "Command-S"
        assert plat.menu_accelerator("Ctrl+Shift+Z / Ctrl+Y") == "Command-Shift-Z"
        assert plat.menu_accelerator("Ctrl+,") == "Command-,"
        assert plat.menu_accelerator("Alt+Shift+Up") == "Option-Shift-Up"
        assert plat.menu_accelerator("Ctrl+Enter") == "Command-Return"
        assert plat.menu_accelerator("F2") == "F2"
        assert plat.menu_accelerator("Enter / double-click") == "Return"
        assert plat.menu_accelerator("") == ""
    for plat in (WIN8, WIN9, X8, X9):
        for a in ACTIONS:
            assert plat.menu_accelerator(a.accel) == a.accel


def test_shortcut_labels_for_people() -> None:
    assert MAC9.shortcut_label("Ctrl+Shift+Z / Ctrl+Y") == "Cmd+Shift+Z / Cmd+Y"
    assert MAC8.shortcut_label("Alt+Up") == "Option+Up"
    assert MAC8.shortcut_label("Ctrl+click, Ctrl+Space") == "Cmd+click, Ctrl+Space"
    assert WIN9.shortcut_label("Ctrl+S") == "Ctrl+S" and X8.shortcut_label("Alt+Up") == "Alt+Up"
    for _label, keys in LIST_KEYS:
        assert "Ctrl+click" not in MAC8.shortcut_label(keys)


def test_the_mac_application_menu_takes_about_settings_and_quit() -> None:
    assert app_menu_events(MAC8) == app_menu_events(MAC9) == APP_MENU_EVENTS
    assert app_menu_events(WIN9) == app_menu_events(X8) == ()
    for event in APP_MENU_EVENTS:
        by_event(event)  # they are actions of the main window


# -- the mouse --------------------------------------------------------------------------------


def test_wheel_sequences() -> None:
    assert X8.wheel_sequences() == ("<MouseWheel>", "<Button-4>", "<Button-5>")
    for plat in (X9, WIN8, WIN9, MAC8, MAC9):  # buttons 4/5 are side buttons on Tk 9 X11: never bound
        assert plat.wheel_sequences() == ("<MouseWheel>",)
        assert "<Shift-Button-4>" not in plat.shift_wheel_sequences()
    assert X8.touchpad_sequences() == WIN8.touchpad_sequences() == MAC8.touchpad_sequences() == ()
    assert X9.touchpad_sequences() == WIN9.touchpad_sequences() == MAC9.touchpad_sequences() == ("<TouchpadScroll>",)


def test_wheel_notches_per_platform() -> None:
    # X11, Tk 8.6: buttons 4 (up) and 5 (down)
    assert X8.wheel_notches(4, 0) == -1 and X8.wheel_notches(5, 0) == 1
    # Tk 9 on X11: the same buttons are Back/Forward and scroll nothing; a notch is delta 120
    assert X9.wheel_notches(4, 0) == 0 and X9.wheel_notches(5, 0) == 0
    assert X9.wheel_notches(0, 120) == -1 and X9.wheel_notches(0, -240) == 2
    # Windows: 120 a notch, high-resolution wheels send fractions
    assert WIN8.wheel_notches(0, 120) == -1 and WIN9.wheel_notches(0, -40) == pytest.approx(1 / 3)
    # macOS: Tk 8.6 sends small deltas (3 ~ a notch), Tk 9 multiples of 120 as everywhere
    assert MAC8.wheel_notches(0, 3) == -1 and MAC8.wheel_notches(0, -1) == pytest.approx(1 / 3)
    assert MAC9.wheel_notches(0, 120) == -1


def test_right_click() -> None:
    assert X8.context_menu_sequences() == X9.context_menu_sequences() == ("<Button-3>",)
    assert WIN8.context_menu_sequences() == WIN9.context_menu_sequences() == ("<Button-3>",)
    # aqua: the right button is Button-2 on Tk 8.6 and Button-3 on Tk 9; Control+click too
    assert MAC8.context_menu_sequences() == ("<Button-2>", "<Control-Button-1>")
    assert MAC9.context_menu_sequences() == ("<Button-3>", "<Control-Button-1>")
    assert MAC8.toggle_click == "<Command-Button-1>" and X9.toggle_click == "<Control-Button-1>"


# -- look and text ----------------------------------------------------------------------------


def test_scrollbar_grip_option() -> None:
    for ws in ("aqua", "win32", "x11"):
        assert Platform(ws, 8).scrollbar_no_grip() == {"gripcount": 0}
        assert Platform(ws, 9).scrollbar_no_grip() == {"gripsize": 0}


def test_text_indices_count_like_tk() -> None:
    s = "a😀b\nx🎉y z"
    assert X8.tk_chars("a😀b") == 4 and X9.tk_chars("a😀b") == 3  # a surrogate pair on 8.6
    assert X8.text_index(s, s.index("z")) == "2.5"
    assert X9.text_index(s, s.index("z")) == "2.4"
    assert X8.text_index(s, 2) == "1.3" and X9.text_index(s, 2) == "1.2"
    assert WIN9.text_index("plain", 3, line=4) == "4.3"


# -- Windows: DPI awareness and scaling, with a recorded windll -----------------------------------


class _Fn:
    def __init__(self, log: list, name: str, result=1, missing: bool = False) -> None:
        self.log, self.name, self.result, self.missing = log, name, result, missing

    def __call__(self, *args):
        if self.missing:
            raise AttributeError(self.name)  # an older Windows without this function
        self.log.append((self.name, args))
        return self.result


class _Dll:
    def __init__(self, log: list, **fns) -> None:
        self.log, self.fns = log, fns

    def __getattr__(self, name: str):
        spec = self.fns.get(name, {})
        return _Fn(self.log, name, **spec)


def fake_windll(log: list, **over) -> object:
    class W:
        user32 = _Dll(log, **over.get("user32", {}))
        shcore = _Dll(log, **over.get("shcore", {}))
        shell32 = _Dll(log)

    return W()


def test_windows_process_is_made_per_monitor_dpi_aware_first() -> None:
    from lima_tk.ui import windows

    log: list = []
    assert windows.prepare_process(fake_windll(log)) == "per-monitor-v2"
    assert log[0] == ("SetCurrentProcessExplicitAppUserModelID", (windows.APP_ID,))
    assert log[1] == ("SetProcessDpiAwarenessContext", (-4,))
    # Windows 8.1: no awareness contexts, shcore's per-monitor awareness (S_OK = 0)
    log.clear()
    w = fake_windll(log, user32={"SetProcessDpiAwarenessContext": {"missing": True}},
                    shcore={"SetProcessDpiAwareness": {"result": 0}})
    assert windows.prepare_process(w) == "per-monitor"
    assert ("SetProcessDpiAwareness", (2,)) in log
    # Windows 7: system awareness only
    log.clear()
    w = fake_windll(log, user32={"SetProcessDpiAwarenessContext": {"missing": True}},
                    shcore={"SetProcessDpiAwareness": {"missing": True}})
    assert windows.prepare_process(w) == "system"
    assert log[-1] == ("SetProcessDPIAware", ())
    # Not Windows: nothing is called
    assert windows.prepare_process(None) == "none"


# -- no binding depends on one Tk's event numbering; no Tcl command Tcl 9 removed ----------------

LIMA = Path(__file__).resolve().parents[1] / "lima_tk"


def _sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(LIMA.parent)), p.read_text(encoding="utf-8")) for p in sorted(LIMA.rglob("*.py"))]


def test_mouse_button_and_wheel_events_are_named_in_the_platform_layer_only() -> None:
    pattern = re.compile(r"<(?:[A-Za-z]+-)*(?:Button-[2345]|MouseWheel|TouchpadScroll)>")
    found = [(name, m.group(0)) for name, text in _sources() if not name.endswith("ui/platform.py")
             for m in pattern.finditer(text)]
    assert found == []


def test_no_tcl_command_that_tcl_9_removed() -> None:
    # tkinter's trace_variable/trace_vdelete/trace_vinfo call `trace variable`/`trace vdelete`
    # (gone in Tcl 9); `case` is gone too. trace_add/trace_remove are the ones that work on both.
    pattern = re.compile(r"\.trace_variable\(|\.trace_vdelete\(|\.trace_vinfo\(|\.trace\(|"
                         r"['\"]trace['\"],\s*['\"]variable|\bcall\(\s*['\"]case['\"]")
    assert [(name, m.group(0)) for name, text in _sources() for m in pattern.finditer(text)] == []
