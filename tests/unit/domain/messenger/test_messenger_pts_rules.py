"""pts arithmetic and difference planning."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.messenger.updates import (
    DifferenceKind,
    PtsCheck,
    allocate,
    check_pts,
    plan_difference,
    slice_state,
)


def test_the_client_rule() -> None:
    assert check_pts(5, 6, 1) is PtsCheck.APPLY
    assert check_pts(5, 8, 3) is PtsCheck.APPLY
    assert check_pts(6, 6, 1) is PtsCheck.ALREADY_SEEN
    assert check_pts(5, 7, 1) is PtsCheck.GAP


@given(st.integers(0, 10**9), st.lists(st.integers(1, 100), min_size=1, max_size=20))
def test_allocate_is_gap_free(start: int, counts: list[int]) -> None:
    after = start + sum(counts)
    values = allocate(after, counts)
    previous = start
    for pts, count in zip(values, counts, strict=True):
        assert pts - count == previous
        previous = pts
    assert previous == after


def test_plans() -> None:
    kwargs = {"floor_pts": 0, "limit": 100, "too_long_after": 1000}
    assert plan_difference(10, 10, **kwargs).kind is DifferenceKind.EMPTY
    plan = plan_difference(3, 10, **kwargs)
    assert (plan.kind, plan.from_pts, plan.limit) == (DifferenceKind.SLICE, 3, 100)
    assert plan_difference(0, 5000, **kwargs).kind is DifferenceKind.TOO_LONG
    assert plan_difference(11, 10, **kwargs).kind is DifferenceKind.TOO_LONG  # from the future
    assert plan_difference(3, 10, floor_pts=5, limit=100, too_long_after=1000).kind is DifferenceKind.TOO_LONG
    assert plan_difference(3, 10, floor_pts=0, limit=10**6, too_long_after=1000).limit == 1000


def test_slice_state() -> None:
    assert slice_state(10, None, full=False) == (10, True)
    assert slice_state(10, 7, full=True) == (7, False)
    assert slice_state(10, 10, full=True) == (10, True)
    assert slice_state(10, 10, full=False) == (10, True)
