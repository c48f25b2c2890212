"""Named read queries and connection housekeeping of a dataset, for the callers outside the store
(issue 14): the windows, the formats, the stats, the token counter and the CLI ask the store by
name instead of writing SQL against its connection.

`StoreQueries` is a mixin of `DatasetStore` (lima_tk/store/db.py): every method runs on the
store's own connection, so the thread rules of the store apply (one store per thread), except
`interrupt()`, which any thread may call. Nothing here writes the dataset, except `save_copy`,
which writes another file through SQLite's backup API.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lima_tk.errors import Cancelled
from lima_tk.model import Message

if TYPE_CHECKING:
    from lima_tk.store.sqlerrors import Connection


@dataclass(frozen=True)
class TokenTotal:
    """The whole dataset under the active tokenizer: the sum of the chats' rendered counts."""

    total: int
    uncounted: int
    messages: int
    estimate: bool
    setting: str


class StatsRows(NamedTuple):
    """The raw aggregates behind `lima_tk.stats.dataset_stats` (one filter applied to all)."""

    chats: int
    per_tag: dict[str, int]
    untagged: int
    per_language: dict[str, int]
    with_tools: int
    # (role, messages, tokens, trainable messages, trainable tokens, uncounted messages), by role
    roles: list[tuple[str, int, int, int, int, int]]
    # (messages, message token sum, rendered count or None, rendered trainable or None,
    #  trainable messages' sum), one row per chat that has messages
    per_chat: list[tuple[int, int, int | None, int | None, int]]
    key: Any  # the active TokenKey the token columns were read under (None: nothing counted)


# The OpenAI fine-tuning line of a plain chat (text turns only, an assistant turn, weights only on
# assistant turns, no tools or extra fields), built by SQLite exactly as the checked Python writer
# would; any other chat gets NULL and goes through that writer (lima_tk/formats/openai.py).
_OPENAI_LINES_SQL = """
SELECT c.id, c.position, (SELECT count(*) FROM messages m WHERE m.chat_id = c.id),
  CASE WHEN c.extra = '{{}}'
        AND EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND m.role = 'assistant')
        AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND (
            m.role = 'tool' OR m.tool_calls IS NOT NULL OR m.content IS NULL OR m.name IS NOT NULL
            OR (m.weight IS NOT NULL AND m.role != 'assistant')))
        AND NOT EXISTS (SELECT 1 FROM tools t WHERE t.chat_id = c.id)
  THEN (SELECT json_object('messages', json_group_array(json(CASE WHEN x.weight IS NULL
            THEN json_object('role', x.role, 'content', x.content)
            ELSE json_object('role', x.role, 'content', x.content, 'weight', x.weight) END)))
        FROM (SELECT role, content, weight FROM messages WHERE chat_id = c.id ORDER BY position, id) x)
  END
FROM chats c
{cond} (c.position, c.id) > (?, ?) ORDER BY c.position, c.id LIMIT ?
"""


