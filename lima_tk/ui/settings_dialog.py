"""File > Settings… (Ctrl+,): user settings (the assistant's server, appearance; kept in the user
config file, owner-only) and dataset settings (languages, tag vocabulary, tokenizer, context
limit; kept inside the dataset). Tests set `vars[...]`, call `add_language`, `rename_tag`, ... and
then `save()`. The model list and the connection test run on workers (`AssistProbe`). Tk thread
only.
"""

from __future__ import annotations

import os
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.errors import LimaError
from lima_tk.settings import save_user_settings, user_config_path
from lima_tk.ui.dialogs import DANGER, SUCCESS, Dialog
from lima_tk.ui.theme import PAD
from lima_tk.ui.worker import JobGroup, run_in_thread

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import SettingsHost


class SettingsDialog(Dialog):
    """User settings (config file, owner-only) and dataset settings (inside the dataset).

    Tests set `self.vars[...]`, call `add_language`, `rename_tag`, ... and then `save()`.
    """

    USER_KEYS = ("base_url", "api_key", "use_env_key", "model", "temperature", "top_p", "max_tokens", "stop",
                 "timeout", "continue_method", "font_size")

    def __init__(self, app: SettingsHost, fetch_models: bool = True) -> None:
        super().__init__(app.root, "Settings", resizable=True)
        self.app = app
        us = app.user_settings
        self.vars: dict[str, tk.Variable] = {
            "base_url": tk.StringVar(self, value=str(us.get("base_url", ""))),
            "api_key": tk.StringVar(self, value=str(us.get("api_key", ""))),
            "use_env_key": tk.BooleanVar(self, value=bool(us.get("use_env_key", True))),
            "model": tk.StringVar(self, value=str(us.get("model", ""))),
            "temperature": tk.StringVar(self, value=_blank(us.get("temperature", 0.7))),
            "top_p": tk.StringVar(self, value=_blank(us.get("top_p"))),
            "max_tokens": tk.StringVar(self, value=_blank(us.get("max_tokens", 1024))),
            "timeout": tk.StringVar(self, value=_blank(us.get("timeout", 60))),
            "continue_method": tk.StringVar(self, value=str(us.get("continue_method") or "completions")),
            "font_size": tk.StringVar(self, value=str(us.get("font_size", 11))),
        }
        self._probe: AssistProbe | None = None
        self.nb = ttk.Notebook(self.body)
        self.nb.pack(fill="both", expand=True)
        self._assistant_tab()
        self._appearance_tab()
        self._dataset_tab()
        self.error = ttk.Label(self.buttons, text="", foreground="#b42318")
        self.error.pack(side="left")
        self.add_button("Save", self.save, default=True)
        self.add_button("Cancel", self.cancel)
        self.show(self.base_entry)
        self._server_seen = self._server()
        if fetch_models:
            self.fetch_models()

    # -- tabs --

    def _grid_row(self, frame: ttk.Frame, row: int, label: str, widget: tk.Misc, note: str = "",
                  label_sticky: str = "w") -> None:
        ttk.Label(frame, text=label).grid(row=row, column=0, sticky=label_sticky, padx=(0, 3 * PAD), pady=PAD)
        widget.grid(row=row, column=1, sticky="ew", pady=PAD)
        if note:
            ttk.Label(frame, text=note, style="Muted.TLabel", wraplength=600, justify="left").grid(
                row=row + 1, column=1, sticky="w", pady=(0, PAD))

    def _assistant_tab(self) -> None:
        f = ttk.Frame(self.nb, padding=4 * PAD)
        f.columnconfigure(1, weight=1)
        self.nb.add(f, text="Assistant")
        self.assistant_tab = f
        self.base_entry = ttk.Entry(f, textvariable=self.vars["base_url"], width=52)
        self._grid_row(f, 0, "Base URL", self.base_entry,
                       "Any OpenAI-compatible server: OpenAI, llama.cpp, vLLM, Ollama, LM Studio "
                       "(usually ends in /v1).")
        env_set = "set" if os.environ.get("OPENAI_API_KEY") else "not set"
        self.env_check = ttk.Checkbutton(f, text=f"Use OPENAI_API_KEY from the environment (now {env_set})",
                                         variable=self.vars["use_env_key"], command=self._key_state)
        self.env_check.grid(row=2, column=1, sticky="w", pady=PAD)
        row = ttk.Frame(f)
        self.key_entry = ttk.Entry(row, textvariable=self.vars["api_key"], show="•", width=40)
        self.key_entry.pack(side="left", fill="x", expand=True)
        self.show_key = tk.BooleanVar(self, value=False)
        ttk.Checkbutton(row, text="Show", variable=self.show_key,
                        command=lambda: self.key_entry.configure(show="" if self.show_key.get() else "•")).pack(
            side="left", padx=(2 * PAD, 0))
        self._grid_row(f, 3, "API key", row,
                       f"Kept only in {user_config_path()} (readable by you only), never in a dataset. "
                       "Local servers need none.")
        row = ttk.Frame(f)
        self.model_box = ttk.Combobox(row, textvariable=self.vars["model"], width=38)
        self.model_box.pack(side="left", fill="x", expand=True)
        self.list_button = ttk.Button(row, text="↻ List", width=7, command=self.fetch_models)
        self.list_button.pack(side="left", padx=(2 * PAD, 0))
        self._grid_row(f, 5, "Model", row)
        self.models_note = ttk.Label(f, text="", style="Muted.TLabel", wraplength=560, justify="left")
        self.models_note.grid(row=6, column=1, sticky="w", pady=(0, PAD))
        row = ttk.Frame(f)
        row.grid(row=7, column=1, sticky="ew", pady=PAD)
        self.test_button = ttk.Button(row, text="Test connection", command=self.test_connection)
        self.test_button.pack(side="left")
        self.test_result = ttk.Label(row, text="", wraplength=420, justify="left")
        self.test_result.pack(side="left", padx=(3 * PAD, 0), fill="x", expand=True)
        for w in (self.base_entry, self.key_entry):
            w.bind("<FocusOut>", lambda e: self._server_changed(), add="+")
        self.env_check.configure(command=lambda: (self._key_state(), self._server_changed()))

        ttk.Separator(f).grid(row=8, column=0, columnspan=2, sticky="ew", pady=3 * PAD)
        row = ttk.Frame(f)
        self.temp_spin = ttk.Spinbox(row, textvariable=self.vars["temperature"], from_=0, to=2, increment=0.1,
                                     width=6)
        self.top_p_entry = ttk.Entry(row, textvariable=self.vars["top_p"], width=6)
        self.max_spin = ttk.Spinbox(row, textvariable=self.vars["max_tokens"], from_=1, to=1_000_000, increment=64,
                                    width=8)
        self.timeout_spin = ttk.Spinbox(row, textvariable=self.vars["timeout"], from_=1, to=3600, increment=10,
                                        width=6)
        for i, (label, w) in enumerate((("Top p", self.top_p_entry), ("Max tokens", self.max_spin),
                                        ("Timeout (s)", self.timeout_spin))):
            if i == 0:
                self.temp_spin.pack(side="left")
            ttk.Label(row, text=label).pack(side="left", padx=(4 * PAD, 2 * PAD))
            w.pack(side="left")
        self._grid_row(f, 9, "Temperature", row, "Leave top p or max tokens empty to use the server's default. "
                                                 "The timeout is the longest wait for the server, also between two "
                                                 "pieces of a reply.")
        box = ttk.Frame(f)
        self.stop_text = tk.Text(box, height=2, width=40, wrap="none", font="TkFixedFont", undo=True,
                                 relief="flat", borderwidth=0, highlightthickness=1, padx=PAD, pady=PAD)
        self.stop_text.pack(fill="x")
        self.stop_text.insert("1.0", "\n".join(_escape(x) for x in _stop_list(self.app.user_settings.get("stop"))))
        self.stop_text.bind("<Tab>", lambda e: (self.stop_text.tk_focusNext().focus_set(), "break")[1])
        self._grid_row(f, 11, "Stop sequences", box, "One per line; \\n stands for a new line, \\t for a tab.",
                       label_sticky="nw")
        ttk.Label(f, text="Continue a reply").grid(row=13, column=0, sticky="nw", padx=(0, 3 * PAD), pady=PAD)
        box = ttk.Frame(f)
        box.grid(row=13, column=1, sticky="w", pady=PAD)
        ttk.Radiobutton(box, text="with the completions API and a ChatML prompt ending in the reply "
                                  "(llama.cpp, vLLM, LM Studio)", value="completions",
                        variable=self.vars["continue_method"]).pack(anchor="w")
        ttk.Radiobutton(box, text="with the chat API, the reply sent as the last message (Ollama, llama.cpp; "
                                  "vLLM with extra_body)", value="chat",
                        variable=self.vars["continue_method"]).pack(anchor="w")
        self._key_state()

    def _key_state(self) -> None:
        self.key_entry.state(["disabled"] if self.vars["use_env_key"].get() else ["!disabled"])

    # -- the server: model list and connection test, on a worker thread --

    def _server(self) -> tuple[str, str, bool]:
        v = self.vars
        return v["base_url"].get().strip(), v["api_key"].get().strip(), bool(v["use_env_key"].get())

    def _server_changed(self) -> None:
        """Base URL or key changed (focus left the field, Enter): list the models again."""
        if self._server() != self._server_seen:
            self._server_seen = self._server()
            self.fetch_models()

    def assist_config(self) -> Any:
        """The connection as typed (not saved yet), for the model list and the connection test."""
        from lima_tk.assist import AssistConfig

        base, key, env = self._server()
        settings = {"base_url": base, "api_key": key, "use_env_key": env, "model": self.vars["model"].get().strip()}
        try:
            settings["timeout"] = max(1.0, float(self.vars["timeout"].get()))
        except ValueError:
            pass
        return AssistConfig.from_settings(settings)

    def fetch_models(self) -> None:
        """Ask the server for its models (worker thread); the Model list fills when it answers."""
        self.models_note.configure(text="Asking the server for its models…")
        self._start_probe("models")

    def test_connection(self) -> None:
        """Check the connection (worker thread); the result is shown next to the button."""
        self.test_result.configure(text="Connecting…", foreground="")
        self.test_button.state(["disabled"])
        self._start_probe("check")

    def _start_probe(self, what: str) -> None:
        if self._probe is None or self._probe.closed:
            self._probe = AssistProbe(self, self._probe_result)
        self._probe.start(what, self.assist_config())

    def _probe_result(self, what: str, result: Any) -> None:
        """Tk thread: a model list (list[str]), a ConnectionReport, or an AssistError."""
        from lima_tk.assist import AssistError

        if what == "check":
            self.test_button.state(["!disabled"])
        if isinstance(result, AssistError):
            if what == "check":
                self.test_result.configure(text=f"✗ {result.message}", foreground=DANGER)
            else:
                self.models_note.configure(text=f"Could not list the models: {result.message}. "
                                                "Type the model's name.")
            return
        models = result if what == "models" else result.models
        if models:
            self.model_box.configure(values=models)
        if what == "check":
            self.test_result.configure(text=f"✓ {result.message}", foreground=SUCCESS)
        n = len(models)
        model = self.vars["model"].get().strip()
        note = f"{n} model{'s' if n != 1 else ''} on the server: pick one from the list or type a name."
        if n and model and model not in models:
            note += f" {model!r} is not among them (some servers answer with their loaded model anyway)."
        if not n:
            note = "The server lists no models: type the model's name."
        self.models_note.configure(text=note)

    def destroy(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None  # no cycle left: the dialog is freed here, on the Tk thread
        super().destroy()

    def _appearance_tab(self) -> None:
        f = ttk.Frame(self.nb, padding=4 * PAD)
        f.columnconfigure(1, weight=1)
        self.nb.add(f, text="Appearance")
        spin = ttk.Spinbox(f, textvariable=self.vars["font_size"], from_=8, to=28, increment=1, width=6)
        self._grid_row(f, 0, "Font size", spin, "Points; every window follows. Ctrl+S is not needed.")
        spin.grid_configure(sticky="w")

    def _dataset_tab(self) -> None:
        f = ttk.Frame(self.nb, padding=4 * PAD)
        self.nb.add(f, text="Dataset")
        self.dataset_tab = f
        store = self.app.store
        self.tokenizer = tk.StringVar(self, value="")
        self.context_limit = tk.StringVar(self, value="")
        self.lang_list = tk.Listbox(f, height=6, exportselection=False, activestyle="none")
        self.tag_tree = ttk.Treeview(f, columns=("tag", "chats"), show="headings", height=6, selectmode="browse")
        if store is None:
            ttk.Label(f, text="No dataset is open.", style="Muted.TLabel").grid(row=0, column=0, sticky="w")
            return
        s = store.get_settings()
        self.tokenizer.set(s.get("tokenizer") or "")
        self.context_limit.set(str(s.get("context_limit") or ""))
        ttk.Label(f, text=f"Stored inside {store.path.name}, so they travel with the data.",
                  style="Muted.TLabel").grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 2 * PAD))
        # languages
        lf = ttk.Labelframe(f, text="Languages")
        lf.grid(row=1, column=0, sticky="nsew", padx=(0, 2 * PAD))
        self.lang_list.pack(in_=lf, fill="both", expand=True)
        self.lang_list.lift(lf)
        for lang in s.get("languages", []):
            self.lang_list.insert("end", lang)
        self.lang_var = tk.StringVar(self)
        row = ttk.Frame(lf)
        row.pack(fill="x", pady=(2 * PAD, 0))
        e = ttk.Entry(row, textvariable=self.lang_var, width=8)
        e.pack(side="left", fill="x", expand=True)
        e.bind("<Return>", lambda ev: (self.add_language(), "break")[1])  # not the dialog's Save
        ttk.Button(row, text="Add", command=self.add_language).pack(side="left", padx=(PAD, 0))
        ttk.Button(row, text="Remove", command=self.remove_language).pack(side="left", padx=(PAD, 0))
        # tags
        tf = ttk.Labelframe(f, text="Tag vocabulary")
        tf.grid(row=1, column=1, sticky="nsew")
        self.tag_tree.heading("tag", text="Tag", anchor="w")
        self.tag_tree.heading("chats", text="Chats", anchor="e")
        self.tag_tree.column("tag", width=180, anchor="w")
        self.tag_tree.column("chats", width=70, anchor="e", stretch=False)
        holder = ttk.Frame(tf)
        holder.pack(fill="both", expand=True)
        sb = ttk.Scrollbar(holder, orient="vertical", command=self.tag_tree.yview)
        self.tag_tree.configure(yscrollcommand=sb.set)
        self.tag_tree.pack(in_=holder, side="left", fill="both", expand=True)
        self.tag_tree.lift(holder)
        sb.pack(side="right", fill="y")
        self.tag_var = tk.StringVar(self)
        row = ttk.Frame(tf)
        row.pack(fill="x", pady=(2 * PAD, 0))
        e = ttk.Entry(row, textvariable=self.tag_var, width=14)
        e.pack(side="left", fill="x", expand=True)
        ttk.Button(row, text="Add", command=lambda: self.add_tag()).pack(side="left", padx=(PAD, 0))
        ttk.Button(row, text="Rename / merge", command=lambda: self.rename_tag()).pack(side="left", padx=(PAD, 0))
        ttk.Button(row, text="Delete", command=lambda: self.delete_tag()).pack(side="left", padx=(PAD, 0))
        self.tag_tree.bind("<<TreeviewSelect>>", self._tag_selected)
        ttk.Label(tf, text="Select a tag, type a name, Rename / merge: an existing name merges the two. "
                  "Tag changes apply at once and Ctrl+Z undoes them.", style="Muted.TLabel", wraplength=360,
                  justify="left").pack(anchor="w", pady=(PAD, 0))
        self._fill_tags()
        other = ttk.Frame(f)
        other.grid(row=2, column=0, columnspan=2, sticky="ew", pady=(3 * PAD, 0))
        other.columnconfigure(1, weight=1)
        self._grid_row(other, 0, "Tokenizer", ttk.Entry(other, textvariable=self.tokenizer, width=40),
                       "A Hugging Face id (e.g. Qwen/Qwen2.5-7B-Instruct), a tokenizer.json or a folder.")
        spin = ttk.Spinbox(other, textvariable=self.context_limit, from_=0, to=10_000_000, increment=1024, width=10)
        self._grid_row(other, 2, "Context limit", spin)
        spin.grid_configure(sticky="w")
        f.columnconfigure(0, weight=1)
        f.columnconfigure(1, weight=2)
        f.rowconfigure(1, weight=1)
        if store.readonly:
            for w in _descendants(f):
                try:
                    w.state(["disabled"])  # type: ignore[union-attr]
                except (AttributeError, tk.TclError):
                    pass
            self.lang_list.configure(state="disabled")

    def _fill_tags(self) -> None:
        store = self.app.store
        self.tag_tree.delete(*self.tag_tree.get_children())
        if store is None:
            return
        for tag, n in store.tag_counts().items():
            self.tag_tree.insert("", "end", iid=tag, values=(tag, f"{n:,}"))

    def _tag_selected(self, _e: object = None) -> None:
        sel = self.tag_tree.selection()
        if sel:
            self.tag_var.set(sel[0])

    def languages(self) -> list[str]:
        return list(self.lang_list.get(0, "end"))

    def add_language(self, name: str | None = None) -> None:
        lang = (name if name is not None else self.lang_var.get()).strip()
        if lang and lang not in self.languages():
            self.lang_list.insert("end", lang)
        self.lang_var.set("")

    def remove_language(self, name: str | None = None) -> None:
        langs = self.languages()
        if name is None:
            sel = self.lang_list.curselection()
            if not sel:
                return
            index = sel[0]
        elif name in langs:
            index = langs.index(name)
        else:
            return
        self.lang_list.delete(index)

    def _tag_op(self, fn: Callable[[], Any], done: str) -> None:
        try:
            fn()
        except LimaError as e:
            self.error.configure(text=str(e))
            return
        self.error.configure(text="")
        self._fill_tags()
        self.app.data_changed()
        self.app.status(done)

    def add_tag(self, name: str | None = None) -> None:
        tag = (name if name is not None else self.tag_var.get()).strip()
        if tag and self.app.store is not None:
            self._tag_op(lambda: self.app.store.add_tag(tag), f"Added tag {tag}")
            self.tag_var.set("")

    def rename_tag(self, old: str | None = None, new: str | None = None) -> None:
        old = old if old is not None else (self.tag_tree.selection() or ("",))[0]
        new = (new if new is not None else self.tag_var.get()).strip()
        if not old or not new or old == new or self.app.store is None:
            return
        merged = new in self.app.store.tag_counts()
        self._tag_op(lambda: self.app.store.rename_tag(old, new),
                     f"Merged tag {old} into {new}" if merged else f"Renamed tag {old} to {new}")

    def delete_tag(self, name: str | None = None) -> None:
        name = name if name is not None else (self.tag_tree.selection() or ("",))[0]
        if name and self.app.store is not None:
            self._tag_op(lambda: self.app.store.delete_tag(name), f"Deleted tag {name} - Ctrl+Z to undo")

    # -- save --

    def collect(self) -> dict[str, Any]:
        """The user settings as typed, checked; raises ValueError with a readable message."""
        v = self.vars
        out: dict[str, Any] = {
            "base_url": v["base_url"].get().strip(),
            "api_key": v["api_key"].get().strip(),
            "use_env_key": bool(v["use_env_key"].get()),
            "model": v["model"].get().strip(),
            "continue_method": v["continue_method"].get() or "completions",
            "stop": [_unescape(line) for line in self.stop_text.get("1.0", "end-1c").split("\n") if line],
        }
        base = out["base_url"]
        if base and not base.startswith(("http://", "https://")):
            raise ValueError("The base URL must start with http:// or https://")
        try:
            out["temperature"] = float(v["temperature"].get())
            if not 0 <= out["temperature"] <= 2:
                raise ValueError
        except ValueError:
            raise ValueError("Temperature must be a number from 0 to 2") from None
        try:
            top_p = v["top_p"].get().strip()
            out["top_p"] = float(top_p) if top_p else None
            if out["top_p"] is not None and not 0 < out["top_p"] <= 1:
                raise ValueError
        except ValueError:
            raise ValueError("Top p must be a number above 0 and at most 1 (or empty)") from None
        try:
            max_tokens = v["max_tokens"].get().strip()
            out["max_tokens"] = int(max_tokens) if max_tokens else None
            if out["max_tokens"] is not None and out["max_tokens"] < 1:
                raise ValueError
        except ValueError:
            raise ValueError("Max tokens must be a whole number of at least 1 (or empty)") from None
        try:
            out["timeout"] = float(v["timeout"].get())
            if out["timeout"] < 1:
                raise ValueError
            if out["timeout"] == int(out["timeout"]):
                out["timeout"] = int(out["timeout"])
        except ValueError:
            raise ValueError("Timeout must be a number of seconds, at least 1") from None
        try:
            out["font_size"] = int(v["font_size"].get())
            if not 8 <= out["font_size"] <= 28:
                raise ValueError
        except ValueError:
            raise ValueError("Font size must be a whole number from 8 to 28") from None
        return out

    def save(self) -> bool:
        try:
            values = self.collect()
        except ValueError as e:
            self.error.configure(text=str(e))
            return False
        app = self.app
        app.user_settings.update(values)
        save_user_settings(app.user_settings)
        app.set_font_size(values["font_size"])
        store = app.store
        if store is not None and not store.readonly:
            try:
                current = store.get_settings()
                wanted = {"languages": self.languages(), "tokenizer": self.tokenizer.get().strip(),
                          "context_limit": self.context_limit.get().strip() or "0"}
                changed = {k: val for k, val in wanted.items() if str(val) != str(current.get(k))}
                if changed:
                    with store.change("Change dataset settings", "setting"):
                        for k, val in changed.items():
                            store.set_setting(k, val)
                    app.data_changed()
            except LimaError as e:
                self.error.configure(text=str(e))
                return False
        app.status("Settings saved")
        self.destroy()
        return True


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


