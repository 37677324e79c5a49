"""``GET /api/v1/roulette/config`` and ``POST /api/v1/roulette/snapshots``: statuses, codes, shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from palaver.adapters.http.api import create_http_app
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput, Unavailable
from tests.integration.services.conftest import World
from tests.integration.services.test_snapshots import MAX_BYTES, Env, build_env, jpeg


@dataclass
class Api:
    env: Env
    client: httpx.AsyncClient

    async def guest(self) -> tuple[Principal, dict[str, str]]:
        response = await self.client.post("/api/v1/auth/guest", json={})
        token = response.json()["session_token"]
        return await self.env.world.accounts.authenticate(token), {"Authorization": f"Bearer {token}"}

    async def pair(self) -> tuple[dict[str, str], dict[str, str], str]:
        (a, auth_a), (b, auth_b) = await self.guest(), await self.guest()
        for p in (a, b):
            await self.env.roulette.start(p, languages=["en"], interests=[], text_only=False, display_name="Someone")
        return auth_a, auth_b, (await self.env.roulette.status(a))["pair_id"]

    async def send(
        self, auth: dict[str, str], pair_id: str, body: bytes, content_type: str = "image/jpeg"
    ) -> httpx.Response:
        headers = {**auth, "Content-Type": content_type}
        return await self.client.post("/api/v1/roulette/snapshots", params={"pair_id": pair_id}, content=body,
                                      headers=headers)


@pytest.fixture
async def api(world: World, tmp_path: Path) -> AsyncIterator[Api]:
    env = build_env(world, tmp_path)
    app = create_http_app(
        accounts=world.accounts,
        storage=world.storage,
        broker=world.broker,
        registry=CollectorRegistry(),
        gateway_url="ws://127.0.0.1:1",
        moderation=env.moderation,
        snapshots=env.snapshots,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(env, client)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_config(api: Api) -> None:
    _, auth = await api.guest()
    for path in ["/api/v1/roulette/config", "/api/roulette/config"]:
        response = await api.client.get(path, headers=auth)
        assert response.status_code == 200
        expected = {"snapshot_interval_seconds": 20.0, "snapshot_max_bytes": MAX_BYTES, "classifier": True}
        assert response.json() == expected
    assert error(await api.client.get("/api/v1/roulette/config")) == (401, "unauthenticated")


async def test_a_clean_frame_is_ok(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    api.env.classifier.scores = [0.2, 0.3]
    response = await api.send(auth, pair_id, jpeg("clean"))
    assert (response.status_code, response.json()) == (200, {"action": "ok"})
    api.env.world.clock.advance(2)
    response = await api.send(auth, pair_id, jpeg("clean"), "Image/JPEG; q=0.9")  # media types ignore case
    assert (response.status_code, response.json()) == (200, {"action": "ok"})


async def test_a_flagged_frame_bans(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    api.env.classifier.scores = [0.93]
    response = await api.client.post(
        "/api/roulette/snapshots", params={"pair_id": pair_id}, content=jpeg("bad"),
        headers={**auth, "Content-Type": "image/jpeg"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "banned"
    assert body["ban"]["reason"] == "nudity_detected" and body["ban"]["state"] == "active"
    me = await api.client.get("/api/v1/moderation/me", headers=auth)
    assert me.json()["ban"]["id"] == body["ban"]["id"]
    assert error(await api.send(auth, pair_id, jpeg("again"))) == (403, "not_in_pair")  # the pair is gone


async def test_wrong_media_types_are_415(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    assert error(await api.send(auth, pair_id, jpeg("x"), "image/png")) == (415, "unsupported_media_type")
    assert error(await api.send(auth, pair_id, jpeg("x"), "")) == (415, "unsupported_media_type")
    assert error(await api.send(auth, pair_id, b"\x89PNG\r\n\x1a\n....")) == (415, "unsupported_media_type")
    assert api.env.classifier.seen == []


async def test_too_large_is_413_declared_or_streamed(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    big = b"\xff\xd8\xff" + b"\0" * MAX_BYTES
    assert error(await api.send(auth, pair_id, big)) == (413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(64):
            yield b"\xff\xd8\xff" + b"\0" * 1021

    response = await api.client.post(
        "/api/v1/roulette/snapshots", params={"pair_id": pair_id}, content=chunks(),
        headers={**auth, "Content-Type": "image/jpeg"},
    )
    assert error(response) == (413, "too_large")
    assert api.env.classifier.seen == []


async def test_not_in_pair_rate_limit_and_auth(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    assert error(await api.send(auth, "999", jpeg("x"))) == (403, "not_in_pair")
    assert error(await api.send({}, pair_id, jpeg("x"))) == (401, "unauthenticated")
    response = await api.client.post("/api/v1/roulette/snapshots", content=jpeg("x"),
                                     headers={**auth, "Content-Type": "image/jpeg"})
    assert error(response) == (422, "invalid_request")  # no pair_id
    api.env.classifier.scores = [0.1]
    assert (await api.send(auth, pair_id, jpeg("x"))).status_code == 200
    limited = await api.send(auth, pair_id, jpeg("x"))
    assert error(limited) == (429, "snapshot_rate_limited")
    assert limited.headers["Retry-After"] == "2"


async def test_classifier_errors_map_to_statuses(api: Api) -> None:
    auth, _, pair_id = await api.pair()
    api.env.classifier.error = InvalidInput("bad", code="invalid_image")
    assert error(await api.send(auth, pair_id, b"\xff\xd8\xff garbage")) == (400, "invalid_image")
    api.env.world.clock.advance(2)
    api.env.classifier.error = Unavailable("busy", code="classifier_busy", retry_after=1)
    assert error(await api.send(auth, pair_id, jpeg("x"))) == (503, "classifier_busy")


async def test_a_banned_caller_is_403(world: World, tmp_path: Path) -> None:
    env = build_env(world, tmp_path, expel=False)
    app = create_http_app(accounts=world.accounts, storage=world.storage, broker=world.broker,
                          registry=CollectorRegistry(), gateway_url="ws://127.0.0.1:1", snapshots=env.snapshots)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        api = Api(env, client)
        auth, _, pair_id = await api.pair()
        env.classifier.scores = [0.99]
        assert (await api.send(auth, pair_id, jpeg("x"))).json()["action"] == "banned"
        env.world.clock.advance(2)
        assert error(await api.send(auth, pair_id, jpeg("x"))) == (403, "banned")


async def test_not_configured_is_503(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/guest", json={})
    auth = {"Authorization": f"Bearer {response.json()['session_token']}"}
    assert error(await client.get("/api/v1/roulette/config", headers=auth)) == (503, "snapshots_unavailable")


async def test_openapi_documents_the_jpeg_body(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/roulette/snapshots"]["post"]
    assert "image/jpeg" in operation["requestBody"]["content"]
    assert "/api/roulette/snapshots" not in schema["paths"]
