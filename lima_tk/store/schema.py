"""The schema: append-only steps m001_..., m002_... Never edit a step that has shipped; add one.

Each step is a function of a `SchemaDb` (an object with `conn`, `execute` and `executescript`,
which both `sqlite_utils.Database` and `_Db` below are), registered in `STEPS` in order.
`apply_steps(conn)` applies the pending ones without importing `sqlite_utils`, which pulls in
pandas and numpy when they are installed (~0.3 s: issue 15), and records each one in
`_sqlite_migrations` exactly as `sqlite_utils.Migrations("lima_tk")` does, so the file stays
readable by sqlite-utils (`lima_tk/store/migrations.py` registers the same steps there).

Every journaled table `T` has a shadow table `journal_T` with the same columns plus
`entry_id` and `side` (0 = before image, 1 = after image); a later step that adds a column to
`T` must add it to `journal_T` too.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol

MIGRATION_SET = "lima_tk"
MIGRATIONS_TABLE = "_sqlite_migrations"


class SchemaDb(Protocol):
    """What a step may use: `sqlite_utils.Database` and `_Db` both provide it."""

    conn: sqlite3.Connection

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor: ...

    def executescript(self, sql: str) -> sqlite3.Cursor: ...


STEPS: list[tuple[str, Callable[[SchemaDb], None]]] = []


def step(fn: Callable[[SchemaDb], None]) -> Callable[[SchemaDb], None]:
    """Register a schema step under its function name (append-only, in order)."""
    STEPS.append((fn.__name__, fn))
    return fn


# Columns of the journaled tables as created by m001 (kept here so the shadow tables match).
_CHATS_COLS = """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    language TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    position INTEGER NOT NULL
"""
# Messages and tools use plain rowids (AUTOINCREMENT costs ~30% on bulk import); an id freed by
# a delete may be reused, which the journal handles since it always undoes newest-first.
_MESSAGES_COLS = """
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content TEXT,
    name TEXT,
    tool_calls TEXT,
    tool_call_id TEXT,
    weight INTEGER CHECK (weight IS NULL OR weight IN (0, 1))
"""
_TOOLS_COLS = """
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    parameters TEXT,
    strict INTEGER
"""
_SETTINGS_COLS = """
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
"""


def _shadow(cols: str) -> str:
    """Shadow-table columns: same names and types, no constraints, plus entry_id and side."""
    out = ["entry_id INTEGER NOT NULL REFERENCES journal(id) ON DELETE CASCADE", "side INTEGER NOT NULL"]
    for line in cols.strip().splitlines():
        name, typ = line.strip().rstrip(",").split()[:2]
        out.append(f"{name} {typ}")
    return ",\n    ".join(out)


@step
def m001_initial(db: SchemaDb) -> None:
    db.executescript(
        f"""
CREATE TABLE settings ({_SETTINGS_COLS});
CREATE TABLE chats ({_CHATS_COLS});
CREATE INDEX chats_position ON chats(position);
CREATE INDEX chats_name ON chats(name COLLATE NOCASE);
CREATE INDEX chats_updated ON chats(updated_at);
CREATE INDEX chats_language ON chats(language);
CREATE TABLE messages ({_MESSAGES_COLS});
CREATE INDEX messages_chat ON messages(chat_id, position);
CREATE TABLE tools ({_TOOLS_COLS});
CREATE INDEX tools_chat ON tools(chat_id, position);

-- chat_tags is an index of chats.tags (a JSON list, the truth), kept by triggers.
CREATE TABLE chat_tags (
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    tag TEXT NOT NULL
);
CREATE INDEX chat_tags_tag ON chat_tags(tag, chat_id);
CREATE INDEX chat_tags_chat ON chat_tags(chat_id);
CREATE TRIGGER chats_tags_ai AFTER INSERT ON chats BEGIN
    INSERT INTO chat_tags(chat_id, tag) SELECT DISTINCT new.id, value FROM json_each(new.tags);
END;
CREATE TRIGGER chats_tags_au AFTER UPDATE OF tags ON chats BEGIN
    DELETE FROM chat_tags WHERE chat_id = old.id;
    INSERT INTO chat_tags(chat_id, tag) SELECT DISTINCT new.id, value FROM json_each(new.tags);
