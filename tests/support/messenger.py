"""Messenger test worlds: services on a real database, the in-memory broker and a manual clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.adapters.storage.tables import metadata
from palaver.adapters.views.memory import MemoryViewLedger
from palaver.clock import ManualClock
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.sessions import Principal
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger, MessengerPolicy
from tests.support.databases import sqlite_url

_names = itertools.count(1)
START = 1_790_000_000.0  # after the snowflake epoch, so ids look like real ones


@dataclass
class Feed:
    """Every event frame published on the topics it listens to, decoded."""

    frames: list[dict[str, object]] = field(default_factory=list)

    def __call__(self, topic: str, payload: bytes) -> None:
        self.frames.append(msgspec.json.decode(payload))

    def updates(self) -> list[dict[str, object]]:
        return [f["data"] for f in self.frames if f["event"] == "update"]  # type: ignore[misc]

    def types(self) -> list[str]:
        return [u["update"]["type"] for u in self.updates()]  # type: ignore[index]


@dataclass
class MWorld:
    messenger: Messenger
    storage: SqlStorage
    broker: MemoryBroker
    clock: ManualClock
    backend: str
    user_ids: SnowflakeIds

    async def user(self, name: str | None = None) -> Principal:
        label = name or f"user{next(_names)}"
        user = User(
            id=self.user_ids.next_id(),
            kind=AccountKind.REGISTERED,
            role=Role.USER,
            display_name=label,
            username=None,
            created_at=self.clock.now(),
        )
        async with self.storage.transaction() as tx:
            await tx.users.insert(user, username_canonical=None)
        return Principal(user_id=user.id, session_id=0, role=Role.USER)

    async def feed(self, *topics: str) -> Feed:
        feed = Feed()
        for topic in topics:
            await self.broker.subscribe(topic, feed)
        return feed


async def truncate_postgres(storage: SqlStorage) -> None:
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    async with storage.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@asynccontextmanager
async def messenger_world(
    backend: str,
    tmp_path: Path,
    *,
    postgres_url: str | None = None,
    batch: bool | None = None,
    migrate: bool = True,
) -> AsyncIterator[MWorld]:
    if backend == "sqlite":
        url = sqlite_url(tmp_path)
        if migrate:
            await upgrade_async(url)
    else:
        assert postgres_url is not None
        url = postgres_url
    storage = SqlStorage.from_url(url)
    if backend == "postgres":
        await truncate_postgres(storage)
    broker = MemoryBroker()
    await broker.start()
    clock = ManualClock(start=START)
    policy = MessengerPolicy(batch_writes=(backend == "sqlite") if batch is None else batch)
    messenger = Messenger(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=SnowflakeIds(clock),
        policy=policy,
        views=MemoryViewLedger(clock),
    )
    try:
        yield MWorld(messenger, storage, broker, clock, backend, SnowflakeIds(clock, node=7))
    finally:
        await messenger.close()
        await broker.close()
        if backend == "postgres":
            await truncate_postgres(storage)
        await storage.close()


@pytest.fixture
async def mworld(tmp_path: Path) -> AsyncIterator[MWorld]:
    """The messenger on SQLite with group commit (import this fixture into a test module)."""
    async with messenger_world("sqlite", tmp_path) as world:
        yield world


async def count_rows(world: MWorld, table: str) -> int:
    async with world.storage.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608
