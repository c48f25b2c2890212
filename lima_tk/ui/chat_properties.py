"""The right-hand panel of the chat editor: name, language, tags, notes, counts, dates, tools.

Edits go to the store through the editor (`editor.save_properties`), on Enter, on focus-out,
after a pause while typing, and when the editor flushes. What it needs from the editor is
`interfaces.PropertiesHost`. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from datetime import datetime
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError
from lima_tk.model import Chat
from lima_tk.ui import editor_style as st
from lima_tk.ui.tag_chips import TagChips

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import PropertiesHost


def local_time(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return dt.astimezone().strftime("%Y-%m-%d %H:%M")


BUDGET_COLORS = {"ok": "#5fae6b", "near": "#e0a030", "over": "#d64545"}
BUDGET_TROUGH = "#dfe3e9"
NEAR = 0.9  # amber from this share of the limit


class BudgetBar(tk.Canvas):
    """A thin bar: the chat's tokens as a share of the context limit. `state`: none / ok / near / over."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, height=6, highlightthickness=0, borderwidth=0, background=st.BG)
        self.state = "none"
        self.fraction = 0.0
        self.bind("<Configure>", lambda e: self._draw())

    def set(self, total: int | None, limit: int) -> str:
        if total is None or not limit:
            self.state, self.fraction = "none", 0.0
        else:
            self.fraction = total / limit
            self.state = "over" if total > limit else "near" if self.fraction >= NEAR else "ok"
        self._draw()
        return self.state

    def _draw(self) -> None:
        self.delete("all")
        if self.state == "none":
            return
        w = max(self.winfo_width(), 1)
        h = int(self.cget("height"))
        self.create_rectangle(0, 0, w, h, fill=BUDGET_TROUGH, outline="")
        self.create_rectangle(0, 0, max(2, round(w * min(self.fraction, 1.0))), h, fill=BUDGET_COLORS[self.state],
                              outline="", tags=("fill",))


