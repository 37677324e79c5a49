"""JSON shapes of trust & safety (see docs/api.md): ids as strings, times as epoch seconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from palaver.domain.accounts import User
from palaver.domain.moderation.appeals import Appeal
from palaver.domain.moderation.audit import AuditEntry
from palaver.domain.moderation.bans import Ban
from palaver.domain.moderation.frames import FlaggedFrame
from palaver.domain.moderation.reports import Report

DELETED_NAME = "Deleted account"


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def user_ref(user_id: int, users: Mapping[int, User]) -> dict[str, Any]:
    user = users.get(user_id)
    return {"id": str(user_id), "display_name": user.display_name if user else DELETED_NAME}


def appeal_json(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": str(appeal.id),
        "ban_id": str(appeal.ban_id),
        "text": appeal.text,
        "state": appeal.state.value,
        "created_at": appeal.created_at,
        "decided_at": appeal.decided_at,
        "decision_note": appeal.decision_note,
    }


def ban_json(ban: Ban, *, now: float | None = None) -> dict[str, Any]:
    """BanJson, with the state at ``now`` — by default when the service returned the ban
    (``observed_at``), else when it started."""
    if now is None:
        now = ban.observed_at if ban.observed_at is not None else ban.starts_at
    state = ban.state_at(now)
    return {
        "id": str(ban.id),
        "user_id": str(ban.user_id),
        "reason": ban.reason.value,
        "reason_text": ban.reason_text,
        "level": ban.level,
        "state": state.value,
        "starts_at": ban.starts_at,
        "ends_at": ban.ends_at,
        "appeal": appeal_json(ban.appeal) if ban.appeal is not None else None,
    }


def report_json(report: Report, users: Mapping[int, User]) -> dict[str, Any]:
    return {
        "id": str(report.id),
        "reporter": user_ref(report.reporter_id, users),
        "reported": user_ref(report.reported_id, users),
        "reason": report.reason.value,
        "note": report.note,
        "pair_id": report.pair_id,
        "created_at": report.created_at,
        "state": report.state.value,
    }


def frame_json(frame: FlaggedFrame, users: Mapping[int, User]) -> dict[str, Any]:
    return {
        "id": str(frame.id),
        "user": user_ref(frame.user_id, users),
        "score": frame.score,
        "pair_id": frame.pair_id,
        "created_at": frame.created_at,
        "state": frame.state.value,
        "image_url": f"/api/admin/frames/{frame.id}/image",
        "purged_at": frame.purged_at,  # set once the image was deleted (evidence retention)
    }


def audit_json(entry: AuditEntry, users: Mapping[int, User]) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "actor": user_ref(entry.actor_id, users) if entry.actor_id is not None else None,
        "action": entry.action.value,
        "target_user_id": _id(entry.target_user_id),
        "target_id": _id(entry.target_id),
        "details": dict(entry.details),
        "created_at": entry.created_at,
    }
