"""The chat editor: one Toplevel per chat, messages on the left, properties on the right.

Layout. Each message is a card (message_frame.MessageCard) placed as its own Canvas window item
at a y that this module computes. A Canvas unmaps window items that are scrolled out of view, so
only the visible cards are drawn, and no X window grows past X11's 32767-pixel limit (one tall
frame inside a Canvas would). A card's Text is as tall as its display lines; cards that are out of
view are measured with a hidden Text of the same width (autotext.LineMeasurer). Opening creates
the cards at the end of the chat first (the view starts at the end) and the rest in small chunks
from `after` callbacks, so a long chat shows at once and stays responsive while it fills in.

Saving (lima_tk.ui.autosave). Typing marks the card dirty and arms a timer: `save_delay` ms
(500) after the last key, but at most 800 ms after the first unsaved one, so continuous typing
is saved too. The text goes to `store.edit_message_text` (consecutive saves of one message are
one undo step in the journal). A card stays dirty until a write of it has committed: a failed
write (another process writing, a full disk) shows "Not saved: <reason>, retrying" on the card
and in the status bar and is retried with backoff. Focus-out, Ctrl+S and `flush()` save at once;
closing the window with text that cannot be saved asks (retry, copy the text, keep it open).

Undo. Inside a Text (a message or the notes), Ctrl+Z / Ctrl+Y are that Text's own undo when the
user typed in it since the chat's last structural change; otherwise (and anywhere else in the
window) they are the dataset journal's undo/redo (`app.undo()` / `app.redo()`), after the
pending text was saved. Every structural change empties the Texts' own undo stacks. See
docs/editor.md.

Every action is a virtual event on the editor Toplevel (ACTIONS below): menus, buttons and keys
all fire them, and tests do too. Tk thread only.
"""

from __future__ import annotations

import sqlite3
import time
import tkinter as tk
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from tkinter import font as tkfont
from tkinter import messagebox, ttk
from typing import Any

from lima_tk.errors import DatasetBusy, DatasetError, DatasetFull, LimaError, NotFound
from lima_tk.model import Message, Tool
from lima_tk.store.db import ChatFilter
from lima_tk.ui import editor_style as st
from lima_tk.ui.assist_view import ASSIST_ACTIONS, AssistController
from lima_tk.ui.autosave import (
    SAVE_DELAY_MS,
    SAVE_MAX_WAIT_MS,
    Autosaver,
    describe,
    plain_reason,
    resolve_unsaved,
)
from lima_tk.ui.autotext import TEXT_OPTIONS, AutoText, LineMeasurer
from lima_tk.ui.chat_properties import ChatProperties
from lima_tk.ui.editor_tokens import EditorTokens, token_service
from lima_tk.ui.find_replace import FindBar, ReplaceDialog, search_text
from lima_tk.ui.message_frame import ACTION_TAG, CARD_BORDER, HEADER_TAG, MSG_TAG, MessageCard
from lima_tk.ui.tool_editor import ToolCallDialog, ToolDialog, new_call_id

PROPS_DELAY_MS = 1500  # typing pause before name / notes are saved (each save is an undo step)
CHUNK = 24  # cards created per `after` tick while a long chat opens
MAX_LINES = 40  # a message taller than this scrolls inside its card
CARD_GAP = 2 * st.PAD
CARD_MARGIN = 3 * st.PAD
WHEEL_PX = 60  # one wheel notch
TEXT_TAG = "LimaPlainText"  # Texts of the editor that are not messages (notes): own undo/redo

NEXT_ROLE = {"user": "assistant", "assistant": "user", "system": "user", "tool": "assistant"}


@dataclass(frozen=True)
class EditorAction:
    event: str
    label: str
    accel: str = ""
    keys: tuple[str, ...] = ()
    menu: str = ""


ACTIONS: tuple[EditorAction, ...] = (
    EditorAction("<<Save>>", "Save now", "Ctrl+S", ("<Control-s>",), "Chat"),
    EditorAction("<<CloseEditor>>", "Close", "Ctrl+W", ("<Control-w>",), "Chat"),
    EditorAction("<<JournalUndo>>", "Undo", "Ctrl+Z", (), "Edit"),
    EditorAction("<<JournalRedo>>", "Redo", "Ctrl+Y", (), "Edit"),
    EditorAction("<<Find>>", "Find in chat…", "Ctrl+F", ("<Control-f>",), "Edit"),
    EditorAction("<<FindNext>>", "Find next", "F3", ("<F3>",), "Edit"),
    EditorAction("<<FindPrev>>", "Find previous", "Shift+F3", ("<Shift-F3>",), "Edit"),
    EditorAction("<<ReplaceDataset>>", "Find and replace in dataset…", "Ctrl+Shift+H", ("<Control-H>",), "Edit"),
    EditorAction("<<SelectAllMessages>>", "Select all messages", "", (), "Edit"),
    EditorAction("<<ClearSelection>>", "Clear selection", "Escape", (), "Edit"),
    EditorAction("<<AddMessage>>", "Add message at the end", "", (), "Message"),
    EditorAction("<<InsertBelow>>", "New message below", "Ctrl+Enter", ("<Control-Return>", "<Control-KP_Enter>"),
                 "Message"),
    EditorAction("<<InsertAbove>>", "New message above", "Ctrl+Shift+Enter", ("<Control-Shift-Return>",),
                 "Message"),
    EditorAction("<<DuplicateMessage>>", "Duplicate", "Ctrl+Shift+D", ("<Control-D>",), "Message"),
    EditorAction("<<MoveMessageUp>>", "Move up", "Alt+Shift+Up", ("<Alt-Shift-Up>",), "Message"),
    EditorAction("<<MoveMessageDown>>", "Move down", "Alt+Shift+Down", ("<Alt-Shift-Down>",), "Message"),
    EditorAction("<<DeleteMessage>>", "Delete", "Ctrl+Delete", ("<Control-Delete>", "<Control-KP_Delete>"),
                 "Message"),
    EditorAction("<<ToggleTrain>>", "Train on this turn: default / 1 / 0", "Ctrl+Shift+T", ("<Control-T>",),
                 "Message"),
    EditorAction("<<AddToolCall>>", "Add tool call…", "", (), "Message"),
    EditorAction("<<FocusPrevMessage>>", "Previous message", "Alt+Up", ("<Alt-Up>",), "Message"),
    EditorAction("<<FocusNextMessage>>", "Next message", "Alt+Down", ("<Alt-Down>",), "Message"),
    EditorAction("<<GenerateReply>>", "Generate reply", "Ctrl+G", ("<Control-g>",), "Message"),
    EditorAction("<<ContinueReply>>", "Continue this reply", "Ctrl+Shift+G", ("<Control-G>",), "Message"),
    EditorAction("<<StopGenerating>>", "Stop generating", "Escape", (), "Message"),
    EditorAction("<<PrevVersion>>", "Previous version", "", (), "Message"),
    EditorAction("<<NextVersion>>", "Next version", "", (), "Message"),
    EditorAction("<<DeleteVersion>>", "Delete this version", "", (), "Message"),
    EditorAction("<<AddTool>>", "Add function…", "", (), "Tools"),
    EditorAction("<<EditTool>>", "Edit function…", "", (), "Tools"),
    EditorAction("<<DeleteTool>>", "Delete function", "", (), "Tools"),
)
UNDO_KEYS = ("<Control-z>",)
REDO_KEYS = ("<Control-y>", "<Control-Z>")


# -- dialogs the tests answer (monkeypatch these) ---------------------------------------------


def ask_confirm(parent: tk.Misc, title: str, message: str) -> bool:
    """OK/Cancel question. Tests replace this function."""
    return bool(messagebox.askokcancel(title, message, parent=parent))


def open_chat_editor(app: Any, chat_id: int) -> ChatEditor:
    """Open the editor of a chat, or bring its open window to the front."""
    editor = app.editors.get(chat_id)
    if editor is not None and editor.winfo_exists():
        editor.deiconify()
        editor.lift()
        editor.focus_set()
        return editor
    return ChatEditor(app, chat_id)


# -- class bindings shared by every editor (dispatched to the editor of the widget) ------------


def _editor_of(widget: Any) -> ChatEditor | None:
    try:
        top = widget.winfo_toplevel()
    except (AttributeError, KeyError, tk.TclError):
        return None
    return top if isinstance(top, ChatEditor) and not top.closed else None


def _fire(event: tk.Event, virtual: str) -> str:
    ed = _editor_of(event.widget)
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
    ed = _editor_of(w)
    if card is not None and isinstance(w, tk.Text) and card.editor.assist.streaming(card.mid):
        card.editor.event_generate("<<JournalRedo>>" if redo else "<<JournalUndo>>")  # stops the stream first
        return "break"
    if isinstance(w, tk.Text) and ed is not None and not ed.typed_since_structural(w):
        ed.event_generate("<<JournalRedo>>" if redo else "<<JournalUndo>>")
        return "break"
    if isinstance(w, tk.Text):
        try:
            w.edit_redo() if redo else w.edit_undo()
        except tk.TclError:  # nothing to undo/redo in this Text
            w.bell()
        return "break"
    if ed is not None:
        ed.event_generate("<<JournalRedo>>" if redo else "<<JournalUndo>>")
    return "break"


def _on_escape(event: tk.Event) -> str:
    """Escape stops a reply being generated; otherwise it clears the selection (or the find bar)."""
    ed = _editor_of(event.widget)
    if ed is not None and ed.assist.streaming():
        ed.event_generate("<<StopGenerating>>")
        return "break"
    return _fire(event, "<<ClearSelection>>")