END;

-- Full-text search over chat names and message contents (external content, kept by triggers).
CREATE VIRTUAL TABLE chats_fts USING fts5(name, content='chats', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER chats_fts_ai AFTER INSERT ON chats BEGIN
    INSERT INTO chats_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER chats_fts_ad AFTER DELETE ON chats BEGIN
    INSERT INTO chats_fts(chats_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER chats_fts_au AFTER UPDATE OF name ON chats BEGIN
    INSERT INTO chats_fts(chats_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO chats_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;

-- The persistent undo journal (see lima_tk/store/journal.py).
CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    target INTEGER,
    created_at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE journal_new (
    entry_id INTEGER NOT NULL REFERENCES journal(id) ON DELETE CASCADE,
    tbl TEXT NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL
);
CREATE INDEX journal_new_entry ON journal_new(entry_id);
CREATE TABLE journal_chats ({_shadow(_CHATS_COLS)});
CREATE INDEX journal_chats_entry ON journal_chats(entry_id, side);
CREATE TABLE journal_messages ({_shadow(_MESSAGES_COLS)});
CREATE INDEX journal_messages_entry ON journal_messages(entry_id, side);
CREATE TABLE journal_tools ({_shadow(_TOOLS_COLS)});
CREATE INDEX journal_tools_entry ON journal_tools(entry_id, side);
CREATE TABLE journal_settings ({_shadow(_SETTINGS_COLS)});
CREATE INDEX journal_settings_entry ON journal_settings(entry_id, side);
"""
    )
    # Every dataset setting key exists from the start, so the journal can image it.
    db.conn.executemany(
        "INSERT INTO settings (key, value) VALUES (?, ?)",
        [
            ("languages", '["en"]'),
            ("tags", "[]"),
            ("tokenizer", '""'),
            ("context_limit", "4096"),
            ("journal_cap", "500"),
        ],
    )


@step
def m002_chat_overview_view(db: SchemaDb) -> None:
    # A readable entry point for people who open the file with Datasette or sqlite-utils.
    db.execute(
        """
CREATE VIEW IF NOT EXISTS chat_overview AS
SELECT c.id, c.name, c.language, c.tags, c.position, c.updated_at,
       (SELECT count(*) FROM messages m WHERE m.chat_id = c.id) AS messages,
       (SELECT substr(m.content, 1, 200) FROM messages m WHERE m.chat_id = c.id AND m.role = 'user'
        ORDER BY m.position LIMIT 1) AS first_user_message
FROM chats c
"""
    )


@step
def m003_token_cache(db: SchemaDb) -> None:
    # Derived data, never journaled: undo restores messages and the triggers below drop the
    # counts of rows whose text changed, so a stale count can never be read.
    db.executescript(
        """
-- One row per tokenizer identity (hub id @ revision, or the sha1 of a tokenizer.json).
CREATE TABLE token_keys (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    setting TEXT NOT NULL DEFAULT '',
    estimate INTEGER NOT NULL DEFAULT 0,
    overhead_chat INTEGER NOT NULL DEFAULT 0,
    overhead_message INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0,
    used_at TEXT
);
-- Content-addressed: the count of a text (sha1 of it) under one tokenizer.
CREATE TABLE token_cache (
    tok INTEGER NOT NULL REFERENCES token_keys(id) ON DELETE CASCADE,
    hash BLOB NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tok, hash)
) WITHOUT ROWID;
-- Which messages are counted under a tokenizer, so per-chat sums and filters are plain SQL.
CREATE TABLE message_tokens (
    message_id INTEGER NOT NULL,
    tok INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (message_id, tok)
) WITHOUT ROWID;
CREATE TRIGGER message_tokens_au AFTER UPDATE OF content, tool_calls ON messages
WHEN old.content IS NOT new.content OR old.tool_calls IS NOT new.tool_calls BEGIN
    DELETE FROM message_tokens WHERE message_id = old.id;
END;
CREATE TRIGGER message_tokens_ad AFTER DELETE ON messages BEGIN
    DELETE FROM message_tokens WHERE message_id = old.id;
END;
"""
    )


# Provenance and alternatives of a message (issue 5). Columns on `messages` rather than a table of
# their own, so every change to them is imaged by the existing journal and undo/redo just works.
_M004_COLUMNS = (
    ("source", "TEXT CHECK (source IS NULL OR source IN ('human', 'generated', 'edited'))"),
    ("model", "TEXT"),
    ("finish", "TEXT"),
    ("alternatives", "TEXT"),
    ("alt_index", "INTEGER CHECK (alt_index IS NULL OR alt_index >= 0)"),
)


@step
def m004_alternatives_provenance(db: SchemaDb) -> None:
    for name, decl in _M004_COLUMNS:
        db.execute(f"ALTER TABLE messages ADD COLUMN {name} {decl}")
        # The shadow table mirrors the columns without constraints (see _shadow).
        db.execute(f"ALTER TABLE journal_messages ADD COLUMN {name} {decl.split()[0]}")


@step
def m005_chat_tokens(db: SchemaDb) -> None:
    # The rendered count of a whole chat (chat template + tool definitions + the template's own
    # default system prompt), per tokenizer key (issue 11). Derived data like m003's tables: any
    # change to what a template reads (a message's role, text, calls, weight, order; a tool) drops
    # the chat's rows, so a stale count is never read and only changed chats are rendered again.
    db.executescript(
        """
CREATE TABLE chat_tokens (
    chat_id INTEGER NOT NULL,
    tok INTEGER NOT NULL,
    n INTEGER NOT NULL,
    trainable INTEGER NOT NULL,
    PRIMARY KEY (chat_id, tok)
) WITHOUT ROWID;
CREATE INDEX chat_tokens_tok ON chat_tokens(tok, n);
CREATE TRIGGER chat_tokens_mi AFTER INSERT ON messages BEGIN
    DELETE FROM chat_tokens WHERE chat_id = new.chat_id;
END;
CREATE TRIGGER chat_tokens_md AFTER DELETE ON messages BEGIN
    DELETE FROM chat_tokens WHERE chat_id = old.chat_id;
END;
CREATE TRIGGER chat_tokens_mu AFTER UPDATE ON messages
WHEN old.chat_id IS NOT new.chat_id OR old.position IS NOT new.position OR old.role IS NOT new.role
  OR old.content IS NOT new.content OR old.name IS NOT new.name OR old.tool_calls IS NOT new.tool_calls
  OR old.tool_call_id IS NOT new.tool_call_id OR old.weight IS NOT new.weight BEGIN
    DELETE FROM chat_tokens WHERE chat_id IN (old.chat_id, new.chat_id);
END;
CREATE TRIGGER chat_tokens_ti AFTER INSERT ON tools BEGIN
    DELETE FROM chat_tokens WHERE chat_id = new.chat_id;
END;
CREATE TRIGGER chat_tokens_td AFTER DELETE ON tools BEGIN
    DELETE FROM chat_tokens WHERE chat_id = old.chat_id;
END;
CREATE TRIGGER chat_tokens_tu AFTER UPDATE ON tools BEGIN
    DELETE FROM chat_tokens WHERE chat_id IN (old.chat_id, new.chat_id);
END;
CREATE TRIGGER chat_tokens_cd AFTER DELETE ON chats BEGIN
    DELETE FROM chat_tokens WHERE chat_id = old.id;
END;
"""
    )


# m006: the same rules as m001/m004's CHECKs, written without `IN (...)`. SQLite builds an
# ephemeral table for an IN list of constants once per statement run, and executemany runs the
# INSERT once per row: the role check alone doubled the cost of a bulk message insert (issue 15).
_M006_MESSAGES = """
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role = 'system' OR role = 'user' OR role = 'assistant' OR role = 'tool'),
    content TEXT,
    name TEXT,
    tool_calls TEXT,
    tool_call_id TEXT,
    weight INTEGER CHECK (weight IS NULL OR weight = 0 OR weight = 1),
    source TEXT CHECK (source IS NULL OR source = 'human' OR source = 'generated' OR source = 'edited'),
    model TEXT,
    finish TEXT,
    alternatives TEXT,
    alt_index INTEGER CHECK (alt_index IS NULL OR alt_index >= 0)
"""


@step
def m006_messages_checks_without_in(db: SchemaDb) -> None:
    # SQLite's table rebuild (lang_altertable.html, "other kinds of table schema changes"):
    # rows and ids are copied as they are, so FTS (external content by rowid), the token tables
    # and the journal still point at the same messages. Nothing references messages by foreign
    # key, so the implicit DELETE of DROP TABLE cascades nowhere. The table's indexes and
    # triggers go with it and the view that reads it is dropped first; all are made again.
    q = db.conn.execute
    kept = q("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
             "((tbl_name = 'messages' AND type IN ('index', 'trigger')) OR "
             "(type = 'view' AND sql LIKE '%messages%')) ORDER BY type = 'view', rowid").fetchall()
    for kind, name, _ in kept:
        if kind == "view":
            q(f'DROP VIEW "{name}"')
    q(f"CREATE TABLE messages_m006 ({_M006_MESSAGES})")
    cols = ", ".join(line.split()[0] for line in _M006_MESSAGES.strip().splitlines())
    q(f"INSERT INTO messages_m006 ({cols}) SELECT {cols} FROM messages")
    q("DROP TABLE messages")
    q("ALTER TABLE messages_m006 RENAME TO messages")
    for _, _, sql in kept:
        q(sql)


# -- applying the steps without sqlite_utils -------------------------------------------------

# `_sqlite_migrations` exactly as sqlite_utils 4 creates it (Table.create + create_index), so
# `sqlite_utils.Migrations` reads and extends a file made here, and the other way round.
_MIGRATIONS_TABLE_SQL = (
    'CREATE TABLE "_sqlite_migrations" (\n'
    '   "id" INTEGER PRIMARY KEY,\n'
    '   "migration_set" TEXT,\n'
    '   "name" TEXT,\n'
    '   "applied_at" TEXT\n'
    ')'
)
_MIGRATIONS_INDEX_SQL = (
    'CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"\n'
    '    ON "_sqlite_migrations" ("migration_set", "name")'
)


class _Db:
    """The part of `sqlite_utils.Database` the steps use, over a plain connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters) if parameters is not None else self.conn.execute(sql)

    def executescript(self, sql: str) -> sqlite3.Cursor:
        # sqlite3's executescript() would COMMIT the open transaction first: run the
        # statements one by one instead (as sqlite_utils does inside a transaction).
        cur = self.conn.cursor()
        for statement in split_sql(sql):
            cur.execute(statement)
        return cur


