"""The accounts HTTP API in-process: status codes, error shapes, and that bad input writes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.http.conftest import guest
from tests.integration.services.conftest import World

PASSWORD = "correct horse battery"


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return str(body["error"]["code"])


async def test_guest_flow_and_me(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/guest", json={}, headers={"User-Agent": "pytest-browser"})
    body = response.json()
    assert response.status_code == 200
    assert body["user"]["kind"] == "guest" and isinstance(body["user"]["id"], str)
    auth = {"Authorization": f"Bearer {body['session_token']}"}
    me = await client.get("/api/v1/me", headers=auth)
    assert me.json() == body["user"]
    again = await client.post("/api/v1/auth/guest", json={"device_token": body["device_token"]})
    assert again.json()["user"]["id"] == body["user"]["id"]
    sessions = (await client.get("/api/v1/sessions", headers=auth)).json()["sessions"]
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1 and current[0]["user_agent"] == "pytest-browser"


async def test_register_login_logout(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/auth/register", json={"username": "Ada", "password": PASSWORD})
    assert created.status_code == 201 and created.json()["user"]["username"] == "Ada"
    login = await client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    assert login.status_code == 200
    auth = {"Authorization": f"Bearer {login.json()['session_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=auth)).status_code == 204
    after = await client.get("/api/v1/me", headers=auth)
    assert after.status_code == 401 and error_code(after) == "invalid_token"
    assert after.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "Ada", "password": "short"}, 400, "weak_password"),
        ({"username": "a b", "password": PASSWORD}, 400, "invalid_username"),
        ({"username": "Ada"}, 422, "invalid_request"),
        ({"username": "Ada", "password": PASSWORD, "admin": True}, 422, "invalid_request"),
        ({"username": 5, "password": PASSWORD}, 422, "invalid_request"),
        ({"username": "Ada", "password": PASSWORD, "display_name": " padded "}, 400, "invalid_display_name"),
    ],
)
async def test_bad_registrations_write_nothing(
    client: httpx.AsyncClient, world: World, body: dict[str, object], status: int, code: str
) -> None:
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == status
    assert error_code(response) == code
    async with world.storage.transaction() as tx:
        assert await tx.users.get_by_username("Ada") is None


async def test_malformed_json_is_a_typed_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b'{"username": "Ada",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error_code(response) == "malformed_json"


async def test_duplicate_username_is_a_conflict(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/auth/register", json={"username": "Grace", "password": PASSWORD})
    again = await client.post("/api/v1/auth/register", json={"username": "GRACE", "password": PASSWORD})
    assert again.status_code == 409 and error_code(again) == "username_taken"


async def test_wrong_password_then_rate_limit_with_retry_after(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/auth/register", json={"username": "Ken", "password": PASSWORD})
    for _ in range(3):
        wrong = await client.post("/api/v1/auth/login", json={"username": "Ken", "password": "nope nope nope"})
        assert wrong.status_code == 401 and error_code(wrong) == "invalid_credentials"
    limited = await client.post("/api/v1/auth/login", json={"username": "Ken", "password": PASSWORD})
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer pvs_unknown", "Bearer " + "x" * 500])
async def test_protected_routes_need_a_valid_token(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert error_code(response) in {"unauthenticated", "invalid_token"}


async def test_profile_update_and_public_profile(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/auth/register", json={"username": "Alan", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {created.json()['session_token']}"}
    patched = await client.patch(
        "/api/v1/me", headers=auth, json={"display_name": "Alan T.", "bio": "Enigma", "languages": ["en", "de"]}
    )
    assert patched.status_code == 200
    assert (patched.json()["display_name"], patched.json()["languages"]) == ("Alan T.", ["en", "de"])
    bad = await client.patch("/api/v1/me", headers=auth, json={"languages": ["EN"], "bio": "changed"})
    assert bad.status_code == 400 and error_code(bad) == "invalid_languages"
    assert (await client.get("/api/v1/me", headers=auth)).json()["bio"] == "Enigma"
    public = await client.get("/api/v1/users/alan", headers=await guest(client))
    assert public.status_code == 200 and public.json()["display_name"] == "Alan T." and "role" not in public.json()
    missing = await client.get("/api/v1/users/nobody", headers=auth)
    assert missing.status_code == 404 and error_code(missing) == "user_not_found"


async def test_upgrade_guest(client: httpx.AsyncClient) -> None:
    auth = await guest(client)
    upgraded = await client.post("/api/v1/auth/upgrade", headers=auth, json={"username": "Barb", "password": PASSWORD})
    assert upgraded.status_code == 200 and upgraded.json()["user"]["kind"] == "registered"
    again = await client.post("/api/v1/auth/upgrade", headers=auth, json={"username": "Barb2", "password": PASSWORD})
    assert again.status_code == 409 and error_code(again) == "already_registered"


async def test_revoke_session_and_bad_ids(client: httpx.AsyncClient) -> None:
    auth = await guest(client)
    for bad in ("abc", "-1", "99999999999999999999999"):
        response = await client.delete(f"/api/v1/sessions/{bad}", headers=auth)
        assert response.status_code == 400 and error_code(response) == "invalid_session_id"
    missing = await client.delete("/api/v1/sessions/12345", headers=auth)
    assert missing.status_code == 404
    current = (await client.get("/api/v1/sessions", headers=auth)).json()["sessions"][0]["id"]
    assert (await client.delete(f"/api/v1/sessions/{current}", headers=auth)).status_code == 204
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401


async def test_change_password(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/auth/register", json={"username": "Mags", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {created.json()['session_token']}"}
    weak = await client.post(
        "/api/v1/me/password", headers=auth, json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert weak.status_code == 400 and error_code(weak) == "weak_password"
    ok = await client.post(
        "/api/v1/me/password", headers=auth, json={"current_password": PASSWORD, "new_password": "a new fine phrase"}
    )
    assert ok.status_code == 204
    login = await client.post("/api/v1/auth/login", json={"username": "Mags", "password": "a new fine phrase"})
    assert login.status_code == 200


async def test_system_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    config = (await client.get("/api/v1/config")).json()
    assert config["gateway_url"] == "ws://127.0.0.1:1" and config["languages"] == ["en", "ar", "fr", "de"]
    await client.get("/api/v1/me")
    metrics = (await client.get("/metrics")).text
    assert 'palaver_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1.0' in metrics
    schema = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/register" in schema["paths"]


async def test_readyz_reports_a_broker_that_is_down(client: httpx.AsyncClient, world: World) -> None:
    await world.broker.close()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "down"}


async def test_unknown_api_paths_are_json_404_and_client_routes_serve_the_shell(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    wrong_method = await client.put("/api/v1/me")
    assert wrong_method.status_code == 405 and error_code(wrong_method) == "method_not_allowed"
