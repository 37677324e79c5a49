"""What one transaction's messenger repositories share: deferred bulk writes and counters in memory.

A group commit runs hundreds of sends in one transaction. Instead of a statement per send for each
table it touches, the hot writes are deferred and go out as one ``executemany`` each when the
transaction flushes:

* new messages, their search-index rows, and box updates;
* the chats' counters (``last_msg_id``, the channel box ``pts``, ``top_date``): once a chat's
  counters are known in this transaction they are advanced in memory and written back once.
  They become known either from ``UPDATE … RETURNING`` (which, on PostgreSQL, also locks the row
  until commit) or — on SQLite only, where the transaction holds the database's write lock from
  ``BEGIN IMMEDIATE`` — from the chat row this transaction just read.

A group commit can also load the chats of all its writes with the writers' memberships in one
query up front (``prefetch``; on PostgreSQL ``FOR UPDATE``, in chat id order), which makes their
counters known at once: a send then costs no statement of its own at all.

Reads stay exact: the hot reads (a chat with a membership, the active members of a chat) overlay
the counters held in memory and touch no table with deferred rows; **every other statement**
first flushes everything deferred and forgets what is cached (``GuardedConnection``), so it sees
exactly what the transaction has written so far. A savepoint flushes when it starts and when it
ends, and forgets everything when it rolls back, so a write that fails alone takes its deferred
rows with it. The transaction flushes before it commits (``flush``).

Sends with a client ``random_id`` are looked up by ``(sender_id, random_id)``: what this
transaction inserted, and what it looked up (found or not), is remembered in ``sent``, so a repeated
send in the same batch finds the first one without a statement. A clash on the unique index (a
concurrent transaction inserted the same pair first) surfaces as ``Conflict(code="random_id_race")``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import needs_row_locks
from palaver.adapters.storage.messenger_sql import Deferred, Driver, HotSql, Row, hot_sql
from palaver.domain.messenger.messages import Message
from palaver.errors import Conflict

RANDOM_ID_INDEX = "uq_messages_sender_random"


def is_random_id_clash(exc: BaseException) -> bool:
    """A unique violation of ``(sender_id, random_id)`` (SQLite names the columns, PostgreSQL the index)."""
    text = str(exc)
    return "UNIQUE" in text.upper() and (RANDOM_ID_INDEX in text or "messages.random_id" in text)


class SqlAlchemyDriver:
    """Plain SQL through SQLAlchemy's ``exec_driver_sql`` (no statement compilation)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any]) -> Sequence[Row]:
        return (await self._conn.exec_driver_sql(sql, tuple(params))).all()

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        await self._conn.exec_driver_sql(sql, tuple(params))

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.exec_driver_sql(sql, list(rows))


