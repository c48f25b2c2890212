"""Every action of the main window: its virtual event, menu label, shortcut and key sequences.

One table drives the menus, the key bindings and Help > Keyboard shortcuts, so a shortcut can not
exist without being listed. Tests fire the virtual events with `root.event_generate("<<NewChat>>")`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    event: str  # virtual event bound on the root window
    label: str  # menu label
    accel: str = ""  # shortcut as shown to people
    keys: tuple[str, ...] = ()  # Tk key sequences that fire the event
    menu: str = ""  # "File", "Edit", "View", "Chat", "Help" ("" = no menu item)
    scope: str = "global"  # "list": the keys are ignored while typing in a text field
    writes: bool = False  # disabled when the dataset is read-only


ACTIONS: tuple[Action, ...] = (
    # File
    Action("<<NewDataset>>", "New dataset…", "", (), "File", writes=False),
    Action("<<OpenDataset>>", "Open…", "Ctrl+O", ("<Control-o>", "<Control-O>"), "File"),
    Action("<<OpenRecent>>", "Open recent…", "Ctrl+R", ("<Control-r>", "<Control-R>"), "File"),
    Action("<<Save>>", "Save now", "Ctrl+S", ("<Control-s>",), "File"),
    Action("<<SaveCopyAs>>", "Save a copy as…", "Ctrl+Shift+S", ("<Control-Shift-S>", "<Control-S>"), "File"),
    Action("<<Import>>", "Import into this dataset…", "Ctrl+I", ("<Control-i>",), "File", writes=True),
    Action("<<ImportWithOptions>>", "Import with options…", "Ctrl+Shift+I", ("<Control-Shift-I>", "<Control-I>"),
           "File", writes=True),
    Action("<<Export>>", "Export…", "Ctrl+E", ("<Control-e>", "<Control-E>"), "File"),
    Action("<<Settings>>", "Settings…", "Ctrl+,", ("<Control-comma>",), "File"),
    Action("<<Quit>>", "Quit", "Ctrl+Q", ("<Control-q>", "<Control-Q>"), "File"),
    # Edit
    Action("<<Undo>>", "Undo", "Ctrl+Z", ("<Control-z>",), "Edit", writes=True),
    Action("<<Redo>>", "Redo", "Ctrl+Shift+Z / Ctrl+Y", ("<Control-Shift-Z>", "<Control-Z>", "<Control-y>",
                                                         "<Control-Y>"), "Edit", writes=True),
    Action("<<SelectAllChats>>", "Select all", "Ctrl+A", ("<Control-a>", "<Control-A>"), "Edit", scope="list"),
    Action("<<Find>>", "Find…", "Ctrl+F", ("<Control-f>", "<Control-F>"), "Edit"),
    Action("<<ClearFilter>>", "Clear filter", "Escape", (), "Edit"),
    # Chat
    Action("<<NewChat>>", "New chat", "Ctrl+N", ("<Control-n>", "<Control-N>"), "Chat", writes=True),
    Action("<<OpenChat>>", "Open chat", "Enter / double-click", (), "Chat"),
    Action("<<RenameChat>>", "Rename", "F2", ("<F2>",), "Chat", scope="list", writes=True),
    Action("<<CopyChats>>", "Copy", "Ctrl+D", ("<Control-d>", "<Control-D>"), "Chat", scope="list", writes=True),
    Action("<<DeleteChats>>", "Delete", "Delete", ("<Delete>", "<KP_Delete>"), "Chat", scope="list",
           writes=True),
    Action("<<SetLanguage>>", "Set language…", "Ctrl+L", ("<Control-l>", "<Control-L>"), "Chat",
           scope="list", writes=True),
    Action("<<SetTags>>", "Tags…", "Ctrl+T", ("<Control-t>", "<Control-T>"), "Chat", scope="list", writes=True),
    Action("<<MoveUp>>", "Move up", "Alt+Up", ("<Alt-Up>",), "Chat", scope="list", writes=True),
    Action("<<MoveDown>>", "Move down", "Alt+Down", ("<Alt-Down>",), "Chat", scope="list", writes=True),
    Action("<<PreviewTokens>>", "Preview as the model sees it…", "Ctrl+P", ("<Control-p>",), "Chat"),
    # View (tokens and stats, issue 6)
    Action("<<StatsBoard>>", "Stats board", "Ctrl+B", ("<Control-b>", "<Control-B>"), "View"),
    Action("<<Problems>>", "Problems…", "F8", ("<F8>",), "View"),
    Action("<<OverLimitFilter>>", "Only chats over the context limit", "", (), "View"),
    Action("<<CountTokens>>", "Count tokens now", "F5", ("<F5>",), "View", writes=True),
    Action("<<StopCounting>>", "Stop counting tokens", "", (), "View"),
    # Help
    Action("<<Shortcuts>>", "Keyboard shortcuts", "F1", ("<F1>",), "Help"),
    Action("<<About>>", "About lima-tk", "", (), "Help"),
)

# Keys handled by the chat list itself (listed in Help, not bound on the root).
LIST_KEYS: tuple[tuple[str, str], ...] = (
    ("Move in the list", "Up / Down"),
    ("Page up / down", "Page Up / Page Down"),
    ("First / last chat", "Home / End"),
    ("Extend the selection", "Shift+arrows, Shift+click"),
    ("Add or remove one chat", "Ctrl+click, Ctrl+Space"),
    ("Open the chat", "Enter / double-click"),
    ("Sort by a column", "click its heading"),
    ("Clear the filter", "Escape (in the filter bar)"),
    ("Go from the filter to the list", "Down (in the filter bar)"),
)

MENUS = ("File", "Edit", "View", "Chat", "Help")


def by_event(event: str) -> Action:
    for a in ACTIONS:
        if a.event == event:
            return a
    raise KeyError(event)
