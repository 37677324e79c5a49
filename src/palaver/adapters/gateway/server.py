"""The gateway server: a thin picows binding around the sans-io core.

picows does the WebSocket framing; this module checks the Origin at the upgrade, owns the set of
connections, runs one periodic sweep for every timer (no timer per connection) and shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from enum import Enum
from http import HTTPStatus
from typing import cast

from picows import WSListener, WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener, ws_create_server
from prometheus_client import CollectorRegistry

from palaver.adapters.gateway.auth import Authenticator
from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.context import GatewayContext, OnDisconnect, TopicsFor
from palaver.adapters.gateway.control import TopicControl
from palaver.adapters.gateway.frames import FrameDecoder, FrameEncoder
from palaver.adapters.gateway.hub import TopicHub
from palaver.adapters.gateway.metrics import GatewayStats, register_metrics
from palaver.adapters.gateway.origins import OriginPolicy
from palaver.adapters.gateway.picows_listener import ConnectionListener
from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.gateway.topics import SESSION_TOPIC_PREFIX, USER_TOPIC_PREFIX
from palaver.clock import Clock
from palaver.ports import Broker

logger = logging.getLogger("palaver.gateway")

MIN_SWEEP_SECONDS = 0.02
MAX_FAST_SWEEP_SECONDS = 1.0


class ServerState(Enum):
    NEW = "new"
    SERVING = "serving"
    CLOSING = "closing"
    CLOSED = "closed"


def _reject(status: HTTPStatus, body: bytes) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(status, body), None)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


class GatewayServer:
    """The realtime WebSocket gateway (see docs/protocol.md, "Realtime gateway").

    Hooks into the rest of the application:

    - ``topics_for(principal)``: more topics a connection joins after authenticating, before ``ready``;
    - ``joinable_prefixes``: topics that ``gateway.join``/``gateway.leave`` control events on a
      ``user:<id>`` topic may make that user's connections join or leave (by prefix; none by default);
    - ``client_topics``: public topics a client may join itself with ``topics.subscribe``;
    - ``on_disconnect(principal)``: awaited in a task of its own once an authenticated connection
      has closed, whatever closed it (errors are logged);
    - ``reuse_port``: bind with ``SO_REUSEPORT`` so several processes share the port (the kernel
      spreads new connections over them; ``palaver serve --workers N``).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        authenticator: Authenticator,
        router: RequestRouter,
        broker: Broker,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        topics_for: TopicsFor | None = None,
        on_disconnect: OnDisconnect | None = None,
        joinable_prefixes: Iterable[str] = (),
        client_topics: Iterable[str] = (),
        reuse_port: bool = False,
    ) -> None:
        self._config = config
        self._reuse_port = reuse_port  # SO_REUSEPORT: several worker processes listen on one port
        self._authenticator = authenticator
        self._router = router
        self._clock = clock
        self._topics_for = topics_for
        self._on_disconnect = on_disconnect
        self._client_topics = frozenset(client_topics)
        if any(t.startswith((USER_TOPIC_PREFIX, SESSION_TOPIC_PREFIX)) for t in self._client_topics):
            raise ValueError("user and session topics cannot be client topics")
        self._origins = OriginPolicy(config.allowed_origins)
        self._encoder = FrameEncoder()
        self._hub = TopicHub(broker, self._encoder, TopicControl(tuple(joinable_prefixes)))
        self._stats = GatewayStats()
        self._state = ServerState.NEW
        self._ctx: GatewayContext | None = None
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._port: int | None = None
        self._shutdown: asyncio.Future[None] | None = None
        if registry is not None:
            register_metrics(registry, self._stats, lambda: self.connection_count, lambda: self._hub.delivered)

    # ------------------------------------------------------------------ public surface

    async def start(self) -> None:
        if self._state is not ServerState.NEW:
            raise RuntimeError("a gateway server starts once")
        config = self._config
        loop = asyncio.get_running_loop()
        self._ctx = GatewayContext(
            config=config,
            decoder=FrameDecoder(),
            encoder=self._encoder,
            router=self._router,
            authenticator=self._authenticator,
            hub=self._hub,
            stats=self._stats,
            monotonic=self._clock.monotonic,
            loop=loop,
            connections=set(),
            watched=set(),
            tasks=set(),
            all_disconnected=asyncio.Event(),
            topics_for=self._topics_for,
            on_disconnect=self._on_disconnect,
            client_topics=self._client_topics,
        )
        self._server = await ws_create_server(
            self._accept,
            config.host,
            config.port,
            max_frame_size=config.max_frame_bytes,
            enable_auto_pong=False,  # the listener answers pings itself and counts them as activity
            websocket_handshake_timeout=config.auth_timeout_seconds,
            read_buffer_init_size=config.read_buffer_bytes,
            logger_name="gateway",
            use_aiofastnet=config.transport == "aiofastnet",
            reuse_port=self._reuse_port or None,  # passed on to loop.create_server
        )
        self._port = cast(int, self._server.sockets[0].getsockname()[1])
        self._state = ServerState.SERVING
        self._sweeper = loop.create_task(self._sweep())
        logger.info("gateway listening on %s:%s", config.host, self.port)

    @property
    def port(self) -> int:
        """The bound port (the first socket's, if the host resolved to several)."""
        if self._port is None:
            raise RuntimeError("the gateway server has not started")
        return self._port

    @property
    def connection_count(self) -> int:
        return len(self._ctx.connections) if self._ctx is not None else 0

    @property
    def hub(self) -> TopicHub:
        return self._hub

    async def close(self) -> None:
        """Stop listening, close every connection with 1001, wait for them (bounded), then drop the rest.
        Idempotent; concurrent callers all wait for the one shutdown."""
        if self._state is ServerState.NEW:
            self._state = ServerState.CLOSED
        if self._state is ServerState.SERVING:
            self._state = ServerState.CLOSING
            self._shutdown = asyncio.ensure_future(self._close_connections())
        if self._shutdown is not None:
            await asyncio.shield(self._shutdown)

    async def _close_connections(self) -> None:
        ctx = self._ctx
        server = self._server
        assert ctx is not None
        assert server is not None
        server.close()
        for listener in tuple(ctx.connections):
            listener.close(CloseCode.GOING_AWAY, "Server shutting down.")
        await self._wait_disconnected(ctx, self._config.close_timeout_seconds)
        for listener in tuple(ctx.connections):
            listener.abort()
        await self._wait_disconnected(ctx, 1.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in tuple(ctx.tasks):
            task.cancel()
        await asyncio.gather(*ctx.tasks, *(t for t in [self._sweeper] if t is not None), return_exceptions=True)
        await self._hub.close()
        self._state = ServerState.CLOSED

    # ------------------------------------------------------------------ internals

    def _accept(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        if not self._origins.allows(request.headers.get("Origin")):
            return _reject(HTTPStatus.FORBIDDEN, b"Origin not allowed.\n")
        if self._state is not ServerState.SERVING or self._ctx is None:
            return _reject(HTTPStatus.SERVICE_UNAVAILABLE, b"Shutting down.\n")
        return ConnectionListener(self._ctx)

    @staticmethod
    async def _wait_disconnected(ctx: GatewayContext, seconds: float) -> None:
        if not ctx.connections:
            return
        ctx.all_disconnected.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ctx.all_disconnected.wait(), seconds)

    async def _sweep(self) -> None:
        """One task checks every connection's timers: often for connections that wait for auth or a
        close handshake, every half heartbeat for all of them (idle check)."""
        config = self._config
        ctx = self._ctx
        assert ctx is not None
        fast = _clamp(
            min(config.auth_timeout_seconds, config.close_timeout_seconds) / 4,
            MIN_SWEEP_SECONDS,
            MAX_FAST_SWEEP_SECONDS,
        )
        full = max(config.heartbeat_seconds / 2, fast)
        next_full = self._clock.monotonic() + full
        while True:
            await asyncio.sleep(fast)
            now = self._clock.monotonic()
            if now >= next_full:
                next_full = now + full
                targets: tuple[ConnectionListener, ...] = tuple(ctx.connections)
            else:
                targets = tuple(ctx.watched)
            for listener in targets:
                try:
                    listener.check_timers(now)
                except Exception:
                    logger.exception("gateway: timer check failed")
