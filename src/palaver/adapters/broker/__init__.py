"""Broker adapters: in-process memory and Redis pub/sub, behind ``palaver.ports.Broker``."""

from __future__ import annotations

from typing import Literal

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.broker.redis import RedisBroker
from palaver.ports import Broker

__all__ = ["MemoryBroker", "RedisBroker", "make_broker"]


def make_broker(kind: Literal["memory", "redis"], *, redis_url: str | None, prefix: str) -> Broker:
    """Build the broker chosen by configuration (not started yet: call ``start()``)."""
    if kind == "memory":
        return MemoryBroker()
    if kind == "redis":
        if not redis_url:
            raise ValueError("the Redis broker needs a redis_url")
        return RedisBroker(redis_url, prefix=prefix)
    raise ValueError(f"unknown broker kind: {kind!r}")
