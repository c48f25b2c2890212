"""The main window's status bar (a message on the left, the dataset's path on the right; the token
counting puts its progress and total between them) and the read-only notice over the toolbar.
Tk thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.ui import theme
from lima_tk.ui.dataset_files import READONLY_NOTICES, short_path
from lima_tk.ui.save_state import NOT_SAVED, SAVED, title_mark
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.store import DatasetStore


def window_title(path: Path, readonly: bool = False, mark: str = "") -> str:
    """"dataset.lima.db (read-only) - ~/.local/share/lima-tk - lima-tk": which file is open, and where
    (`mark`: the saving state's " (saving…)" / " (not saved)" after the name)."""
    ro = " (read-only)" if readonly else ""
    return f"{path.name}{ro}{mark} - {short_path(str(path.parent))} - lima-tk"


class StatusBar:
    """`frame` (packed by the window at the bottom) and `notice` (packed over `toolbar` while the
    dataset is read-only). Tk thread only."""

    def __init__(self, root: tk.Tk, toolbar: tk.Widget) -> None:
        self.root = root
        self.toolbar = toolbar
        self.text = ""
        self.notice = ttk.Frame(root, style="Notice.TFrame")
        self.notice_label = ttk.Label(self.notice, style="Notice.TLabel", text="")
        self.notice_label.pack(side="left", fill="x", expand=True)
        self.frame = ttk.Frame(root, style="Status.TFrame")
        self.label = ttk.Label(self.frame, text="", style="Status.TLabel", anchor="w")
        self.path_label = ttk.Label(self.frame, text="", style="StatusMuted.TLabel", anchor="e")
        self.path_label.pack(side="right")
        # Saved / Saving… / Not saved: the open editors' typing (the list's own changes are written at once).
        self.save_label = ttk.Label(self.frame, text="", style="StatusMuted.TLabel", anchor="e")
        self.save_label.pack(side="right")
        self.save_state = SAVED
        self.title_for: Callable[[str], str] = lambda mark: "lima-tk"  # the title, given the state's mark
        ttk.Style(root).configure("StatusError.TLabel", background=theme.PALETTE["status"],
                                  foreground=theme.PALETTE["danger"], padding=(2 * PAD, PAD))

    def keys_of(self, text: str) -> str:
        from lima_tk.ui.platform import current

        try:
            return current(self.root).shortcut_label(text)
        except tk.TclError:  # the window is going
            return text

    def pack_message(self) -> None:
        """Packed after the parts on the right: a long message is clipped rather than squeezing them."""
        self.label.pack(side="left", fill="x", expand=True)
        theme.wrap_to_width(self.label)

    def show(self, text: str, error: bool = False) -> None:
        """The message (`error`: in red, with a bell)."""
        text = self.keys_of(text)  # "Ctrl+Z to undo" says Cmd+Z on a Mac
        self.text = text
        try:
            self.label.configure(text=text, style="StatusError.TLabel" if error else "Status.TLabel")
        except tk.TclError:
            pass
        if error:
            try:
                self.root.bell()
            except tk.TclError:
                pass

    def show_save_state(self, state: str, force: bool = False) -> None:
        """The open editors' saving state, in the bar and the title (lima_tk/ui/save_state.py)."""
        if state == self.save_state and not force:
            return
        self.save_state = state
        try:
            self.save_label.configure(text=state, style="StatusError.TLabel" if state == NOT_SAVED
                                      else "StatusMuted.TLabel")
            self.root.title(self.title_for(title_mark(state)))
        except tk.TclError:
            pass

    def show_dataset(self, store: DatasetStore | None) -> None:
        """The window's title, the path and the read-only notice for the open dataset."""
        if store is None:
            self.title_for = lambda mark: "lima-tk"
            self.root.title("lima-tk")
            self.path_label.configure(text="")
            self.save_label.configure(text="")
            self.notice.pack_forget()
            return
        where, ro = store.path, store.readonly
        self.title_for = lambda mark: window_title(where, ro, mark)
        self.show_save_state(self.save_state, force=True)
        shown = short_path(str(store.path))
        self.path_label.configure(text=shown if len(shown) <= 48 else "…" + shown[-47:])
        if store.readonly:
            why = getattr(store, "readonly_reason", None) or "this file (or its folder) cannot be written"
            self.notice_label.configure(
                text=READONLY_NOTICES.get(why) or f"Read-only: {why}. You can browse, search and "
                     "export; to edit, use File > Save a copy as… and open the copy.")
            self.notice.pack(side="top", fill="x", before=self.toolbar)
        else:
            self.notice.pack_forget()
