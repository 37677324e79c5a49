"""SQL repository for update boxes: per-user common boxes and per-chat channel boxes.

pts allocation is atomic in the database: ``UPDATE … SET pts = pts + n`` keeps the box row locked
until commit, so on PostgreSQL concurrent writers to one box queue up, commit in pts order, and
readers never see a later update before an earlier one. Common boxes are locked in user id order
(``SELECT … ORDER BY user_id FOR UPDATE``) so two transactions never deadlock on them, then advanced
in one statement whatever their number (``messenger_sql.HotSql.advance_boxes``); the updates are
written with the transaction's other deferred rows (``write_behind``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import insert_ignoring_conflicts
from palaver.adapters.storage.messenger_rows import dump_json, load_json
from palaver.adapters.storage.tables_messenger import channel_updates, common_updates, user_boxes
from palaver.adapters.storage.write_behind import TxState
from palaver.domain.messenger.updates import StoredUpdate, UpdateType


class SqlUpdateRepository:
    def __init__(self, conn: AsyncConnection, state: TxState) -> None:
        self._conn = conn
        self._state = state

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
        """Advance each user's common box by its count; returns each box's new pts. One group
        commit calls this once for all its writes."""
        if not counts:
            return {}
        state = self._state
        result = await state.sql.advance_boxes(state.driver, counts)
        missing = counts.keys() - result.keys()
        if missing:
            raise LookupError(f"no common box for users {sorted(missing)}")
        return result

    async def insert_common(self, items: list[StoredUpdate]) -> None:
        """Deferred, like new messages: written with them, before any other statement or the commit."""
        rows = [
            (u.owner_id, u.pts, u.pts_count, u.kind.value, u.chat_id, u.msg_id, dump_json(u.data), u.date)
            for u in items
        ]
        self._state.add_updates(rows, [])

    async def insert_channel(self, items: list[StoredUpdate]) -> None:
        rows = [(u.owner_id, u.pts, u.pts_count, u.kind.value, u.msg_id, dump_json(u.data), u.date) for u in items]
        self._state.add_updates([], rows)

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
