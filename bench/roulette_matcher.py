"""Microbenchmark of the Roulette matcher: 10,000 users pressing Next every 0.5–5 s.

Simulated time, real CPU: an event loop of simulated presses drives the matcher (or, with
``--mode service``, the whole RouletteService with the in-memory broker and event encoding), and
the wall time spent inside each call is measured. Printed per mode:

- pairs formed per second of CPU spent in the matcher (throughput capacity of one core),
- per-call latency p50 / p99 / max (entering the queue, Next, tick),
- simulated waiting time until paired (p50 / p99), the waiting-queue size, and the memory of
  recent meetings (bounded by the window).

The same run includes a baseline: a naive matcher that scans every waiting user on each entry
(same rules, no buckets, no early exit), and prints the ratio.

    .venv/bin/python bench/roulette_matcher.py                # matcher and naive baseline
    .venv/bin/python bench/roulette_matcher.py --mode all     # ... and the service
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from palaver.adapters.broker.memory import MemoryBroker
from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.roulette import (
    DEFAULT_SCHEDULE,
    Ended,
    Formed,
    LanguageRule,
    Matcher,
    MatchPolicy,
    Profile,
    RelaxationStep,
    Step,
)
from palaver.domain.sessions import Principal
from palaver.ids import SnowflakeIds
from palaver.services.roulette import RoulettePolicy, RouletteService

LANGUAGES = [("en", 45), ("es", 15), ("fr", 10), ("de", 8), ("pt", 7), ("ar", 5), ("ru", 5), ("ja", 3), ("it", 2)]
INTERESTS = [f"topic{n}" for n in range(200)]

# ("formed", pair_id, first, second) or ("ended", pair_id, actor, partner, partner_requeued)
Happening = tuple[Any, ...]


def population(n: int, rng: random.Random) -> list[Profile]:
    codes, weights = zip(*LANGUAGES, strict=True)
    people = []
    for uid in range(n):
        langs = [rng.choices(codes, weights)[0]]
        if langs[0] != "en" and rng.random() < 0.3:
            langs.append("en")
        k = min(int(rng.expovariate(0.5)), 5)
        interests = frozenset(rng.choices(INTERESTS, weights=[1 / (i + 1) for i in range(len(INTERESTS))], k=k))
        people.append(Profile(uid, tuple(langs), interests, rng.random() < 0.05, True))
    return people


def steps_to_happenings(steps: list[Step]) -> list[Happening]:
    out: list[Happening] = []
    for s in steps:
        if isinstance(s, Formed):
            out.append(("formed", s.pair.id, s.pair.first, s.pair.second))
        elif isinstance(s, Ended):
            out.append(("ended", s.pair.id, s.actor, s.partner, s.partner_requeued))
    return out


class Driver(Protocol):
    name: str

    async def enter(self, uid: int, profile: Profile, now: float) -> list[Happening]: ...

    async def next(self, uid: int, now: float) -> list[Happening]: ...

    async def tick(self, now: float) -> list[Happening]: ...

    def memory(self) -> int: ...


class MatcherDriver:
    name = "matcher"

    def __init__(self, policy: MatchPolicy, seed: int) -> None:
        counter = itertools.count(1)
        self.m = Matcher(policy, new_pair_id=lambda: next(counter), rng=random.Random(seed))

    async def enter(self, uid: int, profile: Profile, now: float) -> list[Happening]:
        return steps_to_happenings(self.m.join(uid, profile, now))

    async def next(self, uid: int, now: float) -> list[Happening]:
        return steps_to_happenings(self.m.next(uid, now))

    async def tick(self, now: float) -> list[Happening]:
        return steps_to_happenings(self.m.tick(now))

    def memory(self) -> int:
        return self.m.remembered_meetings

    def memory_bytes(self) -> int:
        recent = self.m._recent
        counts = recent._count
        size = sys.getsizeof(counts) + sum(sys.getsizeof(d) for d in counts.values())
        return size + sum(sys.getsizeof(a) for a in (recent._log_at, recent._log_a, recent._log_b))


@dataclass
class _NaiveUser:
    uid: int
    profile: Profile
    since: float = 0.0
    partner: int | None = None
    pair: int = 0


class NaiveDriver:
    """The obvious implementation: one list of waiting users, scanned in full on every entry."""

    name = "naive full scan"

    def __init__(self, policy: MatchPolicy) -> None:
        self.policy = policy
        self.relax = policy.relax_after if policy.relax_after is not None else float("inf")
        self.users: dict[int, _NaiveUser] = {}
        self.waiting: list[_NaiveUser] = []
        self.met: dict[frozenset[int], float] = {}
        self.ids = itertools.count(1)

    def _lang_ok(self, a: _NaiveUser, b: _NaiveUser, now: float) -> bool:
        la = a.profile.languages
        return not la or now - a.since >= self.relax or any(x in b.profile.languages for x in la)

    def _ok(self, a: _NaiveUser, b: _NaiveUser, now: float) -> bool:
        met = self.met.get(frozenset((a.profile.person, b.profile.person)))
        return (
            a.profile.person != b.profile.person
            and a.profile.text_only == b.profile.text_only
            and (met is None or now - met >= self.policy.recent_window_seconds)
            and self._lang_ok(a, b, now)
            and self._lang_ok(b, a, now)
        )

    def _search(self, u: _NaiveUser, now: float, out: list[Happening]) -> bool:
        best, best_score = None, float("-inf")
        for c in self.waiting:
            if c is not u and self._ok(u, c, now):
                score = self.policy.score(now - c.since, len(u.profile.interests & c.profile.interests))
                if score > best_score:
                    best, best_score = c, score
        if best is None:
            return False
        self.waiting.remove(best)
        pid = next(self.ids)
        for x, y in ((u, best), (best, u)):
            x.partner, x.pair = y.uid, pid
        self.met[frozenset((u.profile.person, best.profile.person))] = now
        out.append(("formed", pid, best.uid, u.uid))
        return True

    def _enqueue(self, u: _NaiveUser, now: float, out: list[Happening]) -> None:
        u.since = now
        if not self._search(u, now, out):
            self.waiting.append(u)

    async def enter(self, uid: int, profile: Profile, now: float) -> list[Happening]:
        out: list[Happening] = []
        self.users[uid] = u = _NaiveUser(uid, profile)
        self._enqueue(u, now, out)
        return out

    async def next(self, uid: int, now: float) -> list[Happening]:
        out: list[Happening] = []
        u = self.users[uid]
        if u.partner is None:
            return out
        other = self.users[u.partner]
        out.append(("ended", u.pair, uid, other.uid, True))
        self.met[frozenset((u.profile.person, other.profile.person))] = now
        u.partner = other.partner = None
        self._enqueue(other, now, out)
        self._enqueue(u, now, out)
        return out

    async def tick(self, now: float) -> list[Happening]:
        out: list[Happening] = []
        for u in list(self.waiting):
            if u in self.waiting and now - u.since >= self.relax:
                self.waiting.remove(u)
                if not self._search(u, now, out):
                    self.waiting.append(u)
        self.waiting.sort(key=lambda w: w.since)
        return out

    def memory(self) -> int:
        return len(self.met)


class ServiceDriver:
    """The RouletteService on a MemoryBroker: adds event building, JSON encoding and delivery to a
    subscriber per session (which decodes only what the simulation needs)."""

    name = "service + events"

    def __init__(self, policy: MatchPolicy, seed: int, broker: MemoryBroker, clock: ManualClock) -> None:
        self.clock = clock
        self.broker = broker
        self.service = RouletteService(
            broker=broker,
            clock=clock,
            ids=SnowflakeIds(clock),
            policy=RoulettePolicy(match=policy),
            rng=random.Random(seed),
        )
        self.inbox: list[Happening] = []
        self.events = 0
        self.roles: dict[int, str] = {}

    def handler(self, uid: int) -> Callable[[str, bytes], None]:
        def on_event(topic: str, payload: bytes) -> None:
            self.events += 1
            if b'"roulette.matched"' in payload:
                data = msgspec.json.decode(payload)["data"]
                pid = int(data["pair_id"])
                if data["role"] == "offerer":
                    self.roles[pid] = "o"
                # each side hears about the pair once; report the pair when the second one hears it
                self.inbox.append(("heard", pid, uid))
            elif b'"roulette.partner_left"' in payload:
                data = msgspec.json.decode(payload)["data"]
                self.inbox.append(("ended", int(data["pair_id"]), -1, uid, data["requeued"]))

        return on_event

    def _drain(self) -> list[Happening]:
        out: list[Happening] = []
        heard: dict[int, int] = {}
        for h in self.inbox:
            if h[0] == "heard":
                if h[1] in heard:
                    out.append(("formed", h[1], heard.pop(h[1]), h[2]))
                else:
                    heard[h[1]] = h[2]
            else:
                out.append(h)
        self.inbox.clear()
        return out

    def _principal(self, uid: int, person: int | None = None) -> Principal:
        return Principal(user_id=uid if person is None else person, session_id=uid, role=Role.USER)

    def _at(self, now: float) -> None:
        delta = now - self.clock.monotonic()
        if delta > 0:
            self.clock.advance(delta)

    async def enter(self, uid: int, profile: Profile, now: float) -> list[Happening]:
        self._at(now)
        await self.service.start(
            self._principal(uid, profile.person),
            languages=list(profile.languages),
            interests=sorted(profile.interests),
            text_only=profile.text_only,
            display_name=f"User {uid}",
        )
        return self._drain()

    async def next(self, uid: int, now: float) -> list[Happening]:
        self._at(now)
        await self.service.next(self._principal(uid))
        return self._drain()

    async def tick(self, now: float) -> list[Happening]:
        self._at(now)
        await self.service.tick()
        await self.service.maybe_publish_stats()
        return self._drain()

    def memory(self) -> int:
        return self.service._matcher.remembered_meetings


@dataclass
class Result:
    name: str
    pairs: int = 0
    calls: int = 0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    tick_latencies: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    max_waiting: int = 0
    memory: int = 0
    memory_bytes: int = 0
    wall: float = 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def simulate(driver: Driver, people: list[Profile], seconds: float, seed: int) -> Result:
    rng = random.Random(seed)
    res = Result(driver.name)
    heap: list[tuple[float, int, str, int, int]] = []  # (time, order, kind, uid, pair token)
    order = itertools.count()
    for uid in range(len(people)):
        heapq.heappush(heap, (rng.uniform(0, 2.0), next(order), "enter", uid, 0))
    tick_every = 0.25
    heapq.heappush(heap, (tick_every, next(order), "tick", -1, 0))
    pair_of: dict[int, int] = {}
    entered: dict[int, float] = {}
    waiting: set[int] = set()
    perf = time.perf_counter
    started = perf()

    def apply(happenings: list[Happening], now: float) -> None:
        for h in happenings:
            if h[0] == "formed":
                _, pid, a, b = h
                res.pairs += 1
                for u in (a, b):
                    pair_of[u] = pid
                    waiting.discard(u)
                    res.waits.append(now - entered.pop(u, now))
                    heapq.heappush(heap, (now + rng.uniform(0.5, 5.0), next(order), "next", u, pid))
            else:
                _, pid, _actor, partner, requeued = h
                pair_of.pop(partner, None)
                if requeued:
                    entered[partner] = now
                    waiting.add(partner)

    while heap:
        now, _, kind, uid, token = heapq.heappop(heap)
        if now > seconds:
            break
        if kind == "tick":
            t0 = perf()
            happenings = await driver.tick(now)
            dt = perf() - t0
            res.tick_latencies.append(dt)
            res.cpu += dt
            apply(happenings, now)
            heapq.heappush(heap, (now + tick_every, next(order), "tick", -1, 0))
            res.max_waiting = max(res.max_waiting, len(waiting))
            continue
        if kind == "next" and pair_of.get(uid) != token:
            continue  # the partner pressed Next first; this user's timer belongs to an old pair
        entered[uid] = now
        waiting.add(uid)
        pair_of.pop(uid, None)
        t0 = perf()
        happenings = await (driver.enter(uid, people[uid], now) if kind == "enter" else driver.next(uid, now))
        dt = perf() - t0
        res.calls += 1
        res.cpu += dt
        res.latencies.append(dt)
        apply(happenings, now)
    res.wall = perf() - started
    res.memory = driver.memory()
    if isinstance(driver, MatcherDriver):
        res.memory_bytes = driver.memory_bytes()
    return res


def report(res: Result, baseline: Result | None) -> None:
    us = 1e6
    rate = res.pairs / res.cpu if res.cpu else 0.0
    print(f"\n[{res.name}]")
    print(f"  pairs formed        {res.pairs:>10,}   calls {res.calls:,}   ticks {len(res.tick_latencies):,}")
    print(f"  CPU in matcher      {res.cpu:>10.2f} s  -> {rate:,.0f} pairs/s, {res.calls / res.cpu:,.0f} calls/s")
    print(
        f"  call latency        p50 {pct(res.latencies, 0.5) * us:.1f} us   p99 {pct(res.latencies, 0.99) * us:.1f} us"
        f"   max {max(res.latencies) * us:.0f} us"
    )
    print(
        f"  tick latency        p50 {pct(res.tick_latencies, 0.5) * us:.1f} us   "
        f"p99 {pct(res.tick_latencies, 0.99) * us:.1f} us   max {max(res.tick_latencies) * us:.0f} us"
    )
    print(
        f"  simulated wait      p50 {pct(res.waits, 0.5):.2f} s   p90 {pct(res.waits, 0.9):.2f} s   "
        f"p99 {pct(res.waits, 0.99):.2f} s   paired at once {sum(w == 0 for w in res.waits) / len(res.waits):.1%}"
    )
    print(f"  waiting (max seen)  {res.max_waiting:>10,}   remembered meetings at the end {res.memory:,}")
    if res.memory_bytes:
        print(
            f"  recent-meeting memory {res.memory_bytes / 2**20:.1f} MiB "
            f"({res.memory_bytes / max(res.memory, 1):.0f} bytes per remembered meeting)"
        )
    if baseline is not None and baseline.cpu:
        base_rate = baseline.pairs / baseline.cpu
        print(
            f"  vs {baseline.name}: {rate / base_rate:.1f}x pairs/s, "
            f"p99 call {pct(baseline.latencies, 0.99) / pct(res.latencies, 0.99):.1f}x lower"
        )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated seconds")
    ap.add_argument("--window", type=float, default=600.0, help="recent-meeting window, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--stuck",
        type=int,
        default=0,
        help="extra users who each speak a language nobody else speaks: with --no-relax, a long queue",
    )
    ap.add_argument("--no-relax", action="store_true", help="language stays a hard requirement")
    ap.add_argument("--mode", choices=["matcher", "all", "baseline-off"], default="matcher")
    args = ap.parse_args()
    schedule = (RelaxationStep(0.0, LanguageRule.SHARED),) if args.no_relax else DEFAULT_SCHEDULE
    policy = MatchPolicy(schedule=schedule, recent_window_seconds=args.window)
    people = population(args.users, random.Random(args.seed))
    rare = (a + b + c for a in "qxz" for b in "abcdefghijklmnopqrstuvwxyz" for c in "abcdefghijklmnopqrstuvwxyz")
    people += [Profile(10**12 + n, (next(rare),), frozenset(), False, True) for n in range(args.stuck)]
    print(
        f"{args.users:,} users (+{args.stuck:,} stuck in the queue), Next every U(0.5, 5) s each, "
        f"{args.seconds:.0f} simulated s, window {args.window:.0f} s, relax after {policy.relax_after} s, "
        "tick every 0.25 s"
    )
    main_res = await simulate(MatcherDriver(policy, args.seed), people, args.seconds, args.seed)
    baseline = None
    if args.mode != "baseline-off":
        baseline = await simulate(NaiveDriver(policy), people, args.seconds, args.seed)
    report(main_res, baseline)
    if baseline is not None:
        report(baseline, None)
    if args.mode == "all":
        broker = MemoryBroker()
        await broker.start()
        driver = ServiceDriver(policy, args.seed, broker, ManualClock(start=1_700_000_000.0))
        for uid in range(len(people)):
            await broker.subscribe(f"session:{uid}", driver.handler(uid))
        res = await simulate(driver, people, args.seconds, args.seed)
        report(res, main_res)  # the price of the async shell, events and delivery
        print(f"  events delivered    {driver.events:,}")
        await broker.close()


if __name__ == "__main__":
    asyncio.run(main())
