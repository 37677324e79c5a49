"""Reports of one Roulette user by another, and when they add up to a ban.

Reports count toward a ban only when they come from distinct reporters, within ``window_seconds``
of each other (a sliding window ending at the newest report), were made after the person's previous
ban started, and were not dismissed by a moderator (Chatroulette, 2010: three within five minutes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from palaver.domain.moderation.review import ReviewState
from palaver.errors import InvalidInput

MAX_NOTE = 500


class ReportReason(StrEnum):
    NUDITY = "nudity"
    HARASSMENT = "harassment"
    SPAM = "spam"
    UNDERAGE = "underage"
    OTHER = "other"

    @classmethod
    def parse(cls, text: str) -> ReportReason:
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(reason.value for reason in cls)
            raise InvalidInput(f"A report reason is one of: {allowed}.", code="invalid_reason") from None


def validate_note(note: str, *, code: str = "invalid_note") -> str:
    """A free-text note of at most ``MAX_NOTE`` characters, without control characters but newlines."""
    if len(note) > MAX_NOTE or any(ord(ch) < 32 and ch not in "\n\t" for ch in note):
        raise InvalidInput(f"A note has at most {MAX_NOTE} characters.", code=code)
    return note


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    reporter_id: int
    reported_id: int
    reason: ReportReason
    note: str
    pair_id: str | None
    created_at: float
    state: ReviewState = ReviewState.OPEN

    def __post_init__(self) -> None:
        if self.reporter_id == self.reported_id:
            raise InvalidInput("You cannot report yourself.", code="cannot_report_self")
        validate_note(self.note)
        if self.pair_id is not None and not 0 < len(self.pair_id) <= 64:
            raise InvalidInput("A pair id has 1–64 characters.", code="invalid_pair_id")


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """How many distinct reporters within how many seconds ban a person automatically."""

    threshold: int = 3
    window_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.window_seconds < 0:
            raise ValueError("the report threshold is at least 1 and the window not negative")

    def counting(self, reports: Iterable[Report], *, since: float | None) -> list[Report]:
        """The reports that count now: not dismissed, made after ``since`` (the start of the
        previous ban, if any), within the window that ends at the newest of them."""
        eligible = [
            r
            for r in reports
            if r.state is not ReviewState.DISMISSED and (since is None or r.created_at > since)
        ]
        if not eligible:
            return []
        newest = max(r.created_at for r in eligible)
        return [r for r in eligible if r.created_at >= newest - self.window_seconds]

    def distinct_reporters(self, reports: Iterable[Report], *, since: float | None) -> int:
        return len({r.reporter_id for r in self.counting(reports, since=since)})

    def warrants_ban(self, reports: Iterable[Report], *, since: float | None) -> bool:
        return self.distinct_reporters(reports, since=since) >= self.threshold
