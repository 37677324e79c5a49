"""SQL repositories for reports, bans (with their subjects) and appeals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import is_unique_violation, needs_row_locks
from palaver.adapters.storage.tables import users
from palaver.adapters.storage.tables_moderation import appeals, ban_subjects, bans, reports
from palaver.domain.moderation.appeals import Appeal, AppealState
from palaver.domain.moderation.bans import Ban, BanReason
from palaver.domain.moderation.reports import Report, ReportReason
from palaver.domain.moderation.review import ReviewState
from palaver.domain.moderation.subjects import BanSubject, SubjectKind
from palaver.errors import Conflict


def _to_report(row: Any) -> Report:
    return Report(
        id=row.id,
        reporter_id=row.reporter_id,
        reported_id=row.reported_id,
        reason=ReportReason(row.reason),
        note=row.note,
        pair_id=row.pair_id,
        created_at=row.created_at,
        state=ReviewState(row.state),
    )


def _to_ban(row: Any) -> Ban:
    return Ban(
        id=row.id,
        user_id=row.user_id,
        reason=BanReason(row.reason),
        reason_text=row.reason_text,
        level=row.level,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
        lift_note=row.lift_note,
    )


def _to_appeal(row: Any) -> Appeal:
    return Appeal(
        id=row.id,
        ban_id=row.ban_id,
        user_id=row.user_id,
        text=row.text,
        created_at=row.created_at,
        state=AppealState(row.state),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_note=row.decision_note,
    )


class SqlReportRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, report: Report) -> None:
        await self._conn.execute(
            reports.insert().values(
                id=report.id,
                reporter_id=report.reporter_id,
                reported_id=report.reported_id,
                reason=report.reason.value,
                note=report.note,
                pair_id=report.pair_id,
                created_at=report.created_at,
                state=report.state.value,
            )
        )

    async def get(self, report_id: int) -> Report | None:
        row = (await self._conn.execute(select(reports).where(reports.c.id == report_id))).first()
        return _to_report(row) if row else None

    async def against(self, reported_id: int, *, since: float) -> list[Report]:
        query = (
            select(reports)
            .where(reports.c.reported_id == reported_id, reports.c.created_at >= since)
            .order_by(reports.c.created_at, reports.c.id)
        )
        return [_to_report(row) for row in await self._conn.execute(query)]

    async def list(self, *, state: ReviewState | None, limit: int, before: int | None) -> list[Report]:
        query = select(reports).order_by(reports.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(reports.c.state == state.value)
        if before is not None:
            query = query.where(reports.c.id < before)
        return [_to_report(row) for row in await self._conn.execute(query)]

    async def set_state(self, report_ids: Iterable[int], state: ReviewState) -> None:
        ids = sorted(set(report_ids))
        if ids:
            await self._conn.execute(update(reports).where(reports.c.id.in_(ids)).values(state=state.value))


class SqlBanRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock_user(self, user_id: int) -> None:
        """Serialise ban decisions about one person until commit (SQLite: the write lock does)."""
        if needs_row_locks(self._conn.dialect.name):
            await self._conn.execute(select(users.c.id).where(users.c.id == user_id).with_for_update())

    async def insert(self, ban: Ban, subjects: Sequence[BanSubject]) -> None:
        await self._conn.execute(
            bans.insert().values(
                id=ban.id,
                user_id=ban.user_id,
                reason=ban.reason.value,
                reason_text=ban.reason_text,
                level=ban.level,
                starts_at=ban.starts_at,
                ends_at=ban.ends_at,
                created_by=ban.created_by,
                lifted_at=ban.lifted_at,
                lifted_by=ban.lifted_by,
                lift_note=ban.lift_note,
            )
        )
        rows = [{"ban_id": ban.id, "kind": s.kind.value, "value": s.value} for s in sorted(set(subjects))]
        if rows:
            await self._conn.execute(ban_subjects.insert(), rows)

    async def get(self, ban_id: int) -> Ban | None:
        row = (await self._conn.execute(select(bans).where(bans.c.id == ban_id))).first()
        return _to_ban(row) if row else None

    async def subjects(self, ban_id: int) -> list[BanSubject]:
        query = select(ban_subjects.c.kind, ban_subjects.c.value).where(ban_subjects.c.ban_id == ban_id)
        rows = await self._conn.execute(query)
        return sorted(BanSubject(SubjectKind(row.kind), row.value) for row in rows)

    async def for_user(self, user_id: int) -> list[Ban]:
        query = select(bans).where(bans.c.user_id == user_id).order_by(bans.c.starts_at, bans.c.id)
        return [_to_ban(row) for row in await self._conn.execute(query)]

    async def in_force_for(self, subjects: Sequence[BanSubject], now: float) -> list[Ban]:
        """Bans not lifted and not run out that apply to any of ``subjects``."""
        keys = sorted({(s.kind.value, s.value) for s in subjects})
        if not keys:
            return []
        matching = select(ban_subjects.c.ban_id).where(tuple_(ban_subjects.c.kind, ban_subjects.c.value).in_(keys))
        query = (
            select(bans)
            .where(
                bans.c.id.in_(matching),
                bans.c.lifted_at.is_(None),
                or_(bans.c.ends_at.is_(None), bans.c.ends_at > now),
            )
            .order_by(bans.c.id)
        )
        return [_to_ban(row) for row in await self._conn.execute(query)]

    async def list(self, *, state: str, now: float, limit: int, before: int | None) -> list[Ban]:
        """``state``: "active" (in force with an end), "review" (in force without one) or "all"."""
        query = select(bans).order_by(bans.c.id.desc()).limit(limit)
        if state == "active":
            query = query.where(bans.c.lifted_at.is_(None), bans.c.ends_at > now)
        elif state == "review":
            query = query.where(bans.c.lifted_at.is_(None), bans.c.ends_at.is_(None))
        if before is not None:
            query = query.where(bans.c.id < before)
        return [_to_ban(row) for row in await self._conn.execute(query)]

    async def lift(self, ban_id: int, *, at: float, by: int | None, note: str) -> None:
        await self._conn.execute(
            update(bans)
            .where(bans.c.id == ban_id, bans.c.lifted_at.is_(None))
            .values(lifted_at=at, lifted_by=by, lift_note=note)
        )

    async def set_ends_at(self, ban_id: int, ends_at: float | None) -> None:
        await self._conn.execute(update(bans).where(bans.c.id == ban_id).values(ends_at=ends_at))


class SqlAppealRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, appeal: Appeal) -> None:
        """Raise ``Conflict(code="appeal_exists")`` when the ban has an open appeal already."""
        row = {
            "id": appeal.id,
            "ban_id": appeal.ban_id,
            "user_id": appeal.user_id,
            "text": appeal.text,
            "state": appeal.state.value,
            "open_ban_id": appeal.ban_id if appeal.state is AppealState.OPEN else None,
            "created_at": appeal.created_at,
            "decided_at": appeal.decided_at,
            "decided_by": appeal.decided_by,
            "decision_note": appeal.decision_note,
        }
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(appeals.insert().values(**row))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise Conflict("This ban has an open appeal already.", code="appeal_exists") from exc
            raise

    async def get(self, appeal_id: int) -> Appeal | None:
        row = (await self._conn.execute(select(appeals).where(appeals.c.id == appeal_id))).first()
        return _to_appeal(row) if row else None

    async def latest_for_bans(self, ban_ids: Iterable[int]) -> dict[int, Appeal]:
        """The most recent appeal against each of ``ban_ids`` that has one."""
        ids = sorted(set(ban_ids))
        if not ids:
            return {}
        query = select(appeals).where(appeals.c.ban_id.in_(ids)).order_by(appeals.c.id)
        return {row.ban_id: _to_appeal(row) for row in await self._conn.execute(query)}

    async def list(self, *, state: AppealState | None, limit: int, before: int | None) -> list[Appeal]:
        query = select(appeals).order_by(appeals.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(appeals.c.state == state.value)
        if before is not None:
            query = query.where(appeals.c.id < before)
        return [_to_appeal(row) for row in await self._conn.execute(query)]

    async def decide(self, appeal: Appeal) -> bool:
        """Write the decision of an appeal that is open; False if it was decided already."""
        result = await self._conn.execute(
            update(appeals)
            .where(and_(appeals.c.id == appeal.id, appeals.c.state == AppealState.OPEN.value))
            .values(
                state=appeal.state.value,
                open_ban_id=None,
                decided_at=appeal.decided_at,
                decided_by=appeal.decided_by,
                decision_note=appeal.decision_note,
            )
        )
        return bool(result.rowcount)
