"""HTTP routes of trust & safety for everyone: my own Roulette ban, and an appeal against it.

Wired by ``create_http_app`` with ``app.state.moderation`` (a
``palaver.services.moderation.ModerationService``). The moderation console is in ``routes_admin``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from palaver.adapters.http.auth import CurrentPrincipal
from palaver.domain.moderation.appeals import MAX_APPEAL_TEXT
from palaver.errors import Unavailable
from palaver.services.moderation import ModerationService
from palaver.services.moderation.serialize import appeal_json, ban_json

router = APIRouter(tags=["moderation"])


def moderation(request: Request) -> ModerationService:
    service: ModerationService | None = getattr(request.app.state, "moderation", None)
    if service is None:
        raise Unavailable("Moderation is not configured on this server.", code="moderation_unavailable")
    return service


Moderation = Annotated[ModerationService, Depends(moderation)]


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_APPEAL_TEXT, description="Why the ban should be lifted.")


@router.get("/moderation/me", summary="My current Roulette ban (by account, device or network), or null")
async def my_ban(principal: CurrentPrincipal, service: Moderation) -> dict[str, Any]:
    ban = await service.current_ban(principal)
    return {"ban": None if ban is None else ban_json(ban)}


@router.post("/moderation/appeals", status_code=201, summary="Appeal against my current ban (one open appeal)")
async def appeal(body: AppealIn, principal: CurrentPrincipal, service: Moderation) -> dict[str, Any]:
    return appeal_json(await service.appeal(principal, text=body.text))
