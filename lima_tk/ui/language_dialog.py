"""Chat > Set language… (Ctrl+L): the language of the selected chats. Tk thread only."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence
from tkinter import ttk
from typing import TYPE_CHECKING

from lima_tk.store import ChatFilter
from lima_tk.ui.dialogs import Dialog
from lima_tk.ui.theme import PAD

if TYPE_CHECKING:
    from lima_tk.ui.interfaces import ChatActionsHost


class LanguageDialog(Dialog):
    """Set (or clear) the language of the selected chats. `apply(value)` for tests."""

    NONE = "(no language)"

    def __init__(self, app: ChatActionsHost, chat_ids: Sequence[int]) -> None:
        super().__init__(app.root, "Set language")
        self.app = app
        self.chat_ids = list(chat_ids)
        store = app.store
        assert store is not None
        langs = list(store.get_setting("languages"))
        for lang in store.languages_in_use():
            if lang and lang not in langs:
                langs.append(lang)
        current = ""
        first = store.list_chats(ChatFilter(ids=self.chat_ids[:1]), limit=1)
        if first and first[0].language:
            lang = first[0].language
            if store.count_chats(ChatFilter(ids=self.chat_ids, language=lang)) == len(self.chat_ids):
                current = lang
        n = len(self.chat_ids)
        ttk.Label(self.body, text=f"Language of {n:,} chat{'s' if n != 1 else ''}:").pack(anchor="w")
        self.var = tk.StringVar(self, value=current)
        self.combo = ttk.Combobox(self.body, textvariable=self.var, values=[*langs, self.NONE], width=28)
        self.combo.pack(fill="x", pady=(2 * PAD, PAD))
        ttk.Label(self.body, text="Pick one of the dataset's languages or type a new code (e.g. de).",
                  style="Muted.TLabel").pack(anchor="w")
        self.add_button("Set", self.apply, default=True)
        self.add_button("Cancel", self.cancel)
        self.show(self.combo)

    def apply(self, value: str | None = None) -> None:
        if value is not None:
            self.var.set(value)
        lang = self.var.get().strip()
        if lang == self.NONE:
            lang = ""
        self.destroy()
        self.app.set_language(self.chat_ids, lang or None)
