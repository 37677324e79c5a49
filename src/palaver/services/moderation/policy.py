"""The numbers trust & safety runs on, taken from ``Settings``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from palaver.domain.moderation.bans import BanLadder
from palaver.domain.moderation.reports import ReportWindow

if TYPE_CHECKING:
    from palaver.config import Settings

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ModerationPolicy:
    report_threshold: int = 3  # distinct reporters ...
    report_window_seconds: float = 300.0  # ... within this many seconds ban automatically
    ban_ladder_seconds: tuple[float, ...] = (600.0, 3600.0, 86400.0)  # then held for review
    evidence_retention_days: float = 30.0  # images of flagged frames are deleted after this
    ip_lookback_days: float = 30.0  # a ban covers the IP hashes of sessions seen this recently
    max_page: int = 200  # the most items a console list returns at once
    max_ban_seconds: float = 10 * 365 * DAY  # the longest fixed-term ban

    def __post_init__(self) -> None:
        object.__setattr__(self, "ban_ladder_seconds", tuple(float(s) for s in self.ban_ladder_seconds))
        self.window  # noqa: B018 - validates threshold and window
        self.ladder  # noqa: B018 - validates the rungs
        if self.evidence_retention_days < 0 or self.ip_lookback_days < 0:
            raise ValueError("retention and look-back periods are not negative")

    @property
    def window(self) -> ReportWindow:
        return ReportWindow(threshold=self.report_threshold, window_seconds=self.report_window_seconds)

    @property
    def ladder(self) -> BanLadder:
        return BanLadder(self.ban_ladder_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> ModerationPolicy:
        return cls(
            report_threshold=settings.report_threshold,
            report_window_seconds=settings.report_window_seconds,
            ban_ladder_seconds=tuple(settings.ban_ladder_seconds),
            evidence_retention_days=settings.evidence_retention_days,
        )
