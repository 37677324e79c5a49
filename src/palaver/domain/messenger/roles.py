"""The vocabulary of membership: a member's status and an admin's rights."""

from __future__ import annotations

from enum import IntFlag, StrEnum


class MemberStatus(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    RESTRICTED = "restricted"  # a member who may read but not write
    BANNED = "banned"  # removed and may not come back until unbanned (or ``until``)
    LEFT = "left"  # not a member: never joined, left, or kicked

    @property
    def is_active(self) -> bool:
        """A current participant (receives the chat's updates)."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({MemberStatus.OWNER, MemberStatus.ADMIN, MemberStatus.MEMBER, MemberStatus.RESTRICTED})


class AdminRights(IntFlag):
    NONE = 0
    CHANGE_INFO = 1
    POST_MESSAGES = 2  # channels: post
    EDIT_MESSAGES = 4  # channels: edit others' posts
    DELETE_MESSAGES = 8  # delete others' messages
    BAN_USERS = 16  # ban, kick, restrict
    INVITE_USERS = 32  # add members, manage invite links and join requests
    PIN_MESSAGES = 64
    ADD_ADMINS = 128
    ANONYMOUS = 256  # supergroups: post as the group


ALL_RIGHTS = AdminRights(511)
RIGHT_NAMES: dict[str, AdminRights] = {
    "change_info": AdminRights.CHANGE_INFO,
    "post_messages": AdminRights.POST_MESSAGES,
    "edit_messages": AdminRights.EDIT_MESSAGES,
    "delete_messages": AdminRights.DELETE_MESSAGES,
    "ban_users": AdminRights.BAN_USERS,
    "invite_users": AdminRights.INVITE_USERS,
    "pin_messages": AdminRights.PIN_MESSAGES,
    "add_admins": AdminRights.ADD_ADMINS,
    "anonymous": AdminRights.ANONYMOUS,
}
