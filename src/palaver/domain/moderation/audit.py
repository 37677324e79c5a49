"""The audit log: every moderator action and every automatic ban, written with the change itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AuditAction(StrEnum):
    BAN_AUTO = "ban.auto"  # the system banned someone (reports, nudity detected)
    BAN_CREATE = "ban.create"  # a moderator banned someone
    BAN_LIFT = "ban.lift"
    BAN_ADJUST = "ban.adjust"
    REPORT_DISMISS = "report.dismiss"
    FRAME_DISMISS = "frame.dismiss"
    APPEAL_ACCEPT = "appeal.accept"
    APPEAL_REJECT = "appeal.reject"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor_id: int | None  # None: the system
    action: AuditAction
    target_user_id: int | None
    target_id: int | None  # the ban, report, frame or appeal acted on
    created_at: float
    details: Mapping[str, Any] = field(default_factory=dict)
