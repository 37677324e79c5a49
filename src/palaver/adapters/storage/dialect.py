"""Everything that differs between SQLite and PostgreSQL lives here, nowhere else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings Palaver relies on."""
    if is_sqlite(url):
        return _sqlite_engine(url, echo=echo)
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 10})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two deferred transactions that both upgrade to writing
        # would deadlock (SQLITE_BUSY) instead of waiting for each other.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_unique_violation(exc: BaseException) -> bool:
    """True when a DBAPI error is a unique-constraint violation, on any supported dialect."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "23505" or "unique constraint" in text or "duplicate key" in text
