"""Export and import dialogs of the main window (issue 7): every export format with its own
options, and the import options of formats that have some (ChatGPT exports), plus the report
shown after an import or export.

Non-blocking windows with methods a test can call (`set_format()`, `start()`); the file and
folder choosers go through `lima_tk.ui.dialogs` (`ask_save_path`, `ask_directory`), which tests
monkeypatch, and `hub_available()` says whether `huggingface_hub` is installed (tests patch it
too). The formats package is imported when a dialog opens, never at start-up. Tk thread only.
"""

from __future__ import annotations

import importlib.util
import re
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.store import ChatFilter
from lima_tk.ui import dialogs
from lima_tk.ui.dialogs import DANGER, Dialog
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ExportHost, WindowHost

# Export formats as people read them, in menu order, and what each one writes.
EXPORT_LABELS = {
    "openai": "OpenAI fine-tuning (JSONL)",
    "lima": "lima-tk, every field (JSONL)",
    "sharegpt": "ShareGPT (JSON array)",
    "alpaca": "Alpaca (JSON array)",
    "hf": "Hugging Face dataset (folder)",
    "pref-trl": "Preference pairs for TRL (JSONL)",
    "pref-openai": "Preference pairs for OpenAI DPO (JSONL)",
}
EXPORT_NOTES = {
    "openai": "One {\"messages\": [...]} per line: the shown version of each reply; train flags as \"weight\".",
    "lima": "Every stored field, versions and dataset settings included: imports back unchanged.",
    "sharegpt": "{\"conversations\": [{\"from\", \"value\"}]} records for FastChat and LLaMA-Factory.",
    "alpaca": "instruction / input / output records. Chats with tools, or not made of user and assistant "
              "turns, are skipped.",
    "hf": "A folder with data/train.jsonl (plain chats) and data/tools-train.jsonl (chats with tools), "
          "each with its own schema, and a README.md card: datasets.load_dataset(folder) loads it.",
    "pref-trl": "One prompt / chosen / rejected (+ tools) row per reply version marked rejected; the shown "
                "version is the chosen one.",
    "pref-openai": "One input / preferred_output / non_preferred_output row per reply version marked rejected; "
                   "the shown version is the preferred one.",
}
# Default file name after the dataset's name ("{stem}"), per format; "" = a folder.
EXPORT_NAMES = {
    "openai": "{stem}.jsonl",
    "lima": "{stem}-lima.jsonl",
    "sharegpt": "{stem}-sharegpt.json",
    "alpaca": "{stem}-alpaca.json",
    "hf": "{stem}-hf",
    "pref-trl": "{stem}-pref-trl.jsonl",
    "pref-openai": "{stem}-pref-openai.jsonl",
}
FOLDER_FORMATS = ("hf",)
PREFERENCE_FORMATS = ("pref-trl", "pref-openai")
FILE_SUFFIXES = (".jsonl", ".json")
JSONL_TYPES = [("JSON Lines", "*.jsonl"), ("All files", "*")]
JSON_TYPES = [("JSON", "*.json"), ("All files", "*")]
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")

# Import formats whose options matter in the GUI: the options dialog opens by itself for these.
IMPORT_OPTION_FORMATS = ("chatgpt",)
IMPORT_LABELS = {
    "openai": "OpenAI fine-tuning JSONL",
    "lima": "lima-tk export (JSONL)",
    "limagui": "lima-gui JSONL",
    "limagui-csv": "lima-gui CSV",
    "limagui-config": "lima-gui data_config.json (settings only)",
    "chatgpt": "ChatGPT data export",
    "sharegpt": "ShareGPT",
    "alpaca": "Alpaca",
}


def hub_available() -> bool:
    """Is `huggingface_hub` installed (for "Upload to the Hub")? Found, not imported."""
    return importlib.util.find_spec("huggingface_hub") is not None


def default_name(fmt: str, stem: str) -> str:
    return EXPORT_NAMES.get(fmt, "{stem}.jsonl").format(stem=stem)


