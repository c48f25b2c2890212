"""What the UI's components offer each other (issue 14), as small typed Protocols.

A component depends on the Protocol of what it uses, not on the class that happens to provide it
(and never on its private names): the dialogs and panels on what the main window offers them, the
parts of a chat editor (cards, card canvas, AI assist, token counts, properties, tool actions)
on what the editor offers them. So a change inside `App` or `ChatEditor` that keeps these
promises cannot break a part, and a test (or a script) can drive a part with a stand-in.

This module imports no concrete UI module (only types, under TYPE_CHECKING), so anything may
import it without an import cycle (tests/test_structure.py checks the import graph).

Members a stand-in may leave out are read with `getattr` by their users and are noted as optional
below: the main window's `tokens`, `settings_dialog` and `open_chat`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import tkinter as tk

    from lima_tk.model import Chat, Message
    from lima_tk.store import ChatFilter, DatasetStore
    from lima_tk.tokens import Counter


# -- what the main window offers ----------------------------------------------------------------


class StatusSink(Protocol):
    def status(self, text: str, error: bool = False) -> None:
        """Show `text` in the status bar (`error`: in red, with a bell)."""


class WindowHost(StatusSink, Protocol):
    """What every window the main window opens may use: its Tk root, the dataset, the status bar.
    (The stats board, the Problems panel, the token preview, the small dialogs.)"""

    root: tk.Tk
    store: DatasetStore | None


class ChatActionsHost(WindowHost, Protocol):
    """What the language and tags dialogs call when they apply."""

    def set_language(self, chat_ids: list[int], language: str | None) -> None: ...

    def change_tags(self, chat_ids: list[int], add: list[str], remove: list[str]) -> None: ...


class SettingsHost(WindowHost, Protocol):
    """What the settings dialog changes."""

    user_settings: dict[str, Any]

    def set_font_size(self, size: int) -> None: ...

    def data_changed(self, source: object | None = None) -> None: ...


class ChatScope(Protocol):
    """The chat list as the export dialog sees it: what it shows and what is selected."""

    filter: ChatFilter
    total: int
    selected: set[int]

    def selection_ids(self) -> list[int]: ...


class ExportHost(WindowHost, Protocol):
    chat_list: ChatScope

    def run_export(self, out: Any, fmt: str, chat_filter: ChatFilter | None, *, options: dict[str, Any] | None = None,
                   skip_problems: bool = False, push: tuple[str, bool] | None = None) -> Any: ...


class FilterHost(WindowHost, Protocol):
    """What the filter bar needs from the main window."""

    chat_list: Any  # chat_list.ChatList

    def apply_filter(self) -> None:
        """Apply the filter now (a dataset error becomes a status line)."""

    def focus_list(self, cursor: bool = True) -> None: ...


class FilesHost(WindowHost, Protocol):
    """What the dataset files part (open, new, recent, import, export, copy) needs from the window."""

    user_settings: dict[str, Any]
    chat_list: Any  # chat_list.ChatList

    def open_dataset(self, path: Any, readonly: bool | str = False, quiet: bool = False) -> bool: ...

    def flush_pending(self, strict: bool = True) -> None: ...

    def writable(self) -> bool:
        """False (and says why in the status bar) when no change may be made now."""

    def data_changed(self, source: object | None = None) -> None: ...

    def save_settings(self) -> None:
        """Write the user settings file (a failure is shown, not raised)."""


class ChatActionsWindow(FilesHost, Protocol):
    """What the Chat menu's actions need from the window."""

    editors: Any  # open_editors.OpenEditors
    filter_bar: Any  # filter_bar.FilterBar


class EditorHost(WindowHost, Protocol):
    """What a chat editor needs from the main window (docs/editor.md, "For other parts of the
    program"). Optional: `tokens` (a TokenService), `settings_dialog()`, `open_chat()`."""

    store: DatasetStore
    user_settings: dict[str, Any]
    editors: dict[int, Any]

    def data_changed(self, source: object | None = None) -> None: ...

    def undo(self) -> None: ...

    def redo(self) -> None: ...

    def flush_pending(self) -> None: ...


