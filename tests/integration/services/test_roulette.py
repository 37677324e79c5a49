"""RouletteService with the in-memory broker and a manual clock: events, relays, limits, concurrency."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from palaver.adapters.broker.memory import MemoryBroker
from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, PalaverError, RateLimited, TooLarge
from palaver.ids import SnowflakeIds
from palaver.services.roulette import STATS_TOPIC, RouletteService


@dataclass
class Received:
    """Every event published on the topics it listens to, decoded, in order."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, topic: str, payload: bytes) -> None:
        frame = msgspec.json.decode(payload)
        assert frame["type"] == "event" and frame["topic"] == topic
        self.events.append((topic, frame["event"], frame["data"]))

    def on(self, topic: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, data) for t, name, data in self.events if t == topic]

    def clear(self) -> None:
        self.events.clear()


@dataclass
class Env:
    service: RouletteService
    broker: MemoryBroker
    clock: ManualClock
    received: Received

    async def listen(self, *topics: str) -> None:
        for topic in topics:
            await self.broker.subscribe(topic, self.received)


def person(n: int, session: int | None = None) -> Principal:
    return Principal(user_id=n, session_id=1000 + n if session is None else session, role=Role.USER)


def topic(p: Principal) -> str:
    return f"session:{p.session_id}"


async def begin(
    env: Env,
    p: Principal,
    *,
    languages: list[str] | None = None,
    interests: list[str] | None = None,
    text_only: bool = False,
    auto_next: bool = True,
) -> dict[str, Any]:
    return await env.service.start(
        p,
        languages=["en"] if languages is None else languages,
        interests=interests or [],
        text_only=text_only,
        auto_next=auto_next,
        display_name=f"User {p.user_id}",
    )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    broker = MemoryBroker()
    await broker.start()
    clock = ManualClock()
    service = RouletteService(broker=broker, clock=clock, ids=SnowflakeIds(clock), rng=random.Random(7))
    received = Received()
    for n in range(1, 8):
        await broker.subscribe(topic(person(n)), received)
    await broker.subscribe(STATS_TOPIC, received)
    yield Env(service, broker, clock, received)
    assert service.check_invariants() == []
    await broker.close()


A, B, C, D = person(1), person(2), person(3), person(4)


# --------------------------------------------------------------------------- start and match


async def test_start_alone_searches_and_publishes_nothing(env: Env) -> None:
    assert await begin(env, A) == {"state": "searching"}
    assert env.received.events == []
    assert env.service.stats() == {"online": 1, "searching": 1, "paired": 0}
    assert await env.service.status(A) == {"state": "searching"}


async def test_match_tells_each_side_on_its_own_topic(env: Env) -> None:
    await begin(env, A, languages=["en", "fr"], interests=["Chess", "music"])
    reply = await begin(env, B, languages=["EN"], interests=["chess", "go"], text_only=False)
    assert reply["state"] == "paired"
    events = env.received.events
    assert [(t, name) for t, name, _ in events] == [(topic(A), "roulette.matched"), (topic(B), "roulette.matched")]
    to_a, to_b = events[0][2], events[1][2]
    assert to_a["pair_id"] == to_b["pair_id"] == reply["pair_id"]
    assert isinstance(to_a["pair_id"], str) and to_a["pair_id"].isdigit()
    assert {to_a["role"], to_b["role"]} == {"offerer", "answerer"}
    assert to_a["partner"] == {"display_name": "User 2", "languages": ["en"], "common_interests": ["chess"]}
    assert to_b["partner"] == {"display_name": "User 1", "languages": ["en", "fr"], "common_interests": ["chess"]}
    assert to_a["text_only"] is False
    assert {k: v for k, v in reply.items() if k != "state"} == to_b
    assert env.service.stats() == {"online": 2, "searching": 0, "paired": 2}


async def test_start_twice_is_a_conflict(env: Env) -> None:
    await begin(env, A)
    with pytest.raises(Conflict) as exc:
        await begin(env, A)
    assert exc.value.code == "already_started"
    await begin(env, B)
    with pytest.raises(Conflict):
        await begin(env, B)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"languages": ["english"]}, "invalid_languages"),
        ({"languages": ["en", "fr", "de", "it", "es", "pt", "nl", "sv", "da"]}, "invalid_languages"),
        ({"interests": ["x" * 25]}, "invalid_interests"),
        ({"interests": [" "]}, "invalid_interests"),
        ({"interests": [f"i{n}" for n in range(11)]}, "invalid_interests"),
        ({"display_name": ""}, "invalid_display_name"),
    ],
)
async def test_start_validates_its_input(env: Env, kwargs: dict[str, Any], code: str) -> None:
    args: dict[str, Any] = {"languages": ["en"], "interests": [], "text_only": False, "display_name": "A"}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as exc:
        await env.service.start(A, **args)
    assert exc.value.code == code
    assert env.service.stats()["online"] == 0


