"""The Roulette matcher, example by example. Properties over random histories: test_matcher_properties.py."""

from __future__ import annotations

import itertools
import random

import pytest

from palaver.domain.roulette import (
    Ended,
    Formed,
    LanguageRule,
    Matcher,
    MatchPolicy,
    Pair,
    ParticipantState,
    Profile,
    RecentMeetings,
    RelaxationStep,
    Role,
    Step,
    normalise_interests,
    normalise_languages,
)
from palaver.errors import Conflict, InvalidInput

WAITING, PAIRED, IDLE = ParticipantState.WAITING, ParticipantState.PAIRED, ParticipantState.IDLE


def matcher(policy: MatchPolicy | None = None, seed: int = 0) -> Matcher:
    counter = itertools.count(1)
    return Matcher(policy or MatchPolicy(), new_pair_id=lambda: next(counter), rng=random.Random(seed))


def who(
    person: int,
    languages: tuple[str, ...] = ("en",),
    interests: tuple[str, ...] = (),
    *,
    text_only: bool = False,
    auto_next: bool = True,
) -> Profile:
    return Profile(person, languages, frozenset(interests), text_only, auto_next)


def formed(steps: list[Step]) -> list[Pair]:
    return [s.pair for s in steps if isinstance(s, Formed)]


def partners(steps: list[Step]) -> set[frozenset[int]]:
    return {frozenset(p.members) for p in formed(steps)}


def ok(m: Matcher) -> None:
    assert m.invariant_violations() == []


# --------------------------------------------------------------------------- basics


def test_two_compatible_people_pair_at_once_with_one_offerer() -> None:
    m = matcher()
    assert m.join(1, who(10), 0.0) == []
    assert m.state_of(1) is WAITING
    steps = m.join(2, who(20), 0.5)
    assert len(steps) == 1 and isinstance(steps[0], Formed)
    step = steps[0]
    assert step.seeker == 2
    pair = step.pair
    assert (pair.first, pair.second) == (1, 2)  # first waited longer
    assert (pair.first_person, pair.second_person) == (10, 20)
    assert {pair.role_of(1), pair.role_of(2)} == {Role.OFFERER, Role.ANSWERER}
    assert m.state_of(1) is PAIRED and m.pair_of(1) is m.pair_of(2) is pair
    assert m.counts().paired == 2 and m.counts().waiting == 0
    ok(m)


def test_offerer_is_random_but_injected() -> None:
    offerers = set()
    for seed in range(20):
        m = matcher(seed=seed)
        m.join(1, who(10), 0.0)
        [pair] = formed(m.join(2, who(20), 0.0))
        offerers.add(pair.offerer)
    assert offerers == {1, 2}


def test_join_twice_conflicts_and_unknown_next_conflicts() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    with pytest.raises(Conflict) as exc:
        m.join(1, who(10), 0.0)
    assert exc.value.code == "already_started"
    with pytest.raises(Conflict) as exc2:
        m.next(99, 0.0)
    assert exc2.value.code == "not_started"
    assert m.leave(99, 0.0) == []  # leaving is idempotent
    ok(m)


def test_two_sessions_of_one_person_never_pair() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    assert m.join(2, who(10), 0.0) == []
    assert m.tick(10_000.0) == []
    [pair] = formed(m.join(3, who(30), 10_000.0))
    assert pair.members == (1, 3)
    ok(m)


def test_people_paired_in_one_session_do_not_pair_in_another_meanwhile() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    m.join(2, who(20), 0.0)
    m.join(11, who(10, ("fr",)), 0.0)
    assert m.join(12, who(20, ("fr",)), 0.0) == []
    ok(m)


# --------------------------------------------------------------------------- fairness and interests


def test_longest_waiting_compatible_person_is_served_first() -> None:
    m = matcher()
    for i, t in enumerate([0.0, 1.0, 2.0]):
        m.join(i + 1, who(10), t)  # three sessions of one person: they never pair with each other
    assert m.waiting() == [1, 2, 3]
    assert partners(m.join(4, who(40), 3.0)) == {frozenset({1, 4})}
    assert partners(m.join(5, who(50), 3.0)) == {frozenset({2, 5})}
    assert m.waiting() == [3]
    ok(m)