class EditorLike(Protocol):
    """What the main window needs from an open chat editor."""

    closed: bool

    def reload(self, focus: int | None = None) -> None: ...

    def flush(self, strict: bool = True) -> int: ...

    def try_save(self) -> bool: ...

    def unsaved_texts(self) -> list[tuple[str, str]]: ...

    def save_failure(self) -> str | None: ...

    def refit_all(self) -> None: ...

    def show_message(self, index: int) -> None: ...

    def token_counts_changed(self) -> None: ...

    def stop_streaming(self) -> bool:
        """Stop a reply being generated (its text so far is kept); False when none was."""

    def destroy(self) -> None: ...


# -- token counts ----------------------------------------------------------------------------------


class TokenService(Protocol):
    """The main window's token counting, as the editors and the token preview use it."""

    def counter(self) -> Counter | None:
        """The counter of the current tokenizer, or None while it loads (a load starts)."""

    def with_counter(self, fn: Callable[[Counter], None]) -> None: ...

    def count_chat_async(self, chat_id: int, done: Callable[[Any], None]) -> None: ...

    def chat_recounted(self, chat_id: int) -> None: ...


class ChatListView(Protocol):
    """What the token counting refreshes in the chat list."""

    counting: bool
    filter: ChatFilter
    sort: str
    tree: tk.Widget

    def refresh(self) -> None: ...

    def refresh_tokens(self) -> None: ...

    def visible_ids(self) -> list[int]: ...


class ListRows(Protocol):
    """The chat list (chat_list.ChatList) as its mouse and its rename-in-place entry use it."""

    tree: Any  # ttk.Treeview
    top: int
    cursor: int
    anchor: int
    page: int
    selected: set[int]
    on_open: Callable[[int], None] | None
    on_rename: Callable[[int, str], None] | None
    on_context: Callable[[Any], None] | None

    @property
    def heading_height(self) -> int: ...

    @property
    def pixel_height(self) -> int: ...

    def slot_at(self, y: int) -> int | None: ...

    def slot_id(self, slot: int) -> int: ...

    def move_cursor(self, index: int, extend: bool = False) -> None: ...

    def toggle(self, index: int) -> None: ...

    def ensure_visible(self, index: int) -> None: ...

    def row_at(self, index: int) -> Any: ...

    def name_cell(self, index: int) -> tuple[int, int, int, int] | None: ...

    def commit_rename(self) -> None: ...


class CountingHost(WindowHost, Protocol):
    """What `TokenCounting` needs from the main window. Optional: `remember_content()`."""

    chat_list: ChatListView
    editors: Mapping[int, Any]

    @property
    def status_text(self) -> str: ...

    def update_count(self) -> None: ...


class CountedCard(Protocol):
    def set_token_count(self, text: str) -> None: ...


class TokenHost(Protocol):
    """What `EditorTokens` needs from its chat editor."""

    closed: bool
    store: DatasetStore
    chat_id: int
    messages: dict[int, Message]
    order: list[int]
    cards: Mapping[int, CountedCard]

    def token_service(self) -> TokenService | None: ...

    def show_budget(self, total: int | None, limit: int, estimate: bool) -> None: ...

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None: ...

    def nametowidget(self, name: str) -> Any: ...

    def bind(self, sequence: str, func: Callable[..., Any], add: str | None = None) -> Any: ...


# -- the parts of a chat editor --------------------------------------------------------------------


class EditorBase(Protocol):
    """What every part of a chat editor may use: the chat as loaded, its state, the status line,
    and running an action (a domain error becomes a status line)."""

    store: DatasetStore
    chat_id: int
    chat: Chat
    messages: dict[int, Message]
    order: list[int]
    closed: bool
    readonly: bool

    def index_of(self, mid: int, default: Any = ...) -> Any:
        """The position of a message in the chat (KeyError, or `default`, when it has none)."""

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None: ...

    def run(self, fn: Callable[[], Any]) -> str: ...

    def writable(self) -> bool:
        """False (and says so) when the dataset is read-only."""

    def flush(self, strict: bool = True) -> int:
        """Write pending typing first (raises a DatasetError when it cannot: change nothing)."""

    def changed(self, focus: int | None = None, status: str | None = None) -> None:
        """The chat changed in the store: reload, tell the main window, show `status`."""

    def bell(self) -> None: ...


