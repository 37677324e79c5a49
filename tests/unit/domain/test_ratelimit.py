from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.ratelimit import KeyedLimiter, TokenBucket


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    bucket = TokenBucket.full(rate=2.0, burst=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == 0.5
    assert bucket.take(0.5) is True
    assert bucket.take(0.5) is False


@given(st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=200))
def test_bucket_never_allows_more_than_burst_plus_rate_times_elapsed(gaps: list[float]) -> None:
    bucket = TokenBucket.full(rate=5.0, burst=10.0, now=0.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += bucket.take(now)
    assert allowed <= 10 + 5.0 * now + 1e-9


def test_keyed_limiter_isolates_keys_and_stays_bounded() -> None:
    limiter = KeyedLimiter(rate=1.0, burst=1.0, max_keys=3)
    assert limiter.allow("a", 0.0) and not limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0)
    for key in "cdef":
        limiter.allow(key, 0.0)
    assert len(limiter._buckets) == 3
    assert limiter.allow("a", 0.0)  # forgotten as least recently used
    assert limiter.would_allow("z", 0.0)
    limiter.reset("a")
    assert limiter.allow("a", 0.0)
