"""The repository layer: dataset file, queries, mutations and the undo journal (no tkinter)."""

from lima_tk.store.db import ChatFilter, ChatSummary, ChatTokens, DatasetStore, ImportResult, TokenKey, fts_query
from lima_tk.store.queries import StatsRows, TokenTotal

__all__ = ["ChatFilter", "ChatSummary", "ChatTokens", "DatasetStore", "ImportResult", "StatsRows", "TokenKey",
           "TokenTotal", "fts_query"]
