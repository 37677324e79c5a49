"""The state of an item in the moderators' queue (a report, a flagged frame)."""

from __future__ import annotations

from enum import StrEnum


class ReviewState(StrEnum):
    OPEN = "open"  # waiting for a moderator
    DISMISSED = "dismissed"  # a moderator found nothing to act on
    ACTIONED = "actioned"  # it led to a ban
