"""``random_id`` on sends, over HTTP and over the gateway: validated strictly (int64, a JSON integer),
and a repeated send answers with the first message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from palaver.adapters.gateway.params import InvalidParams
from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.gateway.routes_messenger import register_messenger_methods
from palaver.errors import Conflict
from tests.integration.http.test_messenger_api import api, sign_in
from tests.integration.services.conftest import world
from tests.support.messenger import MWorld, count_rows, mworld

__all__ = ["api", "mworld", "world"]

BAD_RANDOM_IDS: list[Any] = ["5", 1.5, True, 2**63, -(2**63) - 1, [1], {"id": 1}]


async def test_http_send_is_idempotent_by_random_id(api: httpx.AsyncClient) -> None:
    alice, _ = await sign_in(api)
    _, bob_id = await sign_in(api)
    chat_id = (await api.post("/api/v1/chats/private", json={"user_id": bob_id}, headers=alice)).json()["chat"]["id"]
    url = f"/api/v1/chats/{chat_id}/messages"
    first = await api.post(url, json={"text": "hi", "random_id": -(2**63)}, headers=alice)
    again = await api.post(url, json={"text": "hi", "random_id": -(2**63)}, headers=alice)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other = await api.post(url, json={"text": "hi", "random_id": 2**63 - 1}, headers=alice)
    assert other.json()["message"]["id"] == 2


@pytest.mark.parametrize("bad", BAD_RANDOM_IDS)
async def test_http_refuses_a_random_id_that_is_not_an_int64(api: httpx.AsyncClient, bad: Any) -> None:
    alice, _ = await sign_in(api)
    _, bob_id = await sign_in(api)
    chat_id = (await api.post("/api/v1/chats/private", json={"user_id": bob_id}, headers=alice)).json()["chat"]["id"]
    answer = await api.post(f"/api/v1/chats/{chat_id}/messages", json={"text": "hi", "random_id": bad}, headers=alice)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"
    history = await api.get(f"/api/v1/chats/{chat_id}/messages", headers=alice)
    assert history.json()["messages"] == []


async def test_gateway_send_is_idempotent_and_validates_random_id(mworld: MWorld) -> None:
    messenger = mworld.messenger
    router = RequestRouter()
    register_messenger_methods(router, messenger)
    a, b, c = await mworld.user(), await mworld.user(), await mworld.user()
    chat = await messenger.chats.open_private(a, b.user_id)
    send = router.resolve("messages.send").handler
    params = {"chat_id": str(chat.id), "text": "hi", "random_id": 77}
    first = await send(a, params)
    assert first is not None and first["message"]["id"] == 1
    assert await send(a, dict(params)) == first
    for bad in BAD_RANDOM_IDS:
        with pytest.raises(InvalidParams):
            await send(a, {**params, "random_id": bad})
    other = await messenger.chats.open_private(a, c.user_id)
    with pytest.raises(Conflict) as raised:
        await send(a, {**params, "chat_id": str(other.id)})
    assert raised.value.code == "random_id_duplicate"
    assert await count_rows(mworld, "messages") == 1