async def test_text_only_users_meet_only_text_only_users(env: Env) -> None:
    await begin(env, A, text_only=True)
    assert (await begin(env, B))["state"] == "searching"
    reply = await begin(env, C, text_only=True)
    assert reply["state"] == "paired" and reply["text_only"] is True
    assert env.received.on(topic(B)) == []


async def test_two_sessions_of_one_user_never_meet(env: Env) -> None:
    await begin(env, A)
    assert (await begin(env, person(1, session=5555)))["state"] == "searching"
    env.clock.advance(30)
    await env.service.tick()
    assert env.received.events == []


async def test_one_user_has_a_bounded_number_of_sessions_in_roulette(env: Env) -> None:
    for n in range(4):
        await begin(env, person(1, session=7000 + n))
    with pytest.raises(Conflict) as exc:
        await begin(env, person(1, session=7004))
    assert exc.value.code == "too_many_sessions"
    await env.service.disconnect(7000)
    await begin(env, person(1, session=7004))


async def test_tick_relaxes_language_after_the_wait(env: Env) -> None:
    await begin(env, A, languages=["fr"])
    await begin(env, B, languages=["en"])
    env.clock.advance(9.5)
    await env.service.tick()
    assert env.received.events == []
    env.clock.advance(0.5)
    await env.service.tick()
    assert [name for _, name, _ in env.received.events] == ["roulette.matched"] * 2
    assert (await env.service.status(A))["state"] == "paired"


# --------------------------------------------------------------------------- next, stop, disconnect


async def paired(env: Env, x: Principal, y: Principal, **kwargs: Any) -> str:
    await begin(env, x)
    reply = await begin(env, y, **kwargs)
    assert reply["state"] == "paired"
    env.received.clear()
    return str(reply["pair_id"])


