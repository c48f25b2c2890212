"""Persistent undo/redo, stored as rows in the dataset file so it survives a restart.

The idea is CPython idlelib's undo (a stack of commands, a pointer, the redo tail cut by a new
edit, a cap, merged typing, grouped compound edits) kept as rows:

* ``journal``: one row per undo step (label, kind, target, undone flag). The undo stack is the
  entries with ``undone = 0`` (newest on top), the redo stack those with ``undone = 1``.
* ``journal_<table>``: row images of the journaled tables (``chats``, ``messages``, ``tools``,
  ``settings``). ``side = 0`` is the image *before* the step, taken in the same transaction as
  the change; ``side = 1`` the image *after* it.
* ``journal_new``: id ranges of rows the step inserted (they have no before image).

After images are taken lazily, when the step is undone: undo only ever runs on the newest step,
so at that moment the database holds exactly the state the step produced. This keeps every
mutation cheap (an import of 100,000 chats writes one ``journal_new`` row per table) and a
typing burst in one message costs one before image no matter how many saves it takes.

Restoring side S of entry E: delete the touched rows that have no image on side S (children
first), then upsert the images of side S (parents first). Triggers keep FTS and the tag index
in step, so they need no journal of their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

# Journaled tables and their key column, parents first.
TABLES: dict[str, str] = {"settings": "key", "chats": "id", "tools": "id", "messages": "id"}
DEFAULT_CAP = 500
# The label suffix of a step committed in parts whose last part is not in yet (File > Open of a
# chat file commits its first chats apart): what a crash between the parts leaves says so.
UNFINISHED = " (unfinished)"


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error. IMMEDIATE takes the write lock up
    front, so two processes never deadlock upgrading a read transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Step:
    """A journal entry as the UI sees it."""

    id: int
    label: str
    kind: str
    target: int | None
    undone: bool


# Kinds whose coalescing changes join their step even when newer steps lie on top of it: a
# streamed reply ("generate", target = the message) stays one undo step while the user edits
# other messages meanwhile (issue 15). See Journal.change.
REACH_BACK_KINDS = frozenset({"generate"})


class Entry:
    """The journal entry of the change in progress. Tk thread (or the store's owner) only."""

    def __init__(self, journal: Journal, entry_id: int, coalesced: bool) -> None:
        self.journal = journal
        self.id = entry_id
        # A coalesced text edit reuses the before images of the first edit of its burst.
        self.coalesced = coalesced

    def snapshot(self, table: str, where: str, params: tuple | list = ()) -> None:
        """Record before images of the rows of `table` matching `where`, before changing them.

        Rows already imaged by this entry, or inserted by it, are skipped, so calling this
        more than once for the same rows is harmless.
        """
        if self.coalesced:
            return
        key = TABLES[table]
        cols = self.journal.columns(table)
        collist = ", ".join(cols)
        sql = (
            f"INSERT INTO journal_{table} (entry_id, side, {collist}) "
            f"SELECT ?, 0, {collist} FROM {table} AS t WHERE ({where}) "
            f"AND t.{key} NOT IN (SELECT {key} FROM journal_{table} WHERE entry_id = ? AND side = 0)"
        )
        args: list = [self.id, *params, self.id]
        if key == "id":
            sql += (
                " AND NOT EXISTS (SELECT 1 FROM journal_new n WHERE n.entry_id = ? AND n.tbl = ?"
                " AND t.id BETWEEN n.lo AND n.hi)"
            )
            args += [self.id, table]
        self.journal.conn.execute(sql, args)

    def inserted(self, table: str, lo: int, hi: int | None = None) -> None:
        """Record that this entry inserted the rows of `table` with ids lo..hi."""
        hi = lo if hi is None else hi
        if hi < lo:
            return
        self.journal.conn.execute(
            "INSERT INTO journal_new (entry_id, tbl, lo, hi) VALUES (?, ?, ?, ?)", (self.id, table, lo, hi)
        )


class Journal:
    """Undo/redo over one sqlite3 connection in autocommit mode (isolation_level=None)."""

    def __init__(self, conn: sqlite3.Connection, cap: int = DEFAULT_CAP) -> None:
        self.conn = conn
        self.cap = cap  # used when the dataset has no journal_cap setting
        self._cols: dict[str, list[str]] = {}
        self._current: Entry | None = None

    def columns(self, table: str) -> list[str]:
        if table not in self._cols:
            self._cols[table] = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        return self._cols[table]

    # -- recording -------------------------------------------------------------------------

    @property
    def in_change(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> Entry | None:
        """The entry of the change running now (None outside a change)."""
        return self._current

    @contextmanager
    def change(
        self, label: str, kind: str, target: int | None = None, coalesce: bool = False
    ) -> Iterator[Entry]:
        """One transaction holding a change and its journal entry.

        Nested calls join the outer entry, so a compound edit is one undo step. With
        `coalesce`, the change merges into the newest entry when that entry has the same
        kind and target and has not been undone (consecutive typing in one message).

        A kind in REACH_BACK_KINDS (a streamed reply, target = its message) merges into the
        newest entry of that kind and target even when newer steps lie on top of it, as long
        as none of the entries from it upwards is undone (a redo tail is never reached past).
        Those newer steps then hold before images of the message from before this change:
        every column this change alters is carried into their images where they still show
        the value it had, so undoing a newer step (a message inserted above the reply shifts
        its position and images it) never takes back text the stream wrote after it.
        """
        if self._current is not None:
            yield self._current
            return
        conn = self.conn
        try:
            with immediate(conn):
                entry = None
                newer = False
                if coalesce:
                    top = conn.execute(
                        "SELECT id, kind, target, undone FROM journal ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                    if top and top[1] == kind and top[2] == target and not top[3]:
                        entry = Entry(self, top[0], coalesced=True)
                    elif top and kind in REACH_BACK_KINDS and target is not None:
                        own = conn.execute(
                            "SELECT id FROM journal WHERE kind = ? AND target = ? AND undone = 0 "
                            "ORDER BY id DESC LIMIT 1", (kind, target)).fetchone()
                        if own and not conn.execute(
                                "SELECT EXISTS (SELECT 1 FROM journal WHERE id > ? AND undone = 1)",
                                (own[0],)).fetchone()[0]:
                            entry = Entry(self, own[0], coalesced=True)
                            newer = True
                if newer:
                    assert entry is not None and target is not None
                    before = self._message_row(target)
                    self._current = entry
                    yield entry
                    self._carry_into_newer(entry.id, target, before)
                    return
                if entry is None:
                    # A new step cuts the redo tail.
                    conn.execute("DELETE FROM journal WHERE undone = 1")
                    cur = conn.execute(
                        "INSERT INTO journal (label, kind, target, created_at) VALUES (?, ?, ?, ?)",
                        (label, kind, target, now_iso()),
                    )
                    entry = Entry(self, int(cur.lastrowid), coalesced=False)
                self._current = entry
                yield entry
                if not entry.coalesced:
                    self._trim()
        finally:
            self._current = None

    def relabel(self, entry_id: int, label: str) -> None:
        """Rename a step (inside a change): an import in two commits says "(unfinished)" until done."""
        self.conn.execute("UPDATE journal SET label = ? WHERE id = ?", (label, entry_id))

    def merge_into(self, entry_id: int, newer_id: int) -> None:
        """Make step `entry_id` part of the newer step `newer_id` (inside a change): its images and
        inserted ranges move over, so undoing the newer step undoes both. Only for steps whose
        rows no step between them touched (an import's own rows)."""
        for table in ("new", *(t for t in TABLES)):
            self.conn.execute(f"UPDATE journal_{table} SET entry_id = ? WHERE entry_id = ?", (newer_id, entry_id))
        self.conn.execute("DELETE FROM journal WHERE id = ?", (entry_id,))

    def drop_newest(self, entry_id: int) -> bool:
        """Undo step `entry_id` and forget it (no redo), when it is the newest step: what a change
        committed in parts does when a later part fails. False (nothing done) otherwise."""
        with immediate(self.conn):  # read the step inside the lock: another process may write too
            row = self.conn.execute("SELECT id, undone FROM journal ORDER BY id DESC LIMIT 1").fetchone()
            if row is None or row[0] != entry_id or row[1]:
                return False
            self._restore(entry_id, 0)
            self.conn.execute("DELETE FROM journal WHERE id = ?", (entry_id,))
        return True

    def _message_row(self, message_id: int) -> dict[str, object] | None:
        cols = self.columns("messages")
        row = self.conn.execute(f"SELECT {', '.join(cols)} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return dict(zip(cols, row, strict=True)) if row else None

    def _carry_into_newer(self, entry_id: int, message_id: int, before: dict[str, object] | None) -> None:
        """After a change merged into an older step: the columns of the message it altered are
        carried into the before images that newer steps hold of it, where those still show the
        value from before the change (a newer step that changed that column itself keeps its own)."""
        after = self._message_row(message_id)
        if before is None or after is None:
            return
        for col, old in before.items():
            if col == "id" or after[col] == old:
                continue
            self.conn.execute(
                f"UPDATE journal_messages SET {col} = ? WHERE entry_id > ? AND side = 0 AND id = ? AND {col} IS ?",
                (after[col], entry_id, message_id, old))

    def current_cap(self) -> int:
        """The dataset's `journal_cap` as stored now (0: no limit). Read from the file, not kept:
        another process, or an undo of the setting itself, may have changed it since."""
        row = self.conn.execute("SELECT value FROM settings WHERE key = 'journal_cap'").fetchone()
        try:
            return int(json.loads(row[0])) if row else self.cap
        except (TypeError, ValueError):
            return self.cap

    def _trim(self) -> None:
        cap = self.current_cap()
        if cap <= 0:
            return
        row = self.conn.execute(
            "SELECT id FROM journal ORDER BY id DESC LIMIT 1 OFFSET ?", (cap,)
        ).fetchone()
        if row:
            self.conn.execute("DELETE FROM journal WHERE id <= ?", (row[0],))

    # -- reading ---------------------------------------------------------------------------

    def _top(self, undone: bool) -> Step | None:
        order = "ASC" if undone else "DESC"
        row = self.conn.execute(
            f"SELECT id, label, kind, target, undone FROM journal WHERE undone = ? ORDER BY id {order} LIMIT 1",
            (1 if undone else 0,),
        ).fetchone()
        return Step(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def next_undo(self) -> Step | None:
        return self._top(undone=False)

    def next_redo(self) -> Step | None:
        return self._top(undone=True)

    def steps(self, limit: int = 100) -> list[Step]:
        rows = self.conn.execute(
            "SELECT id, label, kind, target, undone FROM journal ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [Step(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    # -- undo / redo -----------------------------------------------------------------------

    def _touched(self, table: str) -> str:
        """SQL for the keys of `table` touched by entry :e (either side, or inserted)."""
        key = TABLES[table]
        sql = f"SELECT {key} FROM journal_{table} WHERE entry_id = :e"
        if key == "id":
            sql += (
                f" UNION SELECT t.id FROM {table} t JOIN journal_new n ON n.entry_id = :e"
                f" AND n.tbl = '{table}' AND t.id BETWEEN n.lo AND n.hi"
            )
        return sql

    def _restore(self, entry_id: int, side: int) -> None:
        conn = self.conn
        params = {"e": entry_id, "s": side}
        for table in reversed(TABLES):
            key = TABLES[table]
            conn.execute(
                f"DELETE FROM {table} WHERE {key} IN ({self._touched(table)}) AND {key} NOT IN "
                f"(SELECT {key} FROM journal_{table} WHERE entry_id = :e AND side = :s)",
                params,
            )
        for table, key in TABLES.items():
            cols = self.columns(table)
            collist = ", ".join(cols)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key)
            conn.execute(
                f"INSERT INTO {table} ({collist}) SELECT {collist} FROM journal_{table} "
                f"WHERE entry_id = :e AND side = :s ORDER BY rowid "
                f"ON CONFLICT({key}) DO UPDATE SET {updates}",
                params,
            )

    def undo(self) -> Step | None:
        """Undo the newest step; returns it, or None when there is nothing to undo."""
        conn = self.conn
        with immediate(conn):  # read the step inside the lock: another process may write too
            step = self.next_undo()
            if step is None:
                return None
            for table in TABLES:
                cols = ", ".join(self.columns(table))
                key = TABLES[table]
                conn.execute(f"DELETE FROM journal_{table} WHERE entry_id = ? AND side = 1", (step.id,))
                conn.execute(
                    f"INSERT INTO journal_{table} (entry_id, side, {cols}) SELECT :e, 1, {cols} "
                    f"FROM {table} WHERE {key} IN ({self._touched(table)})",
                    {"e": step.id},
                )
            self._restore(step.id, 0)
            conn.execute("UPDATE journal SET undone = 1 WHERE id = ?", (step.id,))
        step.undone = True
        return step

    def redo(self) -> Step | None:
        """Redo the oldest undone step; returns it, or None when there is nothing to redo."""
        conn = self.conn
        with immediate(conn):
            step = self.next_redo()
            if step is None:
                return None
            self._restore(step.id, 1)
            conn.execute("UPDATE journal SET undone = 0 WHERE id = ?", (step.id,))
        step.undone = False
        return step

    def clear(self) -> None:
        with immediate(self.conn):
            self.conn.execute("DELETE FROM journal")