def test_incompatible_older_waiters_are_skipped_not_blocking() -> None:
    m = matcher()
    m.join(1, who(10, ("fr",)), 0.0)
    m.join(2, who(20, ("en",), text_only=True), 0.0)
    m.join(3, who(30, ("en",)), 1.0)
    assert partners(m.join(4, who(40, ("en",)), 2.0)) == {frozenset({3, 4})}
    ok(m)


def test_interest_overlap_wins_among_similar_waits() -> None:
    m = matcher()
    m.join(1, who(10, interests=("music",)), 0.0)
    m.join(2, who(10, interests=("chess", "go")), 0.1)
    m.join(3, who(10, interests=("chess",)), 0.2)
    [pair] = formed(m.join(4, who(40, interests=("chess", "go", "music")), 0.5))
    assert set(pair.members) == {2, 4}  # two common interests beat one, and beat 0.1 s more waiting
    assert pair.common_interests == ("chess", "go")
    ok(m)


def test_interest_bonus_is_bounded_so_long_waiters_still_win() -> None:
    m = matcher(MatchPolicy(interest_bonus_seconds=1.0, max_bonus_interests=3))
    m.join(1, who(10), 0.0)  # no interests, waits 5 s
    m.join(2, who(10, interests=("a", "b", "c", "d")), 3.5)
    [pair] = formed(m.join(3, who(30, interests=("a", "b", "c", "d")), 5.0))
    # candidate 1 scores 5.0; candidate 2 scores 1.5 + min(4, 3) * 1.0 = 4.5 (uncapped it would win)
    assert set(pair.members) == {1, 3}
    ok(m)


def test_ties_go_to_the_longer_wait() -> None:
    m = matcher()
    m.join(1, who(10, interests=("x",)), 0.0)
    m.join(2, who(10, interests=("x",)), 0.0)
    [pair] = formed(m.join(3, who(30, interests=("x",)), 0.0))
    assert set(pair.members) == {1, 3}


# --------------------------------------------------------------------------- language relaxation


def test_language_mates_first_then_anyone_after_the_threshold() -> None:
    m = matcher()  # default schedule: shared language for 10 s, then anyone
    m.join(1, who(10, ("fr",)), 0.0)
    m.join(2, who(20, ("en",)), 0.0)
    assert m.tick(9.5) == []
    assert partners(m.join(3, who(30, ("en",)), 9.5)) == {frozenset({2, 3})}  # the language mate
    m.join(4, who(40, ("de",)), 9.5)
    assert m.tick(10.0) == []  # 1 (fr) relaxed, but 4 (de) still wants German speakers
    assert partners(m.tick(19.5)) == {frozenset({1, 4})}  # both relaxed
    ok(m)


def test_strict_newcomer_does_not_take_a_relaxed_stranger() -> None:
    m = matcher()
    m.join(1, who(10, ("fr",)), 0.0)
    m.tick(20.0)  # 1 relaxed
    assert m.join(2, who(20, ("en",)), 20.0) == []  # 2 still wants English for 10 s
    assert m.tick(29.5) == []
    assert partners(m.tick(30.0)) == {frozenset({1, 2})}
    ok(m)


def test_a_relaxed_waiter_still_pairs_with_a_language_mate_newcomer() -> None:
    m = matcher()
    m.join(1, who(10, ("fr", "en")), 0.0)
    m.tick(60.0)
    assert partners(m.join(2, who(20, ("en",)), 60.0)) == {frozenset({1, 2})}


