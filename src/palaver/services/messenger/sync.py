"""getDifference for the common box and getChannelDifference for a channel/supergroup box."""

from __future__ import annotations

from typing import Any

from palaver.domain.messenger.rights import Action
from palaver.domain.messenger.updates import (
    DifferenceKind,
    StoredUpdate,
    plan_difference,
    slice_state,
)
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput
from palaver.ports import Transaction
from palaver.services.messenger.access import load_access
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.serialize import message_json
from palaver.services.messenger.staging import channel_topic


class SyncService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def state(self, principal: Principal) -> dict[str, Any]:
        async with self._d.storage.reading() as tx:
            pts, _ = await tx.updates.common_state(principal.user_id)
        return {"pts": pts, "date": self._d.clock.now()}

    async def difference(self, principal: Principal, pts: int, *, limit: int | None = None) -> dict[str, Any]:
        """The common-box updates after ``pts``: ``empty``, a ``slice`` (``final`` false: call again
        from the returned pts) or ``too_long`` (reload dialogs, then continue from the returned pts)."""
        user_id = principal.user_id
        async with self._d.storage.reading() as tx:
            box_pts, floor = await tx.updates.common_state(user_id)
            plan = plan_difference(
                pts,
                box_pts,
                floor_pts=floor,
                limit=limit or self._d.policy.difference_limit,
                too_long_after=self._d.policy.too_long_after,
            )
            rows: list[StoredUpdate] = []
            if plan.kind is DifferenceKind.SLICE:
                rows = await tx.updates.common_after(user_id, plan.from_pts, limit=plan.limit)
                rows = [r for r in rows if r.pts <= box_pts]  # committed after box_pts was read
            updates = await _hydrate(tx, rows, viewer_id=user_id)
        return _answer(plan.kind, box_pts, rows, updates, plan.limit)

    async def channel_difference(
        self, principal: Principal, chat_id: int, pts: int, *, limit: int | None = None
    ) -> dict[str, Any]:
        user_id = principal.user_id
        async with self._d.storage.reading() as tx:
            access = await load_access(tx, chat_id, user_id, self._d.clock.now())
            access.require(Action.READ)
            if not access.chat.kind.has_channel_box:
                raise InvalidInput("This chat has no box of its own; use getDifference.", code="not_a_channel")
            box_pts = access.chat.pts
            plan = plan_difference(
                pts,
                box_pts,
                floor_pts=0,
                limit=limit or self._d.policy.difference_limit,
                too_long_after=self._d.policy.too_long_after,
            )
            rows: list[StoredUpdate] = []
            if plan.kind is DifferenceKind.SLICE:
                rows = await tx.updates.channel_after(chat_id, plan.from_pts, limit=plan.limit)
                rows = [r for r in rows if r.pts <= box_pts]
            updates = await _hydrate(tx, rows, viewer_id=user_id if access.is_active else None)
        return _answer(plan.kind, box_pts, rows, updates, plan.limit)

    async def channel_topics_for(self, user_id: int) -> list[str]:
        """The broker topics (``channel:<id>``) a gateway subscribes a connection of this user to."""
        async with self._d.storage.reading() as tx:
            return [channel_topic(chat_id) for chat_id in await tx.members.channel_ids(user_id)]


def _answer(
    kind: DifferenceKind, box_pts: int, rows: list[StoredUpdate], updates: list[dict[str, Any]], limit: int
) -> dict[str, Any]:
    if kind is not DifferenceKind.SLICE:
        return {"kind": kind.value, "pts": box_pts, "final": True, "updates": []}
    pts, final = slice_state(box_pts, rows[-1].pts if rows else None, full=len(rows) >= limit)
    return {"kind": kind.value, "pts": pts, "final": final, "updates": updates}


async def _hydrate(tx: Transaction, rows: list[StoredUpdate], *, viewer_id: int | None) -> list[dict[str, Any]]:
    """Updates as clients see them; message updates carry the message's current state, and are
    left out when the message is gone or deleted for the viewer (a later update says so)."""
    keys = [(r.chat_id, r.msg_id) for r in rows if r.kind.carries_message and r.msg_id is not None]
    found = await tx.messages.get_by_keys(keys) if keys else {}
    hidden = await tx.messages.hidden_among(viewer_id, keys) if keys and viewer_id is not None else set()
    result = []
    for row in rows:
        if row.kind.carries_message:
            key = (row.chat_id, row.msg_id or 0)
            message = found.get(key)
            if message is None or key in hidden:
                continue
            payload: dict[str, Any] = {"type": row.kind.value, "message": message_json(message)}
        else:
            payload = {"type": row.kind.value, **(row.data or {})}
        result.append({"pts": row.pts, "pts_count": row.pts_count, "update": payload})
    return result
