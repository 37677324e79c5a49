"""Exactly-once sync: concurrent senders, a client that loses its live feed at random points and
recovers with getDifference; in the end its state equals a fresh load. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.updates import PtsCheck, check_pts
from palaver.domain.sessions import Principal
from palaver.errors import PalaverError
from tests.support.messenger import MWorld, messenger_world

Key = tuple[str, int]


class SimulatedClient:
    """Applies updates with the pts rule; on a gap (or after reconnecting) calls getDifference."""

    def __init__(self, world: MWorld, me: Principal, rng: random.Random, drop_rate: float) -> None:
        self.world, self.me, self.rng, self.drop_rate = world, me, rng, drop_rate
        self.pts = 0
        self.channel_pts: dict[int, int] = {}
        self.messages: dict[Key, dict[str, Any]] = {}
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.online = True
        self.dropped = self.applied = self.differences = 0

    def on_frame(self, topic: str, payload: bytes) -> None:
        if not self.online or self.rng.random() < self.drop_rate:
            self.dropped += 1
            return
        self.inbox.put_nowait(msgspec.json.decode(payload))

    async def follow(self, chat_id: int, pts: int) -> None:
        self.channel_pts[chat_id] = pts
        await self.world.broker.subscribe(f"channel:{chat_id}", self.on_frame)

    async def process(self, frame: dict[str, Any]) -> None:
        if frame["event"] != "update":
            return
        data = frame["data"]
        box: str = data["box"]
        if box == "common":
            verdict = check_pts(self.pts, data["pts"], data["pts_count"])
            if verdict is PtsCheck.APPLY:
                self.apply(data["update"])
                self.pts = data["pts"]
            elif verdict is PtsCheck.GAP:
                await self.catch_up_common()
        else:
            chat_id = int(box.split(":")[1])
            verdict = check_pts(self.channel_pts[chat_id], data["pts"], data["pts_count"])
            if verdict is PtsCheck.APPLY:
                self.apply(data["update"])
                self.channel_pts[chat_id] = data["pts"]
            elif verdict is PtsCheck.GAP:
                await self.catch_up_channel(chat_id)

    async def catch_up_common(self) -> None:
        while True:
            self.differences += 1
            answer = await self.world.messenger.sync.difference(self.me, self.pts, limit=7)
            assert answer["kind"] in ("empty", "slice"), answer["kind"]
            for item in answer["updates"]:
                self.apply(item["update"])
            self.pts = answer["pts"]
            if answer["final"]:
                return

    async def catch_up_channel(self, chat_id: int) -> None:
        while True:
            self.differences += 1
            answer = await self.world.messenger.sync.channel_difference(
                self.me, chat_id, self.channel_pts[chat_id], limit=5
            )
            assert answer["kind"] in ("empty", "slice"), answer["kind"]
            for item in answer["updates"]:
                self.apply(item["update"])
            self.channel_pts[chat_id] = answer["pts"]
            if answer["final"]:
                return

    async def reconnect(self) -> None:
        self.online = True
        await self.catch_up_common()
        for chat_id in list(self.channel_pts):
            await self.catch_up_channel(chat_id)

    def apply(self, update: dict[str, Any]) -> None:
        kind = update["type"]
        if kind == "new_message":
            message = update["message"]
            key = (message["chat_id"], message["id"])
            assert key not in self.messages, f"duplicate new_message {key}"
            self.messages[key] = message
            self.applied += 1
        elif kind == "edit_message":
            message = update["message"]
            self.messages[(message["chat_id"], message["id"])] = message
        elif kind == "delete_messages":
            for msg_id in update["ids"]:
                self.messages.pop((update["chat_id"], msg_id), None)
        elif kind == "message_reactions":
            key = (update["chat_id"], update["msg_id"])
            if key in self.messages:
                self.messages[key] = {**self.messages[key], "reactions": update["reactions"]}


async def fresh_load(world: MWorld, me: Principal, chat_ids: list[int]) -> dict[Key, dict[str, Any]]:
    state: dict[Key, dict[str, Any]] = {}
    for chat_id in chat_ids:
        offset = 0
        while True:
            page = await world.messenger.history.history(me, chat_id, offset_id=offset, limit=100)
            for message in page["messages"]:
                message.pop("my_reaction")
                state[(message["chat_id"], message["id"])] = message
            if len(page["messages"]) < 100:
                break
            offset = page["messages"][-1]["id"]
    return state


@pytest.fixture(
    params=[
        pytest.param(("sqlite", True), id="sqlite-group-commit"),
        pytest.param(("sqlite", False), id="sqlite"),
        pytest.param(("postgres", False), id="postgres", marks=pytest.mark.postgres),
        pytest.param(("postgres", True), id="postgres-group-commit", marks=pytest.mark.postgres),
    ]
)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MWorld]:
    backend, batch = request.param
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    async with messenger_world(backend, tmp_path, postgres_url=url, batch=batch) as w:
        yield w


@pytest.mark.parametrize("seed", [1, 2])
async def test_client_converges_exactly_once(world: MWorld, seed: int) -> None:
    rng = random.Random(seed)
    m = world.messenger
    me = await world.user("client")
    others = [await world.user(f"sender{i}") for i in range(4)]
    privates = [await m.chats.open_private(o, me.user_id) for o in others[:2]]
    group = await m.chats.create_group(others[0], "Basic group", [me.user_id, *(o.user_id for o in others)])
    channel = await m.chats.create_channel(others[1], "Channel", username="exactly_once_news")
    supergroup = await m.chats.create_channel(others[2], "Super", kind=ChatKind.SUPERGROUP, username="exactly_super")
    for chat in (channel, supergroup):
        await m.chats.join(me, chat.id)
    for o in (others[0], others[1], others[3]):
        await m.chats.join(o, supergroup.id)
    await m.chats.join(others[3], channel.id)
    await m.chats.promote(others[1], channel.id, others[3].user_id, ["post_messages"])

    client = SimulatedClient(world, me, rng, drop_rate=0.15)
    await world.broker.subscribe(f"user:{me.user_id}", client.on_frame)
    await client.catch_up_common()
    for topic in await m.channel_topics_for(me.user_id):
        chat_id = int(topic.split(":")[1])
        await client.follow(chat_id, 0)
        await client.catch_up_channel(chat_id)

    writable: dict[int, list[Principal]] = {
        privates[0].id: [others[0], me],
        privates[1].id: [others[1], me],
        group.id: [others[0], others[1], others[2], me],
        channel.id: [others[1], others[3]],
        supergroup.id: [others[0], others[2], others[3], me],
    }
    chats = list(writable)
    sent: list[tuple[Principal, int, int]] = []
    errors: list[str] = []

    async def sender(worker: int) -> None:
        local = random.Random(seed * 100 + worker)
        for step in range(40):
            chat_id = local.choice(chats)
            who = local.choice(writable[chat_id])
            action = local.random()
            try:
                if action < 0.6 or not sent:
                    msg = await m.messages.send(who, chat_id, f"w{worker} s{step} élève")
                    sent.append((who, chat_id, msg.id))
                elif action < 0.75:
                    author, cid, mid = local.choice(sent)
                    await m.messages.edit(author, cid, mid, f"edited {worker}.{step}")
                elif action < 0.85:
                    author, cid, mid = local.choice(sent)
                    await m.messages.delete(author, cid, [mid], for_everyone=True)
                else:
                    _, cid, mid = local.choice(sent)
                    reactor = local.choice([o for o in writable[cid] if o is not me] or [me])
                    await m.messages.react(reactor, cid, mid, local.choice(["👍", "🔥", None]))
            except PalaverError as exc:  # e.g. editing a message another worker deleted
                errors.append(exc.code)
            await asyncio.sleep(0)

    async def client_loop(stop: asyncio.Event) -> None:
        while not stop.is_set() or not client.inbox.empty():
            try:
                frame = await asyncio.wait_for(client.inbox.get(), timeout=0.05)
            except TimeoutError:
                frame = None
            if frame is not None:
                await client.process(frame)
            if rng.random() < 0.05:  # the connection drops …
                client.online = False
            elif not client.online and rng.random() < 0.3:  # … and comes back
                await client.reconnect()

    stop = asyncio.Event()
    loop_task = asyncio.create_task(client_loop(stop))
    await asyncio.gather(*(sender(i) for i in range(4)))
    stop.set()
    await loop_task
    await client.reconnect()  # resync after idle, as clients do

    expected = await fresh_load(world, me, chats)
    assert client.messages == expected
    assert set(errors) <= {"message_not_found", "message_not_modified"}
    assert client.dropped > 0 and client.differences > 0
    assert len(expected) > 20
