"""DatasetStore: the repository layer over one `.lima.db` SQLite file.

Every mutating method is one transaction that also writes its undo-journal entry, so there is
no unsaved state here: when a method returns, the change is on disk. Not thread-safe: one
store per thread (the GUI's workers open their own).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from lima_tk.errors import DatasetError, NotFound, ValidationError, quoted
from lima_tk.model import FUNCTION_NAME_RE, ROLES, Chat, Message, Tool
from lima_tk.settings import DATASET_DEFAULTS, parse_dataset_setting
from lima_tk.store import files, schema
from lima_tk.store.journal import Entry, Journal, Step, immediate, now_iso
from lima_tk.store.queries import StoreQueries
from lima_tk.store.sqlerrors import Connection, plain_error

# The names of the schema steps (lima_tk/store/schema.py), in order.
SCHEMA_STEPS = tuple(name for name, _ in schema.STEPS)

# AFTER INSERT triggers that add_chats replaces with one bulk index fill (the chat_tokens ones have
# nothing to drop for chats that are new).
BULK_TRIGGERS = ("chats_tags_ai", "chats_fts_ai", "messages_fts_ai", "chat_tokens_mi", "chat_tokens_ti")

_INSERT_MESSAGE = ("INSERT INTO messages (chat_id, position, role, content, name, tool_calls, tool_call_id, weight, "
                   "source, model, finish, alternatives, alt_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# Page cache (KiB) of a bulk import into an empty dataset: building the indexes sorts in it.
BULK_CACHE_KIB = 64 * 1024
# A bulk import into a dataset of at most this many chats builds the secondary indexes again at
# the end instead of keeping them row by row (a sort of a few thousand rows costs a few ms).
BULK_REBUILD_MAX = 5000
# Page size of a new dataset: chats are text, and an 8 KiB page holds most messages without an
# overflow page; a bulk import is ~14 % faster than with SQLite's default 4 KiB (issue 15).
PAGE_SIZE = 8192
# FTS5's in-memory term buffer of the message index (see DatasetStore._fts_hash_size).
FTS_HASH_SIZE = 4 << 20

SORTS = {
    "position": "c.position",
    "name": "c.name COLLATE NOCASE",
    "language": "c.language",
    "tags": "c.tags",
    "messages": "n_messages",
    "updated": "c.updated_at",
    "created": "c.created_at",
    # Token total under the active tokenizer: the rendered count of the chat (issue 11), or, for a
    # chat not rendered yet, its message sum + the template overhead. A scan of every chat:
    # ~0.2 s for 100,000 chats, so the chat list sorts by it once and pages by the ids.
    "tokens": "coalesce((SELECT ct.n FROM chat_tokens ct WHERE ct.chat_id = c.id AND ct.tok = "
              "(SELECT id FROM token_keys WHERE active = 1)), (SELECT coalesce(sum(t.n), 0) + count(m.id) * "
              "coalesce((SELECT overhead_message FROM token_keys WHERE active = 1), 0) FROM messages m "
              "LEFT JOIN message_tokens t ON t.message_id = m.id "
              "AND t.tok = (SELECT id FROM token_keys WHERE active = 1) WHERE m.chat_id = c.id))",
}

# Message columns in the order `_message_from_row` reads them; a query adds chat_id after them.
MESSAGE_COLS = ("id, position, role, content, name, tool_calls, tool_call_id, weight, "
                "source, model, finish, alternatives, alt_index")
_CHAT_ID = 13  # index of chat_id in a row of MESSAGE_COLS + ", chat_id"
# SET clause that turns a generated reply into an edited one when a person changes it.
_EDITED = "source = CASE WHEN source = 'generated' THEN 'edited' ELSE source END"
SOURCES = ("human", "generated", "edited")


@dataclass
class ChatFilter:
    """What the chat list shows: full-text query, tag, language, or explicit ids."""

    text: str = ""
    tag: str | None = None
    language: str | None = None
    ids: Sequence[int] | None = None
    over_limit: bool = False  # only chats whose token total exceeds the context limit (issue 6)

    def is_empty(self) -> bool:
        return not (self.text.strip() or self.tag or self.language or self.ids is not None or self.over_limit)


@dataclass(slots=True)
class ChatSummary:
    """One row of the chat list."""

    id: int
    uid: str
    name: str
    language: str | None
    tags: list[str]
    n_messages: int
    created_at: str
    updated_at: str
    position: int


@dataclass(frozen=True)
class TokenKey:
    """A tokenizer identity in the token cache, with its chat-template overhead (issue 6)."""

    id: int
    key: str
    setting: str
    estimate: bool
    overhead_chat: int
    overhead_message: int


class ChatTokens(NamedTuple):
    """Token total of one chat under the active tokenizer: the rendered count (template, tool
    definitions, default system prompt). `uncounted` = messages not counted + 1 when the chat is
    not rendered yet (then `total` is its message sum + the template overhead, shown with "~";
    more than its messages: nothing is counted). `trainable`: tokens of the replies with weight 1
    or unset."""

    total: int
    uncounted: int
    trainable: int = 0


@dataclass
class ImportResult:
    chats: int = 0
    messages: int = 0
    first_id: int | None = None
    last_id: int | None = None
    warnings: list[str] = field(default_factory=list)


def fts_query(text: str) -> str:
    """Turn what a user types into an FTS5 query: every word must match, as a prefix."""
    words = [w for w in text.replace('"', " ").split() if w]
    return " ".join(f'"{w}"*' for w in words)


def new_uid() -> str:
    """A random (version 4) UUID as 32 hex digits, as `uuid.uuid4().hex` makes it, ~3x cheaper."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return b.hex()


def _ids(values: Iterable[int]) -> list[int]:
    return sorted({int(v) for v in values})


