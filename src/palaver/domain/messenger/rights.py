"""Roles, admin rights and the authorization matrix, as pure functions.

``allowed(action, kind, status, rights, public=...)`` answers every "may this member do that here?"
question of the messenger; the services call :func:`require` before every read and write. The
matrix (rows: actions; columns: owner, admin with/without the right, member, restricted, banned,
non-member) is spelled out in ``tests/unit/domain/messenger/test_rights.py``.
"""

from __future__ import annotations

from enum import StrEnum

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.roles import ALL_RIGHTS, RIGHT_NAMES, AdminRights, MemberStatus
from palaver.errors import Forbidden, InvalidInput


def rights_from_names(names: list[str] | tuple[str, ...]) -> AdminRights:
    rights = AdminRights.NONE
    for name in names:
        if name not in RIGHT_NAMES:
            raise InvalidInput(f"Unknown admin right {name!r}.", code="invalid_rights")
        rights |= RIGHT_NAMES[name]
    return rights


def rights_to_names(rights: AdminRights) -> list[str]:
    return [name for name, flag in RIGHT_NAMES.items() if flag in rights]


class Action(StrEnum):
    READ = "read"  # history, search, difference, views
    SEND = "send"  # send, forward into, typing
    REACT = "react"
    EDIT_OWN = "edit_own"
    EDIT_OTHERS = "edit_others"
    DELETE_OWN = "delete_own"  # for everyone
    DELETE_OTHERS = "delete_others"  # for everyone
    PIN = "pin"
    CHANGE_INFO = "change_info"
    INVITE = "invite"  # add members, invite links, join requests
    BAN = "ban"  # ban, kick, restrict, unban
    PROMOTE = "promote"  # appoint and dismiss admins
    UPGRADE = "upgrade"  # basic group -> supergroup
    POST_ANONYMOUSLY = "post_anonymously"
    JOIN = "join"  # join a public chat without a link
    LEAVE = "leave"
    VIEW_MEMBERS = "view_members"
    MANAGE_DIALOG = "manage_dialog"  # own state: read marks, drafts, dialog pins, delete for me


DENIED_CODES: dict[Action, str] = {
    Action.READ: "chat_not_readable",
    Action.SEND: "cannot_send",
    Action.REACT: "cannot_react",
    Action.EDIT_OWN: "cannot_edit",
    Action.EDIT_OTHERS: "cannot_edit",
    Action.DELETE_OWN: "cannot_delete",
    Action.DELETE_OTHERS: "cannot_delete",
    Action.PIN: "cannot_pin",
    Action.CHANGE_INFO: "cannot_change_info",
    Action.INVITE: "cannot_invite",
    Action.BAN: "cannot_ban",
    Action.PROMOTE: "cannot_promote",
    Action.UPGRADE: "cannot_upgrade",
    Action.POST_ANONYMOUSLY: "cannot_post_anonymously",
    Action.JOIN: "cannot_join",
    Action.LEAVE: "cannot_leave",
    Action.VIEW_MEMBERS: "cannot_view_members",
    Action.MANAGE_DIALOG: "not_a_member",
}

# Actions that need one admin right (the owner has them all) in groups, supergroups and channels.
_ADMIN_ACTIONS: dict[Action, AdminRights] = {
    Action.EDIT_OTHERS: AdminRights.EDIT_MESSAGES,
    Action.DELETE_OTHERS: AdminRights.DELETE_MESSAGES,
    Action.PIN: AdminRights.PIN_MESSAGES,
    Action.CHANGE_INFO: AdminRights.CHANGE_INFO,
    Action.INVITE: AdminRights.INVITE_USERS,
    Action.BAN: AdminRights.BAN_USERS,
    Action.PROMOTE: AdminRights.ADD_ADMINS,
    Action.POST_ANONYMOUSLY: AdminRights.ANONYMOUS,
}


def rights_for_kind(kind: ChatKind) -> AdminRights:
    """The rights that mean something in a chat of this kind."""

    if kind is ChatKind.CHANNEL:
        return ALL_RIGHTS & ~AdminRights.ANONYMOUS
    if kind is ChatKind.PRIVATE:
        return AdminRights.NONE
    return ALL_RIGHTS & ~(AdminRights.POST_MESSAGES | AdminRights.EDIT_MESSAGES)


