"""The messenger over HTTP: an app wired like ``create_http_app`` plus the messenger routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from palaver.adapters.http import routes_accounts, routes_messenger
from palaver.adapters.http.errors import install_error_handlers
from palaver.adapters.views.memory import MemoryViewLedger
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger
from tests.integration.services.conftest import World, world

__all__ = ["world"]


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.accounts = world.accounts
    messenger = Messenger(
        storage=world.storage,
        broker=world.broker,
        clock=world.clock,
        ids=SnowflakeIds(world.clock, 3),
        views=MemoryViewLedger(world.clock),
    )
    app.state.messenger = messenger
    install_error_handlers(app)
    app.include_router(routes_accounts.router)
    app.include_router(routes_messenger.router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await messenger.close()


async def sign_in(api: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    response = await api.post("/api/v1/auth/guest", json={})
    body = response.json()
    return {"Authorization": f"Bearer {body['session_token']}"}, body["user"]["id"]


async def test_private_chat_send_history_and_difference(api: httpx.AsyncClient) -> None:
    alice, _ = await sign_in(api)
    bob, bob_id = await sign_in(api)
    opened = await api.post("/api/v1/chats/private", json={"user_id": bob_id}, headers=alice)
    assert opened.status_code == 200
    chat_id = opened.json()["chat"]["id"]
    assert isinstance(chat_id, str)
    sent = await api.post(
        f"/api/v1/chats/{chat_id}/messages",
        json={"text": "Hi 😀 Bob", "entities": [{"type": "bold", "offset": 6, "length": 3}]},
        headers=alice,
    )
    assert sent.status_code == 201
    assert sent.json()["message"]["id"] == 1
    history = await api.get(f"/api/v1/chats/{chat_id}/messages", params={"limit": 10}, headers=bob)
    assert [m["text"] for m in history.json()["messages"]] == ["Hi 😀 Bob"]
    state = (await api.get("/api/v1/updates/state", headers=bob)).json()
    assert state["pts"] == 1
    diff = (await api.get("/api/v1/updates/difference", params={"pts": 0}, headers=bob)).json()
    assert diff["kind"] == "slice" and diff["updates"][0]["update"]["type"] == "new_message"
    read = await api.post(f"/api/v1/chats/{chat_id}/read", json={"max_id": 1}, headers=bob)
    assert read.json() == {"read_inbox_max": 1}
    dialogs = (await api.get("/api/v1/dialogs", headers=bob)).json()
    assert dialogs["dialogs"][0]["unread_count"] == 0
    edited = await api.patch(f"/api/v1/chats/{chat_id}/messages/1", json={"text": "Hi Bob"}, headers=alice)
    assert edited.json()["message"]["edit_date"] is not None
    reaction = await api.put(f"/api/v1/chats/{chat_id}/messages/1/reaction", json={"emoji": "👍"}, headers=bob)
    assert reaction.json() == {"reactions": [{"emoji": "👍", "count": 1}]}
    draft = await api.put(f"/api/v1/chats/{chat_id}/draft", json={"text": "later"}, headers=bob)
    assert draft.json()["draft"]["text"] == "later"
    assert (await api.post(f"/api/v1/chats/{chat_id}/typing", json={}, headers=bob)).status_code == 204
    deleted = await api.post(
        f"/api/v1/chats/{chat_id}/messages/delete", json={"ids": [1], "for_everyone": True}, headers=bob
    )
    assert deleted.json() == {"deleted": [1]}
    found = await api.get("/api/v1/search/messages", params={"q": "bob"}, headers=alice)
    assert found.json()["messages"] == []


async def test_errors_have_stable_codes(api: httpx.AsyncClient) -> None:
    alice, _ = await sign_in(api)
    bob, bob_id = await sign_in(api)
    _, carol_id = await sign_in(api)
    chat_id = (await api.post("/api/v1/chats/private", json={"user_id": bob_id}, headers=alice)).json()["chat"]["id"]
    too_long = await api.post(f"/api/v1/chats/{chat_id}/messages", json={"text": "x" * 4097}, headers=alice)
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (400, "message_too_long")
    extra = await api.post(f"/api/v1/chats/{chat_id}/messages", json={"text": "x", "color": "red"}, headers=alice)
    assert extra.status_code == 422
    bad_id = await api.get("/api/v1/chats/abc/messages", headers=alice)
    assert bad_id.json()["error"]["code"] == "invalid_chat_id"
    unauth = await api.get("/api/v1/dialogs")
    assert unauth.status_code == 401
    channel = (await api.post("/api/v1/chats/channels", json={"title": "News"}, headers=alice)).json()["chat"]
    post = await api.post(f"/api/v1/chats/{channel['id']}/messages", json={"text": "mine"}, headers=bob)
    assert (post.status_code, post.json()["error"]["code"]) == (403, "chat_not_readable")
    missing = await api.post("/api/v1/chats/private", json={"user_id": "12345"}, headers=alice)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "user_not_found")
    assert carol_id


async def test_channels_invites_and_channel_difference(api: httpx.AsyncClient) -> None:
    owner, _ = await sign_in(api)
    fan, fan_id = await sign_in(api)
    created = await api.post(
        "/api/v1/chats/channels",
        json={"title": "Café du Monde", "kind": "channel", "username": "cafe_monde", "signatures": True},
        headers=owner,
    )
    assert created.status_code == 201
    channel = created.json()["chat"]
    assert channel["pts"] == 0
    invite = await api.post(f"/api/v1/chats/{channel['id']}/invites", json={"usage_limit": 5}, headers=owner)
    code = invite.json()["invite"]["code"]
    assert (await api.get(f"/api/v1/invites/{code}", headers=fan)).json()["chat"]["title"] == "Café du Monde"
    assert (await api.post(f"/api/v1/invites/{code}/join", headers=fan)).json()["status"] == "joined"
    await api.post(f"/api/v1/chats/{channel['id']}/messages", json={"text": "Bienvenue à tous"}, headers=owner)
    diff = await api.get(f"/api/v1/chats/{channel['id']}/difference", params={"pts": 0}, headers=fan)
    assert diff.json()["pts"] == 1
    assert diff.json()["updates"][0]["update"]["message"]["signature"]
    directory = await api.get("/api/v1/search/directory", params={"q": "cafe"}, headers=fan)
    assert [c["username"] for c in directory.json()["chats"]] == ["cafe_monde"]
    members = await api.get(f"/api/v1/chats/{channel['id']}/members", headers=owner)
    assert {m["user_id"] for m in members.json()["members"]} >= {fan_id}
    promote = await api.put(
        f"/api/v1/chats/{channel['id']}/members/{fan_id}/admin", json={"rights": ["post_messages"]}, headers=owner
    )
    assert promote.status_code == 204
    assert (
        await api.post(f"/api/v1/chats/{channel['id']}/messages", json={"text": "ok"}, headers=fan)
    ).status_code == 201
    revoke = await api.delete(f"/api/v1/chats/{channel['id']}/invites/{invite.json()['invite']['id']}", headers=owner)
    assert revoke.status_code == 204
    _, other_id = await sign_in(api)
    assert other_id
    other, _ = await sign_in(api)
    revoked = await api.post(f"/api/v1/invites/{code}/join", headers=other)
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (403, "invite_revoked")
    ban = await api.put(f"/api/v1/chats/{channel['id']}/members/{fan_id}/ban", json={}, headers=owner)
    assert ban.status_code == 204


async def test_openapi_lists_the_messenger(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/chats/{chat_id}/messages",
        "/api/v1/updates/difference",
        "/api/v1/chats/{chat_id}/difference",
        "/api/v1/dialogs",
        "/api/v1/search/messages",
    ):
        assert path in paths
