"""What every connection of one gateway server shares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from palaver.adapters.gateway.auth import Authenticator
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.frames import FrameDecoder, FrameEncoder
from palaver.adapters.gateway.hub import TopicHub
from palaver.adapters.gateway.metrics import GatewayStats
from palaver.adapters.gateway.router import RequestRouter

if TYPE_CHECKING:
    from palaver.adapters.gateway.picows_listener import ConnectionListener


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

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
