"""TopicHub: one broker subscription per topic with local sinks; the same bytes to every sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from palaver.adapters.broker.memory import MemoryBroker, MemorySubscription
from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.control import TopicChange, TopicControl
from palaver.adapters.gateway.frames import FrameEncoder
from palaver.adapters.gateway.hub import TopicHub, session_topic, user_topic
from palaver.ports import MessageHandler

REVOKED = b'{"type":"event","topic":"session:9","event":"session.revoked","data":{}}'


class RecordingBroker(MemoryBroker):
    """A MemoryBroker that records subscribe calls and can be made slow or failing."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def subscribe(self, topic: str, handler: MessageHandler) -> MemorySubscription:
        self.subscribed.append(topic)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("broker down")
        return await super().subscribe(topic, handler)

    def live(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))


class FakeSink:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.closed: list[CloseCode] = []
        self.push = self.received.append

    def close(self, code: CloseCode, reason: str) -> None:
        self.closed.append(code)


@pytest.fixture
async def broker() -> AsyncIterator[RecordingBroker]:
    broker = RecordingBroker()
    await broker.start()
    yield broker
    await broker.close()


@pytest.fixture
def hub(broker: RecordingBroker) -> TopicHub:
    return TopicHub(broker, FrameEncoder())


def test_topic_names() -> None:
    assert user_topic(12) == "user:12"
    assert session_topic(34) == "session:34"


async def test_subscribes_on_first_join_and_unsubscribes_on_last_leave(hub: TopicHub, broker: RecordingBroker) -> None:
    a, b = FakeSink(), FakeSink()
    await hub.join("user:1", a)
    await hub.join("user:1", b)
    assert broker.subscribed == ["user:1"]
    assert broker.live("user:1") == 1
    await hub.leave("user:1", a)
    assert broker.live("user:1") == 1
    await hub.leave("user:1", b)
    assert broker.live("user:1") == 0
    assert hub.topics == frozenset()
    await hub.leave("user:1", b)  # idempotent


async def test_fan_out_writes_the_same_bytes_object_to_every_sink(hub: TopicHub, broker: RecordingBroker) -> None:
    sinks = [FakeSink() for _ in range(5)]
    other = FakeSink()
    for sink in sinks:
        await hub.join("channel:7", sink)
    await hub.join("channel:8", other)
    payload = b'{"type":"event","topic":"channel:7","event":"post","data":{}}'
    await broker.publish("channel:7", payload)
    for sink in sinks:
        assert len(sink.received) == 1
        assert sink.received[0] is payload
    assert other.received == []
    assert hub.delivered == 5


async def test_session_revoked_is_delivered_then_closes_with_4003(hub: TopicHub, broker: RecordingBroker) -> None:
    a, b, bystander = FakeSink(), FakeSink(), FakeSink()
    await hub.join(session_topic(9), a)
    await hub.join(session_topic(9), b)
    await hub.join(session_topic(10), bystander)
    await broker.publish(session_topic(9), REVOKED)
    for sink in (a, b):
        assert sink.received == [REVOKED]
        assert sink.closed == [CloseCode.SESSION_REVOKED]
    assert bystander.closed == []


async def test_revocation_only_counts_on_session_topics(hub: TopicHub, broker: RecordingBroker) -> None:
    sink = FakeSink()
    await hub.join(user_topic(9), sink)
    await broker.publish(user_topic(9), REVOKED)
    assert sink.received == [REVOKED]
    assert sink.closed == []


async def test_other_session_events_do_not_close(hub: TopicHub, broker: RecordingBroker) -> None:
    sink = FakeSink()
    await hub.join(session_topic(9), sink)
    await broker.publish(session_topic(9), b'{"type":"event","event":"session.renamed","data":{}}')
    assert sink.closed == []


async def test_a_failing_sink_does_not_starve_the_others(hub: TopicHub, broker: RecordingBroker) -> None:
    class Broken(FakeSink):
        def __init__(self) -> None:
            super().__init__()
            self.push = self._explode

        def _explode(self, payload: bytes) -> None:
            raise RuntimeError("boom")

    good = FakeSink()
    await hub.join("t", Broken())
    await hub.join("t", good)
    await broker.publish("t", b"x")
    assert good.received == [b"x"]


async def test_joiners_during_a_pending_subscribe_share_it(hub: TopicHub, broker: RecordingBroker) -> None:
    broker.gate = asyncio.Event()
    a, b = FakeSink(), FakeSink()
    first = asyncio.create_task(hub.join("t", a))
    second = asyncio.create_task(hub.join("t", b))
    await asyncio.sleep(0)
    assert not second.done()
    broker.gate.set()
    await asyncio.gather(first, second)
    assert broker.subscribed == ["t"]
    await broker.publish("t", b"x")
    assert a.received == b.received == [b"x"]


async def test_leaving_while_subscribing_closes_the_late_subscription(hub: TopicHub, broker: RecordingBroker) -> None:
    broker.gate = asyncio.Event()
    sink = FakeSink()
    joining = asyncio.create_task(hub.join("t", sink))
    await asyncio.sleep(0)
    await hub.leave("t", sink)
    broker.gate.set()
    await joining
    assert broker.live("t") == 0
    assert hub.topics == frozenset()


async def test_a_failed_subscribe_is_reported_to_every_joiner(hub: TopicHub, broker: RecordingBroker) -> None:
    broker.gate = asyncio.Event()
    broker.fail = True
    first = asyncio.create_task(hub.join("t", FakeSink()))
    second = asyncio.create_task(hub.join("t", FakeSink()))
    await asyncio.sleep(0)
    broker.gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert hub.topics == frozenset()


