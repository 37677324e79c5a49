"""Who may do what in a chat: loads the chat and the caller's membership, then asks the pure matrix."""

from __future__ import annotations

from dataclasses import dataclass

from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.rights import Action, allowed, effective_rights, require
from palaver.domain.messenger.roles import AdminRights, MemberStatus
from palaver.errors import NotFound
from palaver.ports import Transaction


def chat_not_found() -> NotFound:
    return NotFound("No such chat.", code="chat_not_found")


@dataclass(frozen=True, slots=True)
class Access:
    chat: Chat
    user_id: int
    member: Member | None
    status: MemberStatus  # effective at the time of loading
    now: float

    @property
    def rights(self) -> AdminRights:
        return self.member.rights if self.member else AdminRights.NONE

    @property
    def effective_rights(self) -> AdminRights:
        return effective_rights(self.status, self.rights)

    @property
    def min_id(self) -> int:
        """Messages with a larger id are visible to this user."""
        return self.member.history_from if self.member and self.status.is_active else 0

    @property
    def is_active(self) -> bool:
        return self.status.is_active

    def can(self, action: Action) -> bool:
        return allowed(action, self.chat.kind, self.status, self.rights, public=self.chat.is_public)

    def require(self, action: Action) -> None:
        """Raise ``Forbidden`` unless allowed; outsiders learn only that they cannot read the chat."""
        if action is not Action.JOIN and not self.can(action):
            require(Action.READ, self.chat.kind, self.status, self.rights, public=self.chat.is_public)
        require(action, self.chat.kind, self.status, self.rights, public=self.chat.is_public)


async def load_access(tx: Transaction, chat_id: int, user_id: int, now: float) -> Access:
    """The caller's access to a chat. A private chat of others is reported as not found."""
    chat, member = await tx.chats.get_with_member(chat_id, user_id)
    if chat is None:
        raise chat_not_found()
    status = member.effective_status(now) if member else MemberStatus.LEFT
    access = Access(chat, user_id, member, status, now)
    if chat.kind is ChatKind.PRIVATE and not access.is_active:
        raise chat_not_found()
    return access


async def readable(tx: Transaction, chat_id: int, user_id: int, now: float) -> Access:
    access = await load_access(tx, chat_id, user_id, now)
    access.require(Action.READ)
    return access


async def recipients(tx: Transaction, chat: Chat) -> list[int]:
    """The users whose common boxes get this chat's updates (none for supergroups and channels)."""
    if chat.kind is ChatKind.PRIVATE:
        return list(chat.members_of_private())
    if chat.kind is ChatKind.GROUP:
        return await tx.members.active_user_ids(chat.id)
    return []
