"""macOS (aqua) specifics: the application menu (About, Preferences, Quit), the Apple events Tk
turns into `::tk::mac::*` commands, and the text keys Mac users expect in the message editor.

Everything here is installed only when `platform.current()` is aqua; tests inject aqua on Linux
and call the same Tcl commands the Mac would (docs/platforms.md). Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import Any

from lima_tk.ui.platform import Platform

# These live in the application menu on a Mac, not in File / Help.
APP_MENU_EVENTS = ("<<About>>", "<<Settings>>", "<<Quit>>")

# Message editor keys (aqua): key -> the Text class's own virtual event, so the behaviour is Tk's
# on 8.6 and 9 (Tk binds most of these itself on a real Mac; this makes them hold against the
# editor's own key bindings, and testable by injection).
TEXT_KEYS: tuple[tuple[str, str], ...] = (
    ("<Command-Left>", "<<LineStart>>"),
    ("<Command-Right>", "<<LineEnd>>"),
    ("<Shift-Command-Left>", "<<SelectLineStart>>"),
    ("<Shift-Command-Right>", "<<SelectLineEnd>>"),
    ("<Option-Left>", "<<PrevWord>>"),
    ("<Option-Right>", "<<NextWord>>"),
    ("<Shift-Option-Left>", "<<SelectPrevWord>>"),
    ("<Shift-Option-Right>", "<<SelectNextWord>>"),
    ("<Command-a>", "<<SelectAll>>"),
)
# Cmd+Up / Cmd+Down: the start / end of the message.
TEXT_ENDS: tuple[tuple[str, str], ...] = (("<Command-Up>", "1.0"), ("<Command-Down>", "end-1c"))


def app_menu_events(plat: Platform) -> tuple[str, ...]:
    """Actions that leave the menu bar's own menus on this platform (the Mac's application menu has them)."""
    return APP_MENU_EVENTS if plat.aqua else ()


def install_app(root: tk.Tk, menubar: tk.Menu, plat: Platform, fire: Callable[[str], object],
                quit_app: Callable[[], object], open_document: Callable[[str], object]) -> None:
    """The application menu and the Apple events of a Mac app (nothing elsewhere).

    Quit (Cmd+Q, the Dock, logging out) runs `quit_app`, which settles unsaved text before the
    window goes; a dataset dropped on the app or double-clicked in Finder opens via `open_document`."""
    if not plat.aqua:
        return
    apple = tk.Menu(menubar, name="apple", tearoff=False)  # Tk makes .apple the application menu
    apple.add_command(label="About lima-tk", command=lambda: fire("<<About>>"))
    apple.add_separator()
    menubar.insert_cascade(0, label="lima-tk", menu=apple)

    def open_documents(*paths: Any) -> None:
        if paths:  # one dataset per window: the first one
            open_document(str(paths[0]))

    commands: dict[str, Callable[..., Any]] = {
        "::tk::mac::ShowPreferences": lambda *a: fire("<<Settings>>"),
        "::tk::mac::Quit": lambda *a: quit_app(),
        "::tk::mac::OpenDocument": open_documents,
        "::tk::mac::ShowHelp": lambda *a: fire("<<Shortcuts>>"),
        "::tk::mac::ReopenApplication": lambda *a: root.deiconify(),
    }
    for name, fn in commands.items():
        root.createcommand(name, fn)


def bind_text_keys(root: tk.Misc, tag: str, plat: Platform) -> None:
    """The Mac's text editing keys on the bind tag `tag` (the message editor's Text widgets)."""
    if not plat.aqua:
        return
    for key, virtual in TEXT_KEYS:
        root.bind_class(tag, key, lambda e, v=virtual: _virtual(e.widget, v))
    for key, index in TEXT_ENDS:
        root.bind_class(tag, key, lambda e, i=index: _set_cursor(e.widget, i))


def _virtual(w: tk.Misc, virtual: str) -> str | None:
    if not isinstance(w, tk.Text):
        return None
    w.event_generate(virtual)
    return "break"


def _set_cursor(w: tk.Misc, index: str) -> str | None:
    if not isinstance(w, tk.Text):
        return None
    w.tk.call("tk::TextSetCursor", w, index)
    return "break"
