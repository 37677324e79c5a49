"""Topic fan-out: local connections per topic, one broker subscription per topic.

The broker delivers a message once per process; the hub writes the same payload bytes to every local
sink of the topic (no per-recipient encoding: this is the fan-out hot path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.frames import FrameEncoder
from palaver.ports import Broker, Subscription

logger = logging.getLogger(__name__)

USER_TOPIC_PREFIX: Final = "user:"
SESSION_TOPIC_PREFIX: Final = "session:"


def user_topic(user_id: int) -> str:
    """Every connection of a user joins this topic."""
    return f"{USER_TOPIC_PREFIX}{user_id}"


def session_topic(session_id: int) -> str:
    """Every connection of a session joins this topic; a ``session.revoked`` event on it closes them."""
    return f"{SESSION_TOPIC_PREFIX}{session_id}"


class Sink(Protocol):
    """A local receiver of topic messages (a connection)."""

    push: Callable[[bytes], None]
    """Send a payload; must not block, and must not join or leave topics synchronously."""

    def close(self, code: CloseCode, reason: str) -> None: ...


class _Topic:
    """The local sinks of one topic and its broker subscription."""

    __slots__ = ("hub", "revocable", "sinks", "subscribed", "subscription")

    def __init__(self, hub: TopicHub, revocable: bool, subscribed: asyncio.Future[None]) -> None:
        self.hub = hub
        self.revocable = revocable
        self.sinks: set[Sink] = set()
        self.subscribed = subscribed
        self.subscription: Subscription | None = None

    def deliver(self, topic: str, payload: bytes) -> None:
        sinks = self.sinks
        for sink in sinks:
            try:
                sink.push(payload)
            except Exception:  # one broken sink must not starve the others
                logger.exception("gateway: delivery to a sink failed")
        self.hub.delivered += len(sinks)
        if self.revocable and sinks and self.hub.encoder.is_session_revoked(payload):
            for sink in tuple(sinks):
                sink.close(CloseCode.SESSION_REVOKED, "Session revoked.")


class TopicHub:
    """Topic → local sinks. Subscribes on the broker when the first local sink joins a topic and
    closes that subscription when the last one leaves."""

    __slots__ = ("_broker", "_topics", "delivered", "encoder")

    def __init__(self, broker: Broker, encoder: FrameEncoder) -> None:
        self._broker = broker
        self._topics: dict[str, _Topic] = {}
        self.encoder = encoder
        self.delivered = 0  # payloads written to sinks, for metrics

    async def join(self, topic: str, sink: Sink) -> None:
        """Add ``sink`` to ``topic``; returns once the topic's broker subscription is live."""
        entry = self._topics.get(topic)
        if entry is not None:
            entry.sinks.add(sink)
            if not entry.subscribed.done():
                await asyncio.shield(entry.subscribed)
            return
        entry = _Topic(self, topic.startswith(SESSION_TOPIC_PREFIX), asyncio.get_running_loop().create_future())
        entry.sinks.add(sink)
        self._topics[topic] = entry
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
        entry = self._topics.get(topic)
        if entry is None or sink not in entry.sinks:
            return
        entry.sinks.discard(sink)
        if entry.sinks:
            return
        del self._topics[topic]
        if entry.subscription is not None:
            await entry.subscription.close()
        # still subscribing: join() sees the entry is gone and closes the subscription itself

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