def retarget(path: Path, old: str, new: str, stem: str) -> Path:
    """The destination after the format changed from `old` to `new`: the new format's default name
    when the path still had the old default, else the same name with the new kind of ending
    (`mydata.jsonl` -> `mydata` for a folder -> `mydata.json` for ShareGPT)."""
    if path.name == default_name(old, stem) or not path.name:
        return path.with_name(default_name(new, stem))
    base = path.name
    for suffix in FILE_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    if new in FOLDER_FORMATS:
        return path.with_name(base)
    ending = Path(default_name(new, "x")).suffix or ".jsonl"
    return path.with_name(base + ending)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


# -- the report after an import or export --------------------------------------------------------


def _radio_row(lf: ttk.Labelframe, row: int, label: str, variable: tk.Variable,
               choices: list[tuple[str, str]]) -> None:
    """An options row: `label`, and beside it one radio button per (value, text), stacked."""
    ttk.Label(lf, text=label).grid(row=row, column=0, sticky="nw", padx=(0, 3 * PAD), pady=PAD)
    box = ttk.Frame(lf)
    box.grid(row=row, column=1, sticky="w", pady=PAD)
    for value, text in choices:
        ttk.Radiobutton(box, text=text, value=value, variable=variable).pack(anchor="w")


def show_report(app: WindowHost, report: Any, heading: str, *, imported: bool) -> dialogs.TextReport | None:
    """The report window, when something was skipped or there are warnings."""
    from lima_tk.formats.summary import report_lines

    lines = report_lines(report, imported=imported)
    if not lines:
        return None
    title = "Import report" if imported else "Export report"
    return dialogs.TextReport(app.root, title, heading, lines)


# -- export ----------------------------------------------------------------------------------------


