"""Menus built from an action table (lima_tk/ui/actions.py): the main window's and each chat
editor's. Every item fires its action's virtual event, so a menu, a shortcut and a test all go
the same way (porcupine's menubar does the same). Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lima_tk.ui.actions import Action
from lima_tk.ui.platform import current


class MenuBar:
    """A menu bar of `names` (in order) with one item per action that names a menu.

    `fire(event)` runs when an item is chosen; `separate` holds the events that start a new group
    (a separator before them; `leading_separators`: also when it is the menu's first item).
    `special[event](menu)` adds an item in its place (a cascade); `omit` leaves events out (on a
    Mac the application menu has About, Settings and Quit). Accelerators are shown the platform's
    way (lima_tk/ui/platform.py: Command-S on a Mac).
    `index[event]` = (menu, item index) of every item, for labels and states."""

    def __init__(self, owner: tk.Misc, names: Sequence[str], actions: Iterable[Action], fire: Callable[[str], object],
                 *, separate: Iterable[str] = (), postcommand: Callable[[], object] | None = None,
                 special: dict[str, Callable[[tk.Menu], None]] | None = None,
                 menubar_options: dict[str, Any] | None = None, leading_separators: bool = False,
                 omit: Iterable[str] = ()) -> None:
        plat = current(owner)
        self.menubar = tk.Menu(owner, **(menubar_options or {}))
        self.menus: dict[str, tk.Menu] = {}
        self.index: dict[str, tuple[tk.Menu, int]] = {}
        for name in names:
            opts: dict[str, Any] = {"tearoff": False}
            if postcommand is not None:
                opts["postcommand"] = postcommand
            menu = tk.Menu(self.menubar, **opts)
            self.menubar.add_cascade(label=name, menu=menu, underline=0)
            self.menus[name] = menu
        separate = set(separate)
        special = special or {}
        omit = set(omit)
        for a in actions:
            if not a.menu or a.event in omit:
                continue
            menu = self.menus[a.menu]
            if a.event in separate and (leading_separators or menu.index("end") is not None):
                menu.add_separator()
            if a.event in special:
                special[a.event](menu)
            else:
                menu.add_command(label=a.label, accelerator=plat.menu_accelerator(a.accel),
                                 command=lambda ev=a.event: fire(ev))
            self.index[a.event] = (menu, menu.index("end"))
        owner.configure(menu=self.menubar)  # type: ignore[call-arg]

    def set_item(self, event: str, label: str | None = None, enabled: bool = True) -> None:
        if event not in self.index:  # omitted on this platform
            return
        menu, index = self.index[event]
        opts: dict[str, Any] = {"state": "normal" if enabled else "disabled"}
        if label is not None:
            opts["label"] = label
        menu.entryconfigure(index, **opts)

    def label(self, event: str) -> str:
        menu, index = self.index[event]
        return str(menu.entrycget(index, "label"))

    def popup(self, name: str, x: int, y: int) -> None:
        """Show one of the menus at the pointer (a context menu)."""
        menu = self.menus[name]
        try:
            menu.tk_popup(x, y)
        finally:
            menu.grab_release()
