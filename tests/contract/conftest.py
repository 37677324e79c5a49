from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.adapters.storage.tables import metadata
from tests.support.databases import sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStorage]:
    """The SQL storage on each backend, migrated with the real Alembic migrations, empty."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        await upgrade_async(url)
    else:
        url = request.getfixturevalue("postgres_url")
    storage = SqlStorage.from_url(url)
    try:
        yield storage
    finally:
        if request.param == "postgres":
            tables = ", ".join(t.name for t in metadata.sorted_tables)
            async with storage.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        await storage.close()