class DatasetStore(StoreQueries):
    """Open (creating or upgrading) a dataset file. Tk thread only in the GUI.

    Only an empty (or missing) file or a lima-tk dataset is ever written: another program's
    SQLite database is refused untouched, and a dataset made by a newer lima-tk (a schema step
    this version does not know) opens read-only. `readonly_reason` says why a store is read-only.
    The file is only ever opened through SQLite (see lima_tk/store/files.py). The named reads
    other modules ask for (signatures, totals, rows for the formats and stats) and the
    connection's housekeeping are in lima_tk/store/queries.py."""

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = True,
                 busy_timeout_ms: int = 5000) -> None:
        """`busy_timeout_ms`: how long a write waits for another process's lock before it fails
        with DatasetBusy. The GUI's Tk thread passes a short one (it must never freeze) and
        retries; the CLI and workers keep the default."""
        self.path = Path(path)
        self.readonly = readonly
        self.readonly_reason: str | None = "opened read-only" if readonly else None
        self._closed = False
        if not self.path.exists():
            if readonly or not create:
                raise DatasetError(f"{self.path}: no such dataset file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise DatasetError(f"{self.path}: is a folder, not a dataset file")
        elif not readonly and not _writable(self.path):
            self.readonly = True
            self.readonly_reason = "this file (or its folder) cannot be written"
        try:
            conn = self._connect(busy_timeout_ms)
        except sqlite3.Error as e:
            raise plain_error(e, self.path) or DatasetError(f"{self.path}: cannot open dataset ({e})") from e
        self.conn = conn
        self._db = None
        try:
            state = self._inspect()
            if state == "newer":
                pass  # read-only (query_only) already; never touch its journal mode or schema
            elif self.readonly:
                if state == "new":
                    raise DatasetError(f"{self.path}: an empty file, not a lima-tk dataset yet, and read-only")
                if state == "upgrade":
                    raise DatasetError(f"{self.path}: read-only and needs an upgrade; open it writable once")
            else:
                if state == "new":  # before anything is written: the page size is fixed from then on
                    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                if state in ("new", "upgrade"):
                    self._apply_schema()
            self.journal = Journal(self.conn, cap=int(self.get_setting("journal_cap")))
        except BaseException as e:
            conn.close()
            if isinstance(e, sqlite3.DatabaseError):
                raise plain_error(e, self.path) or DatasetError(f"{self.path}: cannot open dataset ({e})") from e
            raise
        files.register(self, self.path)

    def _connect(self, busy_timeout_ms: int) -> Connection:
        if self.readonly:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                   factory=Connection)
        else:
            conn = sqlite3.connect(str(self.path), isolation_level=None, factory=Connection)
        conn.lima_path = str(self.path)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA recursive_triggers = ON")  # as sqlite_utils.Database sets it
        return conn

    def _schema_objects(self) -> set[str]:
        """Names in sqlite_master: the first read of the file, through SQLite (never open())."""
        try:
            return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
        except DatasetError as e:
            # A cleanly closed WAL dataset on read-only media: SQLite cannot create the -shm it
            # reads through. With no -wal beside it, nobody has it open and it holds every
            # commit, so it can be read as immutable (no locks, no -shm).
            wal = Path(f"{self.path}-wal")
            if not (self.readonly and isinstance(e.__cause__, sqlite3.OperationalError) and not wal.exists()
                    and not os.access(self.path.parent, os.W_OK)):
                raise
            self.conn.close()
            self.conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                        isolation_level=None, factory=Connection)
            self.conn.lima_path = str(self.path)
            self.conn.execute("PRAGMA foreign_keys = ON")
            return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}

    def _inspect(self) -> str:
        """What the file is: "new" (empty), "ok", "upgrade" (steps pending) or "newer" (made by a
        newer lima-tk: then read-only). Raises DatasetError for anything else (not SQLite, or
        another program's database), before anything is written."""
        names = self._schema_objects()
        if not names - {"_sqlite_migrations"}:
            foreign = names and self.conn.execute(
                "SELECT count(*) FROM _sqlite_migrations WHERE migration_set != 'lima_tk'").fetchone()[0]
            if not foreign:
                return "new"
        applied: list[str] = []
        if "_sqlite_migrations" in names:
            applied = [r[0] for r in self.conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'lima_tk' ORDER BY applied_at, name")]
        if not applied:
            raise DatasetError(f"{self.path}: not a lima-tk dataset (an SQLite database of another program); "
                               "it was left as it is")
        unknown = [n for n in applied if n not in SCHEMA_STEPS]
        if unknown:
            step = max(unknown).split("_", 1)[0]
            self.readonly = True
            self.readonly_reason = f"made by a newer lima-tk (schema {step}); upgrade to edit"
            self.conn.execute("PRAGMA query_only = 1")
            return "newer"
        return "upgrade" if set(SCHEMA_STEPS) - set(applied) else "ok"

    def _apply_schema(self) -> None:
        """Create or upgrade the schema. Without sqlite_utils: it imports pandas/numpy when they
        are installed (~0.3 s, issue 15), too much for creating a dataset. Only a migrations table
        of an older sqlite-utils layout (never made by lima-tk) is left to sqlite_utils itself."""
        if schema.can_apply_without_sqlite_utils(self.conn):
            schema.apply_steps(self.conn)
        else:
            from lima_tk.store.migrations import MIGRATIONS

            MIGRATIONS.apply(self.db)

    @property
    def db(self):
        """A sqlite_utils Database over this connection (imported on first use)."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    def _read_only_error(self) -> DatasetError:
        why = self.readonly_reason or "read-only"
        return DatasetError(f"{self.path} is read-only ({why}); nothing was changed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        files.unregister(self)
        self.conn.close()

    def __enter__(self) -> DatasetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def data_version(self) -> int:
        """Changes when another connection commits: poll it to notice a second instance."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def change(self, label: str, kind: str, target: int | None = None, coalesce: bool = False):
        """One transaction + one undo step. Nest freely: inner changes join the outer step."""
        if self.readonly:
            raise self._read_only_error()
        try:
            with self.journal.change(label, kind, target, coalesce) as entry:
                yield entry
        except sqlite3.DatabaseError as e:  # the connection translates most; this is the backstop
            err = plain_error(e, self.path)
            if err is None:
                raise
            raise err from e

    def undo(self) -> Step | None:
        if self.readonly:
            raise self._read_only_error()
        return self.journal.undo()

    def redo(self) -> Step | None:
        if self.readonly:
            raise self._read_only_error()
        return self.journal.redo()

    def undo_label(self) -> str | None:
        step = self.journal.next_undo()
        return step.label if step else None

    def redo_label(self) -> str | None:
        step = self.journal.next_redo()
        return step.label if step else None

    def _next_id(self, table: str) -> int:
        """The id the next insert into `table` gets (chats never reuse ids: AUTOINCREMENT)."""
        if table == "chats":
            row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chats'").fetchone()
            if row:
                return int(row[0]) + 1
        return int(self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])

    def _touch_chats(self, entry: Entry, chat_ids: Iterable[int], now: str | None = None) -> None:
        ids = _ids(chat_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        entry.snapshot("chats", f"id IN ({marks})", ids)
        self.conn.execute(f"UPDATE chats SET updated_at = ? WHERE id IN ({marks})", [now or now_iso(), *ids])

    # -- settings --------------------------------------------------------------------------

    def get_settings(self) -> dict[str, Any]:
        out = dict(DATASET_DEFAULTS)
        for key, value in self.conn.execute("SELECT key, value FROM settings"):
            out[key] = json.loads(value)
        return out

    def get_setting(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            if key in DATASET_DEFAULTS:
                return DATASET_DEFAULTS[key]
            raise NotFound(f"unknown setting {key!r}")
        return json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> Any:
        """Validate and store one dataset setting (an undo step). Returns the stored value."""
        value = parse_dataset_setting(key, value)
        with self.change(f"Set {key.replace('_', ' ')}", "setting"):
            self._put_setting(key, value)
        if key == "journal_cap":
            self.journal.cap = int(value)
        return value

    def _put_setting(self, key: str, value: Any) -> None:
        entry = self.journal.current
        assert entry is not None, "inside a change only"
        entry.snapshot("settings", "key = ?", (key,))
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, ensure_ascii=False)),
        )

    def _extend_setting(self, key: str, values: Iterable[str]) -> None:
        current = list(self.get_setting(key))
        new = [v for v in dict.fromkeys(values) if v and v not in current]
        if new:
            self._put_setting(key, current + new)

    # -- tag vocabulary --------------------------------------------------------------------

    def tag_counts(self) -> dict[str, int]:
        """Every tag in the vocabulary or used by a chat, with its chat count."""
        counts = {t: 0 for t in self.get_setting("tags")}
        for tag, n in self.conn.execute("SELECT tag, count(*) FROM chat_tags GROUP BY tag ORDER BY tag"):
            counts[tag] = n
        return counts

    def tag_counts_of(self, chat_ids: Iterable[int]) -> dict[str, int]:
        """How many of these chats carry each tag (the GUI's tags editor on a multi-selection)."""
        rows = self.conn.execute(
            "SELECT tag, count(*) FROM chat_tags WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY tag",
            (json.dumps(_ids(chat_ids)),),
        )
        return {r[0]: r[1] for r in rows}

    def add_tag(self, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValidationError("a tag needs a name")
        with self.change(f"Add tag {name}", "tag"):
            self._extend_setting("tags", [name])

    def rename_tag(self, old: str, new: str) -> int:
        """Rename (or merge into an existing tag) across the vocabulary and every chat."""
        new = new.strip()
        if not new:
            raise ValidationError("a tag needs a name")
        with self.change(f"Rename tag {old} to {new}", "tag") as entry:
            vocab = [new if t == old else t for t in self.get_setting("tags")]
            self._put_setting("tags", list(dict.fromkeys(vocab)))
            return self._rewrite_tags(entry, old, lambda tags: [new if t == old else t for t in tags])

    def delete_tag(self, name: str) -> int:
        """Remove a tag from the vocabulary and from every chat; returns the chats changed."""
        with self.change(f"Delete tag {name}", "tag") as entry:
            self._put_setting("tags", [t for t in self.get_setting("tags") if t != name])
            return self._rewrite_tags(entry, name, lambda tags: [t for t in tags if t != name])

    def _rewrite_tags(self, entry: Entry, tag: str, fn) -> int:
        sub = "SELECT chat_id FROM chat_tags WHERE tag = ?"
        rows = self.conn.execute(f"SELECT id, tags FROM chats WHERE id IN ({sub})", (tag,)).fetchall()
        if not rows:
            return 0
        entry.snapshot("chats", f"id IN ({sub})", (tag,))
        now = now_iso()
        self.conn.executemany(
            "UPDATE chats SET tags = ?, updated_at = ? WHERE id = ?",
            [(json.dumps(list(dict.fromkeys(fn(json.loads(t)))), ensure_ascii=False), now, i) for i, t in rows],
        )
        return len(rows)

    # -- chat list -------------------------------------------------------------------------

    def _where(self, f: ChatFilter | None) -> tuple[str, list[Any]]:
        if f is None:
            return "", []
        clauses: list[str] = []
        params: list[Any] = []
        q = fts_query(f.text)
        if q:
            clauses.append(f"c.id IN ({_TEXT_MATCH_SQL})")
            params += [q, q]
        if f.tag:
            clauses.append("c.id IN (SELECT chat_id FROM chat_tags WHERE tag = ?)")
            params.append(f.tag)
        if f.language:
            clauses.append("c.language = ?")
            params.append(f.language)
        if f.ids is not None:
            ids = _ids(f.ids)
            clauses.append("c.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        if f.over_limit:
            clauses.append(self._over_limit_sql(params))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def filter_sql(self, f: ChatFilter | None) -> tuple[str, list[Any]]:
        """(" WHERE ...", params) over `chats c` for a filter, for aggregate queries elsewhere."""
        return self._where(f)

    def count_chats(self, f: ChatFilter | None = None) -> int:
        """How many chats match. A full-text filter matching most chats costs ~0.1 s at 100,000
        chats (every match is read): show the page first (`list_chats` finds it without the
        count) and count on a worker."""
        if f is not None and _text_only(f):
            q = fts_query(f.text)
            return int(self.conn.execute(f"SELECT count(*) FROM ({_TEXT_MATCH_SQL})", (q, q)).fetchone()[0])
        where, params = self._where(f)
        return int(self.conn.execute(f"SELECT count(*) FROM chats c{where}", params).fetchone()[0])

    def list_chats(
        self,
        f: ChatFilter | None = None,
        sort: str = "position",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> list[ChatSummary]:
        """A page of the chat list, with message counts, filtered and sorted in SQL.

        Sorted by tokens without a filter, the page comes from the index of the rendered counts
        (`chat_tokens_tok`), merged with the few chats not rendered yet, ties in id order: one
        page at 100,000 chats costs ~1-20 ms (issue 15) instead of totalling every chat."""
        if sort not in SORTS:
            raise ValidationError(f"unknown sort {sort!r} (known: {', '.join(SORTS)})")
        if sort == "tokens" and (f is None or f.is_empty()):
            ids = self._ids_by_tokens(descending, limit, offset)
            if ids is not None:
                page = ids
                rows = {r.id: r for r in self.list_chats(ChatFilter(ids=page), limit=len(page))} if page else {}
                return [rows[i] for i in page if i in rows]
        if sort == "position" and f is not None and _text_only(f) and offset + limit <= PAGE_FIRST_MAX:
            ids = self._text_page(fts_query(f.text), descending, offset + limit)
            if ids is not None:
                page = ids[offset:offset + limit]
                rows = {r.id: r for r in self.list_chats(ChatFilter(ids=page), limit=len(page))} if page else {}
                return [rows[i] for i in page if i in rows]
        where, params = self._where(f)
        direction = "DESC" if descending else "ASC"
        sql = (
            "SELECT c.id, c.uid, c.name, c.language, c.tags, "
            "(SELECT count(*) FROM messages m WHERE m.chat_id = c.id) AS n_messages, "
            f"c.created_at, c.updated_at, c.position FROM chats c{where} "
            f"ORDER BY {_order(sort, direction)} LIMIT ? OFFSET ?"
        )
        rows = self.conn.execute(sql, [*params, limit, offset])
        return [
            ChatSummary(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8]) for r in rows
        ]

    def chat_ids(self, f: ChatFilter | None = None, sort: str = "position", descending: bool = False) -> list[int]:
        """All ids matching a filter, in list order (for Ctrl+A and range selection)."""
        if sort == "tokens" and (f is None or f.is_empty()):
            ids = self._ids_by_tokens(descending)
            if ids is not None:
                return ids
        where, params = self._where(f)
        direction = "DESC" if descending else "ASC"
        extra = ""
        if sort == "messages":
            extra = ", (SELECT count(*) FROM messages m WHERE m.chat_id = c.id) AS n_messages"
        sql = (f"SELECT c.id{extra} FROM chats c{where} "
               f"ORDER BY {_order(sort, direction)}")
        return [r[0] for r in self.conn.execute(sql, params)]

    def _text_page(self, q: str, descending: bool, need: int, block: int = 256, budget: int = 4) -> list[int] | None:
        """The first `need` ids in list order of the chats matching the FTS query `q`, found by
        walking the list a block at a time and asking the FTS indexes only about the rowid range
        of the block (issue 15: a one-letter filter matches most chats, and reading every match
        to sort them took 130 ms at 100,000 chats; this finds a page in ~35 ms). None when
        `budget` blocks held fewer matches: a selective filter, for which reading every match
        is the cheap way."""
        op, d = ("<", "DESC") if descending else (">", "ASC")
        last = (2**62, 2**62) if descending else (-(2**62), -(2**62))
        found: list[int] = []
        for _ in range(budget):
            rows = self.conn.execute(
                f"SELECT id, position FROM chats WHERE (position, id) {op} (?, ?) ORDER BY position {d}, id {d} "
                "LIMIT ?", (*last, block)).fetchall()
            if not rows:
                return found  # the whole list was read: this is all there is
            ids = [r[0] for r in rows]
            idset = set(ids)
            hit = {r[0] for r in self.conn.execute(
                "SELECT rowid FROM chats_fts WHERE chats_fts MATCH ? AND rowid BETWEEN ? AND ?",
                (q, min(ids), max(ids)))} & idset
            msgs = self.conn.execute(
                "SELECT id, chat_id FROM messages WHERE chat_id IN (SELECT value FROM json_each(?))",
                (json.dumps(ids),)).fetchall()
            if msgs:
                mids = [m[0] for m in msgs]
                mhit = {r[0] for r in self.conn.execute(
                    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? AND rowid BETWEEN ? AND ?",
                    (q, min(mids), max(mids)))}
                hit.update(cid for mid, cid in msgs if mid in mhit)
            found += [i for i in ids if i in hit]
            if len(found) >= need:
                return found[:need]
            last = (rows[-1][1], rows[-1][0])
        return None

    def _ids_by_tokens(self, descending: bool, limit: int | None = None, offset: int = 0) -> list[int] | None:
        """Chat ids [offset, offset + limit) (default: all) by token total, ties by id; None
        without an active tokenizer key. Rendered chats come in order from the index on
        chat_tokens(tok, n); the others (not rendered yet, or without messages: usually none or
        a few) are totalled as SORTS["tokens"] does and merged in."""
        key = self.active_token_key()
        if key is None:
            return None
        d = "DESC" if descending else "ASC"
        offset = max(0, int(offset))
        missing = self.conn.execute(
            "SELECT (SELECT count(*) FROM chats) - (SELECT count(*) FROM chat_tokens WHERE tok = ?)",
            (key.id,)).fetchone()[0]
        order = f"SELECT n, chat_id FROM chat_tokens WHERE tok = ? ORDER BY n {d}, chat_id {d} LIMIT ? OFFSET ?"
        if missing <= 0:  # every chat is rendered: the index alone
            rows = self.conn.execute(order, (key.id, -1 if limit is None else limit, offset))
            return [r[1] for r in rows]
        first = -1 if limit is None else offset + limit
        rendered = self.conn.execute(order, (key.id, first, 0)).fetchall()
        others = self.conn.execute(
            f"SELECT {SORTS['tokens']} AS total, c.id FROM chats c WHERE NOT EXISTS "
            "(SELECT 1 FROM chat_tokens x WHERE x.chat_id = c.id AND x.tok = ?) "
            f"ORDER BY total {d}, c.id {d}", (key.id,)).fetchall()
        merged = heapq.merge(rendered, others, reverse=descending)
        stop = None if limit is None else offset + limit
        return [r[1] for r in itertools.islice(merged, offset, stop)]

    def languages_in_use(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT coalesce(language, ''), count(*) FROM chats GROUP BY 1 ORDER BY 2 DESC"
        )
        return {r[0]: r[1] for r in rows}

    # -- reading chats ---------------------------------------------------------------------

    def get_chat(self, chat_id: int) -> Chat:
        row = self.conn.execute(
            "SELECT id, uid, name, language, tags, notes, extra, created_at, updated_at, position "
            "FROM chats WHERE id = ?",
            (chat_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no chat with id {chat_id}")
        chat = _chat_from_row(row)
        chat.messages = self.get_messages(chat_id)
        chat.tools = self.get_tools(chat_id)
        return chat

    def get_messages(self, chat_id: int) -> list[Message]:
        rows = self.conn.execute(
            f"SELECT {MESSAGE_COLS} FROM messages WHERE chat_id = ? ORDER BY position, id",
            (chat_id,),
        )
        return [_message_from_row(r) for r in rows]

    def get_message(self, message_id: int) -> tuple[int, Message]:
        """(chat_id, message) for one message id."""
        row = self.conn.execute(
            f"SELECT {MESSAGE_COLS}, chat_id FROM messages WHERE id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no message with id {message_id}")
        return row[_CHAT_ID], _message_from_row(row)

    def get_tools(self, chat_id: int) -> list[Tool]:
        rows = self.conn.execute(
            "SELECT id, name, description, parameters, strict FROM tools WHERE chat_id = ? ORDER BY position, id",
            (chat_id,),
        )
        return [
            Tool(
                name=r[1],
                description=r[2],
                parameters=json.loads(r[3]) if r[3] is not None else None,
                strict=None if r[4] is None else bool(r[4]),
                id=r[0],
            )
            for r in rows
        ]

    def iter_chats(self, f: ChatFilter | None = None, batch: int = 500) -> Iterator[Chat]:
        """Every matching chat with messages and tools, in list order, paged (never all in memory)."""
        where, params = self._where(f)
        cond = where + (" AND " if where else " WHERE ")
        last: tuple[int, int] = (-(2**62), 0)
        while True:
            rows = self.conn.execute(
                "SELECT id, uid, name, language, tags, notes, extra, created_at, updated_at, position "
                f"FROM chats c{cond}(c.position, c.id) > (?, ?) ORDER BY c.position, c.id LIMIT ?",
                [*params, last[0], last[1], batch],
            ).fetchall()
            if not rows:
                return
            chats = {r[0]: _chat_from_row(r) for r in rows}
            idlist = json.dumps(list(chats))
            for r in self.conn.execute(
                f"SELECT {MESSAGE_COLS}, chat_id "
                "FROM messages WHERE chat_id IN (SELECT value FROM json_each(?)) ORDER BY chat_id, position, id",
                (idlist,),
            ):
                chats[r[_CHAT_ID]].messages.append(_message_from_row(r))
            for r in self.conn.execute(
                "SELECT id, name, description, parameters, strict, chat_id FROM tools "
                "WHERE chat_id IN (SELECT value FROM json_each(?)) ORDER BY chat_id, position, id",
                (idlist,),
            ):
                chats[r[5]].tools.append(
                    Tool(r[1], r[2], json.loads(r[3]) if r[3] is not None else None,
                         None if r[4] is None else bool(r[4]), r[0])
                )
            yield from chats.values()
            last = (rows[-1][9], rows[-1][0])

    # -- chats: create, copy, delete, edit -------------------------------------------------

    def create_chat(
        self,
        name: str = "",
        language: str | None = None,
        tags: Sequence[str] = (),
        notes: str = "",
        messages: Sequence[Message] = (),
        tools: Sequence[Tool] = (),
    ) -> int:
        """A new chat at the end of the list; returns its id."""
        chat = Chat(name=name, language=language, tags=list(tags), notes=notes,
                    messages=list(messages), tools=list(tools))
        with self.change("New chat", "create_chat"):
            result = self.add_chats([chat])
        assert result.first_id is not None
        return result.first_id

    def add_chats(self, chats: Iterable[Chat], label: str = "Add chats", batch: int = 1000,
                  bulk: bool = False) -> ImportResult:
        """Insert many chats fast (import path): one undo step, ids pre-assigned, executemany.

        Joins the caller's change when there is one, so an import is all or nothing. `bulk`
        (an import): into a dataset of few chats (BULK_REBUILD_MAX), the secondary indexes are
        dropped for the insert and built once at the end (a sort is cheaper than keeping them
        up to date row by row), and SQLite's page cache is enlarged for the duration.
        """
        result = ImportResult()
        with self.change(label, "add_chats") as entry, self._bulk_indexes(bulk):
            if bulk:
                self._fts_hash_size()
            chat_id = self._next_id("chats")
            msg_lo = self._next_id("messages")
            tool_lo = self._next_id("tools")
            pos_row = self.conn.execute("SELECT max(position) FROM chats").fetchone()
            position = (pos_row[0] if pos_row[0] is not None else -1) + 1
            first = chat_id
            seen_uids: set[str] = set()
            tags_seen: dict[str, None] = {}
            langs_seen: dict[str, None] = {}
            crows: list[tuple] = []
            mrows: list[tuple] = []
            trows: list[tuple] = []
            now = now_iso()
            # Row-by-row FTS5 inserts cost ~3x a bulk fill: the insert triggers stand aside for
            # the bulk insert and come back before commit (DDL is transactional in SQLite).
            triggers = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                f"({','.join('?' * len(BULK_TRIGGERS))})", BULK_TRIGGERS
            ).fetchall()
            for name, _ in triggers:
                self.conn.execute(f"DROP TRIGGER {name}")

            plain_batch = True  # every message of the batch is a plain turn: the narrow INSERT

            def flush() -> None:
                nonlocal plain_batch
                if not crows:
                    return
                uids = [r[1] for r in crows]
                clash = {
                    r[0]
                    for r in self.conn.execute(
                        "SELECT uid FROM chats WHERE uid IN (SELECT value FROM json_each(?))", (json.dumps(uids),)
                    )
                }
                if clash:
                    for i, r in enumerate(crows):
                        if r[1] in clash:
                            crows[i] = (r[0], new_uid(), *r[2:])
                            result.warnings.append(f"chat {quoted(r[2])}: uid {quoted(r[1])} already in the dataset; "
                                                   "given a new one")
                self.conn.executemany(
                    "INSERT INTO chats (id, uid, name, language, tags, notes, extra, created_at, updated_at, position)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    crows,
                )
                if plain_batch:
                    # Binding 8 NULLs per row cost ~30 % of the insert (issue 15): plain turns
                    # (role, text, weight) leave the other columns to their default, NULL.
                    self.conn.executemany(
                        "INSERT INTO messages (chat_id, position, role, content, weight) VALUES (?, ?, ?, ?, ?)", mrows)
                else:
                    self.conn.executemany(_INSERT_MESSAGE, [
                        r if len(r) == 13 else (*r[:4], None, None, None, r[4], None, None, None, None, None)
                        for r in mrows])
                if trows:
                    self.conn.executemany(
                        "INSERT INTO tools (chat_id, position, name, description, parameters, strict)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        trows,
                    )
                result.messages += len(mrows)
                crows.clear()
                mrows.clear()
                trows.clear()
                plain_batch = True

            roles = frozenset(ROLES)
            add_row = mrows.append
            for chat in chats:
                uid = chat.uid or new_uid()
                if uid in seen_uids:
                    uid = new_uid()
                seen_uids.add(uid)
                tags = chat.tags
                if tags:
                    for t in tags:
                        tags_seen[t] = None
                if chat.language:
                    langs_seen[chat.language] = None
                crows.append((
                    chat_id, uid, chat.name, chat.language,
                    json.dumps(list(dict.fromkeys(tags)), ensure_ascii=False) if tags else "[]", chat.notes,
                    json.dumps(chat.extra, ensure_ascii=False) if chat.extra else "{}",
                    chat.created_at or now, chat.updated_at or chat.created_at or now, position,
                ))
                for i, m in enumerate(chat.messages):
                    if m.role not in roles:
                        raise ValidationError(f"unknown role {m.role!r}")
                    if (m.name is None and m.tool_call_id is None and m.source is None and m.model is None
                            and m.finish is None and not m.tool_calls and not m.alternatives):
                        add_row((chat_id, i, m.role, m.content, m.weight))
                        continue
                    plain_batch = False
                    mrows.append((
                        chat_id, i, m.role, m.content, m.name,
                        json.dumps(m.tool_calls, ensure_ascii=False) if m.tool_calls else None,
                        m.tool_call_id, m.weight, m.source, m.model, m.finish,
                        json.dumps(m.alternatives, ensure_ascii=False) if m.alternatives else None,
                        (m.alt_index or 0) if m.alternatives else None,
                    ))
                for i, t in enumerate(chat.tools):
                    trows.append(_tool_row(chat_id, i, t))
                chat_id += 1
                position += 1
                result.chats += 1
                if len(crows) >= batch:
                    flush()
            flush()
            if result.chats:
                result.first_id, result.last_id = first, chat_id - 1
                msg_hi = self._next_id("messages") - 1
                self._index_new_rows(first, chat_id - 1, msg_lo, msg_hi)
            for _, sql in triggers:
                self.conn.execute(sql)
            if result.chats:
                entry.inserted("chats", first, chat_id - 1)
                entry.inserted("messages", msg_lo, msg_hi)
                entry.inserted("tools", tool_lo, self._next_id("tools") - 1)
                self._extend_setting("tags", tags_seen)
                self._extend_setting("languages", langs_seen)
        return result

    @contextmanager
    def _bulk_indexes(self, bulk: bool) -> Iterator[None]:
        """Inside a change: with `bulk` and few chats in the dataset yet (BULK_REBUILD_MAX), drop
        the secondary indexes of the tables an import fills and create them again when the block
        ends (before commit: DDL is transactional, so no other connection ever sees the tables
        without them). The first chats of a File > Open are committed apart (formats._add_in_two),
        so the rest still counts as a bulk import."""
        if not bulk or self.conn.execute(f"SELECT count(*) > {BULK_REBUILD_MAX} FROM (SELECT 1 FROM chats "
                                         f"LIMIT {BULK_REBUILD_MAX + 1})").fetchone()[0]:
            yield
            return
        indexes = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
            "('chats', 'messages', 'tools', 'chat_tags') ORDER BY name").fetchall()
        cache = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            for name, _ in indexes:
                self.conn.execute(f'DROP INDEX "{name}"')
            yield
            for _, sql in indexes:
                self.conn.execute(sql)
        finally:
            self.conn.execute(f"PRAGMA cache_size = {int(cache)}")

    def _index_new_rows(self, chat_lo: int, chat_hi: int, msg_lo: int, msg_hi: int) -> None:
        """Fill FTS and the tag index for rows bulk-inserted without their insert triggers."""
        q = self.conn.execute
        q("INSERT INTO chats_fts (rowid, name) SELECT id, name FROM chats WHERE id BETWEEN ? AND ?", (chat_lo, chat_hi))
        q("INSERT INTO chat_tags (chat_id, tag) SELECT DISTINCT c.id, j.value FROM chats c, json_each(c.tags) j "
          "WHERE c.id BETWEEN ? AND ? AND c.tags != '[]'", (chat_lo, chat_hi))
        q("INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id BETWEEN ? AND ?",
          (msg_lo, msg_hi))

    def _fts_hash_size(self) -> None:
        """FTS5 gathers new terms in memory and writes a segment each time they pass `hashsize`
        (1 MiB by default): at 4 MiB a bulk fill writes and merges fewer, ~17 % faster (issue 15).
        A persistent setting of the FTS table, kept by older versions too; searches are the same."""
        row = self.conn.execute("SELECT v FROM messages_fts_config WHERE k = 'hashsize'").fetchone()
        if row is None or row[0] != FTS_HASH_SIZE:
            try:
                self.conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', ?)",
                                  (FTS_HASH_SIZE,))
            except sqlite3.OperationalError:  # an SQLite without the option: the default stays
                pass

    def update_chat(self, chat_id: int, **fields: Any) -> None:
        """Change name, language, tags, notes or extra of one chat."""
        self.update_chats([chat_id], **fields)

    def rename_chat(self, chat_id: int, name: str) -> None:
        self.update_chats([chat_id], label="Rename chat", name=name)

    def update_chats(self, chat_ids: Iterable[int], label: str | None = None, **fields: Any) -> int:
        """Set the same fields on many chats (one undo step). Returns how many changed."""
        allowed = {"name", "language", "tags", "notes", "extra"}
        bad = set(fields) - allowed
        if bad:
            raise ValidationError(f"cannot set {', '.join(sorted(bad))} on a chat")
        ids = _ids(chat_ids)
        if not ids:
            return 0
        values: dict[str, Any] = {}
        for k, v in fields.items():
            if k == "tags":
                v = json.dumps(list(dict.fromkeys(t.strip() for t in v if t.strip())), ensure_ascii=False)
            elif k == "extra":
                v = json.dumps(v or {}, ensure_ascii=False)
            elif k == "language":
                v = v or None
            values[k] = v
        what = ", ".join(fields)
        label = label or (f"Set {what} of {len(ids)} chats" if len(ids) > 1 else f"Set chat {what}")
        with self.change(label, "update_chats") as entry:
            self._check_chats(ids)
            marks = ",".join("?" * len(ids))
            entry.snapshot("chats", f"id IN ({marks})", ids)
            sets = ", ".join(f"{k} = ?" for k in values)
            self.conn.execute(
                f"UPDATE chats SET {sets}, updated_at = ? WHERE id IN ({marks})",
                [*values.values(), now_iso(), *ids],
            )
            if "tags" in fields:
                self._extend_setting("tags", json.loads(values["tags"]))
            if fields.get("language"):
                self._extend_setting("languages", [fields["language"]])
        return len(ids)

    def set_language(self, chat_ids: Iterable[int], language: str | None) -> int:
        ids = _ids(chat_ids)
        return self.update_chats(ids, label=f"Set language of {_n(len(ids), 'chat')}", language=language)

    def add_tags(self, chat_ids: Iterable[int], tags: Sequence[str]) -> int:
        """Add tags to many chats (keeping each chat's order); one undo step."""
        ids = _ids(chat_ids)
        tags = [t.strip() for t in tags if t.strip()]
        with self.change(f"Tag {_n(len(ids), 'chat')} {', '.join(tags)}", "tags") as entry:
            return self._map_tags(entry, ids, lambda cur: cur + [t for t in tags if t not in cur], tags)

    def remove_tags(self, chat_ids: Iterable[int], tags: Sequence[str]) -> int:
        ids = _ids(chat_ids)
        drop = set(tags)
        with self.change(f"Untag {_n(len(ids), 'chat')} {', '.join(tags)}", "tags") as entry:
            return self._map_tags(entry, ids, lambda cur: [t for t in cur if t not in drop], [])

    def _map_tags(self, entry: Entry, ids: list[int], fn, vocab_add: list[str]) -> int:
        if not ids:
            return 0
        rows = self.conn.execute(
            "SELECT id, tags FROM chats WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        ).fetchall()
        changes = []
        for cid, raw in rows:
            cur = json.loads(raw)
            new = fn(cur)
            if new != cur:
                changes.append((json.dumps(new, ensure_ascii=False), cid))
        if changes:
            changed = [c[1] for c in changes]
            entry.snapshot("chats", "id IN (SELECT value FROM json_each(?))", (json.dumps(changed),))
            now = now_iso()
            self.conn.executemany("UPDATE chats SET tags = ?, updated_at = ? WHERE id = ?",
                                  [(t, now, cid) for t, cid in changes])
        self._extend_setting("tags", vocab_add)
        return len(changes)

    def _check_chats(self, ids: list[int]) -> None:
        found = self.conn.execute(
            "SELECT count(*) FROM chats WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
        ).fetchone()[0]
        if found != len(ids):
            raise NotFound(f"{len(ids) - found} of the chats do not exist")

    def copy_chats(self, chat_ids: Iterable[int]) -> list[int]:
        """Copy chats with all metadata, messages and tools to the end of the list."""
        ids = _ids(chat_ids)
        if not ids:
            return []
        with self.change(f"Copy {_n(len(ids), 'chat')}", "copy_chats"):
            self._check_chats(ids)
            # Copy in list order so the copies keep the originals' relative order.
            ordered = [r[0] for r in self.conn.execute(
                "SELECT id FROM chats WHERE id IN (SELECT value FROM json_each(?)) ORDER BY position, id",
                (json.dumps(ids),),
            )]
            copies = []
            for cid in ordered:
                chat = self.get_chat(cid)
                chat.uid = None
                chat.name = f"{chat.name} (copy)" if chat.name else "(copy)"
                chat.created_at = chat.updated_at = None
                copies.append(chat)
            result = self.add_chats(copies, label="copy")
        assert result.first_id is not None and result.last_id is not None
        return list(range(result.first_id, result.last_id + 1))

    def delete_chats(self, chat_ids: Iterable[int]) -> int:
        """Delete chats with their messages and tools: one undo step, however many."""
        ids = _ids(chat_ids)
        if not ids:
            return 0
        outer = self.journal.in_change  # inside a compound edit: never roll the whole edit back
        try:
            with self.change(f"Delete {_n(len(ids), 'chat')}", "delete_chats") as entry:
                self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _sel (id INTEGER PRIMARY KEY)")
                self.conn.execute("DELETE FROM temp._sel")
                self.conn.executemany("INSERT OR IGNORE INTO temp._sel (id) SELECT id FROM chats WHERE id = ?",
                                      [(i,) for i in ids])
                sel = "SELECT id FROM temp._sel"
                n = self.conn.execute("SELECT count(*) FROM temp._sel").fetchone()[0]
                if not n and not outer:
                    raise _NothingDone()  # no such chats: no undo step (rolled back)
                entry.snapshot("messages", f"chat_id IN ({sel})")
                entry.snapshot("tools", f"chat_id IN ({sel})")
                entry.snapshot("chats", f"id IN ({sel})")
                n = self.conn.execute(f"DELETE FROM chats WHERE id IN ({sel})").rowcount
                self.conn.execute("DELETE FROM temp._sel")
                if n != len(ids) and not outer:  # the label says what was done (some ids did not exist)
                    self.conn.execute("UPDATE journal SET label = ? WHERE id = ?",
                                      (f"Delete {_n(n, 'chat')}", entry.id))
        except _NothingDone:
            return 0
        return n

    def move_chats(self, chat_ids: Iterable[int], delta: int) -> list[int]:
        """Move chats up (delta < 0) or down in list order, by |delta| places; keeps blocks together."""
        ids = set(_ids(chat_ids))
        if not ids or delta == 0:
            return []
        with self.change(f"Move {_n(len(ids), 'chat')} {'up' if delta < 0 else 'down'}", "move_chats") as entry:
            for _ in range(abs(delta)):
                pos = {r[0]: r[1] for r in self.conn.execute(
                    "SELECT id, position FROM chats WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(ids)),),
                )}
                order = sorted(pos, key=lambda i: (pos[i], i), reverse=delta > 0)
                for cid in order:
                    op, direction = ("<", "DESC") if delta < 0 else (">", "ASC")
                    nb = self.conn.execute(
                        f"SELECT id, position FROM chats WHERE (position, id) {op} (?, ?) "
                        f"ORDER BY position {direction}, id {direction} LIMIT 1",
                        (pos[cid], cid),
                    ).fetchone()
                    if nb is None or nb[0] in ids:
                        # At the edge, or behind another selected chat that could not move.
                        continue
                    entry.snapshot("chats", "id IN (?, ?)", (cid, nb[0]))
                    a, b = pos[cid], nb[1]
                    if a == b:  # equal positions (legacy data): make them distinct
                        b = a - 1 if delta < 0 else a + 1
                    self.conn.execute("UPDATE chats SET position = ? WHERE id = ?", (b, cid))
                    self.conn.execute("UPDATE chats SET position = ? WHERE id = ?", (a, nb[0]))
                    pos[cid] = b
        return sorted(ids)

    # -- messages --------------------------------------------------------------------------

    def add_message(
        self,
        chat_id: int,
        role: str = "user",
        content: str | None = "",
        position: int | None = None,
        *,
        name: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        weight: int | None = None,
        source: str | None = None,
        model: str | None = None,
        finish: str | None = None,
        alternatives: list[dict[str, Any]] | None = None,
        alt_index: int | None = None,
    ) -> int:
        """Insert a message at `position` (default: the end); returns its id."""
        _check_role(role)
        _check_weight(weight)
        check_provenance(source, alternatives, alt_index)
        with self.change("Add message", "add_message") as entry:
            self._check_chats([chat_id])
            count = self.conn.execute("SELECT count(*) FROM messages WHERE chat_id = ?", (chat_id,)).fetchone()[0]
            if position is None or position >= count:
                position = count
            else:
                position = max(0, position)
                self._renumber(entry, chat_id)
                entry.snapshot("messages", "chat_id = ? AND position >= ?", (chat_id, position))
                self.conn.execute(
                    "UPDATE messages SET position = position + 1 WHERE chat_id = ? AND position >= ?",
                    (chat_id, position),
                )
            msg = Message(role, content, name, tool_calls, tool_call_id, weight, source=source, model=model,
                          finish=finish, alternatives=alternatives, alt_index=alt_index)
            r = msg.to_row()
            cur = self.conn.execute(
                f"INSERT INTO messages (chat_id, position, {', '.join(r)}) VALUES (?, ?{', ?' * len(r)})",
                (chat_id, position, *r.values()),
            )
            new_id = int(cur.lastrowid)
            entry.inserted("messages", new_id)
            self._touch_chats(entry, [chat_id])
        return new_id

    def edit_message_text(self, message_id: int, content: str) -> bool:
        """Save typed text (call on every debounced pause). Consecutive edits of one message
        are one undo step. Returns False when the text was already stored."""
        row = self.conn.execute("SELECT chat_id, content FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFound(f"no message with id {message_id}")
        if row[1] == content:
            return False
        with self.change("Edit message", "edit_text", target=message_id, coalesce=True) as entry:
            entry.snapshot("messages", "id = ?", (message_id,))
            self.conn.execute(f"UPDATE messages SET content = ?, {_EDITED} WHERE id = ?", (content, message_id))
            self._touch_chats(entry, [row[0]])
        return True

    def update_message(self, message_id: int, **fields: Any) -> None:
        """Change role, content, name, tool_calls, tool_call_id, weight or the provenance fields
        (source, model, finish, alternatives, alt_index) of one message."""
        allowed = {"role", "content", "name", "tool_calls", "tool_call_id", "weight",
                   "source", "model", "finish", "alternatives", "alt_index"}
        bad = set(fields) - allowed
        if bad:
            raise ValidationError(f"cannot set {', '.join(sorted(bad))} on a message")
        if "role" in fields:
            _check_role(fields["role"])
        if "weight" in fields:
            _check_weight(fields["weight"])
        if "tool_calls" in fields:
            tc = fields["tool_calls"]
            fields["tool_calls"] = json.dumps(tc, ensure_ascii=False) if tc else None
        chat_id, current = self.get_message(message_id)
        if fields.keys() & {"source", "alternatives", "alt_index"}:
            alts = fields.get("alternatives", current.alternatives)
            idx = fields.get("alt_index", current.alt_index)
            check_provenance(fields.get("source", current.source), alts, idx)
            if "alternatives" in fields:
                fields["alternatives"] = json.dumps(alts, ensure_ascii=False) if alts else None
            if alts or "alt_index" in fields or "alternatives" in fields:  # no versions: no shown index
                fields["alt_index"] = (idx or 0) if alts else None
        label = "Change role" if set(fields) == {"role"} else "Edit message"
        with self.change(label, "update_message") as entry:
            entry.snapshot("messages", "id = ?", (message_id,))
            sets = ", ".join(f"{k} = ?" for k in fields)
            if ("content" in fields or "tool_calls" in fields) and "source" not in fields:
                sets += f", {_EDITED}"  # a generated reply changed by hand is 'edited' now
            self.conn.execute(f"UPDATE messages SET {sets} WHERE id = ?", [*fields.values(), message_id])
            self._touch_chats(entry, [chat_id])

    def set_role(self, message_ids: Iterable[int], role: str) -> int:
        _check_role(role)
        ids = _ids(message_ids)
        if not ids:
            return 0
        sel = json.dumps(ids)
        with self.change(f"Change role of {_n(len(ids), 'message')}", "set_role") as entry:
            entry.snapshot("messages", "id IN (SELECT value FROM json_each(?))", (sel,))
            n = self.conn.execute(
                "UPDATE messages SET role = ? WHERE id IN (SELECT value FROM json_each(?))", (role, sel)
            ).rowcount
            chats = [r[0] for r in self.conn.execute(
                "SELECT DISTINCT chat_id FROM messages WHERE id IN (SELECT value FROM json_each(?))", (sel,))]
            self._touch_chats(entry, chats)
        return n

    def delete_messages(self, message_ids: Iterable[int]) -> int:
        ids = _ids(message_ids)
        if not ids:
            return 0
        sel = json.dumps(ids)
        with self.change(f"Delete {_n(len(ids), 'message')}", "delete_messages") as entry:
            chats = [r[0] for r in self.conn.execute(
                "SELECT DISTINCT chat_id FROM messages WHERE id IN (SELECT value FROM json_each(?))", (sel,))]
            entry.snapshot("messages", "id IN (SELECT value FROM json_each(?))", (sel,))
            n = self.conn.execute("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))", (sel,)).rowcount
            for cid in chats:
                self._renumber(entry, cid)
            self._touch_chats(entry, chats)
        return n

    def duplicate_message(self, message_id: int) -> int:
        chat_id, msg = self.get_message(message_id)
        with self.change("Duplicate message", "add_message"):
            return self.add_message(
                chat_id, msg.role, msg.content, (msg.position or 0) + 1, name=msg.name,
                tool_calls=msg.tool_calls, tool_call_id=msg.tool_call_id, weight=msg.weight,
                source=msg.source, model=msg.model, finish=msg.finish, alternatives=msg.alternatives,
                alt_index=msg.alt_index,
            )

    def move_messages(self, message_ids: Iterable[int], delta: int) -> None:
        """Move messages of one chat up (delta < 0) or down; a selected block moves together."""
        ids = set(_ids(message_ids))
        if not ids or delta == 0:
            return
        chats = {r[0] for r in self.conn.execute(
            "SELECT DISTINCT chat_id FROM messages WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(ids)),))}
        if len(chats) != 1:
            raise ValidationError("messages to move must belong to one chat")
        chat_id = chats.pop()
        order = [r[0] for r in self.conn.execute(
            "SELECT id FROM messages WHERE chat_id = ? ORDER BY position, id", (chat_id,))]
        new = _shift(order, ids, delta)
        if new == order:
            return
        with self.change(f"Move {_n(len(ids), 'message')}", "move_messages") as entry:
            entry.snapshot("messages", "chat_id = ?", (chat_id,))
            self.conn.executemany("UPDATE messages SET position = ? WHERE id = ?", list(enumerate(new)))
            self._touch_chats(entry, [chat_id])

    def _renumber(self, entry: Entry, chat_id: int) -> None:
        """Make positions 0..n-1 again after a delete (only rows that change are imaged)."""
        rows = self.conn.execute(
            "SELECT id, position FROM messages WHERE chat_id = ? ORDER BY position, id", (chat_id,)).fetchall()
        changes = [(i, mid) for i, (mid, pos) in enumerate(rows) if pos != i]
        if changes:
            entry.snapshot("messages", "id IN (SELECT value FROM json_each(?))",
                           (json.dumps([c[1] for c in changes]),))
            self.conn.executemany("UPDATE messages SET position = ? WHERE id = ?", changes)

    # -- AI assist: generated replies, provenance, alternatives (issue 5) --------------------
    # A stream fills a message through begin_generated_message (or begin_continue /
    # add_alternative), append_generated_text per UI tick, and finish_generated. They all use
    # journal kind "generate" with the message as target, so the appends and the finish
    # coalesce into the step that started the stream: a whole generation is one undo step.

    def _chat_of(self, message_id: int) -> int:
        row = self.conn.execute("SELECT chat_id FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFound(f"no message with id {message_id}")
        return int(row[0])

    def _retarget(self, entry: Entry, message_id: int) -> None:
        """Point a fresh step at the message it created, so the appends coalesce into it."""
        if not entry.coalesced:
            self.conn.execute("UPDATE journal SET target = ? WHERE id = ?", (message_id, entry.id))

    def begin_generated_message(self, chat_id: int, model: str | None, position: int | None = None) -> int:
        """A new empty assistant message (default: at the end) for a stream to fill; returns its id.
        source 'generated' and finish NULL (NULL means still streaming, or cut off by a crash)."""
        with self.change("Generate reply", "generate") as entry:
            mid = self.add_message(chat_id, "assistant", "", position, source="generated", model=model)
            self._retarget(entry, mid)
        return mid

    def begin_continue(self, message_id: int, model: str | None) -> None:
        """Start continuing a reply from the end of its text (a new undo step). A person's text
        continued by a model becomes 'edited' (mixed); a generated one stays 'generated'."""
        chat_id, msg = self.get_message(message_id)
        source = "generated" if msg.source == "generated" or not msg.content else "edited"
        with self.change("Continue reply", "generate", target=message_id) as entry:
            entry.snapshot("messages", "id = ?", (message_id,))
            self.conn.execute("UPDATE messages SET source = ?, model = ?, finish = NULL, "
                              "content = coalesce(content, '') WHERE id = ?", (source, model, message_id))
            self._touch_chats(entry, [chat_id])

    def append_generated_text(self, message_id: int, text: str) -> None:
        """Append streamed text: one UPDATE; call once per UI tick with the chunks joined.
        Does not mark the message 'edited' (that is for a person's changes)."""
        if not text:
            return
        with self.change("Generate reply", "generate", target=message_id, coalesce=True) as entry:
            chat_id = self._chat_of(message_id)
            entry.snapshot("messages", "id = ?", (message_id,))
            self.conn.execute("UPDATE messages SET content = coalesce(content, '') || ? WHERE id = ?",
                              (text, message_id))
            self._touch_chats(entry, [chat_id])

    def truncate_generated_text(self, message_id: int, length: int) -> None:
        """Drop streamed text back to its first `length` characters (a generation the server cut
        is being sent again): part of the same "Generate reply" undo step as the appends."""
        with self.change("Generate reply", "generate", target=message_id, coalesce=True) as entry:
            chat_id = self._chat_of(message_id)
            entry.snapshot("messages", "id = ?", (message_id,))
            # SQLite's substr counts characters (code points), as Python's len does.
            self.conn.execute("UPDATE messages SET content = substr(coalesce(content, ''), 1, ?) WHERE id = ?",
                              (max(0, int(length)), message_id))
            self._touch_chats(entry, [chat_id])

    def finish_generated(self, message_id: int, finish: str, tool_calls: list[dict[str, Any]] | None = None,
                         model: str | None = None) -> None:
        """Record how a generated reply ended: the server's finish_reason, 'interrupted' or
        'cancelled'; its assembled tool calls; the model name the server reported. A reply that
        only calls tools gets NULL content, like an imported one."""
        tc = json.dumps(tool_calls, ensure_ascii=False) if tool_calls else None
        with self.change("Generate reply", "generate", target=message_id, coalesce=True) as entry:
            chat_id = self._chat_of(message_id)
            entry.snapshot("messages", "id = ?", (message_id,))
            self.conn.execute(
                "UPDATE messages SET finish = ?, tool_calls = coalesce(?, tool_calls), model = coalesce(?, model), "
                "content = CASE WHEN ? IS NOT NULL AND content = '' THEN NULL ELSE content END "
                "WHERE id = ?", (finish, tc, model, tc, message_id))
            self._touch_chats(entry, [chat_id])

    def add_alternative(self, message_id: int, content: str | None, tool_calls: list[dict[str, Any]] | None = None,
                        model: str | None = None, finish: str | None = None, *, source: str = "generated",
                        show: bool = True) -> int:
        """Add a new version of a message (a regenerated reply), keeping the current one as an
        alternative; one undo step. With `show` (default) the new version is the shown one, and
        appends that follow (a stream filling it) join this step. Returns the shown index."""
        chat_id, msg = self.get_message(message_id)
        variants = msg.variants()
        shown = msg.alt_index or 0
        if not msg.content and not msg.tool_calls:
            del variants[shown]  # an empty (failed) attempt is not a version worth keeping: Retry replaces it
            show = True
        variants.append({"content": content, "tool_calls": tool_calls or None, "source": source,
                         "model": model, "finish": finish})
        check_provenance(source, variants, 0)
        index = len(variants) - 1 if show else shown
        with self.change("Regenerate reply", "generate", target=message_id) as entry:
            self._set_variants(entry, chat_id, message_id, variants, index)
        return index

    def show_alternative(self, message_id: int, index: int) -> None:
        """Show version `index` (0-based, among all versions) of a message; one undo step."""
        chat_id, msg = self.get_message(message_id)
        variants = msg.variants()
        if not 0 <= index < len(variants):
            raise ValidationError(f"the message has {len(variants)} versions; there is no version {index + 1}")
        if index == (msg.alt_index or 0) or len(variants) == 1:
            return
        with self.change(f"Show version {index + 1} of {len(variants)}", "alternative") as entry:
            self._set_variants(entry, chat_id, message_id, variants, index)

    def delete_alternative(self, message_id: int, index: int) -> None:
        """Drop version `index` of a message (the next one is shown if it was the shown one)."""
        chat_id, msg = self.get_message(message_id)
        variants = msg.variants()
        if len(variants) < 2 or not 0 <= index < len(variants):
            raise ValidationError("only one of several versions can be deleted")
        shown = msg.alt_index or 0
        del variants[index]
        shown = min(shown - (index < shown), len(variants) - 1)
        with self.change(f"Delete version {index + 1}", "alternative") as entry:
            self._set_variants(entry, chat_id, message_id, variants, shown)

    def set_alternative_rejected(self, message_id: int, index: int, flag: bool = True) -> None:
        """Mark version `index` (0-based among all versions) of a message as rejected, or not, for
        preference-pair exports (issue 7): the shown version is the chosen one and cannot be
        rejected. Stored as `"rejected": true` in its alternatives entry; one undo step."""
        chat_id, msg = self.get_message(message_id)
        variants = msg.variants()
        shown = msg.alt_index or 0
        if not 0 <= index < len(variants):
            raise ValidationError(f"the message has {len(variants)} versions; there is no version {index + 1}")
        if index == shown:
            raise ValidationError("the shown version is the chosen one; show another version to reject this one")
        if bool(variants[index].get("rejected")) == bool(flag):
            return
        variants[index] = {k: v for k, v in variants[index].items() if k != "rejected"}
        if flag:
            variants[index]["rejected"] = True
        label = f"{'Reject' if flag else 'Unreject'} version {index + 1}"
        with self.change(label, "alternative") as entry:
            self._set_variants(entry, chat_id, message_id, variants, shown)

    def _set_variants(self, entry: Entry, chat_id: int, message_id: int, variants: list[dict[str, Any]],
                      index: int) -> None:
        shown = variants[index]
        others = variants[:index] + variants[index + 1:]
        entry.snapshot("messages", "id = ?", (message_id,))
        tc = shown.get("tool_calls")
        self.conn.execute(
            "UPDATE messages SET content = ?, tool_calls = ?, source = ?, model = ?, finish = ?, alternatives = ?, "
            "alt_index = ? WHERE id = ?",
            (shown.get("content"), json.dumps(tc, ensure_ascii=False) if tc else None, shown.get("source"),
             shown.get("model"), shown.get("finish"), json.dumps(others, ensure_ascii=False) if others else None,
             index if others else None, message_id))
        self._touch_chats(entry, [chat_id])

    # -- find and replace in message texts (chat editor, issue 4) ---------------------------

    def _text_rows(self, find: str, chat_filter: ChatFilter | None, case: bool):
        """(regex, rows) of messages whose content contains `find` (literal; any case unless `case`)."""
        import re

        if not find:
            raise ValidationError("nothing to find")
        rx = re.compile(re.escape(find), 0 if case else re.IGNORECASE)
        self.conn.create_function("lima_has_text", 1, lambda s: 1 if s is not None and rx.search(s) else 0,
                                  deterministic=True)
        where, params = self._where(chat_filter)
        cond = where + (" AND " if where else " WHERE ")
        rows = self.conn.execute(
            "SELECT m.id, m.chat_id, c.name, m.position, m.content FROM messages m JOIN chats c ON c.id = m.chat_id"
            f"{cond}lima_has_text(m.content) ORDER BY c.position, c.id, m.position, m.id",
            params,
        ).fetchall()
        return rx, rows

    def find_text(self, find: str, chat_filter: ChatFilter | None = None, case: bool = False,
                  limit: int = 1000, context: int = 40) -> list[dict[str, Any]]:
        """Messages containing `find`, in list order: dicts with chat_id, chat_name, message_id,
        position, count (occurrences) and snippet (the first one with some context)."""
        rx, rows = self._text_rows(find, chat_filter, case)
        out = []
        for mid, cid, name, pos, content in rows[:limit]:
            m = rx.search(content)
            assert m is not None
            a, b = max(0, m.start() - context), min(len(content), m.end() + context)
            snippet = ("…" if a else "") + content[a:b] + ("…" if b < len(content) else "")
            out.append({"chat_id": cid, "chat_name": name, "message_id": mid, "position": pos,
                        "count": len(rx.findall(content)), "snippet": " ".join(snippet.split())})
        return out

    def replace_text(self, find: str, replace: str, chat_filter: ChatFilter | None = None,
                     case: bool = False) -> int:
        """Replace `find` (literal) with `replace` in every matching message content: one undo
        step. Returns the number of occurrences replaced (0: nothing changed, no undo step)."""
        rx, rows = self._text_rows(find, chat_filter, case)
        changes: list[tuple[str, int]] = []
        chats: set[int] = set()
        total = 0
        for mid, cid, _name, _pos, content in rows:
            new, n = rx.subn(lambda _m: replace, content)
            if n and new != content:
                changes.append((new, mid))
                chats.add(cid)
                total += n
        if not changes:
            return 0
        with self.change(f"Replace {find!r} with {replace!r}", "replace_text") as entry:
            entry.snapshot("messages", "id IN (SELECT value FROM json_each(?))", (json.dumps([c[1] for c in changes]),))
            self.conn.executemany("UPDATE messages SET content = ? WHERE id = ?", changes)
            self._touch_chats(entry, chats)
        return total

    # -- tools -----------------------------------------------------------------------------

    def add_tool(self, chat_id: int, tool: Tool) -> int:
        _check_tool(tool)
        with self.change(f"Add tool {tool.name}", "tool") as entry:
            self._check_chats([chat_id])
            if self.conn.execute("SELECT 1 FROM tools WHERE chat_id = ? AND name = ?", (chat_id, tool.name)).fetchone():
                raise ValidationError(f"the chat already has a tool named {tool.name!r}")
            pos = self.conn.execute("SELECT count(*) FROM tools WHERE chat_id = ?", (chat_id,)).fetchone()[0]
            cur = self.conn.execute(
                "INSERT INTO tools (chat_id, position, name, description, parameters, strict)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                _tool_row(chat_id, pos, tool),
            )
            tid = int(cur.lastrowid)
            entry.inserted("tools", tid)
            self._touch_chats(entry, [chat_id])
        return tid

    def update_tool(self, tool_id: int, tool: Tool) -> None:
        _check_tool(tool)
        row = self.conn.execute("SELECT chat_id FROM tools WHERE id = ?", (tool_id,)).fetchone()
        if row is None:
            raise NotFound(f"no tool with id {tool_id}")
        with self.change(f"Edit tool {tool.name}", "tool") as entry:
            entry.snapshot("tools", "id = ?", (tool_id,))
            _, _, name, desc, params, strict = _tool_row(row[0], 0, tool)
            self.conn.execute(
                "UPDATE tools SET name = ?, description = ?, parameters = ?, strict = ? WHERE id = ?",
                (name, desc, params, strict, tool_id),
            )
            self._touch_chats(entry, [row[0]])

    def delete_tool(self, tool_id: int) -> None:
        row = self.conn.execute("SELECT chat_id, name FROM tools WHERE id = ?", (tool_id,)).fetchone()
        if row is None:
            raise NotFound(f"no tool with id {tool_id}")
        with self.change(f"Delete tool {row[1]}", "tool") as entry:
            entry.snapshot("tools", "chat_id = ?", (row[0],))
            self.conn.execute("DELETE FROM tools WHERE id = ?", (tool_id,))
            rest = [r[0] for r in self.conn.execute(
                "SELECT id FROM tools WHERE chat_id = ? ORDER BY position, id", (row[0],))]
            self.conn.executemany("UPDATE tools SET position = ? WHERE id = ?", list(enumerate(rest)))
            self._touch_chats(entry, [row[0]])

    # -- token counts (issue 6): derived data, never journaled; see lima_tk/tokens.py ----------

    @contextmanager
    def derived_write(self) -> Iterator[None]:
        """A plain transaction for derived tables (no undo step); joins a running change."""
        if self.readonly:
            raise self._read_only_error()
        if self.conn.in_transaction:
            yield
            return
        with immediate(self.conn):
            yield

    def token_key(self, key: str, setting: str = "", estimate: bool = False, overhead_chat: int = 0,
                  overhead_message: int = 0) -> int:
        """The id of a tokenizer key, created or with its overheads refreshed."""
        with self.derived_write():
            self.conn.execute(
                "INSERT INTO token_keys (key, setting, estimate, overhead_chat, overhead_message, used_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET setting = excluded.setting, "
                "estimate = excluded.estimate, overhead_chat = excluded.overhead_chat, "
                "overhead_message = excluded.overhead_message, used_at = excluded.used_at",
                (key, setting, int(estimate), overhead_chat, overhead_message, now_iso()),
            )
            return int(self.conn.execute("SELECT id FROM token_keys WHERE key = ?", (key,)).fetchone()[0])

    def activate_token_key(self, tok: int) -> None:
        """Make `tok` the key the chat list, the over-limit filter and the stats read."""
        with self.derived_write():
            self.conn.execute("UPDATE token_keys SET active = (id = ?)", (tok,))

    def active_token_key(self) -> TokenKey | None:
        row = self.conn.execute(
            "SELECT id, key, setting, estimate, overhead_chat, overhead_message FROM token_keys WHERE active = 1"
        ).fetchone()
        return TokenKey(row[0], row[1], row[2], bool(row[3]), row[4], row[5]) if row else None

    def token_counts_for(self, tok: int, hashes: Sequence[bytes] | None = None) -> dict[bytes, int]:
        """Cached counts by content hash (all of them for `tok` when `hashes` is None)."""
        if hashes is None:
            return dict(self.conn.execute("SELECT hash, n FROM token_cache WHERE tok = ?", (tok,)))
        out: dict[bytes, int] = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            out.update(self.conn.execute(
                f"SELECT hash, n FROM token_cache WHERE tok = ? AND hash IN ({','.join('?' * len(part))})",
                [tok, *part]))
        return out

    def put_token_counts(self, tok: int, counts: Iterable[tuple[bytes, int]]) -> None:
        with self.derived_write():
            self.conn.executemany("INSERT OR IGNORE INTO token_cache (tok, hash, n) VALUES (?, ?, ?)",
                                  ((tok, h, n) for h, n in counts))

    def set_message_tokens(self, tok: int, counts: Iterable[tuple[int, int]]) -> None:
        """Record (message id, count) under `tok` (call inside derived_write after checking the text)."""
        with self.derived_write():
            self.conn.executemany("INSERT OR REPLACE INTO message_tokens (message_id, tok, n) VALUES (?, ?, ?)",
                                  ((mid, tok, n) for mid, n in counts))

    def uncounted_message_ids(self, tok: int, chat_ids: Iterable[int] | None = None) -> list[int]:
        """Ids (ascending) of messages with no count under `tok`; a scan of the chat index."""
        sql = ("SELECT m.id FROM messages m WHERE NOT EXISTS "
               "(SELECT 1 FROM message_tokens t WHERE t.message_id = m.id AND t.tok = ?)")
        params: list[Any] = [tok]
        if chat_ids is not None:
            sql += " AND m.chat_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(_ids(chat_ids)))
        return sorted(r[0] for r in self.conn.execute(sql, params))

    def recently_updated_chats(self, limit: int = 50) -> list[int]:
        """Ids of the chats changed last (the index on updated_at): where fresh edits are."""
        return [r[0] for r in self.conn.execute("SELECT id FROM chats ORDER BY updated_at DESC LIMIT ?", (limit,))]

    def count_uncounted(self, tok: int) -> int:
        """How many messages have no count under `tok`. The triggers keep message_tokens to
        existing messages, so a difference of two counts says it (no anti-join)."""
        return int(self.conn.execute(
            "SELECT (SELECT count(*) FROM messages) - (SELECT count(*) FROM message_tokens WHERE tok = ?)",
            (tok,)).fetchone()[0])

    def message_texts(self, message_ids: Iterable[int]) -> list[tuple[int, str | None, str | None]]:
        """(id, content, tool_calls) of these messages, by id (what token counting reads)."""
        return self.conn.execute(
            "SELECT id, content, tool_calls FROM messages WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(_ids(message_ids)),)).fetchall()

    def message_token_counts(self, chat_id: int, tok: int | None = None) -> dict[int, int]:
        """Counted messages of one chat under `tok` (default: the active key): {message id: tokens}."""
        if tok is None:
            key = self.active_token_key()
            if key is None:
                return {}
            tok = key.id
        return dict(self.conn.execute(
            "SELECT m.id, t.n FROM messages m JOIN message_tokens t ON t.message_id = m.id AND t.tok = ? "
            "WHERE m.chat_id = ?", (tok, chat_id)))

    def chat_token_totals(self, chat_ids: Iterable[int], key: TokenKey | None = None) -> dict[int, ChatTokens]:
        """Per-chat totals under the active key, for the list column, the linter and the card: the
        rendered count when the chat is rendered, else the message sum + template overhead with
        `uncounted` > 0. Chats without messages are left out; {} when nothing was ever counted."""
        key = key or self.active_token_key()
        if key is None:
            return {}
        rows = self.conn.execute(
            f"SELECT m.chat_id, {_CHAT_TOTAL_SQL}, "
            "count(m.id) - count(t.n) + (ct.n IS NULL), "
            f"coalesce(ct.trainable, {_TRAINABLE_SUM_SQL}) "
            "FROM messages m LEFT JOIN message_tokens t ON t.message_id = m.id AND t.tok = :tok "
            "LEFT JOIN chat_tokens ct ON ct.chat_id = m.chat_id AND ct.tok = :tok "
            "WHERE m.chat_id IN (SELECT value FROM json_each(:ids)) GROUP BY m.chat_id",
            {"om": key.overhead_message, "oc": key.overhead_chat, "tok": key.id, "ids": json.dumps(_ids(chat_ids))})
        return {r[0]: ChatTokens(r[1], r[2], r[3]) for r in rows}

    def _over_limit_sql(self, params: list[Any]) -> str:
        key = self.active_token_key()
        limit = int(self.get_setting("context_limit") or 0)
        if key is None or limit <= 0:
            return "0"
        params += [key.id, key.id, key.overhead_message, key.overhead_chat, limit]
        return ("c.id IN (SELECT m.chat_id FROM messages m LEFT JOIN message_tokens t ON t.message_id = m.id "
                "AND t.tok = ? LEFT JOIN chat_tokens ct ON ct.chat_id = m.chat_id AND ct.tok = ? "
                "GROUP BY m.chat_id HAVING coalesce(ct.n, coalesce(sum(t.n), 0) + ? * count(m.id) + ?) > ?)")

    # Rendered counts of whole chats (issue 11): chat_tokens, kept honest by triggers (m005).

    def uncounted_chat_ids(self, tok: int, chat_ids: Iterable[int] | None = None) -> list[int]:
        """Ids (ascending) of chats with messages and no rendered count under `tok`."""
        sql = ("SELECT c.id FROM chats c WHERE EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id) "
               "AND NOT EXISTS (SELECT 1 FROM chat_tokens ct WHERE ct.chat_id = c.id AND ct.tok = ?)")
        params: list[Any] = [tok]
        if chat_ids is not None:
            sql += " AND c.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(_ids(chat_ids)))
        return sorted(r[0] for r in self.conn.execute(sql, params))

    def count_uncounted_chats(self, tok: int) -> int:
        """How many chats with messages have no rendered count under `tok` (two counts, no scan
        of the messages: the triggers keep chat_tokens to chats whose rows did not change)."""
        return int(self.conn.execute(
            "SELECT (SELECT count(DISTINCT chat_id) FROM messages) - (SELECT count(*) FROM chat_tokens WHERE tok = ?)",
            (tok,)).fetchone()[0])

    def set_chat_tokens(self, tok: int, rows: Iterable[tuple[int, int, int]]) -> None:
        """Record (chat id, rendered tokens, trainable tokens) under `tok` (inside derived_write,
        after checking that the chats did not change meanwhile)."""
        with self.derived_write():
            self.conn.executemany(
                "INSERT OR REPLACE INTO chat_tokens (chat_id, tok, n, trainable) VALUES (?, ?, ?, ?)",
                ((cid, tok, n, tr) for cid, n, tr in rows))

    def chat_tokens_of(self, chat_id: int, tok: int) -> tuple[int, int] | None:
        """(rendered tokens, trainable tokens) of one chat under `tok`, or None when not counted."""
        row = self.conn.execute("SELECT n, trainable FROM chat_tokens WHERE chat_id = ? AND tok = ?",
                                (chat_id, tok)).fetchone()
        return (row[0], row[1]) if row else None

    def clear_token_cache(self) -> None:
        """Forget every count (they are recomputed on demand)."""
        with self.derived_write():
            self.conn.execute("DELETE FROM message_tokens")
            self.conn.execute("DELETE FROM chat_tokens")
            self.conn.execute("DELETE FROM token_cache")
            self.conn.execute("DELETE FROM token_keys")


# -- helpers ---------------------------------------------------------------------------------

# A chat's total over `messages m LEFT JOIN message_tokens t LEFT JOIN chat_tokens ct`, grouped by
# chat: the rendered count, else the message sum + overhead (:om per message, :oc per chat).
_CHAT_TOTAL_SQL = "coalesce(ct.n, coalesce(sum(t.n), 0) + :om * count(m.id) + :oc)"
# Trainable tokens of a chat not rendered yet: its assistant messages with weight 1 or unset.
_TRAINABLE_SUM_SQL = "coalesce(sum(CASE WHEN m.role = 'assistant' AND coalesce(m.weight, 1) = 1 THEN t.n END), 0)"


class _NothingDone(Exception):
    """Raised inside a change that turned out to change nothing: rolls it back, no undo step."""


# Chat ids matching a full-text query (bound twice): by name, or by the text of a message.
_TEXT_MATCH_SQL = ("SELECT rowid FROM chats_fts WHERE chats_fts MATCH ? UNION SELECT m.chat_id FROM messages_fts "
                   "JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?")
# list_chats finds pages up to this far into a full-text match page-first (see _text_page).
PAGE_FIRST_MAX = 1000


def _text_only(f: ChatFilter) -> bool:
    """A filter of full-text words only (no tag, language, ids or over-limit)."""
    return bool(fts_query(f.text)) and not (f.tag or f.language or f.ids is not None or f.over_limit)


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _order(sort: str, direction: str) -> str:
    """ORDER BY terms: the sort key, then list order. Never `position` twice: a repeated term
    makes SQLite sort in a temp b-tree (a deep OFFSET page went from 2 ms to 90 ms on 100k chats)."""
    # Ties by tokens go in id order, as the index on chat_tokens(tok, n) gives them (issue 15):
    # a page by ids and the whole list must agree.
    tail = f"c.id {direction}" if sort in ("position", "tokens") else f"c.position {direction}, c.id {direction}"
    return f"{SORTS[sort]} {direction}, {tail}"


def _n(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r} (known: {', '.join(ROLES)})")


def _check_weight(weight: int | None) -> None:
    if weight not in (None, 0, 1):
        raise ValidationError(f"weight must be 0, 1 or unset, got {weight!r}")


def check_provenance(source: str | None, alternatives: Any, alt_index: int | None) -> None:
    if source is not None and source not in SOURCES:
        raise ValidationError(f"source must be one of {', '.join(SOURCES)} or unset, got {source!r}")
    if not alternatives:
        return
    if not isinstance(alternatives, list) or not all(isinstance(a, dict) for a in alternatives):
        raise ValidationError("alternatives must be a list of objects")
    for a in alternatives:
        if a.get("content") is not None and not isinstance(a["content"], str):
            raise ValidationError("an alternative's content must be a string or null")
        if a.get("source") is not None and a["source"] not in SOURCES:
            raise ValidationError(f"an alternative's source must be one of {', '.join(SOURCES)}")
    if alt_index is not None and (type(alt_index) is not int or not 0 <= alt_index <= len(alternatives)):
        raise ValidationError(f"alt_index must be 0..{len(alternatives)}, got {alt_index!r}")


def _check_tool(tool: Tool) -> None:
    if not FUNCTION_NAME_RE.match(tool.name or ""):
        raise ValidationError(f"function name {tool.name!r} must match ^[A-Za-z0-9_-]{{1,64}}$")
    if tool.parameters is not None and not isinstance(tool.parameters, dict):
        raise ValidationError("tool parameters must be a JSON object (a JSON Schema)")


def _tool_row(chat_id: int, position: int, t: Tool) -> tuple:
    return (
        chat_id, position, t.name, t.description,
        json.dumps(t.parameters, ensure_ascii=False) if t.parameters is not None else None,
        None if t.strict is None else int(t.strict),
    )


def _chat_from_row(r: Sequence[Any]) -> Chat:
    return Chat(
        id=r[0], uid=r[1], name=r[2], language=r[3], tags=json.loads(r[4]), notes=r[5],
        extra=json.loads(r[6]) if r[6] else {}, created_at=r[7], updated_at=r[8], position=r[9],
    )


def _message_from_row(r: Sequence[Any]) -> Message:
    return Message(
        role=r[2], content=r[3], name=r[4], tool_calls=json.loads(r[5]) if r[5] else None,
        tool_call_id=r[6], weight=r[7], id=r[0], position=r[1],
        source=r[8], model=r[9], finish=r[10], alternatives=json.loads(r[11]) if r[11] else None, alt_index=r[12],
    )


def _shift(order: list[int], selected: set[int], delta: int) -> list[int]:
    """Move the selected items of `order` by `delta` places; blocks at an edge stay."""
    out = list(order)
    step = -1 if delta < 0 else 1
    for _ in range(abs(delta)):
        idx = range(len(out)) if step < 0 else range(len(out) - 1, -1, -1)
        for i in idx:
            j = i + step
            if out[i] in selected and 0 <= j < len(out) and out[j] not in selected:
                out[i], out[j] = out[j], out[i]
    return out
