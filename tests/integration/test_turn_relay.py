"""TURN credentials from ``IceService`` against a real coturn on loopback.

coturn checks the credentials with the shared secret and the real clock, so the service's clock
starts at the real time; expired credentials are issued by a clock set in the past, never by waiting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aioice import Candidate, Connection, TransportPolicy, stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.services.ice import IceService
from tests.support.coturn import Coturn, coturn
from tests.support.live_server import live_server

TTL = 600
TIMEOUT = 20.0


@pytest.fixture(scope="module")
def turn() -> Iterator[Coturn]:
    with coturn() as server:
        yield server


def principal(user_id: int) -> Principal:
    return Principal(user_id=user_id, session_id=user_id + 1000, role=Role.USER)


def service(turn: Coturn, *, now: float | None = None, secret: str | None = None) -> IceService:
    return IceService(
        ManualClock(start=time.time() if now is None else now),
        turn_secret=turn.secret if secret is None else secret,
        stun_urls=turn.stun_urls,
        turn_urls=turn.turn_urls,
        ttl_seconds=TTL,
    )


def turn_entry(body: dict[str, Any]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [server for server in body["ice_servers"] if "username" in server]
    assert len(entries) == 1
    return entries[0]


def credentials(turn: Coturn, user_id: int = 42, **kwargs: Any) -> tuple[str, str]:
    entry = turn_entry(service(turn, **kwargs).ice_servers(principal(user_id)))
    return entry["username"], entry["credential"]


class Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.closed = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def allocate(turn: Coturn, username: str, password: str, transport: str) -> tuple[Any, Recorder]:
    async with asyncio.timeout(TIMEOUT):
        return await create_turn_endpoint(
            Recorder, turn.address, username=username, password=password, transport=transport
        )


async def release(endpoint: Any, protocol: Recorder) -> None:
    endpoint.close()
    async with asyncio.timeout(TIMEOUT):
        await protocol.closed  # the allocation is deleted and the socket closed


def error_code(exc: stun.TransactionFailed) -> int:
    code: int = exc.response.attributes["ERROR-CODE"][0]
    return code


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_service_credentials_allocate_a_relay(turn: Coturn, transport: str) -> None:
    username, password = credentials(turn)
    endpoint, protocol = await allocate(turn, username, password, transport)
    try:
        host, port = endpoint.get_extra_info("sockname")
        assert host == turn.host
        assert turn.relay_ports[0] <= port <= turn.relay_ports[1]
    finally:
        await release(endpoint, protocol)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_expired_credentials_are_refused(turn: Coturn, transport: str) -> None:
    username, password = credentials(turn, now=time.time() - TTL - 60)  # expired a minute ago
    assert int(username.split(":")[0]) < time.time()
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(turn, username, password, transport)
    assert error_code(refused.value) == 401


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_credentials_signed_with_another_secret_are_refused(turn: Coturn, transport: str) -> None:
    username, password = credentials(turn, secret="not-" + turn.secret)
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(turn, username, password, transport)
    assert error_code(refused.value) == 401


async def test_a_credential_is_bound_to_its_user_and_expiry(turn: Coturn) -> None:
    username, password = credentials(turn, user_id=42)
    expiry, _, _ = username.partition(":")
    for forged in (f"{expiry}:43", f"{int(expiry) + 3600}:42"):
        with pytest.raises(stun.TransactionFailed) as refused:
            await allocate(turn, forged, password, "udp")
        assert error_code(refused.value) == 401


async def test_two_allocations_exchange_datagrams_through_the_relay(turn: Coturn) -> None:
    alice = await allocate(turn, *credentials(turn, user_id=1), "udp")
    bob = await allocate(turn, *credentials(turn, user_id=2), "tcp")
    try:
        alice_relay = alice[0].get_extra_info("sockname")
        bob_relay = bob[0].get_extra_info("sockname")

        async def deliver(sender: Any, receiver: Recorder, to: tuple[str, int], data: bytes) -> tuple[str, int]:
            # The first datagrams may be dropped until both allocations have a permission for the other.
            async with asyncio.timeout(TIMEOUT):
                while True:
                    sender.sendto(data, to)
                    try:
                        async with asyncio.timeout(0.2):
                            got, source = await receiver.received.get()
                    except TimeoutError:
                        continue
                    if got == data:
                        return source

        bob[0].sendto(b"open the door", alice_relay)
        assert await deliver(alice[0], bob[1], bob_relay, b"hello bob") == alice_relay
        assert await deliver(bob[0], alice[1], alice_relay, b"hello alice") == bob_relay
    finally:
        await release(*alice)
        await release(*bob)


def relay_connection(turn: Coturn, user_id: int, *, controlling: bool, transport: str) -> Connection:
    username, password = credentials(turn, user_id=user_id)
    return Connection(
        ice_controlling=controlling,
        components=1,
        turn_server=turn.address,
        turn_username=username,
        turn_password=password,
        turn_transport=transport,
        transport_policy=TransportPolicy.RELAY,
    )


async def exchange_candidates(local: Connection, remote: Connection) -> None:
    local.remote_username = remote.local_username
    local.remote_password = remote.local_password
    for candidate in remote.local_candidates:
        await local.add_remote_candidate(candidate)
    await local.add_remote_candidate(None)


def only_relay(candidates: list[Candidate]) -> bool:
    return bool(candidates) and all(candidate.type == "relay" for candidate in candidates)


async def test_ice_with_relay_policy_connects_through_coturn(turn: Coturn) -> None:
    a = relay_connection(turn, 1, controlling=True, transport="udp")
    b = relay_connection(turn, 2, controlling=False, transport="tcp")
    try:
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(a.gather_candidates(), b.gather_candidates())
            assert only_relay(a.local_candidates), a.local_candidates
            assert only_relay(b.local_candidates), b.local_candidates
            await exchange_candidates(a, b)
            await exchange_candidates(b, a)
            await asyncio.gather(a.connect(), b.connect())
            await a.send(b"ping")
            assert await b.recv() == b"ping"
            await b.send(b"pong")
            assert await a.recv() == b"pong"
    finally:
        await a.close()
        await b.close()


def rtc_configuration(body: dict[str, Any]) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential"))
        for entry in body["ice_servers"]
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


def selected_pair_types(pc: RTCPeerConnection) -> tuple[str, str]:
    assert pc.sctp is not None
    connection = pc.sctp.transport.transport._connection  # aiortc exposes no selected-pair API
    pair = connection._nominated[1]
    return pair.local_candidate.type, pair.remote_candidate.type


async def test_aiortc_data_channel_through_coturn(turn: Coturn) -> None:
    ice = service(turn)
    caller = RTCPeerConnection(rtc_configuration(ice.ice_servers(principal(1))))
    callee = RTCPeerConnection(rtc_configuration(ice.ice_servers(principal(2))))
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @callee.on("datachannel")
    def on_datachannel(channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            channel.send(f"echo: {message!s}")

    try:
        channel = caller.createDataChannel("chat")

        @channel.on("open")
        def on_open() -> None:
            channel.send("hello through the relay")

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if not reply.done():
                reply.set_result(str(message))

        async with asyncio.timeout(TIMEOUT):
            await caller.setLocalDescription(await caller.createOffer())
            offer = caller.localDescription
            assert "typ relay" in offer.sdp
            assert "typ host" not in offer.sdp
            await callee.setRemoteDescription(offer)
            await callee.setLocalDescription(await callee.createAnswer())
            answer = callee.localDescription
            assert "typ relay" in answer.sdp
            assert "typ host" not in answer.sdp
            await caller.setRemoteDescription(answer)
            assert await reply == "echo: hello through the relay"
        assert selected_pair_types(caller) == ("relay", "relay")
        assert selected_pair_types(callee) == ("relay", "relay")
    finally:
        await caller.close()
        await callee.close()


async def test_palaver_serve_hands_out_credentials_coturn_accepts(turn: Coturn, tmp_path: Path) -> None:
    """The whole chain: settings → ``palaver serve`` → HTTP endpoint → a relay on coturn."""
    env = {
        "PALAVER_TURN_SECRET": turn.secret,
        "PALAVER_STUN_URLS": json.dumps(turn.stun_urls),
        "PALAVER_TURN_URLS": json.dumps(turn.turn_urls),
        "PALAVER_TURN_TTL_SECONDS": str(TTL),
    }
    with live_server(tmp_path / "server", extra_env=env) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as client:
            token = (await client.post("/api/v1/auth/guest", json={})).json()["session_token"]
            response = await client.get("/api/v1/roulette/ice-servers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["ice_servers"][0] == {"urls": turn.stun_urls}
    entry = turn_entry(body)
    assert entry["urls"] == turn.turn_urls
    await release(*await allocate(turn, entry["username"], entry["credential"], "udp"))
