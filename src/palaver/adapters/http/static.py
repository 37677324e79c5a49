"""The web client: static files, with client-side routes falling back to ``index.html``."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


class WebClient(StaticFiles):
    """Serves ``web/``; a path without a file extension that matches no file serves the app shell."""

    def __init__(self, directory: Path = WEB_DIR) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in path.rsplit("/", 1)[-1] or path.startswith("api"):
                raise
            return await super().get_response("index.html", scope)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if path.endswith((".js", ".css", ".json")) or path in ("", ".", "index.html"):
            response.headers["Cache-Control"] = "no-cache"
        return response
