"""The authorization matrix: every action × every role, for each kind of chat."""

from __future__ import annotations

import pytest

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.rights import (
    Action,
    allowed,
    can_act_on,
    can_promote,
    require,
    rights_for_kind,
    rights_from_names,
    rights_to_names,
)
from palaver.domain.messenger.roles import ALL_RIGHTS, AdminRights, MemberStatus
from palaver.errors import Forbidden, InvalidInput

R = AdminRights
ROLES = ("owner", "admin+", "admin-", "member", "restricted", "banned", "none")

# The right that decides an action for admins (None: no right involved, admins act as members).
RIGHT: dict[tuple[Action, ChatKind], AdminRights] = {
    (Action.SEND, ChatKind.CHANNEL): R.POST_MESSAGES,
    (Action.EDIT_OWN, ChatKind.CHANNEL): R.POST_MESSAGES,
    (Action.DELETE_OWN, ChatKind.CHANNEL): R.POST_MESSAGES | R.DELETE_MESSAGES,
    (Action.POST_ANONYMOUSLY, ChatKind.CHANNEL): R.POST_MESSAGES,
    (Action.POST_ANONYMOUSLY, ChatKind.SUPERGROUP): R.ANONYMOUS,
    (Action.POST_ANONYMOUSLY, ChatKind.GROUP): R.ANONYMOUS,
}
GENERIC_RIGHT = {
    Action.EDIT_OTHERS: R.EDIT_MESSAGES,
    Action.DELETE_OTHERS: R.DELETE_MESSAGES,
    Action.PIN: R.PIN_MESSAGES,
    Action.CHANGE_INFO: R.CHANGE_INFO,
    Action.INVITE: R.INVITE_USERS,
    Action.BAN: R.BAN_USERS,
    Action.PROMOTE: R.ADD_ADMINS,
}

