"""Membership: a user's status in a chat, with time-limited bans and restrictions."""

from __future__ import annotations

from dataclasses import dataclass, field

from palaver.domain.messenger.roles import AdminRights, MemberStatus


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    entities: tuple[dict[str, object], ...] = ()
    reply_to: int | None = None
    date: float = 0.0


@dataclass(frozen=True, slots=True)
class Member:
    chat_id: int
    user_id: int
    status: MemberStatus
    joined_at: float
    rights: AdminRights = AdminRights.NONE
    promoted_by: int | None = None
    until: float | None = None  # end of a ban or restriction; None: until lifted
    history_from: int = 0  # messages with a larger id are visible to this member
    read_inbox_max: int = 0
    read_outbox_max: int = 0
    pinned_rank: int = 0  # 0: dialog not pinned; otherwise larger ranks come first
    draft: Draft | None = field(default=None)

    def effective_status(self, now: float) -> MemberStatus:
        """The status in force at ``now``: an expired ban is no membership, an expired restriction none."""
        if self.until is not None and now >= self.until:
            if self.status is MemberStatus.BANNED:
                return MemberStatus.LEFT
            if self.status is MemberStatus.RESTRICTED:
                return MemberStatus.MEMBER
        return self.status

    def is_active(self, now: float) -> bool:
        return self.effective_status(now).is_active
