"""The SQL ``Storage``: one transaction per unit of work, repositories bound to its connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from palaver.adapters.storage.accounts import SqlDeviceRepository, SqlSessionRepository, SqlUserRepository
from palaver.adapters.storage.dialect import READ_ONLY_OPTION, create_engine, create_sqlite_writer_engine
from palaver.adapters.storage.messenger_chats import SqlChatRepository, SqlInviteRepository, SqlMemberRepository
from palaver.adapters.storage.messenger_messages import SqlMessageRepository
from palaver.adapters.storage.messenger_sql import Driver
from palaver.adapters.storage.messenger_updates import SqlUpdateRepository
from palaver.adapters.storage.moderation import SqlAppealRepository, SqlBanRepository, SqlReportRepository
from palaver.adapters.storage.moderation_evidence import (
    SqlAuditRepository,
    SqlFlaggedFrameRepository,
    SqlRouletteBlockRepository,
)
from palaver.adapters.storage.write_behind import guarded
from palaver.adapters.storage.writer_thread import SqliteWriterThread
from palaver.ports import Transaction

T = TypeVar("T")


class SqlTransaction:
    """The repositories of one transaction, on a connection that defers the hot writes
    (``write_behind``): call ``flush`` before committing."""

    def __init__(self, conn: AsyncConnection, driver: Driver | None = None) -> None:
        self.connection, self._state = guarded(conn, driver)
        conn = self.connection
        self.users = SqlUserRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.devices = SqlDeviceRepository(conn)
        self.chats = SqlChatRepository(conn, self._state)
        self.members = SqlMemberRepository(conn, self._state)
        self.messages = SqlMessageRepository(conn, self._state)
        self.updates = SqlUpdateRepository(conn, self._state)
        self.invites = SqlInviteRepository(conn)
        self.reports = SqlReportRepository(conn)
        self.bans = SqlBanRepository(conn)
        self.appeals = SqlAppealRepository(conn)
        self.flagged_frames = SqlFlaggedFrameRepository(conn)
        self.audit_log = SqlAuditRepository(conn)
        self.roulette_blocks = SqlRouletteBlockRepository(conn)

    def savepoint(self) -> AsyncTransaction:
        return self.connection.begin_nested()

    async def flush(self) -> None:
        """Write what is deferred (the transaction is about to commit)."""
        await self._state.flush()


class UnitOfWork:
    """``async with``: begins a transaction; commits on normal exit, rolls back on an exception."""

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._conn: AsyncConnection | None = None
        self._tx: SqlTransaction | None = None

    async def __aenter__(self) -> SqlTransaction:
        self._conn = await self._engine.connect()
        try:
            if self._read_only:
                await self._conn.execution_options(**{READ_ONLY_OPTION: True})
            await self._conn.begin()
        except BaseException:
            await self._conn.close()
            raise
        self._tx = SqlTransaction(self._conn)
        return self._tx

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None and self._tx is not None
        conn, self._conn = self._conn, None
        tx, self._tx = self._tx, None
        try:
            if exc_type is None:
                try:
                    await tx.flush()
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
            else:
                await conn.rollback()
        finally:
            await conn.close()


class SqlStorage:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer: SqliteWriterThread | None = None
        self._writer_checked = False

    @classmethod
    def from_url(cls, url: str) -> SqlStorage:
        return cls(create_engine(url))

    def transaction(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=True)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def run_batch(self, work: Callable[[Transaction], Coroutine[Any, Any, T]]) -> T:
        """Run a batch of writes in one transaction; on SQLite on a writer thread in one hop (so
        ``work`` must await nothing but its transaction), elsewhere as an ordinary transaction."""
        if not self._writer_checked:
            self._writer_checked = True
            engine = create_sqlite_writer_engine(self.engine.url.render_as_string(hide_password=False))
            if engine is not None:
                self._writer = SqliteWriterThread(engine)
        if self._writer is None:
            async with self.transaction() as tx:
                return await work(tx)

        async def body(conn: AsyncConnection, driver: Driver) -> T:
            tx = SqlTransaction(conn, driver)
            result = await work(tx)
            await tx.flush()
            return result

        return await self._writer.run(body)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
            self._writer = None
        await self.engine.dispose()