def _on_tab(event: tk.Event) -> str | None:
    w = event.widget
    ed = _editor_of(w)
    card = getattr(w, "card", None)
    if ed is None or card is None:
        return None
    if isinstance(w, AutoText):
        if str(w.cget("state")) == "disabled":
            return "break"
        indent = "    " if ed.app.user_settings.get("tab_mode") == "spaces" else "\t"
        if w.tag_ranges("sel") and w.compare("sel.first", "<=", "insert") and w.compare("insert", "<=", "sel.last"):
            w.delete("sel.first", "sel.last")
        w.insert("insert", indent)
        w.see("insert")
        return "break"
    # From a header widget: Tab goes into the card's text.
    card.text.focus_set()
    return "break"


def _on_shift_tab(event: tk.Event) -> str | None:
    w = event.widget
    ed = _editor_of(w)
    card = getattr(w, "card", None)
    if ed is None or card is None:
        return None
    if isinstance(w, AutoText):
        return "break"  # Shift+Tab inside a message does nothing (Ctrl+Shift+Tab leaves it)
    ed.focus_neighbour_text(card, -1)
    return "break"


def _on_ctrl_tab(event: tk.Event, back: bool) -> str | None:
    """Ctrl+Tab leaves a message text for the next card's header (or the Add button);
    Ctrl+Shift+Tab for its own header."""
    w = event.widget
    ed = _editor_of(w)
    card = getattr(w, "card", None)
    if ed is None or card is None:
        return None
    ed.leave_text(card, back)
    return "break"


def _on_modified(event: tk.Event) -> None:
    w = event.widget
    card = getattr(w, "card", None)
    if card is not None and isinstance(w, AutoText):
        card.editor.text_modified(card)


def _on_focus_in(event: tk.Event) -> None:
    card = getattr(event.widget, "card", None)
    if card is not None and not card.editor.closed:
        card.editor.card_focus(card, event.widget, True)


def _on_focus_out(event: tk.Event) -> None:
    card = getattr(event.widget, "card", None)
    if card is not None and not card.editor.closed:
        card.editor.card_focus(card, event.widget, False)


def _on_key_release(event: tk.Event) -> None:
    w = event.widget
    card = getattr(w, "card", None)
    if card is not None and isinstance(w, AutoText) and event.keysym in (
            "Up", "Down", "Prior", "Next", "Home", "End", "Left", "Right", "Return", "KP_Enter"):
        card.editor.schedule_see_insert(card)


def wheel_pixels(event: tk.Event) -> int:
    """Normalise a wheel event to pixels (positive = down): Button-4/5 (X11, Tk 8.6),
    <MouseWheel> deltas of 120 per notch (Windows, Tk 9 on X11) or small ones (macOS)."""
    if event.num == 4:
        return -WHEEL_PX
    if event.num == 5:
        return WHEEL_PX
    d = int(getattr(event, "delta", 0) or 0)
    if d == 0:
        return 0
    if abs(d) >= 120:
        return int(-d / 120 * WHEEL_PX)
    return -d * WHEEL_PX // 3


def _on_wheel(event: tk.Event) -> str | None:
    w = event.widget
    if isinstance(w, AutoText) and w.capped:
        return None  # a capped message scrolls its own text
    ed = _editor_of(w)
    if ed is None:
        return None
    ed.scroll_pixels(wheel_pixels(event))
    return "break"


def _on_touchpad(event: tk.Event) -> str | None:  # Tk 9 only
    w = event.widget
    if isinstance(w, AutoText) and w.capped:
        return None
    ed = _editor_of(w)
    if ed is None:
        return None
    try:
        _dx, dy = (int(v) for v in w.tk.splitlist(w.tk.call("tk::PreciseScrollDeltas", event.delta)))
    except (tk.TclError, ValueError):
        return None
    ed.scroll_pixels(-dy)
    return "break"


def _on_header_click(event: tk.Event) -> str | None:
    card = getattr(event.widget, "card", None)
    if card is None or card.editor.closed:
        return None
    card.editor.header_click(card, int(event.state))
    return "break"


def _on_action_click(event: tk.Event) -> str:
    strip = event.widget
    card = getattr(strip, "card", None)
    if card is None or card.editor.closed or not hasattr(strip, "action_at"):
        return "break"
    action = strip.action_at(event.x, event.y)
    if action:
        _tooltip_hide(strip)
        card.editor.card_action(card, action, strip.call_index)
    return "break"


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

    _tip["job"] = strip.after(600, show)


def _on_action_leave(event: tk.Event) -> None:
    strip = event.widget
    if hasattr(strip, "set_hover"):
        strip.set_hover(None)
    _tooltip_hide(strip)


def _install_class_bindings(root: tk.Misc) -> None:
    if int(root.tk.call("info", "exists", "::lima_editor_bindings")):
        return
    root.tk.setvar("::lima_editor_bindings", 1)
    for action in ACTIONS:
        for key in action.keys:
            root.bind_class(MSG_TAG, key, lambda e, v=action.event: _fire(e, v))
    for key in UNDO_KEYS:
        root.bind_class(MSG_TAG, key, lambda e: _on_undo_key(e, False))
        root.bind_class(TEXT_TAG, key, lambda e: _on_undo_key(e, False))
    for key in REDO_KEYS:
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
    root.bind_class(MSG_TAG, "<FocusIn>", _on_focus_in)
    root.bind_class(MSG_TAG, "<FocusOut>", _on_focus_out)
    root.bind_class(MSG_TAG, "<KeyRelease>", _on_key_release)
    for seq in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
        root.bind_class(MSG_TAG, seq, _on_wheel)
    for seq in ("<Shift-MouseWheel>", "<Shift-Button-4>", "<Shift-Button-5>"):
        root.bind_class(MSG_TAG, seq, lambda e: "break" if not isinstance(e.widget, AutoText) else None)
    if tk.TkVersion >= 9:
        try:
            root.bind_class(MSG_TAG, "<TouchpadScroll>", _on_touchpad)
        except tk.TclError:
            pass
    root.bind_class(HEADER_TAG, "<Button-1>", _on_header_click)
    root.bind_class(ACTION_TAG, "<Button-1>", _on_action_click)
    root.bind_class(ACTION_TAG, "<Motion>", _on_action_motion)
    root.bind_class(ACTION_TAG, "<Leave>", _on_action_leave)


