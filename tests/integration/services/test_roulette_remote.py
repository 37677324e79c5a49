"""Roulette across processes: one owner (RouletteService + RouletteRpcServer) and proxies in other
"processes" (each on its own broker connection when the broker is Redis), on every broker backend.

Nothing here sleeps to let time pass: the owner's clock is a ManualClock; waits are for messages
crossing the broker, bounded by TIMEOUT (and the proxies' call timeout where a call must time out).
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import msgspec
import pytest

from palaver.adapters.broker import make_broker
from palaver.clock import ManualClock
from palaver.config import Settings
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, ErrorKind, Forbidden, InvalidInput, PalaverError, RateLimited, Unavailable
from palaver.ids import SnowflakeIds
from palaver.ports import Broker
from palaver.services.roulette import STATS_TOPIC, RouletteService
from palaver.services.roulette_remote import (
    RESET_EVENT,
    RemoteRoulette,
    RouletteOwnerError,
    RouletteRpcServer,
    distribute_roulette,
    roulette_role,
)
from palaver.services.roulette_remote.wire import Failure, error_of, failure_of

REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 10.0


def person(n: int) -> Principal:
    return Principal(user_id=n, session_id=1000 + n, role=Role.USER)


def topic(p: Principal) -> str:
    return f"session:{p.session_id}"


A, B, C, D = person(1), person(2), person(3), person(4)


class Inbox:
    """Every event published on the topics it listens to, decoded, in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self._arrived = asyncio.Event()

    def __call__(self, topic: str, payload: bytes) -> None:
        frame = msgspec.json.decode(payload)
        self.events.append((topic, frame["event"], frame["data"]))
        self._arrived.set()

    def on(self, topic: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, data) for t, name, data in self.events if t == topic]

    async def event(self, topic: str, name: str) -> dict[str, Any]:
        """The first ``name`` event on ``topic`` so far or to come."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                for t, n, data in self.events:
                    if t == topic and n == name:
                        return data
                self._arrived.clear()
                await self._arrived.wait()


async def wait_until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


class ExtendedRoulette(RouletteService):
    """Stands for methods other engineers add to RouletteService: forwarded with no change."""

    notes: list[str]

    async def count_pairs(self, principal: Principal, *, pairs: list[tuple[int, int]]) -> tuple[int, Principal]:
        return len(pairs), principal

    def remember(self, note: str) -> None:
        self.notes.append(note)


@dataclass
class Cluster:
    kind: str
    prefix: str
    clock: ManualClock
    stack: AsyncExitStack
    inbox: Inbox
    shared: Broker | None = None  # the one memory broker every "process" shares
    owners: list[RouletteRpcServer] = field(default_factory=list)

    async def broker(self) -> Broker:
        """The broker connection of a new "process"."""
        if self.shared is not None:
            return self.shared
        broker = make_broker("redis", redis_url=REDIS_URL, prefix=self.prefix)
        await broker.start()
        self.stack.push_async_callback(broker.close)
        return broker

    async def owner(self, service_class: type[RouletteService] = RouletteService) -> RouletteService:
        broker = await self.broker()
        service = service_class(broker=broker, clock=self.clock, ids=SnowflakeIds(self.clock), rng=random.Random(7))
        server = RouletteRpcServer(service, broker=broker, clock=self.clock)
        await server.start()
        self.stack.push_async_callback(server.close)
        self.owners.append(server)
        return service

    async def proxy(self, **options: Any) -> RemoteRoulette:
        proxy = RemoteRoulette(broker=await self.broker(), **options)
        await proxy.follow_owner()
        self.stack.push_async_callback(proxy.unfollow_owner)
        return proxy


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack:
        prefix = f"test:{uuid4().hex}:"
        shared = None
        if request.param == "memory":
            shared = make_broker("memory", redis_url=None, prefix=prefix)
            await shared.start()
            stack.push_async_callback(shared.close)
        world = Cluster(request.param, prefix, ManualClock(), stack, Inbox(), shared)
        watcher = await world.broker()  # the gateways' side: what reaches the session topics
        for p in (A, B, C, D):
            await watcher.subscribe(topic(p), world.inbox)
        yield world


async def begin(roulette: RouletteService | RemoteRoulette, p: Principal, **options: Any) -> dict[str, Any]:
    reply: dict[str, Any] = await roulette.start(
        p, languages=["en"], interests=[], text_only=False, display_name=f"User {p.user_id}", **options
    )
    return reply


# --------------------------------------------------------------------------- pairing and relays


async def test_people_behind_different_processes_meet(cluster: Cluster) -> None:
    service = await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    assert await begin(one, A) == {"state": "searching"}
    reply = await begin(two, B)
    assert reply["state"] == "paired"
    assert reply["partner"]["display_name"] == "User 1"
    to_a = await cluster.inbox.event(topic(A), "roulette.matched")
    to_b = await cluster.inbox.event(topic(B), "roulette.matched")
    assert to_a["pair_id"] == to_b["pair_id"] == reply["pair_id"]
    assert to_a["partner"]["display_name"] == "User 2"
    assert await one.status(A) == {"state": "paired", **{k: v for k, v in to_a.items()}}
    assert service.stats() == {"online": 2, "searching": 0, "paired": 2}
    assert service.check_invariants() == []


async def test_signals_and_chat_cross_processes_and_next_and_stop_work(cluster: Cluster) -> None:
    service = await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    await begin(one, A)
    pair_id = (await begin(two, B))["pair_id"]
    await one.relay_signal(A, pair_id=pair_id, kind="offer", payload={"sdp": "v=0"})
    assert await cluster.inbox.event(topic(B), "roulette.signal") == {
        "pair_id": pair_id,
        "kind": "offer",
        "payload": {"sdp": "v=0"},
    }
    await two.send_chat(B, pair_id=pair_id, text=" hello from two ")
    assert await cluster.inbox.event(topic(A), "roulette.chat") == {
        "pair_id": pair_id,
        "text": "hello from two",
        "from": "partner",
    }

    assert await two.next(B) == {"state": "searching"}
    assert (await cluster.inbox.event(topic(A), "roulette.partner_left"))["pair_id"] == pair_id
    assert await one.stop(A) == {"state": "stopped"}
    await two.disconnect(B.session_id)
    assert service.stats() == {"online": 0, "searching": 0, "paired": 0}
    assert service.check_invariants() == []


async def test_blocks_reach_the_owner_and_generic_methods_are_forwarded(cluster: Cluster) -> None:
    service = await cluster.owner(ExtendedRoulette)
    assert isinstance(service, ExtendedRoulette)
    service.notes = []
    one = await cluster.proxy(service_class=ExtendedRoulette)
    count, who = await one.count_pairs(A, pairs=[(1, 2), (3, 4)])
    assert (count, who) == (2, A) and isinstance(who, Principal)
    one.remember("noted")
    one.add_block(A.user_id, B.user_id)  # a plain method returning None: sent without waiting
    await one.drain()
    await wait_until(lambda: service.notes == ["noted"])
    await begin(one, A)
    assert await begin(one, B) == {"state": "searching"}  # blocked: never paired
    assert await begin(one, C) == {"state": "paired", **(await one.status(C))}


async def test_a_blocked_pair_through_the_proxy(cluster: Cluster) -> None:
    await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    await begin(one, A)
    pair_id = (await begin(two, B))["pair_id"]
    assert await one.block(A, pair_id=pair_id) == {"state": "searching"}
    await two.next(B)
    assert await one.status(A) == {"state": "searching"}  # A and B do not meet again
    assert await two.status(B) == {"state": "searching"}


# --------------------------------------------------------------------------- errors and failures


async def test_errors_are_raised_in_the_caller_with_their_class_and_code(cluster: Cluster) -> None:
    await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    with pytest.raises(Conflict) as not_started:
        await one.next(A)
    assert not_started.value.code == "not_started" and not_started.value.kind is ErrorKind.CONFLICT
    assert str(not_started.value) == not_started.value.message == "Roulette is not started in this session."
    await begin(one, A)
    with pytest.raises(Conflict, match="already started") as twice:
        await begin(two, A)
    assert twice.value.code == "already_started"
    pair_id = (await begin(two, B))["pair_id"]
    with pytest.raises(Forbidden) as stranger:
        await two.send_chat(C, pair_id=pair_id, text="hi")
    assert stranger.value.code == "not_in_pair"
    with pytest.raises(InvalidInput) as empty:
        await one.send_chat(A, pair_id=pair_id, text="   ")
    assert empty.value.code == "invalid_chat_text"
    for n in range(10):  # the burst; the clock stands still
        await one.send_chat(A, pair_id=pair_id, text=f"message {n}")
    with pytest.raises(RateLimited) as limited:
        await one.send_chat(A, pair_id=pair_id, text="one too many")
    assert limited.value.code == "chat_rate_limited"
    assert limited.value.retry_after is not None and limited.value.retry_after > 0
    with pytest.raises(TypeError):  # a wrong call fails in the caller, as it would in-process
        await one.status(A, 42)


async def test_hundreds_of_concurrent_calls_are_all_answered(cluster: Cluster) -> None:
    await cluster.owner()
    one = await cluster.proxy()
    await one.status(A)  # the reply topic is subscribed: the calls below all publish at once
    people = [Principal(user_id=n, session_id=5000 + n, role=Role.USER) for n in range(300)]
    replies = await asyncio.gather(*(one.status(p) for p in people))  # past the Redis client's pool size
    assert replies == [{"state": "stopped"}] * len(people)


async def test_no_owner_means_roulette_unavailable(cluster: Cluster) -> None:
    lonely = await cluster.proxy(timeout_seconds=0.2)
    with pytest.raises(Unavailable) as failed:
        await begin(lonely, A)
    assert failed.value.code == "roulette_unavailable"
    assert lonely.stats() == {"online": 0, "searching": 0, "paired": 0}


async def test_a_disconnect_the_owner_missed_is_sent_again(cluster: Cluster) -> None:
    service = await cluster.owner()
    one, two = await cluster.proxy(timeout_seconds=0.2), await cluster.proxy()
    await begin(one, A)
    pair_id = (await begin(two, B))["pair_id"]
    server = cluster.owners[0]
    await server.close()  # the owner cannot be reached for a while (its state stays)
    with pytest.raises(Unavailable):
        await one.disconnect(A.session_id)
    assert service.stats()["paired"] == 2
    await server.start()
    await one.heartbeat()  # retries the disconnect
    assert (await cluster.inbox.event(topic(B), "roulette.partner_left"))["pair_id"] == pair_id
    assert service.stats() == {"online": 1, "searching": 1, "paired": 0}


async def test_stats_come_from_the_owner(cluster: Cluster) -> None:
    service = await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    watcher = await cluster.broker()
    published: list[bytes] = []
    await watcher.subscribe(STATS_TOPIC, lambda _t, payload: published.append(payload))
    await begin(one, A)
    await begin(two, B)
    await begin(two, C)
    assert await service.maybe_publish_stats()
    expected = {"online": 3, "searching": 1, "paired": 2}
    await wait_until(lambda: one.stats() == expected and two.stats() == expected)
    assert len(published) == 1  # proxies publish no stats of their own


# --------------------------------------------------------------------------- owner restarts, silent processes


async def test_a_restarted_owner_makes_the_proxies_reset_their_sessions(cluster: Cluster) -> None:
    await cluster.owner()
    one, two = await cluster.proxy(), await cluster.proxy()
    await begin(one, A)
    await begin(two, B)
    await begin(two, C)
    await one.stop(A)  # A left before the restart: nothing to reset
    await cluster.owners[0].close()  # the owner process died: its state is gone
    await cluster.owner()  # the supervisor started it again; it announces itself
    assert await cluster.inbox.event(topic(B), RESET_EVENT) == {"reason": "owner_restarted"}
    assert await cluster.inbox.event(topic(C), RESET_EVENT) == {"reason": "owner_restarted"}
    await wait_until(lambda: one.owner == two.owner == cluster.owners[1].incarnation)
    await one.drain()  # the resets the proxies sent have all been published
    await two.drain()
    assert await begin(one, A) == {"state": "searching"}
    assert await begin(two, B) == {"state": "paired", **(await two.status(B))}
    await cluster.inbox.event(topic(A), "roulette.matched")  # published after any reset, so arrives after it
    assert [name for name, _ in cluster.inbox.on(topic(A)) if name == RESET_EVENT] == []


async def test_a_proxy_that_learns_of_the_restart_from_a_reply_resets_all_but_the_caller(cluster: Cluster) -> None:
    await cluster.owner()
    one = await cluster.proxy()
    await one.unfollow_owner()  # hears no heartbeats: only replies tell it who the owner is
    await begin(one, A)
    await begin(one, B)
    first = one.owner
    await cluster.owners[0].close()
    await cluster.owner()
    assert one.owner == first
    assert await begin(one, A) == {"state": "searching"}  # the new owner does not know A: a fresh start
    assert one.owner == cluster.owners[1].incarnation
    assert await cluster.inbox.event(topic(B), RESET_EVENT) == {"reason": "owner_restarted"}
    await one.drain()
    await begin(one, C)
    await cluster.inbox.event(topic(A), "roulette.matched")  # published after any reset
    assert [name for name, _ in cluster.inbox.on(topic(A)) if name == RESET_EVENT] == []


async def test_sessions_of_a_silent_process_leave_roulette(cluster: Cluster) -> None:
    service = await cluster.owner()
    server = cluster.owners[0]
    one, two = await cluster.proxy(), await cluster.proxy()
    await begin(one, A)
    pair_id = (await begin(two, B))["pair_id"]
    await begin(one, C)
    cluster.clock.advance(9.0)
    assert await server.sweep() == []
    cluster.clock.advance(1.0)
    await two.status(B)  # process two is alive (any call or heartbeat says so); process one is silent
    assert await server.sweep() == [A.session_id, C.session_id]
    assert (await cluster.inbox.event(topic(B), "roulette.partner_left"))["pair_id"] == pair_id
    assert service.stats() == {"online": 1, "searching": 1, "paired": 0}
    assert service.check_invariants() == []
    cluster.clock.advance(10.0)
    await two.heartbeat()  # a heartbeat alone keeps process two's sessions
    three = await cluster.proxy()
    await three.status(D)  # published after the heartbeat, so the owner has seen the heartbeat
    assert await server.sweep() == []
    assert service.stats() == {"online": 1, "searching": 1, "paired": 0}


# --------------------------------------------------------------------------- wiring and wire format


def test_the_role_follows_the_worker_settings() -> None:
    assert roulette_role(Settings(workers=1)) == "single"
    assert roulette_role(Settings(workers=3, worker_index=0)) == "owner"
    assert roulette_role(Settings(workers=3, worker_index=2)) == "remote"
    assert roulette_role(Settings(workers=1, roulette_role="remote")) == "remote"


async def test_one_process_uses_the_service_itself_and_several_get_a_proxy_or_a_server() -> None:
    broker = make_broker("memory", redis_url=None, prefix="")
    clock = ManualClock()
    service = RouletteService(broker=broker, clock=clock, ids=SnowflakeIds(clock))
    assert distribute_roulette(service, Settings(workers=1), broker=broker, clock=clock) == (service, None)
    owner, server = distribute_roulette(service, Settings(workers=2), broker=broker, clock=clock)
    assert owner is service and isinstance(server, RouletteRpcServer)
    remote, none = distribute_roulette(service, Settings(workers=2, worker_index=1), broker=broker, clock=clock)
    assert isinstance(remote, RemoteRoulette) and none is None


def test_every_public_coroutine_method_of_the_service_is_forwarded() -> None:
    proxy = RemoteRoulette(broker=make_broker("memory", redis_url=None, prefix=""))
    public_async = {
        name
        for name, fn in inspect.getmembers(RouletteService, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert public_async - {"run", "tick", "maybe_publish_stats"} <= proxy.methods
    assert {"start", "next", "stop", "status", "disconnect", "block", "relay_signal", "send_chat"} <= proxy.methods
    assert "add_block" in proxy.methods  # plain, returns None: sent without waiting
    assert not {"run", "tick", "maybe_publish_stats", "stats", "check_invariants"} & proxy.methods
    with pytest.raises(AttributeError):
        proxy.check_invariants  # noqa: B018
    own = {name for name in dir(RemoteRoulette) if not name.startswith("_")}
    service_names = {name for name in dir(RouletteService) if not name.startswith("_")}
    assert own & service_names == {"run", "stats"}  # the proxy's own names hide no service method


class Banned(Forbidden):
    code = "banned"

    def __init__(self, until: float) -> None:
        super().__init__("You are banned.", retry_after=until)
        self.until = until


def test_errors_survive_the_wire() -> None:
    def round_trip(exc: Exception) -> Exception:
        return error_of(msgspec.json.decode(msgspec.json.encode(failure_of(exc)), type=Failure))

    limited = round_trip(RateLimited("slow down", code="chat_rate_limited", retry_after=1.5))
    assert isinstance(limited, RateLimited)
    assert (limited.code, limited.message, limited.retry_after) == ("chat_rate_limited", "slow down", 1.5)
    banned = round_trip(Banned(60.0))
    assert isinstance(banned, Banned) and banned.code == "banned" and banned.until == 60.0
    assert banned.kind is ErrorKind.FORBIDDEN and banned.retry_after == 60.0
    unknown = error_of(Failure(type="SomethingNew", kind="not_found", code="gone", message="Gone."))
    assert type(unknown) is PalaverError and unknown.kind is ErrorKind.NOT_FOUND and unknown.code == "gone"
    assert isinstance(round_trip(KeyError("x")), RouletteOwnerError)
