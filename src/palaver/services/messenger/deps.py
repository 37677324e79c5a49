"""What every messenger service shares: ports, the writer and the policy."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from palaver.domain.messenger.updates import DEFAULT_DIFFERENCE_LIMIT
from palaver.ports import Broker, Clock, IdGenerator, Storage, ViewLedger
from palaver.services.messenger.writer import Writer


@dataclass(frozen=True, slots=True)
class MessengerPolicy:
    difference_limit: int = DEFAULT_DIFFERENCE_LIMIT  # updates per getDifference slice by default
    too_long_after: int = 10_000  # further behind than this: too_long, reload
    batch_writes: bool = False  # group commit: ~10× the sends per CPU-second on SQLite and PostgreSQL
    max_batch: int = 256
    views_flush_every: int = 1000  # pending view counts that trigger a flush


class LockedIds:
    """An id generator that may be called from the SQLite writer thread and the event loop at once
    (share one between all services that use the same generator)."""

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            return self._ids.next_id()


@dataclass(frozen=True, slots=True)
class Deps:
    storage: Storage
    broker: Broker
    clock: Clock
    ids: IdGenerator
    writer: Writer
    policy: MessengerPolicy
    views: ViewLedger  # who has viewed which channel post, across processes
