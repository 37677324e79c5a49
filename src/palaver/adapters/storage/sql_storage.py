"""The SQL ``Storage``: one transaction per unit of work, repositories bound to its connection."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from palaver.adapters.storage.accounts import SqlDeviceRepository, SqlSessionRepository, SqlUserRepository
from palaver.adapters.storage.dialect import create_engine


class SqlTransaction:
    def __init__(self, conn: AsyncConnection) -> None:
        self.connection = conn
        self.users = SqlUserRepository(conn)
        self.sessions = SqlSessionRepository(conn)
        self.devices = SqlDeviceRepository(conn)


class UnitOfWork:
    """``async with``: begins a transaction; commits on normal exit, rolls back on an exception."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> SqlTransaction:
        self._conn = await self._engine.connect()
        try:
            await self._conn.begin()
        except BaseException:
            await self._conn.close()
            raise
        return SqlTransaction(self._conn)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        conn, self._conn = self._conn, None
        try:
            if exc_type is None:
                await conn.commit()
            else:
                await conn.rollback()
        finally:
            await conn.close()


class SqlStorage:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> SqlStorage:
        return cls(create_engine(url))

    def transaction(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