def effective_rights(status: MemberStatus, rights: AdminRights) -> AdminRights:

    if status is MemberStatus.OWNER:
        return ALL_RIGHTS
    if status is MemberStatus.ADMIN:
        return rights
    return AdminRights.NONE


def allowed(action: Action, kind: ChatKind, status: MemberStatus, rights: AdminRights, *, public: bool) -> bool:
    """May a user with ``status`` (and admin ``rights``) do ``action`` in a chat of ``kind``?"""

    active = status.is_active
    if kind is ChatKind.PRIVATE:
        return active and action in _PRIVATE_ACTIONS
    has = effective_rights(status, rights)
    writer = status in (MemberStatus.OWNER, MemberStatus.ADMIN, MemberStatus.MEMBER)
    channel = kind is ChatKind.CHANNEL
    if action is Action.READ:
        return active or (status is MemberStatus.LEFT and public and kind.has_channel_box)
    if action in (Action.SEND, Action.EDIT_OWN):
        return AdminRights.POST_MESSAGES in has if channel else writer
    if action is Action.REACT:
        return writer
    if action is Action.DELETE_OWN:
        return bool(has & (AdminRights.POST_MESSAGES | AdminRights.DELETE_MESSAGES)) if channel else active
    if action is Action.EDIT_OTHERS:
        return channel and AdminRights.EDIT_MESSAGES in has
    if action is Action.POST_ANONYMOUSLY:
        if channel:
            return AdminRights.POST_MESSAGES in has
        return kind is ChatKind.SUPERGROUP and AdminRights.ANONYMOUS in has
    if action in _ADMIN_ACTIONS:
        return _ADMIN_ACTIONS[action] in has
    if action is Action.UPGRADE:
        return kind is ChatKind.GROUP and status is MemberStatus.OWNER
    if action is Action.JOIN:
        return status is MemberStatus.LEFT and public and kind.has_channel_box
    if action is Action.LEAVE:
        return active and status is not MemberStatus.OWNER
    if action is Action.VIEW_MEMBERS:
        return status in (MemberStatus.OWNER, MemberStatus.ADMIN) if channel else active
    if action is Action.MANAGE_DIALOG:
        return active
    raise AssertionError(f"unhandled action {action}")  # pragma: no cover


# In a private chat both participants may do everything that makes sense there.
_PRIVATE_ACTIONS = frozenset(
    {
        Action.READ,
        Action.SEND,
        Action.REACT,
        Action.EDIT_OWN,
        Action.DELETE_OWN,
        Action.DELETE_OTHERS,
        Action.PIN,
        Action.VIEW_MEMBERS,
        Action.MANAGE_DIALOG,
    }
)


def require(action: Action, kind: ChatKind, status: MemberStatus, rights: AdminRights, *, public: bool) -> None:
    """Raise ``Forbidden`` with a stable code unless :func:`allowed`."""

    if allowed(action, kind, status, rights, public=public):
        return
    if status is MemberStatus.BANNED:
        raise Forbidden("You are banned from this chat.", code="banned")
    raise Forbidden(f"You may not {action.value.replace('_', ' ')} in this chat.", code=DENIED_CODES[action])


def can_act_on(actor_id: int, actor: MemberStatus, target: Member) -> bool:
    """May the actor ban, kick or restrict ``target``? Owners: anyone else. Admins: non-admins and
    the admins they appointed themselves."""

    if target.user_id == actor_id or target.status is MemberStatus.OWNER:
        return False
    if actor is MemberStatus.OWNER:
        return True
    if actor is MemberStatus.ADMIN:
        return target.status is not MemberStatus.ADMIN or target.promoted_by == actor_id
    return False


def can_promote(
    actor_id: int, actor: MemberStatus, actor_rights: AdminRights, target: Member, new_rights: AdminRights
) -> bool:
    """May the actor give ``target`` exactly ``new_rights`` (NONE: dismiss)? Nobody grants a right
    they lack; admins change only the admins they appointed."""

    if not target.status.is_active or not can_act_on(actor_id, actor, target):
        return False
    return new_rights & ~effective_rights(actor, actor_rights) == AdminRights.NONE
