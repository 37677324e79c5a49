from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.moderation import Ban, BanLadder, BanReason, BanState, escalation_level
from palaver.domain.moderation.bans import in_force, latest_start
from palaver.errors import InvalidInput

LADDER = BanLadder((600.0, 3600.0, 86400.0))


def ban(
    ban_id: int = 1,
    *,
    starts_at: float = 1000.0,
    ends_at: float | None = 1600.0,
    lifted_at: float | None = None,
    reason: BanReason = BanReason.REPORTS,
) -> Ban:
    return Ban(
        id=ban_id,
        user_id=7,
        reason=reason,
        reason_text="",
        level=1,
        starts_at=starts_at,
        ends_at=ends_at,
        lifted_at=lifted_at,
    )


def test_the_ladder_gives_ten_minutes_an_hour_a_day_then_review() -> None:
    assert [LADDER.duration(n) for n in (1, 2, 3, 4, 9)] == [600.0, 3600.0, 86400.0, None, None]
    assert LADDER.ends_at(2, 100.0) == 3700.0
    assert LADDER.ends_at(4, 100.0) is None
    with pytest.raises(ValueError, match="levels"):
        LADDER.duration(0)
    with pytest.raises(ValueError, match="positive"):
        BanLadder((600.0, 0.0))


def test_state_at_a_moment() -> None:
    timed = ban(ends_at=1600.0)
    assert timed.state_at(1000.0) is BanState.ACTIVE
    assert timed.state_at(1599.9) is BanState.ACTIVE
    assert timed.state_at(1600.0) is BanState.EXPIRED
    assert ban(ends_at=None).state_at(1e12) is BanState.REVIEW
    assert ban(lifted_at=1200.0).state_at(1100.0) is BanState.LIFTED
    assert ban(ends_at=None, lifted_at=1200.0).state_at(1300.0) is BanState.LIFTED
    assert ban(ends_at=None).in_force(5.0e9)
    assert not ban().in_force(2000.0)


def test_a_ban_is_validated() -> None:
    with pytest.raises(InvalidInput) as err:
        ban(starts_at=10.0, ends_at=5.0)
    assert err.value.code == "invalid_ends_at"
    with pytest.raises(ValueError, match="level"):
        Ban(id=1, user_id=1, reason=BanReason.MODERATOR, reason_text="", level=0, starts_at=0, ends_at=None)
    with pytest.raises(InvalidInput):
        Ban(id=1, user_id=1, reason=BanReason.MODERATOR, reason_text="x" * 501, level=1, starts_at=0, ends_at=None)


def test_lifted_bans_do_not_escalate() -> None:
    history = [ban(1), ban(2, lifted_at=1100.0), ban(3, ends_at=None)]
    assert escalation_level([]) == 1
    assert escalation_level(history) == 3


def test_the_ban_in_force_prefers_review_then_the_latest_end() -> None:
    a, b, c = ban(1, ends_at=1500.0), ban(2, ends_at=1800.0), ban(3, ends_at=None)
    assert in_force([a, b], 1200.0) is b
    assert in_force([a, b, c], 1200.0) is c
    assert in_force([a, b], 1900.0) is None
    assert latest_start([ban(1, starts_at=5.0), ban(2, starts_at=50.0, ends_at=None)]) == 50.0
    assert latest_start([]) is None


def test_only_moderator_bans_are_not_automatic() -> None:
    assert BanReason.REPORTS.automatic and BanReason.NUDITY_DETECTED.automatic
    assert not BanReason.MODERATOR.automatic


history_strategy = st.lists(st.booleans(), max_size=12)  # True: that earlier ban was lifted


@given(history_strategy, st.booleans())
def test_escalation_is_monotone(lifted: list[bool], next_lifted: bool) -> None:
    """One more ban never lowers the next rung; it raises it by one exactly when it stands."""
    history = [ban(i, lifted_at=1100.0 if gone else None) for i, gone in enumerate(lifted)]
    before = escalation_level(history)
    after = escalation_level([*history, ban(99, lifted_at=1100.0 if next_lifted else None)])
    assert after == before + (0 if next_lifted else 1)
    assert before == 1 + lifted.count(False)


@given(st.integers(1, 20), st.integers(1, 20))
def test_higher_rungs_never_last_less(low: int, high: int) -> None:
    low, high = sorted((low, high))
    ladder = BanLadder((60.0, 600.0, 3600.0))
    short, long = ladder.duration(low), ladder.duration(high)
    assert long is None or (short is not None and short <= long)
