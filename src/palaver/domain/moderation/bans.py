"""Roulette bans: why, how long, and their state at a moment.

Escalation: a person's n-th ban (counting only earlier bans that were not lifted — expired and
active ones count) is on rung n of the ladder and lasts ``rungs[n-1]`` seconds; beyond the ladder
the ban has no end and is held for review until a moderator acts. A ban without an end
(``ends_at is None``) is always in state "review": held until a moderator lifts or adjusts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from palaver.errors import InvalidInput

if TYPE_CHECKING:
    from palaver.domain.moderation.appeals import Appeal

MAX_REASON_TEXT = 500


class BanReason(StrEnum):
    REPORTS = "reports"  # enough distinct people reported the person within the window
    NUDITY_DETECTED = "nudity_detected"  # the classifier flagged a snapshot of their camera
    MODERATOR = "moderator"  # a moderator or admin banned them

    @property
    def automatic(self) -> bool:
        return self is not BanReason.MODERATOR


class BanState(StrEnum):
    ACTIVE = "active"  # in force until ends_at
    REVIEW = "review"  # in force with no end, until a moderator acts
    LIFTED = "lifted"  # ended early by a moderator (or an accepted appeal)
    EXPIRED = "expired"  # ran its course

    @property
    def in_force(self) -> bool:
        return self in (BanState.ACTIVE, BanState.REVIEW)


@dataclass(frozen=True, slots=True)
class Ban:
    id: int
    user_id: int
    reason: BanReason
    reason_text: str
    level: int  # 1-based rung of the ladder
    starts_at: float
    ends_at: float | None  # None: held for review, no end
    created_by: int | None = None  # None: the system
    lifted_at: float | None = None
    lifted_by: int | None = None
    lift_note: str = ""
    appeal: Appeal | None = None  # the latest appeal against it, when loaded with it
    observed_at: float | None = field(default=None, compare=False)  # when the service read or made it

    def __post_init__(self) -> None:
        if self.level < 1:
            raise ValueError("a ban's level is at least 1")
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise InvalidInput("A ban cannot end before it starts.", code="invalid_ends_at")
        if len(self.reason_text) > MAX_REASON_TEXT:
            raise InvalidInput(f"A ban reason has at most {MAX_REASON_TEXT} characters.", code="invalid_reason_text")
        if self.lifted_at is not None and self.lifted_at < self.starts_at:
            raise ValueError("a ban cannot be lifted before it starts")

    def state_at(self, now: float) -> BanState:
        if self.lifted_at is not None:
            return BanState.LIFTED
        if self.ends_at is None:
            return BanState.REVIEW
        return BanState.ACTIVE if now < self.ends_at else BanState.EXPIRED

    def in_force(self, now: float) -> bool:
        return self.state_at(now).in_force


@dataclass(frozen=True, slots=True)
class BanLadder:
    """Durations of the rungs, in seconds; past the last rung a ban is held for review."""

    rungs: tuple[float, ...] = (600.0, 3600.0, 86400.0)

    def __post_init__(self) -> None:
        if any(seconds <= 0 for seconds in self.rungs):
            raise ValueError("every rung of the ban ladder lasts a positive time")

    def duration(self, level: int) -> float | None:
        """Seconds a ban on rung ``level`` lasts; None past the ladder (held for review)."""
        if level < 1:
            raise ValueError("levels start at 1")
        return self.rungs[level - 1] if level <= len(self.rungs) else None

    def ends_at(self, level: int, starts_at: float) -> float | None:
        seconds = self.duration(level)
        return None if seconds is None else starts_at + seconds


def escalation_level(previous: Iterable[Ban]) -> int:
    """The rung of a person's next ban: their earlier bans that were not lifted, plus one."""
    return sum(1 for ban in previous if ban.lifted_at is None) + 1


def latest_start(bans: Iterable[Ban]) -> float | None:
    """When the person's most recent ban started (reports before it do not count any more)."""
    return max((ban.starts_at for ban in bans), default=None)


def in_force(bans: Iterable[Ban], now: float) -> Ban | None:
    """The ban that holds now, if any: one held for review first, else the one that ends last."""
    holding = [ban for ban in bans if ban.in_force(now)]
    if not holding:
        return None
    return max(holding, key=lambda ban: (ban.ends_at is None, ban.ends_at or 0.0, ban.id))
