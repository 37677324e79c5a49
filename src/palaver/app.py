"""Wiring: build every part from ``Settings`` and run the HTTP API and the gateway in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from palaver.adapters.broker import make_broker
from palaver.adapters.classifier import make_classifier
from palaver.adapters.gateway import GatewayConfig, GatewayServer, RequestRouter
from palaver.adapters.gateway.routes_messenger import register_messenger_methods
from palaver.adapters.gateway.routes_roulette import register_roulette_methods
from palaver.adapters.http.api import create_http_app
from palaver.adapters.security.passwords import Argon2Hasher
from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.adapters.views import make_view_ledger
from palaver.clock import SystemClock
from palaver.config import Secrets, Settings, load_secrets
from palaver.domain.sessions import Principal
from palaver.ids import SnowflakeIds
from palaver.ports import Broker, Classifier, Clock
from palaver.services.accounts import AccountPolicy, AccountService
from palaver.services.ice import IceService
from palaver.services.messenger import LockedIds, Messenger, MessengerPolicy
from palaver.services.moderation import ModerationPolicy, ModerationService
from palaver.services.moderation.serialize import ban_json
from palaver.services.roulette import STATS_TOPIC, RouletteService
from palaver.services.roulette_remote import RouletteRpcServer, distribute_roulette, roulette_role
from palaver.services.serialize import session_json, user_json
from palaver.services.snapshots import SnapshotPolicy, SnapshotService

log = logging.getLogger("palaver")

JOINABLE_PREFIXES = ("channel:",)  # topics gateway.join/leave control events may add or remove
CLIENT_TOPICS = (STATS_TOPIC,)  # public topics clients subscribe to themselves
VIEWS_FLUSH_SECONDS = 5.0
EVIDENCE_PURGE_SECONDS = 3600.0  # how often flagged frames past their retention lose their images


@dataclass
class Palaver:
    """One Palaver node: its storage, broker, services and both listeners."""

    settings: Settings
    secrets: Secrets
    storage: SqlStorage
    broker: Broker
    accounts: AccountService
    messenger: Messenger
    roulette: RouletteService
    registry: CollectorRegistry
    http: FastAPI
    gateway: GatewayServer
    background: list[asyncio.Task[None]] = field(default_factory=list)
    roulette_rpc: RouletteRpcServer | None = None  # set in the Roulette owner of several processes
    moderation: ModerationService = field(kw_only=True)
    classifier: Classifier | None = field(default=None, kw_only=True)  # Roulette snapshots (a worker pool)

    async def start(self) -> None:
        await self.broker.start()
        if roulette_role(self.settings) != "remote":  # the process holding Roulette's state
            await self.roulette.load_blocks(await self.moderation.blocked_pairs())  # reports persist
        await self.gateway.start()
        self.background = [
            asyncio.create_task(self.roulette.run(), name="roulette-ticks"),  # matching and roulette:stats
            *([asyncio.create_task(self.roulette_rpc.run(), name="roulette-rpc")] if self.roulette_rpc else []),
            asyncio.create_task(every(VIEWS_FLUSH_SECONDS, self.messenger.dialogs.flush_views), name="views"),
            asyncio.create_task(every(EVIDENCE_PURGE_SECONDS, self.moderation.purge_evidence), name="evidence-purge"),
        ]

    async def close(self) -> None:
        for task in self.background:
            task.cancel()
        for task in self.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.background = []
        await self.gateway.close()
        if self.classifier is not None:
            await self.classifier.close()
        await self.messenger.close()
        await self.broker.close()
        await self.storage.close()


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``seconds`` until cancelled; a failure is logged and the loop goes on."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__qualname__", job))


def build(settings: Settings) -> Palaver:
    secrets = load_secrets(settings)
    clock = SystemClock()
    ids = LockedIds(SnowflakeIds(clock, node=settings.node_id))  # shared with the SQLite writer thread
    storage = SqlStorage.from_url(settings.resolved_database_url())
    broker = make_broker(settings.resolved_broker(), redis_url=settings.redis_url, prefix=settings.redis_prefix)
    registry = CollectorRegistry()
    accounts = AccountService(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=ids,
        hasher=Argon2Hasher(),
        policy=AccountPolicy(
            session_ttl_seconds=settings.session_ttl_days * 86400.0,
            login_attempts=settings.login_attempts_per_window,
            login_window_seconds=settings.login_window_seconds,
            login_attempts_per_ip=settings.login_attempts_per_ip,
        ),
        ip_hash_salt=secrets.ip_hash_salt,
    )
    ice = IceService(
        clock,
        turn_secret=secrets.turn_secret,
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        ttl_seconds=settings.turn_ttl_seconds,
    )
    messenger = Messenger(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=ids,
        policy=MessengerPolicy(batch_writes=settings.messenger_group_commit),
        # channel views counted once per viewer per post: in Redis when the processes share it
        views=make_view_ledger(
            settings.resolved_broker(), clock=clock, redis_url=settings.redis_url, prefix=settings.redis_prefix
        ),
    )
    roulette = RouletteService(broker=broker, clock=clock, ids=ids)
    roulette, roulette_rpc = distribute_roulette(roulette, settings, broker=broker, clock=clock)  # several processes
    moderation = ModerationService(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=ids,
        policy=ModerationPolicy.from_settings(settings),
        ip_hash_salt=secrets.ip_hash_salt,
        on_ban=lambda user_id, ban: roulette.expel(user_id, ban_json(ban)),  # ends the pair, roulette.banned
    )
    classifier = make_classifier(settings.classifier, workers=settings.classifier_workers)  # starts with 1st frame
    snapshots = SnapshotService(
        classifier=classifier,
        moderation=moderation,
        roulette=roulette,
        clock=clock,
        policy=SnapshotPolicy.from_settings(settings),
    )
    http = create_http_app(
        accounts=accounts,
        storage=storage,
        broker=broker,
        registry=registry,
        gateway_url=settings.resolved_gateway_url(),
        ice=ice,
        messenger=messenger,
        moderation=moderation,
        snapshots=snapshots,
    )
    http.state.node_id = settings.node_id  # /healthz names the process that answered (several workers)
    gateway = GatewayServer(
        GatewayConfig(
            host=settings.host,
            port=settings.gateway_port,
            allowed_origins=settings.resolved_origins(),
            max_frame_bytes=settings.gateway_max_frame_bytes,
            max_send_buffer_bytes=settings.gateway_max_send_buffer_bytes,
            rate_per_second=settings.gateway_rate_per_second,
            rate_burst=settings.gateway_rate_burst,
            auth_timeout_seconds=settings.gateway_auth_timeout_seconds,
            heartbeat_seconds=settings.gateway_heartbeat_seconds,
            transport=settings.gateway_transport,
        ),
        authenticator=accounts,
        router=gateway_routes(
            accounts,
            messenger,
            roulette,
            moderation,
            clock=clock,
            new_guest_link_block_seconds=settings.new_guest_link_block_seconds,
        ),
        broker=broker,
        clock=clock,
        registry=registry,
        topics_for=lambda principal: messenger.channel_topics_for(principal.user_id),
        on_disconnect=lambda principal: roulette.disconnect(principal.session_id),
        joinable_prefixes=JOINABLE_PREFIXES,
        client_topics=CLIENT_TOPICS,
        reuse_port=settings.workers > 1,  # several worker processes share the port
    )
    node = Palaver(
        settings,
        secrets,
        storage,
        broker,
        accounts,
        messenger,
        roulette,
        registry,
        http,
        gateway,
        moderation=moderation,
        classifier=classifier,
    )
    node.roulette_rpc = roulette_rpc
    return node


def gateway_routes(
    accounts: AccountService,
    messenger: Messenger,
    roulette: RouletteService,
    moderation: ModerationService,
    *,
    clock: Clock | None = None,
    new_guest_link_block_seconds: float = 0.0,
) -> RequestRouter:
    """Requests a client may make over the gateway (see docs/protocol.md, "Gateway methods")."""
    router = RequestRouter()
    register_messenger_methods(router, messenger)
    register_roulette_methods(
        router, roulette, accounts, moderation, clock=clock, new_guest_link_block_seconds=new_guest_link_block_seconds
    )

    async def echo(_: Principal, params: dict[str, Any]) -> dict[str, Any]:
        return params

    async def me(principal: Principal, _: dict[str, Any]) -> dict[str, Any]:
        return user_json(await accounts.me(principal))

    async def sessions(principal: Principal, _: dict[str, Any]) -> dict[str, Any]:
        found = await accounts.list_sessions(principal)
        return {"sessions": [session_json(s, current_session_id=principal.session_id) for s in found]}

    router.register("echo", echo, inline=True)
    router.register("me", me)
    router.register("sessions.list", sessions)
    return router


def bind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # several worker processes accept on this port (palaver serve --workers N)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, *, migrate: bool = True) -> None:
    """Run one node until SIGINT/SIGTERM: migrate, then the HTTP API and the gateway side by side."""
    logging.getLogger("picows").setLevel(logging.WARNING)  # it logs every connection at INFO
    if migrate:
        await upgrade_async(settings.resolved_database_url())
    node = build(settings)
    await node.start()
    sock = bind_socket(settings.host, settings.http_port, reuse_port=settings.workers > 1)
    config = uvicorn.Config(
        node.http,
        loop="none",
        lifespan="off",
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    http_port = sock.getsockname()[1]
    log.warning(
        "palaver serving http://%s:%d (gateway port %d)", settings.host, http_port, node.gateway.port
    )
    absorb_stop_signals()
    try:
        await server.serve(sockets=[sock])
    finally:
        await node.close()
        log.warning("palaver stopped")


def absorb_stop_signals() -> None:
    """uvicorn catches SIGINT/SIGTERM, stops, then raises the caught signal again once it has
    restored the handlers it found. With the default handlers that would end the process before
    ``node.close()`` (final view flush, broker and storage close) runs; let it land here instead."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: None)


def run(settings: Settings, *, migrate: bool = True) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(serve(settings, migrate=migrate))
    else:
        uvloop.run(serve(settings, migrate=migrate))
