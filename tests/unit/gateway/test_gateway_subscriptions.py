"""ConnectionTopics: one connection's topics in step with the hub, whatever the interleaving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import Any

import pytest

from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.control import TopicChange
from palaver.adapters.gateway.frames import FrameEncoder
from palaver.adapters.gateway.hub import TopicHub
from palaver.adapters.gateway.params import InvalidParams
from palaver.adapters.gateway.subscriptions import ConnectionTopics, TopicNotAllowed, client_subscription
from tests.unit.gateway.test_gateway_hub import RecordingBroker


class Sink:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.push = self.received.append

    def close(self, code: CloseCode, reason: str) -> None:
        pass

    def change_topics(self, change: TopicChange) -> None:
        pass


class Spawner:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks)


@pytest.fixture
async def broker() -> AsyncIterator[RecordingBroker]:
    broker = RecordingBroker()
    await broker.start()
    yield broker
    await broker.close()


@pytest.fixture
def hub(broker: RecordingBroker) -> TopicHub:
    return TopicHub(broker, FrameEncoder())


@pytest.fixture
def spawn() -> Spawner:
    return Spawner()


def topics_of(hub: TopicHub, sink: Sink) -> set[str]:
    return {t for t in hub.topics if sink in hub.subscribers(t)}


async def test_start_joins_base_then_more(hub: TopicHub, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)

    async def more() -> Iterable[str]:
        return ["channel:1", "channel:2", "user:1"]

    await subs.start(["user:1", "session:1"], more)
    assert subs.topics == {"user:1", "session:1", "channel:1", "channel:2"} == topics_of(hub, sink)


async def test_a_leave_during_start_wins_over_the_stale_answer(hub: TopicHub, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)
    answered = asyncio.Event()

    async def more() -> Iterable[str]:
        await answered.wait()
        return ["channel:1", "channel:2", "channel:3"]  # read before the leave below committed

    starting = asyncio.create_task(subs.start(["user:1"], more))
    await asyncio.sleep(0)
    subs.change(TopicChange(False, ("channel:1", "channel:3")))
    subs.change(TopicChange(True, ("channel:3",)))  # ...and a later join wins again
    answered.set()
    await starting
    await spawn.settle()
    assert subs.topics == {"user:1", "channel:2", "channel:3"} == topics_of(hub, sink)


async def test_control_changes_apply_in_order(hub: TopicHub, broker: RecordingBroker, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)
    await subs.join(["user:1"])
    broker.gate = asyncio.Event()  # slow subscriptions
    subs.change(TopicChange(True, ("channel:1", "channel:2")))
    subs.change(TopicChange(False, ("channel:2",)))
    subs.change(TopicChange(True, ("channel:3",)))
    subs.change(TopicChange(False, ("channel:3",)))
    subs.change(TopicChange(True, ("channel:3",)))
    await asyncio.sleep(0)
    broker.gate.set()
    await spawn.settle()
    assert subs.topics == {"user:1", "channel:1", "channel:3"} == topics_of(hub, sink)
    assert broker.live("channel:2") == 0


async def test_close_while_joining_leaves_everything(hub: TopicHub, broker: RecordingBroker, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)
    await subs.join(["user:1"])
    broker.gate = asyncio.Event()
    joining = asyncio.create_task(subs.join(["channel:1"]))
    await asyncio.sleep(0)
    leaving = subs.close()
    assert leaving is not None
    await leaving
    broker.gate.set()
    await joining
    assert hub.topics == frozenset()
    assert broker.live("channel:1") == broker.live("user:1") == 0
    subs.change(TopicChange(True, ("channel:2",)))  # ignored once closed
    await subs.join(["channel:3"])
    assert spawn.tasks == [] and hub.topics == frozenset()
    assert ConnectionTopics(hub, Sink(), spawn).close() is None  # nothing to leave


async def test_a_failed_join_forgets_its_topics(hub: TopicHub, broker: RecordingBroker, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)
    await subs.join(["user:1"])
    broker.fail = True
    with pytest.raises(ConnectionError):
        await subs.join(["channel:1", "channel:2"])
    assert subs.topics == {"user:1"} == set(hub.topics)
    subs.change(TopicChange(True, ("channel:9",)))  # a failing control change is logged, not raised
    await spawn.settle()
    assert subs.topics == {"user:1"}


async def test_client_subscription(hub: TopicHub, spawn: Spawner) -> None:
    sink = Sink()
    subs = ConnectionTopics(hub, sink, spawn)
    allowed = frozenset({"roulette:stats", "news:public"})
    result = await client_subscription(subs, allowed, {"topics": ["roulette:stats"]}, join=True)
    assert result == {"topics": ["roulette:stats"]}
    assert await client_subscription(subs, allowed, {"topics": ["news:public"]}, join=True) == {
        "topics": ["news:public", "roulette:stats"]
    }
    assert await client_subscription(subs, allowed, {"topics": ["roulette:stats"]}, join=False) == {
        "topics": ["news:public"]
    }
    assert topics_of(hub, sink) == {"news:public"}
    with pytest.raises(TopicNotAllowed) as refused:
        await client_subscription(subs, allowed, {"topics": ["news:public", "user:1"]}, join=True)
    assert refused.value.code == "topic_not_allowed"
    for bad in ({}, {"topics": []}, {"topics": "roulette:stats"}, {"topics": [1]}, {"topics": ["a"] * 17}):
        with pytest.raises(InvalidParams):
            await client_subscription(subs, allowed, bad, join=True)
