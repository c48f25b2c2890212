"""The stats board: number cards, histograms and bar charts of the dataset, drawn on a Tk Canvas.

Tk thread only, except `_work`, which runs on a worker thread with its own store: it counts
uncounted messages with the dataset's tokenizer (local files or cache only, never a download)
and computes `lima_tk.stats.dataset_stats`; a `lima_tk.ui.progress.Job` brings the results back.
The board polls a cheap signature of the dataset and refreshes itself when the data changed.
"""

from __future__ import annotations

import sys
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from tkinter import font as tkfont
from typing import TYPE_CHECKING, Any

from lima_tk.model import ROLES
from lima_tk.stats import dataset_stats, nice_width, write_stats_csv
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.ui.errors import handle_callback_error
from lima_tk.ui.scrolling import bind_canvas_scrolling
from lima_tk.ui.theme import PAD, PALETTE
from lima_tk.ui.worker import Job

ALL_TAGS = "All tags"
ALL_LANGS = "All languages"
ROLE_COLOURS = {"system": "#b9b2e3", "user": "#8ec1e6", "assistant": "#98d3a3", "tool": "#f1cb86"}
BAR = "#86a9e6"
BAR_OVER = "#eba3a0"
TRAINABLE = "#5fae6b"
GRID = "#e6e9ef"
MAX_BARS = 12

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import WindowHost


def open_stats_board(app: WindowHost) -> StatsBoard:
    """Open (or raise) the stats board of `app`. Tk thread only."""
    board = getattr(app, "stats_board", None)
    if board is not None and board.winfo_exists():
        board.deiconify()
        board.lift()
        board.refresh()
        return board
    board = StatsBoard(app)
    app.stats_board = board  # type: ignore[attr-defined]
    return board


def compact(n: int | float) -> str:
    """Axis labels: 950, 1,500, 12k, 1.2M."""
    n = int(n)
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if abs(n) >= 10_000:
        return f"{n // 1000}k"
    return f"{n:,}"


