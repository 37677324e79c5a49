"""HTTP routes of the messenger: chats, members, invites, messages, dialogs, sync and search.

Wired by ``create_http_app`` with ``app.state.messenger`` (a ``palaver.services.messenger.Messenger``).
Ids of users and chats are decimal strings; message ids (sequential within a chat) are numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from palaver.adapters.http.auth import CurrentPrincipal
from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.invites import InviteTerms
from palaver.domain.messenger.messages import Entity, parse_entities
from palaver.ids import parse_id
from palaver.services.messenger import Messenger
from palaver.services.messenger.serialize import chat_json, draft_json, invite_json, message_json

router = APIRouter(prefix="/api/v1", tags=["messenger"])


def _messenger(request: Request) -> Messenger:
    service: Messenger = request.app.state.messenger
    return service


MessengerDep = Annotated[Messenger, Depends(_messenger)]
MsgId = Annotated[int, Field(ge=1, le=2**53)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityIn(Strict):
    type: str = Field(max_length=16)
    offset: int = Field(ge=0, le=100_000)
    length: int = Field(ge=1, le=100_000)
    url: str | None = Field(default=None, max_length=2048)
    language: str | None = Field(default=None, max_length=32)


def _entities(items: list[EntityIn]) -> tuple[Entity, ...]:
    return parse_entities([item.model_dump(exclude_none=True) for item in items])


class PrivateIn(Strict):
    user_id: str = Field(max_length=20)


class GroupIn(Strict):
    title: str = Field(max_length=256)
    member_ids: list[str] = Field(default_factory=list, max_length=200)


class ChannelIn(Strict):
    title: str = Field(max_length=256)
    kind: Literal["channel", "supergroup"] = "channel"
    about: str = Field(default="", max_length=1024)
    username: str | None = Field(default=None, max_length=64)
    signatures: bool = False


class ChatPatch(Strict):
    title: str | None = Field(default=None, max_length=256)
    about: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=64, description='"" makes the chat private')
    signatures: bool | None = None


class UsersIn(Strict):
    user_ids: list[str] = Field(min_length=1, max_length=100)


class UntilIn(Strict):
    until: float | None = None


class AdminIn(Strict):
    rights: list[str] = Field(max_length=16)


class InviteIn(Strict):
    title: str = Field(default="", max_length=64)
    expire_at: float | None = None
    usage_limit: int | None = None
    requires_approval: bool = False


class SendIn(Strict):
    text: str = Field(max_length=20_000)
    entities: list[EntityIn] = Field(default_factory=list, max_length=100)
    reply_to: MsgId | None = None
    silent: bool = False
    anonymous: bool = False
    random_id: int | None = Field(
        default=None,
        strict=True,
        ge=-(2**63),
        le=2**63 - 1,
        description="The client's idempotency key (int64): a repeated send with it returns the first message",
    )


class EditIn(Strict):
    text: str = Field(max_length=20_000)
    entities: list[EntityIn] = Field(default_factory=list, max_length=100)


class ForwardIn(Strict):
    from_chat_id: str = Field(max_length=20)
    ids: list[MsgId] = Field(min_length=1, max_length=100)
    silent: bool = False


class DeleteIn(Strict):
    ids: list[MsgId] = Field(min_length=1, max_length=100)
    for_everyone: bool = False


class PinIn(Strict):
    msg_id: int = Field(ge=0, le=2**53, description="0 unpins")


class ReactionIn(Strict):
    emoji: str | None = Field(default=None, max_length=16)


class ReadIn(Strict):
    max_id: int = Field(ge=0, le=2**53)


class DraftIn(Strict):
    text: str = Field(max_length=20_000, description='"" clears the draft')
    entities: list[EntityIn] = Field(default_factory=list, max_length=100)
    reply_to: MsgId | None = None


class TypingIn(Strict):
    action: Literal["typing", "cancel"] = "typing"


class ViewsIn(Strict):
    ids: list[MsgId] = Field(min_length=1, max_length=100)


class DialogPinIn(Strict):
    pinned: bool


def _chat(chat_id: str) -> int:
    return parse_id(chat_id, "chat")


def _user(user_id: str) -> int:
    return parse_id(user_id, "user")


# ---------------------------------------------------------------------------------------- chats


@router.post("/chats/private", summary="Open (or create) the private chat with a user")
async def open_private(body: PrivateIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    chat = await m.chats.open_private(principal, _user(body.user_id))
    return {"chat": chat_json(chat, viewer_id=principal.user_id)}


@router.post("/chats/groups", status_code=201, summary="Create a basic group")
async def create_group(body: GroupIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    chat = await m.chats.create_group(principal, body.title, [_user(u) for u in body.member_ids])
    return {"chat": chat_json(chat)}


@router.post("/chats/channels", status_code=201, summary="Create a channel or a supergroup")
async def create_channel(body: ChannelIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    chat = await m.chats.create_channel(
        principal,
        body.title,
        kind=ChatKind(body.kind),
        about=body.about,
        username=body.username,
        signatures=body.signatures,
    )
    return {"chat": chat_json(chat)}


@router.get("/chats/{chat_id}", summary="A chat and my membership")
async def get_chat(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return await m.chats.get(principal, _chat(chat_id))


@router.patch("/chats/{chat_id}", summary="Change title, description, username or signatures")
async def update_chat(chat_id: str, body: ChatPatch, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "username" in changes and not changes["username"]:
        changes["username"] = None
    chat = await m.chats.update_info(principal, _chat(chat_id), **changes)
    return {"chat": chat_json(chat)}


@router.post("/chats/{chat_id}/upgrade", summary="Upgrade a basic group to a supergroup")
async def upgrade(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return {"chat": chat_json(await m.chats.upgrade(principal, _chat(chat_id)))}


@router.post("/chats/{chat_id}/join", summary="Join a public supergroup or channel")
async def join(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return {"chat": chat_json(await m.chats.join(principal, _chat(chat_id)))}


@router.post("/chats/{chat_id}/leave", status_code=204)
async def leave(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.leave(principal, _chat(chat_id))
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- members


@router.get("/chats/{chat_id}/members")
async def list_members(
    chat_id: str,
    principal: CurrentPrincipal,
    m: MessengerDep,
    which: Literal["active", "admins", "banned", "restricted"] = "active",
    after: Annotated[str, Query(max_length=20)] = "0",
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> dict[str, Any]:
    members = await m.chats.list_members(
        principal, _chat(chat_id), which=which, after_user_id=_user(after), limit=limit
    )
    return {"members": members}


@router.post("/chats/{chat_id}/members", summary="Add users (invite right)")
async def add_members(chat_id: str, body: UsersIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    added = await m.chats.add_members(principal, _chat(chat_id), [_user(u) for u in body.user_ids])
    return {"added": [str(u) for u in added]}


@router.post("/chats/{chat_id}/members/{user_id}/kick", status_code=204)
async def kick(chat_id: str, user_id: str, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.kick(principal, _chat(chat_id), _user(user_id))
    return Response(status_code=204)


@router.put("/chats/{chat_id}/members/{user_id}/ban", status_code=204)
async def ban(chat_id: str, user_id: str, body: UntilIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.ban(principal, _chat(chat_id), _user(user_id), until=body.until)
    return Response(status_code=204)


@router.delete("/chats/{chat_id}/members/{user_id}/ban", status_code=204)
async def unban(chat_id: str, user_id: str, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.unban(principal, _chat(chat_id), _user(user_id))
    return Response(status_code=204)


@router.put("/chats/{chat_id}/members/{user_id}/restriction", status_code=204)
async def restrict(chat_id: str, user_id: str, body: UntilIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.restrict(principal, _chat(chat_id), _user(user_id), until=body.until)
    return Response(status_code=204)


@router.delete("/chats/{chat_id}/members/{user_id}/restriction", status_code=204)
async def unrestrict(chat_id: str, user_id: str, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.unrestrict(principal, _chat(chat_id), _user(user_id))
    return Response(status_code=204)


@router.put("/chats/{chat_id}/members/{user_id}/admin", status_code=204, summary="Set admin rights ([]: dismiss)")
async def promote(chat_id: str, user_id: str, body: AdminIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.chats.promote(principal, _chat(chat_id), _user(user_id), body.rights)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- invites


@router.post("/chats/{chat_id}/invites", status_code=201)
async def create_invite(chat_id: str, body: InviteIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    terms = InviteTerms(body.title, body.expire_at, body.usage_limit, body.requires_approval)
    return {"invite": invite_json(await m.invites.create(principal, _chat(chat_id), terms))}


@router.get("/chats/{chat_id}/invites")
async def list_invites(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return {"invites": [invite_json(i) for i in await m.invites.list_for_chat(principal, _chat(chat_id))]}


@router.delete("/chats/{chat_id}/invites/{invite_id}", status_code=204)
async def revoke_invite(chat_id: str, invite_id: str, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.invites.revoke(principal, _chat(chat_id), parse_id(invite_id, "invite"))
    return Response(status_code=204)


@router.get("/invites/{code}", summary="Preview where an invite link leads")
async def preview_invite(code: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return await m.invites.preview(principal, code)


@router.post("/invites/{code}/join", summary="Join by invite link (or ask to, if it needs approval)")
async def join_by_invite(code: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return await m.invites.join(principal, code)


@router.get("/chats/{chat_id}/join-requests")
async def join_requests(chat_id: str, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return {"requests": await m.invites.requests(principal, _chat(chat_id))}


@router.post("/chats/{chat_id}/join-requests/{user_id}/{decision}", status_code=204)
async def decide_join_request(
    chat_id: str,
    user_id: str,
    decision: Literal["approve", "decline"],
    principal: CurrentPrincipal,
    m: MessengerDep,
) -> Response:
    await m.invites.decide(principal, _chat(chat_id), _user(user_id), approve=decision == "approve")
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- messages


@router.get("/chats/{chat_id}/messages", summary="History: older, newer or around a message id")
async def history(
    chat_id: str,
    principal: CurrentPrincipal,
    m: MessengerDep,
    offset_id: Annotated[int, Query(ge=0, le=2**53)] = 0,
    direction: Literal["older", "newer", "around"] = "older",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    return await m.history.history(principal, _chat(chat_id), offset_id=offset_id, direction=direction, limit=limit)


@router.post("/chats/{chat_id}/messages", status_code=201)
async def send(chat_id: str, body: SendIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    message = await m.messages.send(
        principal,
        _chat(chat_id),
        body.text,
        _entities(body.entities),
        reply_to=body.reply_to,
        silent=body.silent,
        anonymous=body.anonymous,
        random_id=body.random_id,
    )
    return {"message": message_json(message)}


@router.post("/chats/{chat_id}/messages/forward", status_code=201)
async def forward(chat_id: str, body: ForwardIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    copies = await m.messages.forward(
        principal, _chat(chat_id), _chat(body.from_chat_id), list(body.ids), silent=body.silent
    )
    return {"messages": [message_json(c) for c in copies]}


@router.patch("/chats/{chat_id}/messages/{msg_id}", summary="Edit (within 48 hours)")
async def edit(chat_id: str, msg_id: int, body: EditIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    message = await m.messages.edit(principal, _chat(chat_id), msg_id, body.text, _entities(body.entities))
    return {"message": message_json(message)}


@router.post("/chats/{chat_id}/messages/delete", summary="Delete for me, or for everyone")
async def delete(chat_id: str, body: DeleteIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    done = await m.messages.delete(principal, _chat(chat_id), list(body.ids), for_everyone=body.for_everyone)
    return {"deleted": done}


@router.put("/chats/{chat_id}/pinned", status_code=204)
async def pin(chat_id: str, body: PinIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.messages.pin(principal, _chat(chat_id), body.msg_id)
    return Response(status_code=204)


@router.put("/chats/{chat_id}/messages/{msg_id}/reaction", summary="Set my reaction (null removes it)")
async def react(
    chat_id: str, msg_id: int, body: ReactionIn, principal: CurrentPrincipal, m: MessengerDep
) -> dict[str, Any]:
    return {"reactions": await m.messages.react(principal, _chat(chat_id), msg_id, body.emoji)}


@router.post("/chats/{chat_id}/read", summary="Mark read up to a message id")
async def read(chat_id: str, body: ReadIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return {"read_inbox_max": await m.dialogs.read(principal, _chat(chat_id), body.max_id)}


@router.put("/chats/{chat_id}/draft")
async def save_draft(chat_id: str, body: DraftIn, principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    draft = await m.dialogs.save_draft(
        principal, _chat(chat_id), body.text, _entities(body.entities), reply_to=body.reply_to
    )
    return {"draft": draft_json(draft)}


@router.post("/chats/{chat_id}/typing", status_code=204, summary="Typing indicator (not stored)")
async def typing(chat_id: str, body: TypingIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.dialogs.typing(principal, _chat(chat_id), body.action)
    return Response(status_code=204)


@router.post("/chats/{chat_id}/views", status_code=204, summary="Count views of channel posts")
async def views(chat_id: str, body: ViewsIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.dialogs.record_views(principal, _chat(chat_id), list(body.ids))
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- dialogs and sync


@router.get("/dialogs", summary="My chats: pinned first, then by last message")
async def dialogs(
    principal: CurrentPrincipal,
    m: MessengerDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    return await m.history.dialogs(principal, cursor=cursor, limit=limit)


@router.put("/dialogs/{chat_id}/pinned", status_code=204)
async def pin_dialog(chat_id: str, body: DialogPinIn, principal: CurrentPrincipal, m: MessengerDep) -> Response:
    await m.dialogs.pin_dialog(principal, _chat(chat_id), body.pinned)
    return Response(status_code=204)


@router.get("/updates/state", summary="The pts of my common box")
async def updates_state(principal: CurrentPrincipal, m: MessengerDep) -> dict[str, Any]:
    return await m.sync.state(principal)


@router.get("/updates/difference", summary="getDifference: common-box updates after pts")
async def updates_difference(
    principal: CurrentPrincipal,
    m: MessengerDep,
    pts: Annotated[int, Query(ge=0, le=2**62)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return await m.sync.difference(principal, pts, limit=limit)


@router.get("/chats/{chat_id}/difference", summary="getChannelDifference: a channel box's updates after pts")
async def channel_difference(
    chat_id: str,
    principal: CurrentPrincipal,
    m: MessengerDep,
    pts: Annotated[int, Query(ge=0, le=2**62)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return await m.sync.channel_difference(principal, _chat(chat_id), pts, limit=limit)


# ---------------------------------------------------------------------------------------- search


@router.get("/search/messages", summary="Search my chats (or one chat)")
async def search_messages(
    principal: CurrentPrincipal,
    m: MessengerDep,
    q: Annotated[str, Query(max_length=256)],
    chat_id: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    chat = _chat(chat_id) if chat_id is not None else None
    return await m.search.messages(principal, q, chat_id=chat, cursor=cursor, limit=limit)


@router.get("/search/directory", summary="Public channels and supergroups by title or username")
async def search_directory(
    principal: CurrentPrincipal,
    m: MessengerDep,
    q: Annotated[str, Query(max_length=256)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return await m.search.directory(principal, q, limit=limit)
