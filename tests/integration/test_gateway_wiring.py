"""The gateway as ``palaver serve`` wires it: messenger live updates (control events, ``topics_for``),
messenger and Roulette methods, client topics and parameter validation — over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from palaver.app import every
from tests.support.live_server import LiveServer

TIMEOUT = 5.0
_names = itertools.count(1)

Frame = dict[str, Any]


@dataclass
class Guest:
    token: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Client:
    """One gateway connection: requests matched by id, every other frame kept in order."""

    ws: ClientConnection
    ready: Frame
    frames: list[Frame] = field(default_factory=list)
    _replies: dict[int, asyncio.Future[Frame]] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                frame = json.loads(message)
                waiter = self._replies.pop(frame.get("id"), None) if frame["type"] in ("res", "err") else None
                if waiter is not None:
                    waiter.set_result(frame)
                else:
                    self.frames.append(frame)
                    self._arrived.set()
        except ConnectionClosed:
            pass

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Frame:
        """The ``res`` or ``err`` frame answering this request."""
        request_id = next(self._ids)
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = waiter
        await self.ws.send(json.dumps({"type": "req", "id": request_id, "method": method, "params": params or {}}))
        return await asyncio.wait_for(waiter, TIMEOUT)

    async def result(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = await self.call(method, params)
        assert reply["type"] == "res", reply
        return reply["result"]

    async def event(self, predicate: Callable[[Frame], bool]) -> Frame:
        """The first event so far (or to come) that matches."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                for frame in self.frames:
                    if frame["type"] == "event" and predicate(frame):
                        return frame
                self._arrived.clear()
                await self._arrived.wait()

    async def events_until_pong(self) -> list[Frame]:
        """Every event received before the answer to a ping sent now: whatever the server wrote to
        this connection before the ping was answered."""
        before = len(self.frames)
        await self.ws.send('{"type":"ping"}')
        pong = await self.event_or_pong(before)
        return [f for f in self.frames[before:pong] if f["type"] == "event"]

    async def event_or_pong(self, start: int) -> int:
        async with asyncio.timeout(TIMEOUT):
            while True:
                for index in range(start, len(self.frames)):
                    if self.frames[index]["type"] == "pong":
                        return index
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


def name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


async def guest(http: httpx.AsyncClient) -> Guest:
    body = (await http.post("/api/v1/auth/guest", json={})).json()
    return Guest(body["session_token"], body["user"]["id"])


