"""Mouse wheel and touchpad scrolling for every scrollable area (the chat list, the chat editor's
cards, the stats board, the tags dialog). Which events to bind and what they mean per platform
lives in lima_tk/ui/platform.py: Tk 8.6 on X11 sends buttons 4/5; Windows, macOS and
Tk 9 (X11 too) send MouseWheel events (120 a notch; macOS on 8.6 small values); on Tk 9 X11 buttons
4/5 are the Back/Forward side buttons and scroll nothing; Tk 9 adds TouchpadScroll events whose %D
packs (dx, dy) as two signed 16-bit numbers. Tk thread only.

Treeviews, Listboxes and Text widgets scroll by Tk's own class bindings (touchpad included on
Tk 9); a Canvas has none, so every scrolling Canvas goes through `bind_canvas_scrolling`.
"""

from __future__ import annotations

import itertools
import tkinter as tk
from collections.abc import Callable
from typing import Any

from lima_tk.ui import platform

WHEEL_PX = 60  # one wheel notch in the chat editor
CANVAS_UNITS = 3  # canvas scroll units (a tenth of its height each) per notch
_tags = itertools.count(1)


def wheel_notches(event: tk.Event) -> float:
    """Notches scrolled by a wheel event (positive = down); 0 for a side button."""
    plat = platform.current(event.widget)
    num, delta = getattr(event, "num", 0), getattr(event, "delta", 0)  # "??" when not in the event
    return plat.wheel_notches(num if isinstance(num, int) else 0, delta if isinstance(delta, (int, float)) else 0)


def _whole(amount: float) -> int:
    """At least one unit for any movement (a fine wheel or macOS's small deltas)."""
    if amount == 0:
        return 0
    n = round(amount)
    return n if n else (1 if amount > 0 else -1)


def wheel_pixels(event: tk.Event, notch: int = WHEEL_PX) -> int:
    """Pixels to scroll (positive = down): a notch is `notch` px; finer deltas finer."""
    return _whole(wheel_notches(event) * notch)


def wheel_rows(event: tk.Event, per_notch: int = 3) -> int:
    """Rows to scroll (positive = down): `per_notch` rows a notch, at least one for any movement."""
    return _whole(wheel_notches(event) * per_notch)


def wheel_direction(event: tk.Event) -> int:
    """-1 (up), 1 (down) or 0 (not a wheel movement)."""
    n = wheel_notches(event)
    return 0 if n == 0 else (-1 if n < 0 else 1)


def touchpad_deltas(event: tk.Event) -> tuple[int, int]:
    """(dx, dy) of a Tk 9 TouchpadScroll event (positive dy = content moves down)."""
    d = int(event.delta)

    def signed(v: int) -> int:
        v &= 0xFFFF
        return v - 0x10000 if v >= 0x8000 else v

    return signed(d >> 16), signed(d)


def bind_wheel(widget: tk.Misc, on_wheel: Callable[[tk.Event], Any], *, tag: str | None = None,
               on_touchpad: Callable[[tk.Event], Any] | None = None) -> None:
    """Bind the wheel (and, on Tk 9, the touchpad) of `widget`, or of the bind tag `tag`
    (bound on the interpreter, once for all widgets carrying it)."""
    plat = platform.current(widget)

    def bind(seq: str, fn: Callable[[tk.Event], Any]) -> None:
        if tag is None:
            widget.bind(seq, fn)
        else:
            widget.bind_class(tag, seq, fn)

    for seq in plat.wheel_sequences():
        bind(seq, on_wheel)
    if on_touchpad is not None:
        for seq in plat.touchpad_sequences():
            try:
                bind(seq, on_touchpad)
            except tk.TclError:  # an injected Tk 9 on a real 8.6
                pass


def scroll_canvas_pixels(canvas: tk.Canvas, dy: int) -> None:
    """Move a canvas view by `dy` pixels (positive = down) within its scroll region."""
    region = str(canvas.cget("scrollregion")).split()
    if len(region) != 4:
        return
    height = float(region[3]) - float(region[1])
    if height <= 0:
        return
    top = canvas.yview()[0]
    canvas.yview_moveto(max(0.0, top + dy / height))


def bind_canvas_scrolling(canvas: tk.Canvas, tag: str | None = None, units: int = CANVAS_UNITS) -> str:
    """Wheel and touchpad scrolling for a Canvas and everything carrying the bind tag `tag`
    (default: one made for this canvas); add the tag to a child with `add_scroll_tag`."""
    own = tag is None
    tag = tag or f"LimaScroll{next(_tags)}"

    def on_wheel(event: tk.Event) -> str:
        n = wheel_notches(event)
        if n:
            canvas.yview_scroll(_whole(n * units), "units")
        return "break"

    def on_touchpad(event: tk.Event) -> str:
        _dx, dy = touchpad_deltas(event)
        if dy:
            scroll_canvas_pixels(canvas, -dy)
        return "break"

    bind_wheel(canvas, on_wheel, tag=tag, on_touchpad=on_touchpad)
    add_scroll_tag(canvas, tag)
    if own:  # the class bindings hold the canvas: drop them with it
        canvas.bind("<Destroy>", lambda e: _unbind_tag(canvas, tag), add="+")
    return tag


def _unbind_tag(widget: tk.Misc, tag: str) -> None:
    for seq in widget.bind_class(tag):
        widget.unbind_class(tag, seq)


def add_scroll_tag(widget: tk.Misc, tag: str) -> None:
    """Let `widget` scroll the canvas of `tag` (first, so its own class does not take the wheel)."""
    tags = widget.bindtags()
    if tag not in tags:
        widget.bindtags((tag, *tags))
