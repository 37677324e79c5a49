"""Channel views: once per viewer per post across flushes and processes, written in batches, and the
exact totals pushed on the channel's topic after each flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from palaver.adapters.views import RedisViewLedger
from palaver.adapters.views.memory import MemoryViewLedger
from palaver.clock import ManualClock
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger, MessengerPolicy
from tests.support.messenger import START, MWorld, mworld

__all__ = ["mworld"]
REDIS_URL = "redis://127.0.0.1:6379/0"


async def _views_of(world: MWorld, chat_id: int) -> dict[int, int]:
    owner_view = await world.messenger.history.history(await world.user(), chat_id)
    return {m["id"]: m["views"] for m in owner_view["messages"]}


async def test_a_viewer_counts_once_even_after_a_flush(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, reader = await mworld.user(), await mworld.user()
    channel = await m.chats.create_channel(owner, "Once", username="views_once")
    post = await m.messages.send(owner, channel.id, "post")
    assert await m.dialogs.record_views(reader, channel.id, [post.id]) == 1
    assert await m.dialogs.flush_views() == 1
    assert await m.dialogs.record_views(reader, channel.id, [post.id]) == 0  # before: counted again here
    assert await m.dialogs.flush_views() == 0
    assert (await _views_of(mworld, channel.id))[post.id] == 1


async def test_ids_past_the_last_post_and_other_chats_count_nothing(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, reader = await mworld.user(), await mworld.user()
    channel = await m.chats.create_channel(owner, "Few", username="views_few")
    await m.messages.send(owner, channel.id, "post")
    group = await m.chats.create_group(owner, "Group", [reader.user_id])
    await m.messages.send(owner, group.id, "hi")
    assert await m.dialogs.record_views(reader, channel.id, [2, 3]) == 0
    assert await m.dialogs.record_views(reader, group.id, [1]) == 0
    assert m.dialogs.pending_views() == 0


async def test_each_flush_publishes_the_exact_totals_once_per_channel(mworld: MWorld) -> None:
    m = mworld.messenger
    owner = await mworld.user()
    readers = [await mworld.user() for _ in range(3)]
    news = await m.chats.create_channel(owner, "News", username="views_news")
    blog = await m.chats.create_channel(owner, "Blog", username="views_blog")
    first, second = [await m.messages.send(owner, news.id, t) for t in ("one", "two")]
    note = await m.messages.send(owner, blog.id, "note")
    feed = await mworld.feed(f"channel:{news.id}", f"channel:{blog.id}")
    for reader in readers:
        await m.dialogs.record_views(reader, news.id, [first.id, second.id])
    await m.dialogs.record_views(readers[0], blog.id, [note.id])
    await m.dialogs.flush_views()
    events = [(f["topic"], f["data"]) for f in feed.frames if f["event"] == "channel.views"]
    assert events == [
        (f"channel:{news.id}", {"chat_id": str(news.id), "views": {str(first.id): 3, str(second.id): 3}}),
        (f"channel:{blog.id}", {"chat_id": str(blog.id), "views": {str(note.id): 1}}),
    ]
    late = await mworld.user()
    await m.dialogs.record_views(late, news.id, [second.id])
    await m.dialogs.flush_views()
    assert feed.frames[-1]["data"] == {"chat_id": str(news.id), "views": {str(second.id): 4}}
    assert await m.dialogs.flush_views() == 0 and len(feed.frames) == 3  # nothing pending: nothing published


async def test_enough_pending_views_flush_at_once(mworld: MWorld) -> None:
    clock = mworld.clock
    m = Messenger(
        storage=mworld.storage,
        broker=mworld.broker,
        clock=clock,
        ids=SnowflakeIds(clock, node=2),
        policy=MessengerPolicy(views_flush_every=2),
        views=MemoryViewLedger(clock),
    )
    try:
        owner, a, b = await mworld.user(), await mworld.user(), await mworld.user()
        channel = await m.chats.create_channel(owner, "Busy", username="views_busy")
        post = await m.messages.send(owner, channel.id, "post")
        await m.dialogs.record_views(a, channel.id, [post.id])
        assert m.dialogs.pending_views() == 1
        await m.dialogs.record_views(b, channel.id, [post.id])
        assert m.dialogs.pending_views() == 0
        assert (await _views_of(mworld, channel.id))[post.id] == 2
    finally:
        await m.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"test:{uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_processes_sharing_a_redis_ledger_count_a_viewer_once(mworld: MWorld, redis_prefix: str) -> None:
    """Three processes (messengers on one database and one Redis ledger prefix); the same reader's
    views reach each of them, repeatedly; the stored total is one per reader."""
    clock = ManualClock(start=START)
    nodes = [
        Messenger(
            storage=mworld.storage,
            broker=mworld.broker,
            clock=clock,
            ids=SnowflakeIds(clock, node=10 + n),
            views=RedisViewLedger(REDIS_URL, prefix=redis_prefix),
        )
        for n in range(3)
    ]
    try:
        owner = await mworld.user()
        readers = [await mworld.user() for _ in range(4)]
        channel = await nodes[0].chats.create_channel(owner, "Shared", username="views_shared")
        post = await nodes[0].messages.send(owner, channel.id, "post")
        for _ in range(2):
            for node in nodes:
                for reader in readers:
                    await node.dialogs.record_views(reader, channel.id, [post.id])
                await node.dialogs.flush_views()
        assert sum(node.dialogs.pending_views() for node in nodes) == 0
        assert (await _views_of(mworld, channel.id))[post.id] == len(readers)
    finally:
        for node in nodes:
            await node.close()
