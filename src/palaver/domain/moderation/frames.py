"""Flagged frames: snapshots the classifier scored at or above the threshold, kept as evidence.

The image bytes are deleted after the retention period (``purged_at`` is set); the row with its score
and metadata stays for the audit trail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from palaver.domain.moderation.review import ReviewState

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FlaggedFrame:
    id: int
    user_id: int
    pair_id: str | None
    score: float
    created_at: float
    state: ReviewState = ReviewState.OPEN
    purged_at: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError("a classifier score is between 0 and 1")

    @property
    def purged(self) -> bool:
        return self.purged_at is not None


def purge_cutoff(now: float, retention_days: float) -> float:
    """Frames flagged before this moment have outlived the retention period."""
    if retention_days < 0:
        raise ValueError("the retention period is not negative")
    return now - retention_days * DAY