class SqliteDriver:
    """Plain SQL on a ``sqlite3`` connection, answered at once (for the SQLite writer thread)."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any]) -> Sequence[Row]:
        return self._db.execute(sql, params).fetchall()

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        self._db.execute(sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._db.executemany(sql, rows)


class _AsyncTransactionLike(Protocol):
    async def __aenter__(self) -> object: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> object: ...


class TxState:
    """The deferred writes and the cached chat state of one transaction."""

    __slots__ = (
        "_members",
        "_prefetched",
        "counters",
        "deferred",
        "dirty",
        "driver",
        "locks_rows",
        "pending",
        "seen",
        "sent",
        "sql",
    )

    def __init__(self, dialect: Dialect, driver: Driver) -> None:
        self.driver = driver
        self.sql: HotSql = hot_sql(dialect.name)
        self.locks_rows = needs_row_locks(dialect.name)
        self.pending = False  # something is deferred or cached: other statements flush first
        self.counters: dict[int, list[Any]] = {}  # chat id → [last_msg_id, pts, top_date], authoritative
        self.dirty: set[int] = set()  # chats whose counters changed since the last flush
        self.seen: dict[int, tuple[int, int, float]] = {}  # counters read in this transaction (SQLite)
        self._members: dict[int, list[int]] = {}  # chat id → active member ids
        self._prefetched: dict[tuple[int, int], Row | None] = {}  # (chat, user) → chat_with_member row
        self.deferred = Deferred()  # rows to write, except the counters (written from ``counters``)
        self.sent: dict[tuple[int, int], Message | None] = {}  # (sender, random_id) → message, this transaction

    # ------------------------------------------------------------------ chat counters

    async def allocate(self, chat_id: int, messages: int, pts: int, date: float | None) -> tuple[int, int]:
        counters = self.counters.get(chat_id)
        if counters is None:
            seen = self.seen.pop(chat_id, None)
            if seen is None:
                rows = await self.driver.fetch(self.sql.allocate, (messages, pts, date, chat_id))
                if not rows:
                    raise LookupError(f"no chat {chat_id}")
                last, new_pts, top = rows[0]
                self.counters[chat_id] = [int(last), int(new_pts), float(top)]
                self.pending = True
                return int(last), int(new_pts)
            counters = self.counters[chat_id] = list(seen)
        counters[0] += messages
        counters[1] += pts
        if date is not None:
            counters[2] = date
        self.dirty.add(chat_id)
        self.pending = True
        return counters[0], counters[1]

    # ------------------------------------------------------------------ chats with a membership

    async def prefetch(self, keys: list[tuple[int, int]]) -> None:
        """Load (and on PostgreSQL lock, in id order) the chats of ``keys`` with the memberships, in one
        query. The rows' counters are then this transaction's: the chats are locked (PostgreSQL) or
        the whole database is (SQLite)."""
        wanted = sorted(set(keys) - self._prefetched.keys())
        if not wanted:
            return
        for key in wanted:
            self._prefetched[key] = None  # no row: no such chat
        for row in await self.sql.prefetch_rows(self.driver, wanted):
            chat_id = int(row[1])
            self._prefetched[(chat_id, int(row[0]))] = row[1:]
            if chat_id not in self.counters:
                self.counters[chat_id] = [row[11], row[13], row[12]]
        self.pending = True

    async def chat_with_member(self, chat_id: int, user_id: int) -> tuple[Row | None, list[Any] | None]:
        """The ``chat_with_member`` row (None: no such chat) and the counters held for the chat."""
        key = (chat_id, user_id)
        if key in self._prefetched:
            row = self._prefetched[key]
        else:
            rows = await self.driver.fetch(self.sql.chat_with_member, (user_id, chat_id))
            row = rows[0] if rows else None
        if row is None:
            return None, None
        counters = self.counters.get(chat_id)
        if counters is None and not self.locks_rows:
            self.seen[chat_id] = (row[10], row[12], row[11])
            self.pending = True
        return row, counters

    # ------------------------------------------------------------------ other hot state

    async def active_members(self, chat_id: int) -> list[int]:
        found = self._members.get(chat_id)
        if found is None:
            rows = await self.driver.fetch(self.sql.active_members, (chat_id,))
            found = self._members[chat_id] = [int(row[0]) for row in rows]
            self.pending = True
        return list(found)

    def add_messages(self, rows: list[tuple[Any, ...]], search: list[tuple[int, str]]) -> None:
        self.deferred.messages += rows
        self.deferred.search += search
        self.pending = True

    def add_updates(self, common: list[tuple[Any, ...]], channel: list[tuple[Any, ...]]) -> None:
        self.deferred.common += common
        self.deferred.channel += channel
        self.pending = True

    # ------------------------------------------------------------------ flushing

    async def flush(self) -> None:
        """Write everything deferred (the state cached stays valid)."""
        if not (self.dirty or self.deferred):
            return
        rows, self.deferred = self.deferred, Deferred()
        rows.counters = [(*self.counters[chat_id], chat_id) for chat_id in sorted(self.dirty)]
        self.dirty = set()
        try:
            await self.sql.write_deferred(self.driver, rows)
        except Exception as exc:
            if is_random_id_clash(exc):
                raise Conflict("A send with this random_id was stored meanwhile.", code="random_id_race") from exc
            raise

    def forget(self) -> None:
        """Drop what is cached (after a flush: nothing is lost)."""
        self.counters.clear()
        self.seen.clear()
        self._members.clear()
        self._prefetched.clear()
        self.pending = bool(self.dirty or self.deferred)

    def discard(self) -> None:
        """Drop everything, deferred writes included (their savepoint rolled back)."""
        self.dirty.clear()
        self.deferred = Deferred()
        self.sent.clear()  # stays valid across flushes, not across a rollback
        self.forget()

    async def before_other_statement(self) -> None:
        await self.flush()
        self.forget()


class _GuardedSavepoint:
    """A savepoint that flushes on entry and exit and forgets what it rolled back."""

    __slots__ = ("_inner", "_make", "_state")

    def __init__(self, make: Any, state: TxState) -> None:
        self._make = make
        self._state = state
        self._inner: _AsyncTransactionLike | None = None

    async def __aenter__(self) -> object:
        if self._state.pending:
            await self._state.before_other_statement()
        self._inner = cast(_AsyncTransactionLike, self._make())
        return await self._inner.__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> object:
        assert self._inner is not None
        if exc_type is None:
            try:
                await self._state.flush()
            except BaseException as error:
                self._state.discard()
                await self._inner.__aexit__(type(error), error, error.__traceback__)
                raise
            return await self._inner.__aexit__(None, None, None)
        self._state.discard()
        return await self._inner.__aexit__(exc_type, exc, tb)


class GuardedConnection:
    """The connection the repositories use: any statement flushes the deferred writes first."""

    __slots__ = ("_inner", "_state", "dialect")

    def __init__(self, inner: AsyncConnection, state: TxState) -> None:
        self._inner = inner
        self._state = state
        self.dialect = inner.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if self._state.pending:
            await self._state.before_other_statement()
        return await self._inner.execute(statement, parameters)

    def begin_nested(self) -> _GuardedSavepoint:
        return _GuardedSavepoint(self._inner.begin_nested, self._state)


def guarded(conn: AsyncConnection, driver: Driver | None = None) -> tuple[AsyncConnection, TxState]:
    """The guarded connection for ``conn`` (typed as what the repositories expect) and its state."""
    state = TxState(conn.dialect, driver or SqlAlchemyDriver(conn))
    return cast(AsyncConnection, GuardedConnection(conn, state)), state
