"""In-process broker: one event loop, no network.

``publish`` calls every handler subscribed to the exact topic, synchronously and in subscription
order, before it returns; messages therefore arrive in publish order. A handler that raises is
logged and the others still get the message.
"""

from __future__ import annotations

import logging

from palaver.ports import MessageHandler

log = logging.getLogger(__name__)


class MemorySubscription:
    """One handler on one topic of a :class:`MemoryBroker`."""

    __slots__ = ("_broker", "handler", "open", "topic")

    def __init__(self, broker: MemoryBroker, topic: str, handler: MessageHandler) -> None:
        self._broker = broker
        self.topic = topic
        self.handler = handler
        self.open = True

    async def close(self) -> None:
        if self.open:
            self.open = False
            self._broker._remove(self)


class MemoryBroker:
    """Publish/subscribe inside one process. Not thread-safe: use it from one event loop."""

    def __init__(self) -> None:
        # Copy-on-write tuples: a delivery iterates a snapshot, so subscribing or closing while a
        # message is being delivered never disturbs the loop.
        self._topics: dict[str, tuple[MemorySubscription, ...]] = {}
        self._started = False
        self._closed = False

    async def start(self) -> None:
        self._check_open()
        self._started = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for subs in self._topics.values():
            for sub in subs:
                sub.open = False
        self._topics.clear()

    async def ping(self) -> bool:
        return self._started and not self._closed

    async def publish(self, topic: str, payload: bytes) -> None:
        self._check_running()
        subs = self._topics.get(topic)
        if subs is None:
            return
        for sub in subs:
            if not sub.open:  # closed by an earlier handler of this same delivery
                continue
            try:
                sub.handler(topic, payload)
            except Exception:
                log.exception("broker handler failed on topic %r", topic)

    async def subscribe(self, topic: str, handler: MessageHandler) -> MemorySubscription:
        self._check_running()
        sub = MemorySubscription(self, topic, handler)
        self._topics[topic] = (*self._topics.get(topic, ()), sub)
        return sub

    def _remove(self, sub: MemorySubscription) -> None:
        subs = self._topics.get(sub.topic)
        if subs is None:
            return
        rest = tuple(s for s in subs if s is not sub)
        if rest:
            self._topics[sub.topic] = rest
        else:
            del self._topics[sub.topic]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("broker is closed")

    def _check_running(self) -> None:
        self._check_open()
        if not self._started:
            raise RuntimeError("broker is not started")
