from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.moderation import (
    Appeal,
    AppealDecision,
    AppealState,
    BanSubject,
    FlaggedFrame,
    SubjectKind,
    hash_ip,
    purge_cutoff,
    validate_appeal_text,
)
from palaver.domain.moderation.subjects import subjects_of
from palaver.errors import InvalidInput


def test_ip_hashes_are_salted_and_stable() -> None:
    a = hash_ip("salt", "203.0.113.7")
    assert a is not None and len(a) == 32
    assert hash_ip("salt", "203.0.113.7") == a
    assert hash_ip("other salt", "203.0.113.7") != a
    assert hash_ip("salt", "203.0.113.8") != a
    assert hash_ip("salt", "2001:DB8::1") == hash_ip("salt", "2001:db8::1")
    assert b"203.0.113.7" not in a
    assert hash_ip("salt", "") is None


def test_subjects_of_a_ban() -> None:
    found = subjects_of(5, device_ids=[9, 9], ip_hashes=[b"\x01" * 32])
    assert found == (
        BanSubject(SubjectKind.ACCOUNT, "5"),
        BanSubject(SubjectKind.DEVICE, "9"),
        BanSubject(SubjectKind.IP, "01" * 32),
    )
    with pytest.raises(ValueError, match="subject"):
        BanSubject(SubjectKind.ACCOUNT, "")


def test_appeal_text_and_decision() -> None:
    assert validate_appeal_text("I was holding a painting.") == "I was holding a painting."
    for bad in ("", "   ", "x" * 2001):
        with pytest.raises(InvalidInput) as err:
            validate_appeal_text(bad)
        assert err.value.code == "invalid_appeal_text"
    assert AppealDecision.parse("accept").outcome is AppealState.ACCEPTED
    assert AppealDecision.parse("reject").outcome is AppealState.REJECTED
    with pytest.raises(InvalidInput) as err:
        AppealDecision.parse("maybe")
    assert err.value.code == "invalid_decision"
    with pytest.raises(ValueError, match="decision time"):
        Appeal(id=1, ban_id=2, user_id=3, text="hi", created_at=0.0, state=AppealState.ACCEPTED)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_frame_scores_are_probabilities(score: float) -> None:
    valid = math.isfinite(score) and 0 <= score <= 1
    if valid:
        assert FlaggedFrame(id=1, user_id=2, pair_id=None, score=score, created_at=0.0).score == score
    else:
        with pytest.raises(ValueError, match="score"):
            FlaggedFrame(id=1, user_id=2, pair_id=None, score=score, created_at=0.0)


def test_purge_cutoff() -> None:
    assert purge_cutoff(100 * 86400.0, 30) == 70 * 86400.0
    with pytest.raises(ValueError, match="retention"):
        purge_cutoff(0.0, -1)
