"""Idempotent sends: a send repeated with the same ``random_id`` by the same sender returns the
message stored the first time — alone, in one group-commit batch, and from two processes at once.
On SQLite and PostgreSQL, with and without group commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from palaver.adapters.views.memory import MemoryViewLedger
from palaver.clock import ManualClock
from palaver.errors import Conflict, InvalidInput, NotFound
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger, MessengerPolicy
from palaver.services.messenger.serialize import message_json
from tests.support.messenger import START, MWorld, count_rows, messenger_world


@pytest.fixture(
    params=[
        pytest.param(("sqlite", True), id="sqlite-group-commit"),
        pytest.param(("sqlite", False), id="sqlite"),
        pytest.param(("postgres", False), id="postgres", marks=pytest.mark.postgres),
        pytest.param(("postgres", True), id="postgres-group-commit", marks=pytest.mark.postgres),
    ]
)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MWorld]:
    backend, batch = request.param
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    async with messenger_world(backend, tmp_path, postgres_url=url, batch=batch) as w:
        yield w


async def test_a_repeated_send_returns_the_first_message_and_publishes_once(world: MWorld) -> None:
    m = world.messenger
    a, b = await world.user(), await world.user()
    chat = await m.chats.open_private(a, b.user_id)
    feed = await world.feed(f"user:{b.user_id}")
    first = await m.messages.send(a, chat.id, "once", random_id=123)
    world.clock.advance(5)
    again = await m.messages.send(a, chat.id, "once (retried)", random_id=123)
    assert message_json(again) == message_json(first)
    assert await count_rows(world, "messages") == 1
    assert feed.types() == ["new_message"]
    assert (await m.sync.difference(b, 0))["pts"] == 1
    other = await m.messages.send(a, chat.id, "another", random_id=124)
    plain = [await m.messages.send(a, chat.id, "no key") for _ in range(2)]  # no random_id: never deduplicated
    assert [other.id, *(p.id for p in plain)] == [2, 3, 4]


async def test_the_same_random_id_of_different_senders_is_two_messages(world: MWorld) -> None:
    m = world.messenger
    owner, member = await world.user(), await world.user()
    group = await m.chats.create_group(owner, "Pair", [member.user_id])
    one = await m.messages.send(owner, group.id, "mine", random_id=-7)
    two = await m.messages.send(member, group.id, "mine too", random_id=-7)
    assert (one.id, two.id) == (1, 2)
    assert await count_rows(world, "messages") == 2


async def test_a_random_id_used_in_another_chat_is_refused(world: MWorld) -> None:
    m = world.messenger
    a, b, c = await world.user(), await world.user(), await world.user()
    first = await m.chats.open_private(a, b.user_id)
    second = await m.chats.open_private(a, c.user_id)
    await m.messages.send(a, first.id, "here", random_id=2**63 - 1)
    feed = await world.feed(f"user:{c.user_id}")
    with pytest.raises(Conflict) as raised:
        await m.messages.send(a, second.id, "there", random_id=2**63 - 1)
    assert raised.value.code == "random_id_duplicate"
    assert await count_rows(world, "messages") == 1 and feed.frames == []


async def test_an_out_of_range_random_id_is_invalid_input(world: MWorld) -> None:
    m = world.messenger
    a, b = await world.user(), await world.user()
    chat = await m.chats.open_private(a, b.user_id)
    with pytest.raises(InvalidInput) as raised:
        await m.messages.send(a, chat.id, "x", random_id=2**63)
    assert raised.value.code == "invalid_random_id"
    assert await count_rows(world, "messages") == 0


async def test_repeats_within_one_batch_store_one_message(world: MWorld) -> None:
    m = world.messenger
    a, b = await world.user(), await world.user()
    chat = await m.chats.open_private(a, b.user_id)
    feed = await world.feed(f"user:{b.user_id}")
    sends = [m.messages.send(a, chat.id, f"try {n}", random_id=99) for n in range(3)]
    sends += [m.messages.send(a, chat.id, f"other {n}", random_id=100 + n) for n in range(3)]
    results = await asyncio.gather(*sends)
    assert len({message_json(r)["id"] for r in results[:3]}) == 1
    assert results[0].text in {"try 0", "try 1", "try 2"}  # whichever committed first (concurrent on PostgreSQL)
    assert await count_rows(world, "messages") == 4
    assert len(feed.updates()) == 4


async def test_repeats_around_a_failing_write_in_one_batch(world: MWorld) -> None:
    """A write that fails makes the group commit run again with a savepoint per write: the
    repeats still find the first message, and the failure is the failing write's alone."""
    m = world.messenger
    a, b, stranger = await world.user(), await world.user(), await world.user()
    chat = await m.chats.open_private(a, b.user_id)
    results = await asyncio.gather(
        m.messages.send(a, chat.id, "first", random_id=5),
        m.messages.send(stranger, chat.id, "not mine", random_id=5),
        m.messages.send(a, chat.id, "again", random_id=5),
        return_exceptions=True,
    )
    assert isinstance(results[1], NotFound)  # a private chat of others is not even visible
    assert isinstance(results[0], type(results[2])) and results[0] == results[2]
    assert await count_rows(world, "messages") == 1


async def test_two_processes_sending_the_same_random_id_store_one_message(world: MWorld) -> None:
    """Another process: a second messenger on the same database (its own writer and connections)."""
    m = world.messenger
    a, b = await world.user(), await world.user()
    chat = await m.chats.open_private(a, b.user_id)
    clock = ManualClock(start=START)
    other = Messenger(
        storage=world.storage,
        broker=world.broker,
        clock=clock,
        ids=SnowflakeIds(clock, node=3),
        policy=MessengerPolicy(batch_writes=m.writer._batch),  # the world's mode
        views=MemoryViewLedger(clock),
    )
    try:
        for random_id in range(1, 6):
            here, there = await asyncio.gather(
                m.messages.send(a, chat.id, "from here", random_id=random_id),
                other.messages.send(a, chat.id, "from there", random_id=random_id),
            )
            assert message_json(here) == message_json(there)
    finally:
        await other.close()
    assert await count_rows(world, "messages") == 5
    assert (await m.sync.difference(b, 0))["pts"] == 5
