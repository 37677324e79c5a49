"""HTTP routes for Roulette snapshots: the client's settings, and the upload of one camera frame.

``GET /api/v1/roulette/config`` and ``POST /api/v1/roulette/snapshots?pair_id=<id>`` (also under ``/api``,
the trust & safety contract's spelling). The upload takes the raw JPEG as the body
(``Content-Type: image/jpeg``). The body is read in chunks and refused with 413 as soon as it passes
the limit, so nobody can make the server buffer more than ``snapshot_max_bytes``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from palaver.adapters.http.auth import CurrentPrincipal
from palaver.errors import InvalidInput, TooLarge, Unavailable
from palaver.services.snapshots import SnapshotService

router = APIRouter(prefix="/roulette", tags=["roulette"])  # mounted under /api/v1 (and /api)

JPEG_BODY = {
    "requestBody": {
        "required": True,
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def snapshots(request: Request) -> SnapshotService:
    service: SnapshotService | None = getattr(request.app.state, "snapshots", None)
    if service is None:
        raise Unavailable("Snapshots are not configured on this server.", code="snapshots_unavailable")
    return service


Snapshots = Annotated[SnapshotService, Depends(snapshots)]


class RouletteConfigOut(BaseModel):
    snapshot_interval_seconds: float = Field(description="Send a frame of your own camera this often while paired.")
    snapshot_max_bytes: int = Field(description="Largest snapshot accepted, in bytes.")
    classifier: bool = Field(description="False when the server does not classify frames (no need to send any).")


class SnapshotOut(BaseModel):
    action: Literal["ok", "banned"]
    ban: dict[str, Any] | None = Field(default=None, description="The new ban (BanJson) when action is banned.")


@router.get("/config", response_model=RouletteConfigOut)
async def get_config(principal: CurrentPrincipal, service: Snapshots) -> dict[str, Any]:
    """How and how often the client sends snapshots of its own camera."""
    return service.config()


@router.post("/snapshots", response_model=SnapshotOut, response_model_exclude_none=True, openapi_extra=JPEG_BODY)
async def post_snapshot(
    request: Request,
    principal: CurrentPrincipal,
    service: Snapshots,
    pair_id: Annotated[str, Query(min_length=1, max_length=20, description="The live pair the frame is from.")],
) -> dict[str, Any]:
    """Score one JPEG frame of the caller's camera. At or above the threshold the pair ends and the
    caller is banned (`{"action": "banned", "ban": ...}`); below it the frame is dropped unstored."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "image/jpeg":
        raise InvalidInput("Send the snapshot as Content-Type: image/jpeg.", code="unsupported_media_type")
    image = await read_body(request, service.policy.max_bytes)
    return await service.submit(principal, pair_id=pair_id, image=image)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is longer than ``limit`` bytes."""
    too_large = TooLarge(f"A snapshot has at most {limit} bytes.", code="too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
