"""The Problems panel: the dataset linter's findings in a list, filtered by severity and code;
double-click (or Enter) opens the chat at the message.

Tk thread only, except `_work`, which runs on a worker thread with its own read-only store: it
runs `lima_tk.validate.lint_store` (token totals as cached, never a tokenizer load); a
`lima_tk.ui.progress.Job` brings the plain data back to the Tk thread.

Entry point: `open_problems_panel(app)`; `app` needs `root`, `store` and `status(text)`, and
`open_chat(chat_id, message_index=None)` when it has one (else the chat editor is opened here).
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING, Any

from lima_tk.store import DatasetStore
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.theme import PAD, PALETTE
from lima_tk.ui.worker import Job
from lima_tk.validate import CODES, ERROR, Finding, lint_store

ALL_CODES = "All codes"
SEVERITIES = {"All": None, "Errors": ERROR, "Warnings": "warning"}
MAX_ROWS = 5000  # rows put in the list at once; the rest are counted, and a code filter shows them
WARNING_FG = "#8a5a00"
NO_PROBLEMS = ("No problems found.\nEvery chat passes the checks: role order, empty turns, tool calls, the context "
               "limit, duplicates.\nAfter more edits, “Check again” looks again.")
NO_CHATS = "No chats to check yet.\nAdd one in the main window (Ctrl+N) or import a file (Ctrl+I)."

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import WindowHost

OpenCallback = Callable[[int, "int | None"], None]


def open_problems_panel(app: WindowHost, on_open: OpenCallback | None = None) -> ProblemsPanel:
    """Open (or raise and refresh) the Problems panel of `app`. Tk thread only."""
    panel = getattr(app, "problems_panel", None)
    if panel is not None and panel.winfo_exists():
        panel.deiconify()
        panel.lift()
        panel.refresh()
        return panel
    panel = ProblemsPanel(app, on_open)
    app.problems_panel = panel
    return panel


def open_at(app: Any, chat_id: int, message_index: int | None) -> None:
    """Open a chat at a message: `app.open_chat(chat_id, message_index=...)` when the app takes the
    index, else its `open_chat(chat_id)` (or the chat editor) and then focus the message."""
    fn = getattr(app, "open_chat", None)
    if fn is not None:
        try:
            takes_index = "message_index" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes_index = False
        if takes_index:
            fn(chat_id, message_index=message_index)
            return
        fn(chat_id)
        editor = getattr(app, "editors", {}).get(chat_id)
    else:
        from lima_tk.ui.chat_editor import open_chat_editor

        editor = open_chat_editor(app, chat_id)
    if editor is not None and message_index is not None:
        _focus_when_ready(editor, message_index)


def _focus_when_ready(editor: Any, index: int, tries: int = 50) -> None:
    """Best effort: the editor builds its cards in the background."""
    try:
        if not editor.winfo_exists():
            return
        order = list(getattr(editor, "order", []))
        if not order and tries > 0:
            editor.after(20, _focus_when_ready, editor, index, tries - 1)
            return
        if 0 <= index < len(order):
            editor.focus_message(order[index])
    except (tk.TclError, AttributeError):
        pass


class ProblemsPanel(tk.Toplevel):
    """Tk thread only."""

    COLUMNS = ("severity", "code", "chat", "message", "text")

    def __init__(self, app: WindowHost, on_open: OpenCallback | None = None, drain_ms: int = 50) -> None:
        super().__init__(app.root)
        self.app = app
        self.on_open: OpenCallback = on_open or (lambda chat_id, index: open_at(app, chat_id, index))
        self.drain_ms = drain_ms
        self.findings: list[Finding] = []
        self.checked = 0
        self.state = "idle"  # idle / working / done
        self.shown: list[Finding] = []  # the rows in the list, in order (iid = index)
        self._job: Job | None = None
        self.title(f"Problems - {Path(app.store.path).name}")
        self.geometry("980x520")
        self.minsize(560, 300)
        self._build()
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda e: self.close())
        self.bind("<F5>", lambda e: self.refresh())
        self.refresh()

    # -- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        bar = ttk.Frame(self, padding=(3 * PAD, 2 * PAD), style="Toolbar.TFrame")
        bar.pack(side="top", fill="x")
        self.refresh_button = ttk.Button(bar, text="Check again", command=self.refresh)
        self.refresh_button.pack(side="right")
        ttk.Label(bar, text="Show").pack(side="left")
        # No tk.StringVar: one collected on a worker thread would call Tcl from there.
        self.severity_box = ttk.Combobox(bar, state="readonly", width=10, values=list(SEVERITIES))
        self.severity_box.set("All")
        self.severity_box.pack(side="left", padx=(PAD, 3 * PAD))
        ttk.Label(bar, text="Code").pack(side="left")
        self.code_box = ttk.Combobox(bar, state="readonly", width=30, values=[ALL_CODES])
        self.code_box.set(ALL_CODES)
        self.code_box.pack(side="left", padx=(PAD, 3 * PAD))
        for box in (self.severity_box, self.code_box):
            box.bind("<<ComboboxSelected>>", lambda e: self.fill())
        self.summary = ttk.Label(bar, text="", style="Count.TLabel")
        self.summary.pack(side="left", padx=(PAD, 0))
        self.note = ttk.Label(self, text="", style="Muted.TLabel", padding=(3 * PAD, 0, 3 * PAD, PAD))
        self.note.pack(side="top", fill="x")
        # The whole text of the selected problem (the column cuts long ones) and what its code means.
        self.detail = ttk.Label(self, text="", padding=(3 * PAD, PAD, 3 * PAD, 3 * PAD), justify="left")
        self.detail.pack(side="bottom", fill="x")
        self.detail.bind("<Configure>", lambda e: self.detail.configure(wraplength=max(e.width - 6 * PAD, 200)))
        body = ttk.Frame(self, padding=(3 * PAD, 0, 3 * PAD, 0))
        body.pack(side="top", fill="both", expand=True)
        self.tree = ttk.Treeview(body, columns=self.COLUMNS, show="headings", selectmode="browse")
        heads = {"severity": ("Severity", 84, False), "code": ("Code", 170, False), "chat": ("Chat", 220, False),
                 "message": ("Message", 92, False), "text": ("Problem", 420, True)}
        for col, (label, width, stretch) in heads.items():
            self.tree.heading(col, text=label, anchor="w")
            self.tree.column(col, width=width, minwidth=50, stretch=stretch, anchor="w")
        self.tree.tag_configure("error", foreground=PALETTE["danger"])
        self.tree.tag_configure("warning", foreground=WARNING_FG)
        scroll = ttk.Scrollbar(body, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.tree.pack(side="left", fill="both", expand=True)
        self.tree.bind("<Double-1>", self._double_click)
        self.tree.bind("<<TreeviewSelect>>", lambda e: self._show_detail())
        self.tree.bind("<Return>", lambda e: self.open_selected())
        self.empty = ttk.Label(body, text="", style="Empty.TLabel", anchor="center")

    # -- checking (worker thread) and receiving (Tk thread) --------------------------------

    def refresh(self) -> None:
        """Check the dataset again in the background (drops a check still running)."""
        if self._job is not None:
            self._job.stop_polling()
        self.state = "working"
        self.note.configure(text="Checking…")
        store, work = self.app.store, self._work
        path, readonly = Path(store.path), bool(store.readonly)
        self._job = Job(self, lambda job: work(path, readonly, job.progress, job.cancel_event),
                        on_done=self._checked, on_error=self._failed, on_progress=self._progress,
                        poll_ms=self.drain_ms, thread_name="lima-tk-problems").start()

    @staticmethod
    def _work(path: Path, readonly: bool, progress: Callable[[int, int], None],
              cancel: threading.Event) -> tuple[int, list[Finding]]:
        """Worker thread: its own store (it only reads); (chats checked, findings) out."""
        with DatasetStore(path, readonly=readonly) as store:
            return store.count_chats(), list(lint_store(store, progress=progress, cancel=cancel))

    def _progress(self, done: int, total: int) -> None:
        self.note.configure(text=f"Checking… {100 * done // max(total, 1)}%")

    def _checked(self, result: tuple[int, list[Finding]]) -> None:
        self.checked, self.findings = result
        self.state = "done"
        self._fill_codes()
        self.fill()
        self.note.configure(text=time.strftime("Checked at %H:%M:%S") + " · double-click a problem to "
                            "open the chat at that message · F5 checks again")

    def _failed(self, e: BaseException) -> None:
        self.state = "done"
        self.note.configure(text=f"Could not check the dataset: {str(e) or type(e).__name__}")
        self.app.status(f"Problems: {str(e) or type(e).__name__}")

    # -- the list -----------------------------------------------------------------------------

    def _fill_codes(self) -> None:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.code] = counts.get(f.code, 0) + 1
        order = sorted(counts, key=lambda c: (CODES.get(c, (ERROR,))[0] != ERROR, c))
        self._code_labels = {f"{c} ({counts[c]:,})": c for c in order}
        current = self.code_filter()
        self.code_box.configure(values=[ALL_CODES, *self._code_labels])
        label = next((k for k, v in self._code_labels.items() if v == current), ALL_CODES)
        self.code_box.set(label)

    def code_filter(self) -> str | None:
        label = self.code_box.get()
        return getattr(self, "_code_labels", {}).get(label)

    def set_filter(self, code: str | None = None, severity: str | None = None) -> None:
        """Show only `code` (None: every code) and `severity` ("error", "warning", None)."""
        label = next((k for k, v in getattr(self, "_code_labels", {}).items() if v == code), ALL_CODES)
        self.code_box.set(label)
        self.severity_box.set(next(k for k, v in SEVERITIES.items() if v == severity))
        self.fill()

    def fill(self) -> None:
        code = self.code_filter()
        severity = SEVERITIES.get(self.severity_box.get())
        rows = [f for f in self.findings if (code is None or f.code == code)
                and (severity is None or f.severity == severity)]
        self.tree.delete(*self.tree.get_children())
        self.shown = rows[:MAX_ROWS]
        for i, f in enumerate(self.shown):
            chat = f"{f.chat_id} · {f.chat_name}" if f.chat_name else str(f.chat_id)
            msg = str(f.message_index + 1) if f.message_index is not None else ""
            self.tree.insert("", "end", iid=str(i), tags=(f.severity,),
                             values=(f.severity.capitalize(), f.code, chat, msg, f.message))
        n_err = sum(f.severity == ERROR for f in self.findings)
        n_warn = len(self.findings) - n_err
        text = f"{n_err:,} errors, {n_warn:,} warnings in {self.checked:,} chats"
        if len(rows) > len(self.shown):
            text += f" · showing the first {len(self.shown):,} of {len(rows):,}"
        self.summary.configure(text=text)
        if not self.findings:
            self.empty.configure(text=NO_CHATS if not self.checked else NO_PROBLEMS)
            self.empty.place(relx=0.5, rely=0.4, anchor="center")
        elif not rows:
            self.empty.configure(text="No problems of this kind.\nChoose “All” and “All codes” above for the rest.")
            self.empty.place(relx=0.5, rely=0.4, anchor="center")
        else:
            self.empty.place_forget()
        if self.shown:
            self.tree.selection_set("0")
            self.tree.focus("0")
        self._show_detail()

    def _show_detail(self) -> None:
        f = self.selected()
        if f is None:
            self.detail.configure(text="")
            return
        meaning = CODES.get(f.code, ("", ""))[1]
        self.detail.configure(text=f"{f.where()}: {f.message}\n{f.severity.capitalize()} {f.code}: {meaning}")

    def selected(self) -> Finding | None:
        sel = self.tree.selection()
        return self.shown[int(sel[0])] if sel else None

    def _double_click(self, event: tk.Event) -> str | None:
        row = self.tree.identify_row(event.y)
        if not row:
            return None
        self.tree.selection_set(row)
        self.open_selected()
        return "break"

    def open_selected(self) -> None:
        f = self.selected()
        if f is None or f.chat_id is None:
            return
        try:
            self.on_open(f.chat_id, f.message_index)
        except Exception:  # noqa: BLE001
            handle_callback_error(*sys.exc_info(), show=self.app.status)  # type: ignore[arg-type]

    # -- housekeeping ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._job is not None:
            self._job.stop_polling()
        if getattr(self.app, "problems_panel", None) is self:
            self.app.problems_panel = None
        self.destroy()
