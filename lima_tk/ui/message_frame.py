"""One message of the chat editor: a card with a header (role, train marker, tool-call link,
actions) and an auto-height Text, plus the tool calls of an assistant message.

A card is a canvas window item of the editor's card canvas (card_canvas.py). It holds no truth of
its own beyond the text being typed: everything else is redrawn from the `Message` the store
returned. What it needs from its editor is `interfaces.CardHost` (its geometry, what the AI-assist
controller draws, the role and answer actions). Its widgets carry the bind tags MSG_TAG (keys,
wheel, focus: editor_bindings.py) and HEADER_TAG (click to select). The flat buttons (actions,
train marker, "+ tool call") are text items drawn on one Canvas per row (ButtonStrip, tag
ACTION_TAG): a card is 7 widgets, not 15, which is what makes a 300-message chat open quickly.
Tk thread only.
"""

from __future__ import annotations

import json
import tkinter as tk
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.model import ROLES, Message
from lima_tk.ui import editor_style as st
from lima_tk.ui.autotext import AutoText

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import CardHost

MSG_TAG = "LimaMsg"
HEADER_TAG = "LimaMsgHeader"
ACTION_TAG = "LimaMsgAction"
CARD_BORDER = 2  # highlightthickness of a card: the focus / selection ring
NUL_STANDIN = "\u2400"  # Tk Text cannot hold U+0000: shown as ␀ and written back as U+0000

# (action, label, tooltip) of the header buttons, left to right.
HEADER_ACTIONS = (
    ("insert_above", "+ above", "Insert a message above (Ctrl+Shift+Enter)"),
    ("insert_below", "+ below", "Insert a message below (Ctrl+Enter)"),
    ("duplicate", "copy", "Duplicate message (Ctrl+Shift+D)"),
    ("move_up", "↑", "Move up (Alt+Shift+Up)"),
    ("move_down", "↓", "Move down (Alt+Shift+Down)"),
    ("delete", "✕", "Delete message (Ctrl+Delete)"),
)
# The same, shorter, for a header that has no room for the words (a narrow window).
COMPACT_LABELS = {"insert_above": "+↑", "insert_below": "+↓"}


def compact_json(text: str, limit: int = 90) -> str:
    """One-line preview of a JSON string (as stored; re-dumped compactly when it parses)."""
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ButtonStrip(tk.Canvas):
    """A row of flat text buttons drawn on one Canvas; `pill` buttons get a coloured background.
    Clicks, hover and tooltips are handled by the editor's ACTION_TAG class bindings."""

    def __init__(self, parent: tk.Misc, card: MessageCard, background: str) -> None:
        super().__init__(parent, background=background, highlightthickness=0, borderwidth=0, width=1, height=1,
                         cursor="hand2")
        self.card = card
        self.tips: dict[str, str] = {}
        self.colors: dict[str, str] = {}
        self.hover: str | None = None
        self.call_index: int | None = None

    def set_buttons(self, buttons: list[tuple[str, str, str]], pills: dict[str, tuple[str, str]] | None = None,
                    gap: int = 2 * st.PAD) -> None:
        """buttons: (action, label, tooltip); pills: action -> (text colour, background)."""
        pills = pills or {}
        self.delete("all")
        self.tips = {a: tip for a, _, tip in buttons}
        h = self.card.editor.button_height
        x = st.PAD
        for action, label, _tip in buttons:
            fg, bg = pills.get(action, (st.MUTED, ""))
            self.colors[action] = fg
            pad = 2 * st.PAD if bg else 0
            item = self.create_text(x + pad, h // 2, text=label, anchor="w", fill=fg, font="TkDefaultFont",
                                    tags=("label", f"a:{action}"))
            x1, _y1, x2, _y2 = self.bbox(item)
            if bg:
                rect = self.create_rectangle(x1 - pad, 2, x2 + pad, h - 2, fill=bg, outline="",
                                             tags=(f"a:{action}",))
                self.tag_lower(rect, item)
            x = x2 + pad + gap
        self.configure(width=x - gap + st.PAD, height=h)

    def action_at(self, x: int, y: int) -> str | None:
        for item in reversed(self.find_overlapping(x - 2, y - 2, x + 2, y + 2)):
            for tag in self.gettags(item):
                if tag.startswith("a:"):
                    return tag[2:]
        return None

    def point(self, action: str) -> tuple[int, int]:
        """The middle of a button (tests click there)."""
        x1, y1, x2, y2 = self.bbox(f"a:{action}")
        return (x1 + x2) // 2, (y1 + y2) // 2

    def label(self, action: str) -> str:
        items = [i for i in self.find_withtag(f"a:{action}") if self.type(i) == "text"]
        return str(self.itemcget(items[0], "text")) if items else ""

    def set_hover(self, action: str | None) -> None:
        if action == self.hover:
            return
        if self.hover is not None:
            self.itemconfigure(f"a:{self.hover}&&label", fill=self.colors.get(self.hover, st.MUTED))
        self.hover = action
        if action is not None and self.colors.get(action) == st.MUTED:
            self.itemconfigure(f"a:{action}&&label", fill=st.TEXT)


