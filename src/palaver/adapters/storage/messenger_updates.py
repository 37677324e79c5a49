"""SQL repository for update boxes: per-user common boxes and per-chat channel boxes.

pts allocation is atomic in the database: ``UPDATE … SET pts = pts + n … RETURNING pts`` keeps the
box row locked until commit, so on PostgreSQL concurrent writers to one box queue up, commit in pts
order, and readers never see a later update before an earlier one. Common boxes are locked in user
id order (``SELECT … ORDER BY user_id FOR UPDATE``) so two transactions never deadlock on them.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import insert_ignoring_conflicts, needs_row_locks
from palaver.adapters.storage.messenger_rows import dump_json, load_json
from palaver.adapters.storage.tables_messenger import channel_updates, common_updates, user_boxes
from palaver.domain.messenger.updates import StoredUpdate, UpdateType

_ADVANCE = (
    update(user_boxes)
    .where(user_boxes.c.user_id.in_(bindparam("owners", expanding=True)))
    .values(pts=user_boxes.c.pts + bindparam("step"))
    .returning(user_boxes.c.user_id, user_boxes.c.pts)
)


class SqlUpdateRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def ensure_common_boxes(self, user_ids: list[int]) -> None:
        rows = [{"user_id": uid, "pts": 0, "floor_pts": 0} for uid in sorted(set(user_ids))]
        if rows:
            await self._conn.execute(insert_ignoring_conflicts(self._conn.dialect.name, user_boxes), rows)

    async def common_state(self, user_id: int) -> tuple[int, int]:
        """``(pts, floor_pts)`` of a user's common box (0, 0 when it has none yet)."""
        query = select(user_boxes.c.pts, user_boxes.c.floor_pts).where(user_boxes.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return (int(row.pts), int(row.floor_pts)) if row else (0, 0)

    async def allocate_common(self, counts: dict[int, int]) -> dict[int, int]:
        """Advance each user's common box by its count; returns each box's new pts."""
        users = sorted(counts)
        if not users:
            return {}
        if needs_row_locks(self._conn.dialect.name):
            lock = select(user_boxes.c.user_id).where(user_boxes.c.user_id.in_(users))
            await self._conn.execute(lock.order_by(user_boxes.c.user_id).with_for_update())
        by_count: dict[int, list[int]] = defaultdict(list)
        for user_id in users:
            by_count[counts[user_id]].append(user_id)
        result: dict[int, int] = {}
        for count, group in sorted(by_count.items()):
            rows = await self._conn.execute(_ADVANCE, {"owners": group, "step": count})
            result.update({int(r.user_id): int(r.pts) for r in rows})
        missing = set(users) - result.keys()
        if missing:
            raise LookupError(f"no common box for users {sorted(missing)}")
        return result

    async def insert_common(self, items: list[StoredUpdate]) -> None:
        if items:
            await self._conn.execute(
                common_updates.insert(),
                [
                    {
                        "user_id": u.owner_id,
                        "pts": u.pts,
                        "pts_count": u.pts_count,
                        "kind": u.kind.value,
                        "chat_id": u.chat_id,
                        "msg_id": u.msg_id,
                        "data": dump_json(u.data),
                        "date": u.date,
                    }
                    for u in items
                ],
            )

    async def insert_channel(self, items: list[StoredUpdate]) -> None:
        if items:
            await self._conn.execute(
                channel_updates.insert(),
                [
                    {
                        "chat_id": u.owner_id,
                        "pts": u.pts,
                        "pts_count": u.pts_count,
                        "kind": u.kind.value,
                        "msg_id": u.msg_id,
                        "data": dump_json(u.data),
                        "date": u.date,
                    }
                    for u in items
                ],
            )

    async def common_after(self, user_id: int, pts: int, *, limit: int) -> list[StoredUpdate]:
        query = (
            select(common_updates)
            .where(common_updates.c.user_id == user_id, common_updates.c.pts > pts)
            .order_by(common_updates.c.pts)
            .limit(limit)
        )
        return [
            StoredUpdate(
                r.user_id, r.pts, r.pts_count, UpdateType(r.kind), r.chat_id, r.msg_id, load_json(r.data), r.date
            )
            for r in await self._conn.execute(query)
        ]

    async def channel_after(self, chat_id: int, pts: int, *, limit: int) -> list[StoredUpdate]:
        query = (
            select(channel_updates)
            .where(channel_updates.c.chat_id == chat_id, channel_updates.c.pts > pts)
            .order_by(channel_updates.c.pts)
            .limit(limit)
        )
        return [
            StoredUpdate(
                r.chat_id, r.pts, r.pts_count, UpdateType(r.kind), r.chat_id, r.msg_id, load_json(r.data), r.date
            )
            for r in await self._conn.execute(query)
        ]
