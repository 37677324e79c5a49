"""What every connection of one gateway server shares."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from palaver.adapters.gateway.auth import Authenticator
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.frames import FrameDecoder, FrameEncoder
from palaver.adapters.gateway.hub import TopicHub
from palaver.adapters.gateway.metrics import GatewayStats
from palaver.adapters.gateway.router import RequestRouter
from palaver.domain.sessions import Principal

if TYPE_CHECKING:
    from palaver.adapters.gateway.picows_listener import ConnectionListener

TopicsFor: TypeAlias = Callable[[Principal], Awaitable[Iterable[str]]]
"""More topics an authenticated connection joins before ``ready`` (besides its user and session)."""

OnDisconnect: TypeAlias = Callable[[Principal], Awaitable[None]]
"""Called once, in a task of its own, when an authenticated connection has closed."""


@dataclass(slots=True)
class GatewayContext:
    """What every connection of one server shares."""

    config: GatewayConfig
    decoder: FrameDecoder
    encoder: FrameEncoder
    router: RequestRouter
    authenticator: Authenticator
    hub: TopicHub
    stats: GatewayStats
    monotonic: Callable[[], float]
    loop: asyncio.AbstractEventLoop
    connections: set[ConnectionListener]  # open WebSockets
    watched: set[ConnectionListener]  # awaiting auth or closing: timers checked often
    tasks: set[asyncio.Task[None]]
    all_disconnected: asyncio.Event  # set whenever the last connection goes
    topics_for: TopicsFor | None = None
    on_disconnect: OnDisconnect | None = None
    client_topics: frozenset[str] = frozenset()  # public topics clients may subscribe to themselves

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
