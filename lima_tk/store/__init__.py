"""The repository layer: dataset file, queries, mutations and the undo journal (no tkinter)."""

from lima_tk.store.db import ChatFilter, ChatSummary, DatasetStore, ImportResult, fts_query

__all__ = ["ChatFilter", "ChatSummary", "DatasetStore", "ImportResult", "fts_query"]
