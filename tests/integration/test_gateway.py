"""The gateway over real sockets: a GatewayServer on a free port, ``websockets`` clients."""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.gateway import (
    GatewayConfig,
    GatewayServer,
    RequestRouter,
    session_topic,
    user_topic,
)
from palaver.clock import SystemClock
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.errors import NotFound, Unauthenticated

ALLOWED_ORIGIN = "https://chat.example.org"
TOKENS = {
    "alice-token": Principal(user_id=(1 << 60) + 1, session_id=(1 << 60) + 11, role=Role.USER),
    "bob-token": Principal(user_id=(1 << 60) + 2, session_id=(1 << 60) + 22, role=Role.USER),
}
ALICE = TOKENS["alice-token"]
BOB = TOKENS["bob-token"]


class TokenAuthenticator:
    async def authenticate(self, token: str) -> Principal:
        await asyncio.sleep(0)  # like a database lookup: suspends once
        principal = TOKENS.get(token)
        if principal is None:
            raise Unauthenticated("Invalid or expired session token.")
        return principal


def make_router() -> RequestRouter:
    router = RequestRouter()

    async def echo(principal: Principal, params: dict[str, object]) -> object:
        return params

    async def whoami(principal: Principal, params: dict[str, object]) -> object:
        return {"user_id": str(principal.user_id)}

    async def sleep(principal: Principal, params: dict[str, object]) -> object:
        seconds = params.get("seconds", 0.05)
        assert isinstance(seconds, float | int)
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    async def missing(principal: Principal, params: dict[str, object]) -> object:
        raise NotFound("No such chat.", code="chat_not_found")

    async def crash(principal: Principal, params: dict[str, object]) -> object:
        raise RuntimeError("a bug")

    router.register("echo", echo, inline=True)
    router.register("whoami", whoami)
    router.register("sleep", sleep)
    router.register("sleep_task", sleep, inline=False)
    router.register("missing", missing)
    router.register("crash", crash)
    return router


@dataclass
class Gateway:
    server: GatewayServer
    broker: MemoryBroker
    registry: CollectorRegistry

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/"


StartGateway = Callable[..., Awaitable[Gateway]]