async def test_next_tells_the_partner_and_never_repairs_them(env: Env) -> None:
    pair_id = await paired(env, A, B)
    assert await env.service.next(A) == {"state": "searching"}
    assert env.received.on(topic(B)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": True})]
    assert env.received.on(topic(A)) == []  # the one who acted is not told
    assert env.service.stats() == {"online": 2, "searching": 2, "paired": 0}
    env.clock.advance(60)
    await env.service.tick()
    assert env.service.stats()["searching"] == 2  # relaxed, alone together, but they just met
    reply = await begin(env, C)
    assert reply["state"] == "paired"
    assert reply["partner"]["display_name"] == "User 2"  # B was requeued first
    assert (await begin(env, D))["partner"]["display_name"] == "User 1"


async def test_partner_without_auto_next_goes_idle(env: Env) -> None:
    pair_id = await paired(env, A, B, auto_next=False)
    await env.service.next(A)
    assert env.received.on(topic(B)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": False})]
    assert await env.service.status(B) == {"state": "idle"}
    await begin(env, C)
    assert (await env.service.status(C))["partner"]["display_name"] == "User 1"
    assert await env.service.next(B) == {"state": "searching"}


async def test_idle_participant_may_start_again_with_new_criteria(env: Env) -> None:
    await paired(env, A, B, auto_next=False)
    await env.service.next(A)
    reply = await begin(env, B, languages=["fr"], interests=["go"])
    assert reply == {"state": "searching"}


async def test_next_before_start_is_a_conflict(env: Env) -> None:
    with pytest.raises(Conflict) as exc:
        await env.service.next(A)
    assert exc.value.code == "not_started"


async def test_next_while_searching_changes_nothing(env: Env) -> None:
    await begin(env, A)
    assert await env.service.next(A) == {"state": "searching"}
    assert env.received.events == []


async def test_stop_tells_the_partner_and_is_idempotent(env: Env) -> None:
    pair_id = await paired(env, A, B)
    assert await env.service.stop(A) == {"state": "stopped"}
    assert await env.service.stop(A) == {"state": "stopped"}
    assert env.received.on(topic(B)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": True})]
    assert env.service.stats() == {"online": 1, "searching": 1, "paired": 0}
    assert await env.service.status(A) == {"state": "stopped"}
    assert await env.service.stop(C) == {"state": "stopped"}  # never started: fine too


async def test_disconnect_mid_pair_requeues_the_partner_into_a_new_pair(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await begin(env, C)
    await env.service.disconnect(A.session_id)
    await env.service.disconnect(A.session_id)
    to_b = env.received.on(topic(B))
    assert to_b[0] == ("roulette.partner_left", {"pair_id": pair_id, "requeued": True})
    assert to_b[1][0] == "roulette.matched" and to_b[1][1]["partner"]["display_name"] == "User 3"
    assert env.received.on(topic(C))[0][0] == "roulette.matched"
    assert env.service.stats() == {"online": 2, "searching": 0, "paired": 2}


# --------------------------------------------------------------------------- signalling


async def test_signal_is_relayed_to_the_partner_only(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await env.listen(topic(person(9)))
    sdp = {"type": "offer", "sdp": "v=0\r\n..."}
    await env.service.relay_signal(A, pair_id=pair_id, kind="offer", payload=sdp)
    assert env.received.events == [
        (topic(B), "roulette.signal", {"pair_id": pair_id, "kind": "offer", "payload": sdp})
    ]


async def test_signal_outside_the_live_pair_is_refused_and_publishes_nothing(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await begin(env, C)
    cases = [
        (C, pair_id),  # not a member
        (A, "123"),  # no such pair
        (A, "not a number"),
        (person(9), pair_id),  # not in Roulette at all
    ]
    for who, pid in cases:
        with pytest.raises(Forbidden) as exc:
            await env.service.relay_signal(who, pair_id=pid, kind="candidate", payload={"candidate": "x"})
        assert exc.value.code == "not_in_pair"
    await env.service.next(A)  # A now pairs with C; the old pair id is stale
    env.received.clear()
    for who in (A, B):
        with pytest.raises(Forbidden):
            await env.service.relay_signal(who, pair_id=pair_id, kind="bye", payload={})
    assert env.received.events == []


async def test_signal_limits(env: Env) -> None:
    pair_id = await paired(env, A, B)
    with pytest.raises(TooLarge) as exc:
        await env.service.relay_signal(A, pair_id=pair_id, kind="offer", payload={"sdp": "x" * 16_400})
    assert exc.value.code == "signal_too_large"
    with pytest.raises(InvalidInput) as exc2:
        await env.service.relay_signal(A, pair_id=pair_id, kind="hello", payload={})  # type: ignore[arg-type]
    assert exc2.value.code == "invalid_signal_kind"
    with pytest.raises(InvalidInput) as exc3:
        await env.service.relay_signal(A, pair_id=pair_id, kind="offer", payload=[1])  # type: ignore[arg-type]
    assert exc3.value.code == "invalid_signal_payload"
    assert env.received.events == []
    await env.service.relay_signal(A, pair_id=pair_id, kind="offer", payload={"sdp": "x" * 16_000})
    sent = 1
    while sent < 200:  # the burst
        await env.service.relay_signal(A, pair_id=pair_id, kind="candidate", payload={"c": 1})
        sent += 1
    with pytest.raises(RateLimited) as exc4:
        await env.service.relay_signal(A, pair_id=pair_id, kind="candidate", payload={"c": 1})
    assert exc4.value.code == "signal_rate_limited"
    assert len(env.received.on(topic(B))) == sent


# --------------------------------------------------------------------------- text chat


async def test_chat_goes_to_the_partner_only_trimmed(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await env.service.send_chat(A, pair_id=pair_id, text="  hello there\n ")
    assert env.received.events == [
        (topic(B), "roulette.chat", {"pair_id": pair_id, "text": "hello there", "from": "partner"})
    ]


async def test_chat_text_is_validated(env: Env) -> None:
    pair_id = await paired(env, A, B)
    for text in ["", "   \n ", "x" * 1001, "bell\x07"]:
        with pytest.raises(InvalidInput) as exc:
            await env.service.send_chat(A, pair_id=pair_id, text=text)
        assert exc.value.code == "invalid_chat_text"
    await env.service.send_chat(A, pair_id=pair_id, text=" " + "x" * 1000 + " ")
    assert len(env.received.events) == 1


async def test_chat_outside_the_pair_is_refused(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await env.service.next(B)
    env.received.clear()
    with pytest.raises(Forbidden) as exc:
        await env.service.send_chat(A, pair_id=pair_id, text="still there?")
    assert exc.value.code == "not_in_pair"
    assert env.received.events == []


async def test_chat_is_rate_limited_per_sender(env: Env) -> None:
    pair_id = await paired(env, A, B)
    for n in range(10):
        await env.service.send_chat(A, pair_id=pair_id, text=f"m{n}")
    with pytest.raises(RateLimited) as exc:
        await env.service.send_chat(A, pair_id=pair_id, text="one too many")
    assert exc.value.code == "chat_rate_limited" and exc.value.retry_after == pytest.approx(0.2)
    await env.service.send_chat(B, pair_id=pair_id, text="the partner is not limited by A")
    env.clock.advance(0.2)
    await env.service.send_chat(A, pair_id=pair_id, text="again")
    assert len(env.received.on(topic(B))) == 11


# --------------------------------------------------------------------------- block


async def test_block_moves_on_and_they_never_meet_again(env: Env) -> None:
    pair_id = await paired(env, A, B)
    assert await env.service.block(A, pair_id=pair_id) == {"state": "searching"}
    assert env.received.on(topic(B)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": True})]
    env.clock.advance(3600)  # past the recent window and every relaxation
    await env.service.tick()
    assert env.service.stats()["searching"] == 2
    await env.service.stop(B)
    await begin(env, B)
    assert env.service.stats()["searching"] == 2


async def test_block_the_partner_who_just_left(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await env.service.next(B)
    await env.service.stop(B)
    assert await env.service.block(A, pair_id=pair_id) == {"state": "searching"}
    env.clock.advance(3600)
    await begin(env, B)
    assert env.service.stats()["searching"] == 2
    with pytest.raises(Forbidden) as exc:
        await env.service.block(C, pair_id=pair_id)
    assert exc.value.code == "not_in_pair"
    with pytest.raises(Forbidden):
        await env.service.block(A, pair_id="42")


async def test_blocks_fed_in_from_elsewhere_are_respected(env: Env) -> None:
    env.service.add_block(A.user_id, B.user_id)
    await begin(env, A)
    assert await begin(env, B) == {"state": "searching"}
    assert (await begin(env, C))["partner"]["display_name"] == "User 1"


# --------------------------------------------------------------------------- stats


async def test_stats_are_published_at_most_once_per_second(env: Env) -> None:
    await paired(env, A, B)
    await begin(env, C)
    assert await env.service.maybe_publish_stats()
    assert not await env.service.maybe_publish_stats()
    env.clock.advance(0.5)
    assert not await env.service.maybe_publish_stats()
    env.clock.advance(0.5)
    assert await env.service.maybe_publish_stats()
    stats = env.received.on(STATS_TOPIC)
    assert stats == [("roulette.stats", {"online": 3, "searching": 1, "paired": 2})] * 2


# --------------------------------------------------------------------------- failures and concurrency


class FlakyBroker(MemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    async def publish(self, topic: str, payload: bytes) -> None:
        if self.failing:
            raise ConnectionError("broker down")
        await super().publish(topic, payload)


async def test_a_failing_broker_never_breaks_the_state() -> None:
    broker = FlakyBroker()
    await broker.start()
    clock = ManualClock()
    service = RouletteService(broker=broker, clock=clock, ids=SnowflakeIds(clock), rng=random.Random(1))
    received = Received()
    await broker.subscribe(topic(B), received)
    await begin(Env(service, broker, clock, received), A)
    broker.failing = True
    reply = await begin(Env(service, broker, clock, received), B)
    assert reply["state"] == "paired"  # the state changed even though nobody could be told
    assert await service.next(A) == {"state": "searching"}
    assert service.check_invariants() == []
    broker.failing = False
    await begin(Env(service, broker, clock, received), C)
    assert [name for _, name, _ in received.events] == ["roulette.matched"]
    assert service.check_invariants() == []
    await broker.close()


class YieldingBroker(MemoryBroker):
    """Yields to other tasks inside every publish (like a network broker) and checks the service's
    invariants while other calls are in flight."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        self.service: RouletteService | None = None
        self.problems: list[str] = []

    async def publish(self, topic: str, payload: bytes) -> None:
        for _ in range(self.rng.randrange(3)):
            await asyncio.sleep(0)
        frame = msgspec.json.decode(payload)
        self.log.append((topic, frame["event"], frame["data"]))
        if self.service is not None:
            self.problems.extend(self.service.check_invariants())
        await super().publish(topic, payload)


@pytest.mark.parametrize("seed", range(6))
async def test_concurrent_calls_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    broker = YieldingBroker(rng)
    await broker.start()
    clock = ManualClock()
    service = RouletteService(broker=broker, clock=clock, ids=SnowflakeIds(clock), rng=random.Random(seed))
    broker.service = service
    principals = [Principal(user_id=n % 30, session_id=500 + n, role=Role.USER) for n in range(36)]
    signals_sent = 0
    chats_sent = 0

    async def user(p: Principal) -> None:
        nonlocal signals_sent, chats_sent
        for _ in range(40):
            op = rng.choice(["start", "start", "next", "next", "next", "stop", "disconnect", "block", "signal",
                             "signal", "chat", "tick", "advance", "yield"])
            try:
                if op == "start":
                    await service.start(
                        p,
                        languages=rng.sample(["en", "fr"], rng.randint(0, 2)),
                        interests=rng.sample(["a", "b", "c"], rng.randint(0, 2)),
                        text_only=rng.random() < 0.1,
                        auto_next=rng.random() < 0.8,
                        display_name=f"U{p.user_id}",
                    )
                elif op == "next":
                    await service.next(p)
                elif op == "stop":
                    await service.stop(p)
                elif op == "disconnect":
                    await service.disconnect(p.session_id)
                elif op in ("block", "signal", "chat"):
                    status = await service.status(p)
                    for _ in range(rng.randrange(3)):
                        await asyncio.sleep(0)  # the pair may end meanwhile: the id goes stale
                    pair_id = str(status.get("pair_id", "1"))
                    if op == "block" and rng.random() < 0.3:
                        await service.block(p, pair_id=pair_id)
                    elif op == "signal":
                        await service.relay_signal(p, pair_id=pair_id, kind="candidate", payload={"n": 1})
                        signals_sent += 1
                    elif op == "chat":
                        await service.send_chat(p, pair_id=pair_id, text="hi")
                        chats_sent += 1
                elif op == "tick":
                    await service.tick()
                elif op == "advance":
                    clock.advance(rng.choice([0.0, 0.1, 2.0]))
                else:
                    await asyncio.sleep(0)
            except (Conflict, Forbidden, RateLimited):
                pass
            except PalaverError as exc:  # pragma: no cover - would be a bug
                raise AssertionError(exc.code) from exc

    await asyncio.gather(*(user(p) for p in principals))
    await service.tick()

    assert broker.problems == []
    assert service.check_invariants() == []
    stats = service.stats()
    states = [(await service.status(p))["state"] for p in principals]
    assert stats == {
        "online": len(principals) - states.count("stopped"),
        "searching": states.count("searching"),
        "paired": states.count("paired"),
    }

    # Events tell a consistent story: each pair announced once to both members, one offerer; a
    # partner_left only after the pair was announced, only to a member, at most once; nobody met
    # the same person twice (the clock never passed the recent window).
    members: dict[str, set[int]] = {}
    roles: dict[str, list[str]] = defaultdict(list)
    lefts: dict[str, int] = defaultdict(int)
    people_pairs: list[frozenset[int]] = []
    signals = chats = 0
    user_of = {p.session_id: p.user_id for p in principals}
    last_matched: dict[int, str] = {}
    for t, name, data in broker.log:
        if t == STATS_TOPIC:
            continue
        session = int(t.split(":")[1])
        pid = data["pair_id"]
        if name == "roulette.matched":
            members.setdefault(pid, set()).add(session)
            roles[pid].append(data["role"])
            last_matched[session] = pid
            if len(members[pid]) == 2:
                people_pairs.append(frozenset(user_of[s] for s in members[pid]))
        else:
            assert session in members[pid], (name, pid, session)
            if name == "roulette.partner_left":
                lefts[pid] += 1
            elif name == "roulette.signal":
                signals += 1
            elif name == "roulette.chat":
                chats += 1
    assert all(len(m) == 2 for m in members.values())
    assert all(sorted(r) == ["answerer", "offerer"] for r in roles.values())
    assert all(n == 1 for n in lefts.values())
    assert len(people_pairs) == len(set(people_pairs)), "two people were paired twice"
    assert (signals, chats) == (signals_sent, chats_sent)
    assert len(members) > 20, "the hammer should form plenty of pairs"
    for p in principals:  # whoever is paired now was last told about exactly this pair
        status = await service.status(p)
        if status["state"] == "paired":
            assert last_matched[p.session_id] == status["pair_id"]
    await broker.close()
