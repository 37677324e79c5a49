"""The gateway's hooks over real sockets: ``topics_for``, control events, ``on_disconnect`` and the
client's own ``topics.subscribe``/``topics.unsubscribe``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

import pytest
from websockets.asyncio.client import ClientConnection, connect

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.gateway import GatewayConfig, GatewayServer, RequestRouter, user_topic
from palaver.clock import SystemClock
from palaver.domain.sessions import Principal
from tests.integration.test_gateway import (
    ALICE,
    BOB,
    StartGateway,
    TokenAuthenticator,
    authenticate,
    close_code_of,
    recv_json,
    start_gateway,
    wait_until,
)

__all__ = ["start_gateway"]


def event(topic: str, name: str, data: object) -> bytes:
    return json.dumps({"type": "event", "topic": topic, "event": name, "data": data}).encode()


async def next_events(ws: ClientConnection) -> list[dict[str, object]]:
    """Every frame received before the answer to a ping sent now (everything already sent to us)."""
    await ws.send('{"type":"ping"}')
    frames = []
    while (frame := await recv_json(ws)) != {"type": "pong"}:
        frames.append(frame)
    return frames


# --------------------------------------------------------------------------- topics_for


async def test_topics_for_are_joined_before_ready(start_gateway: StartGateway) -> None:
    asked: list[Principal] = []

    async def topics_for(principal: Principal) -> Iterable[str]:
        asked.append(principal)
        await asyncio.sleep(0.05)  # like a database query
        return [f"channel:{principal.user_id % 1000}", "channel:common"]

    gateway = await start_gateway(hooks={"topics_for": topics_for})
    async with connect(gateway.url) as alice, connect(gateway.url) as bob:
        await authenticate(alice, "alice-token")
        post = event("channel:common", "update", {"n": 1})
        await gateway.broker.publish("channel:common", post)  # right after ready: never missed
        assert await asyncio.wait_for(alice.recv(decode=False), 5) == post
        await authenticate(bob, "bob-token")
        await gateway.broker.publish(f"channel:{ALICE.user_id % 1000}", event("x", "y", {}))
        assert await next_events(bob) == []
        assert len(await next_events(alice)) == 1
    assert asked == [ALICE, BOB]
    await wait_until(lambda: gateway.server.hub.topics == frozenset())


async def test_a_failing_topics_for_closes_1013(start_gateway: StartGateway, caplog: pytest.LogCaptureFixture) -> None:
    async def topics_for(principal: Principal) -> Iterable[str]:
        raise RuntimeError("database down")

    gateway = await start_gateway(hooks={"topics_for": topics_for})
    with caplog.at_level(logging.ERROR):
        async with connect(gateway.url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": "alice-token"}))
            assert await close_code_of(ws) == 1013
    assert "joining topics failed" in caplog.text
    await wait_until(lambda: gateway.server.hub.topics == frozenset())


# --------------------------------------------------------------------------- control events


async def test_control_events_join_and_leave_every_connection_of_the_user(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(hooks={"joinable_prefixes": ("channel:",)})
    alice_topic = user_topic(ALICE.user_id)
    post = event("channel:5", "update", {"n": 1})
    async with connect(gateway.url) as one, connect(gateway.url) as two, connect(gateway.url) as bob:
        for ws, token in ((one, "alice-token"), (two, "alice-token"), (bob, "bob-token")):
            await authenticate(ws, token)
        forbidden = f"user:{BOB.user_id}"
        await gateway.broker.publish(
            alice_topic, event(alice_topic, "gateway.join", {"topics": ["channel:5", forbidden]})
        )
        for ws in (one, two):
            assert await next_events(ws) == []  # the control event itself is not delivered
        await gateway.broker.publish("channel:5", post)
        await gateway.broker.publish(forbidden, event(forbidden, "secret", {}))
        for ws in (one, two):
            assert [f["event"] for f in await next_events(ws)] == ["update"]
        assert [f["event"] for f in await next_events(bob)] == ["secret"]

        await gateway.broker.publish(alice_topic, event(alice_topic, "gateway.leave", {"topics": ["channel:5"]}))
        await next_events(one)
        await next_events(two)
        await gateway.broker.publish("channel:5", post)
        for ws in (one, two):
            assert await next_events(ws) == []
        assert "channel:5" not in gateway.server.hub.topics


async def test_hook_arguments_are_checked() -> None:
    config = GatewayConfig(host="127.0.0.1", port=0, allowed_origins=frozenset())
    common = {
        "authenticator": TokenAuthenticator(),
        "router": RequestRouter(),
        "broker": MemoryBroker(),
        "clock": SystemClock(),
    }
    with pytest.raises(ValueError, match="joinable"):
        GatewayServer(config, joinable_prefixes=("user:",), **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="client topics"):
        GatewayServer(config, client_topics=("session:1",), **common)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- on_disconnect


async def test_on_disconnect_once_per_authenticated_connection(
    start_gateway: StartGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gone: list[Principal] = []

    async def on_disconnect(principal: Principal) -> None:
        gone.append(principal)
        if principal == BOB:
            raise RuntimeError("hook bug")

    gateway = await start_gateway(hooks={"on_disconnect": on_disconnect})
    with caplog.at_level(logging.ERROR):
        async with connect(gateway.url) as ws:  # closed by the client
            await authenticate(ws, "alice-token")
        await wait_until(lambda: len(gone) == 1)
        async with connect(gateway.url) as ws:  # never authenticated: no call
            await ws.send(json.dumps({"type": "auth", "token": "forged"}))
            assert await close_code_of(ws) == 4001
        async with connect(gateway.url) as ws:  # closed by the server
            await authenticate(ws, "bob-token")
            revoked = event(f"session:{BOB.session_id}", "session.revoked", {})
            await gateway.broker.publish(f"session:{BOB.session_id}", revoked)
            assert await close_code_of(ws) == 4003
        await wait_until(lambda: len(gone) == 2)
        assert "on_disconnect hook failed" in caplog.text
        ws = await connect(gateway.url)  # dropped without a close handshake
        await authenticate(ws, "alice-token")
        ws.transport.abort()
        await wait_until(lambda: len(gone) == 3)
    await asyncio.sleep(0.1)
    assert gone == [ALICE, BOB, ALICE]
    assert gateway.server.connection_count == 0


# --------------------------------------------------------------------------- topics.subscribe


async def test_clients_subscribe_to_public_topics_only(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(hooks={"client_topics": ("lobby:stats",)})
    stats = event("lobby:stats", "stats", {"online": 3})
    async with connect(gateway.url) as ws:
        await authenticate(ws, "alice-token")
        await ws.send(
            json.dumps({"type": "req", "id": 1, "method": "topics.subscribe", "params": {"topics": ["lobby:stats"]}})
        )
        assert await recv_json(ws) == {"type": "res", "id": 1, "result": {"topics": ["lobby:stats"]}}
        await gateway.broker.publish("lobby:stats", stats)
        assert [f["event"] for f in await next_events(ws)] == ["stats"]

        for request_id, topic in enumerate([f"user:{BOB.user_id}", "channel:5", "lobby:other"], start=2):
            params = {"topics": [topic]}
            await ws.send(json.dumps({"type": "req", "id": request_id, "method": "topics.subscribe", "params": params}))
            refused = await recv_json(ws)
            assert (refused["type"], refused["code"], refused["id"]) == ("err", "topic_not_allowed", request_id)
        await ws.send(json.dumps({"type": "req", "id": 9, "method": "topics.subscribe", "params": {"topics": 1}}))
        assert (await recv_json(ws))["code"] == "invalid_params"

        params = {"topics": ["lobby:stats"]}
        await ws.send(json.dumps({"type": "req", "id": 10, "method": "topics.unsubscribe", "params": params}))
        assert await recv_json(ws) == {"type": "res", "id": 10, "result": {"topics": []}}
        await gateway.broker.publish("lobby:stats", stats)
        assert await next_events(ws) == []
        assert gateway.server.hub.topics == frozenset({user_topic(ALICE.user_id), f"session:{ALICE.session_id}"})
