"""Who may do what in the moderation console.

* Users: nothing (``forbidden``).
* Moderators: read the queues, dismiss, ban for a time, lift, shorten or extend to a time, decide
  appeals — but never on their own case (their own ban, appeal, or reports and frames about them),
  and never against an admin (``forbidden``). Indefinite bans and the audit log are for admins
  (``admin_only``).
* Admins: everything, except banning themselves.
"""

from __future__ import annotations

from enum import StrEnum

from palaver.domain.accounts import Role
from palaver.errors import Forbidden


class ConsoleAction(StrEnum):
    VIEW = "view"  # the queues: reports, frames (and their images), bans, appeals
    VIEW_AUDIT = "view_audit"
    DISMISS = "dismiss"  # a report or a flagged frame
    BAN = "ban"  # for a given time
    BAN_INDEFINITELY = "ban_indefinitely"
    LIFT = "lift"
    ADJUST = "adjust"  # shorten or extend to a given time
    ADJUST_INDEFINITELY = "adjust_indefinitely"
    DECIDE_APPEAL = "decide_appeal"


ADMIN_ONLY = frozenset({ConsoleAction.VIEW_AUDIT, ConsoleAction.BAN_INDEFINITELY, ConsoleAction.ADJUST_INDEFINITELY})
BANNING = frozenset({ConsoleAction.BAN, ConsoleAction.BAN_INDEFINITELY})


def authorize(
    role: Role,
    action: ConsoleAction,
    *,
    actor_id: int,
    target_user_id: int | None = None,
    target_role: Role | None = None,
) -> None:
    """Raise ``Forbidden`` unless ``role`` (acting as ``actor_id``) may do ``action`` to the case of
    ``target_user_id`` (whose role is ``target_role``)."""
    if not role.at_least(Role.MODERATOR):
        raise Forbidden("Only moderators and admins use the moderation console.", code="forbidden")
    if action in ADMIN_ONLY and role is not Role.ADMIN:
        raise Forbidden("Only admins may do this.", code="admin_only")
    if target_user_id is None:
        return
    if target_user_id == actor_id and (role is not Role.ADMIN or action in BANNING):
        raise Forbidden("You cannot act on your own case.", code="forbidden")
    if role is not Role.ADMIN and target_role is Role.ADMIN:
        raise Forbidden("Moderators cannot act against an admin.", code="forbidden")
