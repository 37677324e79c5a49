"""Health, readiness, metrics and client configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from palaver import __version__

router = APIRouter()

LANGUAGES = ("en", "ar", "fr", "de")


@router.get("/healthz", tags=["system"])
async def healthz(request: Request, response: Response) -> dict[str, str]:
    """The process is up and serving; the ``X-Palaver-Node`` header names the process (its node id)."""
    response.headers["X-Palaver-Node"] = str(getattr(request.app.state, "node_id", 0))
    return {"status": "ok"}


@router.get("/readyz", tags=["system"], response_model=None)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database and the broker answer."""
    checks = {
        "database": await request.app.state.storage.ping(),
        "broker": await request.app.state.broker.ping(),
    }
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: "ok" if up else "down" for name, up in checks.items()},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", tags=["system"], include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/config", tags=["system"])
async def client_config(request: Request) -> dict[str, Any]:
    """What a client needs to know to connect."""
    return {"version": __version__, "gateway_url": request.app.state.gateway_url, "languages": list(LANGUAGES)}
