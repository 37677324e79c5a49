"""The trust & safety repositories, one contract on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.adapters.storage.tables import metadata
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.moderation import (
    Appeal,
    AppealState,
    AuditAction,
    AuditEntry,
    Ban,
    BanReason,
    BanSubject,
    FlaggedFrame,
    Report,
    ReportReason,
    ReviewState,
)
from palaver.domain.sessions import Device, Session
from palaver.errors import Conflict

_ids = itertools.count(5_000_000)
T0 = 1_700_000_000.0


async def a_user(storage: SqlStorage, name: str = "Someone") -> User:
    user = User(id=next(_ids), kind=AccountKind.GUEST, role=Role.USER, display_name=name, username=None,
                created_at=T0)
    async with storage.transaction() as tx:
        await tx.users.insert(user, username_canonical=None)
    return user


def a_report(reporter: int, reported: int, at: float = T0, state: ReviewState = ReviewState.OPEN) -> Report:
    return Report(id=next(_ids), reporter_id=reporter, reported_id=reported, reason=ReportReason.HARASSMENT,
                  note="rude", pair_id="123", created_at=at, state=state)


def a_ban(user_id: int, *, starts_at: float = T0, ends_at: float | None = T0 + 600) -> Ban:
    return Ban(id=next(_ids), user_id=user_id, reason=BanReason.REPORTS, reason_text="Reported by 3 people.",
               level=1, starts_at=starts_at, ends_at=ends_at)


MODERATION_TABLES = ("reports", "bans", "ban_subjects", "appeals", "flagged_frames", "audit_log", "roulette_blocks")


async def test_migrations_match_the_tables(storage: SqlStorage) -> None:
    """Migration 0003 creates exactly what tables_moderation.py (and the sessions columns) describe."""

    def diff(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return list(compare_metadata(context, metadata))

    async with storage.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert set(MODERATION_TABLES) <= set(metadata.tables)
    names = (*MODERATION_TABLES, "sessions")
    ours = [c for c in changes if any(f"'{name}'" in repr(c) or f"<{name}>" in repr(c) for name in names)]
    assert ours == []


async def test_reports_round_trip_window_query_and_states(storage: SqlStorage) -> None:
    a, b, c = await a_user(storage), await a_user(storage), await a_user(storage)
    old = a_report(a.id, c.id, at=T0 - 1000)
    r1, r2 = a_report(a.id, c.id, at=T0), a_report(b.id, c.id, at=T0 + 5)
    other = a_report(c.id, a.id, at=T0 + 6)
    async with storage.transaction() as tx:
        for r in (old, r1, r2, other):
            await tx.reports.insert(r)
    async with storage.transaction() as tx:
        assert await tx.reports.get(r1.id) == r1
        assert await tx.reports.get(next(_ids)) is None
        assert await tx.reports.against(c.id, since=T0) == [r1, r2]
        await tx.reports.set_state([r1.id], ReviewState.ACTIONED)
    async with storage.transaction() as tx:
        opened = await tx.reports.list(state=ReviewState.OPEN, limit=10, before=None)
        assert [r.id for r in opened] == [other.id, r2.id, old.id]
        everything = await tx.reports.list(state=None, limit=2, before=None)
        assert [r.id for r in everything] == [other.id, r2.id]
        assert [r.id for r in await tx.reports.list(state=None, limit=10, before=r2.id)] == [r1.id, old.id]
        assert (await tx.reports.get(r1.id)) == replace(r1, state=ReviewState.ACTIONED)


async def test_bans_are_found_by_any_subject_while_in_force(storage: SqlStorage) -> None:
    user = await a_user(storage)
    ip = BanSubject.ip(b"\xaa" * 32)
    ban = a_ban(user.id)
    review = a_ban(user.id, starts_at=T0 + 1, ends_at=None)
    async with storage.transaction() as tx:
        await tx.bans.lock_user(user.id)
        await tx.bans.insert(ban, [BanSubject.account(user.id), BanSubject.device(42), ip, ip])
        await tx.bans.insert(review, [BanSubject.account(user.id)])
    async with storage.transaction() as tx:
        assert await tx.bans.get(ban.id) == ban
        assert await tx.bans.subjects(ban.id) == sorted([BanSubject.account(user.id), BanSubject.device(42), ip])
        assert await tx.bans.for_user(user.id) == [ban, review]
        assert await tx.bans.in_force_for([BanSubject.device(42)], T0 + 10) == [ban]
        assert await tx.bans.in_force_for([BanSubject.ip(b"\xaa" * 32)], T0 + 10) == [ban]
        assert await tx.bans.in_force_for([BanSubject.device(43)], T0 + 10) == []
        assert await tx.bans.in_force_for([], T0) == []
        assert await tx.bans.in_force_for([BanSubject.device(42)], T0 + 600) == []  # ran out
        assert await tx.bans.in_force_for([BanSubject.account(user.id)], T0 + 1e6) == [review]
        assert [b.id for b in await tx.bans.list(state="active", now=T0 + 10, limit=10, before=None)] == [ban.id]
        assert [b.id for b in await tx.bans.list(state="review", now=T0 + 10, limit=10, before=None)] == [review.id]
        assert [b.id for b in await tx.bans.list(state="all", now=T0 + 10, limit=10, before=None)] == [
            review.id, ban.id
        ]
        assert [b.id for b in await tx.bans.list(state="all", now=T0, limit=10, before=review.id)] == [ban.id]
        await tx.bans.set_ends_at(review.id, T0 + 7200)
        await tx.bans.lift(ban.id, at=T0 + 20, by=user.id, note="sorry")
        await tx.bans.lift(ban.id, at=T0 + 30, by=None, note="again")  # a lifted ban stays as it was
    async with storage.transaction() as tx:
        assert await tx.bans.get(ban.id) == replace(ban, lifted_at=T0 + 20, lifted_by=user.id, lift_note="sorry")
        assert (await tx.bans.get(review.id)) == replace(review, ends_at=T0 + 7200)
        assert await tx.bans.in_force_for([BanSubject.device(42)], T0 + 21) == []


async def test_one_open_appeal_per_ban(storage: SqlStorage) -> None:
    user = await a_user(storage)
    ban = a_ban(user.id)
    first = Appeal(id=next(_ids), ban_id=ban.id, user_id=user.id, text="It was a cat.", created_at=T0 + 1)
    async with storage.transaction() as tx:
        await tx.bans.insert(ban, [BanSubject.account(user.id)])
        await tx.appeals.insert(first)
    again = Appeal(id=next(_ids), ban_id=ban.id, user_id=user.id, text="Please.", created_at=T0 + 2)
    async with storage.transaction() as tx:
        with pytest.raises(Conflict) as err:
            await tx.appeals.insert(again)
        assert err.value.code == "appeal_exists"
        assert await tx.appeals.get(first.id) == first  # the transaction goes on
    decided = replace(first, state=AppealState.REJECTED, decided_at=T0 + 5, decided_by=user.id, decision_note="no")
    async with storage.transaction() as tx:
        assert await tx.appeals.decide(decided)
        assert not await tx.appeals.decide(decided)
    async with storage.transaction() as tx:
        await tx.appeals.insert(again)  # the first one is decided: a new one may be opened
    async with storage.transaction() as tx:
        assert await tx.appeals.get(first.id) == decided
        assert await tx.appeals.latest_for_bans([ban.id, next(_ids)]) == {ban.id: again}
        assert await tx.appeals.list(state=AppealState.OPEN, limit=10, before=None) == [again]
        assert await tx.appeals.list(state=None, limit=10, before=None) == [again, decided]
        assert await tx.appeals.list(state=None, limit=10, before=again.id) == [decided]


async def test_flagged_frames_keep_images_until_purged(storage: SqlStorage) -> None:
    user = await a_user(storage)
    old = FlaggedFrame(id=next(_ids), user_id=user.id, pair_id="9", score=0.91, created_at=T0)
    new = FlaggedFrame(id=next(_ids), user_id=user.id, pair_id=None, score=0.85, created_at=T0 + 100)
    jpeg = b"\xff\xd8\xff" + bytes(range(256)) * 4
    async with storage.transaction() as tx:
        await tx.flagged_frames.insert(old, jpeg)
        await tx.flagged_frames.insert(new, b"\xff\xd8\xffnew")
    async with storage.transaction() as tx:
        assert await tx.flagged_frames.get(old.id) == old
        assert await tx.flagged_frames.image(old.id) == jpeg
        assert await tx.flagged_frames.image(next(_ids)) is None
        assert await tx.flagged_frames.count_with_images() == 2
        assert await tx.flagged_frames.purge(flagged_before=T0 + 50, now=T0 + 200) == 1
        assert await tx.flagged_frames.purge(flagged_before=T0 + 50, now=T0 + 300) == 0
        await tx.flagged_frames.set_state(new.id, ReviewState.DISMISSED)
    async with storage.transaction() as tx:
        assert await tx.flagged_frames.get(old.id) == replace(old, purged_at=T0 + 200)
        assert await tx.flagged_frames.image(old.id) is None
        assert await tx.flagged_frames.image(new.id) == b"\xff\xd8\xffnew"
        assert await tx.flagged_frames.list(state=ReviewState.OPEN, limit=5, before=None) == [
            replace(old, purged_at=T0 + 200)
        ]
        assert [f.id for f in await tx.flagged_frames.list(state=None, limit=5, before=None)] == [new.id, old.id]


async def test_audit_log_and_roulette_blocks(storage: SqlStorage) -> None:
    a, b = await a_user(storage), await a_user(storage)
    first = AuditEntry(id=next(_ids), actor_id=None, action=AuditAction.BAN_AUTO, target_user_id=a.id,
                       target_id=77, created_at=T0, details={"level": 1, "report_ids": ["1", "2"]})
    second = AuditEntry(id=next(_ids), actor_id=b.id, action=AuditAction.BAN_LIFT, target_user_id=a.id,
                        target_id=77, created_at=T0 + 1, details={})
    async with storage.transaction() as tx:
        await tx.audit_log.insert(first)
        await tx.audit_log.insert(second)
        await tx.roulette_blocks.add(a.id, b.id, now=T0)
        await tx.roulette_blocks.add(a.id, b.id, now=T0 + 1)  # idempotent
        await tx.roulette_blocks.add(b.id, a.id, now=T0 + 2)
    async with storage.transaction() as tx:
        assert await tx.audit_log.list(limit=10, before=None) == [second, first]
        assert await tx.audit_log.list(limit=10, before=second.id) == [first]
        assert await tx.roulette_blocks.all() == sorted([(a.id, b.id), (b.id, a.id)])


async def test_sessions_record_device_and_ip_hash(storage: SqlStorage) -> None:
    user = await a_user(storage)
    device = Device(id=next(_ids), user_id=user.id, token_hash=b"d" * 32, created_at=T0)
    with_both = Session(id=next(_ids), user_id=user.id, token_hash=b"s" * 32, created_at=T0, expires_at=T0 + 10,
                        last_seen_at=T0, device_id=device.id, ip_hash=b"\x01" * 32)
    stale = Session(id=next(_ids), user_id=user.id, token_hash=b"t" * 32, created_at=T0 - 1e6,
                    expires_at=T0 + 10, last_seen_at=T0 - 1e6, ip_hash=b"\x02" * 32)
    plain = Session(id=next(_ids), user_id=user.id, token_hash=b"u" * 32, created_at=T0, expires_at=T0 + 10,
                    last_seen_at=T0)
    async with storage.transaction() as tx:
        await tx.devices.insert(device)
        for s in (with_both, stale, plain):
            await tx.sessions.insert(s)
        await tx.devices.revoke_for_user(user.id, T0 + 1)
    async with storage.transaction() as tx:
        assert await tx.sessions.get(with_both.id) == with_both
        assert await tx.sessions.get(plain.id) == plain
        assert await tx.devices.ids_for_user(user.id) == [device.id]  # revoked devices too
        assert await tx.sessions.ip_hashes(user.id, since=T0 - 10) == [b"\x01" * 32]
        assert sorted(await tx.sessions.ip_hashes(user.id, since=0)) == [b"\x01" * 32, b"\x02" * 32]
        await tx.sessions.set_ip_hash(plain.id, b"\x03" * 32)
        assert (await tx.users.get_many([user.id, next(_ids)])) == {user.id: user}
        assert await tx.users.get_many([]) == {}
    async with storage.transaction() as tx:
        assert (await tx.sessions.get(plain.id)) == replace(plain, ip_hash=b"\x03" * 32)
