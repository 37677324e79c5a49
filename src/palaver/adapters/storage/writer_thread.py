"""Run a batch of writes on one thread with a plain (synchronous) SQLite connection.

Through aiosqlite every statement is a round trip to a driver thread (a few hundred µs); a group
commit of hundreds of writes pays that per statement. Here the whole batch runs on the writer
thread in one hop: the same repositories, bound to a shim whose ``async`` methods complete at once
over a synchronous connection, and the batch coroutine is driven to completion without an event
loop (``drive``). The batch may therefore await nothing but its transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, NestedTransaction
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.ports import Transaction

T = TypeVar("T")


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


class SqliteWriterThread:
    def __init__(self, engine: Engine, make_transaction: Callable[[AsyncConnection], Transaction]) -> None:
        self._engine = engine
        self._make_transaction = make_transaction
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="palaver-sqlite-writer")

    async def run(self, work: Callable[[Transaction], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` in one transaction on the writer thread: committed when it returns, rolled
        back when it raises."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work)

    def _run(self, work: Callable[[Transaction], Coroutine[Any, Any, T]]) -> T:
        with self._engine.connect() as connection, connection.begin():
            shim = cast(AsyncConnection, _ImmediateConnection(connection))
            return drive(work(self._make_transaction(shim)))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._engine.dispose()
