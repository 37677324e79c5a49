"""Trust & safety for Roulette: reports, bans and their escalation, appeals, flagged frames, the audit
log and who may do what in the moderation console. Pure: no I/O, no clock reads."""

from palaver.domain.moderation.appeals import Appeal, AppealDecision, AppealState, validate_appeal_text
from palaver.domain.moderation.audit import AuditAction, AuditEntry
from palaver.domain.moderation.bans import (
    Ban,
    BanLadder,
    BanReason,
    BanState,
    escalation_level,
)
from palaver.domain.moderation.frames import FlaggedFrame, purge_cutoff
from palaver.domain.moderation.permissions import ConsoleAction, authorize
from palaver.domain.moderation.reports import (
    MAX_NOTE,
    Report,
    ReportReason,
    ReportWindow,
    validate_note,
)
from palaver.domain.moderation.review import ReviewState
from palaver.domain.moderation.subjects import BanSubject, SubjectKind, hash_ip

__all__ = [
    "MAX_NOTE",
    "Appeal",
    "AppealDecision",
    "AppealState",
    "AuditAction",
    "AuditEntry",
    "Ban",
    "BanLadder",
    "BanReason",
    "BanState",
    "BanSubject",
    "ConsoleAction",
    "FlaggedFrame",
    "Report",
    "ReportReason",
    "ReportWindow",
    "ReviewState",
    "SubjectKind",
    "authorize",
    "escalation_level",
    "hash_ip",
    "purge_cutoff",
    "validate_appeal_text",
    "validate_note",
]
