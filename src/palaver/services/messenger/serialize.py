"""JSON shapes of the messenger (HTTP replies, update payloads). 64-bit ids travel as strings;
message ids (sequential within a chat) are plain numbers."""

from __future__ import annotations

from typing import Any

from palaver.domain.accounts import User
from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.invites import Invite, JoinRequest
from palaver.domain.messenger.members import Draft, Member
from palaver.domain.messenger.messages import Message
from palaver.domain.messenger.rights import rights_to_names


def sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def message_json(message: Message, *, my_reaction: str | None = None, with_mine: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "chat_id": str(message.chat_id),
        "id": message.id,
        "sender_id": sid(message.visible_sender()),
        "date": message.date,
        "text": message.text,
        "entities": [e.to_json() for e in message.entities],
        "reply_to": message.reply_to,
        "forward": message.forward.to_json() if message.forward else None,
        "edit_date": message.edit_date,
        "silent": message.silent,
        "signature": message.signature,
        "views": message.views,
        "reactions": reactions_json(message.reactions),
    }
    if with_mine:
        data["my_reaction"] = my_reaction
    return data


def reactions_json(counts: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    return [{"emoji": emoji, "count": count} for emoji, count in counts]


def chat_json(chat: Chat, *, viewer_id: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(chat.id),
        "kind": chat.kind.value,
        "title": chat.title,
        "about": chat.about,
        "username": chat.username,
        "signatures": chat.signatures,
        "member_count": chat.member_count,
        "pinned_msg_id": chat.pinned_msg_id,
        "last_msg_id": chat.last_msg_id,
        "created_at": chat.created_at,
    }
    if chat.kind.has_channel_box:
        data["pts"] = chat.pts
    if chat.kind is ChatKind.PRIVATE and viewer_id is not None:
        data["peer_id"] = str(chat.peer_of(viewer_id))
    return data


def draft_json(draft: Draft | None) -> dict[str, Any] | None:
    if draft is None:
        return None
    return {"text": draft.text, "entities": list(draft.entities), "reply_to": draft.reply_to, "date": draft.date}


def membership_json(member: Member | None, *, now: float) -> dict[str, Any] | None:
    if member is None:
        return None
    return {
        "user_id": str(member.user_id),
        "status": member.effective_status(now).value,
        "rights": rights_to_names(member.rights),
        "until": member.until,
        "joined_at": member.joined_at,
        "history_from": member.history_from,
        "read_inbox_max": member.read_inbox_max,
        "read_outbox_max": member.read_outbox_max,
        "pinned": member.pinned_rank > 0,
        "draft": draft_json(member.draft),
    }


def member_json(member: Member, user: User | None, *, now: float) -> dict[str, Any]:
    data = membership_json(member, now=now)
    assert data is not None
    data.pop("draft")
    data.pop("read_inbox_max")
    data.pop("read_outbox_max")
    data.pop("pinned")
    data["display_name"] = user.display_name if user else None
    data["username"] = user.username if user else None
    return data


def invite_json(invite: Invite) -> dict[str, Any]:
    return {
        "id": str(invite.id),
        "chat_id": str(invite.chat_id),
        "code": invite.code,
        "creator_id": str(invite.creator_id),
        "title": invite.title,
        "created_at": invite.created_at,
        "expire_at": invite.expire_at,
        "usage_limit": invite.usage_limit,
        "usage_count": invite.usage_count,
        "requires_approval": invite.requires_approval,
        "revoked": invite.revoked_at is not None,
    }


def join_request_json(request: JoinRequest) -> dict[str, Any]:
    return {"chat_id": str(request.chat_id), "user_id": str(request.user_id), "date": request.date}