def _stop_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(x) for x in value]


def _escape(text: str) -> str:
    """A stop sequence on one line of the settings box: backslash, newline and tab escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _unescape(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] in "ntr\\":
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[line[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class AssistProbe:
    """Runs `list_models` / `check_connection` on workers (`worker.run_in_thread`) for the settings
    dialog and hands each result to `on_result(what, result)` on the Tk thread. Only the newest
    request of each kind counts; a closed probe drops what still arrives. The worker gets plain
    data only (a config), never a widget."""

    POLL_MS = 40

    def __init__(self, widget: tk.Misc, on_result: Callable[[str, Any], None]) -> None:
        self.widget = widget
        self.on_result: Callable[[str, Any], None] | None = on_result
        self.newest: dict[str, int] = {}
        self.closed = False
        self._jobs = JobGroup()
        self._n = 0

    @property
    def pending(self) -> int:
        return sum(1 for j in self._jobs.jobs if not j.finished)

    def start(self, what: str, config: Any) -> None:
        """Tk thread. what: "models" or "check"."""
        self._n += 1
        n = self.newest[what] = self._n
        self._jobs.add(run_in_thread(self.widget, lambda: _probe(what, config), lambda r: self._got(what, n, r),
                                     name=f"assist-{what}", poll_ms=self.POLL_MS))

    def _got(self, what: str, n: int, result: Any) -> None:
        if not self.closed and n == self.newest.get(what) and self.on_result is not None:
            self.on_result(what, result)

    def close(self) -> None:
        self.closed = True
        self._jobs.close()
        self.on_result = None  # drop the reference to the dialog


def _probe(what: str, config: Any) -> Any:
    """Worker thread: one blocking request; the outcome, or the AssistError, is the result."""
    from lima_tk.assist import AssistError, check_connection, list_models

    try:
        return list_models(config) if what == "models" else check_connection(config)
    except AssistError as e:
        return e
    except Exception as e:  # noqa: BLE001 - anything else is shown as a message, not a traceback
        return AssistError(f"{type(e).__name__}: {e}", "client")


def _descendants(w: tk.Misc) -> list[tk.Misc]:
    out = []
    for c in w.winfo_children():
        out.append(c)
        out.extend(_descendants(c))
    return out