class MessageCard(tk.Frame):
    """One message of the editor, drawn in `parent` (the card canvas) for `editor`."""

    def __init__(self, parent: tk.Misc, editor: CardHost, message: Message, index: int) -> None:
        header_bg, body_bg = st.role_colors(message.role)
        super().__init__(parent, background=body_bg, highlightthickness=CARD_BORDER,
                         highlightbackground=st.BORDER, highlightcolor=st.BORDER, borderwidth=0)
        self.editor = editor
        self.mid: int = int(message.id)  # type: ignore[arg-type]
        self.message = message
        self.index = index
        self.role = message.role
        self.item: int | None = None  # canvas window item
        self.y = -1  # canvas y of the item
        self.h = 0
        self.focused = False
        self.selected = False
        self.loading = False
        self.saved_text = ""  # the text the store holds, as last loaded or saved
        self.nul_mapped = False
        self.find_ranges: list[tuple[str, str]] = []  # matches of the editor's find bar
        self.card = self

        self.header = tk.Frame(self, background=header_bg)
        self.header.pack(fill="x")
        self.index_label = ttk.Label(self.header, text=f"#{index + 1}", style=f"{message.role}.Head.TLabel",
                                     cursor="hand2")
        self.index_label.pack(side="left")
        self.role_box = ttk.Combobox(self.header, values=ROLES, state="readonly", width=9,
                                     style=f"{message.role}.Role.TCombobox", takefocus=1)
        self.role_box.set(message.role)
        self.role_box.pack(side="left", pady=st.PAD)
        self.role_box.bind("<<ComboboxSelected>>", self._on_role_selected)
        self.actions = ButtonStrip(self.header, self, header_bg)
        self.compact = False  # the header's actions drawn short (see _fit_header)
        self._actions_drawn = False  # drawn once the header knows its other contents
        self.actions.pack(side="right", padx=(0, st.PAD))
        self.extras: ButtonStrip | None = None  # train marker and "+ tool call" (assistant)
        self.link_row: tk.Frame | None = None
        self.answer_label: tk.Label | None = None
        self.answer_box: ttk.Combobox | None = None
        self.answer_ids: list[str] = []
        self.warn_label: tk.Label | None = None
        self.name_label: tk.Label | None = None
        # AI assist (drawn from editor.assist, see assist_view.py): versions and provenance row,
        # error strip. Created only when a message needs them.
        self.meta_row: ButtonStrip | None = None
        self.error_row: tk.Frame | None = None
        self.error_label: tk.Label | None = None
        self._assist_key: tuple | None = None
        # "Not saved: <reason>, retrying" over the text while a write of it keeps failing.
        self.unsaved = ""
        self.unsaved_label: tk.Label | None = None

        self.body = tk.Frame(self, background=body_bg)
        self.body.pack(fill="x")
        self.body.columnconfigure(0, weight=1)
        self.text = AutoText(self.body, max_lines=editor.max_lines, background=body_bg, foreground=st.TEXT,
                             insertbackground=st.TEXT, selectbackground=st.SELECT,
                             inactiveselectbackground="#e4e7ec", tabstyle="wordprocessor")
        self.text.card = self  # type: ignore[attr-defined]
        self.text.grid(row=0, column=0, sticky="ew")
        self.text.tag_configure("find", background=st.FIND)
        self.text.tag_configure("find_current", background=st.FIND_CURRENT)
        self.text.tag_raise("sel")
        self.calls_frame: tk.Frame | None = None
        self.placeholder: tk.Label | None = None

        self._role_widgets(message)
        if not self._actions_drawn:
            self._fit_header()
        self.set_content(message.content, initial=True)
        self._tag_all(self)

    # -- building --------------------------------------------------------------------------

    def _tag_all(self, widget: tk.Misc) -> None:
        """Give every widget of the card the editor's bind tags (first, so they can `break`)."""
        widget.card = self  # type: ignore[attr-defined]
        tags = list(widget.bindtags())
        if MSG_TAG not in tags:
            extra = [MSG_TAG]
            if isinstance(widget, ButtonStrip):
                extra.append(ACTION_TAG)
            elif widget in (self, self.header, self.index_label) or widget is self.name_label \
                    or widget is self.link_row or widget is self.answer_label:
                extra.append(HEADER_TAG)
            widget.bindtags((*extra, *tags))
        for child in widget.winfo_children():
            self._tag_all(child)

    def _role_widgets(self, m: Message) -> None:
        """Show the widgets that belong to the role: answered call (tool), name (any role that
        has one), tool calls (assistant); then the header buttons and AI-assist parts."""
        header_bg, body_bg = self._colors()
        if m.role == "tool":
            if self.link_row is None:
                self.link_row = tk.Frame(self, background=header_bg)
                self.answer_label = tk.Label(self.link_row, text="answers call", background=header_bg,
                                             foreground=st.MUTED, padx=2 * st.PAD)
                self.answer_label.pack(side="left")
                self.answer_box = ttk.Combobox(self.link_row, state="readonly", width=28, style="Answer.TCombobox")
                self.answer_box.pack(side="left", pady=(0, st.PAD))
                self.answer_box.bind("<<ComboboxSelected>>", self._on_answer_selected)
                self.warn_label = tk.Label(self.link_row, text="⚠ not linked to a call", background=header_bg,
                                           foreground=st.WARN, padx=2 * st.PAD)
                self._tag_all(self.link_row)
            self.link_row.pack(fill="x", after=self.header)
        elif self.link_row is not None:
            self.link_row.pack_forget()
        if m.name:
            if self.name_label is None:
                self.name_label = tk.Label(self.header, background=header_bg, foreground=st.MUTED, padx=st.PAD)
                self._tag_all(self.name_label)
            self.name_label.configure(text=f"name: {m.name}")
            self.name_label.pack(side="left", padx=(st.PAD, 0), before=self.actions)
        elif self.name_label is not None:
            self.name_label.pack_forget()
        self._build_calls(m)
        self._assist_key = None
        self.update_assist()

    def _draw_extras(self, m: Message) -> None:
        """Header buttons after the role: train marker and "+ tool call" (assistant), and the AI
        assist buttons (regenerate / continue / stop, or "generate reply" on the last message)."""
        header_bg, _ = self._colors()
        assist, assist_pills = self.editor.assist.card_buttons(self)
        if m.role != "assistant" and not assist:
            if self.extras is not None:
                self.extras.pack_forget()
            return
        if self.extras is None:
            self.extras = ButtonStrip(self.header, self, header_bg)
            self._tag_all(self.extras)
        buttons: list[tuple[str, str, str]] = []
        pills: dict[str, tuple[str, str]] = {}
        if m.role == "assistant":
            text, fg, bg = st.TRAIN_MARKS.get(m.weight, st.TRAIN_MARKS[None])
            buttons += [("toggle_train", text, "Train on this turn: default, then 1 (train), then 0 (do not train) "
                                               "(Ctrl+Shift+T)"),
                        ("add_call", "+ tool call", "Add a tool call to this message")]
            pills["toggle_train"] = (fg, bg)
        self.extras.set_buttons(buttons + assist, pills={**pills, **assist_pills})
        self.extras.pack(side="left", padx=(2 * st.PAD, 0), after=self.role_box)
        self._fit_header()

    # -- AI assist: versions row, provenance marker, error strip ------------------------------

    def update_assist(self) -> bool:
        """Redraw the AI-assist parts when what they show changed; True when they were redrawn
        (the card's height may have changed)."""
        key = self.editor.assist.card_key(self)
        if key == self._assist_key:
            return False
        self._assist_key = key
        self._draw_extras(self.message)
        self._draw_meta()
        self._draw_error()
        return True

    def _draw_meta(self) -> None:
        items, pills = self.editor.assist.meta_items(self)
        if not items:
            if self.meta_row is not None:
                self.meta_row.pack_forget()
            return
        header_bg, _ = self._colors()
        if self.meta_row is None:
            self.meta_row = ButtonStrip(self, self, header_bg)
            self._tag_all(self.meta_row)
        self.meta_row.set_buttons(items, pills=pills, gap=st.PAD)
        self.meta_row.pack(fill="x", after=self.header, padx=(st.PAD, 0))

    def _draw_error(self) -> None:
        err = self.editor.assist.errors.get(self.mid)
        if self.error_row is not None:
            self.error_row.destroy()
            self.error_row = self.error_label = None
        if err is None:
            return
        row = tk.Frame(self, background=st.ERROR_BG, highlightthickness=1, highlightbackground="#f3b8b3")
        strip = ButtonStrip(row, self, st.ERROR_BG)
        buttons = [("retry", "↻ Retry", "Try again: the text so far stays as a version"
                    if err.mode != "continue" else "Continue again from the end of the text")]
        if err.kind in ("auth", "forbidden", "model", "url", "connection") and self.editor.can_open_settings():
            buttons.append(("settings", "Settings…", "Open the assistant settings"))
        if err.partial is not None:
            buttons.append(("show_partial", "Show partial", f"Show the partial reply (version {err.partial + 1}); "
                                                            "the previous one stays a version"))
        buttons.append(("dismiss_error", "✕", "Hide this message"))
        strip.set_buttons(buttons, pills={"retry": (st.SURFACE, st.DANGER)})
        strip.pack(side="right", anchor="n", padx=st.PAD, pady=st.PAD)
        self._error_strip_width = int(strip.cget("width")) + 2 * st.PAD
        self.error_label = tk.Label(row, text=f"⚠ {err.message}", background=st.ERROR_BG, foreground=st.DANGER,
                                    anchor="w", justify="left", padx=2 * st.PAD, pady=st.PAD)
        self._error_wrap()
        self.error_label.pack(side="left", fill="x", expand=True)
        row.pack(fill="x", after=self.body, padx=2 * st.PAD, pady=(0, 2 * st.PAD))
        self.error_row = row
        self._tag_all(row)

    def _build_calls(self, m: Message) -> None:
        calls = m.tool_calls if m.role == "assistant" else None
        if self.calls_frame is not None:
            self.calls_frame.destroy()
            self.calls_frame = None
        if not calls:
            return
        _, body_bg = self._colors()
        frame = tk.Frame(self, background=body_bg)
        frame.pack(fill="x", padx=2 * st.PAD, pady=(0, 2 * st.PAD))
        for i, call in enumerate(calls):
            fn: dict[str, Any] = call.get("function") or {}
            row = tk.Frame(frame, background=st.SURFACE, highlightthickness=1, highlightbackground=st.BORDER)
            row.pack(fill="x", pady=(st.PAD, 0))
            tk.Label(row, text="ƒ", background=st.SURFACE, foreground=st.ACCENT, padx=st.PAD).pack(side="left")
            name = str(fn.get("name", "?"))
            known = name in self.editor.tool_names()
            tk.Label(row, text=name, background=st.SURFACE, foreground=st.TEXT if known else st.DANGER,
                     font="TkHeadingFont").pack(side="left")
            args = tk.Label(row, text=compact_json(str(fn.get("arguments", ""))), background=st.SURFACE,
                            foreground=st.TEXT, anchor="w", padx=st.PAD, font="TkFixedFont")
            args.pack(side="left", fill="x", expand=True)
            strip = ButtonStrip(row, self, st.SURFACE)
            strip.call_index = i
            strip.set_buttons([("edit_call", "edit", "Edit function and arguments"),
                               ("remove_call", "✕", "Remove this tool call")])
            strip.pack(side="right")
            tk.Label(row, text=str(call.get("id", "")), background=st.SURFACE, foreground=st.MUTED,
                     padx=st.PAD).pack(side="right")
            if not known:
                tk.Label(row, text="⚠ no such function", background=st.SURFACE, foreground=st.DANGER,
                         padx=st.PAD).pack(side="right")
        self.calls_frame = frame
        self._tag_all(frame)

    # -- state -----------------------------------------------------------------------------

    def _colors(self) -> tuple[str, str]:
        header_bg, body_bg = st.role_colors(self.role)
        if self.selected:
            header_bg = st.SELECT_HEADER
        return header_bg, body_bg

    def set_state(self, focused: bool | None = None, selected: bool | None = None) -> None:
        if focused is not None:
            self.focused = focused
        if selected is not None and selected != self.selected:
            self.selected = selected
            self._paint()
        ring = st.ACCENT if self.focused else st.SELECT_BORDER if self.selected else st.BORDER
        self.configure(highlightbackground=ring, highlightcolor=ring)
        if focused is not None:
            self.update_placeholder()

    def update_placeholder(self) -> None:
        """A muted hint inside an empty text that does not have the cursor (or that is waiting
        for a streamed reply)."""
        show = (not self.focused or self.editor.assist.streaming(self.mid)) and self.text.index("end-1c") == "1.0"
        if show:
            if self.placeholder is None:
                _, body_bg = self._colors()
                self.placeholder = tk.Label(self.text, background=body_bg, foreground=st.MUTED, padx=0, pady=0,
                                            cursor="xterm", font="TkTextFont")
                self.placeholder.bind("<Button-1>", lambda e: self.text.focus_set())
                self._tag_all(self.placeholder)
            calls = self.role == "assistant" and bool(self.message.tool_calls)
            live = self.editor.assist.placeholder(self)
            self.placeholder.configure(text=live or ("no text: the tool calls are the reply" if calls
                                                     else f"empty {self.role} message"))
            self.placeholder.place(x=int(self.text.cget("padx")), y=int(self.text.cget("pady")))
        elif self.placeholder is not None:
            self.placeholder.place_forget()

    def _paint(self) -> None:
        header_bg, body_bg = self._colors()
        self.configure(background=body_bg)
        self.body.configure(background=body_bg)
        self.text.configure(background=body_bg)
        if self.placeholder is not None:
            self.placeholder.configure(background=body_bg)
        self.header.configure(background=header_bg)
        rows = [self.header] + ([self.link_row] if self.link_row is not None else [])
        if self.link_row is not None:
            self.link_row.configure(background=header_bg)
        for w in [c for r in rows for c in r.winfo_children()]:
            if isinstance(w, (tk.Label, tk.Frame, tk.Canvas)):
                w.configure(background=header_bg)
        self.index_label.configure(style="selected.Head.TLabel" if self.selected else f"{self.role}.Head.TLabel",
                                   text=self._index_text())
        self.role_box.configure(style=f"{self.role}.Role.TCombobox")
        if self.calls_frame is not None:
            self.calls_frame.configure(background=body_bg)
        if self.meta_row is not None:
            self.meta_row.configure(background=header_bg)

    def train_text(self) -> str:
        return self.extras.label("toggle_train") if self.extras is not None else ""

    token_label: tk.Label | None = None  # made on first use (issue 6)

    def set_token_count(self, text: str) -> None:
        """The message's token count, small and grey in the header ("123 tok", "~123 tok"); ""
        clears it. Set by lima_tk.ui.editor_tokens after loads and saves."""
        label = self.token_label
        if label is None:
            if not text:
                return
            header_bg, _ = self._colors()
            label = self.token_label = tk.Label(self.header, background=header_bg, foreground=st.MUTED,
                                                font="TkSmallCaptionFont", padx=st.PAD, pady=0)
            label.pack(side="right", padx=(st.PAD, 2 * st.PAD))  # left of the action buttons, with a gap
            self._tag_all(label)
        if label.cget("text") != text:
            label.configure(text=text)
            self._fit_header()  # the actions may have to be drawn short to make room

    def _index_text(self) -> str:
        return f"✓ #{self.index + 1}" if self.selected else f"#{self.index + 1}"

    def set_index(self, index: int) -> None:
        if index != self.index:
            self.index = index
            self.index_label.configure(text=self._index_text())

    def update_message(self, m: Message, index: int, keep_text: bool = False) -> None:
        """Redraw from what the store returned (text only when the store's text changed).
        `keep_text`: the Text holds typing not saved yet; it stays (and is saved later)."""
        old = self.message
        self.message = m
        self.set_index(index)
        if m.role != self.role:
            self.role = m.role
            self.role_box.set(m.role)
            self._paint()
        if (m.role, m.weight, m.name, m.tool_calls) != (old.role, old.weight, old.name, old.tool_calls) or \
                m.role != old.role:
            self._role_widgets(m)
            self.update_placeholder()
        if (m.content or "") != self.saved_text:
            if keep_text:
                self.saved_text = m.content or ""
            else:
                self.set_content(m.content)
        self.update_assist()

    def set_content(self, content: str | None, initial: bool = False) -> None:
        content = content or ""
        self.saved_text = content
        self.nul_mapped = "\x00" in content
        shown = content.replace("\x00", NUL_STANDIN) if self.nul_mapped else content
        t = self.text
        keep = None if initial else t.index("insert")
        self.loading = True
        try:
            state = t.cget("state")
            if state == "disabled":
                t.configure(state="normal")
            t.delete("1.0", "end")
            t.insert("1.0", shown)
            t.edit_reset()
            t.edit_modified(False)
            t.mark_set("insert", keep or "end-1c")
            if state == "disabled":
                t.configure(state="disabled")
        finally:
            self.loading = False
        self.update_placeholder()

    def set_unsaved(self, text: str | None) -> None:
        """Show (or, with None, hide) the "Not saved: ..., retrying" strip over the text."""
        text = text or ""
        if text == self.unsaved:
            return
        self.unsaved = text
        if not text:
            if self.unsaved_label is not None:
                self.unsaved_label.pack_forget()
            return
        if self.unsaved_label is None:
            self.unsaved_label = tk.Label(self, background=st.ERROR_BG, foreground=st.DANGER, anchor="w",
                                          justify="left", padx=2 * st.PAD, pady=st.PAD // 2)
            self._tag_all(self.unsaved_label)
        self.unsaved_label.configure(text=f"⚠ {text}", wraplength=max(160, self.editor.text_width() - 4 * st.PAD))
        self.unsaved_label.pack(fill="x", before=self.body)

    def get_text(self) -> str:
        s = self.text.get("1.0", "end-1c")
        return s.replace(NUL_STANDIN, "\x00") if self.nul_mapped else s

    def text_top(self) -> int:
        """y of the Text's top edge inside the card."""
        y = CARD_BORDER + self.header.winfo_reqheight()
        if self.link_row is not None and self.link_row.winfo_manager():
            y += self.link_row.winfo_reqheight()
        if self.meta_row is not None and self.meta_row.winfo_manager():
            y += self.meta_row.winfo_reqheight()
        if self.unsaved_label is not None and self.unsaved_label.winfo_manager():
            y += self.unsaved_label.winfo_reqheight()
        return y

    def _error_wrap(self) -> None:
        if self.error_label is not None:
            room = self.editor.text_width() - 4 * st.PAD - 2 - getattr(self, "_error_strip_width", 160)
            self.error_label.configure(wraplength=max(160, room - 4 * st.PAD))

    def fit(self) -> bool:
        self._error_wrap()
        self._fit_header()
        return self.text.fit(self.editor.text_width(), self.editor.measurer)

    def _fit_header(self) -> None:
        """Draw the actions short ("+↑" for "+ above") when the header has no room for the words."""
        # The fullest header's width (measured once per font size), the same for every card: all
        # cards of a window draw their actions alike (issue 13 saw "+↑ +↓" next to "+ above").
        need = self.editor.header_actions_width() + self.role_box.winfo_reqwidth() + 2 * st.PAD
        compact = need > self.editor.card_width() - 2 * CARD_BORDER
        if compact != self.compact or not self._actions_drawn:
            self.compact = compact
            self._draw_actions()

    def _draw_actions(self) -> None:
        self._actions_drawn = True
        labels = COMPACT_LABELS if self.compact else {}
        self.actions.set_buttons([(a, labels.get(a, label), tip) for a, label, tip in HEADER_ACTIONS])

    # -- tool answer -----------------------------------------------------------------------

    def set_answer_options(self, options: list[tuple[str, str]], warning: str | None) -> None:
        """options: (call id, function name) of the open calls this tool message may answer;
        warning: why the message is not properly linked (None when it is)."""
        if self.answer_box is None or self.warn_label is None:
            return
        current = self.message.tool_call_id
        self.answer_ids = [cid for cid, _ in options]
        self.answer_box.configure(values=[f"{name} · {cid}" for cid, name in options])
        if current and current in self.answer_ids:
            self.answer_box.current(self.answer_ids.index(current))
        else:
            self.answer_box.set(current or "")
        if warning is None:
            self.warn_label.pack_forget()
        else:
            self.warn_label.configure(text=warning)
            self.warn_label.pack(side="left")

    def redraw_buttons(self) -> None:
        """After a font-size change: the button strips are drawn at the new size."""
        self._role_widgets(self.message)
        self._fit_header()
        self._draw_actions()

    def redraw_role_widgets(self) -> None:
        """After the chat's functions changed (unknown names are marked)."""
        self._role_widgets(self.message)

    # -- events ----------------------------------------------------------------------------

    def _on_role_selected(self, _event: tk.Event) -> None:
        role = self.role_box.get()
        self.role_box.selection_clear()
        if role != self.role:
            self.editor.run(lambda: self.editor.change_role(self, role))

    def _on_answer_selected(self, _event: tk.Event) -> None:
        assert self.answer_box is not None
        i = self.answer_box.current()
        self.answer_box.selection_clear()
        if 0 <= i < len(self.answer_ids) and self.answer_ids[i] != self.message.tool_call_id:
            self.editor.run(lambda: self.editor.set_answer(self, self.answer_ids[i]))
