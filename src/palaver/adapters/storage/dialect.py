"""Everything that differs between SQLite and PostgreSQL lives here, nowhere else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Insert, StaticPool, Table, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000  # how long a connection waits for the write lock
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)

READ_ONLY_OPTION = "palaver_read_only"  # execution option of a connection that only reads


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url`` with the per-dialect settings Palaver relies on."""
    if is_sqlite(url):
        return _sqlite_engine(url, echo=echo)
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
    _configure_postgresql(engine.sync_engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 10})
    _configure_sqlite(engine.sync_engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A unit of work that may write takes the write lock up front: two deferred transactions
        # that both upgrade to writing would deadlock (SQLITE_BUSY) instead of waiting for each
        # other. One that only reads (Storage.reading) begins deferred: in WAL mode it reads a
        # snapshot without waiting for the writer or holding it up.
        # query_only makes a write in a reading unit of work fail instead of taking the lock.
        info = conn.connection.info
        read_only = bool(conn.get_execution_options().get(READ_ONLY_OPTION))
        if info.get(READ_ONLY_OPTION, False) != read_only:
            conn.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
            info[READ_ONLY_OPTION] = read_only
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_sqlite_writer_engine(url: str) -> Engine | None:
    """A synchronous engine on the same SQLite file, for one writer thread that runs a whole batch
    of writes without a thread hop per statement. None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    engine = create_sync_engine(
        parsed.set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": 10, "check_same_thread": False},
        poolclass=StaticPool,
    )
    _configure_sqlite(engine)
    return engine


def is_unique_violation(exc: BaseException) -> bool:
    """True when a DBAPI error is a unique-constraint violation, on any supported dialect."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "23505" or "unique constraint" in text or "duplicate key" in text


def insert_ignoring_conflicts(dialect_name: str, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for ``table`` on this dialect."""
    if dialect_name == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


def upsert(dialect_name: str, table: Table, keys: list[str], values: dict[str, Any]) -> Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` setting the non-key ``values``."""
    changes = {name: value for name, value in values.items() if name not in keys}
    if dialect_name == "postgresql":
        pg = postgresql_insert(table).values(**values)
        return pg.on_conflict_do_update(index_elements=keys, set_=changes)
    lite = sqlite_insert(table).values(**values)
    return lite.on_conflict_do_update(index_elements=keys, set_=changes)


def needs_row_locks(dialect_name: str) -> bool:
    """True where concurrent writers lock rows (PostgreSQL); SQLite locks the whole database."""
    return dialect_name == "postgresql"
