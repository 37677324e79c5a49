"""Topic fan-out: local connections per topic, one broker subscription per topic.

The broker delivers a message once per process; the hub writes the same payload bytes to every local
sink of the topic (no per-recipient encoding: this is the fan-out hot path). Each topic keeps a list
of its sinks' ``push`` callables, rebuilt only after a sink joined or left or changed its ``push``
(``refresh``), so a delivery is one call per sink and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.control import CONTROL_NEEDLE, TopicChange, TopicControl
from palaver.adapters.gateway.frames import FrameEncoder
from palaver.adapters.gateway.topics import SESSION_TOPIC_PREFIX, USER_TOPIC_PREFIX, session_topic, user_topic
from palaver.ports import Broker, Subscription

__all__ = ["SESSION_TOPIC_PREFIX", "USER_TOPIC_PREFIX", "Sink", "TopicHub", "session_topic", "user_topic"]

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """A local receiver of topic messages (a connection)."""

    push: Callable[[bytes], None]
    """Send a payload; must not block, and must not join or leave topics synchronously. A sink that
    replaces its ``push`` calls :meth:`TopicHub.refresh` for its topics right away."""

    def close(self, code: CloseCode, reason: str) -> None: ...

    def change_topics(self, change: TopicChange) -> None:
        """A control event asked this sink to join or leave topics; must not block."""
        ...


class _Topic:
    """The local sinks of one topic and its broker subscription."""

    __slots__ = ("controlled", "hub", "pushes", "revocable", "sinks", "subscribed", "subscription")

    def __init__(self, hub: TopicHub, topic: str, subscribed: asyncio.Future[None]) -> None:
        self.hub = hub
        self.revocable = topic.startswith(SESSION_TOPIC_PREFIX)  # session.revoked closes the sinks
        self.controlled = topic.startswith(USER_TOPIC_PREFIX)  # gateway.join/leave change their topics
        self.sinks: set[Sink] = set()
        self.pushes: list[Callable[[bytes], None]] | None = None  # the sinks' push; None: rebuild
        self.subscribed = subscribed
        self.subscription: Subscription | None = None

    def deliver(self, topic: str, payload: bytes) -> None:
        sinks = self.sinks
        if self.controlled and CONTROL_NEEDLE in payload and self._control(payload):
            return
        pushes = self.pushes
        if pushes is None:
            pushes = self.pushes = [sink.push for sink in sinks]
        for push in pushes:
            try:
                push(payload)
            except Exception:  # one broken sink must not starve the others
                logger.exception("gateway: delivery to a sink failed")
        self.hub.delivered += len(pushes)
        if self.revocable and sinks and self.hub.encoder.is_session_revoked(payload):
            for sink in tuple(sinks):
                sink.close(CloseCode.SESSION_REVOKED, "Session revoked.")

    def _control(self, payload: bytes) -> bool:
        """Apply a control event to every sink; False when the payload is an ordinary event."""
        change = self.hub.control.parse(payload)
        if change is None:
            return False
        if change.topics:
            for sink in tuple(self.sinks):
                try:
                    sink.change_topics(change)
                except Exception:
                    logger.exception("gateway: changing a sink's topics failed")
        return True


class TopicHub:
    """Topic → local sinks. Subscribes on the broker when the first local sink joins a topic and
    closes that subscription when the last one leaves."""

    __slots__ = ("_broker", "_topics", "control", "delivered", "encoder")

    def __init__(self, broker: Broker, encoder: FrameEncoder, control: TopicControl | None = None) -> None:
        self._broker = broker
        self._topics: dict[str, _Topic] = {}
        self.encoder = encoder
        self.control = control or TopicControl()
        self.delivered = 0  # payloads written to sinks, for metrics

    async def join(self, topic: str, sink: Sink) -> None:
        """Add ``sink`` to ``topic``; returns once the topic's broker subscription is live."""
        pending = self._attach(topic, sink)
        if pending is not None:
            await pending

    async def join_many(self, topics: Iterable[str], sink: Sink) -> None:
        """Add ``sink`` to several topics at once (all before the first suspension, so a leave that
        comes later always finds them); new broker subscriptions are made concurrently. Raises the
        first failure once every subscription has ended."""
        pending = [p for p in (self._attach(topic, sink) for topic in topics) if p is not None]
        if len(pending) == 1:
            await pending[0]
        elif pending:
            for result in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result

    def _attach(self, topic: str, sink: Sink) -> Awaitable[None] | None:
        """Add the sink now; what to await until the topic is live (None: it already is). The
        awaitable must be awaited."""
        entry = self._topics.get(topic)
        if entry is not None:
            entry.sinks.add(sink)
            entry.pushes = None
            return None if entry.subscribed.done() else asyncio.shield(entry.subscribed)
        entry = _Topic(self, topic, asyncio.get_running_loop().create_future())
        entry.sinks.add(sink)
        self._topics[topic] = entry
        return self._subscribe(topic, entry)

    async def _subscribe(self, topic: str, entry: _Topic) -> None:
        try:
            subscription = await self._broker.subscribe(topic, entry.deliver)
        except BaseException as exc:
            if self._topics.get(topic) is entry:
                del self._topics[topic]
            if isinstance(exc, Exception):
                entry.subscribed.set_exception(exc)
                entry.subscribed.exception()  # mark retrieved: only later joiners re-raise it
            else:
                entry.subscribed.cancel()
            raise
        entry.subscribed.set_result(None)
        if self._topics.get(topic) is entry:
            entry.subscription = subscription
        else:  # every sink left while we subscribed
            await subscription.close()

    async def leave(self, topic: str, sink: Sink) -> None:
        """Remove ``sink`` from ``topic``; idempotent."""
        subscription = self._detach(topic, sink)
        if subscription is not None:
            await subscription.close()

    async def leave_many(self, topics: Iterable[str], sink: Sink) -> None:
        """Remove ``sink`` from several topics (all before the first suspension); idempotent."""
        closing = [s for s in (self._detach(topic, sink) for topic in topics) if s is not None]
        for subscription in closing:
            await subscription.close()

    def _detach(self, topic: str, sink: Sink) -> Subscription | None:
        """Remove the sink now; the broker subscription to close if it was the topic's last one."""
        entry = self._topics.get(topic)
        if entry is None or sink not in entry.sinks:
            return None
        entry.sinks.discard(sink)
        entry.pushes = None
        if entry.sinks:
            return None
        del self._topics[topic]
        return entry.subscription  # None while still subscribing: _subscribe closes it then

    def refresh(self, topics: Iterable[str], sink: Sink) -> None:
        """``sink`` has a new ``push``: deliveries on these topics use it from now on."""
        for topic in topics:
            entry = self._topics.get(topic)
            if entry is not None and sink in entry.sinks:
                entry.pushes = None

    def subscribers(self, topic: str) -> frozenset[Sink]:
        entry = self._topics.get(topic)
        return frozenset(entry.sinks) if entry is not None else frozenset()

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._topics)

    async def close(self) -> None:
        """Drop every sink and close every broker subscription."""
        entries = list(self._topics.values())
        self._topics.clear()
        for entry in entries:
            entry.sinks.clear()
            if entry.subscription is not None:
                await entry.subscription.close()
