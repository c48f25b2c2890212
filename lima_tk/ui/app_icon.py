"""lima-tk's icon, drawn in code (no image file to ship): two chat bubbles on a rounded square
in the theme's accent colour. `set_icon(root)` makes it the icon of every window, of the
taskbar button (Windows, X11) and of the Dock (macOS). Tk thread only."""

from __future__ import annotations

import base64
import functools
import struct
import tkinter as tk
import weakref
import zlib

from lima_tk.ui.theme import PALETTE

SIZE = 64
_kept: weakref.WeakKeyDictionary[tk.Misc, tuple[tk.PhotoImage, tk.PhotoImage]] = weakref.WeakKeyDictionary()


def _inside_rounded(x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float) -> bool:
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _pixel(x: float, y: float) -> str | None:
    """The colour at (x, y) of a SIZE x SIZE icon (None: transparent)."""
    s = SIZE
    if not _inside_rounded(x, y, 0, 0, s - 1, s - 1, s * 0.22):
        return None
    # A white bubble (the user) and a light blue one (the assistant), overlapping.
    if _inside_rounded(x, y, s * 0.14, s * 0.16, s * 0.70, s * 0.52, s * 0.10) or (
            s * 0.20 <= x <= s * 0.30 and s * 0.50 <= y <= s * 0.62 and x - s * 0.20 <= (s * 0.62 - y)):
        return "#ffffff"
    if _inside_rounded(x, y, s * 0.32, s * 0.48, s * 0.86, s * 0.82, s * 0.10) or (
            s * 0.70 <= x <= s * 0.80 and s * 0.80 <= y <= s * 0.90 and s * 0.80 - x <= (s * 0.90 - y)):
        return "#bcd0f7"
    return PALETTE["accent"]


@functools.lru_cache(maxsize=4)
def icon_png(size: int = SIZE) -> bytes:
    """The icon as PNG bytes (RGBA: the rounded corners see through)."""
    raw = bytearray()
    for y in range(size):
        raw.append(0)  # filter: none
        for x in range(size):
            c = _pixel((x + 0.5) * SIZE / size, (y + 0.5) * SIZE / size)
            raw += bytes.fromhex(c[1:]) + b"\xff" if c else b"\0\0\0\0"

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + \
        chunk(b"IEND", b"")


def make_icon(master: tk.Misc, size: int = SIZE) -> tk.PhotoImage:
    return tk.PhotoImage(master=master, data=base64.b64encode(icon_png(size)).decode("ascii"), format="png")


def set_icon(root: tk.Tk) -> tk.PhotoImage | None:
    """Give every window of `root` the icon (kept on the root: Tk needs the image alive)."""
    try:
        big = make_icon(root)
        small = big.subsample(2, 2)
        root.iconphoto(True, big, small)
    except tk.TclError:  # a Tk without photo images or window icons: the default one stays
        return None
    _kept[root] = (big, small)
    return big