#               owner admin+ admin- member restricted banned none
GROUP = {
    Action.READ: "YYYYYNN",
    Action.SEND: "YYYYNNN",
    Action.REACT: "YYYYNNN",
    Action.EDIT_OWN: "YYYYNNN",
    Action.EDIT_OTHERS: "NNNNNNN",
    Action.DELETE_OWN: "YYYYYNN",
    Action.DELETE_OTHERS: "YYNNNNN",
    Action.PIN: "YYNNNNN",
    Action.CHANGE_INFO: "YYNNNNN",
    Action.INVITE: "YYNNNNN",
    Action.BAN: "YYNNNNN",
    Action.PROMOTE: "YYNNNNN",
    Action.UPGRADE: "YNNNNNN",
    Action.POST_ANONYMOUSLY: "NNNNNNN",
    Action.JOIN: "NNNNNNN",
    Action.LEAVE: "NYYYYNN",
    Action.VIEW_MEMBERS: "YYYYYNN",
    Action.MANAGE_DIALOG: "YYYYYNN",
}
PUBLIC_SUPERGROUP = {
    **GROUP,
    Action.READ: "YYYYYNY",
    Action.UPGRADE: "NNNNNNN",
    Action.POST_ANONYMOUSLY: "YYNNNNN",
    Action.JOIN: "NNNNNNY",
}
PRIVATE_SUPERGROUP = {**PUBLIC_SUPERGROUP, Action.READ: "YYYYYNN", Action.JOIN: "NNNNNNN"}
PUBLIC_CHANNEL = {
    **PUBLIC_SUPERGROUP,
    Action.SEND: "YYNNNNN",
    Action.EDIT_OWN: "YYNNNNN",
    Action.EDIT_OTHERS: "YYNNNNN",
    Action.DELETE_OWN: "YYNNNNN",
    Action.VIEW_MEMBERS: "YYYNNNN",  # any admin, no right needed
}
PRIVATE_CHANNEL = {**PUBLIC_CHANNEL, Action.READ: "YYYYYNN", Action.JOIN: "NNNNNNN"}
PARTICIPANT = {
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

MATRICES = [
    (ChatKind.GROUP, False, GROUP),
    (ChatKind.SUPERGROUP, True, PUBLIC_SUPERGROUP),
    (ChatKind.SUPERGROUP, False, PRIVATE_SUPERGROUP),
    (ChatKind.CHANNEL, True, PUBLIC_CHANNEL),
    (ChatKind.CHANNEL, False, PRIVATE_CHANNEL),
]


def role(name: str, action: Action, kind: ChatKind) -> tuple[MemberStatus, AdminRights]:
    right = RIGHT.get((action, kind), GENERIC_RIGHT.get(action))
    if name == "owner":
        return MemberStatus.OWNER, R.NONE
    if name == "admin+":
        return MemberStatus.ADMIN, right if right is not None else ALL_RIGHTS
    if name == "admin-":
        return MemberStatus.ADMIN, (ALL_RIGHTS & ~right) if right is not None else R.NONE
    status = {
        "member": MemberStatus.MEMBER,
        "restricted": MemberStatus.RESTRICTED,
        "banned": MemberStatus.BANNED,
        "none": MemberStatus.LEFT,
    }[name]
    return status, R.NONE


CASES = [
    pytest.param(
        kind, public, action, name, row[i] == "Y", id=f"{kind}-{'public' if public else 'private'}-{action}-{name}"
    )
    for kind, public, matrix in MATRICES
    for action, row in matrix.items()
    for i, name in enumerate(ROLES)
]


def test_every_action_is_in_every_matrix() -> None:
    for _, _, matrix in MATRICES:
        assert set(matrix) == set(Action)


@pytest.mark.parametrize(("kind", "public", "action", "name", "expected"), CASES)
def test_matrix(kind: ChatKind, public: bool, action: Action, name: str, expected: bool) -> None:
    status, rights = role(name, action, kind)
    assert allowed(action, kind, status, rights, public=public) is expected
    if expected:
        require(action, kind, status, rights, public=public)
    else:
        with pytest.raises(Forbidden) as denied:
            require(action, kind, status, rights, public=public)
        assert denied.value.code == ("banned" if status is MemberStatus.BANNED else denied.value.code)
        assert denied.value.code


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", [MemberStatus.MEMBER, MemberStatus.LEFT])
def test_private_chats(action: Action, status: MemberStatus) -> None:
    expected = status is MemberStatus.MEMBER and action in PARTICIPANT
    assert allowed(action, ChatKind.PRIVATE, status, R.NONE, public=False) is expected


def test_denial_codes_are_stable() -> None:
    with pytest.raises(Forbidden) as caught:
        require(Action.SEND, ChatKind.CHANNEL, MemberStatus.MEMBER, R.NONE, public=True)
    assert caught.value.code == "cannot_send"
    with pytest.raises(Forbidden) as banned:
        require(Action.READ, ChatKind.CHANNEL, MemberStatus.BANNED, R.NONE, public=True)
    assert banned.value.code == "banned"


def member(user_id: int, status: MemberStatus, promoted_by: int | None = None) -> Member:
    return Member(chat_id=1, user_id=user_id, status=status, joined_at=0.0, promoted_by=promoted_by)


def test_who_may_act_on_whom() -> None:
    owner, admin, other_admin = 1, 2, 3
    assert can_act_on(owner, MemberStatus.OWNER, member(admin, MemberStatus.ADMIN))
    assert not can_act_on(owner, MemberStatus.OWNER, member(owner, MemberStatus.OWNER))
    assert can_act_on(admin, MemberStatus.ADMIN, member(9, MemberStatus.MEMBER))
    assert not can_act_on(admin, MemberStatus.ADMIN, member(other_admin, MemberStatus.ADMIN, promoted_by=owner))
    assert can_act_on(admin, MemberStatus.ADMIN, member(other_admin, MemberStatus.ADMIN, promoted_by=admin))
    assert not can_act_on(admin, MemberStatus.ADMIN, member(owner, MemberStatus.OWNER))
    assert not can_act_on(9, MemberStatus.MEMBER, member(8, MemberStatus.MEMBER))


def test_nobody_grants_a_right_they_lack() -> None:
    actor_rights = R.ADD_ADMINS | R.PIN_MESSAGES
    target = member(5, MemberStatus.MEMBER)
    assert can_promote(2, MemberStatus.ADMIN, actor_rights, target, R.PIN_MESSAGES)
    assert not can_promote(2, MemberStatus.ADMIN, actor_rights, target, R.BAN_USERS)
    assert can_promote(1, MemberStatus.OWNER, R.NONE, target, ALL_RIGHTS)
    assert not can_promote(1, MemberStatus.OWNER, R.NONE, member(5, MemberStatus.LEFT), R.PIN_MESSAGES)


def test_rights_names_round_trip_and_kinds() -> None:
    rights = rights_from_names(["pin_messages", "ban_users"])
    assert rights == R.PIN_MESSAGES | R.BAN_USERS
    assert rights_to_names(rights) == ["ban_users", "pin_messages"]
    with pytest.raises(InvalidInput):
        rights_from_names(["fly"])
    assert R.POST_MESSAGES not in rights_for_kind(ChatKind.SUPERGROUP)
    assert R.ANONYMOUS not in rights_for_kind(ChatKind.CHANNEL)
    assert rights_for_kind(ChatKind.PRIVATE) == R.NONE


def test_expired_bans_and_restrictions() -> None:
    banned = Member(1, 2, MemberStatus.BANNED, joined_at=0.0, until=100.0)
    assert banned.effective_status(99.0) is MemberStatus.BANNED
    assert banned.effective_status(100.0) is MemberStatus.LEFT
    restricted = Member(1, 2, MemberStatus.RESTRICTED, joined_at=0.0, until=100.0)
    assert restricted.effective_status(150.0) is MemberStatus.MEMBER
    forever = Member(1, 2, MemberStatus.BANNED, joined_at=0.0)
    assert forever.effective_status(1e12) is MemberStatus.BANNED