class CardView(Protocol):
    """The card canvas (card_canvas.CardCanvas) as the editor's other parts use it."""

    canvas: tk.Canvas
    cards: Mapping[int, Any]
    stick_bottom: bool

    def card(self, mid: int) -> Any:
        """The card of a message, created now when it is still pending."""

    def create_all(self) -> None: ...

    def layout(self) -> None: ...

    def layout_if_due(self) -> None: ...

    def schedule_layout(self) -> None: ...

    def view_top(self) -> float: ...

    def view_height(self) -> int: ...

    def scroll_to(self, top: float) -> None: ...

    def scroll_pixels(self, dy: int) -> None: ...

    def see_range(self, y1: float, y2: float) -> None: ...

    def see_card(self, card: Any, index: str | None = "insert") -> None: ...

    def see_line(self, card: Any, index: str) -> None: ...

    def schedule_see_insert(self, card: Any) -> None: ...


class AssistParts(Protocol):
    """What a message card asks the AI-assist controller to draw (and whether it streams)."""

    errors: Mapping[int, Any]

    def streaming(self, mid: int | None = None) -> bool: ...

    def card_key(self, card: Any) -> tuple: ...

    def card_buttons(self, card: Any) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]: ...

    def meta_items(self, card: Any) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]: ...

    def placeholder(self, card: Any) -> str | None: ...


class CardHost(Protocol):
    """What a message card (message_frame.MessageCard) needs: its geometry from the card canvas,
    what to draw from the AI-assist controller, and the editor's actions on a card."""

    max_lines: int
    button_height: int
    measurer: Any
    assist: AssistParts

    def card_width(self) -> int: ...

    def text_width(self) -> int: ...

    def header_actions_width(self) -> int:
        """Width of the header's action labels at the current font (measured once per size)."""

    def tool_names(self) -> set[str]: ...

    def can_open_settings(self) -> bool: ...

    def run(self, fn: Callable[[], Any]) -> str: ...

    def change_role(self, card: Any, role: str) -> None: ...

    def set_answer(self, card: Any, call_id: str) -> None: ...


class CanvasHost(CardHost, Protocol):
    """What the card canvas needs from its editor: the chat's order, and how a card is shown."""

    closed: bool
    messages: dict[int, Message]
    order: list[int]

    def index_of(self, mid: int, default: Any = ...) -> Any: ...

    def decorate(self, card: Any, created: bool = True) -> None:
        """What a card shows beyond its message (read-only, its answered call, selected, found)."""

    def highlight_find(self, card: Any) -> None: ...

    def cards_ready(self) -> None:
        """Every card exists and is measured (<<EditorReady>>)."""


class NavigationHost(Protocol):
    """What the selection and focus (editor_navigation.Navigation) need from the editor."""

    closed: bool
    messages: dict[int, Message]
    order: list[int]
    view: CardView
    add_button: tk.Widget
    find: Any  # find_replace.ChatFind: Escape closes its bar when nothing is selected

    def index_of(self, mid: int, default: Any = ...) -> Any: ...

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None: ...

    def is_unsaved(self, card: Any) -> bool: ...

    def save_soon(self) -> bool: ...

    def focus_get(self) -> Any: ...

    def update_idletasks(self) -> None: ...


class SavingHost(Protocol):
    """What saving the typed text (editor_saving.EditorSaving) needs from the editor. The
    editor is also the Autosaver's widget (its timers)."""

    closed: bool
    store: DatasetStore
    chat: Chat
    messages: dict[int, Message]
    view: CardView
    props: Any  # chat_properties.ChatProperties: flush(), pending()
    assist: AssistParts
    tokens: Any  # editor_tokens.EditorTokens: schedule()

    def index_of(self, mid: int, default: Any = ...) -> Any: ...

    def note_typed(self, widget: tk.Misc) -> None: ...

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None: ...

    def tell_main_window(self) -> None:
        """Saved text changed the dataset: the main window refreshes (not this editor)."""

    def show_save_state(self) -> None:
        """The saving state changed (EditorSaving.state()): the title and the main window follow."""

    def after(self, ms: int, func: Callable[..., Any], *args: Any) -> str: ...

    def after_cancel(self, ident: str) -> None: ...