async def test_close_drops_every_subscription(hub: TopicHub, broker: RecordingBroker) -> None:
    await hub.join("a", FakeSink())
    await hub.join("b", FakeSink())
    await hub.close()
    assert broker.live("a") == broker.live("b") == 0
    assert hub.subscribers("a") == frozenset()


# --------------------------------------------------------------------------- control events and many topics


class ControlledSink(FakeSink):
    def __init__(self) -> None:
        super().__init__()
        self.changes: list[TopicChange] = []

    def change_topics(self, change: TopicChange) -> None:
        self.changes.append(change)


JOIN_5 = b'{"type":"event","topic":"user:1","event":"gateway.join","data":{"topics":["channel:5","user:2"]}}'


async def test_control_events_on_user_topics_change_topics_and_are_not_delivered(broker: RecordingBroker) -> None:
    hub = TopicHub(broker, FrameEncoder(), TopicControl(("channel:",)))
    a, b, other = ControlledSink(), ControlledSink(), ControlledSink()
    await hub.join(user_topic(1), a)
    await hub.join(user_topic(1), b)
    await hub.join(user_topic(2), other)
    await broker.publish(user_topic(1), JOIN_5)
    for sink in (a, b):
        assert sink.changes == [TopicChange(True, ("channel:5",))]  # user:2 is not joinable
        assert sink.received == []
    assert other.changes == []
    assert hub.delivered == 0
    await broker.publish(user_topic(1), b'{"type":"event","event":"update","data":{"note":"\\"gateway.join\\""}}')
    assert len(a.received) == 1  # an ordinary event that merely mentions the name


async def test_control_events_elsewhere_are_ordinary_events(broker: RecordingBroker) -> None:
    hub = TopicHub(broker, FrameEncoder(), TopicControl(("channel:",)))
    sink = ControlledSink()
    await hub.join("channel:9", sink)
    await hub.join(session_topic(9), sink)
    await broker.publish("channel:9", JOIN_5)
    await broker.publish(session_topic(9), JOIN_5)
    assert sink.received == [JOIN_5, JOIN_5]
    assert sink.changes == []


async def test_a_control_event_naming_nothing_allowed_is_swallowed(hub: TopicHub, broker: RecordingBroker) -> None:
    sink = ControlledSink()
    await hub.join(user_topic(1), sink)  # the default hub allows no prefix
    await broker.publish(user_topic(1), JOIN_5)
    assert sink.received == [] and sink.changes == []


async def test_join_many_and_leave_many(hub: TopicHub, broker: RecordingBroker) -> None:
    sink, other = FakeSink(), FakeSink()
    await hub.join("a", other)
    await hub.join_many(["a", "b", "c"], sink)
    assert broker.subscribed == ["a", "b", "c"]
    assert hub.subscribers("b") == frozenset({sink})
    await hub.leave_many(["a", "b", "nope"], sink)
    assert hub.topics == frozenset({"a", "c"})
    assert broker.live("b") == 0 and broker.live("a") == 1


async def test_join_many_subscribes_concurrently_and_reports_a_failure(hub: TopicHub, broker: RecordingBroker) -> None:
    broker.gate = asyncio.Event()
    sink = FakeSink()
    joining = asyncio.create_task(hub.join_many(["a", "b"], sink))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert broker.subscribed == ["a", "b"]  # both waiting on the broker at once
    broker.fail = True
    broker.gate.set()
    with pytest.raises(ConnectionError):
        await joining
    assert hub.topics == frozenset()


async def test_a_leave_right_after_join_many_always_wins(hub: TopicHub, broker: RecordingBroker) -> None:
    """Every sink is attached before join_many first suspends, so a leave issued after it finds them."""
    broker.gate = asyncio.Event()
    sink = FakeSink()
    joining = asyncio.create_task(hub.join_many(["a", "b", "c"], sink))
    leaving = asyncio.create_task(hub.leave_many(["b"], sink))
    await asyncio.sleep(0)
    broker.gate.set()
    await asyncio.gather(joining, leaving)
    assert hub.topics == frozenset({"a", "c"})
    assert broker.live("b") == 0


async def test_a_sink_that_replaces_its_push_gets_later_payloads_through_the_new_one(
    hub: TopicHub, broker: RecordingBroker
) -> None:
    sink, other = FakeSink(), FakeSink()
    await hub.join("t", sink)
    await hub.join("u", sink)
    await hub.join("t", other)
    await broker.publish("t", b"1")  # delivered through the original push
    later: list[bytes] = []
    sink.push = later.append
    hub.refresh(["t", "u", "not-joined"], sink)
    await broker.publish("t", b"2")
    await broker.publish("u", b"3")
    assert sink.received == [b"1"]
    assert later == [b"2", b"3"]
    assert other.received == [b"1", b"2"]


async def test_joins_and_leaves_between_deliveries_are_seen_by_the_next_one(
    hub: TopicHub, broker: RecordingBroker
) -> None:
    a, b = FakeSink(), FakeSink()
    await hub.join("t", a)
    await broker.publish("t", b"1")
    await hub.join("t", b)
    await broker.publish("t", b"2")
    await hub.leave("t", a)
    await broker.publish("t", b"3")
    assert a.received == [b"1", b"2"]
    assert b.received == [b"2", b"3"]
    assert hub.delivered == 4
