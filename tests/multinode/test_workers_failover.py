"""Two worker processes on the same ports, joined by Redis, on one database: users on
different workers exchange private and group messages and channel posts; one worker is killed with
SIGKILL mid-stream; its clients reconnect (to the survivor or the restarted worker), catch up with
the difference calls, and end with exactly the state a fresh load gives — nothing lost, nothing
duplicated, every acknowledged send present."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import postgres_database, sqlite_url
from tests.support.sync_client import Disconnected, RequestFailed, SyncClient
from tests.support.workers import Cluster, cluster, connection_owner

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.multinode, pytest.mark.timeout(90)]

USERS = 4  # users 0 and 2 on worker 0, users 1 and 3 on worker 1
SENDS_PER_USER = 24
KILL_AFTER_ACKS = 30  # kill worker 1 once this many sends have been acknowledged
KILLED = 1
_names = itertools.count(1)


@dataclass
class Outcome:
    acked: list[tuple[str, int, str]] = field(default_factory=list)  # (chat id, message id, text)
    unacked: list[tuple[str, str]] = field(default_factory=list)  # (chat id, text): reply lost in the crash
    retried: int = 0


@dataclass
class Progress:
    """Acknowledged sends of every client together; ``busy`` is set once there are enough."""

    acked: int = 0
    busy: asyncio.Event = field(default_factory=asyncio.Event)

    def ack(self) -> None:
        self.acked += 1
        if self.acked >= KILL_AFTER_ACKS:
            self.busy.set()


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """PostgreSQL (recommended), and a SQLite file in WAL mode shared by both workers."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_database(migrated=False) as url:  # the supervisor applies the migrations
        yield url


