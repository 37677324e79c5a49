"""HTTP routes for roulette (random one-to-one video chat)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from palaver.adapters.http.auth import CurrentPrincipal
from palaver.errors import Unavailable
from palaver.services.ice import IceService

router = APIRouter(prefix="/api/v1/roulette", tags=["roulette"])


def ice(request: Request) -> IceService:
    service: IceService | None = getattr(request.app.state, "ice", None)
    if service is None:
        raise Unavailable("ICE servers are not configured on this server.", code="ice_unavailable")
    return service


Ice = Annotated[IceService, Depends(ice)]


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = Field(default=None, description="TURN only: `<expiry unix time>:<user id>`")
    credential: str | None = Field(default=None, description="TURN only: base64(HMAC-SHA1(secret, username))")


class IceServersOut(BaseModel):
    ice_servers: list[IceServerOut] = Field(description="Pass as `iceServers` to `new RTCPeerConnection`.")
    ttl: int = Field(description="Lifetime of the TURN credential in seconds.")
    expires_at: int = Field(description="Unix time after which the TURN server refuses the credential.")


@router.get("/ice-servers", response_model=IceServersOut, response_model_exclude_none=True)
async def get_ice_servers(principal: CurrentPrincipal, service: Ice, response: Response) -> dict[str, Any]:
    """STUN and TURN servers for a call, with a TURN credential for the caller. Fetch before each call."""
    response.headers["Cache-Control"] = "no-store"
    return service.ice_servers(principal)
