"""Throw-away databases for tests: a SQLite file, or a PostgreSQL database created and dropped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from palaver.adapters.storage.migrate import upgrade

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'palaver.db'}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _in_thread(fn: Callable[[], object]) -> None:
    """Run blocking set-up work that starts its own event loop, even when a loop runs here."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(fn).result()


@contextmanager
def postgres_database(*, migrated: bool = True) -> Iterator[str]:
    """A fresh PostgreSQL database for one test run (or one xdist worker); dropped afterwards."""
    name = f"palaver_test_{uuid.uuid4().hex[:16]}"
    _in_thread(lambda: asyncio.run(_admin(f'CREATE DATABASE "{name}"')))
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        if migrated:
            _in_thread(lambda: upgrade(url))
        yield url
    finally:
        _in_thread(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
