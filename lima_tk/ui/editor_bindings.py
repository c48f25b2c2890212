"""The chat editors' keyboard and mouse on message cards: class bindings shared by every editor.

Card widgets carry the bind tag MSG_TAG (keys, wheel, focus, <<Modified>>), headers HEADER_TAG
(selection clicks), button strips ACTION_TAG (clicks, hover, tooltips); the notes Text carries
TEXT_TAG (undo). The handlers are bound once per Tk interpreter (`install`) and find their editor
from the widget's Toplevel (an editor registers itself with `attach`). The tag comes first in a
widget's bindtags, so the editor's keys win over the Text class bindings (Ctrl+Delete deletes the
message, not a word; Alt+Up does not move the cursor; Tab indents).

What a handler needs from the editor is `interfaces.BindingHost`; the keys themselves are in
lima_tk/ui/actions.py (EDITOR_ACTIONS, UNDO_KEYS, REDO_KEYS), bound as the platform names them
(lima_tk/ui/platform.py: Command on a Mac, plus the Mac's text keys from lima_tk/ui/mac.py), the
wheel and touchpad in lima_tk/ui/scrolling.py. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lima_tk.ui import editor_style as st
from lima_tk.ui import mac, timers
from lima_tk.ui.actions import EDITOR_ACTIONS, REDO_KEYS, UNDO_KEYS
from lima_tk.ui.autotext import AutoText
from lima_tk.ui.dialog_keys import install_select_all
from lima_tk.ui.message_frame import ACTION_TAG, HEADER_TAG, MSG_TAG
from lima_tk.ui.platform import current
from lima_tk.ui.scrolling import bind_wheel, touchpad_deltas, wheel_pixels

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import BindingHost, EditorWindow

TEXT_TAG = "LimaPlainText"  # Texts of the editor that are not messages (notes): own undo/redo
TOOLTIP_MS = 600

# (interpreter, Toplevel path) -> its editor: two Tk roots may both have a ".!chateditor".
_editors: dict[tuple[int, str], BindingHost] = {}


def _key(widget: Any) -> tuple[int, str]:
    return id(widget.tk), str(widget)


def attach(editor: BindingHost) -> None:
    """Route the class bindings of widgets inside `editor` (a Toplevel) to it."""
    install(editor)
    _editors[_key(editor)] = editor


def detach(editor: BindingHost) -> None:
    if _editors.get(_key(editor)) is editor:
        del _editors[_key(editor)]


def editor_of(widget: Any) -> BindingHost | None:
    try:
        top = widget.winfo_toplevel()
    except (AttributeError, KeyError, tk.TclError):
        return None
    ed = _editors.get(_key(top))
    return ed if ed is not None and not ed.closed else None


def _card_editor(widget: Any) -> tuple[Any, BindingHost] | tuple[None, None]:
    """(card, its editor) of a card widget, or (None, None). The card knows the editor that made
    it (no Tcl call on every key: <<Modified>> and <KeyRelease> come here)."""
    card = getattr(widget, "card", None)
    if card is None:
        return None, None
    ed: BindingHost = card.editor
    return (card, ed) if not ed.closed else (None, None)


def _fire(event: tk.Event, virtual: str) -> str:
    ed = editor_of(event.widget)
    if ed is not None:
        card = getattr(event.widget, "card", None)
        if card is not None:
            ed.current_id = card.mid
        ed.event_generate(virtual)
    return "break"


def _on_undo_key(event: tk.Event, redo: bool) -> str:
    """Ctrl+Z / Ctrl+Y in a Text: its own undo when the user typed in it since the chat's last
    structural change; otherwise the journal's, so Ctrl+Z right after deleting a message brings
    it back, whichever Text the focus landed in (docs/editor.md, "Undo: the rule")."""
    w = event.widget
    card = getattr(w, "card", None)
    ed = editor_of(w)
    journal = "<<JournalRedo>>" if redo else "<<JournalUndo>>"
    if ed is not None and card is not None and isinstance(w, tk.Text) and ed.assist.streaming(card.mid):
        ed.event_generate(journal)  # stops the stream first
        return "break"
    if isinstance(w, tk.Text) and ed is not None and not ed.typed_since_structural(w):
        ed.event_generate(journal)
        return "break"
    if isinstance(w, tk.Text):
        try:
            w.edit_redo() if redo else w.edit_undo()
        except tk.TclError:  # nothing to undo/redo in this Text
            w.bell()
        return "break"
    if ed is not None:
        ed.event_generate(journal)
    return "break"


def _on_escape(event: tk.Event) -> str:
    """Escape stops a reply being generated; otherwise it clears the selection (or the find bar)."""
    ed = editor_of(event.widget)
    if ed is not None and ed.assist.streaming():
        ed.event_generate("<<StopGenerating>>")
        return "break"
    return _fire(event, "<<ClearSelection>>")


def _on_tab(event: tk.Event) -> str | None:
    w = event.widget
    card, ed = _card_editor(w)
    if ed is None:
        return None
    if isinstance(w, AutoText):
        if str(w.cget("state")) == "disabled":
            return "break"
        if w.tag_ranges("sel") and w.compare("sel.first", "<=", "insert") and w.compare("insert", "<=", "sel.last"):
            w.delete("sel.first", "sel.last")
        w.insert("insert", ed.indent())
        w.see("insert")
        return "break"
    card.text.focus_set()  # from a header widget: Tab goes into the card's text
    return "break"


def _on_shift_tab(event: tk.Event) -> str | None:
    w = event.widget
    card, ed = _card_editor(w)
    if ed is None:
        return None
    if isinstance(w, AutoText):
        return "break"  # Shift+Tab inside a message does nothing (Ctrl+Shift+Tab leaves it)
    ed.nav.neighbour_text(card, -1)
    return "break"


def _on_ctrl_tab(event: tk.Event, back: bool) -> str | None:
    """Ctrl+Tab leaves a message text for the next card's header (or the Add button);
    Ctrl+Shift+Tab for its own header."""
    card, ed = _card_editor(event.widget)
    if ed is None:
        return None
    ed.nav.leave_text(card, back)
    return "break"


def _on_modified(event: tk.Event) -> None:
    w = event.widget
    card, ed = _card_editor(w)
    if ed is not None and isinstance(w, AutoText):
        ed.text_modified(card)


def _on_focus(event: tk.Event, focused: bool) -> None:
    card, ed = _card_editor(event.widget)
    if ed is not None:
        ed.nav.card_focus(card, event.widget, focused)


def _on_key_release(event: tk.Event) -> None:
    w = event.widget
    card, ed = _card_editor(w)
    if ed is not None and isinstance(w, AutoText) and event.keysym in (
            "Up", "Down", "Prior", "Next", "Home", "End", "Left", "Right", "Return", "KP_Enter"):
        ed.view.schedule_see_insert(card)


def _on_wheel(event: tk.Event) -> str | None:
    w = event.widget
    if isinstance(w, AutoText) and w.capped:
        return None  # a capped message scrolls its own text
    ed = editor_of(w)
    if ed is None:
        return None
    ed.view.scroll_pixels(wheel_pixels(event))
    return "break"


def _on_touchpad(event: tk.Event) -> str | None:  # Tk 9 only
    w = event.widget
    if isinstance(w, AutoText) and w.capped:
        return None
    ed = editor_of(w)
    if ed is None:
        return None
    _dx, dy = touchpad_deltas(event)
    ed.view.scroll_pixels(-dy)
    return "break"


def _on_header_click(event: tk.Event) -> str | None:
    card, ed = _card_editor(event.widget)
    if ed is None:
        return None
    ed.nav.header_click(card, int(event.state))
    return "break"


def _on_action_click(event: tk.Event) -> str:
    strip = event.widget
    card, ed = _card_editor(strip)
    if ed is None or not hasattr(strip, "action_at"):
        return "break"
    action = strip.action_at(event.x, event.y)
    if action:
        _tooltip_hide(strip)
        ed.card_action(card, action, strip.call_index)
    return "break"


# -- tooltips of the card buttons --------------------------------------------------------------

_tip: dict[str, Any] = {"job": None, "win": None}


def _tooltip_hide(widget: tk.Misc) -> None:
    if _tip["job"] is not None:
        try:
            widget.after_cancel(_tip["job"])
        except tk.TclError:
            pass
        _tip["job"] = None
    if _tip["win"] is not None:
        try:
            _tip["win"].destroy()
        except tk.TclError:
            pass
        _tip["win"] = None


def _on_action_motion(event: tk.Event) -> None:
    strip = event.widget
    if not hasattr(strip, "action_at"):
        return
    action = strip.action_at(event.x, event.y)
    if action == strip.hover:
        return
    strip.set_hover(action)
    _tooltip_hide(strip)
    tip = strip.tips.get(action, "") if action else ""
    if not tip:
        return
    x, y = event.x_root, event.y_root

    def show() -> None:
        _tip["job"] = None
        if not strip.winfo_exists() or not strip.winfo_viewable():
            return
        win = tk.Toplevel(strip, background=st.BORDER_DARK)
        win.wm_overrideredirect(True)
        tk.Label(win, text=tip, background="#fffbe6", foreground=st.TEXT, padx=2 * st.PAD, pady=st.PAD).pack(
            padx=1, pady=1)
        win.wm_geometry(f"+{x}+{y + 20}")
        _tip["win"] = win

    _tip["job"] = strip.after(TOOLTIP_MS, show)


def _on_action_leave(event: tk.Event) -> None:
    strip = event.widget
    if hasattr(strip, "set_hover"):
        strip.set_hover(None)
    _tooltip_hide(strip)


# -- the editor window: its virtual events and keys ------------------------------------------


def bind_window(ed: EditorWindow) -> None:
    """Bind every action of EDITOR_ACTIONS on the editor Toplevel to the part that does it, the
    shortcuts pressed anywhere in the window (message widgets handle them first through MSG_TAG),
    and the keys of the message list (the card canvas, after a header click)."""
    nav, tools, find, msgs, assist = ed.nav, ed.tools, ed.find, ed.msgs, ed.assist
    handlers: dict[str, Callable[[], Any]] = {
        "<<Save>>": ed.saving.save_now,
        "<<CloseEditor>>": ed.close,
        "<<JournalUndo>>": lambda: ed.journal(ed.app.undo),
        "<<JournalRedo>>": lambda: ed.journal(ed.app.redo),
        "<<Find>>": find.open,
        "<<FindNext>>": lambda: find.next(1),
        "<<FindPrev>>": lambda: find.next(-1),
        "<<ReplaceDataset>>": find.open_replace,
        "<<SelectAllMessages>>": nav.select_all,
        "<<ClearSelection>>": nav.clear_selection,
        "<<AddMessage>>": msgs.add_at_end,
        "<<InsertBelow>>": lambda: msgs.insert(below=True),
        "<<InsertAbove>>": lambda: msgs.insert(below=False),
        "<<DuplicateMessage>>": msgs.duplicate,
        "<<MoveMessageUp>>": lambda: msgs.move(-1),
        "<<MoveMessageDown>>": lambda: msgs.move(1),
        "<<DeleteMessage>>": msgs.delete,
        "<<ToggleTrain>>": msgs.toggle_train,
        "<<AddToolCall>>": tools.add_tool_call,
        "<<FocusPrevMessage>>": lambda: nav.focus_relative(-1),
        "<<FocusNextMessage>>": lambda: nav.focus_relative(1),
        "<<GenerateReply>>": lambda: assist.generate(),
        "<<ContinueReply>>": lambda: assist.continue_reply(),
        "<<StopGenerating>>": assist.stop_or_say,
        "<<PrevVersion>>": lambda: assist.versions.step_current(-1),
        "<<NextVersion>>": lambda: assist.versions.step_current(1),
        "<<DeleteVersion>>": lambda: assist.versions.step_current(0),
        "<<PreferVersion>>": assist.versions.prefer_current,
        "<<RoleSystem>>": lambda: msgs.role_key("system"),
        "<<RoleUser>>": lambda: msgs.role_key("user"),
        "<<RoleAssistant>>": lambda: msgs.role_key("assistant"),
        "<<RoleTool>>": lambda: msgs.role_key("tool"),
        "<<Shortcuts>>": lambda: _shortcuts(ed),
        "<<PickTags>>": ed.props.tags.open_picker,
        "<<AddTool>>": tools.add_tool,
        "<<EditTool>>": tools.edit_tool,
        "<<DeleteTool>>": tools.delete_tool,
    }
    for event, fn in handlers.items():
        ed.bind(event, lambda e, f=fn: ed.run(f))

    def key(event: tk.Event, virtual: str) -> str:
        if virtual in ("<<JournalUndo>>", "<<JournalRedo>>") and isinstance(event.widget, tk.Text):
            return "break"  # a Text's own undo (its class binding ran already)
        ed.event_generate(virtual)
        return "break"

    plat = current(ed)
    for a in EDITOR_ACTIONS:
        for seq in plat.key_sequences(a.keys):
            ed.bind(seq, lambda e, v=a.event: key(e, v))
    for seq in plat.key_sequences(UNDO_KEYS):
        ed.bind(seq, lambda e: key(e, "<<JournalUndo>>"))
    for seq in plat.key_sequences(REDO_KEYS):
        ed.bind(seq, lambda e: key(e, "<<JournalRedo>>"))
    ed.bind("<Escape>", lambda e: key(e, "<<StopGenerating>>" if assist.streaming() else "<<ClearSelection>>"))
    c = ed.view.canvas
    c.bind("<Button-1>", lambda e: c.focus_set())
    c.bind("<Up>", lambda e: nav.select_step(-1))
    c.bind("<Down>", lambda e: nav.select_step(1))
    c.bind("<Delete>", lambda e: ed.event_generate("<<DeleteMessage>>"))
    c.bind("<Return>", lambda e: nav.edit_current())
    c.bind(plat.key_sequence("<Control-a>"), lambda e: ed.event_generate("<<SelectAllMessages>>"))


def _shortcuts(ed: EditorWindow) -> None:
    from lima_tk.ui.help_dialogs import ShortcutsDialog

    ed.dialog = ShortcutsDialog(ed, "Chat editor")


def install(root: tk.Misc) -> None:
    """Bind the class tags once per Tk interpreter."""
    if int(root.tk.call("info", "exists", "::lima_editor_bindings")):
        return
    root.tk.setvar("::lima_editor_bindings", 1)
    install_select_all(root)
    timers.sweep_on_close(root)  # a closed editor's timers go with it
    plat = current(root)
    for action in EDITOR_ACTIONS:
        for key in plat.key_sequences(action.keys):
            root.bind_class(MSG_TAG, key, lambda e, v=action.event: _fire(e, v))
    mac.bind_text_keys(root, MSG_TAG, plat)  # Cmd+Left/Right, Option+Left/Right, Cmd+A (aqua only)
    for key in plat.key_sequences(UNDO_KEYS):
        root.bind_class(MSG_TAG, key, lambda e: _on_undo_key(e, False))
        root.bind_class(TEXT_TAG, key, lambda e: _on_undo_key(e, False))
    for key in plat.key_sequences(REDO_KEYS):
        root.bind_class(MSG_TAG, key, lambda e: _on_undo_key(e, True))
        root.bind_class(TEXT_TAG, key, lambda e: _on_undo_key(e, True))
    root.bind_class(MSG_TAG, "<Escape>", _on_escape)
    root.bind_class(MSG_TAG, "<Tab>", _on_tab)
    root.bind_class(MSG_TAG, "<Shift-Tab>", _on_shift_tab)
    root.bind_class(MSG_TAG, "<Control-Tab>", lambda e: _on_ctrl_tab(e, False))
    root.bind_class(MSG_TAG, "<Control-Shift-Tab>", lambda e: _on_ctrl_tab(e, True))
    try:  # X11 sends ISO_Left_Tab for Shift+Tab
        root.bind_class(MSG_TAG, "<ISO_Left_Tab>", _on_shift_tab)
        root.bind_class(MSG_TAG, "<Control-ISO_Left_Tab>", lambda e: _on_ctrl_tab(e, True))
    except tk.TclError:
        pass
    root.bind_class(MSG_TAG, "<<Modified>>", _on_modified)
    root.bind_class(MSG_TAG, "<FocusIn>", lambda e: _on_focus(e, True))
    root.bind_class(MSG_TAG, "<FocusOut>", lambda e: _on_focus(e, False))
    root.bind_class(MSG_TAG, "<KeyRelease>", _on_key_release)
    bind_wheel(root, _on_wheel, tag=MSG_TAG, on_touchpad=_on_touchpad)
    for seq in plat.shift_wheel_sequences():
        root.bind_class(MSG_TAG, seq, lambda e: "break" if not isinstance(e.widget, AutoText) else None)
    root.bind_class(HEADER_TAG, "<Button-1>", _on_header_click)
    root.bind_class(ACTION_TAG, "<Button-1>", _on_action_click)
    root.bind_class(ACTION_TAG, "<Motion>", _on_action_motion)
    root.bind_class(ACTION_TAG, "<Leave>", _on_action_leave)
