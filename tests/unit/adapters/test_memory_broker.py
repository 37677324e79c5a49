"""MemoryBroker specifics the shared contract cannot express: delivery is synchronous, so a
subscription can be closed *during* a delivery (its close coroutine finishes without suspending)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest

from palaver.adapters.broker.memory import MemoryBroker, MemorySubscription


def run_now(coro: Coroutine[Any, Any, None]) -> None:
    """Drive a coroutine that never suspends to completion, synchronously."""
    with pytest.raises(StopIteration):
        coro.send(None)


async def test_publish_delivers_before_it_returns() -> None:
    broker = MemoryBroker()
    await broker.start()
    got: list[bytes] = []
    await broker.subscribe("t", lambda _t, p: got.append(p))
    await broker.publish("t", b"x")
    assert got == [b"x"]


async def test_closing_a_later_handler_during_delivery_skips_it() -> None:
    broker = MemoryBroker()
    await broker.start()
    calls: list[str] = []
    later: list[MemorySubscription] = []

    def first(topic: str, payload: bytes) -> None:
        calls.append("first")
        run_now(later[0].close())

    await broker.subscribe("t", first)
    later.append(await broker.subscribe("t", lambda _t, _p: calls.append("second")))
    third = await broker.subscribe("t", lambda _t, _p: calls.append("third"))

    await broker.publish("t", b"1")
    assert calls == ["first", "third"]
    await third.close()


async def test_subscribing_during_delivery_takes_effect_from_the_next_message() -> None:
    broker = MemoryBroker()
    await broker.start()
    calls: list[bytes] = []

    def subscribe_another(topic: str, payload: bytes) -> None:
        calls.append(b"first:" + payload)
        if payload == b"1":
            run_now(subscribe_now(broker))

    async def subscribe_now(b: MemoryBroker) -> None:
        await b.subscribe("t", lambda _t, p: calls.append(b"new:" + p))

    await broker.subscribe("t", subscribe_another)
    await broker.publish("t", b"1")
    await broker.publish("t", b"2")
    assert calls == [b"first:1", b"first:2", b"new:2"]


async def test_closing_every_subscription_during_delivery_removes_the_topic() -> None:
    broker = MemoryBroker()
    await broker.start()
    subs: list[MemorySubscription] = []

    def close_all(topic: str, payload: bytes) -> None:
        for sub in subs:
            run_now(sub.close())

    subs.append(await broker.subscribe("t", close_all))
    subs.append(await broker.subscribe("t", close_all))
    await broker.publish("t", b"1")
    assert broker._topics == {}
    await broker.publish("t", b"2")  # nobody left: a no-op
