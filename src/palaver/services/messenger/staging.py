"""Box updates staged by one write: pts are allocated at the end of the write (after every other
row it touches, so lock order is always the same), rows stored, and the event frames built to be
published after the commit.

The event published for a box update is ``Event(topic, "update", {"box", "pts", "pts_count",
"update"})`` on ``user:<id>`` (common box) or ``channel:<chat_id>`` (channel box).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from palaver.domain.messenger.chats import Chat
from palaver.domain.messenger.updates import StoredUpdate, UpdateType, allocate, channel_box, common_box
from palaver.ports import Transaction
from palaver.services.events import Event, user_topic

UPDATE_EVENT = "update"


def channel_topic(chat_id: int) -> str:
    return f"channel:{chat_id}"


@dataclass(frozen=True, slots=True)
class _Pending:
    owner_id: int  # user (common box) or chat (channel box)
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
        full = {"type": kind.value, **payload}
        for user_id in user_ids:
            self.common.append(_Pending(user_id, kind, chat_id, msg_id, full, count))

    def to_channel(
        self, chat_id: int, kind: UpdateType, payload: dict[str, Any], *, msg_id: int | None = None, count: int = 1
    ) -> None:
        self.channel.append(_Pending(chat_id, kind, chat_id, msg_id, {"type": kind.value, **payload}, count))

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
        events: list[Event] = []
        if self.common:
            totals: dict[int, int] = {}
            for pending in self.common:
                totals[pending.owner_id] = totals.get(pending.owner_id, 0) + pending.count
            after = await tx.updates.allocate_common(totals)
            rows = self._assign(self.common, after)
            await tx.updates.insert_common(rows)
            events += [
                _event(user_topic(r.owner_id), common_box(), r, p) for r, p in zip(rows, self.common, strict=True)
            ]
        if self.channel:
            totals = {}
            for pending in self.channel:
                totals[pending.owner_id] = totals.get(pending.owner_id, 0) + pending.count
            after = {}
            for chat_id in sorted(totals):
                _, after[chat_id] = await tx.chats.allocate(chat_id, messages=0, pts=totals[chat_id], date=None)
            rows = self._assign(self.channel, after)
            await tx.updates.insert_channel(rows)
            events += [
                _event(channel_topic(r.owner_id), channel_box(r.owner_id), r, p)
                for r, p in zip(rows, self.channel, strict=True)
            ]
        return events + self.events

    def _assign(self, pending: list[_Pending], after: dict[int, int]) -> list[StoredUpdate]:
        by_owner: dict[int, list[int]] = {}
        for index, item in enumerate(pending):
            by_owner.setdefault(item.owner_id, []).append(index)
        pts_of: dict[int, int] = {}
        for owner, indexes in by_owner.items():
            values = allocate(after[owner], [pending[i].count for i in indexes])
            pts_of.update(zip(indexes, values, strict=True))
        return [
            StoredUpdate(
                owner_id=item.owner_id,
                pts=pts_of[i],
                pts_count=item.count,
                kind=item.kind,
                chat_id=item.chat_id,
                msg_id=item.msg_id,
                data=_stored_data(item.kind, item.payload),
                date=self.now,
            )
            for i, item in enumerate(pending)
        ]


def _event(topic: str, box: str, row: StoredUpdate, pending: _Pending) -> Event:
    return Event(
        topic, UPDATE_EVENT, {"box": box, "pts": row.pts, "pts_count": row.pts_count, "update": pending.payload}
    )