def _dialog_errors(save: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """A dialog's on_save: a dataset problem (busy, disk full) is shown in the dialog, which
    stays open with what was typed, instead of escaping as a callback error."""

    def run(value: Any) -> str | None:
        try:
            return save(value)
        except LimaError as e:
            return str(e)

    return run


# -- the editor -------------------------------------------------------------------------------


class ChatEditor(tk.Toplevel):
    """The editor window of one chat. Tk thread only."""

    def __init__(self, app: Any, chat_id: int, save_delay: int | None = None, max_lines: int = MAX_LINES) -> None:
        super().__init__(app.root, background=st.BG)
        self.withdraw()
        self.app = app
        self.store = app.store
        self.chat_id = chat_id
        self._autosave = Autosaver(self, self._write_pending, self._save_state,
                                   int(save_delay if save_delay is not None else SAVE_DELAY_MS), SAVE_MAX_WAIT_MS)
        self.close_grace_ms: int | None = None  # None: autosave.CLOSE_GRACE_MS (tests shorten it)
        self.props_delay = PROPS_DELAY_MS
        self.max_lines = max_lines
        self.readonly = bool(getattr(self.store, "readonly", False))
        self.closed = False
        self.ready = False  # every card created and measured
        self.reload_count = 0
        try:
            self.chat = self.store.get_chat(chat_id)
        except NotFound:
            self.destroy()  # nothing was registered yet
            raise

        self.cards: dict[int, MessageCard] = {}
        self.messages: dict[int, Message] = {}
        self.order: list[int] = []
        self._index: dict[int, int] = {}
        self._pending: list[int] = []  # ids whose card is not created yet (opening a long chat)
        self._dirty: set[int] = set()  # cards whose text is not saved yet (until a write commits)
        self._written = 0  # fields written by saves (flush() returns the difference)
        self._structural = 0  # bumped by every structural change of the chat (the undo rule)
        self._closing = False
        self.selection: set[int] = set()
        self._sel_anchor: int | None = None
        self.current_id: int | None = None
        self._links: dict[int, tuple[list[tuple[str, str]], str | None]] = {}
        self._tool_names: set[str] = set()
        self._saved_any = False
        self._layout_job: str | None = None
        self._chunk_job: str | None = None
        self._see_job: str | None = None
        self._refit_job: str | None = None
        self._in_layout = False
        self._see_after_layout: MessageCard | None = None
        self._stick_bottom = True
        self._canvas_width = 0
        self.total_height = 0
        self.find_pattern = ""
        self.find_case = False
        self.find_matches: list[tuple[int, str, str]] = []
        self.find_current = -1
        self.dialog: tk.Toplevel | None = None
        self.assist = AssistController(self)
        self.tokens = EditorTokens(self)  # token counts of the messages and the budget (issue 6)

        st.setup(self)
        _install_class_bindings(self)
        self.button_height = tkfont.nametofont("TkDefaultFont", root=self).metrics("linespace") + 2 * st.PAD
        self._build()
        self._bind_events()
        app.editors[chat_id] = self
        self.protocol("WM_DELETE_WINDOW", self.close)
        # <Destroy> on a tag of this window only (the window's own tag is on every child too).
        self._own_tag = f"LimaEditor{id(self)}"
        self.bindtags((self._own_tag, *self.bindtags()))
        self.bind_class(self._own_tag, "<Destroy>", self._on_destroy)
        self.geometry(app.user_settings.get("editor_geometry") or "1120x760")
        self._load(self.chat)
        self.deiconify()
        self._populate()

    # -- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self._build_menu()
        paned = ttk.Panedwindow(self, orient="horizontal")
        paned.grid(row=0, column=0, sticky="nsew")
        left = ttk.Frame(paned, style="Editor.TFrame")
        left.columnconfigure(0, weight=1)
        left.rowconfigure(1, weight=1)
        self.findbar = FindBar(left, on_change=self._on_find_change, on_next=self.find_next,
                               on_close=self.close_find)
        self.canvas = tk.Canvas(left, background=st.CANVAS_BG, highlightthickness=2,
                                highlightbackground=st.CANVAS_BG, highlightcolor=st.CANVAS_BG, borderwidth=0,
                                width=740, height=600, yscrollincrement=1, takefocus=1)
        self.canvas.grid(row=1, column=0, sticky="nsew")
        self.vbar = ttk.Scrollbar(left, orient="vertical", command=self._on_scrollbar)
        self.vbar.grid(row=1, column=1, sticky="ns")
        self.canvas.configure(yscrollcommand=self.vbar.set)
        self.canvas.bindtags((MSG_TAG, *self.canvas.bindtags()))
        self.measurer = LineMeasurer(self.canvas)
        self.empty_label = tk.Label(self.canvas, text="No messages yet.\nCtrl+Enter or “Add message” starts one.",
                                    background=st.CANVAS_BG, foreground=st.MUTED, justify="center")

        bottom = ttk.Frame(left, style="Editor.TFrame", padding=(3 * st.PAD, 2 * st.PAD))
        bottom.grid(row=2, column=0, columnspan=2, sticky="ew")
        self.add_button = ttk.Button(bottom, text="Add message", command=lambda: self.event_generate("<<AddMessage>>"))
        self.add_button.pack(side="left")
        ttk.Button(bottom, text="Delete message", command=lambda: self.event_generate("<<DeleteMessage>>")).pack(
            side="left", padx=2 * st.PAD)
        self.generate_button = ttk.Button(bottom, text="Generate reply", width=14,
                                          state="disabled" if self.readonly else "normal",
                                          command=lambda: self._run(self._generate_button))
        self.generate_button.pack(side="left")
        self.status_label = ttk.Label(bottom, text="", style="Status.TLabel")
        ttk.Style(self).configure("EditorStatusError.TLabel", background=st.BG, foreground=st.DANGER,
                                  padding=(2 * st.PAD, st.PAD))
        self.status_label.pack(side="right")

        self.props = ChatProperties(paned, self)
        self.props.notes.bindtags((TEXT_TAG, *self.props.notes.bindtags()))
        paned.add(left, weight=3)
        paned.add(self.props, weight=1)
        self._paned = paned
        paned.bind("<Map>", self._place_sash, add="+")

    def _place_sash(self, _event: object = None) -> None:
        """Give the messages the room and the properties ~360 px, once, when first shown: the
        panes' requested widths would leave the message headers too narrow in a 1120 px window."""
        self._paned.unbind("<Map>")
        width = self._paned.winfo_width()
        if width > 800:
            self._paned.sashpos(0, width - max(360, width // 3))

    def _build_menu(self) -> None:
        menubar = tk.Menu(self)
        menus: dict[str, tk.Menu] = {}
        for name in ("Chat", "Edit", "Message", "Tools"):
            menus[name] = tk.Menu(menubar, tearoff=False)
            menubar.add_cascade(label=name, menu=menus[name], underline=0)
        for a in ACTIONS:
            if not a.menu:
                continue
            m = menus[a.menu]
            if a.event in ("<<Find>>", "<<AddMessage>>", "<<FocusPrevMessage>>", "<<AddTool>>", "<<GenerateReply>>",
                           "<<CloseEditor>>", "<<AddToolCall>>", "<<PrevVersion>>"):
                m.add_separator()
            m.add_command(label=a.label, accelerator=a.accel, command=lambda ev=a.event: self.event_generate(ev))
        self.menus = menus
        self.configure(menu=menubar)

    def _bind_events(self) -> None:
        handlers: dict[str, Callable[[], Any]] = {
            "<<Save>>": self.save_now,
            "<<CloseEditor>>": self.close,
            "<<JournalUndo>>": self.journal_undo,
            "<<JournalRedo>>": self.journal_redo,
            "<<Find>>": self.open_find,
            "<<FindNext>>": lambda: self.find_next(1),
            "<<FindPrev>>": lambda: self.find_next(-1),
            "<<ReplaceDataset>>": self.open_replace,
            "<<SelectAllMessages>>": self.select_all,
            "<<ClearSelection>>": self.clear_selection,
            "<<AddMessage>>": self.add_message_at_end,
            "<<InsertBelow>>": lambda: self.insert_message(below=True),
            "<<InsertAbove>>": lambda: self.insert_message(below=False),
            "<<DuplicateMessage>>": self.duplicate_messages,
            "<<MoveMessageUp>>": lambda: self.move_messages(-1),
            "<<MoveMessageDown>>": lambda: self.move_messages(1),
            "<<DeleteMessage>>": self.delete_messages,
            "<<ToggleTrain>>": self.toggle_train,
            "<<AddToolCall>>": self.add_tool_call,
            "<<FocusPrevMessage>>": lambda: self.focus_relative(-1),
            "<<FocusNextMessage>>": lambda: self.focus_relative(1),
            "<<GenerateReply>>": lambda: self.assist.generate(),
            "<<ContinueReply>>": lambda: self.assist.continue_reply(),
            "<<StopGenerating>>": self.stop_generating,
            "<<PrevVersion>>": lambda: self._version_action(-1),
            "<<NextVersion>>": lambda: self._version_action(1),
            "<<DeleteVersion>>": lambda: self._version_action(0),
            "<<AddTool>>": self.add_tool,
            "<<EditTool>>": self.edit_tool,
            "<<DeleteTool>>": self.delete_tool,
        }
        for event, fn in handlers.items():
            self.bind(event, lambda e, f=fn: self._run(f))
        # Keys anywhere in the window (message widgets handle them first through MSG_TAG).
        for a in ACTIONS:
            for key in a.keys:
                self.bind(key, lambda e, v=a.event: self._key(e, v))
        for key in UNDO_KEYS:
            self.bind(key, lambda e: self._key(e, "<<JournalUndo>>"))
        for key in REDO_KEYS:
            self.bind(key, lambda e: self._key(e, "<<JournalRedo>>"))
        self.bind("<Escape>", lambda e: self._key(
            e, "<<StopGenerating>>" if self.assist.streaming() else "<<ClearSelection>>"))
        c = self.canvas
        c.bind("<Configure>", self._on_canvas_configure)
        # The ring shows when the list itself has the keyboard (selection mode), not a message in it.
        c.bind("<FocusIn>", lambda e: self.after_idle(self._paint_canvas_focus), add="+")
        c.bind("<FocusOut>", lambda e: self.after_idle(self._paint_canvas_focus), add="+")
        c.bind("<Button-1>", lambda e: c.focus_set())
        c.bind("<Up>", lambda e: self._select_step(-1))
        c.bind("<Down>", lambda e: self._select_step(1))
        c.bind("<Delete>", lambda e: self.event_generate("<<DeleteMessage>>"))
        c.bind("<Return>", lambda e: self._edit_current())
        c.bind("<Control-a>", lambda e: self.event_generate("<<SelectAllMessages>>"))
        c.bind("<Prior>", lambda e: self.scroll_pixels(-int(self.view_height() * 0.9)))
        c.bind("<Next>", lambda e: self.scroll_pixels(int(self.view_height() * 0.9)))
        c.bind("<Home>", lambda e: self._scroll_to(0))
        c.bind("<End>", lambda e: self._scroll_to(self.total_height))

    def _paint_canvas_focus(self) -> None:
        if self.closed:
            return
        try:
            mine = self.focus_get() is self.canvas
        except (KeyError, tk.TclError):
            mine = False
        self.canvas.configure(highlightcolor=st.ACCENT if mine else st.CANVAS_BG)

    def _key(self, event: tk.Event, virtual: str) -> str:
        if virtual in ("<<JournalUndo>>", "<<JournalRedo>>") and isinstance(event.widget, tk.Text):
            return "break"  # a Text's own undo (its class binding ran already)
        self.event_generate(virtual)
        return "break"

    def _run(self, fn: Callable[[], Any]) -> str:
        """Run an action; a domain error becomes a status line instead of a traceback."""
        if self.closed:
            return "break"
        try:
            fn()
        except LimaError as e:
            self.status(str(e), error=isinstance(e, DatasetError))
            self.bell()
        except sqlite3.OperationalError as e:  # a write the store did not put in words (busy, full)
            self.status(f"Nothing was changed: {plain_reason(e)}; try again", error=True)
            self.bell()
        return "break"

    # -- status ------------------------------------------------------------------------------

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None:
        """The editor's status line and the main window's; `error` shows it in red there too.
        `brief`: a shorter text for the editor's own line (it shares a row with the buttons)."""
        if not self.closed:
            self.status_label.configure(text=brief or text,
                                        style="EditorStatusError.TLabel" if error else "Status.TLabel")
        try:
            if error:
                try:
                    self.app.status(text, error=True)
                except TypeError:  # an App without the error flag
                    self.app.status(text)
            else:
                self.app.status(text)
        except Exception:  # noqa: BLE001 - the main window may be closing; the editor's own line shows it
            pass

    # -- loading and reloading ---------------------------------------------------------------

    def _load(self, chat: Any) -> None:
        self.chat = chat
        self.title(f"{chat.name or 'Untitled chat'} – lima-tk")
        self.props.load(chat, self.store.get_settings())
        self._tool_names = {t.name for t in chat.tools}
        self.messages = {int(m.id): m for m in chat.messages}  # type: ignore[arg-type]
        self.order = [int(m.id) for m in chat.messages]  # type: ignore[arg-type]
        self._index = {mid: i for i, mid in enumerate(self.order)}
        self._compute_links()
        self.tokens.schedule()  # token counts and budget (issue 6), a moment later

    # -- token counts (lima_tk/ui/editor_tokens.py) -------------------------------------------

    def token_service(self) -> Any:
        """The main window's token counting (None over a stand-in window)."""
        return token_service(self.app)

    def token_counts_changed(self) -> None:
        """The main window's counts changed (a pass ended, the tokenizer changed): recount."""
        self.tokens.schedule()

    def show_budget(self, total: int | None, limit: int, estimate: bool) -> None:
        self.props.set_budget(total, limit, estimate)

    def tool_names(self) -> set[str]:
        return self._tool_names

    def _populate(self) -> None:
        """Create the cards at the end first (what the view shows), the rest in chunks."""
        self.update_idletasks()
        view = max(self.view_height(), 600) + 400
        acc = 0
        i = len(self.order) - 1
        while i >= 0 and (acc < view or len(self.order) - i <= 2):
            mid = self.order[i]
            self._create_card(mid, i)
            acc += self.cards[mid].winfo_reqheight() + CARD_GAP
            i -= 1
        self._pending = self.order[: i + 1]
        self._layout()
        self._scroll_to(self.total_height)
        if self.order:
            self.after_idle(self._focus_initial)
        if self._pending:
            self._chunk_job = self.after(1, self._create_chunk)
        else:
            self._loaded()

    def _focus_initial(self) -> None:
        if self.closed or not self.order:
            return
        try:
            focus = self.focus_get()
        except (KeyError, tk.TclError):
            focus = None
        if focus is None or focus is self:
            self.focus_message(self.order[-1], see=False)

    def _create_chunk(self) -> None:
        self._chunk_job = None
        if self.closed:
            return
        made = 0
        while self._pending and made < CHUNK:
            mid = self._pending.pop()
            if mid in self.messages and mid not in self.cards:
                self._create_card(mid, self._index[mid])
                made += 1
        self._layout()
        if self._pending:
            self._chunk_job = self.after(1, self._create_chunk)
        else:
            self._loaded()

    def _create_all_pending(self) -> None:
        if not self._pending:
            return
        if self._chunk_job is not None:
            self.after_cancel(self._chunk_job)
            self._chunk_job = None
        while self._pending:
            mid = self._pending.pop()
            if mid in self.messages and mid not in self.cards:
                self._create_card(mid, self._index[mid])
        self._layout()
        self._loaded()

    def _loaded(self) -> None:
        if not self.ready:
            self.ready = True
            self.event_generate("<<EditorReady>>")

    def _create_card(self, mid: int, index: int) -> MessageCard:
        card = MessageCard(self, self.messages[mid], index)
        card.item = self.canvas.create_window(CARD_MARGIN, -10000, anchor="nw", window=card,
                                              width=self.card_width())
        self.cards[mid] = card
        if self.readonly:
            card.text.configure(state="disabled")
        if mid in self._links:
            card.set_answer_options(*self._links[mid])
        if mid in self.selection:
            card.set_state(selected=True)
        if self.find_pattern:
            self._highlight_card(card)
        card.fit()
        return card

    def reload(self, focus: int | None = None) -> None:
        """Rebuild the view from the store, keeping scroll position, focus and typing."""
        if self.closed:
            return
        self.flush(strict=False)  # what cannot be written now stays in its card (see update_message)
        try:
            chat = self.store.get_chat(self.chat_id)
        except NotFound:
            self._chat_gone()
            return
        self.reload_count += 1
        old_tools = self._tool_names
        old = (self.order, self.messages, self.chat.tools)
        self._load(chat)
        if (self.order, self.messages, self.chat.tools) != old:
            self.structural_change()
        self.assist.check_after_reload()
        for mid in [m for m in self.cards if m not in self.messages]:
            card = self.cards.pop(mid)
            self.canvas.delete(card.item)
            card.destroy()
        self._pending = [m for m in self._pending if m in self.messages]
        pending = set(self._pending)
        tools_changed = old_tools != self._tool_names
        for i, mid in enumerate(self.order):
            card = self.cards.get(mid)
            msg = self.messages[mid]
            if card is not None:
                text_before = card.saved_text
                card.update_message(msg, i, keep_text=mid in self._dirty)
                if tools_changed:
                    card.redraw_role_widgets()
                if mid in self._links:
                    card.set_answer_options(*self._links[mid])
                if card.saved_text != text_before:
                    card.fit()
                    if self.find_pattern:
                        self._highlight_card(card)
            elif mid not in pending:
                self._create_card(mid, i)
        self.selection &= set(self.order)
        self._dirty &= set(self.order)
        for card in self.cards.values():
            card.set_state(selected=card.mid in self.selection)
        if self.find_pattern:
            self._collect_matches()
        self._layout()
        if focus is not None and focus in self.messages:
            self.focus_message(focus)
        elif self.current_id not in self.messages:
            self.current_id = None
        if not self.order:
            self.canvas.focus_set()

    def structural_change(self) -> None:
        """The chat changed other than by typing (insert, delete, move, role, undo/redo, another
        window...): from now on Ctrl+Z in a Text is the journal's until the user types in that
        Text again, and no Text can undo into the state before (their own stacks start empty)."""
        self._structural += 1
        for card in self.cards.values():
            if card.mid not in self._dirty:
                card.text.edit_reset()
        self.props.notes.edit_reset()

    def note_typed(self, widget: tk.Misc) -> None:
        """The user changed a Text by typing (or pasting, or its own undo)."""
        widget.typed_at = self._structural  # type: ignore[attr-defined]

    def typed_since_structural(self, widget: tk.Misc) -> bool:
        """Whether Ctrl+Z in this Text is its own undo (see _on_undo_key)."""
        return getattr(widget, "typed_at", None) == self._structural

    def _chat_gone(self) -> None:
        self.status("This chat no longer exists; its window was closed")
        self._shutdown()

    # -- tool-call links ---------------------------------------------------------------------

    def _compute_links(self) -> None:
        """For each tool message: the open calls it may answer, and a warning when it is not
        linked to exactly one earlier call."""
        answered: dict[str, int] = {}
        for mid in self.order:
            m = self.messages[mid]
            if m.role == "tool" and m.tool_call_id:
                answered.setdefault(m.tool_call_id, mid)
        opened: list[tuple[str, str]] = []
        self._links = {}
        for mid in self.order:
            m = self.messages[mid]
            if m.role == "assistant" and m.tool_calls:
                for call in m.tool_calls:
                    fn = call.get("function") or {}
                    opened.append((str(call.get("id", "")), str(fn.get("name", "?"))))
            elif m.role == "tool":
                options = [(cid, name) for cid, name in opened if answered.get(cid) in (None, mid)]
                ids = {cid for cid, _ in opened}
                cid = m.tool_call_id
                if not cid:
                    warning = "⚠ not linked to a call"
                elif cid not in ids:
                    warning = "⚠ no earlier call has this id"
                elif answered.get(cid) != mid:
                    warning = f"⚠ call already answered by #{self._index[answered[cid]] + 1}"
                else:
                    warning = None
                self._links[mid] = (options, warning)

    def calls_to(self, function: str) -> list[tuple[int, int]]:
        """(message id, call index) of every tool call of this chat that names `function`."""
        out = []
        for mid in self.order:
            for i, call in enumerate(self.messages[mid].tool_calls or []):
                if (call.get("function") or {}).get("name") == function:
                    out.append((mid, i))
        return out

    def answers_to(self, call_ids: Iterable[str]) -> list[int]:
        ids = set(call_ids)
        return [mid for mid in self.order
                if self.messages[mid].role == "tool" and self.messages[mid].tool_call_id in ids]

    # -- geometry ----------------------------------------------------------------------------

    def card_width(self) -> int:
        w = self.canvas.winfo_width()
        if w <= 1:
            w = int(self.canvas.cget("width"))
        return max(200, w - 2 * CARD_MARGIN - 4)

    def text_width(self) -> int:
        return self.card_width() - 2 * CARD_BORDER

    def _on_canvas_configure(self, event: tk.Event) -> None:
        if event.width != self._canvas_width:
            self._canvas_width = event.width
            w = self.card_width()
            for card in self.cards.values():
                self.canvas.itemconfigure(card.item, width=w)
            self.empty_label.place_configure(relx=0.5, rely=0.4, anchor="center")
            if self._refit_job is not None:
                self.after_cancel(self._refit_job)
            self._refit_job = self.after(40, self.refit_all)
        else:
            self._schedule_layout()

    def refit_all(self) -> None:
        """Measure every card again, the visible ones first. Runs after a width change; the main
        window calls it after changing the font size (named fonts change without an event)."""
        self._refit_job = None
        if self.closed:
            return
        height = tkfont.nametofont("TkDefaultFont", root=self).metrics("linespace") + 2 * st.PAD
        if height != self.button_height:
            self.button_height = height
            for card in self.cards.values():
                card.redraw_buttons()
        self.measurer.width = 0  # the font may have changed: measure afresh
        top = self.view_top()
        bottom = top + self.view_height()
        cards = sorted(self.cards.values(), key=lambda c: 0 if c.y + c.h >= top and c.y <= bottom else 1)
        for card in cards:
            card.fit()
        self._layout()

    def _schedule_layout(self) -> None:
        if self._layout_job is None and not self.closed:
            self._layout_job = self.after_idle(self._layout)

    def _estimate(self, mid: int) -> int:
        m = self.messages[mid]
        text = m.content or ""
        cpl = max(20, self.text_width() // 8)
        lines = min(self.max_lines, text.count("\n") + 1 + len(text) // cpl)
        return 40 + lines * 18 + 2 * CARD_BORDER

    def _layout(self) -> None:
        """Place the cards one under the other; keep the view on what it showed."""
        if self._layout_job is not None:
            try:
                self.after_cancel(self._layout_job)
            except tk.TclError:
                pass
            self._layout_job = None
        if self.closed or self._in_layout:
            return
        self._in_layout = True
        try:
            self.update_idletasks()  # the cards' requested heights
            if self.closed:
                return
            anchor = None if self._stick_bottom else self._anchor()
            y = CARD_MARGIN
            for mid in self.order:
                card = self.cards.get(mid)
                if card is None:
                    y += self._estimate(mid) + CARD_GAP
                    continue
                if card.y != y:
                    self.canvas.coords(card.item, CARD_MARGIN, y)
                    card.y = y
                card.h = card.winfo_reqheight()
                y += card.h + CARD_GAP
            self.total_height = y - CARD_GAP + CARD_MARGIN if self.order else 0
            self.canvas.configure(scrollregion=(0, 0, self.card_width() + 2 * CARD_MARGIN, self.total_height))
            if self.order:
                self.empty_label.place_forget()
            else:
                self.empty_label.place(relx=0.5, rely=0.4, anchor="center")
            if self._stick_bottom:
                self.canvas.yview_moveto(1.0)
            elif anchor is not None:
                mid, offset = anchor
                card = self.cards.get(mid)
                if card is not None:
                    self._scroll_to(card.y + offset)
        finally:
            self._in_layout = False
        if self._see_after_layout is not None:
            card, self._see_after_layout = self._see_after_layout, None
            self._see_insert(card)

    def _anchor(self) -> tuple[int, float] | None:
        top = self.view_top()
        for mid in self.order:
            card = self.cards.get(mid)
            if card is not None and card.y >= 0 and card.y + card.h > top:
                return mid, top - card.y
        return None

    # -- scrolling ---------------------------------------------------------------------------

    def _inset(self) -> int:
        return int(self.canvas.cget("highlightthickness")) + int(self.canvas.cget("borderwidth"))

    def view_top(self) -> float:
        """Canvas y of the first visible pixel row."""
        return self.canvas.canvasy(0) + self._inset()

    def view_height(self) -> int:
        h = self.canvas.winfo_height()
        if h <= 1:
            h = int(self.canvas.cget("height"))
        return max(1, h - 2 * self._inset())

    def _on_scrollbar(self, *args: Any) -> None:
        self._stick_bottom = False
        self.canvas.yview(*args)

    def _scroll_to(self, top: float) -> None:
        total = max(self.total_height, 1)
        top = max(0.0, min(float(top), total - self.view_height()))
        self.canvas.yview_moveto(top / total)

    def scroll_pixels(self, dy: int) -> None:
        if dy == 0:
            return
        self._stick_bottom = False
        self._scroll_to(self.view_top() + dy)

    def _see_range(self, y1: float, y2: float) -> None:
        top = self.view_top()
        h = self.view_height()
        if y2 - y1 > h:
            target = y1 - CARD_GAP
        elif y1 < top:
            target = y1 - CARD_GAP
        elif y2 > top + h:
            target = y2 - h + CARD_GAP
        else:
            return
        self._scroll_to(target)

    def see_card(self, card: MessageCard, index: str | None = "insert") -> None:
        """Scroll so the card shows (or, when taller than the view, the line at `index`)."""
        if self._layout_job is not None or card.y < 0:
            self._layout()
        h = self.view_height()
        if card.h <= h or index is None or card.text.capped:
            self._see_range(card.y, card.y + card.h)
            if index is not None and card.text.capped:
                card.text.see(index)
            return
        self._see_line(card, index)

    def _see_line(self, card: MessageCard, index: str) -> None:
        t = card.text
        dy = int(t.tk.call(t._w, "count", "-update", "-ypixels", "1.0", index))
        line = int(t.tk.call("font", "metrics", t.cget("font"), "-linespace"))
        y1 = card.y + card.text_top() + int(TEXT_OPTIONS["pady"]) + dy
        y2 = y1 + line
        if t.compare(f"{index} linestart", "==", "end-1c linestart"):
            y2 = max(y2, card.y + card.h)  # on the last line: show the end of the card too
        self._see_range(y1, y2)

    def schedule_see_insert(self, card: MessageCard) -> None:
        if self._see_job is None:
            self._see_job = self.after_idle(lambda: self._see_insert(card))

    def _see_insert(self, card: MessageCard) -> None:
        self._see_job = None
        if self.closed or card.mid not in self.cards or not card.focused:
            return
        if self._in_layout:  # ran from inside the layout's update_idletasks: wait for its heights
            self._see_after_layout = card
            return
        if self._layout_job is not None:
            self._layout()
        if card.text.capped:
            self._see_range(card.y, card.y + min(card.h, self.view_height()))
        else:
            self._see_line(card, "insert")

    # -- typing and saving -------------------------------------------------------------------

    def text_modified(self, card: MessageCard) -> None:
        t = card.text
        if not t.edit_modified():
            return
        t.edit_modified(False)
        if card.loading or self.closed:
            return
        self._dirty.add(card.mid)
        self.note_typed(t)
        self._autosave.touched()
        if self._autosave.failing and not card.unsaved:  # it cannot be saved right now either: say so
            card.set_unsaved(self._unsaved_text())
            self._schedule_layout()
        if card.placeholder is not None and card.placeholder.winfo_manager():
            card.update_placeholder()
        if card.fit():
            self._schedule_layout()
        if self.find_pattern:
            self._highlight_card(card)
        if card.focused:
            self.schedule_see_insert(card)

    @property
    def save_delay(self) -> int:
        """Typing pause (ms) before the text is saved; it is saved at the latest `save_max_wait`
        ms after the first unsaved key whatever the pauses."""
        return self._autosave.delay_ms

    @save_delay.setter
    def save_delay(self, ms: int) -> None:
        self._autosave.delay_ms = int(ms)

    @property
    def save_max_wait(self) -> int:
        return self._autosave.max_wait_ms

    @save_max_wait.setter
    def save_max_wait(self, ms: int) -> None:
        self._autosave.max_wait_ms = int(ms)

    def _save_pending(self) -> None:
        """The autosave timer's work (the benchmark calls it): write what is unsaved, retry on failure."""
        if not self.closed:
            self._autosave.attempt()

    def save_soon(self) -> bool:
        """Write what is unsaved now without raising (focus-out, the properties panel); a failure
        is shown on the message and retried. True when nothing is left unsaved."""
        if self.closed:
            return True
        return self._autosave.attempt()

    def _write_pending(self) -> None:
        """Write every unsaved text: the messages, then the properties. Raises the first write
        failure; what was not written stays unsaved (the Autosaver retries)."""
        for mid, card in self.cards.items():  # a <<Modified>> may still be queued: take it now
            if card.text.edit_modified() and not card.loading:
                card.text.edit_modified(False)
                self._dirty.add(mid)
                self.note_typed(card.text)
        for mid in sorted(self._dirty):
            card = self.cards.get(mid)
            if card is None:
                self._dirty.discard(mid)
                continue
            self._save_card(card)
        if self.props.flush():
            self._written += 1

    def _save_card(self, card: MessageCard) -> bool:
        """Write one card's text; True when it was written. A write failure propagates and
        the card stays dirty: it is cleared only once the text is in the dataset."""
        mid = card.mid
        saved = False
        if not self.assist.streaming(mid):  # else the stream writes it (the Text is read-only meanwhile)
            text = card.get_text()
            if text != card.saved_text:
                try:
                    self.store.edit_message_text(mid, text)
                except NotFound:  # deleted meanwhile (another window, an undo)
                    text = card.saved_text
                else:
                    saved = True
                    card.saved_text = text
                    card.message.content = text
                    self._saved_any = True
                    self._written += 1
        self._dirty.discard(mid)
        if card.unsaved:
            card.set_unsaved(None)
            self._schedule_layout()
        if saved:
            self.tokens.schedule()  # recount the saved message (issue 6)
        return saved

    def _unsaved_text(self) -> str:
        return f"Not saved: {self._autosave.reason()}, retrying"

    def _save_state(self, exc: BaseException | None) -> None:
        """The Autosaver's news: saving started failing (or for another reason), or works again."""
        if self.closed:
            return
        if exc is None:
            for card in self.cards.values():
                if card.unsaved:
                    card.set_unsaved(None)
            self._schedule_layout()
            self.status(f"Saved {time.strftime('%H:%M:%S')}")
            return
        text = self._unsaved_text()
        for mid in sorted(self._dirty):
            card = self.cards.get(mid)
            if card is not None:
                card.set_unsaved(text)
        self._schedule_layout()
        where = [f"#{self._index[m] + 1}" for m in sorted(self._dirty, key=lambda m: self._index.get(m, 0))
                 if m in self._index]
        what = f"message {', '.join(where)}" if where else "the chat's properties"
        self.status(f"{text} ({what} of “{self.chat.name or 'Untitled chat'}”)", error=True,
                    brief="⚠ Not saved, retrying")  # the message itself says why

    def _save_error(self) -> DatasetError:
        """The error a structural action raises when pending typing could not be saved first:
        the action changes nothing; the typing stays and is retried."""
        exc = self._autosave.failure
        reason = plain_reason(exc) if exc is not None else "the dataset could not be written"
        cls = DatasetBusy if isinstance(exc, DatasetBusy) or "another program" in reason else \
            DatasetFull if isinstance(exc, DatasetFull) or "disk is full" in reason else DatasetError
        return cls(f"Nothing was changed: {reason}. Your typing is kept and saved as soon as it can be")

    def has_unsaved(self) -> bool:
        """Typing (messages or properties) that is not in the dataset yet."""
        if any(card.text.edit_modified() for card in self.cards.values()):
            return True
        return bool(self._dirty) or bool(self.props.pending())

    def unsaved_texts(self) -> list[tuple[str, str]]:
        """(where, text) of everything not saved yet: for the close question and its copy."""
        out = []
        for mid in sorted(self._dirty, key=lambda m: self._index.get(m, 0)):
            card = self.cards.get(mid)
            if card is not None and card.get_text() != card.saved_text:
                out.append((describe(self.chat.name, self._index.get(mid)), card.get_text()))
        pending = self.props.pending()
        if pending:
            out.append((describe(self.chat.name, None),
                        "\n".join(f"{k}: {v}" for k, v in pending.items())))
        return out

    def save_failure(self) -> str | None:
        """Why saving fails right now (plain words), None when it does not."""
        return self._autosave.reason()

    def flush(self, strict: bool = True) -> int:
        """Save pending typing (messages and properties) now; returns how many fields were
        written. When a write fails the typing stays unsaved and is retried; `strict` (the
        default, for callers about to change the chat) then raises a DatasetError with a plain
        sentence, so the caller changes nothing."""
        if self.closed:
            return 0
        before = self._written
        if not self._autosave.attempt() and strict:
            raise self._save_error()
        return self._written - before

    def save_now(self) -> None:
        if not self._autosave.attempt():
            self.status(self._unsaved_text(), error=True)
            return
        if self._saved_any:
            self._saved_any = False
            self.app.data_changed(source=self)
        self.status(f"Saved {time.strftime('%H:%M:%S')}")

    def save_properties(self, **fields: Any) -> None:
        """Called by the properties panel: name, language, tags, notes."""
        if self.readonly:
            raise LimaError("The dataset is read-only")
        self.store.update_chat(self.chat_id, **fields)
        self._changed()

    # -- focus and selection -----------------------------------------------------------------

    def card_focus(self, card: MessageCard, widget: tk.Misc, focused: bool) -> None:
        if focused:
            self.current_id = card.mid
            if isinstance(widget, AutoText):
                if self.selection and card.mid not in self.selection:
                    self.clear_selection()
                if card.mid != (self.order[-1] if self.order else None):
                    self._stick_bottom = False
                card.set_state(focused=True)
        elif isinstance(widget, AutoText):
            card.set_state(focused=False)
            if card.mid in self._dirty or card.text.edit_modified():
                self.save_soon()

    def focus_message(self, mid: int, see: bool = True, index: str | None = None) -> None:
        card = self.cards.get(mid)
        if card is None:
            if mid not in self.messages:
                return
            if mid in self._pending:
                self._pending.remove(mid)
            card = self._create_card(mid, self._index[mid])
            self._layout()
        self.current_id = mid
        if index is not None:
            card.text.mark_set("insert", index)
        if see:
            self.see_card(card)
        self.update_idletasks()
        card.text.focus_set()

    def show_message(self, index: int) -> None:
        """Scroll to the message at `index` (0-based, clamped) and put the cursor at its start;
        the view stops following the end of the chat. (The main window's `open_chat(chat_id,
        message_index)`, used by the Problems panel.)"""
        if self.closed or not self.order:
            return
        self._stick_bottom = False
        self.focus_message(self.order[max(0, min(int(index), len(self.order) - 1))], index="1.0")

    def focused_card(self) -> MessageCard | None:
        try:
            w = self.focus_get()
        except (KeyError, tk.TclError):
            return None
        card = getattr(w, "card", None)
        return card if isinstance(card, MessageCard) and card.mid in self.cards else None

    def current_card(self) -> MessageCard | None:
        """The message last focused or clicked (a header action sets it too)."""
        if self.current_id is not None and self.current_id in self.messages:
            return self.cards.get(self.current_id) or self._create_card_now(self.current_id)
        return self.focused_card()

    def _create_card_now(self, mid: int) -> MessageCard:
        if mid in self._pending:
            self._pending.remove(mid)
        card = self._create_card(mid, self._index[mid])
        self._layout()
        return card

    def targets(self) -> list[int]:
        """The messages an action applies to: the selection, else the current message."""
        if self.selection:
            return [m for m in self.order if m in self.selection]
        card = self.current_card()
        return [card.mid] if card is not None else []

    def header_click(self, card: MessageCard, state: int) -> None:
        ctrl, shift = bool(state & 0x4), bool(state & 0x1)
        if shift and self._sel_anchor in self._index:
            a, b = sorted((self._index[self._sel_anchor], self._index[card.mid]))  # type: ignore[index]
            self.selection = set(self.order[a: b + 1])
        elif ctrl:
            self.selection ^= {card.mid}
            self._sel_anchor = card.mid
        else:
            self.selection = {card.mid}
            self._sel_anchor = card.mid
        self.current_id = card.mid
        self._paint_selection()
        self.canvas.focus_set()
        n = len(self.selection)
        if n > 1:
            self.status(f"{n} messages selected (Ctrl+Delete deletes, Alt+Shift+Up/Down moves, Escape clears)")

    def select(self, ids: Iterable[int]) -> None:
        self.selection = {i for i in ids if i in self.messages}
        self._paint_selection()

    def select_all(self) -> None:
        self.select(self.order)
        self.canvas.focus_set()

    def clear_selection(self) -> None:
        if self.find_pattern and self.findbar.winfo_ismapped() and not self.selection:
            self.close_find()
            return
        if self.selection:
            self.selection = set()
            self._paint_selection()

    def _paint_selection(self) -> None:
        for card in self.cards.values():
            card.set_state(selected=card.mid in self.selection)

    def _select_step(self, delta: int) -> str:
        if not self.order:
            return "break"
        cur = self.current_id if self.current_id in self._index else None
        i = 0 if cur is None else max(0, min(len(self.order) - 1, self._index[cur] + delta))  # type: ignore[index]
        mid = self.order[i]
        self.current_id = mid
        self._sel_anchor = mid
        self.select([mid])
        card = self.cards.get(mid) or self._create_card_now(mid)
        self.see_card(card, None)
        return "break"

    def _edit_current(self) -> str:
        if self.current_id in self.messages:
            self.focus_message(self.current_id)  # type: ignore[arg-type]
        return "break"

    def focus_relative(self, delta: int) -> None:
        card = self.current_card()
        if card is None:
            if self.order:
                self.focus_message(self.order[-1 if delta < 0 else 0])
            return
        i = self._index[card.mid] + delta
        if 0 <= i < len(self.order):
            self._stick_bottom = False
            self.focus_message(self.order[i])

    def focus_neighbour_text(self, card: MessageCard, delta: int) -> None:
        i = self._index.get(card.mid, 0) + delta
        if 0 <= i < len(self.order):
            self.focus_message(self.order[i])
        else:
            card.text.focus_set()

    def leave_text(self, card: MessageCard, back: bool) -> None:
        if back:
            card.role_box.focus_set()
            return
        i = self._index.get(card.mid, 0) + 1
        if i < len(self.order):
            nxt = self.cards.get(self.order[i]) or self._create_card_now(self.order[i])
            self.see_card(nxt, None)
            nxt.role_box.focus_set()
        else:
            self.add_button.focus_set()

    # -- structural actions ------------------------------------------------------------------

    def _writable(self) -> bool:
        if self.readonly:
            self.status("The dataset is read-only")
            self.bell()
            return False
        return True

    def _changed(self, focus: int | None = None, status: str | None = None) -> None:
        self.reload(focus=focus)
        self.app.data_changed(source=self)
        if status:
            self.status(status)

    def add_message(self, position: int | None, role: str, content: str = "") -> int:
        """Insert a message (position None: at the end), focus it and show it."""
        if not self._writable():
            return -1
        self.flush()
        mid = self.store.add_message(self.chat_id, role, content, position)
        self._stick_bottom = position is None or position >= len(self.order)
        self._changed(focus=mid)
        return mid

    def add_message_at_end(self) -> None:
        last = self.messages[self.order[-1]].role if self.order else None
        self.add_message(None, NEXT_ROLE.get(last, "user") if last else "user")

    def insert_message(self, below: bool = True) -> None:
        card = self.current_card()
        if card is None:
            self.add_message_at_end()
            return
        i = self._index[card.mid]
        if below:
            self.add_message(i + 1, NEXT_ROLE.get(card.role, "user"))
        else:
            prev = self.messages[self.order[i - 1]].role if i > 0 else None
            self.add_message(i, NEXT_ROLE.get(prev, "user") if prev else "user")

    def duplicate_messages(self) -> None:
        ids = self.targets()
        if not ids or not self._writable():
            return
        self.flush()
        current = self.current_id
        new_of: dict[int, int] = {}
        with self.store.change(f"Duplicate {len(ids)} message{'s' if len(ids) > 1 else ''}", "add_message"):
            for mid in reversed(ids):
                new = self.store.duplicate_message(mid)
                new_of[mid] = new
                calls = self.messages[mid].tool_calls
                if calls:  # call ids must stay unique within the chat
                    fresh = [dict(c, id=new_call_id()) for c in calls]
                    self.store.update_message(new, tool_calls=fresh)
        focus = new_of.get(current) if current in new_of else new_of[ids[-1]]  # type: ignore[arg-type]
        self._changed(focus=focus, status=f"Duplicated {len(ids)} message{'s' if len(ids) > 1 else ''}")

    def delete_messages(self) -> None:
        ids = self.targets()
        if not ids or not self._writable():
            return
        if self.assist.stream is not None and self.assist.stream.mid in ids:
            self.assist.stop()
        self.flush()
        first = min(self._index[m] for m in ids)
        had_focus = self.focused_card() is not None
        n = self.store.delete_messages(ids)
        self.selection = set()
        self.current_id = None
        rest = [m for m in self.order if m not in set(ids)]
        focus = rest[min(first, len(rest) - 1)] if rest else None
        self._changed(focus=focus if had_focus else None,
                      status=f"Deleted {n} message{'s' if n != 1 else ''} (Ctrl+Z outside a text undoes)")
        if focus is not None and not had_focus:
            self.current_id = focus
            self.canvas.focus_set()
        elif focus is None:
            self.canvas.focus_set()

    def move_messages(self, delta: int) -> None:
        ids = self.targets()
        if not ids or not self._writable():
            return
        self.flush()
        before = list(self.order)
        self.store.move_messages(ids, delta)
        focused = self.focused_card()
        self.reload()
        if self.order == before:
            self.bell()
            return
        self.app.data_changed(source=self)
        card = self.cards.get(focused.mid if focused else ids[0 if delta < 0 else -1])
        if card is not None:
            self.see_card(card, "insert" if focused else None)
            if focused is not None:
                card.text.focus_set()

    def toggle_train(self) -> None:
        ids = [m for m in self.targets() if self.messages[m].role == "assistant"]
        if not ids:
            self.status("“Train on this turn” applies to assistant messages")
            return
        if not self._writable():
            return
        cycle = {None: 1, 1: 0, 0: None}
        weight = cycle[self.messages[ids[0]].weight]
        self.flush()
        with self.store.change("Set train on this turn", "update_message"):
            for mid in ids:
                self.store.update_message(mid, weight=weight)
        label = {None: "default", 1: "train (weight 1)", 0: "do not train (weight 0)"}[weight]
        self._changed(status=f"Train on this turn: {label}")

    def change_role(self, card: MessageCard, role: str) -> None:
        if not self._writable() or self._busy(card.mid):
            card.role_box.set(card.role)
            return
        ids = [m for m in self.order if m in self.selection] if card.mid in self.selection else [card.mid]
        dropped = sum(len(self.messages[m].tool_calls or []) for m in ids if role != "assistant")
        if dropped and not ask_confirm(self, "Change role",
                                       f"{dropped} tool call(s) belong to the assistant message(s); changing the "
                                       "role removes them. Continue?"):
            card.role_box.set(card.role)
            return
        try:
            self.flush()
            with self.store.change(f"Change role to {role}", "set_role"):
                self.store.set_role(ids, role)
                for mid in ids:
                    m = self.messages[mid]
                    fields: dict[str, Any] = {}
                    if role != "assistant" and m.weight is not None:
                        fields["weight"] = None
                    if role != "assistant" and m.tool_calls:
                        fields["tool_calls"] = None
                    if role != "tool" and m.tool_call_id:
                        fields["tool_call_id"] = None
                    if fields:
                        self.store.update_message(mid, **fields)
        except LimaError:
            card.role_box.set(card.role)  # nothing changed: show the role the message still has
            raise
        self._changed()

    def set_answer(self, card: MessageCard, call_id: str) -> None:
        if not self._writable():
            return
        try:
            self.flush()
            self.store.update_message(card.mid, tool_call_id=call_id)
        except LimaError:
            if card.mid in self._links:
                card.set_answer_options(*self._links[card.mid])  # nothing changed: show the link it has
            raise
        self._changed()

    def card_action(self, card: MessageCard, action: str, call_index: int | None = None) -> None:
        self.current_id = card.mid
        if action in ASSIST_ACTIONS:
            self._run(lambda: self.assist.card_action(card, action))
            return
        if action in ("edit_call", "remove_call", "add_call") and self._busy(card.mid):
            return
        if action in ("edit_call", "remove_call"):
            self._run(lambda: (self.edit_tool_call(card, call_index) if action == "edit_call"
                               else self.remove_tool_call(card, call_index or 0)))
            return
        if action == "add_call":
            self._run(lambda: self.add_tool_call(card))
            return
        if card.mid not in self.selection:
            self.clear_selection()
        event = {"delete": "<<DeleteMessage>>", "move_down": "<<MoveMessageDown>>", "move_up": "<<MoveMessageUp>>",
                 "duplicate": "<<DuplicateMessage>>", "insert_below": "<<InsertBelow>>",
                 "insert_above": "<<InsertAbove>>", "toggle_train": "<<ToggleTrain>>"}[action]
        self.event_generate(event)

    # -- AI assist (the work is in assist_view.AssistController) ---------------------------

    def _busy(self, mid: int) -> bool:
        """True (and says so) when a reply is streaming into this message."""
        if self.assist.streaming(mid):
            self.status("A reply is being generated into this message: wait for it or stop it (Esc)")
            self.bell()
            return True
        return False

    def _generate_button(self) -> None:
        """The bottom bar's button: Generate reply at the end of the chat, or Stop while streaming."""
        if self.assist.streaming():
            self.stop_generating()
        else:
            self.assist.generate(at_end=True)

    def stop_streaming(self) -> bool:
        """Stop a reply being generated into this chat (the main window's undo does this first:
        the text so far is saved and joins the generation's undo step); False when none was."""
        return self.assist.stop() if self.assist.streaming() else False

    def stop_generating(self) -> None:
        if not self.assist.stop():
            self.status("Nothing is being generated")

    def _version_action(self, delta: int) -> None:
        card = self.current_card()
        if card is None or card.role != "assistant" or not card.message.alternatives:
            self.status("This message has one version: ↻ (Ctrl+G on a reply) makes another")
            return
        if delta:
            self.assist.step_version(card, delta)
        else:
            self.assist.delete_version(card.mid)

    # -- tool calls --------------------------------------------------------------------------

    def add_tool_call(self, card: MessageCard | None = None) -> ToolCallDialog | None:
        card = card or self.current_card()
        if card is None or card.role != "assistant":
            self.status("Tool calls belong to assistant messages: pick one first")
            return None
        if self._busy(card.mid):
            return None
        if not self._writable():
            return None
        if not self.chat.tools:
            self.status("This chat has no functions yet: add one in the Tools panel first")
            self.add_tool()
            return None
        mid = card.mid
        self.dialog = ToolCallDialog(self, self.chat.tools, None,
                                     on_save=_dialog_errors(lambda call: self._save_call(mid, None, call)))
        return self.dialog  # type: ignore[return-value]

    def edit_tool_call(self, card: MessageCard, index: int | None) -> ToolCallDialog | None:
        calls = self.messages[card.mid].tool_calls or []
        if index is None or not 0 <= index < len(calls):
            return None
        mid = card.mid
        self.dialog = ToolCallDialog(self, self.chat.tools, calls[index],
                                     on_save=_dialog_errors(lambda call: self._save_call(mid, index, call)))
        return self.dialog  # type: ignore[return-value]

    def _save_call(self, mid: int, index: int | None, call: dict[str, Any]) -> str | None:
        if mid not in self.messages:
            return "The message no longer exists"
        calls = [dict(c) for c in self.messages[mid].tool_calls or []]
        old_id = calls[index].get("id") if index is not None else None
        used = {c.get("id") for m in self.order for j, c in enumerate(self.messages[m].tool_calls or [])
                if not (m == mid and j == index)}
        if call["id"] in used:
            return f"The call id {call['id']} is already used in this chat"
        if index is None:
            calls.append(call)
        else:
            calls[index] = call
        self.flush()
        with self.store.change("Edit tool call" if index is not None else "Add tool call", "update_message"):
            self.store.update_message(mid, tool_calls=calls)
            if old_id and old_id != call["id"]:
                for answer in self.answers_to([old_id]):
                    self.store.update_message(answer, tool_call_id=call["id"])
        self._changed()
        return None

    def remove_tool_call(self, card: MessageCard, index: int) -> bool:
        calls = [dict(c) for c in self.messages[card.mid].tool_calls or []]
        if not 0 <= index < len(calls) or not self._writable():
            return False
        call = calls.pop(index)
        answers = self.answers_to([str(call.get("id"))])
        if answers:
            where = ", ".join(f"#{self._index[a] + 1}" for a in answers)
            if not ask_confirm(self, "Remove tool call",
                               f"Message {where} answers this call. Remove the call and unlink that answer?"):
                return False
        self.flush()
        with self.store.change("Remove tool call", "update_message"):
            self.store.update_message(card.mid, tool_calls=calls or None)
            for answer in answers:
                self.store.update_message(answer, tool_call_id=None)
        self._changed()
        return True

    # -- tools (function definitions) --------------------------------------------------------

    def add_tool(self) -> ToolDialog | None:
        if not self._writable():
            return None
        self.dialog = ToolDialog(self, None, on_save=_dialog_errors(self._save_new_tool))
        return self.dialog  # type: ignore[return-value]

    def _save_new_tool(self, tool: Tool) -> str | None:
        if tool.name in self._tool_names:
            return f"This chat already has a function named {tool.name!r}"
        self.flush()
        self.store.add_tool(self.chat_id, tool)
        self._changed(status=f"Added function {tool.name}")
        return None

    def _tool(self, tool_id: int | None) -> Tool | None:
        tool_id = tool_id if tool_id is not None else self.props.selected_tool_id()
        return next((t for t in self.chat.tools if t.id == tool_id), None)

    def edit_tool(self, tool_id: int | None = None) -> ToolDialog | None:
        tool = self._tool(tool_id)
        if tool is None:
            self.status("Select a function in the Tools panel first")
            return None
        if not self._writable():
            return None
        self.dialog = ToolDialog(self, tool, on_save=_dialog_errors(lambda new: self._save_tool_edit(tool, new)))
        return self.dialog  # type: ignore[return-value]

    def _save_tool_edit(self, old: Tool, new: Tool) -> str | None:
        refs: list[tuple[int, int]] = []
        if new.name != old.name:
            if new.name in self._tool_names:
                return f"This chat already has a function named {new.name!r}"
            refs = self.calls_to(old.name)
            if refs and not ask_confirm(
                    self, "Rename function",
                    f"{len(refs)} tool call(s) in this chat use {old.name!r}. Rename them to {new.name!r} as well?"):
                return f"Not renamed: {len(refs)} tool call(s) still use {old.name!r}"
        self.flush()
        with self.store.change(f"Edit tool {new.name}", "tool"):
            self.store.update_tool(old.id, new)  # type: ignore[arg-type]
            for mid in sorted({m for m, _ in refs}):
                calls = [dict(c) for c in self.messages[mid].tool_calls or []]
                for _, i in [r for r in refs if r[0] == mid]:
                    calls[i]["function"] = dict(calls[i].get("function") or {}, name=new.name)
                self.store.update_message(mid, tool_calls=calls)
        self._changed(status=f"Saved function {new.name}" + (f" and {len(refs)} call(s)" if refs else ""))
        return None

    def delete_tool(self, tool_id: int | None = None) -> bool:
        tool = self._tool(tool_id)
        if tool is None:
            self.status("Select a function in the Tools panel first")
            return False
        if not self._writable():
            return False
        refs = self.calls_to(tool.name)
        call_ids = [str(self.messages[m].tool_calls[i].get("id")) for m, i in refs]  # type: ignore[index]
        answers = self.answers_to(call_ids)
        if refs and not ask_confirm(
                self, "Delete function",
                f"{len(refs)} tool call(s) use {tool.name!r}"
                + (f" and {len(answers)} tool message(s) answer them" if answers else "")
                + ". Delete the function together with these calls"
                + (" and answers" if answers else "") + "?"):
            return False
        self.flush()
        with self.store.change(f"Delete tool {tool.name}", "tool"):
            self.store.delete_tool(tool.id)  # type: ignore[arg-type]
            for mid in sorted({m for m, _ in refs}):
                calls = [c for c in self.messages[mid].tool_calls or []
                         if (c.get("function") or {}).get("name") != tool.name]
                self.store.update_message(mid, tool_calls=calls or None)
            if answers:
                self.store.delete_messages(answers)
        self._changed(status=f"Deleted function {tool.name}")
        return True

    # -- find in chat ------------------------------------------------------------------------

    def open_find(self) -> None:
        if not self.findbar.winfo_ismapped():
            self.findbar.grid(row=0, column=0, columnspan=2, sticky="ew")
        card = self.focused_card()
        if card is not None and card.text.tag_ranges("sel"):
            sel = card.text.get("sel.first", "sel.last")
            if sel and "\n" not in sel:
                self.findbar.var.set(sel)
        self.findbar.entry.focus_set()
        self.findbar.entry.select_range(0, "end")

    def _on_find_change(self, pattern: str, case: bool) -> None:
        if self.closed:
            return
        self.find_pattern = pattern
        self.find_case = case
        self._create_all_pending()
        for card in self.cards.values():
            self._highlight_card(card)
        self._collect_matches()
        self.find_current = -1
        if self.find_matches:
            self.find_next(1)
        else:
            self.findbar.set_count(-1, 0, pattern)

    def _highlight_card(self, card: MessageCard) -> None:
        t = card.text
        t.tag_remove("find", "1.0", "end")
        t.tag_remove("find_current", "1.0", "end")
        ranges = search_text(t, self.find_pattern, self.find_case)
        card.find_ranges = ranges  # type: ignore[attr-defined]
        if ranges:
            t.tag_add("find", *[i for pair in ranges for i in pair])

    def _collect_matches(self) -> None:
        self.find_matches = [(mid, s, e) for mid in self.order if mid in self.cards
                             for s, e in getattr(self.cards[mid], "find_ranges", [])]
        if self.find_current >= len(self.find_matches):
            self.find_current = len(self.find_matches) - 1
        self.findbar.set_count(self.find_current, len(self.find_matches), self.find_pattern)

    def find_next(self, direction: int = 1) -> None:
        self.findbar.flush()
        if not self.find_matches:
            if self.find_pattern:
                self.bell()
            return
        if 0 <= self.find_current < len(self.find_matches):
            mid, s, e = self.find_matches[self.find_current]
            if mid in self.cards:
                self.cards[mid].text.tag_remove("find_current", "1.0", "end")
        self.find_current = (self.find_current + direction) % len(self.find_matches)
        mid, s, e = self.find_matches[self.find_current]
        card = self.cards[mid]
        card.text.tag_add("find_current", s, e)
        card.text.mark_set("insert", s)
        self._stick_bottom = False
        if card.text.capped:
            self.see_card(card, s)
        else:
            if self._layout_job is not None:
                self._layout()
            self._see_line(card, s)
        self.findbar.set_count(self.find_current, len(self.find_matches), self.find_pattern)

    def close_find(self) -> None:
        self.findbar.grid_remove()
        self.find_pattern = ""
        self.find_matches = []
        self.find_current = -1
        for card in self.cards.values():
            card.text.tag_remove("find", "1.0", "end")
            card.text.tag_remove("find_current", "1.0", "end")
            card.find_ranges = []  # type: ignore[attr-defined]
        card = self.current_card()
        if card is not None:
            card.text.focus_set()

    # -- find and replace in the dataset -----------------------------------------------------

    def open_replace(self) -> ReplaceDialog:
        initial = self.findbar.var.get() if self.find_pattern else ""
        self.dialog = ReplaceDialog(self, self.store, self.chat_id, on_replace=self.replace_in_dataset,
                                    initial=initial)
        return self.dialog  # type: ignore[return-value]

    def replace_in_dataset(self, find: str, replace: str, chat_filter: ChatFilter | None = None,
                           case: bool = False) -> int:
        """Replace in every message of the dataset (or the filter): one undo step."""
        if not self._writable():
            return 0
        self.app.flush_pending()
        self.flush()
        n = self.store.replace_text(find, replace, chat_filter, case)
        if n:
            self._changed(status=f"Replaced {n} occurrence{'s' if n != 1 else ''} of {find!r}")
        else:
            self.status(f"No occurrence of {find!r}")
        return n

    # -- undo / redo through the journal -----------------------------------------------------

    def journal_undo(self) -> None:
        self._journal(self.app.undo)

    def journal_redo(self) -> None:
        self._journal(self.app.redo)

    def _journal(self, fn: Callable[[], Any]) -> None:
        if not self._writable():
            return
        self.assist.stop()  # undo while a reply streams: stop it first (the partial reply is one step)
        self.flush()
        before = self.reload_count
        fn()
        if not self.closed and self.reload_count == before:
            self.reload()

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> bool:
        """Save pending typing, then close (WM_DELETE_WINDOW, Ctrl+W). Text that cannot be saved
        is retried for a moment, then the user is asked: retry, copy the text, or keep the
        window open (False: it stays open). Never closes silently over unsaved text."""
        if self.closed:
            return True
        if self._closing:
            return False
        if self.assist.streaming():
            self.assist.close()  # the partial reply is saved (and not shown over a previous one)
            self._saved_any = True
        self._closing = True
        try:
            grace = self.close_grace_ms
            answer = resolve_unsaved(self, attempt=self.try_save, pieces=self.unsaved_texts, reason=self.save_failure,
                                     **({} if grace is None else {"grace_ms": grace}))
            if answer == "keep" or self.closed:
                if not self.closed:
                    self.status(self._unsaved_text(), error=True)
                return self.closed
        finally:
            self._closing = False
        saved = self._saved_any
        try:
            self.app.user_settings["editor_geometry"] = self.geometry()
        except (tk.TclError, TypeError):
            pass
        self._shutdown()
        if saved:
            self.app.data_changed(source=self)
        return True

    def try_save(self) -> bool:
        """Write everything unsaved now; True when nothing is left unsaved (never raises a
        write failure: it is shown and retried). The main window calls it before quitting."""
        if self.closed:
            return True
        return self._autosave.attempt() and not self.has_unsaved()

    def _cancel_jobs(self) -> None:
        self.assist.close()  # a stream still running (destroyed from outside): stop it, save, join
        self._autosave.cancel()
        self.tokens.close()
        jobs = [self._layout_job, self._chunk_job, self._see_job, self._refit_job,
                self.props._job, self.findbar._job]
        for job in jobs:
            if job is not None:
                try:
                    self.after_cancel(job)
                except tk.TclError:
                    pass
        self._layout_job = self._chunk_job = self._see_job = self._refit_job = None
        self.props._job = self.findbar._job = None
        try:
            self.tk.call("bind", self._own_tag, "<Destroy>", "")
        except tk.TclError:
            pass

    def _shutdown(self) -> None:
        self.closed = True
        self._cancel_jobs()
        if self.app.editors.get(self.chat_id) is self:
            del self.app.editors[self.chat_id]
        try:
            self.destroy()
        except tk.TclError:
            pass

    def _on_destroy(self, event: tk.Event) -> None:
        """Destroyed from outside (the main window closing the dataset): stop, unregister."""
        if not self.closed:
            self.closed = True
            self._cancel_jobs()
            if self.app.editors.get(self.chat_id) is self:
                del self.app.editors[self.chat_id]