class StatsBoard(tk.Toplevel):
    """Tk thread only."""

    def __init__(self, app: WindowHost, poll_ms: int = 1500, drain_ms: int = 50) -> None:
        super().__init__(app.root)
        self.app = app
        self.poll_ms = poll_ms
        self.drain_ms = drain_ms
        self.stats: dict[str, Any] | None = None
        self.state = "idle"  # idle / working / done
        self._job: Job | None = None
        self._signature: tuple | None = None
        self._data_version = -1
        self._after: dict[str, str] = {}
        self.title(f"Stats - {Path(app.store.path).name}")
        self.geometry("1040x780")
        self.minsize(720, 480)
        base = tkfont.nametofont("TkDefaultFont", root=self)
        size = abs(int(base.cget("size"))) or 10
        self.f_text = base
        self.f_small = tkfont.nametofont("TkSmallCaptionFont", root=self)
        self.f_title = tkfont.nametofont("TkHeadingFont", root=self)
        self.f_number = tkfont.Font(root=self, family=base.cget("family"), size=size + 9, weight="bold")
        self._build()
        self.protocol("WM_DELETE_WINDOW", self.close)
        self.bind("<Escape>", lambda e: self.close())
        self.refresh()
        self._schedule("poll", self.poll_ms, self._poll)

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        bar = ttk.Frame(self, padding=(3 * PAD, 2 * PAD), style="Toolbar.TFrame")
        bar.pack(side="top", fill="x")
        # The buttons are packed first so that a narrow window squeezes the filters, not them.
        self.export_button = ttk.Button(bar, text="Export CSV…", command=self.export_csv)
        self.export_button.pack(side="right")
        ttk.Button(bar, text="Refresh", command=self.refresh).pack(side="right", padx=(0, PAD))
        ttk.Label(bar, text="Tag").pack(side="left")
        # No tk.StringVar: one collected on a worker thread would call Tcl from there.
        self.tag_box = ttk.Combobox(bar, state="readonly", width=16)
        self.tag_box.set(ALL_TAGS)
        self.tag_box.pack(side="left", padx=(PAD, 3 * PAD))
        ttk.Label(bar, text="Language").pack(side="left")
        self.lang_box = ttk.Combobox(bar, state="readonly", width=12)
        self.lang_box.set(ALL_LANGS)
        self.lang_box.pack(side="left", padx=(PAD, 3 * PAD))
        for box in (self.tag_box, self.lang_box):
            box.bind("<<ComboboxSelected>>", lambda e: self.refresh())
        # Its own row, so a narrow window never pushes the buttons out.
        self.note = ttk.Label(self, text="", style="Muted.TLabel", padding=(3 * PAD, 0, 3 * PAD, PAD))
        self.note.pack(side="top", fill="x")
        body = ttk.Frame(self)
        body.pack(side="top", fill="both", expand=True)
        self.canvas = tk.Canvas(body, background=PALETTE["surface"], highlightthickness=0, borderwidth=0)
        scroll = ttk.Scrollbar(body, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        self.canvas.bind("<Configure>", lambda e: self._schedule("draw", 30, self._draw))
        bind_canvas_scrolling(self.canvas)  # wheel and touchpad (Tk 9)
        self._fill_filters()

    def _fill_filters(self) -> None:
        tags = sorted(self.app.store.tag_counts())
        langs = sorted(lang for lang in self.app.store.languages_in_use() if lang)
        self.tag_box.configure(values=[ALL_TAGS, *tags])
        self.lang_box.configure(values=[ALL_LANGS, *langs])

    def chat_filter(self) -> ChatFilter:
        tag = self.tag_box.get()
        lang = self.lang_box.get()
        return ChatFilter(tag=None if tag == ALL_TAGS else tag, language=None if lang == ALL_LANGS else lang)

    # -- computing (worker thread) and receiving (Tk thread) ---------------------------------

    def refresh(self) -> None:
        """Recompute the stats in the background (drops any computation still running)."""
        if self._job is not None:
            self._job.stop_polling()
        self.state = "working"
        self.note.configure(text="Computing…")
        self._signature = self._current_signature()
        store, flt, work = self.app.store, self.chat_filter(), self._work
        path, readonly = Path(store.path), store.readonly
        self._job = Job(self, lambda job: work(path, readonly, flt, job.progress, job.cancel_event),
                        on_done=self._show_stats, on_error=self._failed, on_progress=self._progress,
                        poll_ms=self.drain_ms, thread_name="lima-tk-stats").start()

    @staticmethod
    def _work(path: Path, readonly: bool, flt: ChatFilter, progress: Callable[[int, int], None],
              cancel: threading.Event) -> dict[str, Any] | None:
        """Worker thread: its own store; plain data in, the stats out (None when cancelled)."""
        with DatasetStore(path, readonly=readonly) as store:
            from lima_tk.tokens import ensure_counted

            result = ensure_counted(store, download=False, progress=progress, cancel=cancel)
            if cancel.is_set():
                return None
            stats = dataset_stats(store, flt)
            if result is not None and result.estimate:
                stats["tokens"]["reason"] = result.reason
        return stats

    def _progress(self, done: int, total: int) -> None:
        self.note.configure(text=f"Counting tokens… {100 * done // max(total, 1)}%")

    def _show_stats(self, stats: dict[str, Any] | None) -> None:
        self.stats = stats
        self.state = "done"
        # Our worker's own writes (token counts) must not look like a change.
        self._data_version = self.app.store.data_version()
        self._note_from_stats()
        self._draw()

    def _failed(self, e: BaseException) -> None:
        self.state = "done"
        self.note.configure(text=f"Could not compute the stats: {str(e) or type(e).__name__}")
        self.app.status(f"Stats: {str(e) or type(e).__name__}")

    def _note_from_stats(self) -> None:
        assert self.stats is not None
        t = self.stats["tokens"]
        parts = [time.strftime("Updated %H:%M:%S")]
        if t["uncounted_messages"]:
            parts.append(f"{t['uncounted_messages']:,} messages not counted yet")
        if t["estimate"]:
            parts.append("token counts are estimates (~)")
        self.note.configure(text=" · ".join(parts))

    def _current_signature(self) -> tuple:
        return self.app.store.stats_signature()

    def _poll(self) -> None:
        self._after.pop("poll", None)
        try:
            changed = self._current_signature() != self._signature
            if self.state != "working" and (changed or self.app.store.data_version() != self._data_version):
                self._fill_filters()
                self.refresh()
        except Exception:  # noqa: BLE001
            handle_callback_error(*sys.exc_info(), show=self.app.status)  # type: ignore[arg-type]
        self._schedule("poll", self.poll_ms, self._poll)

    def _schedule(self, name: str, ms: int, fn) -> None:
        old = self._after.pop(name, None)
        if old is not None:
            self.after_cancel(old)
        self._after[name] = self.after(ms, fn)

    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Write the shown stats as CSV (asks where when `path` is None)."""
        if self.stats is None:
            self.app.status("The stats are still being computed")
            return None
        if path is None:
            path = filedialog.asksaveasfilename(parent=self, title="Export stats", defaultextension=".csv",
                                                initialfile=f"{Path(self.app.store.path).stem}-stats.csv",
                                                filetypes=[("CSV", "*.csv"), ("All files", "*")])
            if not path:
                return None
        from lima_tk.errors import LimaError

        try:  # refuses the open dataset and its -wal/-shm (issue 10)
            out = write_stats_csv(self.stats, path, dataset=self.app.store.path if self.app.store else None)
        except (LimaError, OSError) as e:
            self.app.status(f"Stats not saved: {e}", error=True)
            return None
        self.app.status(f"Stats saved to {out}")
        return out

    def close(self) -> None:
        if self._job is not None:
            self._job.stop_polling()
        for ident in self._after.values():
            self.after_cancel(ident)
        self._after.clear()
        if getattr(self.app, "stats_board", None) is self:
            self.app.stats_board = None  # type: ignore[attr-defined]
        self.destroy()

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self) -> None:
        self._after.pop("draw", None)
        c = self.canvas
        c.delete("all")
        s = self.stats
        width = max(c.winfo_width(), 700)
        m = 4 * PAD
        if s is None:
            c.create_text(width // 2, 80, text="Computing the stats…", fill=PALETTE["muted"], font=self.f_text)
            return
        if not s["chats"]:
            self._empty(width)
            return
        t = s["tokens"]
        mark = "~" if t["estimate"] else ""
        limit = t["context_limit"]
        y = m
        cards = [
            ("chats", "Chats", f"{s['chats']:,}", ""),
            ("messages", "Messages", f"{s['messages']:,}", f"{s['messages_per_chat']['mean']} per chat"),
            ("tokens", "Tokens", f"{mark}{t['total']:,}", f"{mark}{round(t['per_chat']['mean']):,} per chat"),
            ("trainable", "Trainable tokens", f"{mark}{t['trainable']:,}", "replies not marked no-train"),
            ("over_limit", "Over the limit", f"{t['over_limit']:,}" if limit else "–",
             f"chats over {limit:,} tokens" if limit else "no context limit"),
        ]
        y = self._cards(cards, m, y, width - 2 * m) + 6 * PAD
        half = (width - 3 * m) // 2
        h = 250
        self._histogram("hist:tokens", "Tokens per chat", s["histograms"]["tokens_per_chat"], m, y, half, h,
                        "tokens per chat", "chats", limit=limit, mark=mark)
        self._histogram("hist:messages", "Messages per chat", s["histograms"]["messages_per_chat"], 2 * m + half, y,
                        half, h, "messages per chat", "chats")
        y += h + 6 * PAD
        tags = dict(s["chats_per_tag"])
        if s["untagged_chats"]:
            tags["(untagged)"] = s["untagged_chats"]
        langs = {(k or "(none)"): v for k, v in s["chats_per_language"].items()}
        h1 = self._bars("bars:tags", "Chats per tag", tags, m, y, half, "chats")
        h2 = self._bars("bars:langs", "Chats per language", langs, 2 * m + half, y, half, "chats")
        y += max(h1, h2) + 6 * PAD
        order = [r for r in ROLES if r in s["messages_by_role"]]
        order += [r for r in s["messages_by_role"] if r not in order]
        roles = {r: s["messages_by_role"][r] for r in order}
        colours = {r: ROLE_COLOURS.get(r, BAR) for r in roles}
        h1 = self._bars("bars:role_messages", "Messages per role", roles, m, y, half, "messages", colours)
        tok_roles: dict[str, int] = {}
        for r in order:
            tok_roles[r] = t["by_role"].get(r, 0)
            if r == "assistant":
                tok_roles["assistant (trainable)"] = t["trainable_assistant"]
                colours["assistant (trainable)"] = TRAINABLE
        h2 = self._bars("bars:role_tokens", "Tokens per role (message text)", tok_roles, 2 * m + half, y, half,
                        f"{mark}tokens".strip(), colours, mark=mark)
        y += max(h1, h2) + 4 * PAD
        foot = f"Tokenizer: {t['tokenizer'] or 'default'}"
        if t["template_overhead"]:
            foot += f" · chat totals include {t['template_overhead']:,} tokens of chat-template markup"
        if t.get("reason"):
            foot += f" · {t['reason']}"
        c.create_text(m, y, text=foot, anchor="nw", fill=PALETTE["muted"], font=self.f_small, tags=("footer",),
                      width=width - 2 * m)
        y += self.f_small.metrics("linespace") * 2 + m
        c.configure(scrollregion=(0, 0, width, y))

    def empty_text(self) -> tuple[str, str]:
        """What an empty board says: why there is nothing to show, and what to do next."""
        flt = self.chat_filter()
        if flt.tag or flt.language:
            return ("No chat has this tag or language", "Choose “All tags” and “All languages” above to see "
                    "the whole dataset.")
        return ("No chats to count yet", "Add a chat in the main window (Ctrl+N) or import a file (Ctrl+I): "
                "this board then shows chats, messages and tokens per chat, role, tag and language, and which "
                "chats are over the context limit.")

    def _empty(self, width: int) -> None:
        title, text = self.empty_text()
        c = self.canvas
        c.create_text(width // 2, 80, text=title, fill=PALETTE["text"], font=self.f_title, tags=("empty",))
        c.create_text(width // 2, 80 + 2 * self.f_title.metrics("linespace"), text=text, fill=PALETTE["muted"],
                      font=self.f_text, width=min(560, width - 8 * PAD), justify="center", anchor="n",
                      tags=("empty",))
        c.configure(scrollregion=(0, 0, width, 200))

    def _cards(self, cards: list[tuple[str, str, str, str]], x: int, y: int, width: int) -> int:
        """A row of number cards, in as many rows as it takes for every text to fit; returns the bottom."""
        c = self.canvas
        gap = 3 * PAD
        need = max(max(self.f_text.measure(label), self.f_number.measure(value), self.f_small.measure(sub))
                   for _, label, value, sub in cards) + 6 * PAD
        cols = len(cards)
        while cols > 1 and (width - gap * (cols - 1)) // cols < need:
            cols -= 1
        w = (width - gap * (cols - 1)) // cols
        line_n = self.f_number.metrics("linespace")
        line_t = self.f_text.metrics("linespace")
        line_s = self.f_small.metrics("linespace")
        h = 3 * PAD + line_t + PAD + line_n + PAD + line_s + 3 * PAD
        for i, (key, label, value, sub) in enumerate(cards):
            x0 = x + (i % cols) * (w + gap)
            y0 = y + (i // cols) * (h + gap)
            c.create_rectangle(x0, y0, x0 + w, y0 + h, outline=PALETTE["border"], fill=PALETTE["alt"])
            tx = x0 + 3 * PAD
            c.create_text(tx, y0 + 3 * PAD, text=label, anchor="nw", fill=PALETTE["muted"], font=self.f_text)
            colour = PALETTE["danger"] if key == "over_limit" and value not in ("0", "–") else PALETTE["text"]
            c.create_text(tx, y0 + 4 * PAD + line_t, text=value, anchor="nw", fill=colour, font=self.f_number,
                          tags=(f"card:{key}",))
            c.create_text(tx, y0 + 5 * PAD + line_t + line_n, text=sub, anchor="nw", fill=PALETTE["muted"],
                          font=self.f_small)
        rows = -(-len(cards) // cols)
        return y + rows * h + (rows - 1) * gap

    def _title(self, text: str, x: int, y: int) -> int:
        self.canvas.create_text(x, y, text=text, anchor="nw", fill=PALETTE["text"], font=self.f_title)
        return y + self.f_title.metrics("linespace") + 2 * PAD

    def _histogram(self, tag: str, title: str, buckets: list[dict[str, int]], x: int, y: int, w: int, h: int,
                   xlabel: str, ylabel: str, limit: int = 0, mark: str = "") -> None:
        c = self.canvas
        top = self._title(title, x, y)
        line = self.f_small.metrics("linespace")
        if not buckets:
            c.create_text(x, top, text="No chats", anchor="nw", fill=PALETTE["muted"], font=self.f_text)
            return
        peak = max(b["count"] for b in buckets) or 1
        step = nice_width(peak, 4)
        ymax = -(-peak // step) * step
        ticks = list(range(0, ymax + 1, step))
        left = x + max(self.f_small.measure(compact(v)) for v in ticks) + 2 * PAD + line  # room for the y title
        bottom = y + h - 2 * line - 2 * PAD
        right = x + w - 2 * PAD
        plot_top = top + PAD
        # y axis: grid lines with counts, and its title turned on its side
        for v in ticks:
            yy = bottom - (bottom - plot_top) * v / ymax
            c.create_line(left, yy, right, yy, fill=GRID)
            c.create_text(left - PAD, yy, text=compact(v), anchor="e", fill=PALETTE["muted"], font=self.f_small)
        c.create_text(x, (plot_top + bottom) / 2, text=ylabel, angle=90, anchor="n", fill=PALETTE["muted"],
                      font=self.f_small)
        c.create_line(left, plot_top, left, bottom, fill=PALETTE["border_dark"])
        c.create_line(left, bottom, right, bottom, fill=PALETTE["border_dark"])
        edges = [b["lo"] for b in buckets] + [buckets[-1]["hi"]]
        span = (edges[-1] - edges[0]) or 1

        def at(v: float) -> float:  # bars sit at their values (the bucket split at the limit is narrower)
            return left + (right - left) * (v - edges[0]) / span

        for i, b in enumerate(buckets):
            bh = (bottom - plot_top) * b["count"] / ymax
            over = bool(limit) and b["lo"] > limit
            if b["count"]:
                c.create_rectangle(at(b["lo"]) + 1, bottom - bh, max(at(b["hi"]) - 1, at(b["lo"]) + 2), bottom,
                                   fill=BAR_OVER if over else BAR, outline="", tags=(tag, f"{tag}:{i}"))
        # x labels, never overlapping: one-value buckets under their bar, ranges at their edges
        single = all(b["hi"] - b["lo"] == 1 for b in buckets)
        marks = [(at(b["lo"] + 0.5), b["lo"]) for b in buckets] if single else [(at(e), e) for e in edges]
        last = -1e9
        for xx, v in marks:
            half = self.f_small.measure(compact(v)) / 2 + PAD
            if xx - half < last or (limit and v == limit + 1):
                continue
            last = xx + half
            c.create_line(xx, bottom, xx, bottom + PAD, fill=PALETTE["border_dark"])
            c.create_text(xx, bottom + PAD, text=compact(v), anchor="n", fill=PALETTE["muted"], font=self.f_small)
        c.create_text((left + right) / 2, bottom + PAD + line + PAD, text=f"{mark}{xlabel}" if mark else xlabel,
                      anchor="n", fill=PALETTE["muted"], font=self.f_small)
        if limit and limit < edges[-1]:
            lx = at(limit + 1 if limit + 1 in edges else limit)
            c.create_line(lx, plot_top, lx, bottom, fill=PALETTE["danger"], dash=(4, 3), tags=(f"{tag}:limit",))
            c.create_text(lx - PAD, plot_top, text=f"limit {limit:,}", anchor="ne", fill=PALETTE["danger"],
                          font=self.f_small)
        elif limit:
            c.create_text(right, plot_top, text=f"all under the limit ({limit:,})", anchor="ne",
                          fill=PALETTE["muted"], font=self.f_small)

    def _bars(self, tag: str, title: str, values: dict[str, int], x: int, y: int, w: int, unit: str,
              colours: dict[str, str] | None = None, mark: str = "") -> int:
        """A horizontal bar chart; returns its height."""
        c = self.canvas
        top = self._title(title, x, y)
        line = self.f_small.metrics("linespace")
        items = sorted(values.items(), key=lambda kv: -kv[1]) if colours is None else list(values.items())
        if not items:
            c.create_text(x, top, text="None", anchor="nw", fill=PALETTE["muted"], font=self.f_text)
            return top - y + line
        more = len(items) - MAX_BARS
        items = items[:MAX_BARS]
        row = max(self.f_text.metrics("linespace") + PAD, 5 * PAD)
        label_w = min(max(self.f_text.measure(k) for k, _ in items), w // 3) + 2 * PAD
        left = x + label_w
        value_w = max(self.f_small.measure(f"{mark}{v:,}") for _, v in items) + 2 * PAD
        right = x + w - value_w
        peak = max(v for _, v in items) or 1
        for i, (k, v) in enumerate(items):
            yy = top + i * row
            label = k
            while self.f_text.measure(label) > label_w - 2 * PAD and len(label) > 2:
                label = label[:-2] + "…"
            c.create_text(left - 2 * PAD, yy + row / 2, text=label, anchor="e", fill=PALETTE["text"],
                          font=self.f_text)
            bw = (right - left) * v / peak
            fill = (colours or {}).get(k, BAR)
            c.create_rectangle(left, yy + 3, left + max(bw, 1), yy + row - 3, fill=fill, outline="",
                               tags=(tag, f"{tag}:{k}"))
            c.create_text(left + bw + PAD, yy + row / 2, text=f"{mark}{v:,}", anchor="w", fill=PALETTE["muted"],
                          font=self.f_small, tags=(f"{tag}:value:{k}",))
        bottom = top + len(items) * row
        c.create_line(left, top, left, bottom, fill=PALETTE["border_dark"])
        c.create_line(left, bottom, right, bottom, fill=PALETTE["border_dark"])
        c.create_text(left, bottom + PAD, text="0", anchor="n", fill=PALETTE["muted"], font=self.f_small)
        c.create_text(right, bottom + PAD, text=compact(peak), anchor="n", fill=PALETTE["muted"], font=self.f_small)
        caption = unit + (f" · {more} more not shown" if more > 0 else "")
        c.create_text((left + right) / 2, bottom + PAD, text=caption, anchor="n", fill=PALETTE["muted"],
                      font=self.f_small)
        return bottom + PAD + line - y


__all__ = ["StatsBoard", "compact", "open_stats_board"]
