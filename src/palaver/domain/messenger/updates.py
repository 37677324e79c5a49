"""Update boxes and pts arithmetic (Telegram's model).

Every update belongs to a box: the common box of a user (private chats and basic groups, plus the
user's own dialog state for every chat) or the box of one supergroup/channel. A box has a counter
``pts``; an update takes ``pts_count`` consecutive values and carries the last one. So the updates
of a box, in order, satisfy ``pts[i] - pts_count[i] == pts[i-1]``: a client holding ``local`` knows
exactly whether an update applies next, was seen already, or whether something is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_DIFFERENCE_LIMIT = 100
MAX_DIFFERENCE_LIMIT = 1000


class UpdateType(StrEnum):
    NEW_MESSAGE = "new_message"
    EDIT_MESSAGE = "edit_message"
    DELETE_MESSAGES = "delete_messages"  # pts_count == number of ids
    MESSAGE_REACTIONS = "message_reactions"
    PINNED_MESSAGE = "pinned_message"
    READ_INBOX = "read_inbox"  # common box: I read up to max_id
    READ_OUTBOX = "read_outbox"  # common box: my messages up to max_id were read
    DRAFT = "draft"  # common box
    DIALOG_PINNED = "dialog_pinned"  # common box
    CHAT = "chat"  # chat info or my membership changed; common box for my membership, else the chat's box
    CHAT_LEFT = "chat_left"  # common box: I am no longer a member (left, kicked, banned)
    CHAT_UPGRADED = "chat_upgraded"  # common box: a basic group became a supergroup

    @property
    def carries_message(self) -> bool:
        """Stored as a reference and filled with the message's current state when read back."""
        return self in (UpdateType.NEW_MESSAGE, UpdateType.EDIT_MESSAGE)


class PtsCheck(StrEnum):
    APPLY = "apply"
    ALREADY_SEEN = "already_seen"
    GAP = "gap"


def check_pts(local_pts: int, pts: int, pts_count: int) -> PtsCheck:
    """The client rule: ``local + pts_count == pts`` apply; ``>`` already seen; ``<`` a gap."""
    expected = local_pts + pts_count
    if expected == pts:
        return PtsCheck.APPLY
    return PtsCheck.ALREADY_SEEN if expected > pts else PtsCheck.GAP


def allocate(box_pts_after: int, counts: list[int]) -> list[int]:
    """Given a box counter already advanced by ``sum(counts)`` to ``box_pts_after``, the pts each
    update carries, in order."""
    pts = box_pts_after - sum(counts)
    result = []
    for count in counts:
        if count < 1:
            raise ValueError("every update takes at least one pts")
        pts += count
        result.append(pts)
    return result


class DifferenceKind(StrEnum):
    EMPTY = "empty"  # the client is up to date
    SLICE = "slice"  # updates from ``pts`` on; ``final`` tells whether more remain
    TOO_LONG = "too_long"  # too far behind (or from the future): reload, then continue from box pts


@dataclass(frozen=True, slots=True)
class DifferencePlan:
    kind: DifferenceKind
    from_pts: int = 0  # updates with pts > from_pts …
    limit: int = 0  # … at most this many


def plan_difference(
    client_pts: int, box_pts: int, *, floor_pts: int, limit: int, too_long_after: int
) -> DifferencePlan:
    """What ``getDifference`` answers. ``floor_pts``: the updates up to it were pruned."""
    if client_pts == box_pts:
        return DifferencePlan(DifferenceKind.EMPTY)
    if client_pts > box_pts or client_pts < floor_pts or box_pts - client_pts > too_long_after:
        return DifferencePlan(DifferenceKind.TOO_LONG)
    return DifferencePlan(DifferenceKind.SLICE, from_pts=client_pts, limit=max(1, min(limit, MAX_DIFFERENCE_LIMIT)))


def slice_state(box_pts: int, returned_last_pts: int | None, *, full: bool) -> tuple[int, bool]:
    """After reading a slice: the pts the client continues from and whether it is final.

    ``full`` says the read hit its limit (so more may remain)."""
    if returned_last_pts is None:
        return box_pts, True
    if full and returned_last_pts < box_pts:
        return returned_last_pts, False
    return box_pts, True


def common_box() -> str:
    return "common"


def channel_box(chat_id: int) -> str:
    return f"channel:{chat_id}"


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """One update as kept in a box: ``owner_id`` is the user (common box) or the chat (channel box).

    Message updates keep only ``(chat_id, msg_id)`` and are filled with the message when read back;
    the others keep their whole payload in ``data``."""

    owner_id: int
    pts: int
    pts_count: int
    kind: UpdateType
    chat_id: int
    msg_id: int | None
    data: dict[str, object] | None
    date: float
