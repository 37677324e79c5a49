"""Roulette in ``palaver serve --workers 2`` (Redis + PostgreSQL): two people connected to different
worker processes are paired and chat; when the Roulette owner (worker 0) is killed, the supervisor
restarts it and the person on the other worker is told ``roulette.reset``, then can start again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.integration.test_gateway_wiring import Client, Guest, guest
from tests.support.databases import postgres_database
from tests.support.workers import Cluster, cluster, connection_owner

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.multinode, pytest.mark.timeout(60)]

OWNER, REMOTE = 0, 1  # worker 0 holds the Roulette state; worker 1 forwards to it
WITHIN = 20.0  # seconds: a worker restart included

Frame = dict[str, Any]


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_database(migrated=False) as url:  # the supervisor applies the migrations
        yield url


async def _connect_to_worker(running: Cluster, who: Guest, want: int) -> Client:
    """A gateway connection served by worker ``want`` (reconnecting until the kernel picks it)."""
    pids = running.worker_pids()
    for _ in range(100):
        ws = await connect(running.gateway_url)
        if connection_owner(running.gateway_port, ws.local_address[1], pids) != want:
            await ws.close()
            continue
        await ws.send(json.dumps({"type": "auth", "token": who.token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), WITHIN))
        assert ready["type"] == "ready", ready
        client = Client(ws, ready)
        client.start()
        return client
    raise AssertionError(f"no connection landed on worker {want}")


async def _event(client: Client, predicate: Callable[[Frame], bool]) -> Frame:
    """The first event that matches, waiting for it to arrive (at most WITHIN seconds)."""
    async with asyncio.timeout(WITHIN):
        while True:
            for frame in client.frames:
                if frame["type"] == "event" and predicate(frame):
                    return frame
            await asyncio.sleep(0.02)


def _named(name: str) -> Callable[[Frame], bool]:
    return lambda frame: bool(frame["event"] == name)


async def _stats_become(client: Client, expected: dict[str, int]) -> None:
    """``roulette.stats`` on a proxy answers from the owner's latest ``roulette.stats`` event."""
    async with asyncio.timeout(WITHIN):
        while True:
            if await client.result("roulette.stats") == expected:
                return
            await asyncio.sleep(0.1)


async def test_people_on_different_workers_meet_and_learn_of_an_owner_restart(tmp_path: Path, database: str) -> None:
    with cluster(tmp_path / "cluster", database) as running:
        async with httpx.AsyncClient(base_url=running.http_url) as http:
            alice, bob = await guest(http), await guest(http)
        a = await _connect_to_worker(running, alice, REMOTE)
        b = await _connect_to_worker(running, bob, OWNER)
        try:
            assert await a.result("roulette.start", {"languages": ["en"]}) == {"state": "searching"}
            paired = await b.result("roulette.start", {"languages": ["en"]})
            assert paired["state"] == "paired"
            pair_id = paired["pair_id"]
            matched = await _event(a, _named("roulette.matched"))
            assert matched["data"]["pair_id"] == pair_id

            assert await a.result("roulette.chat", {"pair_id": pair_id, "text": "hello from worker 1"}) == {}
            chat = await _event(b, _named("roulette.chat"))
            assert chat["data"] == {"pair_id": pair_id, "text": "hello from worker 1", "from": "partner"}
            assert await b.result("roulette.chat", {"pair_id": pair_id, "text": "hello from worker 0"}) == {}
            assert (await _event(a, _named("roulette.chat")))["data"]["text"] == "hello from worker 0"
            await _stats_become(a, {"online": 2, "searching": 0, "paired": 2})

            wrong = await a.call("roulette.chat", {"pair_id": "1", "text": "to nobody"})
            assert (wrong["type"], wrong["code"]) == ("err", "not_in_pair")  # the owner's error, relayed

            os.kill(running.worker_pids()[OWNER], signal.SIGKILL)  # the owner dies with the state
            reset = await _event(a, _named("roulette.reset"))  # the supervisor restarted it
            assert reset["data"] == {"reason": "owner_restarted"}
            assert reset["topic"] == f"session:{a.ready['session_id']}"
            assert await a.result("roulette.status") == {"state": "stopped"}
            assert await a.result("roulette.start", {"languages": ["en"]}) == {"state": "searching"}
        finally:
            await a.close()
            await b.close()
