"""Properties of the Roulette matcher over random histories, checked against an independent model.

The model mirrors the specification, not the implementation: it knows who is waiting since when,
who met whom and when, who blocked whom, and who is relaxed (relaxation takes effect at a tick or,
for those who accept anyone from the start, at entry). For every pair the matcher forms it checks
that the pair is acceptable (no double pairing, text-only isolation, no re-pair within the window,
blocks, language rules) and that the partner is the best acceptable candidate for the seeker
(waiting time plus bounded interest bonus, ties to the longer wait: fairness and interest preference).
After every tick it checks that no two waiting participants are acceptable to each other, which,
with the final "wait until everything relaxed and expired, then tick", gives liveness.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.domain.roulette import (
    Ended,
    Formed,
    LanguageRule,
    Matcher,
    MatchPolicy,
    Profile,
    RelaxationStep,
    Step,
)
from palaver.errors import Conflict

SESSIONS = range(7)
PERSON_OF = {s: s % 5 for s in SESSIONS}  # sessions 5 and 6 belong to people 0 and 1 too


@dataclass
class Model:
    policy: MatchPolicy
    now: float = 0.0
    profiles: dict[int, Profile] = field(default_factory=dict)
    state: dict[int, str] = field(default_factory=dict)  # "waiting" | "paired" | "idle"
    since: dict[int, float] = field(default_factory=dict)
    order: dict[int, int] = field(default_factory=dict)  # entry order, for ties
    relaxed: set[int] = field(default_factory=set)
    partner: dict[int, int] = field(default_factory=dict)
    met: dict[frozenset[int], float] = field(default_factory=dict)  # when their last meeting ended
    live: Counter[frozenset[int]] = field(default_factory=Counter)  # meetings in progress
    blocks: set[frozenset[int]] = field(default_factory=set)
    entries: itertools.count[int] = field(default_factory=itertools.count)
    pairs_formed: int = 0

    def waiting(self) -> list[int]:
        return [s for s, st_ in self.state.items() if st_ == "waiting"]

    def person(self, s: int) -> int:
        return self.profiles[s].person

    def accepts_language(self, x: int, y: int) -> bool:
        px, py = self.profiles[x], self.profiles[y]
        return not px.languages or x in self.relaxed or bool(set(px.languages) & set(py.languages))

    def acceptable(self, x: int, y: int) -> bool:
        px, py = self.profiles[x], self.profiles[y]
        persons = frozenset({px.person, py.person})
        met_at = self.met.get(persons)
        return (
            px.text_only == py.text_only
            and px.person != py.person
            and persons not in self.blocks
            and not self.live[persons]
            and (met_at is None or self.now - met_at >= self.policy.recent_window_seconds)
            and self.accepts_language(x, y)
            and self.accepts_language(y, x)
        )

    def score(self, seeker: int, candidate: int) -> float:
        common = len(self.profiles[seeker].interests & self.profiles[candidate].interests)
        return self.policy.score(self.now - self.since[candidate], common)


class Harness:
    """Drives a Matcher and the Model side by side and checks every step against the model."""

    def __init__(self, policy: MatchPolicy, seed: int) -> None:
        counter = itertools.count(1)
        self.matcher = Matcher(policy, new_pair_id=lambda: next(counter), rng=random.Random(seed))
        self.model = Model(policy)
        self.steps: list[Step] = []
        self.cursor = 0

    # -- step consumption

    def _take(self) -> Step | None:
        if self.cursor < len(self.steps):
            step = self.steps[self.cursor]
            self.cursor += 1
            return step
        return None

    def _peek(self) -> Step | None:
        return self.steps[self.cursor] if self.cursor < len(self.steps) else None

    def _begin(self, steps: list[Step]) -> None:
        self.steps, self.cursor = steps, 0

    def _end(self) -> None:
        assert self.cursor == len(self.steps), f"unexpected steps {self.steps[self.cursor:]}"
        assert self.matcher.invariant_violations() == []
        m = self.model
        for s in SESSIONS:
            expected = m.state.get(s)
            actual = self.matcher.state_of(s)
            assert (actual.value if actual else None) == (
                None if expected is None else {"waiting": "waiting", "paired": "paired", "idle": "idle"}[expected]
            ), (s, expected, actual)
            if expected == "paired":
                pair = self.matcher.pair_of(s)
                assert pair is not None and pair.partner_of(s) == m.partner[s]
        assert sorted(self.matcher.waiting()) == sorted(m.waiting())

    def _enter(self, s: int) -> None:
        m = self.model
        m.since[s] = m.now
        m.order[s] = next(m.entries)
        relax_after = m.policy.relax_after
        if not m.profiles[s].languages or relax_after == 0:
            m.relaxed.add(s)
        else:
            m.relaxed.discard(s)
        step = self._peek()
        if isinstance(step, Formed) and step.seeker == s:
            self._take()
            self._check_formed(step, seeker_waiting=False)
        else:
            m.state[s] = "waiting"

    def _check_formed(self, step: Formed, *, seeker_waiting: bool) -> None:
        m = self.model
        s = step.seeker
        pair = step.pair
        assert s in pair.members
        c = pair.partner_of(s)
        assert (m.state.get(s) == "waiting") == seeker_waiting
        candidates = [w for w in m.waiting() if w != s]
        assert c in candidates, "partner was not waiting"
        assert m.acceptable(s, c), "pair is not acceptable"
        acceptable = [w for w in candidates if m.acceptable(s, w)]
        best = max(acceptable, key=lambda w: (m.score(s, w), -m.order[w]))
        assert c == best, f"seeker {s} took {c}, best was {best}"
        ps, pc = m.profiles[s], m.profiles[c]
        older, younger = (c, s) if m.order[c] < m.order[s] else (s, c)
        assert (pair.first, pair.second) == (older, younger)
        assert pair.offerer in pair.members
        assert pair.common_interests == tuple(sorted(ps.interests & pc.interests))
        assert pair.text_only == ps.text_only
        m.live[frozenset({ps.person, pc.person})] += 1
        for a, b in ((s, c), (c, s)):
            m.state[a] = "paired"
            m.partner[a] = b
        m.pairs_formed += 1

    def _expect_ended(self, actor: int) -> None:
        m = self.model
        step = self._take()
        partner = m.partner[actor]
        assert isinstance(step, Ended)
        assert (step.actor, step.partner) == (actor, partner)
        requeue = m.profiles[partner].auto_next
        assert step.partner_requeued == requeue
        persons = frozenset({m.person(actor), m.person(partner)})
        m.met[persons] = m.now
        m.live[persons] -= 1
        for x in (actor, partner):
            m.state[x] = "idle"
            del m.partner[x]
        if requeue:
            self._enter(partner)

    def _check_maximal(self) -> None:
        m = self.model
        waiting = m.waiting()
        for x, y in itertools.combinations(waiting, 2):
            assert not m.acceptable(x, y), f"{x} and {y} both wait though acceptable to each other"

    # -- operations

    def join(self, s: int, profile: Profile) -> None:
        m = self.model
        if s in m.profiles:
            with pytest.raises(Conflict):
                self.matcher.join(s, profile, m.now)
            return
        m.profiles[s] = profile
        self._begin(self.matcher.join(s, profile, m.now))
        self._enter(s)
        self._end()

    def next(self, s: int) -> None:
        m = self.model
        if s not in m.profiles:
            with pytest.raises(Conflict):
                self.matcher.next(s, m.now)
            return
        self._begin(self.matcher.next(s, m.now))
        if m.state[s] == "paired":
            self._expect_ended(s)
            self._enter(s)
        elif m.state[s] == "idle":
            self._enter(s)
        self._end()

    def leave(self, s: int) -> None:
        m = self.model
        self._begin(self.matcher.leave(s, m.now))
        if s in m.profiles:
            if m.state[s] == "paired":
                self._expect_ended(s)
            del m.state[s]
            del m.profiles[s]
            m.relaxed.discard(s)
        self._end()

    def block(self, s: int) -> None:
        m = self.model
        if m.state.get(s) != "paired":
            return
        a, b = m.person(s), m.person(m.partner[s])
        self.matcher.block(a, b)
        m.blocks.add(frozenset({a, b}))
        self.next(s)

    def tick(self) -> None:
        m = self.model
        relax_after = m.policy.relax_after
        if relax_after is not None:
            m.relaxed.update(w for w in m.waiting() if m.since[w] + relax_after <= m.now)
        self._begin(self.matcher.tick(m.now))
        while (step := self._take()) is not None:
            assert isinstance(step, Formed)
            self._check_formed(step, seeker_waiting=True)
        self._end()
        self._check_maximal()

    def advance(self, seconds: float) -> None:
        self.model.now += seconds


# --------------------------------------------------------------------------- strategies

LANGS = ["en", "fr", "de", "en", "en"]
profiles_by_session = {
    s: st.builds(
        Profile,
        person=st.just(PERSON_OF[s]),
        languages=st.lists(st.sampled_from(LANGS), max_size=2).map(lambda codes: tuple(dict.fromkeys(codes))),
        interests=st.frozensets(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=4),
        text_only=st.sampled_from([False, False, False, False, True]),
        auto_next=st.sampled_from([True, True, False]),
    )
    for s in SESSIONS
}
session = st.sampled_from(list(SESSIONS))
join = session.flatmap(lambda s: profiles_by_session[s].map(lambda p: ("join", s, p)))
operation = st.one_of(
    join,
    join,
    join,
    st.tuples(st.just("next"), session),
    st.tuples(st.just("next"), session),
    st.tuples(st.just("next"), session),
    st.tuples(st.just("leave"), session),
    st.tuples(st.just("block"), session),
    st.tuples(st.just("tick")),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0, 40.0, 200.0])),
)
policies = st.builds(
    lambda relax, window, bonus, cap: MatchPolicy(
        schedule=(
            (RelaxationStep(0.0, LanguageRule.ANY),)
            if relax == 0
            else (RelaxationStep(0.0, LanguageRule.SHARED),)
            + (() if relax is None else (RelaxationStep(relax, LanguageRule.ANY),))
        ),
        recent_window_seconds=window,
        interest_bonus_seconds=bonus,
        max_bonus_interests=cap,
    ),
    st.sampled_from([None, 0.0, 3.0, 10.0]),
    st.sampled_from([0.5, 5.0, 60.0, 600.0]),
    st.sampled_from([0.0, 1.0, 2.5]),
    st.sampled_from([1, 3]),
)


def run(policy: MatchPolicy, seed: int, ops: list[tuple[object, ...]]) -> Harness:
    h = Harness(policy, seed)
    for op in ops:
        name, *args = op
        getattr(h, str(name))(*args)
    # Liveness: once every wait has relaxed and every meeting has left the window, one tick pairs
    # everyone who can be paired.
    h.advance(policy.recent_window_seconds + (policy.relax_after or 0.0) + 1.0)
    h.tick()
    return h


@settings(max_examples=400, deadline=None)
@given(policy=policies, seed=st.integers(0, 2**16), ops=st.lists(operation, min_size=5, max_size=60))
def test_random_histories_respect_every_rule(policy: MatchPolicy, seed: int, ops: list[tuple[object, ...]]) -> None:
    run(policy, seed, ops)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), ops=st.lists(operation, min_size=100, max_size=300))
def test_long_histories_with_the_default_policy(seed: int, ops: list[tuple[object, ...]]) -> None:
    run(MatchPolicy(), seed, ops)


def test_the_harness_sees_pairs_form() -> None:
    """Guard against a vacuous model: a plain history does form and check pairs."""
    h = Harness(MatchPolicy(), 1)
    h.join(0, Profile(0, ("en",)))
    h.join(1, Profile(1, ("en",)))
    h.next(0)
    h.join(2, Profile(2, ("fr",)))
    h.advance(10.0)
    h.tick()
    assert h.model.pairs_formed == 2  # (0, 1); after Next, the relaxed 1 with the French speaker 2
    assert h.model.state[0] == "waiting"
