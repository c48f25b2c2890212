"""The chat editor: one Toplevel per chat, messages on the left, properties on the right.

The editor holds the chat as the store returned it (`chat`, `messages`, `order`) and the actions
that change it; its parts each have their own module and depend on the editor only through a
Protocol of lima_tk/ui/interfaces.py:

- `view` (card_canvas.CardCanvas): the message cards on a Canvas, created lazily, laid out and
  scrolled (CanvasHost, and CardHost for the cards: message_frame.MessageCard);
- `nav` (editor_navigation.Navigation): the selection and the current message (NavigationHost);
- `saving` (editor_saving.EditorSaving, with autosave.Autosaver): typed text reaches the dataset
  within a second, failed writes are shown and retried (SavingHost);
- `tools` (tool_actions.ToolActions): functions, tool calls, answered calls (ToolHost);
- `find` (find_replace.ChatFind): find in the chat, replace in the dataset (FindHost);
- `assist` (assist_view.AssistController): AI assist (AssistHost);
- `tokens` (editor_tokens.EditorTokens): token counts and the budget (TokenHost);
- `props` (chat_properties.ChatProperties): name, language, tags, notes, tools (PropertiesHost);
- editor_bindings.py: the keys and the mouse on cards (BindingHost).

Undo. Inside a Text (a message or the notes), Ctrl+Z / Ctrl+Y are that Text's own undo when the
user typed in it since the chat's last structural change; otherwise (and anywhere else in the
window) they are the dataset journal's undo/redo (`app.undo()` / `app.redo()`), after the
pending text was saved. Every structural change empties the Texts' own undo stacks. See
docs/editor.md.

Every action is a virtual event on the editor Toplevel (actions.EDITOR_ACTIONS): menus, buttons
and keys all fire them, and tests do too. Tk thread only.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import DatasetError, LimaError, NotFound
from lima_tk.model import Chat, Message
from lima_tk.ui import editor_bindings
from lima_tk.ui import editor_style as st
from lima_tk.ui.actions import EDITOR_ACTIONS, EDITOR_MENU_GROUPS, EDITOR_MENUS
from lima_tk.ui.assist_view import ASSIST_ACTIONS, AssistController
from lima_tk.ui.autosave import plain_reason, resolve_unsaved
from lima_tk.ui.card_canvas import CardCanvas
from lima_tk.ui.chat_properties import ChatProperties
from lima_tk.ui.editor_bindings import TEXT_TAG
from lima_tk.ui.editor_navigation import Navigation
from lima_tk.ui.editor_saving import EditorSaving
from lima_tk.ui.editor_tokens import EditorTokens, token_service
from lima_tk.ui.find_replace import ChatFind
from lima_tk.ui.menus import MenuBar
from lima_tk.ui.message_actions import MessageActions
from lima_tk.ui.message_frame import MessageCard
from lima_tk.ui.platform import current
from lima_tk.ui.scrolling import WHEEL_PX, wheel_pixels
from lima_tk.ui.theme import wrap_to_width
from lima_tk.ui.tool_actions import ToolActions

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import EditorHost

# Re-exported: the table of the editor's actions, and the wheel, as tests and scripts know them.
ACTIONS = EDITOR_ACTIONS
__all__ = ["ACTIONS", "WHEEL_PX", "ChatEditor", "ask_confirm", "open_chat_editor", "wheel_pixels"]

PROPS_DELAY_MS = 1500  # typing pause before name / notes are saved (each save is an undo step)
MAX_LINES = 40  # a message taller than this scrolls inside its card

_MISSING: Any = object()


def ask_confirm(parent: tk.Misc, title: str, message: str) -> bool:
    """OK/Cancel question. Tests replace this function."""
    return bool(messagebox.askokcancel(title, message, parent=parent))


def open_chat_editor(app: EditorHost, chat_id: int) -> ChatEditor:
    """Open the editor of a chat, or bring its open window to the front."""
    editor = app.editors.get(chat_id)
    if editor is not None and editor.winfo_exists():
        editor.deiconify()
        editor.lift()
        editor.focus_set()
        return editor
    return ChatEditor(app, chat_id)


class ChatEditor(tk.Toplevel):
    """The editor window of one chat (`app`: interfaces.EditorHost). Tk thread only."""

    def __init__(self, app: EditorHost, chat_id: int, save_delay: int | None = None,
                 max_lines: int = MAX_LINES) -> None:
        super().__init__(app.root, background=st.BG)
        self.withdraw()
        self.app = app
        self.store = app.store
        self.chat_id = chat_id
        self.close_grace_ms: int | None = None  # None: autosave.CLOSE_GRACE_MS (tests shorten it)
        self.props_delay = PROPS_DELAY_MS
        self.max_lines = max_lines
        self.readonly = bool(getattr(self.store, "readonly", False))
        self.closed = False
        self.reload_count = 0
        try:
            self.chat: Chat = self.store.get_chat(chat_id)
        except NotFound:
            self.destroy()  # nothing was registered yet
            raise
        self.messages: dict[int, Message] = {}
        self.order: list[int] = []
        self._index: dict[int, int] = {}
        self._tool_names: set[str] = set()
        self._structural = 0  # bumped by every structural change of the chat (the undo rule)
        self._closing = False
        self.dialog: tk.Toplevel | None = None  # the last dialog opened (tool, tool call, replace)
        self.saving = EditorSaving(self, save_delay)
        self.nav = Navigation(self)
        self.tools = ToolActions(self)
        self.msgs = MessageActions(self)
        self.assist = AssistController(self)
        self.tokens = EditorTokens(self)  # token counts of the messages and the budget (issue 6)

        st.setup(self)
        editor_bindings.attach(self)
        self._build()
        editor_bindings.bind_window(self)
        app.editors[chat_id] = self
        self.protocol("WM_DELETE_WINDOW", self.close)
        # <Destroy> on a tag of this window only (the window's own tag is on every child too).
        self._own_tag = f"LimaEditor{id(self)}"
        self.bindtags((self._own_tag, *self.bindtags()))
        self.bind_class(self._own_tag, "<Destroy>", self._on_destroy)
        self.geometry(app.user_settings.get("editor_geometry") or "1120x760")
        self._load(self.chat)
        self.deiconify()
        self.view.populate()
        if self.order:
            self.after_idle(self.nav.focus_initial)

    # -- building ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.menu_bar = MenuBar(self, EDITOR_MENUS, EDITOR_ACTIONS, self.event_generate, separate=EDITOR_MENU_GROUPS,
                                leading_separators=True)
        self.menus = self.menu_bar.menus
        paned = ttk.Panedwindow(self, orient="horizontal")
        paned.grid(row=0, column=0, sticky="nsew")
        left = ttk.Frame(paned, style="Editor.TFrame")
        left.columnconfigure(0, weight=1)
        left.rowconfigure(1, weight=1)
        self.find = ChatFind(self, left)
        self.findbar = self.find.bar
        self.view = CardCanvas(left, self, row=1)

        bottom = ttk.Frame(left, style="Editor.TFrame", padding=(3 * st.PAD, 2 * st.PAD))
        bottom.grid(row=2, column=0, columnspan=2, sticky="ew")
        self.add_button = ttk.Button(bottom, text="Add message", command=lambda: self.event_generate("<<AddMessage>>"))
        self.add_button.pack(side="left")
        ttk.Button(bottom, text="Delete message", command=lambda: self.event_generate("<<DeleteMessage>>")).pack(
            side="left", padx=2 * st.PAD)
        self.generate_button = ttk.Button(bottom, text="Generate reply", width=14,
                                          state="disabled" if self.readonly else "normal",
                                          command=lambda: self.run(self.assist.generate_or_stop))
        self.generate_button.pack(side="left")
        self.status_label = ttk.Label(bottom, text="", style="Status.TLabel")
        ttk.Style(self).configure("EditorStatusError.TLabel", background=st.BG, foreground=st.DANGER,
                                  padding=(2 * st.PAD, st.PAD))
        self.saving.make_indicator(bottom).pack(side="right")  # Saved / Saving… / Not saved (issue 13)
        self.status_label.pack(side="bottom", fill="x", before=self.add_button)  # a line of its own: not cut
        wrap_to_width(self.status_label)

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

    def run(self, fn: Callable[[], Any]) -> str:
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

    # -- what the parts ask (interfaces.*Host) -----------------------------------------------

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None:
        """The editor's status line and the main window's; `error` shows it in red there too.
        `brief`: a shorter text for the editor's own line (it shares a row with the buttons)."""
        if not self.closed:
            self.status_label.configure(text=current(self).shortcut_label(brief or text),
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

    def index_of(self, mid: int, default: Any = _MISSING) -> Any:
        """The position of a message in the chat (KeyError, or `default`, when it has none)."""
        return self._index[mid] if default is _MISSING else self._index.get(mid, default)

    def writable(self) -> bool:
        if self.readonly:
            self.status("The dataset is read-only")
            self.bell()
            return False
        return True

    def changed(self, focus: int | None = None, status: str | None = None) -> None:
        """The chat changed in the store: reload, tell the main window, show `status`."""
        self.reload(focus=focus)
        self.app.data_changed(source=self)
        if status:
            self.status(status)

    def tell_main_window(self) -> None:
        self.app.data_changed(source=self)

    def show_save_state(self) -> None:
        if not self.closed:
            self.title(self.saving.title())
        notify = getattr(self.app.editors, "save_state_changed", None)  # a stand-in's plain dict has none
        if notify is not None:
            notify()

    def confirm(self, title: str, message: str) -> bool:
        return ask_confirm(self, title, message)

    def busy(self, mid: int) -> bool:
        """True (and says so) when a reply is streaming into this message."""
        if self.assist.streaming(mid):
            self.status("A reply is being generated into this message: wait for it or stop it (Esc)")
            self.bell()
            return True
        return False

    @property
    def user_settings(self) -> dict[str, Any]:
        return self.app.user_settings

    def indent(self) -> str:
        """What Tab inserts in a message (the `tab_mode` user setting)."""
        return "    " if self.app.user_settings.get("tab_mode") == "spaces" else "\t"

    def can_open_settings(self) -> bool:
        return hasattr(self.app, "settings_dialog")

    def open_settings(self) -> None:
        opener = getattr(self.app, "settings_dialog", None)
        if opener is not None:
            opener()

    def open_token_preview(self) -> Any:
        """The chat as the model sees it (lima_tk.ui.token_preview); pending typing first."""
        from lima_tk.ui.token_preview import open_token_preview

        self.flush(strict=False)
        return open_token_preview(self.app, self.chat_id, parent=self)

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

    def selected_tool_id(self) -> int | None:
        return self.props.selected_tool_id()

    def set_generating(self, running: bool) -> None:
        self.generate_button.configure(text="■ Stop (Esc)" if running else "Generate reply",
                                       state="disabled" if self.readonly else "normal")

    def flush_all(self) -> None:
        """Pending typing of every window (the main window's and this one) first."""
        self.app.flush_pending()
        self.flush()

    # The card canvas: the geometry the cards ask for, and how a card is shown.
    @property
    def button_height(self) -> int:
        return self.view.button_height

    @property
    def measurer(self) -> Any:
        return self.view.measurer

    def card_width(self) -> int:
        return self.view.card_width()

    def text_width(self) -> int:
        return self.view.text_width()

    def header_actions_width(self) -> int:
        return self.view.header_actions_width()

    def decorate(self, card: MessageCard, created: bool = True) -> None:
        """What a card shows beyond its message: read-only, its answered call, selected, found."""
        self.tools.show_link(card)
        if created:
            if self.readonly:
                card.text.configure(state="disabled")
            if card.mid in self.nav.selection:
                card.set_state(selected=True)
            self.highlight_find(card)

    def highlight_find(self, card: MessageCard) -> None:
        if self.find.active:
            self.find.highlight(card)

    def cards_ready(self) -> None:
        self.event_generate("<<EditorReady>>")

    def is_unsaved(self, card: MessageCard) -> bool:
        return self.saving.is_unsaved(card)

    # -- what tests, scripts and the main window use (interfaces.EditorLike) ------------------

    @property
    def cards(self) -> dict[int, MessageCard]:
        return self.view.cards

    @property
    def canvas(self) -> tk.Canvas:
        return self.view.canvas

    @property
    def empty_label(self) -> tk.Label:
        return self.view.empty_label

    @property
    def ready(self) -> bool:
        """Every card exists and is measured (<<EditorReady>> was sent)."""
        return self.view.ready

    @property
    def selection(self) -> set[int]:
        return self.nav.selection

    @selection.setter
    def selection(self, ids: set[int]) -> None:
        self.nav.selection = ids

    @property
    def current_id(self) -> int | None:
        return self.nav.current_id

    @current_id.setter
    def current_id(self, mid: int | None) -> None:
        self.nav.current_id = mid

    def view_top(self) -> float:
        return self.view.view_top()

    def view_height(self) -> int:
        return self.view.view_height()

    def scroll_pixels(self, dy: int) -> None:
        self.view.scroll_pixels(dy)

    def see_card(self, card: MessageCard, index: str | None = "insert") -> None:
        self.view.see_card(card, index)

    def refit_all(self) -> None:
        """Measure every card again (the main window calls it after changing the font size)."""
        self.view.refit_all()

    def focus_message(self, mid: int, see: bool = True, index: str | None = None) -> None:
        self.nav.focus_message(mid, see, index)

    def show_message(self, index: int) -> None:
        """Scroll to the message at `index` (0-based) with the cursor at its start (Problems panel)."""
        self.nav.show_message(index)

    def select(self, ids: Any) -> None:
        self.nav.select(ids)

    def current_card(self) -> MessageCard | None:
        return self.nav.current_card()

    def focused_card(self) -> MessageCard | None:
        return self.nav.focused_card()

    def find_next(self, direction: int = 1) -> None:
        self.find.next(direction)

    def add_tool_call(self, card: MessageCard | None = None) -> Any:
        return self.tools.add_tool_call(card)

    def edit_tool_call(self, card: MessageCard, index: int | None) -> Any:
        return self.tools.edit_tool_call(card, index)

    def remove_tool_call(self, card: MessageCard, index: int) -> bool:
        return self.tools.remove_tool_call(card, index)

    def delete_tool(self, tool_id: int | None = None) -> bool:
        return self.tools.delete_tool(tool_id)

    # Saving (editor_saving.py); `save_delay` / `save_max_wait` (ms) are settable.
    @property
    def save_delay(self) -> int:
        """Typing pause (ms) before the text is saved; at the latest `save_max_wait` ms after the
        first unsaved key whatever the pauses."""
        return self.saving.autosaver.delay_ms

    @save_delay.setter
    def save_delay(self, ms: int) -> None:
        self.saving.autosaver.delay_ms = int(ms)

    @property
    def save_max_wait(self) -> int:
        return self.saving.autosaver.max_wait_ms

    @save_max_wait.setter
    def save_max_wait(self, ms: int) -> None:
        self.saving.autosaver.max_wait_ms = int(ms)

    def save_pending(self) -> None:
        """The autosave timer's work, now (the benchmark calls it)."""
        self.saving.attempt()

    def save_soon(self) -> bool:
        """Write what is unsaved now without raising (focus-out, the properties panel)."""
        return self.saving.attempt()

    def flush(self, strict: bool = True) -> int:
        """Save pending typing now (see EditorSaving.flush; `strict` raises when it cannot)."""
        return self.saving.flush(strict)

    def try_save(self) -> bool:
        return self.saving.try_save()

    def has_unsaved(self) -> bool:
        return self.saving.has_unsaved()

    def unsaved_texts(self) -> list[tuple[str, str]]:
        return self.saving.unsaved_texts()

    def save_failure(self) -> str | None:
        """Why saving fails right now (plain words), None when it does not."""
        return self.saving.failure()

    def save_properties(self, **fields: Any) -> None:
        """Called by the properties panel: name, language, tags, notes."""
        if self.readonly:
            raise LimaError("The dataset is read-only")
        self.store.update_chat(self.chat_id, **fields)
        self.changed()

    # -- loading and reloading ---------------------------------------------------------------

    def _load(self, chat: Chat) -> None:
        self.chat = chat
        self.title(self.saving.title())
        self.props.load(chat, self.store.get_settings())
        self._tool_names = {t.name for t in chat.tools}
        self.messages = {int(m.id): m for m in chat.messages}  # type: ignore[arg-type]
        self.order = [int(m.id) for m in chat.messages]  # type: ignore[arg-type]
        self._index = {mid: i for i, mid in enumerate(self.order)}
        self.tools.compute_links()
        self.tokens.schedule()  # token counts and budget (issue 6), a moment later

    def reload(self, focus: int | None = None) -> None:
        """Rebuild the view from the store, keeping scroll position, focus and typing."""
        if self.closed:
            return
        self.flush(strict=False)  # what cannot be written now stays in its card (see update_message)
        try:
            chat = self.store.get_chat(self.chat_id)
        except NotFound:
            self.status("This chat no longer exists; its window was closed")
            self._shutdown()
            return
        self.reload_count += 1
        old_tools = self._tool_names
        old = (self.order, self.messages, self.chat.tools)
        self._load(chat)
        if (self.order, self.messages, self.chat.tools) != old:
            self.structural_change()
        self.assist.check_after_reload()
        self.view.sync(keep_text=self.saving.dirty, tools_changed=old_tools != self._tool_names)
        self.saving.reloaded(self.order)
        self.nav.reloaded()
        if self.find.active:
            self.find.collect()
        self.view.layout()
        if focus is not None and focus in self.messages:
            self.nav.focus_message(focus)
        if not self.order:
            self.view.canvas.focus_set()

    def structural_change(self) -> None:
        """The chat changed other than by typing (insert, delete, move, role, undo/redo, another
        window...): from now on Ctrl+Z in a Text is the journal's until the user types in that
        Text again, and no Text can undo into the state before (their own stacks start empty)."""
        self._structural += 1
        for card in self.view.cards.values():
            if card.mid not in self.saving.dirty:
                card.text.edit_reset()
        self.props.notes.edit_reset()

    def note_typed(self, widget: tk.Misc) -> None:
        """The user changed a Text by typing (or pasting, or its own undo)."""
        widget.typed_at = self._structural  # type: ignore[attr-defined]

    def typed_since_structural(self, widget: tk.Misc) -> bool:
        """Whether Ctrl+Z in this Text is its own undo (see editor_bindings)."""
        return getattr(widget, "typed_at", None) == self._structural

    def text_modified(self, card: MessageCard) -> None:
        """A card's text changed (<<Modified>>): unsaved, refit, found again, kept in view."""
        t = card.text
        if not t.edit_modified():
            return
        t.edit_modified(False)
        if card.loading or self.closed:
            return
        self.note_typed(t)
        self.saving.touched(card)
        if card.placeholder is not None and card.placeholder.winfo_manager():
            card.update_placeholder()
        if card.fit():
            self.view.schedule_layout()
        self.highlight_find(card)
        if card.focused:
            self.view.schedule_see_insert(card)

    # -- structural actions (message_actions.py, tool_actions.py) ------------------------------

    def add_message(self, position: int | None, role: str, content: str = "") -> int:
        """Insert a message (position None: at the end), focus it and show it."""
        return self.msgs.add(position, role, content)

    def change_role(self, card: MessageCard, role: str) -> None:
        self.msgs.change_role(card, role)

    def set_answer(self, card: MessageCard, call_id: str) -> None:
        self.tools.set_answer(card, call_id)

    def card_action(self, card: MessageCard, action: str, call_index: int | None = None) -> None:
        """A button of a card (editor_bindings: a click on its ButtonStrip)."""
        self.nav.current_id = card.mid
        if action in ASSIST_ACTIONS:
            self.run(lambda: self.assist.card_action(card, action))
            return
        if action in ("edit_call", "remove_call", "add_call") and self.busy(card.mid):
            return
        if action in ("edit_call", "remove_call"):
            self.run(lambda: (self.tools.edit_tool_call(card, call_index) if action == "edit_call"
                              else self.tools.remove_tool_call(card, call_index or 0)))
            return
        if action == "add_call":
            self.run(lambda: self.tools.add_tool_call(card))
            return
        if card.mid not in self.nav.selection:
            self.nav.clear_selection()
        event = {"delete": "<<DeleteMessage>>", "move_down": "<<MoveMessageDown>>", "move_up": "<<MoveMessageUp>>",
                 "duplicate": "<<DuplicateMessage>>", "insert_below": "<<InsertBelow>>",
                 "insert_above": "<<InsertAbove>>", "toggle_train": "<<ToggleTrain>>"}[action]
        self.event_generate(event)

    # -- AI assist (the work is in assist_view.AssistController) ---------------------------

    def stop_streaming(self) -> bool:
        """Stop a reply being generated into this chat (the main window's undo does this first:
        the text so far is saved and joins the generation's undo step); False when none was."""
        return self.assist.stop() if self.assist.streaming() else False

    # -- undo / redo through the journal -----------------------------------------------------

    def journal(self, fn: Callable[[], Any]) -> None:
        """Ctrl+Z / Ctrl+Y outside a Text: the dataset journal's undo/redo (`fn`), after stopping a
        stream and saving pending typing; the chat is re-read either way."""
        if not self.writable():
            return
        self.assist.stop()  # undo while a reply streams: stop it first (the partial reply is one step)
        self.flush()
        before = self.reload_count
        fn()
        self.status_label.configure(text=getattr(self.app, "status_text", ""), style="Status.TLabel")  # not stale
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
            self.saving.saved_any = True
        self._closing = True
        try:
            grace = self.close_grace_ms
            answer = resolve_unsaved(self, attempt=self.try_save, pieces=self.unsaved_texts, reason=self.save_failure,
                                     **({} if grace is None else {"grace_ms": grace}))
            if answer == "keep" or self.closed:
                if not self.closed:
                    self.status(self.saving.unsaved_text(), error=True)
                return self.closed
        finally:
            self._closing = False
        saved = self.saving.saved_any
        try:
            self.app.user_settings["editor_geometry"] = self.geometry()
        except (tk.TclError, TypeError):
            pass
        self._shutdown()
        if saved:
            self.app.data_changed(source=self)
        return True

    def _teardown(self) -> None:
        """Every part stops: streams are saved and joined, no timer is left behind."""
        self.assist.close()  # a stream still running (destroyed from outside): stop it, save, join
        self.saving.close()
        self.tokens.close()
        self.view.close()
        self.props.close()
        self.find.bar.close()
        editor_bindings.detach(self)
        try:
            self.tk.call("bind", self._own_tag, "<Destroy>", "")
        except tk.TclError:
            pass
        if self.app.editors.get(self.chat_id) is self:
            del self.app.editors[self.chat_id]

    def _shutdown(self) -> None:
        self.closed = True
        self._teardown()
        try:
            self.destroy()
        except tk.TclError:
            pass

    def _on_destroy(self, event: tk.Event) -> None:
        """Destroyed from outside (the main window closing the dataset): stop, unregister."""
        if not self.closed:
            self.closed = True
            self._teardown()