@dataclass
class _Started:
    gateways: list[Gateway] = field(default_factory=list)


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    started = _Started()

    async def start(*, hooks: dict[str, Any] | None = None, **overrides: object) -> Gateway:
        """A gateway with these config ``overrides`` and ``GatewayServer`` keyword ``hooks``."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": 0,
            "allowed_origins": frozenset({ALLOWED_ORIGIN}),
        }
        values.update(overrides)
        broker = MemoryBroker()
        await broker.start()
        registry = CollectorRegistry()
        server = GatewayServer(
            GatewayConfig(**values),  # type: ignore[arg-type]
            authenticator=TokenAuthenticator(),
            router=make_router(),
            broker=broker,
            clock=SystemClock(),
            registry=registry,
            **(hooks or {}),
        )
        await server.start()
        gateway = Gateway(server, broker, registry)
        started.gateways.append(gateway)
        return gateway

    yield start
    for gateway in started.gateways:
        await gateway.server.close()
        await gateway.broker.close()


@pytest.fixture
async def gateway(start_gateway: StartGateway) -> Gateway:
    return await start_gateway()


TIMEOUT = 5.0


async def recv_json(ws: ClientConnection) -> dict[str, object]:
    message = await asyncio.wait_for(ws.recv(), TIMEOUT)
    decoded = json.loads(message)
    assert isinstance(decoded, dict)
    return decoded


async def authenticate(ws: ClientConnection, token: str) -> dict[str, object]:
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = await recv_json(ws)
    assert ready["type"] == "ready", ready
    return ready


async def close_code_of(ws: ClientConnection) -> int | None:
    """Read until the server closes; the close code it sent (None if it sent none)."""
    async with asyncio.timeout(TIMEOUT):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition on the server (there is no event to wait on from the outside)."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


# --------------------------------------------------------------------------- authentication


async def test_auth_then_ready(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        ready = await authenticate(ws, "alice-token")
        assert ready == {
            "type": "ready",
            "user_id": str(ALICE.user_id),
            "session_id": str(ALICE.session_id),
            "heartbeat": 25.0,
        }
        assert gateway.server.connection_count == 1


async def test_bad_token_closes_4001(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "forged"}))
        assert await close_code_of(ws) == 4001
    await wait_until(lambda: gateway.server.connection_count == 0)


async def test_other_first_frame_closes_4000(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await ws.send(json.dumps({"type": "req", "id": 1, "method": "echo"}))
        assert await close_code_of(ws) == 4000


async def test_auth_timeout_closes_4002(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(auth_timeout_seconds=0.3)
    loop = asyncio.get_running_loop()
    async with connect(gateway.url) as ws:
        started = loop.time()
        assert await close_code_of(ws) == 4002
        assert 0.25 <= loop.time() - started < 2.0


# --------------------------------------------------------------------------- requests


async def test_request_response(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send(json.dumps({"type": "req", "id": 1, "method": "echo", "params": {"text": "hi", "n": [1, 2]}}))
        assert await recv_json(ws) == {"type": "res", "id": 1, "result": {"text": "hi", "n": [1, 2]}}
        await ws.send(json.dumps({"type": "req", "id": 2, "method": "whoami"}))
        assert await recv_json(ws) == {"type": "res", "id": 2, "result": {"user_id": str(ALICE.user_id)}}


async def test_request_errors(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        for request_id, method in enumerate(["missing", "crash", "nope"]):
            await ws.send(json.dumps({"type": "req", "id": request_id, "method": method}))
        replies = sorted([await recv_json(ws) for _ in range(3)], key=lambda r: int(r["id"]))  # type: ignore[call-overload]
        assert [(r["id"], r["code"]) for r in replies] == [
            (0, "chat_not_found"),
            (1, "internal_error"),
            (2, "unknown_method"),
        ]
        assert "bug" not in replies[1]["message"]  # type: ignore[operator]
        await ws.send(json.dumps({"type": "req", "id": 9, "method": "echo"}))
        assert (await recv_json(ws))["id"] == 9  # the connection stayed up


async def test_requests_run_concurrently(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send(json.dumps({"type": "req", "id": 1, "method": "sleep", "params": {"seconds": 0.3}}))
        await ws.send(json.dumps({"type": "req", "id": 2, "method": "sleep_task", "params": {"seconds": 0.01}}))
        await ws.send(json.dumps({"type": "req", "id": 3, "method": "echo"}))
        order = [(await recv_json(ws))["id"] for _ in range(3)]
        assert order == [3, 2, 1]


async def test_ping_malformed_and_binary_frames(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send('{"type":"ping"}')
        assert await recv_json(ws) == {"type": "pong"}
        await ws.send("{oops")
        assert (await recv_json(ws))["code"] == "malformed_frame"
        await ws.send('{"type":"subscribe"}')
        assert (await recv_json(ws))["code"] == "unknown_frame_type"
        await ws.send(b"\x00\x01")
        assert (await recv_json(ws))["code"] == "unsupported_data"
        pong_waiter = await ws.ping()
        await asyncio.wait_for(pong_waiter, 5)  # WebSocket-level pings are answered too


async def test_fragmented_text_message_is_reassembled(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send(['{"type":"req","id":5,', '"method":"echo",', '"params":{"a":1}}'])
        assert await recv_json(ws) == {"type": "res", "id": 5, "result": {"a": 1}}


async def test_rate_limit_then_close_4008(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(rate_per_second=1.0, rate_burst=3.0)
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        for request_id in range(10):
            await ws.send(json.dumps({"type": "req", "id": request_id, "method": "echo"}))
        replies = [await recv_json(ws) for _ in range(4)]
        assert [r["type"] for r in replies] == ["res", "res", "res", "err"]
        assert replies[3]["code"] == "rate_limited"
        assert await close_code_of(ws) == 4008


async def test_oversized_frame_closes_1009(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(max_frame_bytes=1024)
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send(json.dumps({"type": "req", "id": 1, "method": "echo", "params": {"x": "y" * 2000}}))
        assert await close_code_of(ws) == 1009
    await wait_until(lambda: gateway.server.connection_count == 0)
    assert 'palaver_gateway_closes_total{code="1009"} 1.0' in generate_latest(gateway.registry).decode()


async def test_heartbeat_timeout_closes_4010(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(heartbeat_seconds=0.2)
    async with connect(gateway.url, ping_interval=None) as ws:
        ready = await authenticate(ws, "alice-token")
        assert ready["heartbeat"] == 0.2
        for _ in range(4):  # a client that pings every heartbeat stays
            await asyncio.sleep(0.2)
            await ws.send('{"type":"ping"}')
            assert await recv_json(ws) == {"type": "pong"}
        assert await close_code_of(ws) == 4010  # then silence: closed after 2 heartbeats


# --------------------------------------------------------------------------- origins


async def test_disallowed_origin_is_rejected_at_the_handshake(gateway: Gateway) -> None:
    with pytest.raises(InvalidStatus) as rejected:
        async with connect(gateway.url, origin="https://evil.example.org"):  # type: ignore[arg-type]
            pass
    assert rejected.value.response.status_code == 403
    assert gateway.server.connection_count == 0


async def test_allowed_origin_is_accepted(gateway: Gateway) -> None:
    async with connect(gateway.url, origin=ALLOWED_ORIGIN) as ws:  # type: ignore[arg-type]
        await authenticate(ws, "alice-token")


# --------------------------------------------------------------------------- events


async def test_event_reaches_only_its_user(gateway: Gateway) -> None:
    async with connect(gateway.url) as alice, connect(gateway.url) as bob:
        await authenticate(alice, "alice-token")
        await authenticate(bob, "bob-token")
        event = json.dumps(
            {"type": "event", "topic": user_topic(ALICE.user_id), "event": "message.new", "data": {"text": "hi"}}
        ).encode()
        await gateway.broker.publish(user_topic(ALICE.user_id), event)
        assert await asyncio.wait_for(alice.recv(decode=False), 5) == event
        await bob.send('{"type":"ping"}')
        assert await recv_json(bob) == {"type": "pong"}  # nothing was queued for bob before it


async def test_revoked_session_gets_the_event_then_4003(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws, connect(gateway.url) as other:
        await authenticate(ws, "alice-token")
        await authenticate(other, "bob-token")
        revoked = json.dumps(
            {"type": "event", "topic": session_topic(ALICE.session_id), "event": "session.revoked", "data": {}}
        ).encode()
        await gateway.broker.publish(session_topic(ALICE.session_id), revoked)
        assert await asyncio.wait_for(ws.recv(decode=False), 5) == revoked
        assert await close_code_of(ws) == 4003
        await other.send('{"type":"ping"}')
        assert await recv_json(other) == {"type": "pong"}
    await wait_until(lambda: gateway.server.connection_count == 0)
    assert gateway.server.hub.topics == frozenset()  # the last leaver unsubscribed


async def test_slow_consumer_is_dropped_and_memory_stays_bounded(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(max_send_buffer_bytes=256 * 1024)
    topic = user_topic(ALICE.user_id)
    payload = json.dumps({"type": "event", "topic": topic, "event": "x", "data": {"pad": "p" * 16_000}}).encode()
    received = 0

    async with connect(gateway.url, max_queue=4, close_timeout=0.2) as slow, connect(gateway.url) as fast:
        await authenticate(slow, "alice-token")  # then never reads again
        await authenticate(fast, "alice-token")

        async def read_fast() -> None:
            nonlocal received
            async for _ in fast:
                received += 1

        reader = asyncio.create_task(read_fast())
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(8_000):  # 128 MB in total
            await gateway.broker.publish(topic, payload)
            await asyncio.sleep(0)
            if gateway.server.connection_count < 2:
                break
        await wait_until(lambda: gateway.server.connection_count == 1)
        peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        assert peak_growth_mb < 64, f"memory grew by {peak_growth_mb:.0f} MB"
        for _ in range(10):
            await gateway.broker.publish(topic, payload)
        sent_so_far = received
        await wait_until(lambda: received >= sent_so_far + 10)  # the fast reader is still served
        reader.cancel()
    assert 'palaver_gateway_closes_total{code="4009"} 1.0' in generate_latest(gateway.registry).decode()


# --------------------------------------------------------------------------- shutdown and metrics


async def test_server_close_sends_1001(gateway: Gateway) -> None:
    async with connect(gateway.url) as authed, connect(gateway.url) as unauthenticated:
        await authenticate(authed, "alice-token")
        await wait_until(lambda: gateway.server.connection_count == 2)
        closing = asyncio.gather(gateway.server.close(), gateway.server.close())
        assert await close_code_of(authed) == 1001
        assert await close_code_of(unauthenticated) == 1001
        await asyncio.wait_for(closing, 5)
    assert gateway.server.connection_count == 0
    with pytest.raises(ConnectionRefusedError):
        async with connect(gateway.url, open_timeout=1):
            pass


async def test_metrics(gateway: Gateway) -> None:
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send('{"type":"ping"}')
        await recv_json(ws)
        text = generate_latest(gateway.registry).decode()
        assert "palaver_gateway_connections 1.0" in text
        assert "palaver_gateway_frames_received_total 2.0" in text
        assert "palaver_gateway_frames_sent_total 2.0" in text
    await wait_until(lambda: gateway.server.connection_count == 0)
    assert 'palaver_gateway_closes_total{code="1000"} 1.0' in generate_latest(gateway.registry).decode()
