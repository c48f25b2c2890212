"""Numbers in the chat list are never cut (issue 13: "~201,23" was shown for 201,231, a wrong
number, because a ttk.Treeview cuts a cell's text without an ellipsis). After each render the
numeric columns grow to their widest visible cell and heading at the current font size, and the
stretching Name column gives the room back. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import font as tkfont
from tkinter import ttk

CELL_MARGIN = 14  # the cell's padding on both sides, plus air
HEADING_MARGIN = 16  # a heading's padding (a sort arrow is part of its text)


def needed_width(tree: ttk.Treeview, column: str, texts: Sequence[str]) -> int:
    """Pixels the column needs to show `texts` and its heading whole."""
    body = tkfont.nametofont("TkDefaultFont", root=tree)
    head = tkfont.nametofont("TkHeadingFont", root=tree)
    cells = max((body.measure(t) for t in texts if t), default=0) + CELL_MARGIN
    return max(cells, head.measure(str(tree.heading(column, "text"))) + HEADING_MARGIN)


def fit_columns(tree: ttk.Treeview, columns: Sequence[str], rows: Sequence[Sequence[str]],
                give: Sequence[tuple[str, int]]) -> None:
    """Widen `columns` (ids) to fit the visible `rows` (value tuples in the tree's column order);
    when the columns are then wider than the list, the text columns of `give` ((id, least
    width), in order) give the room back. Columns only grow, so the list does not jitter while
    scrolling."""
    order = list(tree.cget("columns"))
    grown = 0
    for cid in columns:
        i = order.index(cid)
        need = needed_width(tree, cid, [str(r[i]) for r in rows if len(r) > i])
        have = int(tree.column(cid, "width"))
        if need > have:
            tree.column(cid, width=need, minwidth=need)
            grown += need - have
    try:
        total = sum(int(tree.column(c, "width")) for c in order)
        room = tree.winfo_width()
    except tk.TclError:
        return
    excess = total - room if room > 1 else grown  # not laid out yet: give back what grew
    for cid, least in give:
        if excess <= 0:
            break
        width = int(tree.column(cid, "width"))
        new = max(min(least, width), width - excess)
        tree.column(cid, width=new)
        excess -= width - new
