"""The moderation console's HTTP API: reports, flagged frames, bans, appeals and the audit log.

Moderators and admins only. The role is checked here first, so that other callers learn nothing
(not even whether their input was valid: 401 without a session, 403 ``forbidden`` for plain users),
and again by ``ModerationService`` for every action, which also applies the finer rules (only
admins ban indefinitely or read the audit log: 403 ``admin_only``; nobody acts on their own ban or
bans an admin: 403 ``forbidden``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from palaver.adapters.http.auth import CurrentPrincipal
from palaver.adapters.http.routes_moderation import Moderation
from palaver.domain.accounts import Role
from palaver.domain.moderation.bans import MAX_REASON_TEXT
from palaver.domain.moderation.reports import MAX_NOTE
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden
from palaver.ids import parse_id
from palaver.services.moderation.serialize import ban_json

router = APIRouter(prefix="/admin", tags=["moderation console"])

MAX_DURATION_SECONDS = 10 * 365 * 86400
MAX_TIME = 1e11  # epoch seconds, year 5138: anything later is a typo, not a date


def staff(principal: CurrentPrincipal) -> Principal:
    if not principal.role.at_least(Role.MODERATOR):
        raise Forbidden("The moderation console is for moderators and admins.", code="forbidden")
    return principal


Staff = Annotated[Principal, Depends(staff)]
Limit = Annotated[int, Query(ge=1, le=200)]
Before = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Only items with a smaller id (paging).")]
QueueState = Annotated[Literal["open", "all"], Query()]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BanIn(Strict):
    user_id: str = Field(min_length=1, max_length=20)
    reason_text: str = Field(min_length=1, max_length=MAX_REASON_TEXT, description="Shown to the banned person.")
    duration_seconds: int | None = Field(
        ge=1, le=MAX_DURATION_SECONDS, description="null bans until a moderator lifts it (admins only)."
    )


class UnbanIn(Strict):
    note: str = Field(default="", max_length=MAX_NOTE)


class AdjustIn(Strict):
    ends_at: float | None = Field(
        ge=0, le=MAX_TIME, allow_inf_nan=False, description="New end (epoch seconds); null = indefinite (admins only)."
    )


class DecideIn(Strict):
    decision: Literal["accept", "reject"]
    note: str = Field(default="", max_length=MAX_NOTE)


def _id(value: str, what: str) -> int:
    return parse_id(value, what)


# ---------------------------------------------------------------------------------------- queues


@router.get("/reports", summary="Reports, newest first")
async def list_reports(
    principal: Staff, service: Moderation, state: QueueState = "open", limit: Limit = 50, before: Before = None
) -> dict[str, Any]:
    return {"reports": await service.list_reports(principal, state=state, limit=limit, before=before)}


@router.post("/reports/{report_id}/dismiss", summary="Dismiss a report (no action)")
async def dismiss_report(report_id: str, principal: Staff, service: Moderation) -> dict[str, Any]:
    return await service.dismiss_report(principal, _id(report_id, "report"))


@router.get("/frames", summary="Snapshot frames the classifier flagged, newest first")
async def list_frames(
    principal: Staff, service: Moderation, state: QueueState = "open", limit: Limit = 50, before: Before = None
) -> dict[str, Any]:
    return {"frames": await service.list_frames(principal, state=state, limit=limit, before=before)}


@router.get(
    "/frames/{frame_id}/image",
    summary="The flagged frame's JPEG (404 evidence_purged after the retention period)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def frame_image(frame_id: str, principal: Staff, service: Moderation) -> Response:
    image = await service.frame_image(principal, _id(frame_id, "frame"))
    return Response(
        content=image,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/frames/{frame_id}/dismiss", summary="Dismiss a flagged frame (a false positive)")
async def dismiss_frame(frame_id: str, principal: Staff, service: Moderation) -> dict[str, Any]:
    return await service.dismiss_frame(principal, _id(frame_id, "frame"))


# ---------------------------------------------------------------------------------------- bans


@router.get("/bans", summary="Bans with the banned user, newest first")
async def list_bans(
    principal: Staff,
    service: Moderation,
    state: Annotated[Literal["active", "review", "all"], Query()] = "active",
    limit: Limit = 50,
    before: Before = None,
) -> dict[str, Any]:
    return {"bans": await service.list_bans(principal, state=state, limit=limit, before=before)}


@router.post("/bans", status_code=201, summary="Ban a user from Roulette")
async def ban(body: BanIn, principal: Staff, service: Moderation) -> dict[str, Any]:
    made = await service.ban(
        principal,
        user_id=_id(body.user_id, "user"),
        reason_text=body.reason_text,
        duration_seconds=body.duration_seconds,
    )
    return ban_json(made)


@router.post("/bans/{ban_id}/unban", summary="Lift a ban (it no longer counts towards escalation)")
async def unban(ban_id: str, principal: Staff, service: Moderation, body: UnbanIn | None = None) -> dict[str, Any]:
    lifted = await service.unban(principal, _id(ban_id, "ban"), note=body.note if body else "")
    return ban_json(lifted)


@router.post("/bans/{ban_id}/adjust", summary="Shorten or extend a ban")
async def adjust(ban_id: str, body: AdjustIn, principal: Staff, service: Moderation) -> dict[str, Any]:
    return ban_json(await service.adjust(principal, _id(ban_id, "ban"), ends_at=body.ends_at))


# ---------------------------------------------------------------------------------------- appeals


@router.get("/appeals", summary="Appeals with their ban and user, newest first")
async def list_appeals(
    principal: Staff, service: Moderation, state: QueueState = "open", limit: Limit = 50, before: Before = None
) -> dict[str, Any]:
    return {"appeals": await service.list_appeals(principal, state=state, limit=limit, before=before)}


@router.post("/appeals/{appeal_id}/decide", summary="Accept (lifts the ban) or reject an appeal")
async def decide_appeal(appeal_id: str, body: DecideIn, principal: Staff, service: Moderation) -> dict[str, Any]:
    return await service.decide_appeal(principal, _id(appeal_id, "appeal"), decision=body.decision, note=body.note)


# ---------------------------------------------------------------------------------------- audit


@router.get("/audit", summary="The audit log, newest first (admins only)")
async def audit(principal: Staff, service: Moderation, limit: Limit = 50, before: Before = None) -> dict[str, Any]:
    return {"entries": await service.audit(principal, limit=limit, before=before)}
