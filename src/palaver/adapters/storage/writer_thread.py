"""Run a batch of writes in one go with a plain (synchronous) SQLite connection.

Through aiosqlite every statement is a round trip to a driver thread (a few hundred µs); a group
commit of hundreds of writes pays that per statement. Here the whole batch runs at once: the same
repositories, bound to a shim whose ``async`` methods complete at once over a synchronous
connection, and the batch coroutine is driven to completion without an event loop (``drive``). The
batch may therefore await nothing but its transaction.

Where it runs depends on the CPUs the process may use:

* several: on a writer thread, so SQLite's own work (which releases the GIL) overlaps the event
  loop's;
* one (a process pinned to a core): a thread cannot run beside the loop, it only adds a hop per
  batch and GIL hand-overs at every statement (measured: ~10% more CPU per message, and latency
  spikes of up to a GIL switch interval per statement when the loop is busy). The batch then runs
  right on the event loop thread — if the write lock is free at once. If another connection holds
  it (a transaction of the async engine, which needs the loop to finish), waiting on the loop
  thread would stall that very transaction, so the batch goes to the thread and waits there.
  The one slow thing a commit may do — a WAL checkpoint, which copies pages into the database and
  syncs it to disk — is kept off the loop: the writer connection does not checkpoint by itself,
  a passive checkpoint runs on the thread, on a connection of its own, at most every
  ``CHECKPOINT_SECONDS`` after a commit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, NestedTransaction, RootTransaction
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import SQLITE_BUSY_TIMEOUT_MS
from palaver.adapters.storage.write_behind import SqliteDriver

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Nested:
    """``async with conn.begin_nested()`` over a synchronous savepoint."""

    def __init__(self, transaction: NestedTransaction) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> NestedTransaction:
        return self._transaction

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self._transaction.commit()
        else:
            self._transaction.rollback()


class _ImmediateConnection:
    """What the repositories use of an ``AsyncConnection``, answered synchronously."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(
        self, statement: Any, parameters: dict[str, Any] | Sequence[Any] | None = None
    ) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    def begin_nested(self) -> _Nested:
        return _Nested(self._connection.begin_nested())


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it awaits only immediate storage calls)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return cast(T, stop.value)
    coroutine.close()
    raise RuntimeError("a batched write awaited something other than its transaction")


Work = Callable[[AsyncConnection, SqliteDriver], Coroutine[Any, Any, T]]


CHECKPOINT_SECONDS = 0.5


def _is_busy(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


class SqliteWriterThread:
    def __init__(self, engine: Engine, *, inline: bool | None = None) -> None:
        """``inline``: try batches on the event loop thread first (default: when this process may
        run on one CPU only)."""
        self._engine = engine
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="palaver-sqlite-writer")
        self._inline = len(os.sched_getaffinity(0)) == 1 if inline is None else inline
        self._lock: asyncio.Lock | None = None  # one batch at a time on the one connection
        self._connection: Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None  # used on the thread only
        self._checkpoint: Future[None] | None = None
        self._checkpointed_at = 0.0
        self.inline_batches = 0
        self.thread_batches = 0

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in one transaction: committed when it returns, rolled back when it raises.
        It gets the connection (as the repositories use it) and a driver for plain SQL on the same
        ``sqlite3`` connection."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._inline:
                connection = self._connect()
                transaction = self._begin_at_once(connection)
                if transaction is not None:
                    self.inline_batches += 1
                    try:
                        with transaction:
                            return self._work(connection, work)
                    finally:
                        self._checkpoint_soon()
            self.thread_batches += 1
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, work)

    def _connect(self) -> Connection:
        """The writer's connection, kept open between batches (one batch at a time uses it)."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self._engine.connect()
            if self._inline:  # waits for the lock happen on the thread only (``_run``), and so do checkpoints
                self._busy_timeout(self._connection, 0)
                self._driver_connection(self._connection).execute("PRAGMA wal_autocheckpoint=0")
        return self._connection

    @staticmethod
    def _driver_connection(connection: Connection) -> sqlite3.Connection:
        return cast(sqlite3.Connection, connection.connection.driver_connection)

    def _checkpoint_soon(self) -> None:
        """A passive checkpoint on the thread, unless one ran (or is running) lately."""
        now = time.monotonic()
        if now - self._checkpointed_at < CHECKPOINT_SECONDS or (self._checkpoint and not self._checkpoint.done()):
            return
        self._checkpointed_at = now
        self._checkpoint = self._executor.submit(self._run_checkpoint)

    def _run_checkpoint(self) -> None:
        if self._checkpointer is None:
            database = self._engine.url.database
            assert database is not None
            self._checkpointer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        try:
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.warning("WAL checkpoint failed", exc_info=True)

    @classmethod
    def _busy_timeout(cls, connection: Connection, milliseconds: int) -> None:
        cls._driver_connection(connection).execute(f"PRAGMA busy_timeout={milliseconds}")

    def _begin_at_once(self, connection: Connection) -> RootTransaction | None:
        """Begin (taking the write lock) without waiting; None when the lock is taken."""
        try:
            return connection.begin()
        except OperationalError as exc:
            if _is_busy(exc):
                return None
            raise

    def _run(self, work: Work[T]) -> T:
        connection = self._connect()
        if self._inline:
            self._busy_timeout(connection, SQLITE_BUSY_TIMEOUT_MS)
        try:
            with connection.begin():
                return self._work(connection, work)
        finally:
            if self._inline:
                self._busy_timeout(connection, 0)

    @staticmethod
    def _work(connection: Connection, work: Work[T]) -> T:
        shim = cast(AsyncConnection, _ImmediateConnection(connection))
        driver = SqliteDriver(cast(sqlite3.Connection, connection.connection.driver_connection))
        return drive(work(shim, driver))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()
