"""The topics one connection is in, kept in step with the hub.

Topics change in three ways: at authentication (the user and session topics plus the server's
``topics_for``), by control events on the user topic (``gateway.join``/``gateway.leave``, applied
without waiting), and by the client's own ``topics.subscribe``/``topics.unsubscribe`` requests
(public topics only). The set is updated synchronously and the hub call that follows starts in the
same order, so interleaved joins and leaves of one topic end in the state of the last one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Annotated, Any

import msgspec

from palaver.adapters.gateway.codes import ErrorCode
from palaver.adapters.gateway.control import MAX_TOPIC_CHARS, TopicChange
from palaver.adapters.gateway.hub import Sink, TopicHub
from palaver.adapters.gateway.params import convert
from palaver.errors import Forbidden

logger = logging.getLogger(__name__)

MAX_TOPICS_PER_REQUEST = 16

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class ConnectionTopics:
    """Which topics one sink (connection) is in."""

    __slots__ = ("_closed", "_hub", "_joined", "_sink", "_spawn", "_vetoed")

    def __init__(self, hub: TopicHub, sink: Sink, spawn: Spawn) -> None:
        self._hub = hub
        self._sink = sink
        self._spawn = spawn
        self._joined: set[str] = set()
        self._closed = False
        self._vetoed: set[str] | None = None  # topics left while the initial topics were loading

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._joined)

    def __contains__(self, topic: str) -> bool:
        return topic in self._joined

    async def start(self, base: Iterable[str], more: Callable[[], Awaitable[Iterable[str]]] | None = None) -> None:
        """Join ``base``, then the topics ``more()`` names. A ``gateway.leave`` that arrives while
        ``more()`` runs wins over it (its answer may predate the leave). Raises what the hub or
        ``more()`` raised."""
        await self.join(base)
        if more is None or self._closed:
            return
        self._vetoed = set()
        try:
            extra = await more()
            vetoed = self._vetoed
            await self.join(t for t in extra if t not in vetoed)
        finally:
            self._vetoed = None

    async def join(self, topics: Iterable[str]) -> None:
        """Join the topics not joined yet; returns once their broker subscriptions are live."""
        new = [t for t in dict.fromkeys(topics) if t not in self._joined]
        if not new or self._closed:
            return
        self._joined.update(new)
        try:
            await self._hub.join_many(new, self._sink)
        except BaseException:
            await self._leave_hub(new, forget=True)
            raise
        if self._closed:  # the connection went away while we subscribed
            await self._leave_hub(new, forget=True)

    async def leave(self, topics: Iterable[str]) -> None:
        gone = [t for t in dict.fromkeys(topics) if t in self._joined]
        self._joined.difference_update(gone)
        await self._leave_hub(gone, forget=False)

    def change(self, change: TopicChange) -> None:
        """Apply a control event (called from the hub's delivery: never blocks)."""
        if self._closed:
            return
        if change.join:
            if self._vetoed is not None:
                self._vetoed.difference_update(change.topics)
            self._spawn(self._logged(self.join(change.topics)))
        else:
            if self._vetoed is not None:
                self._vetoed.update(change.topics)
            self._spawn(self._logged(self.leave(change.topics)))

    def refresh(self) -> None:
        """The sink replaced its ``push``: the hub uses the new one from the next delivery."""
        self._hub.refresh(self._joined, self._sink)

    def close(self) -> Coroutine[Any, Any, None] | None:
        """The connection is gone: joins still in progress will leave again, and the returned
        coroutine (None if there is nothing to leave) leaves every topic joined so far."""
        self._closed = True
        if not self._joined:
            return None
        topics = tuple(self._joined)
        self._joined.clear()
        return self._hub.leave_many(topics, self._sink)

    async def _leave_hub(self, topics: list[str] | tuple[str, ...], *, forget: bool) -> None:
        if forget:
            self._joined.difference_update(topics)
        await self._hub.leave_many(topics, self._sink)

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception:
            logger.exception("gateway: applying a topic change failed")


# --------------------------------------------------------------------------- client requests


class _TopicsParams(msgspec.Struct, forbid_unknown_fields=True):
    topics: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=MAX_TOPIC_CHARS)]],
        msgspec.Meta(min_length=1, max_length=MAX_TOPICS_PER_REQUEST),
    ]


class TopicNotAllowed(Forbidden):
    code = ErrorCode.TOPIC_NOT_ALLOWED.value


async def client_subscription(
    topics: ConnectionTopics, allowed: frozenset[str], params: dict[str, Any], *, join: bool
) -> dict[str, Any]:
    """``topics.subscribe``/``topics.unsubscribe``: the client joins or leaves public topics from the
    server's allow-list; answers ``{"topics": [the allowed topics the connection is in now]}``."""
    wanted = convert(params, _TopicsParams).topics
    refused = [t for t in wanted if t not in allowed]
    if refused:
        raise TopicNotAllowed(f"Clients may not subscribe to {refused[0][:64]!r}.")
    if join:
        await topics.join(wanted)
    else:
        await topics.leave(wanted)
    return {"topics": sorted(t for t in allowed if t in topics)}
