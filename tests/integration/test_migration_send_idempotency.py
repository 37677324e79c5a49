"""Migration 0004 (send idempotency) on SQLite and PostgreSQL: up from 0003 with messages in place,
the partial unique index doing its job, down and up again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from palaver.adapters.storage.dialect import create_engine
from palaver.adapters.storage.migrate import downgrade, upgrade
from tests.support.databases import postgres_database, sqlite_url

INSERT = (
    "INSERT INTO messages (uid, chat_id, id, sender_id, anonymous, date, text, silent, views{extra})"
    " VALUES (:uid, 1, :id, 7, false, 0, 'hi', false, 0{values})"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database(migrated=False) as found:
            yield found


async def _insert(url: str, uid: int, random_id: int | None = None, *, with_column: bool = True) -> None:
    extra, values = (", random_id", ", :random_id") if with_column else ("", "")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(INSERT.format(extra=extra, values=values)), {"uid": uid, "id": uid, "random_id": random_id}
            )
    finally:
        await engine.dispose()


async def _random_ids(url: str) -> list[int | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [row[0] for row in await conn.execute(text("SELECT random_id FROM messages ORDER BY uid"))]
    finally:
        await engine.dispose()


def test_upgrade_keeps_messages_and_enforces_one_random_id_per_sender(url: str) -> None:
    upgrade(url, "0003")
    asyncio.run(_insert(url, 1, with_column=False))
    upgrade(url, "head")
    asyncio.run(_insert(url, 2))  # several messages without a random_id
    asyncio.run(_insert(url, 3, 42))
    assert asyncio.run(_random_ids(url)) == [None, None, 42]
    with pytest.raises(IntegrityError):
        asyncio.run(_insert(url, 4, 42))
    downgrade(url, "0003")
    asyncio.run(_insert(url, 4, with_column=False))
    upgrade(url, "head")
    assert asyncio.run(_random_ids(url)) == [None, None, None, None]
