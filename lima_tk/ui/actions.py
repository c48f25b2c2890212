"""Every action of the windows: its virtual event, menu label, shortcut and key sequences.

One table per window drives its menus (lima_tk/ui/menus.py), its key bindings and Help > Keyboard
shortcuts, so a shortcut can not exist without being listed: `ACTIONS` for the main window (bound
on the root), `EDITOR_ACTIONS` for a chat editor (bound on its Toplevel and, for the message
widgets, on the class tag of lima_tk/ui/editor_bindings.py). Tests fire the virtual events with
`event_generate("<<NewChat>>")`. This is the place for new keys (and platform differences in them).
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
    Action("<<Manual>>", "Manual", "", (), "Help"),
    Action("<<Welcome>>", "Welcome panel", "", (), "Help"),
    Action("<<ReportProblem>>", "Report a problem (copy diagnostics)", "", (), "Help"),
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
# A separator before these items of the main window's menus.
MENU_GROUPS = frozenset({"<<Save>>", "<<Import>>", "<<Settings>>", "<<Quit>>", "<<Find>>", "<<OpenChat>>",
                         "<<RenameChat>>", "<<SetLanguage>>", "<<MoveUp>>", "<<SelectAllChats>>", "<<About>>",
                         "<<ReportProblem>>"})

# -- the chat editor ----------------------------------------------------------------------------

EDITOR_ACTIONS: tuple[Action, ...] = (
    Action("<<Save>>", "Save now", "Ctrl+S", ("<Control-s>",), "Chat"),
    Action("<<CloseEditor>>", "Close", "Ctrl+W", ("<Control-w>",), "Chat"),
    # The chat's tags from the keyboard: the tag picker of the properties (issue 13).
    Action("<<PickTags>>", "Tags…", "Ctrl+T", ("<Control-t>",), "Chat"),
    Action("<<JournalUndo>>", "Undo", "Ctrl+Z", (), "Edit"),
    Action("<<JournalRedo>>", "Redo", "Ctrl+Y", (), "Edit"),
    Action("<<Find>>", "Find in chat…", "Ctrl+F", ("<Control-f>",), "Edit"),
    Action("<<FindNext>>", "Find next", "F3", ("<F3>",), "Edit"),
    Action("<<FindPrev>>", "Find previous", "Shift+F3", ("<Shift-F3>",), "Edit"),
    Action("<<ReplaceDataset>>", "Find and replace in dataset…", "Ctrl+Shift+H", ("<Control-H>",), "Edit"),
    Action("<<SelectAllMessages>>", "Select all messages", "", (), "Edit"),
    Action("<<ClearSelection>>", "Clear selection", "Escape", (), "Edit"),
    Action("<<AddMessage>>", "Add message at the end", "", (), "Message"),
    Action("<<InsertBelow>>", "New message below", "Ctrl+Enter", ("<Control-Return>", "<Control-KP_Enter>"),
           "Message"),
    Action("<<InsertAbove>>", "New message above", "Ctrl+Shift+Enter", ("<Control-Shift-Return>",), "Message"),
    Action("<<DuplicateMessage>>", "Duplicate", "Ctrl+Shift+D", ("<Control-D>",), "Message"),
    Action("<<MoveMessageUp>>", "Move up", "Alt+Shift+Up", ("<Alt-Shift-Up>",), "Message"),
    Action("<<MoveMessageDown>>", "Move down", "Alt+Shift+Down", ("<Alt-Shift-Down>",), "Message"),
    Action("<<DeleteMessage>>", "Delete", "Ctrl+Delete", ("<Control-Delete>", "<Control-KP_Delete>"), "Message"),
    Action("<<ToggleTrain>>", "Train on this turn: default / 1 / 0", "Ctrl+Shift+T", ("<Control-T>",), "Message"),
    Action("<<AddToolCall>>", "Add tool call…", "", (), "Message"),
    Action("<<FocusPrevMessage>>", "Previous message", "Alt+Up", ("<Alt-Up>",), "Message"),
    Action("<<FocusNextMessage>>", "Next message", "Alt+Down", ("<Alt-Down>",), "Message"),
    Action("<<GenerateReply>>", "Generate reply", "Ctrl+G", ("<Control-g>",), "Message"),
    Action("<<ContinueReply>>", "Continue this reply", "Ctrl+Shift+G", ("<Control-G>",), "Message"),
    Action("<<StopGenerating>>", "Stop generating", "Escape", (), "Message"),
    # Versions of a reply: Alt+Left / Alt+Right as SillyTavern's swipes (issue 13).
    Action("<<PrevVersion>>", "Previous version", "Alt+Left", ("<Alt-Left>",), "Message"),
    Action("<<NextVersion>>", "Next version", "Alt+Right", ("<Alt-Right>",), "Message"),
    Action("<<PreferVersion>>", "Prefer this version (the others rejected)", "Alt+P", ("<Alt-p>", "<Alt-P>"),
           "Message"),
    Action("<<DeleteVersion>>", "Delete this version", "", (), "Message"),
    # The role of the focused message (or the selection): one key per role (issue 13).
    Action("<<RoleSystem>>", "Role: system", "Ctrl+1", ("<Control-Key-1>",), "Message"),
    Action("<<RoleUser>>", "Role: user", "Ctrl+2", ("<Control-Key-2>",), "Message"),
    Action("<<RoleAssistant>>", "Role: assistant", "Ctrl+3", ("<Control-Key-3>",), "Message"),
    Action("<<RoleTool>>", "Role: tool", "Ctrl+4", ("<Control-Key-4>",), "Message"),
    Action("<<AddTool>>", "Add function…", "", (), "Tools"),
    Action("<<EditTool>>", "Edit function…", "", (), "Tools"),
    Action("<<DeleteTool>>", "Delete function", "", (), "Tools"),
    # Help (issue 13): the same list of shortcuts as the main window's, opened at the editor's part.
    Action("<<Shortcuts>>", "Keyboard shortcuts", "F1", ("<F1>",), "Help"),
)
EDITOR_MENUS = ("Chat", "Edit", "Message", "Tools", "Help")
# A separator before these items of the editor's menus (also when first in its menu).
EDITOR_MENU_GROUPS = frozenset({"<<Find>>", "<<AddMessage>>", "<<FocusPrevMessage>>", "<<AddTool>>",
                                "<<GenerateReply>>", "<<CloseEditor>>", "<<AddToolCall>>", "<<PrevVersion>>",
                                "<<RoleSystem>>", "<<PickTags>>"})
# Keys of the editor handled by its widgets (listed in Help, not in a menu).
EDITOR_KEYS: tuple[tuple[str, str], ...] = (
    ("Indent inside a message", "Tab"),
    ("Leave a message: next header / its own header", "Ctrl+Tab / Ctrl+Shift+Tab"),
    ("Select all the text of a message or field", "Ctrl+A (in the text)"),
    ("Undo typing / the last change", "Ctrl+Z (in the text / elsewhere)"),
    ("Select a message", "click its header"),
    ("Add a message to the selection", "Ctrl+click, Shift+click a header"),
    ("Select the previous / next message", "Up / Down (after a header click)"),
    ("Select all messages", "Ctrl+A (after a header click)"),
    ("Edit the selected message", "Enter (after a header click)"),
    ("Open a menu", "Alt+underlined letter, F10"),
)
# The shortcut lists of Help, one per window: (title, actions, menus, extra keys).
SHORTCUT_SECTIONS = (("Main window", ACTIONS, MENUS, LIST_KEYS),
                     ("Chat editor", EDITOR_ACTIONS, EDITOR_MENUS, EDITOR_KEYS))
# Undo/redo in the editor: a Text's own, or the journal's (docs/editor.md, "Undo: the rule").
UNDO_KEYS = ("<Control-z>",)
REDO_KEYS = ("<Control-y>", "<Control-Z>")


def by_event(event: str) -> Action:
    for a in ACTIONS:
        if a.event == event:
            return a
    raise KeyError(event)
