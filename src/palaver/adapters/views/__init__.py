"""View ledgers (``palaver.ports.ViewLedger``): in-process memory and Redis."""

from __future__ import annotations

from typing import Literal

from palaver.adapters.views.memory import MemoryViewLedger
from palaver.adapters.views.redis import RedisViewLedger
from palaver.ports import Clock, ViewLedger

__all__ = ["DEFAULT_WINDOW_SECONDS", "MemoryViewLedger", "RedisViewLedger", "make_view_ledger"]

DEFAULT_WINDOW_SECONDS = 7 * 86400.0  # a post's viewer set lives a week from its first view


def make_view_ledger(
    kind: Literal["memory", "redis"],
    *,
    clock: Clock,
    redis_url: str | None,
    prefix: str,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
) -> ViewLedger:
    """The ledger for the broker chosen: Redis when the processes share a Redis broker (so every
    process sees the same viewers), else this process's memory."""
    if kind == "memory":
        return MemoryViewLedger(clock, window_seconds=window_seconds)
    if kind == "redis":
        if not redis_url:
            raise ValueError("the Redis view ledger needs a redis_url")
        return RedisViewLedger(redis_url, prefix=prefix, window_seconds=window_seconds)
    raise ValueError(f"unknown view ledger kind: {kind!r}")
