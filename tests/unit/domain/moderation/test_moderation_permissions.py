from __future__ import annotations

import pytest

from palaver.domain.accounts import Role
from palaver.domain.moderation import ConsoleAction, authorize
from palaver.errors import Forbidden

ME, OTHER = 1, 2


def code(role: Role, action: ConsoleAction, *, target: int | None = None, target_role: Role | None = None) -> str:
    try:
        authorize(role, action, actor_id=ME, target_user_id=target, target_role=target_role)
    except Forbidden as exc:
        return exc.code
    return "ok"


@pytest.mark.parametrize("action", list(ConsoleAction))
def test_users_may_do_nothing(action: ConsoleAction) -> None:
    assert code(Role.USER, action) == "forbidden"
    assert code(Role.USER, action, target=OTHER, target_role=Role.USER) == "forbidden"


@pytest.mark.parametrize("action", list(ConsoleAction))
def test_admins_may_do_everything_to_others(action: ConsoleAction) -> None:
    assert code(Role.ADMIN, action) == "ok"
    assert code(Role.ADMIN, action, target=OTHER, target_role=Role.ADMIN) == "ok"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (ConsoleAction.VIEW, "ok"),
        (ConsoleAction.VIEW_AUDIT, "admin_only"),
        (ConsoleAction.DISMISS, "ok"),
        (ConsoleAction.BAN, "ok"),
        (ConsoleAction.BAN_INDEFINITELY, "admin_only"),
        (ConsoleAction.LIFT, "ok"),
        (ConsoleAction.ADJUST, "ok"),
        (ConsoleAction.ADJUST_INDEFINITELY, "admin_only"),
        (ConsoleAction.DECIDE_APPEAL, "ok"),
    ],
)
def test_moderators(action: ConsoleAction, expected: str) -> None:
    assert code(Role.MODERATOR, action, target=OTHER, target_role=Role.USER) == expected
    assert code(Role.MODERATOR, action, target=OTHER, target_role=Role.MODERATOR) == expected


@pytest.mark.parametrize("action", [a for a in ConsoleAction if a not in (ConsoleAction.VIEW_AUDIT,)])
def test_moderators_never_act_on_their_own_case_or_against_an_admin(action: ConsoleAction) -> None:
    indefinite = action in (ConsoleAction.BAN_INDEFINITELY, ConsoleAction.ADJUST_INDEFINITELY)
    expected_own = "admin_only" if indefinite else "forbidden"
    assert code(Role.MODERATOR, action, target=ME, target_role=Role.MODERATOR) == expected_own
    assert code(Role.MODERATOR, action, target=OTHER, target_role=Role.ADMIN) == expected_own


def test_admins_lift_their_own_ban_but_do_not_ban_themselves() -> None:
    assert code(Role.ADMIN, ConsoleAction.LIFT, target=ME, target_role=Role.ADMIN) == "ok"
    assert code(Role.ADMIN, ConsoleAction.BAN, target=ME, target_role=Role.ADMIN) == "forbidden"
