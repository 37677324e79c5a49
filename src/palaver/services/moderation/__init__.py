"""Trust & safety for Roulette: reports, bans, appeals, flagged frames and the moderation console."""

from palaver.services.moderation.core import OnBan
from palaver.services.moderation.policy import ModerationPolicy
from palaver.services.moderation.service import ModerationService

__all__ = ["ModerationPolicy", "ModerationService", "OnBan"]