@asynccontextmanager
async def gateway(server: LiveServer, who: Guest) -> AsyncIterator[Client]:
    async with connect(server.gateway_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": who.token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ready["type"] == "ready", ready
        client = Client(ws, ready)
        client.start()
        try:
            yield client
        finally:
            await client.close()


def is_update(topic: str, kind: str) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        return bool(frame["topic"] == topic and frame["event"] == "update" and frame["data"]["update"]["type"] == kind)

    return match


def posts_in(events: list[Frame], channel_topic: str) -> list[str]:
    return [
        f["data"]["update"]["message"]["text"]
        for f in events
        if f["topic"] == channel_topic and f["event"] == "update" and f["data"]["update"]["type"] == "new_message"
    ]


async def create_channel(http: httpx.AsyncClient, owner: Guest) -> tuple[str, str]:
    created = await http.post(
        "/api/v1/chats/channels", json={"title": "News", "username": name("wirednews")}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    chat_id = created.json()["chat"]["id"]
    return chat_id, f"channel:{chat_id}"


async def post(http: httpx.AsyncClient, owner: Guest, chat_id: str, text: str) -> None:
    sent = await http.post(f"/api/v1/chats/{chat_id}/messages", json={"text": text}, headers=owner.headers)
    assert sent.status_code == 201, sent.text


# --------------------------------------------------------------------------- messenger


async def test_joining_and_leaving_a_channel_changes_an_open_connection(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        alice, bob = await guest(http), await guest(http)
        chat_id, topic = await create_channel(http, alice)
        async with gateway(live_server, bob) as bob_ws:
            await post(http, alice, chat_id, "before bob joined")
            assert posts_in(await bob_ws.events_until_pong(), topic) == []

            joined = await http.post(f"/api/v1/chats/{chat_id}/join", headers=bob.headers)
            assert joined.status_code == 200, joined.text
            await bob_ws.event(is_update(f"user:{bob.user_id}", "chat"))
            assert not [f for f in bob_ws.frames if f.get("event", "").startswith("gateway.")]  # internal
            await bob_ws.events_until_pong()  # the control event was handled before this pong
            await post(http, alice, chat_id, "live to bob")
            live = await bob_ws.event(is_update(topic, "new_message"))
            assert live["data"]["update"]["message"]["text"] == "live to bob"
            assert live["data"]["box"] == topic and live["data"]["pts"] >= 1

            left = await http.post(f"/api/v1/chats/{chat_id}/leave", headers=bob.headers)
            assert left.status_code == 204
            await bob_ws.event(is_update(f"user:{bob.user_id}", "chat_left"))
            await bob_ws.events_until_pong()
            await post(http, alice, chat_id, "after bob left")
            assert posts_in(await bob_ws.events_until_pong(), topic) == []
            assert not [f for f in bob_ws.frames if f.get("event", "").startswith("gateway.")]


async def test_a_connection_opened_after_joining_gets_the_channel(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        alice, bob = await guest(http), await guest(http)
        chat_id, topic = await create_channel(http, alice)
        assert (await http.post(f"/api/v1/chats/{chat_id}/join", headers=bob.headers)).status_code == 200
        async with gateway(live_server, bob) as bob_ws, gateway(live_server, alice) as alice_ws:
            await post(http, alice, chat_id, "hello subscribers")
            for ws in (bob_ws, alice_ws):  # the owner's connection too
                event = await ws.event(is_update(topic, "new_message"))
                assert event["data"]["update"]["message"]["text"] == "hello subscribers"


async def test_messages_send_typing_read_and_difference_over_the_gateway(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        alice, bob = await guest(http), await guest(http)
        opened = await http.post("/api/v1/chats/private", json={"user_id": bob.user_id}, headers=alice.headers)
        chat_id = opened.json()["chat"]["id"]
        async with gateway(live_server, alice) as alice_ws, gateway(live_server, bob) as bob_ws:
            await alice_ws.result("chats.typing", {"chat_id": chat_id})
            typing = await bob_ws.event(lambda f: f["event"] == "typing")
            assert typing["data"] == {"chat_id": chat_id, "user_id": alice.user_id, "action": "typing"}

            sent = await alice_ws.result(
                "messages.send",
                {"chat_id": chat_id, "text": "hi bob", "entities": [{"type": "bold", "offset": 3, "length": 3}]},
            )
            assert sent["message"]["text"] == "hi bob" and sent["message"]["id"] == 1
            update = await bob_ws.event(is_update(f"user:{bob.user_id}", "new_message"))
            data = update["data"]
            assert data["box"] == "common" and data["pts_count"] == 1 and isinstance(data["pts"], int)
            assert data["update"]["message"]["text"] == "hi bob"
            assert data["update"]["message"]["entities"][0]["type"] == "bold"

            assert await bob_ws.result("chats.read", {"chat_id": chat_id, "max_id": 1}) == {"read_inbox_max": 1}
            receipt = await alice_ws.event(is_update(f"user:{alice.user_id}", "read_outbox"))
            assert receipt["data"]["update"]["max_id"] == 1

            difference = await bob_ws.result("updates.difference", {"pts": 0})
            assert difference["kind"] == "slice"
            assert [u["update"]["type"] for u in difference["updates"]][-2:] == ["new_message", "read_inbox"]

        channel_id, _ = await create_channel(http, alice)
        await post(http, alice, channel_id, "first post")
        async with gateway(live_server, bob) as bob_ws:
            channel = await bob_ws.result("chats.difference", {"chat_id": channel_id, "pts": 0, "limit": 10})
            assert [u["update"]["message"]["text"] for u in channel["updates"]] == ["first post"]
            refused = await bob_ws.call("messages.send", {"chat_id": channel_id, "text": "not mine"})
            assert refused["type"] == "err" and refused["code"] not in ("internal_error", "invalid_params")


# --------------------------------------------------------------------------- roulette


def roulette_event(name: str) -> Callable[[Frame], bool]:
    return lambda frame: bool(frame["event"] == name)


async def test_roulette_over_the_gateway(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http, AsyncExitStack() as stack:
        alice, bob, carol = await guest(http), await guest(http), await guest(http)
        alice_ws = await stack.enter_async_context(gateway(live_server, alice))
        bob_ws = await stack.enter_async_context(gateway(live_server, bob))
        carol_ws = await stack.enter_async_context(gateway(live_server, carol))

        assert await alice_ws.result("roulette.start", {"languages": ["en"], "interests": ["chess"]}) == {
            "state": "searching"
        }
        started = await bob_ws.result("roulette.start", {"languages": ["en"], "interests": ["Chess", "go"]})
        assert started["state"] == "paired"
        matched = [await ws.event(roulette_event("roulette.matched")) for ws in (alice_ws, bob_ws)]
        pair_ids = {m["data"]["pair_id"] for m in matched}
        assert pair_ids == {started["pair_id"]}
        assert sorted(m["data"]["role"] for m in matched) == ["answerer", "offerer"]
        assert matched[0]["data"]["partner"]["common_interests"] == ["chess"]
        pair_id = started["pair_id"]
        offerer, answerer = (alice_ws, bob_ws) if matched[0]["data"]["role"] == "offerer" else (bob_ws, alice_ws)

        offer = {"type": "offer", "sdp": "v=0\r\n"}
        assert await offerer.result("roulette.signal", {"pair_id": pair_id, "kind": "offer", "payload": offer}) == {}
        relayed = await answerer.event(roulette_event("roulette.signal"))
        assert relayed["data"] == {"pair_id": pair_id, "kind": "offer", "payload": offer}

        assert await answerer.result("roulette.chat", {"pair_id": pair_id, "text": " hello there "}) == {}
        chat = await offerer.event(roulette_event("roulette.chat"))
        assert chat["data"] == {"pair_id": pair_id, "text": "hello there", "from": "partner"}

        intruder = await carol_ws.call("roulette.signal", {"pair_id": pair_id, "kind": "offer", "payload": offer})
        assert (intruder["type"], intruder["code"]) == ("err", "not_in_pair")
        await answerer.events_until_pong()
        assert len([f for f in answerer.frames if f.get("event") == "roulette.signal"]) == 1  # only the offer

        stats = await carol_ws.result("roulette.stats")
        assert stats == {"online": 2, "searching": 0, "paired": 2}

        await bob_ws.close()  # a dropped connection leaves Roulette: the partner is told
        left = await alice_ws.event(roulette_event("roulette.partner_left"))
        assert left["data"]["pair_id"] == pair_id
        assert await alice_ws.result("roulette.status") == {"state": "searching"}  # auto_next requeued alice
        assert await alice_ws.result("roulette.stop") == {"state": "stopped"}


async def test_roulette_stats_is_a_public_topic(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        someone = await guest(http)
        async with gateway(live_server, someone) as ws:
            assert await ws.result("topics.subscribe", {"topics": ["roulette:stats"]}) == {"topics": ["roulette:stats"]}
            stats = await ws.event(lambda f: f["topic"] == "roulette:stats")  # published about once a second
            assert stats["event"] == "roulette.stats" and set(stats["data"]) == {"online", "searching", "paired"}
            assert await ws.result("topics.unsubscribe", {"topics": ["roulette:stats"]}) == {"topics": []}
            refused = await ws.call("topics.subscribe", {"topics": [f"user:{someone.user_id}0"]})
            assert (refused["type"], refused["code"]) == ("err", "topic_not_allowed")


# --------------------------------------------------------------------------- validation


async def test_bad_params_are_invalid_params_never_internal_errors(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        someone = await guest(http)
        async with gateway(live_server, someone) as ws:
            bad: list[tuple[str, dict[str, Any]]] = [
                ("messages.send", {}),
                ("messages.send", {"chat_id": 5, "text": "hi"}),
                ("messages.send", {"chat_id": "12x", "text": "hi"}),
                ("messages.send", {"chat_id": "5", "text": "hi", "surprise": True}),
                ("messages.send", {"chat_id": "5", "text": "hi", "entities": [{"type": "bold"}]}),
                ("chats.typing", {"chat_id": "5", "action": "dancing"}),
                ("chats.read", {"chat_id": "5", "max_id": -1}),
                ("updates.difference", {"pts": "zero"}),
                ("chats.difference", {"chat_id": "5", "pts": 0, "limit": 0}),
                ("roulette.start", {"languages": "en"}),
                ("roulette.start", {"text_only": "yes"}),
                ("roulette.signal", {"pair_id": 1, "kind": "offer", "payload": {}}),
                ("roulette.signal", {"pair_id": "1", "kind": "shout", "payload": {}}),
                ("roulette.signal", {"pair_id": "1", "kind": "offer", "payload": []}),
                ("roulette.chat", {"pair_id": "1"}),
                ("roulette.block", {}),
                ("topics.subscribe", {"topics": "roulette:stats"}),
                ("topics.subscribe", {"topics": []}),
            ]
            for method, params in bad:
                reply = await ws.call(method, params)
                assert (reply["type"], reply["code"]) == ("err", "invalid_params"), (method, params, reply)
                assert reply["message"].startswith("Invalid params")
            invalid_language = await ws.call("roulette.start", {"languages": ["english!"]})
            assert invalid_language["code"] == "invalid_languages"  # the service's own rule
            assert await ws.result("echo", {"still": "open"}) == {"still": "open"}


# --------------------------------------------------------------------------- periodic jobs


async def test_periodic_jobs_survive_failures(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database hiccup")

    task = asyncio.create_task(every(0.01, flaky))
    async with asyncio.timeout(TIMEOUT):
        while calls < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "periodic job" in caplog.text and "database hiccup" in caplog.text
