"""Box updates staged by one write: pts are allocated at the end of the write (after every other
row it touches, so lock order is always the same), rows stored, and the event frames built to be
published after the commit.

The event published for a box update is ``Event(topic, "update", {"box", "pts", "pts_count",
"update"})`` on ``user:<id>`` (common box) or ``channel:<chat_id>`` (channel box); the update itself
is encoded once (``msgspec.Raw``) however many boxes get it. A group commit flushes the updates of
all its writes together (``flush_all``): one pts allocation and one insert for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from palaver.domain.messenger.chats import Chat
from palaver.domain.messenger.updates import StoredUpdate, UpdateType, channel_box, common_box
from palaver.ports import Transaction
from palaver.services.events import Event, user_topic

UPDATE_EVENT = "update"
COMMON_BOX = common_box()
_encode = msgspec.json.Encoder().encode


def channel_topic(chat_id: int) -> str:
    return f"channel:{chat_id}"


@dataclass(frozen=True, slots=True)
class _Pending:
    """One update to one or more boxes of the same kind (the members of a group get the same one)."""

    owners: tuple[int, ...]  # users (common boxes) or the chat (its channel box)
    kind: UpdateType
    chat_id: int
    msg_id: int | None
    payload: dict[str, Any]  # the update as clients see it (with "type")
    count: int


def _stored_data(kind: UpdateType, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What is kept in the box row: message updates only reference the message."""
    if kind.carries_message:
        return None
    return {k: v for k, v in payload.items() if k != "type"}


@dataclass
class Staged:
    """Collects the box updates of one write operation."""

    now: float
    common: list[_Pending] = field(default_factory=list)
    channel: list[_Pending] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # other events, published after the box updates

    def to_users(
        self,
        user_ids: list[int] | tuple[int, ...],
        kind: UpdateType,
        chat_id: int,
        payload: dict[str, Any],
        *,
        msg_id: int | None = None,
        count: int = 1,
    ) -> None:
        if count < 1:
            raise ValueError("every update takes at least one pts")
        if user_ids:
            self.common.append(_Pending(tuple(user_ids), kind, chat_id, msg_id, {"type": kind.value, **payload}, count))

    def to_channel(
        self, chat_id: int, kind: UpdateType, payload: dict[str, Any], *, msg_id: int | None = None, count: int = 1
    ) -> None:
        if count < 1:
            raise ValueError("every update takes at least one pts")
        self.channel.append(_Pending((chat_id,), kind, chat_id, msg_id, {"type": kind.value, **payload}, count))

    def to_chat(
        self,
        chat: Chat,
        members: list[int] | tuple[int, ...],
        kind: UpdateType,
        payload: dict[str, Any],
        *,
        msg_id: int | None = None,
        count: int = 1,
    ) -> None:
        """To the chat's own box (supergroups, channels) or to every member's common box."""
        if chat.kind.has_channel_box:
            self.to_channel(chat.id, kind, payload, msg_id=msg_id, count=count)
        else:
            self.to_users(members, kind, chat.id, payload, msg_id=msg_id, count=count)

    async def flush(self, tx: Transaction) -> list[Event]:
        """Allocate pts, store the updates, and return the events to publish after the commit."""
        return (await flush_all(tx, [self]))[0]


def _totals(batch: Sequence[Staged], box: str) -> dict[int, int]:
    totals: dict[int, int] = {}
    for staged in batch:
        for pending in getattr(staged, box):
            for owner in pending.owners:
                totals[owner] = totals.get(owner, 0) + pending.count
    return totals


async def flush_all(tx: Transaction, batch: Sequence[Staged]) -> list[list[Event]]:
    """The box updates of several writes (in their order), with one pts allocation for all common
    boxes and one per channel box; returns each write's events, to publish after the commit.

    pts of a box are handed out in write order, then in staging order within a write, exactly as
    if every write had been flushed alone one after the other."""
    events: list[list[Event]] = [[] for _ in batch]
    totals = _totals(batch, "common")
    if totals:
        after = await tx.updates.allocate_common(totals)
        rows = _assign(batch, "common", {owner: after[owner] - totals[owner] for owner in totals}, events)
        await tx.updates.insert_common(rows)
    totals = _totals(batch, "channel")
    if totals:
        before = {}
        for chat_id in sorted(totals):  # lock order: chat ids ascending
            _, pts = await tx.chats.allocate(chat_id, messages=0, pts=totals[chat_id], date=None)
            before[chat_id] = pts - totals[chat_id]
        rows = _assign(batch, "channel", before, events)
        await tx.updates.insert_channel(rows)
    for index, staged in enumerate(batch):
        events[index] += staged.events
    return events


def _assign(batch: Sequence[Staged], box: str, pts_of: dict[int, int], events: list[list[Event]]) -> list[StoredUpdate]:
    """Give every staged update of ``box`` its pts (``pts_of``: each box's pts before the batch,
    advanced here), build its rows and append its events."""
    rows: list[StoredUpdate] = []
    common = box == "common"
    for staged, out in zip(batch, events, strict=True):
        for pending in getattr(staged, box):
            data = _stored_data(pending.kind, pending.payload)
            update = msgspec.Raw(_encode(pending.payload))  # encoded once for all its boxes
            count = pending.count
            for owner in pending.owners:
                pts = pts_of[owner] = pts_of[owner] + count
                rows.append(
                    StoredUpdate(owner, pts, count, pending.kind, pending.chat_id, pending.msg_id, data, staged.now)
                )
                topic, box_name = (
                    (user_topic(owner), COMMON_BOX) if common else (channel_topic(owner), channel_box(owner))
                )
                out.append(
                    Event(topic, UPDATE_EVENT, {"box": box_name, "pts": pts, "pts_count": count, "update": update})
                )
    return rows
