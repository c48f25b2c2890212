"""A Text that grows with its content, and a helper that measures text laid out at a given width.

Height = the number of display lines (`count -update -displaylines`) at the widget's width,
capped at `max_lines`; a capped Text shows its own scrollbar. Text longer than
`max_lines * CHARS_PER_LINE_BOUND` characters is capped without counting, so a 1 MB message
never lays out more than what is on screen. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

# No line of a Text is wider than this many characters: a longer text is surely over the cap.
CHARS_PER_LINE_BOUND = 400

# Options that decide line wrapping; the measurer and every AutoText share them.
TEXT_OPTIONS = {
    "wrap": "word",
    "font": "TkTextFont",
    "padx": 8,
    "pady": 4,
    "borderwidth": 0,
    "highlightthickness": 0,
    "relief": "flat",
}


class LineMeasurer:
    """One hidden Text, placed off-screen in `master`, that counts display lines for any width.

    Cards scrolled out of a Canvas are unmapped and never get their new width; their height is
    measured here instead.
    """

    def __init__(self, master: tk.Misc) -> None:
        self.text = tk.Text(master, width=1, height=1, undo=False, **TEXT_OPTIONS)
        self.width = 0

    def set_width(self, width: int) -> None:
        if width != self.width:
            self.width = width
            self.text.place(x=-width - 200, y=0, width=width, height=20)
            self.text.update_idletasks()

    def count(self, content: str, width: int) -> int:
        self.set_width(width)
        t = self.text
        t.delete("1.0", "end")
        t.insert("1.0", content)
        n = int(t.tk.call(str(t), "count", "-update", "-displaylines", "1.0", "end"))
        t.delete("1.0", "end")
        return n


class AutoText(tk.Text):
    """tk.Text (wrap=word, undo) whose height follows its content. Grid it at row 0, column 0
    of its own container: a capped text puts its scrollbar at column 1 of that container."""

    def __init__(self, master: tk.Misc, *, max_lines: int = 40, min_lines: int = 1, maxundo: int = 200,
                 **kw) -> None:
        opts = dict(TEXT_OPTIONS)
        opts.update(kw)
        super().__init__(master, width=1, height=min_lines, undo=True, maxundo=maxundo, autoseparators=True,
                         **opts)
        self.max_lines = max_lines
        self.min_lines = min_lines
        self.capped = False
        self._scrollbar: ttk.Scrollbar | None = None

    # -- measuring -------------------------------------------------------------------------

    def char_count(self) -> int:
        return int(self.tk.call(str(self), "count", "-chars", "1.0", "end")) - 1

    def display_lines(self, width: int | None = None, measurer: LineMeasurer | None = None) -> int | None:
        """Display lines at `width` (None: the widget's own width); None when not measurable yet."""
        if self.char_count() > self.max_lines * CHARS_PER_LINE_BOUND:
            return self.max_lines + 1
        own = self.winfo_width()
        if width is None or own == width:
            if own <= 1:
                return None
            return int(self.tk.call(str(self), "count", "-update", "-displaylines", "1.0", "end"))
        if measurer is None or width <= 1:
            return None
        return measurer.count(self.get("1.0", "end-1c"), width)

    def fit(self, width: int | None = None, measurer: LineMeasurer | None = None) -> bool:
        """Set the height from the content; returns True when the height changed."""
        lines = self.display_lines(width, measurer)
        if lines is None:
            return False
        capped = lines > self.max_lines
        if capped != self.capped:
            self.capped = capped
            self._show_scrollbar(capped)
        height = self.max_lines if capped else max(self.min_lines, lines)
        changed = height != int(self.cget("height"))
        if changed:
            self.configure(height=height)
        if not capped and self.yview()[0] > 0:
            # Typing a newline at the bottom scrolled the text before it grew: show all of it.
            self.yview_moveto(0)
        return changed

    def _show_scrollbar(self, show: bool) -> None:
        if show:
            if self._scrollbar is None:
                self._scrollbar = ttk.Scrollbar(self.master, orient="vertical", command=self.yview)
            self.configure(yscrollcommand=self._scrollbar.set)
            self._scrollbar.grid(row=0, column=1, sticky="ns")
        elif self._scrollbar is not None:
            self.configure(yscrollcommand="")
            self._scrollbar.grid_remove()

    @property
    def scrollbar(self) -> ttk.Scrollbar | None:
        return self._scrollbar