class ExportDialog(Dialog):
    """Format (and its options), which chats, "skip chats with problems", destination.

    `set_format(name)` (or `format.set(name)`) switches the options shown and the destination's
    ending; `start()` runs the export and returns the Job (None when something is missing)."""

    ANY_TAG = "(any tag)"
    ANY_LANG = "(any language)"

    def __init__(self, app: ExportHost) -> None:
        super().__init__(app.root, "Export")
        self.app = app
        store = app.store
        assert store is not None
        from lima_tk.formats import EXPORT_FORMATS

        self.formats = [f for f in EXPORT_LABELS if f in EXPORT_FORMATS] + \
            [f for f in EXPORT_FORMATS if f not in EXPORT_LABELS]
        self.format_labels = {EXPORT_LABELS.get(n, n): n for n in self.formats}
        self.stem = store.path.name.removesuffix(".lima.db").removesuffix(".db") or "dataset"
        self._shown_format = self.formats[0]
        self._rejected_count: int | None = None

        f = ttk.Frame(self.body)
        f.pack(fill="both", expand=True)
        f.columnconfigure(1, weight=1)
        self.grid_frame = f
        r = 0
        ttk.Label(f, text="Format").grid(row=r, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        self.format = tk.StringVar(self, value=self.formats[0])
        self.format_label = tk.StringVar(self, value=EXPORT_LABELS.get(self.formats[0], self.formats[0]))
        self.format_box = ttk.Combobox(f, textvariable=self.format_label, values=list(self.format_labels),
                                       state="readonly", width=40)
        self.format_box.grid(row=r, column=1, sticky="ew", pady=PAD)
        self.format_box.bind("<<ComboboxSelected>>",
                             lambda e: self.format.set(self.format_labels[self.format_label.get()]))
        r += 1
        self.note = ttk.Label(f, text="", style="Muted.TLabel", wraplength=480, justify="left")
        self.note.grid(row=r, column=1, sticky="w", pady=(0, PAD))
        r += 1
        # What the chosen format cannot hold (issue 11), and the replies marked "no train" it would train.
        self.lossy_note = ttk.Label(f, text="", style="Muted.TLabel", wraplength=480, justify="left")
        self.lossy_note.grid(row=r, column=1, sticky="w", pady=(0, PAD))
        r += 1
        self.weight0_count = store.no_train_reply_count()
        self.weight0 = tk.StringVar(self, value="keep")
        self.weight0_frame = ttk.Frame(f)
        self.weight0_frame.grid(row=r, column=1, sticky="w", pady=(0, PAD))
        self.weight0_note = ttk.Label(self.weight0_frame, text="", foreground=DANGER, wraplength=480,
                                      justify="left")
        self.weight0_note.pack(anchor="w")
        for value, text in (("keep", "Export them anyway (they are trained)"),
                            ("drop", "Leave out the chats that have one"),
                            ("cut", "End each such chat before that reply")):
            ttk.Radiobutton(self.weight0_frame, text=text, value=value, variable=self.weight0).pack(anchor="w")
        r += 1
        ttk.Label(f, text="Chats").grid(row=r, column=0, sticky="nw", padx=(0, 3 * PAD), pady=PAD)
        cl = app.chat_list
        shown, selected = cl.total, len(cl.selected)
        all_n = store.count_chats()
        self.scope = tk.StringVar(self, value="shown" if not cl.filter.is_empty() else "all")
        box = ttk.Frame(f)
        box.grid(row=r, column=1, sticky="w", pady=PAD)
        ttk.Radiobutton(box, text=f"All {all_n:,} chats", value="all", variable=self.scope).pack(anchor="w")
        rb = ttk.Radiobutton(box, text=f"The {shown:,} shown by the filter", value="shown", variable=self.scope)
        rb.pack(anchor="w")
        if cl.filter.is_empty():
            rb.state(["disabled"])
        rb = ttk.Radiobutton(box, text=f"The {selected:,} selected", value="selected", variable=self.scope)
        rb.pack(anchor="w")
        if not selected:
            rb.state(["disabled"])
        r += 1
        self.tags = [t for t in store.tag_counts()]
        langs = [self.ANY_LANG, *[x for x in store.get_setting("languages")]]
        ttk.Label(f, text="Only with tag").grid(row=r, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        self.tag = tk.StringVar(self, value=self.ANY_TAG)
        ttk.Combobox(f, textvariable=self.tag, values=[self.ANY_TAG, *self.tags], state="readonly", width=24).grid(
            row=r, column=1, sticky="w", pady=PAD)
        r += 1
        ttk.Label(f, text="Only language").grid(row=r, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        self.language = tk.StringVar(self, value=self.ANY_LANG)
        ttk.Combobox(f, textvariable=self.language, values=langs, state="readonly", width=24).grid(
            row=r, column=1, sticky="w", pady=PAD)
        r += 1
        self.skip_problems = tk.BooleanVar(self, value=False)
        ttk.Checkbutton(f, text="Skip chats with problems (linter errors; View > Problems lists them)",
                        variable=self.skip_problems).grid(row=r, column=1, sticky="w", pady=PAD)
        r += 1
        # Options of the chosen format: one frame per format, only the chosen one is shown.
        self.options_row = r
        self.option_frames: dict[str, ttk.Labelframe] = {}
        self._build_option_vars()
        r += 1
        self.path_label = ttk.Label(f, text="Save to")
        self.path_label.grid(row=r, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        self.path = tk.StringVar(self, value=str(store.path.parent / default_name(self.formats[0], self.stem)))
        row = ttk.Frame(f)
        row.grid(row=r, column=1, sticky="ew", pady=PAD)
        self.path_entry = ttk.Entry(row, textvariable=self.path, width=44)
        self.path_entry.pack(side="left", fill="x", expand=True)
        self.browse_button = ttk.Button(row, text="Browse…", command=self.browse)
        self.browse_button.pack(side="left", padx=(2 * PAD, 0))
        r += 1
        self.path_note = ttk.Label(f, text="", style="Muted.TLabel", wraplength=480, justify="left")
        self.path_note.grid(row=r, column=1, sticky="w")
        self.error = ttk.Label(self.buttons, text="", foreground=DANGER, wraplength=380, justify="left")
        self.error.pack(side="left", fill="x", expand=True)
        self.add_button("Export", self.start, default=True)
        self.add_button("Cancel", self.cancel)
        self._trace = self.format.trace_add("write", lambda *a: self._format_changed())
        # the flag changes what the hf folder loses (weights) and whether "no train" replies are lost
        self._flag_trace = self.training_flag.trace_add("write", lambda *a: self._format_changed())
        self._format_changed()
        self.show(self.format_box)

    # -- per-format options ------------------------------------------------------------------

    def _build_option_vars(self) -> None:
        # Hugging Face folder
        self.split = tk.StringVar(self, value="none")  # none | ratio | tag
        self.test_ratio = tk.StringVar(self, value="0.1")
        self.seed = tk.StringVar(self, value="0")
        self.test_tag = tk.StringVar(self, value=self.tags[0] if self.tags else "")
        self.training_flag = tk.BooleanVar(self, value=False)
        self.args_as_strings = tk.BooleanVar(self, value=False)  # tool_args=string: datasets < 4.7
        self.push = tk.BooleanVar(self, value=False)
        self.repo_id = tk.StringVar(self, value="")
        self.private = tk.BooleanVar(self, value=True)
        # preference pairs, ShareGPT, Alpaca
        self.rejected = tk.StringVar(self, value="marked")  # marked | all
        self.system = tk.StringVar(self, value="turn")  # turn | column
        self.multi_turn = tk.StringVar(self, value="history")  # history | skip

    def _options_frame(self, fmt: str) -> ttk.Labelframe | None:
        """The options of one format (built on first use)."""
        if fmt in self.option_frames:
            return self.option_frames[fmt]
        key = "pref" if fmt in PREFERENCE_FORMATS else fmt
        build = {"hf": self._hf_options, "pref": self._pref_options, "sharegpt": self._sharegpt_options,
                 "alpaca": self._alpaca_options}.get(key)
        if build is None:
            return None
        lf = ttk.Labelframe(self.grid_frame, text="Options")
        lf.columnconfigure(1, weight=1)
        build(lf)
        self.option_frames[fmt] = lf
        return lf

    def _hf_options(self, lf: ttk.Labelframe) -> None:
        ttk.Label(lf, text="Test split").grid(row=0, column=0, sticky="nw", padx=(0, 3 * PAD), pady=PAD)
        box = ttk.Frame(lf)
        box.grid(row=0, column=1, sticky="w", pady=PAD)
        ttk.Radiobutton(box, text="None: every chat in train", value="none", variable=self.split,
                        command=self._hf_states).grid(row=0, column=0, columnspan=5, sticky="w")
        ttk.Radiobutton(box, text="A random share", value="ratio", variable=self.split,
                        command=self._hf_states).grid(row=1, column=0, sticky="w")
        self.ratio_entry = ttk.Entry(box, textvariable=self.test_ratio, width=6)
        self.ratio_entry.grid(row=1, column=1, sticky="w", padx=(2 * PAD, 0))
        ttk.Label(box, text="seed").grid(row=1, column=2, sticky="w", padx=(3 * PAD, 0))
        self.seed_entry = ttk.Entry(box, textvariable=self.seed, width=6)
        self.seed_entry.grid(row=1, column=3, sticky="w", padx=(2 * PAD, 0))
        ttk.Label(box, text="(0.1 = 10 %)", style="Muted.TLabel").grid(
            row=1, column=4, sticky="w", padx=(2 * PAD, 0))
        rb = ttk.Radiobutton(box, text="The chats tagged", value="tag", variable=self.split, command=self._hf_states)
        rb.grid(row=2, column=0, sticky="w", pady=(PAD, 0))
        self.tag_box = ttk.Combobox(box, textvariable=self.test_tag, values=self.tags, state="readonly", width=20)
        self.tag_box.grid(row=2, column=1, columnspan=4, sticky="w", padx=(2 * PAD, 0), pady=(PAD, 0))
        if not self.tags:
            rb.state(["disabled"])
        ttk.Checkbutton(lf, text="Per-message “training” flag (true for assistant messages whose train flag "
                                 "is not 0)", variable=self.training_flag).grid(
            row=1, column=0, columnspan=2, sticky="w", pady=PAD)
        ttk.Checkbutton(lf, text="Tool-call arguments as JSON strings (for datasets older than 4.7, which cannot "
                                 "load them as objects)", variable=self.args_as_strings,
                        command=self._format_changed).grid(
            row=2, column=0, columnspan=2, sticky="w", pady=(0, PAD))
        ttk.Separator(lf).grid(row=3, column=0, columnspan=2, sticky="ew", pady=PAD)
        row = ttk.Frame(lf)
        row.grid(row=4, column=0, columnspan=2, sticky="ew", pady=(PAD, 0))
        self.push_check = ttk.Checkbutton(row, text="Upload to the Hugging Face Hub as", variable=self.push,
                                          command=self._hf_states)
        self.push_check.pack(side="left")
        self.repo_entry = ttk.Entry(row, textvariable=self.repo_id, width=28)
        self.repo_entry.pack(side="left", padx=(2 * PAD, 0))
        self.private_check = ttk.Checkbutton(row, text="private", variable=self.private)
        self.private_check.pack(side="left", padx=(3 * PAD, 0))
        self.hub_note = ttk.Label(lf, text="", style="Muted.TLabel", wraplength=560, justify="left")
        self.hub_note.grid(row=5, column=0, columnspan=2, sticky="w", padx=(6 * PAD, 0), pady=(0, PAD))
        self._hf_states()

    def _hf_states(self) -> None:
        if not hasattr(self, "ratio_entry"):
            return
        split = self.split.get()
        for w, on in ((self.ratio_entry, split == "ratio"), (self.seed_entry, split == "ratio"),
                      (self.tag_box, split == "tag")):
            w.state(["!disabled"] if on else ["disabled"])
        hub = hub_available()
        if not hub:
            self.push.set(False)
            self.push_check.state(["disabled"])
            self.hub_note.configure(text="Uploading needs huggingface_hub: pip install 'lima-tk[hub]' (or "
                                         "huggingface_hub), then open this dialog again.",
                                    foreground=DANGER)
        else:
            self.push_check.state(["!disabled"])
            self.hub_note.configure(text="A dataset repository such as your-name/my-chats (created when "
                                         "missing), with your Hub login: hf auth login, or HF_TOKEN.",
                                    foreground="")
        on = hub and self.push.get()
        self.repo_entry.state(["!disabled"] if on else ["disabled"])
        self.private_check.state(["!disabled"] if on else ["disabled"])

    def _pref_options(self, lf: ttk.Labelframe) -> None:
        _radio_row(lf, 0, "Rejected", self.rejected, [
            ("marked", "The reply versions marked rejected in the chat editor"),
            ("all", "Every version that is not shown")])
        n = self.rejected_count()
        text = (f"{_plural(n, 'reply')} in this dataset {'has' if n == 1 else 'have'} versions marked rejected. "
                if n else "No reply version is marked rejected yet. ")
        text += "To mark one, open a chat and click the “2/3” of a reply."
        self.pref_note = ttk.Label(lf, text=text, style="Muted.TLabel", wraplength=460, justify="left")
        self.pref_note.grid(row=1, column=0, columnspan=2, sticky="w")

    def rejected_count(self) -> int:
        """Messages with a version marked rejected (read once per dialog)."""
        if self._rejected_count is None:
            store = self.app.store
            assert store is not None
            self._rejected_count = store.rejected_version_count()
        return self._rejected_count

    def _sharegpt_options(self, lf: ttk.Labelframe) -> None:
        _radio_row(lf, 0, "System message", self.system, [
            ("turn", "The first turn, from “system” (LLaMA-Factory reads it)"),
            ("column", "A “system” key of the record")])

    def _alpaca_options(self, lf: ttk.Labelframe) -> None:
        _radio_row(lf, 0, "Multi-turn chats", self.multi_turn, [
            ("history", "Earlier turns go to “history”"), ("skip", "Skip them")])

    def options(self, fmt: str | None = None) -> dict[str, Any]:
        """The writer options of the chosen (or given) format. ValueError with a readable message."""
        fmt = fmt or self.format.get()
        out: dict[str, Any] = {}
        if fmt in FOLDER_FORMATS:
            split = self.split.get()
            if split == "ratio":
                try:
                    ratio = float(self.test_ratio.get().strip().replace(",", "."))
                    if not 0 < ratio < 1:
                        raise ValueError
                except ValueError:
                    raise ValueError("The test share must be a number above 0 and below 1 (0.1 = 10 %)") from None
                try:
                    seed = int(self.seed.get().strip() or "0")
                except ValueError:
                    raise ValueError("The seed must be a whole number") from None
                out.update(test_ratio=ratio, seed=seed)
            elif split == "tag":
                if not self.test_tag.get():
                    raise ValueError("Pick the tag of the test chats")
                out["test_tag"] = self.test_tag.get()
            if self.training_flag.get():
                out["training_flag"] = True
            if self.args_as_strings.get():
                out["tool_args"] = "string"
        elif fmt in PREFERENCE_FORMATS:
            out["rejected"] = self.rejected.get()
        elif fmt == "sharegpt" and self.system.get() != "turn":
            out["system"] = self.system.get()
        elif fmt == "alpaca" and self.multi_turn.get() != "history":
            out["multi_turn"] = self.multi_turn.get()
        if self._weight0_lost(fmt) and self.weight0.get() != "keep":
            out["weight0"] = self.weight0.get()
        return out

    def _weight0_lost(self, fmt: str) -> bool:
        """Whether the format would train replies marked "no train" (it has no place for the flag)."""
        if not self.weight0_count:
            return False
        return fmt in ("sharegpt", "alpaca") or (fmt in FOLDER_FORMATS and not self.training_flag.get())

    def _weight0_state(self) -> None:
        fmt = self.format.get()
        if self._weight0_lost(fmt):
            n = self.weight0_count
            self.weight0_note.configure(
                text=f"{n:,} {'reply' if n == 1 else 'replies'} marked “no train” in this dataset: this format "
                     "cannot mark them, so they would be trained" + (" (or tick the per-message training flag below)."
                                                         if fmt in FOLDER_FORMATS else "."))
            self.weight0_frame.grid()
        else:
            self.weight0_frame.grid_remove()

    def push_target(self) -> tuple[str, bool] | None:
        """(repo id, private) when the folder is to be uploaded. ValueError with a readable message."""
        if self.format.get() not in FOLDER_FORMATS or not self.push.get():
            return None
        if not hub_available():
            raise ValueError("Uploading needs huggingface_hub: pip install 'lima-tk[hub]'")
        repo = self.repo_id.get().strip()
        if not REPO_ID.match(repo):
            raise ValueError("The repository looks like your-name/dataset-name")
        return repo, bool(self.private.get())

    # -- format and destination ----------------------------------------------------------------

    def set_format(self, fmt: str) -> None:
        if fmt not in self.formats:
            raise ValueError(f"unknown export format {fmt!r}")
        self.format.set(fmt)

    def _format_changed(self) -> None:
        fmt = self.format.get()
        if fmt not in self.formats:
            return
        old, self._shown_format = self._shown_format, fmt
        self.format_label.set(EXPORT_LABELS.get(fmt, fmt))
        self.note.configure(text=EXPORT_NOTES.get(fmt, ""))
        from lima_tk.formats.lossy import lossy_fields

        lossy = lossy_fields(fmt, {"training_flag": self.training_flag.get(),
                                   "tool_args": "string" if self.args_as_strings.get() else "object"})
        self.lossy_note.configure(text=("Not in this format: " + "; ".join(lossy) + ".") if lossy else "")
        self._weight0_state()
        for other, frame in self.option_frames.items():
            if other != fmt:
                frame.grid_remove()
        frame = self._options_frame(fmt)
        if frame is not None:
            frame.grid(row=self.options_row, column=0, columnspan=2, sticky="ew", pady=(PAD, PAD))
        folder = fmt in FOLDER_FORMATS
        self.path_label.configure(text="Folder" if folder else "Save to")
        if old != fmt:
            current = self.path.get().strip()
            if current:
                self.path.set(str(retarget(Path(current).expanduser(), old, fmt, self.stem)))
        self.path_note.configure(text="A new folder, or an earlier export of this kind (replaced)."
                                 if folder else "")
        if folder:
            self.path_note.grid()
        else:
            self.path_note.grid_remove()
        self.error.configure(text="")

    def browse(self) -> None:
        fmt = self.format.get()
        p = Path(self.path.get().strip() or self.stem).expanduser()
        if fmt in FOLDER_FORMATS:
            chosen = dialogs.ask_directory(self, "Export to a folder", initialdir=str(p.parent))
            if chosen:
                chosen = Path(chosen)
                if chosen.is_dir() and any(chosen.iterdir()) and not _earlier_hf_export(chosen):
                    # A folder that holds other things: the export goes into a new folder inside it.
                    chosen = chosen / default_name(fmt, self.stem)
                self.path.set(str(chosen))
            return
        ext = Path(default_name(fmt, "x")).suffix or ".jsonl"
        chosen = dialogs.ask_save_path(self, "Export to", initialfile=p.name, defaultextension=ext,
                                       filetypes=JSON_TYPES if ext == ".json" else JSONL_TYPES,
                                       initialdir=str(p.parent))
        if chosen:
            self.path.set(str(chosen))

    def chat_filter(self) -> ChatFilter | None:
        cl = self.app.chat_list
        tag = None if self.tag.get() == self.ANY_TAG else self.tag.get()
        lang = None if self.language.get() == self.ANY_LANG else self.language.get()
        scope = self.scope.get()
        if scope == "shown":
            f = cl.filter
            return ChatFilter(f.text, tag or f.tag, lang or f.language, over_limit=f.over_limit)
        if scope == "selected":
            return ChatFilter(tag=tag, language=lang, ids=cl.selection_ids())
        if tag or lang:
            return ChatFilter(tag=tag, language=lang)
        return None

    def _check_destination(self, path: Path, fmt: str) -> str | None:
        from lima_tk.errors import DatasetError
        from lima_tk.store.files import contains_dataset, refuse_dataset_target

        dataset = self.app.store.path if self.app.store is not None else None
        try:  # never over the open dataset, its -wal/-shm, or a folder that holds it (issue 10)
            refuse_dataset_target(path, dataset)
        except DatasetError as e:
            return str(e)
        if fmt in FOLDER_FORMATS and contains_dataset(path, dataset):
            return f"{path.name} holds the open dataset; the export replaces the whole folder: choose another folder"
        if not path.parent.is_dir():
            return f"No such folder: {path.parent}"
        if fmt in FOLDER_FORMATS:
            if path.exists() and not path.is_dir():
                return f"{path.name} is a file: the Hugging Face format writes a folder; give a folder name"
            if path.is_dir() and any(path.iterdir()) and not _earlier_hf_export(path):
                return f"{path.name} is not empty: choose a new or empty folder (an earlier export is replaced)"
        elif path.is_dir():
            return f"{path.name} is a folder: give a file name"
        return None

    def start(self):
        fmt = self.format.get()
        out = self.path.get().strip()
        if not out:
            self.error.configure(text="Choose where to save the " + ("folder" if fmt in FOLDER_FORMATS else "file"))
            return None
        path = Path(out).expanduser()
        problem = self._check_destination(path, fmt)
        if problem:
            self.error.configure(text=problem)
            return None
        try:
            options = self.options(fmt)
            push = self.push_target()
        except ValueError as e:
            self.error.configure(text=str(e))
            return None
        f = self.chat_filter()
        skip = bool(self.skip_problems.get())
        self.destroy()
        return self.app.run_export(path, fmt, f, options=options, skip_problems=skip, push=push)

    def destroy(self) -> None:
        trace = getattr(self, "_trace", None)
        if trace is not None:
            self._trace = None
            try:
                self.format.trace_remove("write", trace)
            except tk.TclError:
                pass
        flag = getattr(self, "_flag_trace", None)
        if flag is not None:
            self._flag_trace = None
            try:
                self.training_flag.trace_remove("write", flag)
            except tk.TclError:
                pass
        super().destroy()
        _release_variables(self)


def _earlier_hf_export(folder: Path) -> bool:
    from lima_tk.formats.hf import MARKER

    readme = folder / "README.md"
    try:
        return readme.is_file() and MARKER in readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


# -- import ---------------------------------------------------------------------------------------


class ImportOptionsDialog(Dialog):
    """Import options: duplicates, and a ChatGPT export's placeholder text, code turns, custom
    instructions and regenerations. `start()` calls `on_ok(options, allow_duplicates)` and returns
    what it returns (the import Job)."""

    def __init__(self, app: WindowHost, path: Path, fmt: str | None,
                 on_ok: Callable[[dict[str, Any], bool], Any], *, title: str = "Import",
                 new_dataset: bool = False) -> None:
        super().__init__(app.root, title)
        self.app = app
        self.path = Path(path)
        self.fmt = fmt
        self.on_ok = on_ok
        f = ttk.Frame(self.body)
        f.pack(fill="both", expand=True)
        f.columnconfigure(1, weight=1)
        try:
            size = _size(self.path.stat().st_size)
        except OSError:
            size = ""
        ttk.Label(f, text="File").grid(row=0, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        ttk.Label(f, text=f"{self.path.name}" + (f"  ({size})" if size else ""), style="Title.TLabel").grid(
            row=0, column=1, sticky="w", pady=PAD)
        ttk.Label(f, text="Format").grid(row=1, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        detected = f"{IMPORT_LABELS.get(fmt, fmt)} (detected from the content)" if fmt else \
            "not recognised (the import will say why)"
        ttk.Label(f, text=detected).grid(row=1, column=1, sticky="w", pady=PAD)
        self.allow_duplicates = tk.BooleanVar(self, value=False)
        where = "earlier in the file" if new_dataset else "already in the dataset (or earlier in the file)"
        ttk.Checkbutton(f, text="Import duplicates too", variable=self.allow_duplicates).grid(
            row=2, column=1, sticky="w", pady=(PAD, 0))
        ttk.Label(f, text=f"Duplicates: chats whose messages equal a chat's {where}. Left out and counted "
                          "unless ticked.", style="Muted.TLabel", wraplength=460, justify="left").grid(
            row=3, column=1, sticky="w", pady=(0, PAD))
        self.placeholder = tk.StringVar(self, value="[{kind}]")
        self.code_turns = tk.StringVar(self, value="tools")
        self.custom_instructions = tk.BooleanVar(self, value=True)
        self.regenerations = tk.StringVar(self, value="alternatives")
        self.chatgpt_frame: ttk.Labelframe | None = None
        if fmt == "chatgpt":
            self.chatgpt_frame = self._chatgpt_options(f)
            self.chatgpt_frame.grid(row=4, column=0, columnspan=2, sticky="ew", pady=(2 * PAD, PAD))
        self.error = ttk.Label(self.buttons, text="", foreground=DANGER)
        self.error.pack(side="left")
        self.add_button("Import", self.start, default=True)
        self.add_button("Cancel", self.cancel)
        self.show()

    def _chatgpt_options(self, parent: tk.Misc) -> ttk.Labelframe:
        lf = ttk.Labelframe(parent, text="ChatGPT export: options")
        lf.columnconfigure(1, weight=1)
        ttk.Label(lf, text="Images, audio, files").grid(row=0, column=0, sticky="w", padx=(0, 3 * PAD), pady=PAD)
        row = ttk.Frame(lf)
        row.grid(row=0, column=1, sticky="w", pady=PAD)
        self.placeholder_entry = ttk.Entry(row, textvariable=self.placeholder, width=14)
        self.placeholder_entry.pack(side="left")
        ttk.Label(row, text="{kind} = image, audio, file…; empty leaves them out", style="Muted.TLabel").pack(
            side="left", padx=(2 * PAD, 0))
        _radio_row(lf, 1, "Code it ran", self.code_turns, [
            ("tools", "As tool calls and tool messages"), ("drop", "Leave out")])
        _radio_row(lf, 2, "Regenerated replies", self.regenerations, [
            ("alternatives", "Keep as versions of the reply (to mark rejected for preference pairs)"),
            ("drop", "Keep only the reply shown in ChatGPT")])
        ttk.Checkbutton(lf, text="Keep custom instructions as the system message",
                        variable=self.custom_instructions).grid(row=3, column=0, columnspan=2, sticky="w", pady=PAD)
        return lf

    def options(self) -> dict[str, Any]:
        if self.fmt != "chatgpt":
            return {}
        return {"placeholder": self.placeholder.get(), "code_turns": self.code_turns.get(),
                "custom_instructions": bool(self.custom_instructions.get()),
                "regenerations": self.regenerations.get()}

    def start(self) -> Any:
        options = self.options()
        allow = bool(self.allow_duplicates.get())
        self.destroy()
        return self.on_ok(options, allow)

    def destroy(self) -> None:
        super().destroy()
        _release_variables(self)


def _release_variables(dialog: tk.Misc) -> None:
    """Drop a closed dialog's Tk variables now, on the Tk thread. (A dialog and its widgets
    form reference cycles; left to the garbage collector, the variables could be finalized by a
    collection that happens in the import or export worker thread, off the Tk thread.)"""
    for name, value in list(vars(dialog).items()):
        if isinstance(value, tk.Variable):
            delattr(dialog, name)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KB"
    return f"{n} bytes"


def detect(path: Path) -> str | None:
    """The import format of a file by its content; None when it is not recognised (the import
    itself then says why)."""
    from lima_tk.errors import LimaError
    from lima_tk.formats import detect_format

    try:
        return detect_format(path)
    except (LimaError, OSError):
        return None
