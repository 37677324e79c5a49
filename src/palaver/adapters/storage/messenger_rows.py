"""Row ↔ domain mapping for the messenger tables (JSON columns encoded with msgspec)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.invites import Invite
from palaver.domain.messenger.members import Draft, Member
from palaver.domain.messenger.messages import Entity, EntityType, ForwardHeader, Message, reaction_counts
from palaver.domain.messenger.roles import AdminRights, MemberStatus

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def dump_json(value: object) -> str | None:
    return None if value is None else _encode(value).decode()


def load_json(text: str | None) -> Any:
    return None if text is None else _decode(text)


def chat_row(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "kind": chat.kind.value,
        "title": chat.title,
        "about": chat.about,
        "username": chat.username,
        "username_canonical": chat.username.lower() if chat.username else None,
        "owner_id": chat.owner_id,
        "private_key": chat.private_key,
        "signatures": chat.signatures,
        "member_count": chat.member_count,
        "last_msg_id": chat.last_msg_id,
        "top_date": chat.top_date,
        "pts": chat.pts,
        "pinned_msg_id": chat.pinned_msg_id,
        "created_at": chat.created_at,
    }


def to_chat(row: Any) -> Chat:
    return Chat(
        id=row.id,
        kind=ChatKind(row.kind),
        title=row.title,
        created_at=row.created_at,
        about=row.about,
        username=row.username,
        owner_id=row.owner_id,
        private_key=row.private_key,
        signatures=bool(row.signatures),
        member_count=row.member_count,
        last_msg_id=row.last_msg_id,
        top_date=row.top_date,
        pts=row.pts,
        pinned_msg_id=row.pinned_msg_id,
    )


def chat_from_tuple(row: Sequence[Any], counters: Sequence[Any] | None = None) -> Chat:
    """A chat from the first ``CHAT_WIDTH`` columns of a hot-path row (``messenger_sql``), with the
    counters the transaction holds in memory, if any, instead of the stored ones."""
    last_msg_id, top_date, pts = (counters[0], counters[2], counters[1]) if counters else (row[10], row[11], row[12])
    return Chat(
        id=row[0],
        kind=ChatKind(row[1]),
        title=row[2],
        created_at=row[3],
        about=row[4],
        username=row[5],
        owner_id=row[6],
        private_key=row[7],
        signatures=bool(row[8]),
        member_count=row[9],
        last_msg_id=last_msg_id,
        top_date=top_date,
        pts=pts,
        pinned_msg_id=row[13],
    )


def member_from_tuple(row: Sequence[Any], at: int) -> Member:
    """A membership from the columns of a hot-path row starting at ``at`` (``messenger_sql``)."""
    draft = None
    if row[at + 14] is not None:
        draft = Draft(
            text=row[at + 11] or "",
            entities=tuple(load_json(row[at + 12]) or ()),
            reply_to=row[at + 13],
            date=row[at + 14],
        )
    return Member(
        chat_id=row[at],
        user_id=row[at + 1],
        status=MemberStatus(row[at + 2]),
        joined_at=row[at + 3],
        rights=AdminRights(row[at + 4]),
        promoted_by=row[at + 5],
        until=row[at + 6],
        history_from=row[at + 7],
        read_inbox_max=row[at + 8],
        read_outbox_max=row[at + 9],
        pinned_rank=row[at + 10],
        draft=draft,
    )


def member_row(member: Member) -> dict[str, Any]:
    draft = member.draft
    return {
        "chat_id": member.chat_id,
        "user_id": member.user_id,
        "status": member.status.value,
        "rights": int(member.rights),
        "promoted_by": member.promoted_by,
        "until": member.until,
        "joined_at": member.joined_at,
        "history_from": member.history_from,
        "read_inbox_max": member.read_inbox_max,
        "read_outbox_max": member.read_outbox_max,
        "pinned_rank": member.pinned_rank,
        **draft_row(draft),
    }


def draft_row(draft: Draft | None) -> dict[str, Any]:
    if draft is None:
        return {"draft_text": None, "draft_entities": None, "draft_reply_to": None, "draft_date": None}
    return {
        "draft_text": draft.text,
        "draft_entities": dump_json(list(draft.entities)) if draft.entities else None,
        "draft_reply_to": draft.reply_to,
        "draft_date": draft.date,
    }


def to_member(row: Any) -> Member:
    draft = None
    if row.draft_date is not None:
        draft = Draft(
            text=row.draft_text or "",
            entities=tuple(load_json(row.draft_entities) or ()),
            reply_to=row.draft_reply_to,
            date=row.draft_date,
        )
    return Member(
        chat_id=row.chat_id,
        user_id=row.user_id,
        status=MemberStatus(row.status),
        joined_at=row.joined_at,
        rights=AdminRights(row.rights),
        promoted_by=row.promoted_by,
        until=row.until,
        history_from=row.history_from,
        read_inbox_max=row.read_inbox_max,
        read_outbox_max=row.read_outbox_max,
        pinned_rank=row.pinned_rank,
        draft=draft,
    )


def message_row(message: Message) -> dict[str, Any]:
    return {
        "uid": message.uid,
        "chat_id": message.chat_id,
        "id": message.id,
        "sender_id": message.sender_id,
        "anonymous": message.anonymous,
        "date": message.date,
        "text": message.text,
        "entities": dump_json([e.to_json() for e in message.entities]) if message.entities else None,
        "reply_to": message.reply_to,
        "forward": dump_json(message.forward.to_json()) if message.forward else None,
        "edit_date": message.edit_date,
        "silent": message.silent,
        "signature": message.signature,
        "views": message.views,
        "reactions": dump_json(dict(message.reactions)) if message.reactions else None,
    }


def message_tuple(message: Message, random_id: int | None = None) -> tuple[Any, ...]:
    """``message_row`` (and the sender's ``random_id``) in the column order of
    ``messenger_sql.insert_messages``."""
    return (
        message.uid,
        message.chat_id,
        message.id,
        message.sender_id,
        message.anonymous,
        message.date,
        message.text,
        dump_json([e.to_json() for e in message.entities]) if message.entities else None,
        message.reply_to,
        dump_json(message.forward.to_json()) if message.forward else None,
        message.edit_date,
        message.silent,
        message.signature,
        message.views,
        dump_json(dict(message.reactions)) if message.reactions else None,
        random_id,
    )


def _entity(data: dict[str, Any]) -> Entity:
    return Entity(EntityType(data["type"]), data["offset"], data["length"], data.get("url"), data.get("language"))


def to_message(row: Any) -> Message:
    forward = load_json(row.forward)
    return Message(
        chat_id=row.chat_id,
        id=row.id,
        uid=row.uid,
        sender_id=row.sender_id,
        date=row.date,
        text=row.text,
        entities=tuple(_entity(e) for e in load_json(row.entities) or ()),
        anonymous=bool(row.anonymous),
        reply_to=row.reply_to,
        forward=ForwardHeader.from_json(forward) if forward else None,
        edit_date=row.edit_date,
        silent=bool(row.silent),
        signature=row.signature,
        views=row.views,
        reactions=reaction_counts(load_json(row.reactions) or {}),
    )


def invite_row(invite: Invite) -> dict[str, Any]:
    return {
        "id": invite.id,
        "chat_id": invite.chat_id,
        "code": invite.code,
        "creator_id": invite.creator_id,
        "title": invite.title,
        "created_at": invite.created_at,
        "expire_at": invite.expire_at,
        "usage_limit": invite.usage_limit,
        "usage_count": invite.usage_count,
        "requires_approval": invite.requires_approval,
        "revoked_at": invite.revoked_at,
    }


def to_invite(row: Any) -> Invite:
    return Invite(
        id=row.id,
        chat_id=row.chat_id,
        code=row.code,
        creator_id=row.creator_id,
        created_at=row.created_at,
        title=row.title,
        expire_at=row.expire_at,
        usage_limit=row.usage_limit,
        usage_count=row.usage_count,
        requires_approval=bool(row.requires_approval),
        revoked_at=row.revoked_at,
    )