def test_several_languages_take_the_oldest_across_them() -> None:
    m = matcher()
    m.join(1, who(10, ("de",)), 0.0)
    m.join(2, who(10, ("fr", "de")), 1.0)  # listed under fr and de: must come once
    m.join(3, who(10, ("fr",)), 2.0)
    [pair] = formed(m.join(4, who(40, ("fr", "de")), 3.0))
    assert set(pair.members) == {1, 4}
    [pair] = formed(m.join(5, who(50, ("fr",)), 3.0))
    assert set(pair.members) == {2, 5}
    ok(m)


def test_no_language_means_anyone_who_accepts_anyone() -> None:
    m = matcher()
    m.join(1, who(10, ()), 0.0)
    assert m.join(2, who(20, ("en",)), 0.0) == []  # 2 wants English speakers for now
    assert partners(m.join(3, who(30, ()), 0.0)) == {frozenset({1, 3})}
    m.join(4, who(40, ()), 1.0)
    assert partners(m.tick(10.0)) == {frozenset({2, 4})}
    ok(m)


def test_schedule_without_relaxation_never_mixes_languages() -> None:
    m = matcher(MatchPolicy(schedule=(RelaxationStep(0.0, LanguageRule.SHARED),)))
    m.join(1, who(10, ("fr",)), 0.0)
    m.join(2, who(20, ("en",)), 0.0)
    assert m.tick(1e6) == []
    ok(m)


def test_schedule_relaxed_from_the_start_mixes_at_once() -> None:
    m = matcher(MatchPolicy(schedule=(RelaxationStep(0.0, LanguageRule.ANY),)))
    m.join(1, who(10, ("fr",)), 0.0)
    assert partners(m.join(2, who(20, ("en",)), 0.0)) == {frozenset({1, 2})}


def test_policy_rejects_bad_schedules() -> None:
    with pytest.raises(ValueError, match="starts"):
        MatchPolicy(schedule=())
    with pytest.raises(ValueError, match="starts"):
        MatchPolicy(schedule=(RelaxationStep(1.0, LanguageRule.SHARED),))
    with pytest.raises(ValueError, match="increasing"):
        MatchPolicy(schedule=(RelaxationStep(0.0, LanguageRule.SHARED), RelaxationStep(0.0, LanguageRule.ANY)))
    with pytest.raises(ValueError, match="tightens"):
        MatchPolicy(
            schedule=(
                RelaxationStep(0.0, LanguageRule.SHARED),
                RelaxationStep(5.0, LanguageRule.ANY),
                RelaxationStep(9.0, LanguageRule.SHARED),
            )
        )
    with pytest.raises(ValueError, match="max_scan"):
        MatchPolicy(max_scan=0)
    with pytest.raises(ValueError, match="window"):
        MatchPolicy(recent_window_seconds=0)
    policy = MatchPolicy()
    assert policy.relax_after == 10.0
    assert policy.language_rule(9.99) is LanguageRule.SHARED
    assert policy.language_rule(10.0) is LanguageRule.ANY


# --------------------------------------------------------------------------- text-only


def test_text_only_people_meet_only_text_only_people() -> None:
    m = matcher()
    m.join(1, who(10, text_only=True), 0.0)
    assert m.join(2, who(20), 0.0) == []
    assert m.tick(1000.0) == []
    assert m.join(3, who(30, ("de",), text_only=True), 1000.0) == []  # 3 wants German for now
    assert m.tick(1009.5) == []
    [pair] = formed(m.tick(1010.0))
    assert set(pair.members) == {1, 3} and pair.text_only
    assert m.state_of(2) is WAITING
    ok(m)


# --------------------------------------------------------------------------- next, leave, auto-next


def test_next_requeues_both_and_never_repairs_them() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    [pair] = formed(m.join(2, who(20), 0.0))
    steps = m.next(1, 5.0)
    assert steps == [Ended(pair, actor=1, partner=2, partner_requeued=True)]
    assert m.state_of(1) is WAITING and m.state_of(2) is WAITING
    assert m.waiting() == [2, 1]  # the one left behind queues first
    assert m.tick(500.0) == []  # relaxed and alone in the queue, but they just met
    [again] = formed(m.join(3, who(30), 10.0))
    assert set(again.members) == {2, 3}
    ok(m)


