"""Rate limits as pure state: callers pass the current monotonic time in."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each action takes one."""

    rate: float
    burst: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate=rate, burst=burst, tokens=burst, updated=now)

    def take(self, now: float, cost: float = 1.0) -> bool:
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        return max((cost - self.tokens) / self.rate, 0.0) if self.rate > 0 else float("inf")


class KeyedLimiter:
    """A bounded map of token buckets by key (e.g. a username or an IP address).

    The least recently used keys are forgotten past ``max_keys``, so memory stays bounded however many
    distinct keys an attacker sends.
    """

    def __init__(self, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(self._rate, self._burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def allow(self, key: str, now: float) -> bool:
        return self._bucket(key, now).take(now)

    def would_allow(self, key: str, now: float) -> bool:
        bucket = self._bucket(key, now)
        elapsed = max(now - bucket.updated, 0.0)
        return min(bucket.burst, bucket.tokens + elapsed * bucket.rate) >= 1.0

    def retry_after(self, key: str) -> float:
        bucket = self._buckets.get(key)
        return bucket.retry_after() if bucket else 0.0

    def reset(self, key: str) -> None:
        self._buckets.pop(key, None)
