"""Platform differences in one place: the windowing system (aqua = macOS, win32, x11) and the Tk
major version (8.6 or 9) decide the shortcut modifier, menu accelerator labels, which events a
mouse wheel, a touchpad and a right click send, the clam scrollbar's grip option and how text
indices count characters (docs/platforms.md).

Everything is a method of `Platform(ws, tk_major)`, a plain value: tests build one for any
platform (or `use()` one for a whole app) and assert what it produces on this Linux machine.
`current(widget)` is the running one. Tk thread only (it may ask the interpreter).
"""

from __future__ import annotations

import contextlib
import re
import tkinter as tk
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

WINDOWING_SYSTEMS = ("aqua", "win32", "x11")

# aqua: Command replaces Control in every shortcut and Option is the Alt key. Control+Tab and
# Control+Space stay (Command+Tab switches apps, Command+Space is Spotlight).
_MAC_MODIFIERS = {"Control": "Command", "Alt": "Option"}
_MAC_KEEP_CONTROL = ("Tab", "ISO_Left_Tab", "space")
# A menu accelerator on aqua is parsed by Tk ("Command-Shift-Z" shows as the native glyphs).
_MAC_ACCEL_WORDS = {"Ctrl": "Command", "Alt": "Option", "Enter": "Return"}


@dataclass(frozen=True)
class Platform:
    ws: str = "x11"  # tk windowingsystem: "aqua", "win32" or "x11"
    tk_major: int = 8  # 8 (Tk 8.6) or 9

    def __post_init__(self) -> None:
        if self.ws not in WINDOWING_SYSTEMS:
            raise ValueError(f"unknown windowing system {self.ws!r}")

    @property
    def aqua(self) -> bool:
        return self.ws == "aqua"

    @property
    def tk9(self) -> bool:
        return self.tk_major >= 9

    # -- keys and labels ---------------------------------------------------------------------

    @property
    def modifier(self) -> str:
        """The shortcut modifier as Tk names it in a key sequence."""
        return "Command" if self.aqua else "Control"

    def key_sequence(self, seq: str) -> str:
        """A table key sequence (written with Control/Alt) as this platform binds it."""
        if not self.aqua or not (seq.startswith("<") and seq.endswith(">")) or seq.startswith("<<"):
            return seq
        parts = seq[1:-1].split("-")
        key = parts[-1]
        mods = [m if (m == "Control" and key in _MAC_KEEP_CONTROL) else _MAC_MODIFIERS.get(m, m) for m in parts[:-1]]
        return "<" + "-".join([*mods, key]) + ">"

    def key_sequences(self, keys: Iterable[str]) -> tuple[str, ...]:
        """Every sequence of one action's binding, once each, in table order."""
        out: list[str] = []
        for seq in keys:
            s = self.key_sequence(seq)
            if s not in out:
                out.append(s)
        return tuple(out)

    def shortcut_label(self, accel: str) -> str:
        """A shortcut as people read it (Help > Keyboard shortcuts): Cmd+S on macOS, Ctrl+S elsewhere."""
        if not self.aqua:
            return accel
        def one(m: re.Match[str]) -> str:  # Ctrl+Tab, Ctrl+Shift+Tab, Ctrl+Space keep Control (as bound)
            keys = m.group(0)
            if keys.rsplit("+", 1)[-1] not in ("Tab", "Space"):
                keys = keys.replace("Ctrl+", "Cmd+")
            return keys.replace("Alt+", "Option+")

        return re.sub(r"\b(?:(?:Ctrl|Alt|Shift)\+)+(?:\w+|[^\s\w])", one, accel)

    def menu_accelerator(self, accel: str) -> str:
        """The accelerator text of a menu item. aqua: the first alternative in Tk's Mac form
        ("Command-Shift-Z"), which its native menu shows as glyphs; elsewhere the label as is."""
        if not self.aqua or not accel:
            return accel
        first = accel.split(" / ")[0].strip()
        if " " in first:  # "double-click" and other words are not keys
            return ""
        return "-".join(_MAC_ACCEL_WORDS.get(p, p) for p in first.split("+"))

    # -- the mouse ---------------------------------------------------------------------------

    def wheel_sequences(self) -> tuple[str, ...]:
        """The events a wheel notch sends. Tk 8.6 on X11: buttons 4/5. Tk 9 on X11 sends
        <MouseWheel> and buttons 4/5 are the Back/Forward side buttons: never bound."""
        if self.ws == "x11" and not self.tk9:
            return ("<MouseWheel>", "<Button-4>", "<Button-5>")
        return ("<MouseWheel>",)

    def shift_wheel_sequences(self) -> tuple[str, ...]:
        """Shift + wheel (sideways on most systems)."""
        if self.ws == "x11" and not self.tk9:
            return ("<Shift-MouseWheel>", "<Shift-Button-4>", "<Shift-Button-5>")
        return ("<Shift-MouseWheel>",)

    def touchpad_sequences(self) -> tuple[str, ...]:
        """Tk 9 sends <TouchpadScroll> for two-finger scrolling (macOS, Windows); 8.6 has no such event."""
        return ("<TouchpadScroll>",) if self.tk9 else ()

    def wheel_notches(self, num: int, delta: float) -> float:
        """Notches scrolled (positive = down, content moves up) by a wheel event.

        X11 + Tk 8.6: button 4 up, 5 down. Tk 9 (all systems) and Windows: `delta` is 120 a notch
        (high-resolution wheels send fractions of it). macOS + Tk 8.6: small deltas, 3 a notch."""
        if num in (4, 5):
            if self.ws == "x11" and not self.tk9:
                return -1.0 if num == 4 else 1.0
            return 0.0  # a side button (Tk 9 X11) is not a wheel
        d = float(delta or 0)
        if self.aqua and not self.tk9:
            return -d / 3
        return -d / 120

    def context_menu_sequences(self) -> tuple[str, ...]:
        """Right click. macOS: Control+click too; the right button is Button-2 on Tk 8.6 (aqua)
        and Button-3 on Tk 9, as everywhere else."""
        if self.aqua:
            return ("<Button-2>" if not self.tk9 else "<Button-3>", "<Control-Button-1>")
        return ("<Button-3>",)

    @property
    def toggle_click(self) -> str:
        """Add or remove one item from a selection: Command+click on macOS, Ctrl+click elsewhere."""
        return "<Command-Button-1>" if self.aqua else "<Control-Button-1>"

    # -- look --------------------------------------------------------------------------------

    def scrollbar_no_grip(self) -> dict[str, int]:
        """The clam scrollbar thumb without grip lines: Tk 9 renamed `gripcount` to `gripsize`."""
        return {"gripsize": 0} if self.tk9 else {"gripcount": 0}

    # -- text indices ------------------------------------------------------------------------

    def tk_chars(self, text: str) -> int:
        """How many characters Tk's Text counts in `text`: code points on Tk 9; on 8.6 a
        character outside the BMP (an emoji) is two (a UTF-16 surrogate pair)."""
        if self.tk9:
            return len(text)
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)

    def text_index(self, text: str, offset: int, line: int = 1) -> str:
        """The Tk index of Python offset `offset` in `text` placed at the start of `line`."""
        head = text[:offset]
        nl = head.count("\n")
        col = self.tk_chars(head[head.rfind("\n") + 1:])
        return f"{line + nl}.{col}"


_override: Platform | None = None


def current(widget: tk.Misc) -> Platform:
    """The platform in use: an injected one (tests), else that of `widget`'s interpreter."""
    if _override is not None:
        return _override
    ws = str(widget.tk.call("tk", "windowingsystem"))
    major = int(str(widget.tk.call("package", "present", "Tk")).split(".")[0])
    return Platform(ws if ws in WINDOWING_SYSTEMS else "x11", major)


def set_override(plat: Platform | None) -> None:
    """Inject a platform (tests) or go back to the real one (None)."""
    global _override
    _override = plat


@contextlib.contextmanager
def use(plat: Platform) -> Iterator[Platform]:
    """`with use(Platform("aqua", 9)):` everything built inside sees that platform."""
    before = _override
    set_override(plat)
    try:
        yield plat
    finally:
        set_override(before)
