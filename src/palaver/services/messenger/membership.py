"""Adding and removing members: the shared steps of joining, leaving, kicking and banning."""

from __future__ import annotations

from dataclasses import replace

from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.roles import MemberStatus
from palaver.domain.messenger.updates import UpdateType
from palaver.errors import Conflict
from palaver.ports import Transaction
from palaver.services.events import Event, user_topic
from palaver.services.messenger.serialize import chat_json, membership_json
from palaver.services.messenger.staging import Staged, channel_topic

GATEWAY_JOIN = "gateway.join"
GATEWAY_LEAVE = "gateway.leave"


def chat_full(chat: Chat) -> Conflict:
    if chat.kind is ChatKind.GROUP:
        return Conflict("This group is full; upgrade it to a supergroup.", code="group_full")
    return Conflict("This chat is full.", code="chat_full")


def stage_membership(staged: Staged, chat: Chat, member: Member) -> None:
    """Tell the member's own devices what their membership now is."""
    payload = {"chat": chat_json(chat, viewer_id=member.user_id), "membership": membership_json(member, now=staged.now)}
    staged.to_users([member.user_id], UpdateType.CHAT, chat.id, payload)


def stage_topics(staged: Staged, chat: Chat, user_ids: list[int] | tuple[int, ...], *, join: bool) -> None:
    """Supergroups and channels: after the commit, the users' gateway connections join (leave) the
    chat's topic, through a ``gateway.join`` (``gateway.leave``) control event on each user topic."""
    if not chat.kind.has_channel_box:
        return
    name = GATEWAY_JOIN if join else GATEWAY_LEAVE
    data = {"topics": [channel_topic(chat.id)]}
    staged.events.extend(Event(user_topic(uid), name, data) for uid in user_ids)


async def stage_group_info(tx: Transaction, staged: Staged, chat: Chat, *, skip: int | None = None) -> None:
    """Basic groups: every member's common box learns the new chat state (member count, title…)."""
    if chat.kind is not ChatKind.GROUP:
        return
    others = [uid for uid in await tx.members.active_user_ids(chat.id) if uid != skip]
    staged.to_users(others, UpdateType.CHAT, chat.id, {"chat": chat_json(chat)})


async def add_member(
    tx: Transaction,
    staged: Staged,
    chat: Chat,
    user_id: int,
    *,
    status: MemberStatus = MemberStatus.MEMBER,
    existing: Member | None = None,
) -> Member:
    """Make ``user_id`` an active member (within the chat's member limit) and tell whom it concerns."""
    limit = chat.kind.member_limit
    if limit is not None and chat.member_count >= limit:
        raise chat_full(chat)
    member = Member(
        chat_id=chat.id,
        user_id=user_id,
        status=status,
        joined_at=staged.now,
        history_from=chat.last_msg_id if chat.kind is ChatKind.GROUP else 0,
    )
    if existing is not None:  # keep the dialog state of an earlier membership
        member = replace(
            existing,
            status=status,
            joined_at=staged.now,
            history_from=member.history_from,
            rights=member.rights,
            promoted_by=None,
            until=None,
        )
    await tx.members.put(member)
    await tx.chats.add_members(chat.id, 1)
    await tx.updates.ensure_common_boxes([user_id])
    chat = replace(chat, member_count=chat.member_count + 1)
    stage_membership(staged, chat, member)
    stage_topics(staged, chat, [user_id], join=True)
    await stage_group_info(tx, staged, chat, skip=user_id)
    return member


async def remove_member(
    tx: Transaction,
    staged: Staged,
    chat: Chat,
    member: Member,
    *,
    status: MemberStatus,
    reason: str,
    until: float | None = None,
) -> None:
    """End an active membership (``LEFT`` or ``BANNED``) and tell whom it concerns."""
    await tx.members.set_role(chat.id, member.user_id, status, until=until)
    await tx.chats.add_members(chat.id, -1)
    payload = {"chat_id": str(chat.id), "reason": reason}
    staged.to_users([member.user_id], UpdateType.CHAT_LEFT, chat.id, payload)
    stage_topics(staged, chat, [member.user_id], join=False)
    await stage_group_info(tx, staged, replace(chat, member_count=chat.member_count - 1), skip=member.user_id)
