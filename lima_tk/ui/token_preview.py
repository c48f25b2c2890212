"""A read-only window: one chat as the model sees it, rendered with the tokenizer's chat template
(or the generic ChatML layout, with a note saying why), and its exact token count.

The tokenizer is loaded on a worker (`TokenCounting.with_counter`, or `worker.run_in_thread` when
the window is used without a main window); rendering and counting then run on the Tk thread
(`tokens.count_rendered`: a few ms, cached in the dataset by the rendered text). Tk thread only.
"""

from __future__ import annotations

import re
import tkinter as tk
from pathlib import Path
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.errors import LimaError, NotFound
from lima_tk.ui.platform import current
from lima_tk.ui.theme import PAD, PALETTE
from lima_tk.ui.worker import Job, run_in_thread

if TYPE_CHECKING:
    from lima_tk.tokens import Counter, Rendered
    from lima_tk.ui.interfaces import WindowHost

# Marker tokens of the common templates: <|im_start|>, <|eot_id|>, <s>, </s>, [INST], <start_of_turn>...
SPECIAL_RE = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]|\[/?AVAILABLE_TOOLS\]|\[/?TOOL_CALLS\]|"
                        r"</?(?:start|end)_of_turn>|</?tool_call>|</?tools>")


def open_token_preview(app: WindowHost, chat_id: int, parent: tk.Misc | None = None) -> TokenPreview | None:
    """Open the preview of a chat (a window per chat; an open one is refreshed and raised)."""
    if app.store is None:
        return None
    previews: dict[int, TokenPreview] | None = getattr(app, "token_previews", None)
    if previews is None:
        previews = app.token_previews = {}
    win = previews.get(chat_id)
    if win is not None and win.winfo_exists():
        win.deiconify()
        win.lift()
        win.refresh()
        return win
    win = TokenPreview(app, chat_id, parent=parent)
    previews[chat_id] = win
    return win