class FindHost(EditorBase, Protocol):
    """What find in the chat and replace in the dataset (find_replace.ChatFind) need."""

    view: CardView
    dialog: tk.Toplevel | None

    def focused_card(self) -> Any: ...

    def current_card(self) -> Any: ...

    def flush_all(self) -> None:
        """Pending typing of every window first (a replace touches the whole dataset)."""


class ToolHost(EditorBase, Protocol):
    """What the tool and tool-call actions (tool_actions.ToolActions) need beyond the basics;
    the editor is also the parent of their dialogs."""

    dialog: tk.Toplevel | None

    def current_card(self) -> Any: ...

    def tool_names(self) -> set[str]: ...

    def selected_tool_id(self) -> int | None: ...

    def busy(self, mid: int) -> bool:
        """True (and says so) when a reply is streaming into this message."""

    def confirm(self, title: str, message: str) -> bool:
        """An OK/Cancel question (tests answer it: chat_editor.ask_confirm)."""


class MessageActionsHost(EditorBase, Protocol):
    """What the structural message actions (message_actions.MessageActions) need."""

    view: CardView
    nav: Any  # editor_navigation.Navigation: targets(), current_card(), the selection
    assist: Any  # assist_view.AssistController: a stream into a deleted message stops first

    def busy(self, mid: int) -> bool: ...

    def confirm(self, title: str, message: str) -> bool: ...

    def reload(self, focus: int | None = None) -> None: ...

    def tell_main_window(self) -> None: ...


class PropertiesHost(Protocol):
    """What the properties panel (chat_properties.ChatProperties) needs from its chat editor."""

    closed: bool
    chat_id: int
    props_delay: int

    def save_failure(self) -> str | None: ...

    def save_soon(self) -> bool: ...

    def save_properties(self, **fields: Any) -> None: ...

    def note_typed(self, widget: tk.Misc) -> None: ...

    def status(self, text: str, error: bool = False, brief: str | None = None) -> None: ...

    def reload(self, focus: int | None = None) -> None: ...

    def open_token_preview(self) -> Any: ...

    def event_generate(self, sequence: str, **kw: Any) -> Any: ...


class AssistHost(EditorBase, Protocol):
    """What the AI-assist controller (assist_view, assist_versions) needs from its chat editor."""

    view: CardView
    user_settings: dict[str, Any]

    def current_card(self) -> Any: ...

    def token_service(self) -> TokenService | None: ...

    def open_settings(self) -> None: ...

    def highlight_find(self, card: Any) -> None:
        """Mark the find bar's matches in a card whose text was replaced."""

    def set_generating(self, running: bool) -> None:
        """The bottom bar's Generate button turns into Stop while a reply streams."""

    def focus_get(self) -> Any: ...

    def after(self, ms: int, func: Callable[..., Any], *args: Any) -> str: ...

    def after_cancel(self, ident: str) -> None: ...

    def update_idletasks(self) -> None: ...


class BindingHost(Protocol):
    """What the class bindings of the cards (editor_bindings) call on the editor of a widget."""

    closed: bool
    current_id: int | None
    assist: AssistParts
    view: CardView
    nav: Any  # editor_navigation.Navigation: header clicks, focus, Ctrl+Tab

    def event_generate(self, sequence: str, **kw: Any) -> Any: ...

    def typed_since_structural(self, widget: tk.Misc) -> bool: ...

    def indent(self) -> str:
        """What Tab inserts in a message."""

    def text_modified(self, card: Any) -> None: ...

    def card_action(self, card: Any, action: str, call_index: int | None = None) -> None: ...


class EditorWindow(BindingHost, Protocol):
    """The editor as `editor_bindings.bind_window` wires its virtual events to its parts."""

    app: EditorHost
    saving: Any
    msgs: Any
    tools: Any
    find: Any
    props: Any  # chat_properties.ChatProperties: its `tags` (the tag picker, Ctrl+T)
    dialog: tk.Toplevel | None

    def close(self) -> bool: ...

    def journal(self, fn: Callable[[], Any]) -> None: ...

    def run(self, fn: Callable[[], Any]) -> str: ...

    def bind(self, sequence: str, func: Callable[..., Any], add: str | None = None) -> Any: ...