def test_meeting_again_is_allowed_after_the_window() -> None:
    m = matcher(MatchPolicy(recent_window_seconds=600.0))
    m.join(1, who(10), 0.0)
    m.join(2, who(20), 0.0)
    m.next(1, 100.0)  # their meeting ended at 100
    assert m.tick(699.5) == []
    assert m.met_recently(10, 20)
    assert partners(m.tick(700.0)) == {frozenset({1, 2})}
    assert m.met_recently(10, 20)  # they meet again now
    ok(m)


def test_meeting_again_after_the_window_on_join() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    m.join(2, who(20), 0.0)
    m.leave(1, 1.0)
    m.leave(2, 1.0)
    m.join(1, who(10), 500.0)
    assert m.join(2, who(20), 600.5) == []
    m.leave(2, 600.5)
    assert partners(m.join(2, who(20), 601.0)) == {frozenset({1, 2})}


def test_leave_mid_pair_requeues_partner_who_pairs_with_a_waiter() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    m.join(2, who(20), 0.0)
    m.join(3, who(30, ("en", "fr")), 1.0)
    steps = m.leave(1, 2.0)
    assert isinstance(steps[0], Ended) and steps[0].partner == 2 and steps[0].partner_requeued
    assert isinstance(steps[1], Formed) and steps[1].seeker == 2
    assert set(steps[1].pair.members) == {2, 3}
    assert m.state_of(1) is None
    ok(m)


def test_auto_next_off_leaves_partner_idle_until_next() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    [pair] = formed(m.join(2, who(20, auto_next=False), 0.0))
    steps = m.next(1, 1.0)
    assert steps == [Ended(pair, actor=1, partner=2, partner_requeued=False)]
    assert m.state_of(2) is IDLE
    assert m.join(3, who(30), 1.0) != []  # 3 pairs with 1, not with the idle 2
    assert m.state_of(2) is IDLE
    m.join(4, who(40), 2.0)
    assert partners(m.next(2, 3.0)) == {frozenset({2, 4})}
    ok(m)


def test_next_while_waiting_keeps_the_place() -> None:
    m = matcher()
    m.join(1, who(10), 0.0)
    m.join(2, who(20, ("fr",)), 1.0)
    assert m.next(1, 2.0) == []
    assert m.waiting() == [1, 2] and m.waiting_since(1) == 0.0


def test_leave_while_waiting_and_idle() -> None:
    m = matcher()
    m.join(1, who(10, ("fr",)), 0.0)
    m.join(2, who(20), 0.0)
    assert m.leave(1, 1.0) == [] and m.leave(2, 1.0) == []
    assert m.counts().online == 0
    assert m.tick(100.0) == []
    ok(m)


# --------------------------------------------------------------------------- blocks and recent memory


def test_blocked_people_never_meet() -> None:
    m = matcher()
    m.block(10, 20)
    m.join(1, who(10), 0.0)
    assert m.join(2, who(20), 0.0) == []
    assert m.tick(1e6) == []
    m.block(30, 30)  # blocking oneself is ignored
    assert partners(m.join(3, who(30), 1e6)) == {frozenset({1, 3})}
    ok(m)


def test_recent_memory_is_bounded_by_the_window() -> None:
    m = matcher(MatchPolicy(recent_window_seconds=60.0))
    now = 0.0
    for i in range(200):
        m.join(2 * i, who(2 * i), now)
        m.join(2 * i + 1, who(2 * i + 1), now)
        m.leave(2 * i, now)
        m.leave(2 * i + 1, now)
        now += 1.0
    assert 55 <= m.remembered_meetings <= 61
    m.tick(now + 60.0)
    assert m.remembered_meetings == 0


