"""Mouse wheel and touchpad scrolling, one place for every platform (the chat list, the chat
editor's cards, the stats board, the tags dialog).

Tk 8.6 on X11 sends <Button-4>/<Button-5>; Windows, macOS and Tk 9 (X11 too) send <MouseWheel>
with `delta` = 120 per notch (Windows, X11) or small values (macOS); Tk 9 adds <TouchpadScroll>
whose %D packs (dx, dy) as two signed 16-bit numbers. `bind_wheel` binds all of them; the
functions below turn an event into the unit a widget scrolls by. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import Any

WHEEL_PX = 60  # one wheel notch in the chat editor
WHEEL_SEQUENCES = ("<MouseWheel>", "<Button-4>", "<Button-5>")


def wheel_pixels(event: tk.Event, notch: int = WHEEL_PX) -> int:
    """Pixels to scroll (positive = down): a notch is `notch` px; macOS's small deltas are finer."""
    if event.num == 4:
        return -notch
    if event.num == 5:
        return notch
    d = int(getattr(event, "delta", 0) or 0)
    if d == 0:
        return 0
    if abs(d) >= 120:
        return int(-d / 120 * notch)
    return -d * notch // 3


def wheel_rows(event: tk.Event, per_notch: int = 3) -> int:
    """Rows to scroll (positive = down): `per_notch` rows a notch; macOS's small deltas a row each."""
    if event.num == 4:
        return -per_notch
    if event.num == 5:
        return per_notch
    d = int(getattr(event, "delta", 0) or 0)
    if d == 0:
        return 0
    if abs(d) >= 120:  # Windows, X11 on Tk 9: multiples of 120 per notch
        return -round(d / 120 * per_notch) or (-1 if d > 0 else 1)
    return -d


def wheel_direction(event: tk.Event) -> int:
    """-1 (up) or 1 (down)."""
    return -1 if getattr(event, "num", 0) == 4 or (getattr(event, "delta", 0) or 0) > 0 else 1


def touchpad_deltas(event: tk.Event) -> tuple[int, int]:
    """(dx, dy) of a Tk 9 <TouchpadScroll> event (positive dy = content moves down)."""
    d = int(event.delta)

    def signed(v: int) -> int:
        v &= 0xFFFF
        return v - 0x10000 if v >= 0x8000 else v

    return signed(d >> 16), signed(d)


def bind_wheel(widget: tk.Misc, on_wheel: Callable[[tk.Event], Any], *, tag: str | None = None,
               on_touchpad: Callable[[tk.Event], Any] | None = None) -> None:
    """Bind the wheel (and, on Tk 9, the touchpad) of `widget`, or of the bind tag `tag`
    (bound on the interpreter, once for all widgets carrying it)."""

    def bind(seq: str, fn: Callable[[tk.Event], Any]) -> None:
        if tag is None:
            widget.bind(seq, fn)
        else:
            widget.bind_class(tag, seq, fn)

    for seq in WHEEL_SEQUENCES:
        bind(seq, on_wheel)
    if on_touchpad is not None and tk.TkVersion >= 9:
        try:
            bind("<TouchpadScroll>", on_touchpad)
        except tk.TclError:
            pass