def split_sql(script: str) -> list[str]:
    """The complete statements of an SQL script (a trigger's inner `;` does not end it)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \t\r\n;"):
        out.append(buf.strip().rstrip(";"))
    return out


def pending_steps(conn: sqlite3.Connection) -> list[str]:
    """Names of the steps not recorded in the file yet (all of them for a new file)."""
    try:
        applied = {r[0] for r in conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", (MIGRATION_SET,))}
    except sqlite3.OperationalError:  # no migrations table yet
        applied = set()
    return [name for name, _ in STEPS if name not in applied]


def can_apply_without_sqlite_utils(conn: sqlite3.Connection) -> bool:
    """True unless `_sqlite_migrations` exists in an older layout (no `id` key), which only
    sqlite_utils' own `Migrations.ensure_migrations_table` knows how to convert."""
    cols = {r[1] for r in conn.execute(f"PRAGMA table_info({MIGRATIONS_TABLE})")}
    return not cols or "id" in cols


def apply_steps(conn: sqlite3.Connection) -> list[str]:
    """Apply the pending steps (connection in autocommit mode); returns their names.

    One `BEGIN IMMEDIATE` transaction for all of them: two processes creating the same new
    file never both run m001, and a failing step leaves the file as it was. Each applied step
    is recorded in `_sqlite_migrations` as sqlite_utils records it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (MIGRATIONS_TABLE,)).fetchone()
        if not exists:
            conn.execute(_MIGRATIONS_TABLE_SQL)
            conn.execute(_MIGRATIONS_INDEX_SQL)
        todo = pending_steps(conn)  # read again under the write lock
        db = _Db(conn)
        for name, fn in STEPS:
            if name in todo:
                fn(db)
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    (MIGRATION_SET, name, str(datetime.datetime.now(datetime.timezone.utc))))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return todo