async def _guest(http: httpx.AsyncClient) -> tuple[str, str]:
    body = (await http.post("/api/v1/auth/guest", json={})).json()
    return body["session_token"], body["user"]["id"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _created(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), response.text
    return str(response.json()["chat"]["id"])


async def _set_up_chats(http: httpx.AsyncClient, users: list[tuple[str, str]]) -> dict[str, Any]:
    """Private chats 0–1 and 2–3, a group of everyone, and two channels (owned by users 0 and 1)
    that everyone joins."""
    (t0, _), (t1, u1), (t2, _), (_, u3) = users
    private01 = await _created(await http.post("/api/v1/chats/private", json={"user_id": u1}, headers=_auth(t0)))
    private23 = await _created(await http.post("/api/v1/chats/private", json={"user_id": u3}, headers=_auth(t2)))
    group = await _created(
        await http.post(
            "/api/v1/chats/groups",
            json={"title": "all", "member_ids": [u for _, u in users[1:]]},
            headers=_auth(t0),
        )
    )
    channels = []
    for owner in (t0, t1):
        body = {"title": "news", "kind": "channel", "username": f"failover{next(_names)}{secrets.token_hex(3)}"}
        chat_id = await _created(await http.post("/api/v1/chats/channels", json=body, headers=_auth(owner)))
        for token, _ in users:
            if token != owner:
                joined = await http.post(f"/api/v1/chats/{chat_id}/join", headers=_auth(token))
                assert joined.status_code == 200, joined.text
        channels.append(chat_id)
    targets = {
        0: [private01, group, channels[0]],
        1: [private01, group, channels[1]],
        2: [private23, group],
        3: [private23, group],
    }
    return {"targets": targets, "channels": channels}


async def _place(client: SyncClient, running: Cluster, want: int) -> None:
    """Reconnect ``client`` until its connection is served by worker ``want``."""
    pids = running.worker_pids()

    def on_wanted_worker() -> bool:
        ws = client._ws
        assert ws is not None
        return connection_owner(running.gateway_port, ws.local_address[1], pids) == want

    await client.reconnect_to(on_wanted_worker)


async def _supports_random_id(client: SyncClient, chat_id: str, outcome: Outcome) -> bool:
    """Whether ``messages.send`` takes a ``random_id`` (idempotent sends) on this build."""
    try:
        result = await client.request("messages.send", {"chat_id": chat_id, "text": "probe", "random_id": 1})
    except RequestFailed as exc:
        if exc.code != "invalid_params":
            raise
        return False
    outcome.acked.append((chat_id, int(result["message"]["id"]), "probe"))
    return True


async def _send_all(
    index: int, client: SyncClient, targets: list[str], outcome: Outcome, *, idempotent: bool, progress: Progress
) -> None:
    for n in range(SENDS_PER_USER):
        chat_id = targets[n % len(targets)]
        text = f"u{index}-{n}"
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if idempotent:
            params["random_id"] = (index + 1) * 1_000_000 + n
        while True:
            try:
                result = await client.request("messages.send", params)
            except (Disconnected, TimeoutError):
                if idempotent:  # the reply was lost: send again with the same random_id
                    outcome.retried += 1
                    continue
                outcome.unacked.append((chat_id, text))
                break
            outcome.acked.append((chat_id, int(result["message"]["id"]), text))
            progress.ack()
            break
        await asyncio.sleep(0)  # let the other clients interleave


async def _fresh_box(http: httpx.AsyncClient, token: str, path: str) -> tuple[int, dict[str, dict[int, str]]]:
    """Replay a box from pts 0 (a fresh load): its pts and its messages; pts must be gap-free."""
    pts, messages = 0, {}
    while True:
        response = await http.get(path, params={"pts": pts, "limit": 1000}, headers=_auth(token))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["kind"] in ("empty", "slice"), body
        for item in body["updates"]:
            assert item["pts"] == pts + item["pts_count"], (path, pts, item)  # gap-free, unique
            pts = item["pts"]
            update = item["update"]
            if update["type"] == "new_message":
                message = update["message"]
                messages.setdefault(message["chat_id"], {})[int(message["id"])] = message["text"]
        pts = max(pts, body["pts"])
        if body["kind"] == "empty" or body["final"]:
            return pts, messages


async def _history(http: httpx.AsyncClient, token: str, chat_id: str) -> list[tuple[int, str]]:
    response = await http.get(f"/api/v1/chats/{chat_id}/messages", params={"limit": 100}, headers=_auth(token))
    assert response.status_code == 200, response.text
    found = [(int(m["id"]), m["text"]) for m in response.json()["messages"]]
    assert len(found) < 100  # one page holds the whole chat
    return found


async def _scenario(running: Cluster) -> None:
    async with httpx.AsyncClient(base_url=running.http_url, timeout=10.0) as http:
        users = [await _guest(http) for _ in range(USERS)]
        plan = await _set_up_chats(http, users)
        channels: list[str] = plan["channels"]
        clients = [SyncClient(running.gateway_url, token, user_id, list(channels)) for token, user_id in users]
        for index, client in enumerate(clients):
            await client.start()
            await _place(client, running, index % 2)
        outcomes = [Outcome() for _ in clients]
        idempotent = await _supports_random_id(clients[0], plan["targets"][0][0], outcomes[0])

        progress = Progress()
        senders = [
            asyncio.create_task(
                _send_all(i, c, plan["targets"][i], outcomes[i], idempotent=idempotent, progress=progress)
            )
            for i, c in enumerate(clients)
        ]
        killed_pid = running.worker_pids()[KILLED]

        async def kill_when_busy() -> None:
            await progress.busy.wait()
            os.kill(killed_pid, signal.SIGKILL)  # mid-stream: the clients keep sending

        killer = asyncio.create_task(kill_when_busy())
        await asyncio.wait_for(asyncio.gather(*senders, killer), 60)
        assert not senders[0].exception()

        restarted = await asyncio.to_thread(running.wait_all_workers, 30.0)
        assert restarted[KILLED] != killed_pid  # the supervisor started a new worker 1
        for client in clients:
            assert client.failure is None, client.failure
            await client.sync_until_done()  # "after idle": catch up once more

        try:
            await _check_against_fresh_load(http, users, clients, outcomes, channels, idempotent=idempotent)
            print(  # shown with -s: what the crash did
                f"idempotent={idempotent} reconnects={[c.reconnects for c in clients]} gaps={[c.gaps for c in clients]}"
                f" retried={[o.retried for o in outcomes]} unacked={[len(o.unacked) for o in outcomes]}"
            )
            for index, client in enumerate(clients):
                if index % 2 == KILLED:
                    assert client.reconnects >= 1, f"client {index} on the killed worker never reconnected"
        finally:
            for client in clients:
                await client.close()


async def _check_against_fresh_load(
    http: httpx.AsyncClient,
    users: list[tuple[str, str]],
    clients: list[SyncClient],
    outcomes: list[Outcome],
    channels: list[str],
    *,
    idempotent: bool,
) -> None:
    histories: dict[str, list[tuple[int, str]]] = {}
    for (token, _), client in zip(users, clients, strict=True):
        pts, fresh = await _fresh_box(http, token, "/api/v1/updates/difference")
        state = (await http.get("/api/v1/updates/state", headers=_auth(token))).json()
        assert client.common.pts == pts == state["pts"], (client.common.pts, pts, state)
        for chat_id in channels:
            channel_pts, posts = await _fresh_box(http, token, f"/api/v1/chats/{chat_id}/difference")
            assert client.channel_boxes[chat_id].pts == channel_pts
            fresh.update(posts)
        assert client.messages == fresh  # the client's state equals a fresh load
        for chat_id, messages in fresh.items():
            history = histories.setdefault(chat_id, await _history(http, token, chat_id))
            assert dict(history) == messages

    for chat_id, history in histories.items():
        texts = Counter(text for _, text in history)
        assert not [t for t, n in texts.items() if n > 1], f"duplicates in {chat_id}"
        ids = [msg_id for msg_id, _ in history]
        assert sorted(ids) == list(range(1, len(ids) + 1)), f"message ids of {chat_id} have gaps"
    stored = {(chat_id, msg_id, text) for chat_id, history in histories.items() for msg_id, text in history}
    for outcome in outcomes:
        for acked in outcome.acked:
            assert acked in stored, f"acknowledged send lost: {acked}"
        for chat_id, text in outcome.unacked:  # without idempotency a lost reply may or may not be stored
            assert sum(1 for c, _, t in stored if c == chat_id and t == text) <= 1
    total = sum(len(o.acked) + len(o.unacked) for o in outcomes)
    assert total == USERS * SENDS_PER_USER + 1  # + the probe
    if idempotent:
        assert all(not o.unacked for o in outcomes)
        assert len(stored) == total


async def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path: Path, database: str) -> None:
    with cluster(tmp_path / "cluster", database) as running:
        await _scenario(running)
