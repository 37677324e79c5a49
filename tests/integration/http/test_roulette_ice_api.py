"""``GET /api/v1/roulette/ice-servers``: authenticated, documented shape, credentials coturn accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from palaver.adapters.http import routes_accounts, routes_roulette
from palaver.adapters.http.errors import install_error_handlers
from palaver.services.ice import IceService
from tests.integration.services.conftest import World, world

__all__ = ["world"]

SECRET = "shared-with-coturn"
STUN_URLS = ["stun:turn.example.org:3478"]
TURN_URLS = ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"]
TTL = 900

ClientFactory = Callable[..., httpx.AsyncClient]


def http_app(world: World, ice: IceService | None) -> FastAPI:
    """The accounts and roulette routes the way ``create_http_app`` wires them."""
    app = FastAPI()
    app.state.accounts = world.accounts
    if ice is not None:
        app.state.ice = ice
    install_error_handlers(app)
    app.include_router(routes_accounts.router)
    app.include_router(routes_roulette.router)
    return app


@pytest.fixture
async def make_client(world: World) -> AsyncIterator[ClientFactory]:
    clients: list[httpx.AsyncClient] = []

    def make(*, stun_urls: list[str] | None = None, turn_urls: list[str] | None = None) -> httpx.AsyncClient:
        ice = IceService(
            world.clock,
            turn_secret=SECRET,
            stun_urls=STUN_URLS if stun_urls is None else stun_urls,
            turn_urls=TURN_URLS if turn_urls is None else turn_urls,
            ttl_seconds=TTL,
        )
        transport = httpx.ASGITransport(app=http_app(world, ice), raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def sign_in(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """A new guest: (Authorization header, user id)."""
    response = await client.post("/api/v1/auth/guest", json={})
    assert response.status_code == 200
    body = response.json()
    return {"Authorization": f"Bearer {body['session_token']}"}, body["user"]["id"]


def hmac_sha1_base64(secret: str, message: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthenticated"),
        ({"Authorization": "Basic eA=="}, "unauthenticated"),
        ({"Authorization": "Bearer nope"}, "invalid_token"),
    ],
)
async def test_needs_a_session(make_client: ClientFactory, headers: dict[str, str], code: str) -> None:
    response = await make_client().get("/api/v1/roulette/ice-servers", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"
    assert "credential" not in response.text


async def test_returns_stun_bare_and_turn_with_a_credential_for_the_caller(
    make_client: ClientFactory, world: World
) -> None:
    client = make_client()
    auth, user_id = await sign_in(client)
    response = await client.get("/api/v1/roulette/ice-servers", headers=auth)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    expires_at = math.floor(world.clock.now()) + TTL
    username = f"{expires_at}:{user_id}"
    assert body == {
        "ice_servers": [
            {"urls": STUN_URLS},
            {"urls": TURN_URLS, "username": username, "credential": hmac_sha1_base64(SECRET, username)},
        ],
        "ttl": TTL,
        "expires_at": expires_at,
    }


async def test_each_request_gets_a_fresh_expiry(make_client: ClientFactory, world: World) -> None:
    client = make_client()
    auth, user_id = await sign_in(client)
    first = (await client.get("/api/v1/roulette/ice-servers", headers=auth)).json()
    world.clock.advance(120)
    second = (await client.get("/api/v1/roulette/ice-servers", headers=auth)).json()
    assert second["expires_at"] == first["expires_at"] + 120
    turn = second["ice_servers"][1]
    assert turn["username"] == f"{second['expires_at']}:{user_id}"
    assert turn["credential"] == hmac_sha1_base64(SECRET, turn["username"])
    assert turn["credential"] != first["ice_servers"][1]["credential"]


async def test_each_user_gets_their_own_credential(make_client: ClientFactory) -> None:
    client = make_client()
    (alice, alice_id), (bob, bob_id) = await sign_in(client), await sign_in(client)
    alice_turn = (await client.get("/api/v1/roulette/ice-servers", headers=alice)).json()["ice_servers"][1]
    bob_turn = (await client.get("/api/v1/roulette/ice-servers", headers=bob)).json()["ice_servers"][1]
    assert alice_turn["username"].endswith(f":{alice_id}")
    assert bob_turn["username"].endswith(f":{bob_id}")
    assert alice_turn["credential"] != bob_turn["credential"]


async def test_without_turn_urls_there_is_no_turn_entry(make_client: ClientFactory) -> None:
    client = make_client(turn_urls=[])
    auth, _ = await sign_in(client)
    body = (await client.get("/api/v1/roulette/ice-servers", headers=auth)).json()
    assert body["ice_servers"] == [{"urls": STUN_URLS}]
    assert "username" not in str(body)

    bare = make_client(stun_urls=[], turn_urls=[])
    auth, _ = await sign_in(bare)
    assert (await bare.get("/api/v1/roulette/ice-servers", headers=auth)).json()["ice_servers"] == []


async def test_unconfigured_service_is_reported_as_unavailable(world: World) -> None:
    transport = httpx.ASGITransport(app=http_app(world, None), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        auth, _ = await sign_in(client)
        response = await client.get("/api/v1/roulette/ice-servers", headers=auth)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ice_unavailable"


async def test_documented_in_openapi(make_client: ClientFactory) -> None:
    schema = (await make_client().get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/roulette/ice-servers"]["get"]
    assert operation["tags"] == ["roulette"]
    assert "IceServersOut" in schema["components"]["schemas"]
