"""Hand-written SQL for the messenger's hot path, per dialect, run straight on the driver.

A send runs a handful of statements; through SQLAlchemy's execution pipeline each costs far more
than SQLite takes to run it (measured: ~100 µs of Python around ~15 µs of SQLite). These
statements are fixed strings handed to the driver (``exec_driver_sql``, or the raw ``sqlite3``
connection of the SQLite batch writer), so the driver's own statement cache keeps them prepared. The
rows a batch defers go out as one ``executemany`` per table on SQLite and as a single statement over
arrays (``unnest``) on PostgreSQL, where every statement is a round trip.

Everything here that differs between SQLite and PostgreSQL is in the two ``HotSql`` instances.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from palaver.domain.messenger.roles import ACTIVE_STATUSES

Row = Sequence[Any]

_CHAT_COLUMNS = (
    "c.id, c.kind, c.title, c.created_at, c.about, c.username, c.owner_id, c.private_key, c.signatures,"
    " c.member_count, c.last_msg_id, c.top_date, c.pts, c.pinned_msg_id"
)
_MEMBER_COLUMNS = (
    "m.chat_id, m.user_id, m.status, m.joined_at, m.rights, m.promoted_by, m.until, m.history_from,"
    " m.read_inbox_max, m.read_outbox_max, m.pinned_rank, m.draft_text, m.draft_entities, m.draft_reply_to,"
    " m.draft_date"
)
CHAT_WIDTH = 14  # columns of a chat in a row of ``chat_with_member``; the member's follow
_ACTIVE_SQL = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_STATUSES))
_MESSAGE_COLUMNS = (
    "uid, chat_id, id, sender_id, anonymous, date, text, entities, reply_to, forward, edit_date, silent,"
    " signature, views, reactions, random_id"
)
_UPDATE_COLUMNS = "pts, pts_count, kind, chat_id, msg_id, data, date"
_CHANNEL_COLUMNS = "pts, pts_count, kind, msg_id, data, date"


class Driver(Protocol):
    """Plain SQL on the transaction's connection, in the driver's parameter style."""

    async def fetch(self, sql: str, params: Sequence[Any]) -> Sequence[Row]: ...

    async def execute(self, sql: str, params: Sequence[Any]) -> None: ...

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def _numbered(sql: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (asyncpg)."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


def _qmarks(n: int) -> str:
    return ", ".join("?" * n)


@dataclass(frozen=True, slots=True)
class HotSql:
    chat_with_member: str  # (user_id, chat_id) → chat columns + member columns (NULL: not a member)
    prefetch: str  # (chat ids, user ids) → user_id + the columns of ``chat_with_member``; locks the chats
    allocate: str  # (add_msgs, add_pts, date or NULL, chat_id) → (last_msg_id, pts, top_date)
    set_counters: str  # many (last_msg_id, pts, top_date, chat_id)
    active_members: str  # (chat_id,) → user_id ordered
    insert_messages: str  # many message rows (``messenger_rows.message_tuple``)
    insert_search: str  # many (uid, folded text)
    insert_common: str  # many (user_id, pts, pts_count, kind, chat_id, msg_id, data, date)
    insert_channel: str  # many (chat_id, pts, pts_count, kind, msg_id, data, date)
    locks_boxes: bool  # PostgreSQL: rows are locked (in id order) and each statement is a round trip

    async def prefetch_rows(self, driver: Driver, keys: list[tuple[int, int]]) -> Sequence[Row]:
        """``(user_id, *chat_with_member columns)`` for each ``(chat_id, user_id)`` whose chat exists."""
        if self.locks_boxes:
            return await driver.fetch(self.prefetch, ([k[0] for k in keys], [k[1] for k in keys]))
        if len(keys) == 1:  # the plain query is cheaper than going through JSON
            chat_id, user_id = keys[0]
            return [(user_id, *row) for row in await driver.fetch(self.chat_with_member, (user_id, chat_id))]
        return await driver.fetch(self.prefetch, (json.dumps(keys),))

    async def advance_boxes(self, driver: Driver, counts: dict[int, int]) -> dict[int, int]:
        """Advance each common box by its count (in the database, atomically); its new pts."""
        users = sorted(counts)
        if self.locks_boxes:
            rows = await driver.fetch(_PG_ADVANCE_BOXES, (users, [counts[u] for u in users]))
        else:
            await driver.execute_many(_SQLITE_ADVANCE_BOX, [(counts[u], u) for u in users])
            rows = await driver.fetch(_SQLITE_BOX_PTS, (json.dumps(users),))
        return {int(user_id): int(pts) for user_id, pts in rows}

    async def write_deferred(self, driver: Driver, rows: Deferred) -> None:
        """Everything a transaction deferred: one ``executemany`` per table on SQLite, a single
        statement over arrays on PostgreSQL (one round trip)."""
        tables = (rows.counters, rows.messages, rows.search, rows.common, rows.channel)
        if not self.locks_boxes:
            statements = (self.set_counters, self.insert_messages, self.insert_search)
            for sql, found in zip((*statements, self.insert_common, self.insert_channel), tables, strict=True):
                await driver.execute_many(sql, found)
            return
        parts = tuple(bool(found) for found in tables)
        if any(parts):
            params = [list(column) for found in tables if found for column in zip(*found, strict=True)]
            await driver.execute(_pg_write_deferred(parts), params)


@dataclass(slots=True)
class Deferred:
    """Rows a transaction has yet to write, in the column order of the ``HotSql`` statements."""

    counters: list[tuple[Any, ...]] = field(default_factory=list)  # set_counters
    messages: list[tuple[Any, ...]] = field(default_factory=list)  # insert_messages
    search: list[tuple[Any, ...]] = field(default_factory=list)  # insert_search
    common: list[tuple[Any, ...]] = field(default_factory=list)  # insert_common
    channel: list[tuple[Any, ...]] = field(default_factory=list)  # insert_channel

    def __bool__(self) -> bool:
        return bool(self.counters or self.messages or self.search or self.common or self.channel)


_SQLITE_ADVANCE_BOX = "UPDATE user_boxes SET pts = pts + ? WHERE user_id = ?"
_SQLITE_BOX_PTS = "SELECT user_id, pts FROM user_boxes WHERE user_id IN (SELECT value FROM json_each(?))"
# The sub-select locks the boxes in user id order (LockRows above the Sort), then they are advanced.
_PG_ADVANCE_BOXES = (
    "UPDATE user_boxes AS b SET pts = b.pts + v.n FROM (SELECT u.user_id, k.n FROM user_boxes AS u"
    " JOIN unnest($1::bigint[], $2::bigint[]) AS k(user_id, n) ON u.user_id = k.user_id"
    " ORDER BY u.user_id FOR UPDATE OF u) AS v WHERE b.user_id = v.user_id RETURNING b.user_id, b.pts"
)
_PG_MESSAGE_TYPES = (
    "bigint", "bigint", "bigint", "bigint", "boolean", "float8", "text", "text",
    "bigint", "text", "float8", "boolean", "text", "bigint", "text", "bigint",
)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _pg_write_deferred(parts: tuple[bool, ...]) -> str:
    """One statement for the tables ``write_deferred`` has rows for: data-modifying CTEs over
    ``unnest`` arrays (the index rows' foreign key is checked at the end of the statement, after the
    messages went in)."""
    numbers = itertools.count(1)

    def arrays(types: Sequence[str]) -> str:
        return ", ".join(f"${next(numbers)}::{kind}[]" for kind in types)

    statements = []
    if parts[0]:
        counters = arrays(("bigint", "bigint", "float8", "bigint"))
        statements.append(
            f"UPDATE chats AS c SET last_msg_id = v.l, pts = v.p, top_date = v.t FROM unnest({counters})"  # noqa: S608
            " AS v(l, p, t, id) WHERE c.id = v.id"
        )
    if parts[1]:
        messages = arrays(_PG_MESSAGE_TYPES)
        statements.append(f"INSERT INTO messages ({_MESSAGE_COLUMNS}) SELECT * FROM unnest({messages})")  # noqa: S608
    if parts[2]:
        search = arrays(("bigint", "text"))
        statements.append(
            "INSERT INTO message_search (uid, tsv) SELECT s.uid, to_tsvector('simple', s.body)"  # noqa: S608
            f" FROM unnest({search}) AS s(uid, body)"
        )
    if parts[3]:
        common = arrays(("bigint", "bigint", "integer", "text", "bigint", "bigint", "text", "float8"))
        statements.append(f"INSERT INTO common_updates (user_id, {_UPDATE_COLUMNS}) SELECT * FROM unnest({common})")  # noqa: S608
    if parts[4]:
        channel = arrays(("bigint", "bigint", "integer", "text", "bigint", "text", "float8"))
        statements.append(f"INSERT INTO channel_updates (chat_id, {_CHANNEL_COLUMNS}) SELECT * FROM unnest({channel})")  # noqa: S608
    *ctes, main = statements
    prefix = "WITH " + ", ".join(f"w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " " if ctes else ""
    return prefix + main


_CHAT_WITH_MEMBER = (
    f"SELECT {_CHAT_COLUMNS}, {_MEMBER_COLUMNS} FROM chats AS c"  # noqa: S608 - constant column lists
    " LEFT OUTER JOIN chat_members AS m ON m.chat_id = c.id AND m.user_id = ? WHERE c.id = ?"
)
_SQLITE_PREFETCH = (
    f"SELECT json_extract(k.value, '$[1]'), {_CHAT_COLUMNS}, {_MEMBER_COLUMNS} FROM json_each(?) AS k"  # noqa: S608
    " JOIN chats AS c ON c.id = json_extract(k.value, '$[0]')"
    " LEFT OUTER JOIN chat_members AS m ON m.chat_id = c.id AND m.user_id = json_extract(k.value, '$[1]')"
)
_PG_PREFETCH = (
    f"SELECT k.user_id, {_CHAT_COLUMNS}, {_MEMBER_COLUMNS}"  # noqa: S608
    " FROM unnest($1::bigint[], $2::bigint[]) AS k(chat_id, user_id) JOIN chats AS c ON c.id = k.chat_id"
    " LEFT OUTER JOIN chat_members AS m ON m.chat_id = c.id AND m.user_id = k.user_id"
    " ORDER BY c.id FOR UPDATE OF c"
)
_ALLOCATE = (
    "UPDATE chats SET last_msg_id = last_msg_id + ?, pts = pts + ?, top_date = COALESCE(?, top_date)"
    " WHERE id = ? RETURNING last_msg_id, pts, top_date"
)
_SET_COUNTERS = "UPDATE chats SET last_msg_id = ?, pts = ?, top_date = ? WHERE id = ?"
_ACTIVE_MEMBERS = f"SELECT user_id FROM chat_members WHERE chat_id = ? AND status IN ({_ACTIVE_SQL}) ORDER BY user_id"  # noqa: S608
_INSERT_MESSAGES = f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES ({_qmarks(16)})"  # noqa: S608
_INSERT_COMMON = f"INSERT INTO common_updates (user_id, {_UPDATE_COLUMNS}) VALUES ({_qmarks(8)})"  # noqa: S608
_INSERT_CHANNEL = f"INSERT INTO channel_updates (chat_id, {_CHANNEL_COLUMNS}) VALUES ({_qmarks(7)})"  # noqa: S608

SQLITE = HotSql(
    chat_with_member=_CHAT_WITH_MEMBER,
    prefetch=_SQLITE_PREFETCH,
    allocate=_ALLOCATE,
    set_counters=_SET_COUNTERS,
    active_members=_ACTIVE_MEMBERS,
    insert_messages=_INSERT_MESSAGES,
    insert_search="INSERT INTO message_search (rowid, body) VALUES (?, ?)",
    insert_common=_INSERT_COMMON,
    insert_channel=_INSERT_CHANNEL,
    locks_boxes=False,
)

POSTGRESQL = HotSql(
    chat_with_member=_numbered(_CHAT_WITH_MEMBER),
    prefetch=_PG_PREFETCH,
    allocate=_numbered(_ALLOCATE).replace("COALESCE($3,", "COALESCE($3::double precision,"),
    set_counters=_numbered(_SET_COUNTERS),
    active_members=_numbered(_ACTIVE_MEMBERS),
    insert_messages=_numbered(_INSERT_MESSAGES),
    insert_search="INSERT INTO message_search (uid, tsv) VALUES ($1, to_tsvector('simple', $2))",
    insert_common=_numbered(_INSERT_COMMON),
    insert_channel=_numbered(_INSERT_CHANNEL),
    locks_boxes=True,
)


def hot_sql(dialect_name: str) -> HotSql:
    return POSTGRESQL if dialect_name == "postgresql" else SQLITE