class TokenPreview(tk.Toplevel):
    """Tk thread only."""

    def __init__(self, app: WindowHost, chat_id: int, parent: tk.Misc | None = None, poll_ms: int = 30) -> None:
        super().__init__(parent or app.root, background=PALETTE["bg"])
        self.app = app
        self.chat_id = chat_id
        self.poll_ms = poll_ms
        self.count: int | None = None
        self.rendered: Rendered | None = None
        self.counter: Counter | None = None
        self.state = "loading"  # loading / done / error
        self._gen = 0
        self._job: Job | None = None  # the tokenizer loading on a worker (without a main window)
        self.title("Tokens as the model sees it – lima-tk")
        ttk.Style(self).configure("Warn.TLabel", foreground="#8a5a00")
        self.geometry("760x620")
        self.minsize(420, 280)

        head = ttk.Frame(self, padding=(4 * PAD, 3 * PAD, 4 * PAD, 2 * PAD))
        head.pack(side="top", fill="x")
        self.name_label = ttk.Label(head, text="", style="Title.TLabel")
        self.name_label.pack(side="top", anchor="w")
        self.info_label = ttk.Label(head, text="Loading the tokenizer…")
        self.info_label.pack(side="top", anchor="w", pady=(PAD, 0))
        self.note_label = ttk.Label(head, text="", style="Muted.TLabel", wraplength=700, justify="left")
        self.note_label.pack(side="top", anchor="w", fill="x")

        bottom = ttk.Frame(self, padding=(4 * PAD, 2 * PAD))
        bottom.pack(side="bottom", fill="x")
        ttk.Button(bottom, text="Close", style="Accent.TButton", command=self.destroy).pack(side="right")
        ttk.Button(bottom, text="Refresh", command=self.refresh).pack(side="right", padx=(0, 2 * PAD))
        ttk.Button(bottom, text="Copy", command=self.copy).pack(side="right", padx=(0, 2 * PAD))
        ttk.Label(bottom, text="Read-only. Marker tokens are blue.", style="Muted.TLabel").pack(side="left")

        body = ttk.Frame(self, padding=(4 * PAD, 0))
        body.pack(side="top", fill="both", expand=True)
        self.text = tk.Text(body, wrap="word", font="TkFixedFont", background=PALETTE["surface"],
                            foreground=PALETTE["text"], borderwidth=0, highlightthickness=1,
                            highlightbackground=PALETTE["border"], highlightcolor=PALETTE["accent"],
                            padx=3 * PAD, pady=2 * PAD, undo=False)
        scroll = ttk.Scrollbar(body, orient="vertical", command=self.text.yview)
        self.text.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        self.text.tag_configure("special", foreground=PALETTE["accent"])
        self.text.configure(state="disabled")
        # Read-only, but selectable and focusable (so Ctrl+C and the arrows work).
        self.text.bind("<1>", lambda e: self.text.focus_set())
        self.bind("<Escape>", lambda e: self.destroy())
        self.bind(current(self).key_sequence("<Control-w>"), lambda e: self.destroy())  # Cmd+W on a Mac
        self.refresh()

    # -- loading -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Render the chat as it is now (pending typing in its editor is saved first)."""
        self._gen += 1
        gen = self._gen
        flush = getattr(self.app, "flush_pending", None)
        if flush is not None:
            try:
                flush()
            except LimaError:
                pass
        self.state = "loading"
        ctl = getattr(self.app, "tokens", None)
        if ctl is not None and hasattr(ctl, "with_counter"):
            ctl.with_counter(lambda counter: self._show(gen, counter))
            return
        # Without a main window (scripts, tests): load the tokenizer on a worker of our own.
        store = self.app.store
        setting = str(store.get_setting("tokenizer") or "")
        base_dir = Path(store.path).parent

        def load() -> Counter:
            from lima_tk.tokens import load_counter

            return load_counter(setting, base_dir=base_dir)

        if self._job is not None:
            self._job.close()
        self._job = run_in_thread(self, load, lambda counter: self._show(gen, counter),
                                  lambda e: self._error(str(e) or type(e).__name__), name="preview",
                                  poll_ms=self.poll_ms)

    def _show(self, gen: int, counter: Counter) -> None:
        if gen != self._gen or not self.winfo_exists():
            return
        from lima_tk.tokens import count_rendered

        store = self.app.store
        try:
            chat = store.get_chat(self.chat_id)
            n, r = count_rendered(counter, chat, None if store.readonly else store)
        except NotFound:
            self._error("This chat no longer exists.")
            return
        except LimaError as e:
            self._error(str(e))
            return
        self.counter, self.count, self.rendered = counter, n, r
        self.state = "done"
        self.title(f"{chat.name or 'Untitled chat'} – tokens as the model sees it")
        self.name_label.configure(text=chat.name or "Untitled chat")
        mark = "~" if counter.estimate else ""
        how = f"the chat template of {counter.name}" if r.how == "template" else "the generic ChatML layout"
        limit = int(store.get_setting("context_limit") or 0)
        info = f"{mark}{n:,} tokens as the model sees it"
        if limit:
            info += f" (limit {limit:,}{', over it' if n > limit else ''})"
        self.info_label.configure(text=f"{info} · rendered with {how}")
        notes = []
        if r.note:
            notes.append(f"Not the model's own template: {r.note}.")
        if counter.estimate:
            notes.append(f"The count is an estimate: {counter.reason or 'no tokenizer'}.")
        if r.how == "template":
            named = f" (“{r.template}”)" if r.template not in ("", "default") else ""
            notes.append(f"Template from {counter.template_source}{named}. Tool definitions, its markers and its "
                         "default system prompt are counted: the number in the list, the filter, validate "
                         "and the stats.")
        if r.spans is not None:
            trained = counter.count_spans([r.text], [r.spans])[0][1]
            notes.append(f"{mark}{trained:,} of them are trained (replies not marked “no train”).")
        parallel = sum(1 for m in chat.messages if m.tool_calls and len(m.tool_calls) > 1)
        if parallel:
            # Item 8: the ShareGPT export cannot keep parallel results apart.
            notes.append(f"{parallel} {'reply calls' if parallel == 1 else 'replies call'} several tools at once: "
                         "a ShareGPT export puts their results in one observation (a JSON list), which "
                         "LLaMA-Factory trains as one tool response, not as shown here.")
        weight0 = sum(1 for m in chat.messages if m.role == "assistant" and m.weight == 0)
        if weight0:
            notes.append(f"{weight0} {'reply is' if weight0 == 1 else 'replies are'} marked “no train”: "
                         "ShareGPT, Alpaca and the hf export without the training flag would train "
                         f"{'it' if weight0 == 1 else 'them'}.")
        self.note_label.configure(text=" ".join(notes), style="Warn.TLabel" if r.note or counter.estimate
                                  else "Muted.TLabel")
        self._set_text(r.text)

    def _set_text(self, text: str) -> None:
        t = self.text
        t.configure(state="normal")
        t.delete("1.0", "end")
        text = text.replace("\x00", "\u2400")  # Tk cannot hold U+0000
        # Inserted piece by piece (not tagged by offsets: Tk 8.6 counts an emoji as two characters).
        pos = 0
        for m in SPECIAL_RE.finditer(text):
            if m.start() > pos:
                t.insert("end", text[pos:m.start()])
            t.insert("end", m.group(), ("special",))
            pos = m.end()
        t.insert("end", text[pos:])
        t.configure(state="disabled")

    def _error(self, message: str) -> None:
        self.state = "error"
        self.info_label.configure(text=message)

    # -- actions -------------------------------------------------------------------------------

    def copy(self) -> None:
        if self.rendered is None:
            return
        self.clipboard_clear()
        self.clipboard_append(self.rendered.text)
        self.info_label.configure(text=self.info_label.cget("text").split(" · copied")[0] + " · copied")

    def destroy(self) -> None:
        if self._job is not None:
            self._job.close()
            self._job = None
        self._gen += 1
        previews = getattr(self.app, "token_previews", None) or {}
        if previews.get(self.chat_id) is self:
            del previews[self.chat_id]
        super().destroy()