class StoreQueries:
    """Mixin of DatasetStore: reads by name, and the connection's housekeeping."""

    conn: Connection
    path: Path
    readonly: bool

    # Provided by DatasetStore.
    filter_sql: Callable[..., tuple[str, list[Any]]]
    active_token_key: Callable[[], Any]
    get_setting: Callable[[str], Any]
    set_setting: Callable[[str, Any], Any]

    # -- the connection ---------------------------------------------------------------------

    def set_busy_timeout(self, ms: int) -> None:
        """How long a write waits for another process's lock before it fails with DatasetBusy
        (the GUI's Tk thread sets a short one: it must never freeze)."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(ms)}")

    def interrupt(self) -> None:
        """Any thread: make the query running on this store's connection fail ("interrupted")."""
        self.conn.interrupt()

    def checkpoint(self) -> None:
        """Move the WAL into the file and empty it (a dataset about to be handed over whole)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def save_copy(self, dest: str | Path, progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None, pages: int = 512) -> Path:
        """A consistent copy of the dataset at `dest`, made with SQLite's backup API (safe while
        other connections write; never a file copy, see lima_tk/store/files.py). Written to a temp
        file beside `dest` and renamed into place; `cancel` (checked between chunks of `pages`)
        raises Cancelled and leaves no file. The caller refuses `dest` when it is the dataset."""
        import sqlite3

        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            out = sqlite3.connect(str(tmp))
            try:
                def step(_status: int, remaining: int, total: int) -> None:
                    if progress is not None:
                        progress(total - remaining, total)
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("cancelled")

                self.conn.backup(out, pages=pages, progress=step)
                out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            finally:
                out.close()
            os.replace(tmp, dest)
        except BaseException:
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(f"{tmp}{suffix}")
                except OSError:
                    pass
            raise
        return dest

    # -- what changed (cheap signatures for the windows' polls) --------------------------------

    def content_signature(self) -> tuple:
        """Changes when the data does, but not when only token counts are written: every change
        is journaled (coalesced typing keeps its journal row but touches the chat's updated_at).
        Indexed lookups only, ~1 ms on 100,000 chats."""
        q = self.conn.execute
        return (
            q("SELECT max(id), count(*), sum(undone) FROM journal").fetchone(),
            q("SELECT max(updated_at) FROM chats").fetchone(),
            q("SELECT max(id) FROM messages").fetchone(),
            tuple(q("SELECT key, value FROM settings ORDER BY key").fetchall()),
        )

    def stats_signature(self) -> tuple:
        """Changes when anything the stats show does: the data, the active tokenizer key and
        the tokenizer and context-limit settings. Cheap on 100,000 chats (indexed lookups)."""
        q = self.conn.execute
        return (
            q("SELECT max(updated_at) FROM chats").fetchone(),  # the index, not a scan
            q("SELECT count(*) FROM chats").fetchone(),
            q("SELECT max(id), sum(undone) FROM journal").fetchone(),
            q("SELECT id FROM token_keys WHERE active = 1").fetchone(),
            q("SELECT value FROM settings WHERE key IN ('tokenizer', 'context_limit')").fetchall(),
        )

    # -- counts ---------------------------------------------------------------------------------

    def has_chats(self) -> bool:
        return bool(self.conn.execute("SELECT EXISTS (SELECT 1 FROM chats)").fetchone()[0])

    def has_messages(self) -> bool:
        return bool(self.conn.execute("SELECT EXISTS (SELECT 1 FROM messages)").fetchone()[0])

    def no_train_reply_count(self) -> int:
        """Assistant messages marked "no train" (weight 0)."""
        return int(self.conn.execute(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND weight = 0").fetchone()[0])

    def rejected_version_count(self) -> int:
        """Messages with a version marked rejected (for preference pairs)."""
        return int(self.conn.execute(
            "SELECT count(*) FROM messages WHERE alternatives IS NOT NULL "
            "AND instr(alternatives, '\"rejected\"') > 0").fetchone()[0])

    def has_token_key(self, tok: int, key: str) -> bool:
        """Whether tokenizer key id `tok` still names `key` (a cleared cache renumbers them)."""
        return self.conn.execute("SELECT 1 FROM token_keys WHERE id = ? AND key = ?",
                                 (tok, key)).fetchone() is not None

    def token_total(self) -> TokenTotal | None:
        """The dataset's token total under the active tokenizer key (None: nothing counted yet):
        the rendered counts of the chats, and for chats changed since, their message sum plus the
        template overhead. ~45 ms on 440,000 messages: the windows ask on a worker."""
        key = self.active_token_key()
        if key is None:
            return None
        q = self.conn.execute
        n_msgs = q("SELECT count(*) FROM messages").fetchone()[0]
        counted = q("SELECT count(*) FROM message_tokens WHERE tok = ?", (key.id,)).fetchone()[0]
        rendered = q("SELECT coalesce(sum(n), 0) FROM chat_tokens WHERE tok = ?", (key.id,)).fetchone()[0]
        s, m, c = q("SELECT coalesce(sum(t.n), 0), count(m.id), count(DISTINCT m.chat_id) FROM messages m "
                    "LEFT JOIN message_tokens t ON t.message_id = m.id AND t.tok = ? "
                    "WHERE m.chat_id NOT IN (SELECT chat_id FROM chat_tokens WHERE tok = ?)",
                    (key.id, key.id)).fetchone()
        total = rendered + s + key.overhead_message * m + key.overhead_chat * c
        return TokenTotal(int(total), max(0, n_msgs - counted) + c, n_msgs, key.estimate, key.setting)

    # -- settings -------------------------------------------------------------------------------

    def extend_setting(self, key: str, values: Iterable[str]) -> None:
        """Append the values a list setting (languages, tags) does not have yet, in order; joins
        the running change (an import) or is an undo step of its own."""
        current = list(self.get_setting(key))
        new = [v for v in dict.fromkeys(values) if v and v not in current]
        if new:
            self.set_setting(key, current + new)

    # -- rows for the formats, the stats and the CLI ---------------------------------------------

    def message_outlines(self) -> Iterator[tuple[int, list[Message]]]:
        """(chat id, its messages with role, content and tool calls only), every chat that has
        messages, in chat id order: what duplicate detection on import compares."""
        rows = self.conn.execute(
            "SELECT chat_id, role, content, tool_calls FROM messages ORDER BY chat_id, position, id")
        chat_id, msgs = None, []
        for cid, role, content, calls in rows:
            if cid != chat_id:
                if msgs:
                    yield chat_id, msgs
                chat_id, msgs = cid, []
            msgs.append(Message(role, content, tool_calls=json.loads(calls) if calls else None))
        if msgs:
            yield chat_id, msgs  # type: ignore[misc]

    def openai_lines(self, chat_filter: Any = None, batch: int = 1000) -> Iterator[tuple[int, str | None, int]]:
        """(chat id, OpenAI fine-tuning line or None, messages) of every chat in list order,
        paged by keyset: SQLite builds the line of a plain chat (see _OPENAI_LINES_SQL); None
        means the chat needs the checked writer."""
        where, params = self.filter_sql(chat_filter)
        sql = _OPENAI_LINES_SQL.format(cond=where + (" AND" if where else " WHERE"))
        last = (-(2**62), 0)
        while True:
            rows = self.conn.execute(sql, [*params, *last, batch]).fetchall()
            if not rows:
                return
            for chat_id, _pos, n, line in rows:
                yield chat_id, line, n
            last = (rows[-1][1], rows[-1][0])

    def stats_rows(self, chat_filter: Any = None) -> StatsRows:
        """Counts of chats and messages, messages by role, chats per tag and per language, and
        the per-chat token rows under the active key. One pass over the messages by role and one
        by chat, each joined with the token counts."""
        where, params = self.filter_sql(chat_filter)
        sel = f"SELECT c.id FROM chats c{where}"
        q = self.conn.execute
        # Unfiltered, skip the `IN (all chats)` semi-join: it costs as much as the aggregate.
        in_sel = f" IN ({sel})" if where else " IS NOT NULL"
        chats = q(f"SELECT count(*) FROM ({sel})", params).fetchone()[0]
        per_tag = {t: n for t, n in q(
            f"SELECT tag, count(*) FROM chat_tags WHERE chat_id{in_sel} GROUP BY tag ORDER BY count(*) DESC, tag",
            params)}
        untagged = q(
            f"SELECT count(*) FROM chats WHERE id{in_sel} AND id NOT IN (SELECT chat_id FROM chat_tags)", params
        ).fetchone()[0]
        per_language = {(lang or ""): n for lang, n in q(
            f"SELECT language, count(*) FROM chats WHERE id{in_sel} GROUP BY language "
            "ORDER BY count(*) DESC, language", params)}
        with_tools = q(f"SELECT count(DISTINCT chat_id) FROM tools WHERE chat_id{in_sel}", params).fetchone()[0]
        key = self.active_token_key()
        tok = key.id if key else -1  # no key: every message uncounted
        join = "FROM messages m LEFT JOIN message_tokens t ON t.message_id = m.id AND t.tok = ? "
        trainable_sql = "m.role = 'assistant' AND (m.weight IS NULL OR m.weight = 1)"
        roles = q(
            f"SELECT m.role, count(*), coalesce(sum(t.n), 0), sum({trainable_sql}), "
            f"coalesce(sum(CASE WHEN {trainable_sql} THEN t.n END), 0), count(*) - count(t.n) "
            f"{join}WHERE m.chat_id{in_sel} GROUP BY m.role ORDER BY m.role", [tok, *params]).fetchall()
        # Per chat: messages, message sum, the rendered count and its trained tokens (NULL when the
        # chat is not rendered yet), and the trainable messages' sum (the stand-in until it is).
        per_chat = q(f"SELECT count(*), coalesce(sum(t.n), 0), ct.n, ct.trainable, "
                     f"coalesce(sum(CASE WHEN {trainable_sql} THEN t.n END), 0) "
                     f"{join}LEFT JOIN chat_tokens ct ON ct.chat_id = m.chat_id AND ct.tok = ? "
                     f"WHERE m.chat_id{in_sel} GROUP BY m.chat_id", [tok, tok, *params]).fetchall()
        return StatsRows(chats, per_tag, untagged, per_language, with_tools, roles, per_chat, key)

    def last_messages(self, chat_filter: Any = None) -> list[tuple[int, int | None, str | None]]:
        """(chat id, id of its last message, that message's role) of every chat in list order
        (None, None for an empty chat)."""
        where, params = self.filter_sql(chat_filter)
        last = "SELECT m.{} FROM messages m WHERE m.chat_id = c.id ORDER BY m.position DESC, m.id DESC LIMIT 1"
        return self.conn.execute(
            f"SELECT c.id, ({last.format('id')}), ({last.format('role')}) FROM chats c{where} "
            "ORDER BY c.position, c.id", params).fetchall()

    def last_message_id(self, chat_id: int) -> int | None:
        row = self.conn.execute("SELECT id FROM messages WHERE chat_id = ? ORDER BY position DESC, id DESC LIMIT 1",
                                (chat_id,)).fetchone()
        return None if row is None else int(row[0])
