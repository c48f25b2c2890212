"""Help > Keyboard shortcuts (F1), built from the same table that binds them, and Help > About.
Tk thread only."""

from __future__ import annotations

from tkinter import messagebox, ttk
from typing import TYPE_CHECKING

from lima_tk.ui.actions import ACTIONS, LIST_KEYS, MENUS
from lima_tk.ui.dialogs import Dialog
from lima_tk.ui.platform import current

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import WindowHost


class ShortcutsDialog(Dialog):
    """Every shortcut, from the same table that binds them."""

    def __init__(self, app: WindowHost) -> None:
        super().__init__(app.root, "Keyboard shortcuts", resizable=True)
        tree = ttk.Treeview(self.body, columns=("action", "keys"), show="headings", height=16, selectmode="none")
        tree.heading("action", text="Action", anchor="w")
        tree.heading("keys", text="Shortcut", anchor="w")
        tree.column("action", width=300, anchor="w")
        tree.column("keys", width=260, anchor="w")
        sb = ttk.Scrollbar(self.body, command=tree.yview)
        tree.configure(yscrollcommand=sb.set)
        tree.pack(side="left", fill="both", expand=True)
        sb.pack(side="right", fill="y")
        self.rows: list[tuple[str, str]] = []
        keys_of = current(app.root).shortcut_label  # Cmd+S on a Mac
        for menu in MENUS:
            items = [a for a in ACTIONS if a.menu == menu and a.accel]
            if not items:
                continue
            tree.insert("", "end", values=(menu.upper(), ""), tags=("group",))
            for a in items:
                label = a.label.rstrip("…")
                tree.insert("", "end", values=(label, keys_of(a.accel)))
                self.rows.append((label, keys_of(a.accel)))
        tree.insert("", "end", values=("CHAT LIST", ""), tags=("group",))
        for label, keys in LIST_KEYS:
            tree.insert("", "end", values=(label, keys_of(keys)))
            self.rows.append((label, keys_of(keys)))
        tree.tag_configure("group", foreground="#667085", font="TkHeadingFont")
        self.tree = tree
        self.add_button("Close", self.cancel, default=True)
        self.show(tree)


def about(app: WindowHost) -> None:
    from lima_tk import __version__

    messagebox.showinfo(
        "About lima-tk",
        f"lima-tk {__version__}\n\nA small, fast tool to hand-craft multi-turn chat datasets for fine-tuning.\n"
        "Apache-2.0.",
        parent=app.root,
    )
