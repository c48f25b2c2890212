"""Dialogs for function definitions (tools) and for the tool calls of an assistant message.

Both dialogs are non-modal Toplevels that validate before they call `on_save`; `on_save` may
still refuse (returns an error text, shown in the dialog) or accept (returns None: the dialog
closes). JSON errors name the line and column and highlight that spot. Tk thread only.
"""

from __future__ import annotations

import json
import secrets
import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk
from typing import Any

from lima_tk.model import FUNCTION_NAME_RE, Tool
from lima_tk.ui import editor_style as st
from lima_tk.ui.dialog_keys import bind_dialog_keys
from lima_tk.ui.platform import current


class JsonProblem(ValueError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def parse_json_object(text: str, what: str, allow_empty: bool = False) -> dict[str, Any] | None:
    """Parse a JSON object; raise JsonProblem with the 1-based line and column of a syntax error."""
    if not text.strip():
        if allow_empty:
            return None
        raise JsonProblem(f"{what}: empty (write a JSON object, e.g. {{}})", 1, 1)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise JsonProblem(f"{what}: line {e.lineno}, column {e.colno}: {e.msg}", e.lineno, e.colno) from None
    if not isinstance(value, dict):
        raise JsonProblem(f"{what}: must be a JSON object {{...}}, not {type(value).__name__}", 1, 1)
    return value


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def skeleton_arguments(tool: Tool | None) -> str:
    """A starting point for arguments: the schema's properties with empty values."""
    props = ((tool.parameters or {}).get("properties") if tool else None) or {}
    if not isinstance(props, dict) or not props:
        return "{}"
    empty = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
    out = {}
    for name, spec in props.items():
        t = spec.get("type") if isinstance(spec, dict) else None
        out[name] = empty.get(t if isinstance(t, str) else "", None)
    return json.dumps(out, ensure_ascii=False, indent=2)


class _JsonField(ttk.Frame):
    """A Text for JSON with an error highlight."""

    def __init__(self, master: tk.Misc, height: int = 10) -> None:
        super().__init__(master, style="Panel.TFrame")
        self.text = tk.Text(self, height=height, width=60, wrap="none", undo=True, font="TkFixedFont",
                            background=st.SURFACE, foreground=st.TEXT, insertbackground=st.TEXT,
                            highlightthickness=1, highlightbackground=st.BORDER, highlightcolor=st.ACCENT,
                            borderwidth=0, padx=st.PAD, pady=st.PAD)
        ys = ttk.Scrollbar(self, orient="vertical", command=self.text.yview)
        xs = ttk.Scrollbar(self, orient="horizontal", command=self.text.xview)
        self.text.configure(yscrollcommand=ys.set, xscrollcommand=xs.set)
        self.text.grid(row=0, column=0, sticky="nsew")
        ys.grid(row=0, column=1, sticky="ns")
        xs.grid(row=1, column=0, sticky="ew")
        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.text.tag_configure("error_line", background=st.ERROR_BG)
        self.text.tag_configure("error", background="#f4a3a3", underline=True)
        self.text.bind("<<Modified>>", self._on_modified)

    def get(self) -> str:
        return self.text.get("1.0", "end-1c")

    def set(self, value: str) -> None:
        self.text.delete("1.0", "end")
        self.text.insert("1.0", value)
        self.text.edit_reset()
        self.text.edit_modified(False)
        self.clear_error()

    def clear_error(self) -> None:
        self.text.tag_remove("error", "1.0", "end")
        self.text.tag_remove("error_line", "1.0", "end")

    def show_error(self, line: int | None, column: int | None) -> None:
        self.clear_error()
        if not line:
            return
        col = max(0, (column or 1) - 1)  # Python's column: code points
        # Tk 8.6 counts an emoji as two characters, Tk 9 as one (lima_tk/ui/platform.py).
        source_line = (self.text.get("1.0", "end-1c").split("\n") + [""] * line)[line - 1]
        start = current(self.text).text_index(source_line, col, line)
        self.text.tag_add("error_line", f"{line}.0", f"{line}.0 lineend+1c")
        self.text.tag_add("error", start, f"{start}+1c")
        self.text.mark_set("insert", start)
        self.text.see(start)

    def _on_modified(self, _event: tk.Event) -> None:
        if self.text.edit_modified():
            self.text.edit_modified(False)
            self.clear_error()


class _Dialog(tk.Toplevel):
    def __init__(self, master: tk.Misc, title: str) -> None:
        super().__init__(master, background=st.BG)
        self.title(title)
        self.transient(master.winfo_toplevel())
        self.body = ttk.Frame(self, style="Panel.TFrame", padding=3 * st.PAD)
        self.body.pack(fill="both", expand=True)
        self.error_var = tk.StringVar(self)
        self.error_label = ttk.Label(self, textvariable=self.error_var, style="Error.TLabel", wraplength=520,
                                     padding=(3 * st.PAD, 0))
        self.error_label.pack(fill="x")
        buttons = ttk.Frame(self, style="Panel.TFrame", padding=3 * st.PAD)
        buttons.pack(fill="x")
        self.save_button = ttk.Button(buttons, text="Save", style="Accent.TButton", command=self.save)
        self.save_button.pack(side="right")
        ttk.Button(buttons, text="Cancel", command=self.cancel).pack(side="right", padx=(0, 2 * st.PAD))
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        bind_dialog_keys(self, self.save, self.cancel)  # Enter in a field saves; in a JSON box, a new line
        self.bind(current(self).key_sequence("<Control-Return>"), lambda e: (self.save(), "break")[1])

    def save(self) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def cancel(self) -> None:
        self.destroy()

    def show_error(self, message: str) -> None:
        self.error_var.set(message)
        self.bell()


class ToolDialog(_Dialog):
    """Add or edit a function definition: name, description, parameters (JSON Schema)."""

    def __init__(self, master: tk.Misc, tool: Tool | None, on_save: Callable[[Tool], str | None]) -> None:
        super().__init__(master, "Edit function" if tool else "Add function")
        self.tool = tool
        self.on_save = on_save
        b = self.body
        ttk.Label(b, text="Name", style="Panel.TLabel").grid(row=0, column=0, sticky="w", pady=(0, st.PAD))
        self.name_var = tk.StringVar(self, tool.name if tool else "")
        self.name_entry = ttk.Entry(b, textvariable=self.name_var, width=40)
        self.name_entry.grid(row=0, column=1, sticky="ew", pady=(0, st.PAD))
        ttk.Label(b, text="letters, digits, _ and -; at most 64", style="PanelMuted.TLabel").grid(
            row=1, column=1, sticky="w", pady=(0, 2 * st.PAD))
        ttk.Label(b, text="Description", style="Panel.TLabel").grid(row=2, column=0, sticky="nw")
        self.desc = tk.Text(b, height=3, width=60, wrap="word", undo=True, font="TkTextFont",
                            background=st.SURFACE, foreground=st.TEXT, highlightthickness=1,
                            highlightbackground=st.BORDER, highlightcolor=st.ACCENT, borderwidth=0,
                            padx=st.PAD, pady=st.PAD)
        self.desc.grid(row=2, column=1, sticky="ew", pady=(0, 2 * st.PAD))
        if tool and tool.description:
            self.desc.insert("1.0", tool.description)
        ttk.Label(b, text="Parameters\n(JSON Schema)", style="Panel.TLabel").grid(row=3, column=0, sticky="nw")
        self.params = _JsonField(b, height=12)
        self.params.grid(row=3, column=1, sticky="nsew")
        default = {"type": "object", "properties": {}, "required": []}
        self.params.set(json.dumps(tool.parameters if tool and tool.parameters is not None else default,
                                   ensure_ascii=False, indent=2))
        self.strict_var = tk.BooleanVar(self, bool(tool and tool.strict))
        ttk.Checkbutton(b, text="strict (structured outputs)", variable=self.strict_var,
                        style="Panel.TCheckbutton").grid(
            row=4, column=1, sticky="w", pady=(st.PAD, 0))
        b.columnconfigure(1, weight=1)
        b.rowconfigure(3, weight=1)
        self.name_entry.focus_set()

    def result(self) -> Tool:
        """The tool as entered; raises JsonProblem / ValueError with a message to show."""
        name = self.name_var.get().strip()
        if not FUNCTION_NAME_RE.match(name):
            raise ValueError(f"Name {name!r} is not valid: use 1 to 64 letters, digits, _ or -")
        params = parse_json_object(self.params.get(), "Parameters", allow_empty=True)
        strict: bool | None = True if self.strict_var.get() else (False if self.tool and self.tool.strict is False
                                                                   else None)
        desc = self.desc.get("1.0", "end-1c").strip()
        return Tool(name=name, description=desc or None, parameters=params, strict=strict,
                    id=self.tool.id if self.tool else None)

    def save(self) -> bool:
        try:
            tool = self.result()
        except JsonProblem as e:
            self.params.show_error(e.line, e.column)
            self.show_error(e.message)
            return False
        except ValueError as e:
            self.show_error(str(e))
            self.name_entry.focus_set()
            return False
        error = self.on_save(tool)
        if error:
            self.show_error(error)
            return False
        self.destroy()
        return True


class ToolCallDialog(_Dialog):
    """Add or edit one tool call: function from the chat's tools, JSON arguments, call id."""

    def __init__(self, master: tk.Misc, tools: Sequence[Tool], call: dict[str, Any] | None,
                 on_save: Callable[[dict[str, Any]], str | None]) -> None:
        super().__init__(master, "Edit tool call" if call else "Add tool call")
        self.tools = {t.name: t for t in tools}
        self.on_save = on_save
        fn = (call or {}).get("function") or {}
        b = self.body
        ttk.Label(b, text="Function", style="Panel.TLabel").grid(row=0, column=0, sticky="w", pady=(0, st.PAD))
        names = list(self.tools)
        current = fn.get("name") or (names[0] if names else "")
        self.function = ttk.Combobox(b, values=names, state="readonly", width=38)
        self.function.set(current)
        self.function.grid(row=0, column=1, sticky="ew", pady=(0, st.PAD))
        self.function.bind("<<ComboboxSelected>>", self._on_function)
        ttk.Label(b, text="Call id", style="Panel.TLabel").grid(row=1, column=0, sticky="w", pady=(0, st.PAD))
        self.id_var = tk.StringVar(self, (call or {}).get("id") or new_call_id())
        ttk.Entry(b, textvariable=self.id_var, width=40).grid(row=1, column=1, sticky="ew", pady=(0, st.PAD))
        ttk.Label(b, text="Arguments\n(JSON)", style="Panel.TLabel").grid(row=2, column=0, sticky="nw")
        self.args = _JsonField(b, height=10)
        self.args.grid(row=2, column=1, sticky="nsew")
        self.args.set(fn.get("arguments") if call else skeleton_arguments(self.tools.get(current)))
        self.description = ttk.Label(b, style="PanelMuted.TLabel", wraplength=460)
        self.description.grid(row=3, column=1, sticky="w", pady=(st.PAD, 0))
        self._describe()
        b.columnconfigure(1, weight=1)
        b.rowconfigure(2, weight=1)
        self.args.text.focus_set()

    def _describe(self) -> None:
        tool = self.tools.get(self.function.get())
        self.description.configure(text=(tool.description or "") if tool else "")

    def _on_function(self, _event: tk.Event) -> None:
        self._describe()
        if self.args.get().strip() in ("", "{}"):
            self.args.set(skeleton_arguments(self.tools.get(self.function.get())))

    def result(self) -> dict[str, Any]:
        name = self.function.get()
        if name not in self.tools:
            raise ValueError("Pick a function of this chat (add one in the Tools panel first)")
        raw = self.args.get().strip()
        parse_json_object(raw, "Arguments")
        cid = self.id_var.get().strip()
        if not cid:
            raise ValueError("The call needs an id")
        # Arguments are kept exactly as written (a JSON string), not re-serialised.
        return {"id": cid, "type": "function", "function": {"name": name, "arguments": raw}}

    def save(self) -> bool:
        try:
            call = self.result()
        except JsonProblem as e:
            self.args.show_error(e.line, e.column)
            self.show_error(e.message)
            return False
        except ValueError as e:
            self.show_error(str(e))
            return False
        error = self.on_save(call)
        if error:
            self.show_error(error)
            return False
        self.destroy()
        return True