class ChatProperties(ttk.Frame):
    def __init__(self, master: tk.Misc, editor: PropertiesHost) -> None:
        super().__init__(master, style="Panel.TFrame", padding=(3 * st.PAD, 2 * st.PAD, 3 * st.PAD, 2 * st.PAD))
        self.editor = editor
        self.chat: Chat | None = None
        self._job: str | None = None
        self._loading = False
        self.columnconfigure(1, weight=1)
        style = ttk.Style(self)
        style.configure("PanelDanger.TLabel", background=st.BG, foreground=st.DANGER)
        style.configure("PanelLink.TButton", padding=(st.PAD, 0), background=st.BG, bordercolor=st.BG,
                        lightcolor=st.BG, darkcolor=st.BG, foreground=st.ACCENT, width=-4)
        style.map("PanelLink.TButton", background=[("active", "#e6e9ee")])
        r = 0

        def label(text: str, row: int, sticky: str = "w", top: int = 0) -> None:
            ttk.Label(self, text=text, style="Panel.TLabel").grid(row=row, column=0, sticky=sticky,
                                                                  padx=(0, 2 * st.PAD), pady=(st.PAD + top, st.PAD))

        label("Name", r)
        self.name_var = tk.StringVar(self)
        self.name_entry = ttk.Entry(self, textvariable=self.name_var, width=20)
        self.name_entry.grid(row=r, column=1, sticky="ew", pady=st.PAD)
        r += 1
        label("Language", r)
        self.lang_var = tk.StringVar(self)
        self.lang_box = ttk.Combobox(self, textvariable=self.lang_var, width=12)
        self.lang_box.grid(row=r, column=1, sticky="w", pady=st.PAD)
        r += 1
        label("Tags", r, "nw", top=st.PAD // 2 + 1)  # on the chips' text line, not above it
        self.tags = TagChips(self, on_change=self._on_tags)
        self.tags.grid(row=r, column=1, sticky="ew", pady=st.PAD)
        r += 1
        label("Notes", r, "nw")
        self.notes = tk.Text(self, height=4, width=20, wrap="word", undo=True, font="TkTextFont",
                             background=st.SURFACE, foreground=st.TEXT, insertbackground=st.TEXT,
                             highlightthickness=1, highlightbackground=st.BORDER_DARK, highlightcolor=st.ACCENT,
                             borderwidth=0, padx=st.PAD, pady=st.PAD)
        self.notes.grid(row=r, column=1, sticky="nsew", pady=st.PAD)
        self._notes_row = r
        r += 1
        ttk.Separator(self).grid(row=r, column=0, columnspan=2, sticky="ew", pady=2 * st.PAD)
        r += 1
        self.info: dict[str, ttk.Label] = {}
        for key, text in (("messages", "Messages"), ("tokens", "Tokens"), ("created", "Created"),
                          ("updated", "Updated")):
            ttk.Label(self, text=text, style="PanelMuted.TLabel").grid(row=r, column=0, sticky="w")
            self.info[key] = ttk.Label(self, text="–", style="Panel.TLabel")
            if key != "tokens":
                self.info[key].grid(row=r, column=1, sticky="w")
                r += 1
                continue
            # Tokens: "812 / 4,096" and a preview link, then the budget bar and what is left.
            row = ttk.Frame(self, style="Panel.TFrame")
            row.grid(row=r, column=1, sticky="ew")
            self.info[key].pack(in_=row, side="left")
            self.info[key].lift(row)
            self.preview_button = ttk.Button(row, text="Preview…", style="PanelLink.TButton", takefocus=False,
                                             command=self.open_preview)
            self.preview_button.pack(side="right")
            r += 1
            self.budget = BudgetBar(self)
            self.budget.grid(row=r, column=1, sticky="ew", pady=(0, st.PAD // 2))
            r += 1
            self.budget_note = ttk.Label(self, text="", style="PanelMuted.TLabel")
            self.budget_note.grid(row=r, column=1, sticky="w", pady=(0, st.PAD))
            r += 1
        ttk.Separator(self).grid(row=r, column=0, columnspan=2, sticky="ew", pady=2 * st.PAD)
        r += 1
        ttk.Label(self, text="Tools (functions)", style="PanelHeading.TLabel").grid(
            row=r, column=0, columnspan=2, sticky="w")
        r += 1
        self.tool_list = tk.Listbox(self, height=5, activestyle="none", exportselection=False,
                                    background=st.SURFACE, foreground=st.TEXT, borderwidth=0,
                                    highlightthickness=1, highlightbackground=st.BORDER_DARK,
                                    highlightcolor=st.ACCENT, selectbackground=st.SELECT,
                                    selectforeground=st.TEXT)
        self.tool_list.grid(row=r, column=0, columnspan=2, sticky="nsew", pady=(st.PAD, 0))
        self._tools_row = r
        r += 1
        buttons = ttk.Frame(self, style="Panel.TFrame")
        buttons.grid(row=r, column=0, columnspan=2, sticky="ew", pady=(st.PAD, 0))
        self.add_tool_button = ttk.Button(buttons, text="Add…", style="Small.TButton",
                                          command=lambda: editor.event_generate("<<AddTool>>"))
        self.add_tool_button.pack(side="left")
        self.tool_buttons = [
            ttk.Button(buttons, text="Edit…", style="Small.TButton",
                       command=lambda: editor.event_generate("<<EditTool>>")),
            ttk.Button(buttons, text="Delete", style="Small.TButton",
                       command=lambda: editor.event_generate("<<DeleteTool>>"))]
        self.tools_shown: bool | None = None
        self._show_tool_list(False)
        self.tool_list.bind("<Double-Button-1>", lambda e: editor.event_generate("<<EditTool>>"))
        self.tool_list.bind("<Return>", lambda e: editor.event_generate("<<EditTool>>"))
        self.tool_list.bind("<Delete>", lambda e: editor.event_generate("<<DeleteTool>>"))

        # Saved through the editor's autosave: a write that fails is shown and retried.
        self.name_entry.bind("<Return>", lambda e: self._save())
        self.name_entry.bind("<FocusOut>", lambda e: self._save())
        self.name_var.trace_add("write", lambda *a: self._schedule())
        self.lang_box.bind("<<ComboboxSelected>>", lambda e: self._save())
        self.lang_box.bind("<Return>", lambda e: self._save())
        self.lang_box.bind("<FocusOut>", lambda e: self._save())
        self.notes.bind("<<Modified>>", self._on_notes_modified)
        self.notes.bind("<FocusOut>", lambda e: self._save())

    def _show_tool_list(self, shown: bool) -> None:
        """A chat without functions shows one line ("Add function…") and gives the room to the
        notes (issue 13: the empty box took ~300 px)."""
        if shown == self.tools_shown:
            return
        self.tools_shown = shown
        if shown:
            self.tool_list.grid()
            self.add_tool_button.configure(text="Add…")
            for b in self.tool_buttons:
                b.pack(side="left", padx=(st.PAD, 0))
        else:
            self.tool_list.grid_remove()
            self.add_tool_button.configure(text="Add function…")
            for b in self.tool_buttons:
                b.pack_forget()
        self.rowconfigure(self._tools_row, weight=1 if shown else 0)
        self.rowconfigure(self._notes_row, weight=0 if shown else 1)

    # -- loading ---------------------------------------------------------------------------

    def load(self, chat: Chat, settings: dict[str, Any]) -> None:
        """Show the chat; fields with unsaved typing keep it (flush runs before a reload, and
        what it could not write stays in its field to be retried)."""
        keep = self.pending() if self.editor.save_failure() else {}
        self._loading = True
        try:
            self.chat = chat
            if "name" not in keep and self.name_var.get() != chat.name:
                self.name_var.set(chat.name)
            languages = list(settings.get("languages") or [])
            if chat.language and chat.language not in languages:
                languages.append(chat.language)
            self.lang_box.configure(values=languages)
            if "language" not in keep and self.lang_var.get() != (chat.language or ""):
                self.lang_var.set(chat.language or "")
            self.tags.set(chat.tags, settings.get("tags") or [])
            if "notes" not in keep and self.notes.get("1.0", "end-1c") != chat.notes:
                self.notes.delete("1.0", "end")
                self.notes.insert("1.0", chat.notes)
                self.notes.edit_reset()
                self.notes.edit_modified(False)
            self.info["messages"].configure(text=str(len(chat.messages)))
            if self.budget.state == "none" and self.info["tokens"].cget("text").startswith("–"):
                try:  # no counts yet (they follow at once from the editor's token view)
                    limit = max(0, int(settings.get("context_limit") or 0))
                except (TypeError, ValueError):
                    limit = 0
                self.info["tokens"].configure(text=f"– / {limit:,}" if limit else "–")
            self.info["created"].configure(text=local_time(chat.created_at))
            self.info["updated"].configure(text=local_time(chat.updated_at))
            selected = self.selected_tool_id()
            self.tool_list.delete(0, "end")
            for t in chat.tools:
                desc = f"  – {t.description}" if t.description else ""
                self.tool_list.insert("end", f"ƒ {t.name}{desc}")
            self._show_tool_list(bool(chat.tools))
            ids = [t.id for t in chat.tools]
            if selected in ids:
                self.tool_list.selection_set(ids.index(selected))
            elif ids:
                self.tool_list.selection_set(0)
        finally:
            self._loading = False

    def set_tokens(self, text: str) -> None:
        """The Tokens line as given, e.g. '812 / 4,096'."""
        self.info["tokens"].configure(text=text)

    def set_budget(self, total: int | None, limit: int, estimate: bool = False) -> None:
        """The chat's tokens against the context limit: '~812 / 4,096', the bar (amber from 90 %,
        red over the limit) and what is left. `total` None: not counted yet."""
        mark = "~" if estimate else ""
        if total is None:
            text = f"– / {limit:,}" if limit else "–"
        else:
            text = f"{mark}{total:,} / {limit:,}" if limit else f"{mark}{total:,}"
        self.info["tokens"].configure(text=text, style="PanelDanger.TLabel" if self.budget.set(total, limit)
                                      == "over" else "Panel.TLabel")
        note = ""
        if total is not None and limit:
            left = limit - total
            note = f"{-left:,} over the limit" if left < 0 else f"{left:,} left"
        elif total is not None:
            note = "no context limit set"
        if estimate and total is not None:
            note += " · estimate"
        self.budget_note.configure(text=note)

    def open_preview(self) -> Any:
        """The chat as the model sees it (lima_tk.ui.token_preview)."""
        return self.editor.open_token_preview()

    def selected_tool_id(self) -> int | None:
        if self.chat is None:
            return None
        sel = self.tool_list.curselection()
        if not sel or sel[0] >= len(self.chat.tools):
            return None
        return self.chat.tools[sel[0]].id

    # -- saving ----------------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._loading:
            return
        if self._job is not None:
            self.after_cancel(self._job)
        self._job = self.after(self.editor.props_delay, self._save)

    def _save(self) -> None:
        self._job = None
        if self.pending():
            self.editor.save_soon()

    def _on_notes_modified(self, _event: tk.Event) -> None:
        if self.notes.edit_modified():
            self.notes.edit_modified(False)
            if not self._loading:
                self.editor.note_typed(self.notes)
            self._schedule()

    def _on_tags(self, tags: list[str]) -> None:
        old = list(self.chat.tags) if self.chat is not None else []
        if self.chat is not None:
            self.chat.tags = list(tags)
        try:
            self.editor.save_properties(tags=tags)
        except LimaError as e:  # busy, disk full: nothing changed, so show the tags it still has
            if self.chat is not None:
                self.chat.tags = old
            self.editor.status(str(e), error=True)
            self.editor.reload()

    def pending(self) -> dict[str, Any]:
        """Fields whose shown value differs from the chat as loaded."""
        if self.chat is None:
            return {}
        out: dict[str, Any] = {}
        name = self.name_var.get()
        if name != self.chat.name:
            out["name"] = name
        lang = self.lang_var.get().strip()
        if lang != (self.chat.language or ""):
            out["language"] = lang or None
        notes = self.notes.get("1.0", "end-1c")
        if notes != self.chat.notes:
            out["notes"] = notes
        return out

    def close(self) -> None:
        """The editor closes: no timer is left behind."""
        if self._job is not None:
            try:
                self.after_cancel(self._job)
            except tk.TclError:
                pass
            self._job = None

    def flush(self) -> bool:
        if self._job is not None:
            self.after_cancel(self._job)
            self._job = None
        if self.editor.closed:
            return False
        fields = self.pending()
        if not fields:
            return False
        assert self.chat is not None
        old = {key: getattr(self.chat, key) for key in fields}
        for key, value in fields.items():  # what is shown is what is stored from here on
            setattr(self.chat, key, value)
        try:
            self.editor.save_properties(**fields)
        except BaseException:  # not written: the fields stay pending (the editor retries)
            for key, value in old.items():
                setattr(self.chat, key, value)
            raise
        return True
