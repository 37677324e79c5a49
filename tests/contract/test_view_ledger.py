"""The ViewLedger contract: every backend passes the same suite.

Redis runs at 127.0.0.1:6379; each test uses its own key prefix and deletes its keys at the end.
"Another process" is a second ledger instance on the same Redis prefix (for memory, the same
instance: a memory ledger is one process's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from palaver.adapters.views import MemoryViewLedger, RedisViewLedger, make_view_ledger
from palaver.clock import ManualClock
from palaver.errors import Unavailable
from palaver.ports import ViewLedger

REDIS_URL = "redis://127.0.0.1:6379/0"
WINDOW = 3600.0


@dataclass
class Ledgers:
    one: ViewLedger
    other: ViewLedger  # what another process sees
    backend: str
    prefix: str


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def ledgers(request: pytest.FixtureRequest) -> AsyncIterator[Ledgers]:
    prefix = f"test:{uuid4().hex}:"
    clock = ManualClock()
    kind = request.param
    one = make_view_ledger(kind, clock=clock, redis_url=REDIS_URL, prefix=prefix, window_seconds=WINDOW)
    other = one if kind == "memory" else RedisViewLedger(REDIS_URL, prefix=prefix, window_seconds=WINDOW)
    try:
        yield Ledgers(one, other, kind, prefix)
    finally:
        if kind == "redis":
            client = aioredis.Redis.from_url(REDIS_URL)
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
            await other.close()
        await one.close()


async def test_a_view_is_first_once(ledgers: Ledgers) -> None:
    assert await ledgers.one.first_views([(1, 10, 100)]) == [True]
    assert await ledgers.one.first_views([(1, 10, 100)]) == [False]
    assert await ledgers.other.first_views([(1, 10, 100)]) == [False]


async def test_viewers_posts_and_chats_are_independent(ledgers: Ledgers) -> None:
    keys = [(1, 10, 100), (1, 10, 101), (1, 11, 100), (2, 10, 100)]
    assert await ledgers.one.first_views(keys) == [True, True, True, True]
    assert await ledgers.other.first_views([*keys, (2, 11, 100)]) == [False, False, False, False, True]


async def test_a_key_repeated_in_one_batch_is_first_once(ledgers: Ledgers) -> None:
    assert await ledgers.one.first_views([(1, 10, 100), (1, 10, 100), (1, 10, 101)]) == [True, False, True]


async def test_an_empty_batch(ledgers: Ledgers) -> None:
    assert await ledgers.one.first_views([]) == []


async def test_concurrent_callers_count_each_view_once(ledgers: Ledgers) -> None:
    keys = [(5, msg_id, user_id) for msg_id in range(1, 6) for user_id in range(20)]
    answers = await asyncio.gather(*(ledger.first_views(keys) for ledger in [ledgers.one, ledgers.other] * 4))
    for index in range(len(keys)):
        assert sum(answer[index] for answer in answers) == 1, keys[index]


@pytest.mark.redis
async def test_redis_post_sets_live_for_the_window_from_the_first_view() -> None:
    prefix = f"test:{uuid4().hex}:"
    ledger = RedisViewLedger(REDIS_URL, prefix=prefix, window_seconds=WINDOW)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await ledger.first_views([(1, 10, 100)])
        await client.expire(ledger.key(1, 10), 100)  # as if most of the window had passed
        await ledger.first_views([(1, 10, 101)])  # a later view does not extend the window
        assert 0 < await client.ttl(ledger.key(1, 10)) <= 100
        assert await client.smembers(ledger.key(1, 10)) == {b"100", b"101"}
        await client.delete(ledger.key(1, 10))  # the window ended: the set is gone
        assert await ledger.first_views([(1, 10, 100)]) == [True]
        assert await client.ttl(ledger.key(1, 10)) > WINDOW - 60
    finally:
        await client.delete(ledger.key(1, 10))
        await client.aclose()
        await ledger.close()


async def test_redis_unreachable_is_a_typed_error() -> None:
    ledger = RedisViewLedger("redis://127.0.0.1:1/0", prefix="test:", window_seconds=WINDOW)
    try:
        with pytest.raises(Unavailable) as raised:
            await ledger.first_views([(1, 10, 100)])
        assert raised.value.code == "views_unavailable"
    finally:
        await ledger.close()


async def test_memory_post_sets_end_with_the_window() -> None:
    clock = ManualClock()
    ledger = MemoryViewLedger(clock, window_seconds=WINDOW)
    await ledger.first_views([(1, 10, 100)])
    clock.advance(WINDOW / 2)
    await ledger.first_views([(1, 11, 100), (1, 10, 101)])  # post 10's window started at its first view
    assert await ledger.first_views([(1, 10, 100)]) == [False]
    clock.advance(WINDOW / 2)
    # post 10's window ended (its two viewers are forgotten); post 11's (half a window old) goes on
    assert await ledger.first_views([(1, 10, 100), (1, 11, 100)]) == [True, False]
    assert ledger.entries == 2


async def test_memory_is_capped_by_dropping_the_oldest_posts() -> None:
    ledger = MemoryViewLedger(ManualClock(), window_seconds=WINDOW, max_entries=5)
    await ledger.first_views([(1, 1, user) for user in range(3)])
    await ledger.first_views([(1, 2, user) for user in range(3)])
    assert ledger.entries == 3  # post 1 (the oldest) was dropped to get under the cap
    assert await ledger.first_views([(1, 2, 0), (1, 1, 0)]) == [False, True]
    big = await ledger.first_views([(1, 3, user) for user in range(10)])
    assert all(big) and ledger.entries == 10  # the newest post is kept whole even above the cap


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryViewLedger(ManualClock(), window_seconds=0)
    with pytest.raises(ValueError, match="redis_url"):
        make_view_ledger("redis", clock=ManualClock(), redis_url=None, prefix="p:")
