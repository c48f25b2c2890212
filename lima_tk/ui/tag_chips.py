"""Tags as removable chips, with an Entry that completes from the dataset's tag vocabulary.

Typing shows matching tags below the Entry (Up/Down to choose, Enter or Tab to take, Escape to
hide); Enter with a word that is not in the vocabulary adds it as a new tag. Backspace in an
empty Entry removes the last chip. "Pick" beside the Entry (or F4 / Alt+Down in it) lists every
tag of the dataset with a check mark on the chat's own, as lima-gui's tag picker did (issue 13).
`on_change(tags)` is called after every change. Tk thread only.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence
from tkinter import ttk

from lima_tk.ui import editor_style as st


class TagChips(ttk.Frame):
    def __init__(self, master: tk.Misc, on_change: Callable[[list[str]], None], **kw) -> None:
        kw.setdefault("style", "Panel.TFrame")
        super().__init__(master, **kw)
        self.on_change = on_change
        self.tags: list[str] = []
        self.vocabulary: list[str] = []
        self.chips = tk.Frame(self, background=st.BG)
        self.chips.pack(fill="x")
        self.chips.bind("<Configure>", lambda e: self._flow())
        self.entry_var = tk.StringVar(self)
        row = ttk.Frame(self, style="Panel.TFrame")
        row.pack(fill="x", pady=(st.PAD, 0))
        self.picker = tk.Menu(self, tearoff=False, postcommand=self._fill_picker)
        self.pick_button = ttk.Menubutton(row, text="Pick", menu=self.picker, takefocus=False, width=5)
        self.pick_button.pack(side="right", padx=(st.PAD, 0))
        self.entry = ttk.Entry(row, textvariable=self.entry_var, width=8)  # grows with the panel
        self.entry.pack(side="left", fill="x", expand=True)
        self.picker_vars: dict[str, tk.BooleanVar] = {}
        self.suggest = tk.Listbox(self, height=5, activestyle="none", exportselection=False,
                                  background=st.SURFACE, highlightthickness=1, highlightbackground=st.BORDER,
                                  borderwidth=0, selectbackground=st.SELECT, selectforeground=st.TEXT)
        self._chip_widgets: list[tk.Frame] = []
        self.entry.bind("<KeyRelease>", self._on_key_release)
        self.entry.bind("<Return>", self._on_return)
        self.entry.bind("<KP_Enter>", self._on_return)
        self.entry.bind("<Tab>", self._on_tab)
        self.entry.bind("<Down>", lambda e: self._move(1))
        self.entry.bind("<Up>", lambda e: self._move(-1))
        self.entry.bind("<Escape>", self._on_escape)
        for seq in ("<F4>", "<Alt-Down>"):
            self.entry.bind(seq, lambda e: (self.open_picker(), "break")[1])
        self.entry.bind("<BackSpace>", self._on_backspace)
        self.entry.bind("<FocusOut>", lambda e: self.after(150, self._hide_if_unfocused))
        self.suggest.bind("<ButtonRelease-1>", self._on_pick)

    # -- data ------------------------------------------------------------------------------

    def set(self, tags: Sequence[str], vocabulary: Sequence[str] = ()) -> None:
        self.vocabulary = list(dict.fromkeys(vocabulary))
        if list(tags) != self.tags:
            self.tags = list(tags)
            self._draw()

    def add(self, tag: str) -> bool:
        tag = tag.strip()
        if not tag or tag in self.tags:
            return False
        self.tags.append(tag)
        if tag not in self.vocabulary:
            self.vocabulary.append(tag)
        self._draw()
        self.on_change(list(self.tags))
        return True

    def remove(self, tag: str) -> None:
        if tag in self.tags:
            self.tags.remove(tag)
            self._draw()
            self.on_change(list(self.tags))

    def matches(self, prefix: str) -> list[str]:
        p = prefix.strip().casefold()
        if not p:
            return []
        starts = [t for t in self.vocabulary if t.casefold().startswith(p) and t not in self.tags]
        inside = [t for t in self.vocabulary if p in t.casefold() and t not in self.tags and t not in starts]
        return starts + inside

    # -- the picker: every tag of the dataset, checked when the chat has it --------------------

    def _fill_picker(self) -> None:
        menu = self.picker
        menu.delete(0, "end")
        self.picker_vars = {}
        tags = list(dict.fromkeys([*self.vocabulary, *self.tags]))
        if not tags:
            menu.add_command(label="No tags in this dataset yet: type one and press Enter", state="disabled")
            return
        for tag in sorted(tags, key=str.casefold):
            var = tk.BooleanVar(menu, value=tag in self.tags)
            self.picker_vars[tag] = var
            menu.add_checkbutton(label=tag, variable=var, onvalue=True, offvalue=False,
                                 command=lambda t=tag, v=var: self.add(t) if v.get() else self.remove(t))

    def open_picker(self) -> None:
        """The list of the dataset's tags under the Entry (F4 / Alt+Down in it; Ctrl+T in the
        editor); arrows and Enter pick, and the keyboard stays in the tags field."""
        self._show([])
        self.entry.focus_set()
        x, y = self.entry.winfo_rootx(), self.entry.winfo_rooty() + self.entry.winfo_height()
        try:
            self.picker.tk_popup(x, y, 0)
        finally:
            self.picker.grab_release()

    # -- drawing ---------------------------------------------------------------------------

    def _draw(self) -> None:
        for w in self._chip_widgets:
            w.destroy()
        self._chip_widgets = []
        for tag in self.tags:
            chip = tk.Frame(self.chips, background="#e6ecf5", highlightthickness=1, highlightbackground="#c9d4e5")
            tk.Label(chip, text=tag, background="#e6ecf5", foreground=st.TEXT, padx=st.PAD, pady=1).pack(
                side="left")
            x = tk.Label(chip, text="×", background="#e6ecf5", foreground=st.MUTED, padx=st.PAD, pady=0,
                         cursor="hand2")
            x.pack(side="left")
            x.bind("<Button-1>", lambda e, t=tag: self.remove(t))
            x.bind("<Enter>", lambda e: e.widget.configure(foreground=st.DANGER))
            x.bind("<Leave>", lambda e: e.widget.configure(foreground=st.MUTED))
            chip.tag = tag  # type: ignore[attr-defined]
            chip.remove_label = x  # type: ignore[attr-defined]
            self._chip_widgets.append(chip)
        if not self.tags:
            empty = tk.Frame(self.chips, background=st.BG)
            tk.Label(empty, text="no tags", background=st.BG, foreground=st.MUTED).pack(side="left")
            self._chip_widgets.append(empty)
        self._flow()

    def _flow(self) -> None:
        """Place the chips left to right, wrapping at the frame's width."""
        width = max(self.chips.winfo_width(), 120)
        x = y = 0
        row_h = 0
        for chip in self._chip_widgets:
            w, h = chip.winfo_reqwidth(), chip.winfo_reqheight()
            if x and x + w > width:
                x, y = 0, y + row_h + st.PAD
                row_h = 0
            chip.place(x=x, y=y)
            x += w + st.PAD
            row_h = max(row_h, h)
        total = y + row_h
        if int(self.chips.cget("height")) != total:
            self.chips.configure(height=max(total, 1))

    # -- entry -----------------------------------------------------------------------------

    def _show(self, items: list[str]) -> None:
        self.suggest.delete(0, "end")
        for t in items[:50]:
            self.suggest.insert("end", t)
        if items:
            self.suggest.configure(height=min(6, len(items)))
            self.suggest.selection_clear(0, "end")
            self.suggest.selection_set(0)
            if not self.suggest.winfo_ismapped():
                self.suggest.pack(fill="x")
        else:
            self.suggest.pack_forget()

    def _on_key_release(self, event: tk.Event) -> None:
        if event.keysym in ("Up", "Down", "Return", "KP_Enter", "Tab", "Escape"):
            return
        self._show(self.matches(self.entry_var.get()))

    def _chosen(self) -> str:
        if self.suggest.winfo_ismapped():
            sel = self.suggest.curselection()
            if sel:
                return str(self.suggest.get(sel[0]))
        return self.entry_var.get().strip()

    def _take(self, tag: str) -> None:
        self.entry_var.set("")
        self._show([])
        self.add(tag)

    def _on_return(self, _event: tk.Event) -> str:
        typed = self.entry_var.get().strip()
        chosen = self._chosen()
        # Enter takes the highlighted suggestion; an exact typed word wins (new tags allowed).
        if typed and (typed in self.vocabulary or not self.suggest.winfo_ismapped()):
            chosen = typed
        if chosen:
            self._take(chosen)
        return "break"

    def _on_tab(self, _event: tk.Event) -> str | None:
        if self.suggest.winfo_ismapped() and self._chosen():
            self._take(self._chosen())
            return "break"
        return None

    def _move(self, delta: int) -> str:
        if not self.suggest.winfo_ismapped():
            self._show(self.matches(self.entry_var.get()) or [t for t in self.vocabulary if t not in self.tags])
            return "break"
        sel = self.suggest.curselection()
        i = (sel[0] if sel else -1) + delta
        i = max(0, min(self.suggest.size() - 1, i))
        self.suggest.selection_clear(0, "end")
        self.suggest.selection_set(i)
        self.suggest.see(i)
        return "break"

    def _on_escape(self, _event: tk.Event) -> str | None:
        if self.suggest.winfo_ismapped():
            self._show([])
            return "break"
        return None

    def _on_backspace(self, _event: tk.Event) -> None:
        if not self.entry_var.get() and self.tags and not self.entry.selection_present():
            self.remove(self.tags[-1])

    def _on_pick(self, _event: tk.Event) -> None:
        sel = self.suggest.curselection()
        if sel:
            self._take(str(self.suggest.get(sel[0])))
            self.entry.focus_set()

    def _hide_if_unfocused(self) -> None:
        try:
            focus = self.focus_get()
        except (KeyError, tk.TclError):
            focus = None
        if focus not in (self.entry, self.suggest):
            self._show([])
