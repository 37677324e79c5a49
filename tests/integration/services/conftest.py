from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.security.passwords import Argon2Hasher
from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.clock import ManualClock
from palaver.ids import SnowflakeIds
from palaver.services.accounts import AccountPolicy, AccountService
from tests.support.databases import sqlite_url


@dataclass
class Recorder:
    """Every message published on the topics it listens to, as (topic, payload)."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))


@dataclass
class World:
    accounts: AccountService
    storage: SqlStorage
    broker: MemoryBroker
    clock: ManualClock


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    storage = SqlStorage.from_url(url)
    broker = MemoryBroker()
    await broker.start()
    clock = ManualClock()
    accounts = AccountService(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=SnowflakeIds(clock),
        hasher=Argon2Hasher(time_cost=1, memory_cost=1024),
        policy=AccountPolicy(session_ttl_seconds=3600, login_attempts=3, login_window_seconds=60),
    )
    yield World(accounts, storage, broker, clock)
    await broker.close()
    await storage.close()
