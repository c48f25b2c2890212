"""Help > Keyboard shortcuts (F1 in either window), built from the same tables that bind them
(one tab per window: the main window's and the chat editor's). Help > About and the rest of the
Help menu: lima_tk/ui/help_links.py. Tk thread only."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from lima_tk.ui.actions import SHORTCUT_SECTIONS
from lima_tk.ui.dialogs import Dialog
from lima_tk.ui.platform import current


def shortcut_rows(section: str) -> list[tuple[str, str, str]]:
    """(group, action, keys) of one window's shortcuts: its menus in order, then its other keys."""
    for title, actions, menus, extra in SHORTCUT_SECTIONS:
        if title != section:
            continue
        rows = [(menu, a.label.rstrip("…"), a.accel) for menu in menus for a in actions
                if a.menu == menu and a.accel]
        rows += [("Other keys", label, keys) for label, keys in extra]
        return rows
    raise KeyError(section)


class ShortcutsDialog(Dialog):
    """Every shortcut of both windows, one tab each; `window` is the tab shown first."""

    def __init__(self, parent: tk.Misc, window: str = "Main window") -> None:
        super().__init__(parent, "Keyboard shortcuts", resizable=True)
        self.notebook = ttk.Notebook(self.body)
        self.notebook.pack(fill="both", expand=True)
        self.rows: list[tuple[str, str]] = []  # (action, keys) of every tab
        self.sections: dict[str, list[tuple[str, str, str]]] = {}
        self.trees: dict[str, ttk.Treeview] = {}
        keys_of = current(parent).shortcut_label  # Cmd+S on a Mac
        for title, *_ in SHORTCUT_SECTIONS:
            frame = ttk.Frame(self.notebook, padding=(0, 2))
            tree = ttk.Treeview(frame, columns=("action", "keys"), show="headings", height=18, selectmode="browse")
            tree.heading("action", text="Action", anchor="w")
            tree.heading("keys", text="Shortcut", anchor="w")
            tree.column("action", width=340, anchor="w")
            tree.column("keys", width=280, anchor="w")
            sb = ttk.Scrollbar(frame, command=tree.yview)
            tree.configure(yscrollcommand=sb.set)
            tree.pack(side="left", fill="both", expand=True)
            sb.pack(side="right", fill="y")
            rows = shortcut_rows(title)
            group = None
            for g, label, keys in rows:
                if g != group:
                    tree.insert("", "end", values=(g.upper(), ""), tags=("group",))
                    group = g
                tree.insert("", "end", values=(label, keys_of(keys)))
                self.rows.append((label, keys_of(keys)))
            tree.tag_configure("group", foreground="#667085", font="TkHeadingFont")
            self.sections[title] = rows
            self.trees[title] = tree
            self.notebook.add(frame, text=title, underline=0)
        self.notebook.enable_traversal()  # Ctrl+Tab between the windows' tabs
        self.tree = self.trees[window]
        self.notebook.select(self.tree.master)
        self.add_button("Close", self.cancel, default=True)
        self.show(self.tree)

