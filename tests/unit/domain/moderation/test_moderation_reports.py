from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.moderation import Report, ReportReason, ReportWindow, ReviewState
from palaver.errors import InvalidInput

_ids = itertools.count(1)


def report(reporter: int, at: float, *, reported: int = 99, state: ReviewState = ReviewState.OPEN) -> Report:
    return Report(
        id=next(_ids),
        reporter_id=reporter,
        reported_id=reported,
        reason=ReportReason.SPAM,
        note="",
        pair_id="p1",
        created_at=at,
        state=state,
    )


WINDOW = ReportWindow(threshold=3, window_seconds=300)


def test_three_distinct_reporters_within_five_minutes_warrant_a_ban() -> None:
    reports = [report(1, 0), report(2, 100), report(3, 299)]
    assert WINDOW.warrants_ban(reports, since=None)


def test_two_reporters_do_not() -> None:
    assert not WINDOW.warrants_ban([report(1, 0), report(2, 10)], since=None)


def test_the_same_reporter_counts_once() -> None:
    reports = [report(1, 0), report(1, 10), report(1, 20), report(2, 30)]
    assert WINDOW.distinct_reporters(reports, since=None) == 2
    assert not WINDOW.warrants_ban(reports, since=None)


def test_the_window_slides_with_the_newest_report() -> None:
    reports = [report(1, 0), report(2, 100), report(3, 301)]  # 1 fell out of the window ending at 301
    assert not WINDOW.warrants_ban(reports, since=None)
    assert WINDOW.warrants_ban([*reports, report(4, 350)], since=None)


def test_only_reports_after_the_previous_ban_count() -> None:
    reports = [report(1, 10), report(2, 20), report(3, 30)]
    assert not WINDOW.warrants_ban(reports, since=10.0)  # the report at 10 is not after the ban
    assert WINDOW.warrants_ban(reports, since=9.0)


def test_dismissed_reports_do_not_count() -> None:
    reports = [report(1, 0), report(2, 10, state=ReviewState.DISMISSED), report(3, 20)]
    assert not WINDOW.warrants_ban(reports, since=None)


def test_no_reports_no_ban() -> None:
    assert WINDOW.counting([], since=None) == []
    assert not WINDOW.warrants_ban([], since=None)


def test_a_report_is_validated() -> None:
    with pytest.raises(InvalidInput) as err:
        report(5, 0, reported=5)
    assert err.value.code == "cannot_report_self"
    with pytest.raises(InvalidInput) as err:
        Report(id=1, reporter_id=1, reported_id=2, reason=ReportReason.OTHER, note="x" * 501, pair_id=None,
               created_at=0)
    assert err.value.code == "invalid_note"
    with pytest.raises(InvalidInput) as err:
        ReportReason.parse("rude")
    assert err.value.code == "invalid_reason"
    assert ReportReason.parse("underage") is ReportReason.UNDERAGE


def test_a_window_needs_a_positive_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ReportWindow(threshold=0)


reports_strategy = st.lists(
    st.tuples(st.integers(1, 6), st.floats(0, 1000, allow_nan=False), st.booleans()), max_size=30
)


@given(reports_strategy, st.integers(1, 5), st.floats(0, 600, allow_nan=False))
def test_the_count_is_of_distinct_reporters_in_the_window(
    raw: list[tuple[int, float, bool]], threshold: int, seconds: float
) -> None:
    window = ReportWindow(threshold=threshold, window_seconds=seconds)
    reports = [
        report(who, at, state=ReviewState.DISMISSED if dismissed else ReviewState.OPEN) for who, at, dismissed in raw
    ]
    kept = [r for r in reports if r.state is not ReviewState.DISMISSED]
    counted = window.distinct_reporters(reports, since=None)
    if not kept:
        assert counted == 0
        return
    newest = max(r.created_at for r in kept)
    expected = {r.reporter_id for r in kept if r.created_at >= newest - seconds}
    assert counted == len(expected)
    assert counted <= len({r.reporter_id for r in kept})
    assert window.warrants_ban(reports, since=None) == (len(expected) >= threshold)


@given(reports_strategy, st.integers(1, 6))
def test_repeating_a_reporter_never_changes_the_count(raw: list[tuple[int, float, bool]], who: int) -> None:
    reports = [report(r, at) for r, at, _ in raw]
    if not reports:
        return
    newest = max(r.created_at for r in reports)
    count = WINDOW.distinct_reporters(reports, since=None)
    mine = [r for r in reports if r.reporter_id == who and r.created_at >= newest - 300]
    if mine:  # the same person again, at the newest moment: still counted once
        assert WINDOW.distinct_reporters([*reports, report(who, newest)], since=None) == count