def test_recent_meetings_count_from_the_end_of_the_latest_meeting() -> None:
    recent = RecentMeetings(10.0)
    recent.begin(1, 2)
    assert recent.met_recently(1, 2) and recent.met_recently(2, 1)  # meeting now
    assert recent.expire(1000.0) == []  # a meeting in progress does not expire
    recent.end(1, 2, 1000.0)
    recent.begin(2, 1)
    recent.end(2, 1, 1005.0)
    assert recent.expire(1014.9) == [] and len(recent) == 1
    assert recent.expire(1010.0) == [] and recent.met_recently(2, 1)  # still the later meeting
    assert recent.expire(1015.0) == [(2, 1)]
    assert not recent.met_recently(1, 2) and len(recent) == 0 and recent.logged == 0


def test_recent_meetings_log_is_compacted() -> None:
    recent = RecentMeetings(1.0)
    for i in range(20_000):
        recent.begin(i, -i - 1)
        recent.end(i, -i - 1, float(i))
        recent.expire(float(i))
    assert recent.logged == 1 and len(recent) == 1
    assert len(recent._log_at) < 10_000


def test_search_that_runs_out_of_budget_is_completed_on_the_next_tick() -> None:
    m = matcher(MatchPolicy(max_scan=2))
    for i, lang in enumerate(["fr", "de", "it"]):  # three waiters who cannot pair with each other...
        m.join(i, who(100 + i, (lang,)), 0.0)
        m.block(100 + i, 999)  # ...and whom the newcomer blocked
    m.join(3, who(103, ("es",)), 0.0)  # the one acceptable partner, fourth in line
    assert m.join(4, who(999, ("fr", "de", "it", "es")), 1.0) == []  # gave up after two candidates
    [pair] = formed(m.tick(1.0))
    assert set(pair.members) == {3, 4}
    ok(m)


def test_time_never_goes_backwards() -> None:
    m = matcher()
    m.join(1, who(10, ("fr",)), 100.0)
    m.join(2, who(20), 50.0)  # treated as 100
    assert m.waiting_since(2) == 100.0
    assert m.tick(105.0) == []
    assert partners(m.tick(110.0)) == {frozenset({1, 2})}


# --------------------------------------------------------------------------- criteria


def test_languages_are_normalised_and_validated() -> None:
    assert normalise_languages([" EN", "fr", "en", "deu"]) == ("en", "fr", "deu")
    assert normalise_languages([]) == ()
    for bad in (["english"], ["e"], ["e1"], [1], ["en"] * 9, "en"):
        with pytest.raises(InvalidInput) as exc:
            normalise_languages(bad)
        assert exc.value.code == "invalid_languages"


def test_interests_are_normalised_and_validated() -> None:
    raw = ["  Chess ", "chess", "Board   Games", "ＭＵＳＩＣ"]
    assert normalise_interests(raw) == {"chess", "board games", "music"}
    for bad in ([""], ["   "], ["x" * 25], ["a\x00b"], [3], [str(i) for i in range(11)], "chess"):
        with pytest.raises(InvalidInput) as exc:
            normalise_interests(bad)
        assert exc.value.code == "invalid_interests"
    assert normalise_interests(["x" * 24]) == {"x" * 24}


def test_profile_validates_itself() -> None:
    with pytest.raises(InvalidInput):
        Profile(1, ("EN",))
    with pytest.raises(InvalidInput):
        Profile(1, ("en", "en"))
    with pytest.raises(InvalidInput):
        Profile(1, (), frozenset({"x" * 30}))


def test_pair_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="two different"):
        Pair(1, 1, 1, 10, 20, 1, 0.0)
    with pytest.raises(ValueError, match="two different"):
        Pair(1, 1, 2, 10, 10, 1, 0.0)
    with pytest.raises(ValueError, match="offerer"):
        Pair(1, 1, 2, 10, 20, 3, 0.0)
    pair = Pair(1, 1, 2, 10, 20, 2, 0.0)
    assert pair.partner_of(2) == 1 and pair.person_of(2) == 20 and pair.role_of(2) is Role.OFFERER
    with pytest.raises(KeyError):
        pair.partner_of(3)
