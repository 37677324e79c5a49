"""Messenger methods over the gateway: the most latency-sensitive calls, for clients already connected.

Each mirrors an HTTP endpoint (see docs/protocol.md) and validates with the same pydantic model, plus
a ``chat_id`` where the HTTP API has it in the path; answers are the HTTP API's JSON bodies.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator

from palaver.adapters.gateway.params import validate
from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.http.routes_messenger import ReadIn, SendIn, Strict, TypingIn
from palaver.domain.messenger.messages import parse_entities
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput
from palaver.ids import parse_id
from palaver.services.messenger import Messenger
from palaver.services.messenger.serialize import message_json

MAX_PTS = 2**62


def _chat_id(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError("A chat id is a decimal string.")
    try:
        return parse_id(value, "chat")
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


ChatId = Annotated[int, PlainValidator(_chat_id)]


class InChat(Strict):
    chat_id: ChatId


class SendParams(SendIn, InChat):
    """``messages.send``: POST /chats/{chat_id}/messages."""


class TypingParams(TypingIn, InChat):
    """``chats.typing``: POST /chats/{chat_id}/typing."""


class ReadParams(ReadIn, InChat):
    """``chats.read``: POST /chats/{chat_id}/read."""


class DifferenceParams(Strict):
    """``updates.difference``: GET /updates/difference."""

    pts: int = Field(ge=0, le=MAX_PTS)
    limit: int = Field(default=100, ge=1, le=1000)


class ChannelDifferenceParams(DifferenceParams, InChat):
    """``chats.difference``: GET /chats/{chat_id}/difference."""


def register_messenger_methods(router: RequestRouter, messenger: Messenger) -> None:
    async def send(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = validate(params, SendParams)
        entities = parse_entities([item.model_dump(exclude_none=True) for item in body.entities])
        message = await messenger.messages.send(
            principal,
            body.chat_id,
            body.text,
            entities,
            reply_to=body.reply_to,
            silent=body.silent,
            anonymous=body.anonymous,
            random_id=body.random_id,
        )
        return {"message": message_json(message)}

    async def typing(principal: Principal, params: dict[str, Any]) -> None:
        body = validate(params, TypingParams)
        await messenger.dialogs.typing(principal, body.chat_id, body.action)

    async def read(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = validate(params, ReadParams)
        return {"read_inbox_max": await messenger.dialogs.read(principal, body.chat_id, body.max_id)}

    async def difference(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = validate(params, DifferenceParams)
        return await messenger.sync.difference(principal, body.pts, limit=body.limit)

    async def channel_difference(principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        body = validate(params, ChannelDifferenceParams)
        return await messenger.sync.channel_difference(principal, body.chat_id, body.pts, limit=body.limit)

    router.register("messages.send", send)
    router.register("chats.typing", typing)
    router.register("chats.read", read)
    router.register("updates.difference", difference)
    router.register("chats.difference", channel_difference)
