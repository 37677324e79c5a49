"""SQL repositories for flagged frames (evidence), the audit log and persistent Roulette blocks."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import insert_ignoring_conflicts
from palaver.adapters.storage.tables_moderation import audit_log, flagged_frames, roulette_blocks
from palaver.domain.moderation.audit import AuditAction, AuditEntry
from palaver.domain.moderation.frames import FlaggedFrame
from palaver.domain.moderation.review import ReviewState

_FRAME_COLUMNS = (
    flagged_frames.c.id,
    flagged_frames.c.user_id,
    flagged_frames.c.pair_id,
    flagged_frames.c.score,
    flagged_frames.c.created_at,
    flagged_frames.c.state,
    flagged_frames.c.purged_at,
)


def _to_frame(row: Any) -> FlaggedFrame:
    return FlaggedFrame(
        id=row.id,
        user_id=row.user_id,
        pair_id=row.pair_id,
        score=row.score,
        created_at=row.created_at,
        state=ReviewState(row.state),
        purged_at=row.purged_at,
    )


class SqlFlaggedFrameRepository:
    """Frames and their images; the image is read only when asked for (``image``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, frame: FlaggedFrame, image: bytes) -> None:
        await self._conn.execute(
            flagged_frames.insert().values(
                id=frame.id,
                user_id=frame.user_id,
                pair_id=frame.pair_id,
                score=frame.score,
                created_at=frame.created_at,
                state=frame.state.value,
                image=image,
                purged_at=frame.purged_at,
            )
        )

    async def get(self, frame_id: int) -> FlaggedFrame | None:
        row = (await self._conn.execute(select(*_FRAME_COLUMNS).where(flagged_frames.c.id == frame_id))).first()
        return _to_frame(row) if row else None

    async def image(self, frame_id: int) -> bytes | None:
        """The JPEG bytes; None when the frame does not exist or its image was purged."""
        query = select(flagged_frames.c.image).where(flagged_frames.c.id == frame_id)
        value = (await self._conn.execute(query)).scalar_one_or_none()
        return bytes(value) if value is not None else None

    async def list(self, *, state: ReviewState | None, limit: int, before: int | None) -> list[FlaggedFrame]:
        query = select(*_FRAME_COLUMNS).order_by(flagged_frames.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(flagged_frames.c.state == state.value)
        if before is not None:
            query = query.where(flagged_frames.c.id < before)
        return [_to_frame(row) for row in await self._conn.execute(query)]

    async def set_state(self, frame_id: int, state: ReviewState) -> None:
        await self._conn.execute(
            update(flagged_frames).where(flagged_frames.c.id == frame_id).values(state=state.value)
        )

    async def purge(self, *, flagged_before: float, now: float) -> int:
        """Delete the images of frames flagged before ``flagged_before``; the rows stay. The count."""
        result = await self._conn.execute(
            update(flagged_frames)
            .where(flagged_frames.c.created_at < flagged_before, flagged_frames.c.purged_at.is_(None))
            .values(image=None, purged_at=now)
        )
        return int(result.rowcount)

    async def count_with_images(self) -> int:
        query = select(func.count()).select_from(flagged_frames).where(flagged_frames.c.image.is_not(None))
        return int((await self._conn.execute(query)).scalar_one())


class SqlAuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, entry: AuditEntry) -> None:
        await self._conn.execute(
            audit_log.insert().values(
                id=entry.id,
                actor_id=entry.actor_id,
                action=entry.action.value,
                target_user_id=entry.target_user_id,
                target_id=entry.target_id,
                details=json.dumps(dict(entry.details), sort_keys=True, separators=(",", ":")),
                created_at=entry.created_at,
            )
        )

    async def list(self, *, limit: int, before: int | None) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        return [
            AuditEntry(
                id=row.id,
                actor_id=row.actor_id,
                action=AuditAction(row.action),
                target_user_id=row.target_user_id,
                target_id=row.target_id,
                created_at=row.created_at,
                details=json.loads(row.details),
            )
            for row in await self._conn.execute(query)
        ]


class SqlRouletteBlockRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, user_id: int, other_user_id: int, *, now: float) -> None:
        """``user_id`` never wants to meet ``other_user_id`` again. Idempotent."""
        statement = insert_ignoring_conflicts(self._conn.dialect.name, roulette_blocks).values(
            user_id=user_id, other_user_id=other_user_id, created_at=now
        )
        await self._conn.execute(statement)

    async def all(self) -> list[tuple[int, int]]:
        query = select(roulette_blocks.c.user_id, roulette_blocks.c.other_user_id).order_by(
            roulette_blocks.c.user_id, roulette_blocks.c.other_user_id
        )
        return [(row.user_id, row.other_user_id) for row in await self._conn.execute(query)]
