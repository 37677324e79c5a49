"""ModerationService on SQLite with a manual clock: reports, escalation, device and IP bans, appeals,
evidence retention. The console's authorization matrix is in test_moderation_console.py."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.security.passwords import Argon2Hasher
from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.moderation import Ban, BanReason, BanState
from palaver.domain.sessions import Principal, Session
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound
from palaver.ids import SnowflakeIds
from palaver.services.accounts import AccountService
from palaver.services.moderation import ModerationPolicy, ModerationService
from palaver.services.moderation.serialize import ban_json
from tests.support.databases import sqlite_url

DAY = 86400.0
SALT = "test salt"
_ips = itertools.count(1)


@dataclass
class World:
    moderation: ModerationService
    accounts: AccountService
    storage: SqlStorage
    clock: ManualClock
    banned: list[tuple[int, Ban]] = field(default_factory=list)

    async def guest(self, ip: str | None = None, device_token: str | None = None) -> Principal:
        signed = await self.accounts.continue_as_guest(
            device_token=device_token, ip=ip if ip is not None else f"198.51.100.{next(_ips)}"
        )
        return Principal(user_id=signed.user.id, session_id=signed.session.id, role=Role.USER)

    async def staff(self, name: str, role: Role) -> Principal:
        signed = await self.accounts.register(username=name, password="correct horse battery", ip="192.0.2.1")
        await self.accounts.grant_role(None, username=name, role=role)
        return Principal(user_id=signed.user.id, session_id=signed.session.id, role=role)

    async def reported_by(self, target: Principal, count: int) -> Ban | None:
        ban = None
        for _ in range(count):
            ban = await self.moderation.report(
                await self.guest(), reported_user_id=target.user_id, reason="harassment", pair_id="1"
            )
        return ban

    async def flag(self, who: Principal, score: float = 0.95) -> Ban:
        return await self.moderation.record_flagged_frame(
            principal=who, pair_id="7", image=b"\xff\xd8\xff\xe0evidence", score=score
        )

    async def session(self, principal: Principal) -> Session:
        async with self.storage.transaction() as tx:
            found = await tx.sessions.get(principal.session_id)
        assert found is not None
        return found


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    url = sqlite_url(tmp_path)
    await upgrade_async(url)
    storage = SqlStorage.from_url(url)
    broker = MemoryBroker()
    await broker.start()
    clock = ManualClock()
    ids = SnowflakeIds(clock)
    accounts = AccountService(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=ids,
        hasher=Argon2Hasher(time_cost=1, memory_cost=1024),
        ip_hash_salt=SALT,
    )
    moderation = ModerationService(
        storage=storage,
        broker=broker,
        clock=clock,
        ids=ids,
        policy=ModerationPolicy(report_threshold=3, report_window_seconds=300, ban_ladder_seconds=(600, 3600, DAY)),
        ip_hash_salt=SALT,
    )
    w = World(moderation, accounts, storage, clock)

    async def on_ban(user_id: int, ban: Ban) -> None:
        w.banned.append((user_id, ban))

    moderation.on_ban = on_ban
    yield w
    await broker.close()
    await storage.close()


async def test_three_reports_within_five_minutes_ban_for_ten_minutes(world: World) -> None:
    target = await world.guest()
    assert await world.reported_by(target, 2) is None
    world.clock.advance(299)
    ban = await world.reported_by(target, 1)
    assert ban is not None
    assert (ban.reason, ban.level, ban.ends_at) == (BanReason.REPORTS, 1, world.clock.now() + 600)
    assert world.banned == [(target.user_id, ban)]
    assert ban_json(ban)["state"] == "active"
    assert (await world.moderation.current_ban(target)) == ban
    with pytest.raises(Forbidden) as err:
        await world.moderation.ensure_not_banned(target)
    assert err.value.code == "banned"
    world.clock.advance(600)
    assert await world.moderation.current_ban(target) is None
    await world.moderation.ensure_not_banned(target)


async def test_reports_spread_wider_than_the_window_do_not_ban(world: World) -> None:
    target = await world.guest()
    await world.reported_by(target, 2)
    world.clock.advance(301)
    assert await world.reported_by(target, 1) is None  # the first two fell out of the window
    assert await world.reported_by(target, 1) is None
    assert await world.reported_by(target, 1) is not None  # three within the window ending now


async def test_the_same_reporter_counts_once(world: World) -> None:
    target, pest = await world.guest(), await world.guest()
    for _ in range(5):
        assert await world.moderation.report(pest, reported_user_id=target.user_id, reason="spam", pair_id=None) is None
    assert await world.reported_by(target, 1) is None
    assert await world.reported_by(target, 1) is not None


async def test_escalation_after_expiry_then_review(world: World) -> None:
    target = await world.guest()
    first = await world.reported_by(target, 3)
    assert first is not None and first.level == 1
    world.clock.advance(601)
    assert await world.reported_by(target, 2) is None  # reports before the first ban no longer count
    second = await world.reported_by(target, 1)
    assert second is not None and (second.level, second.ends_at) == (2, world.clock.now() + 3600)
    world.clock.advance(3601)
    third = await world.flag(target)
    assert (third.reason, third.level, third.ends_at) == (BanReason.NUDITY_DETECTED, 3, world.clock.now() + DAY)
    world.clock.advance(DAY + 1)
    fourth = await world.reported_by(target, 3)
    assert fourth is not None and (fourth.level, fourth.ends_at) == (4, None)
    assert fourth.state_at(world.clock.now() + 365 * DAY) is BanState.REVIEW
    assert ban_json(fourth)["state"] == "review"
    assert [b.level for _, b in world.banned] == [1, 2, 3, 4]


async def test_no_second_ban_while_one_holds(world: World) -> None:
    target = await world.guest()
    ban = await world.reported_by(target, 3)
    assert await world.reported_by(target, 3) is None
    assert (await world.flag(target)).id == ban.id if ban else False
    assert len(world.banned) == 1


async def test_lifted_bans_do_not_escalate(world: World) -> None:
    target, moderator = await world.guest(), await world.staff("mod_one", Role.MODERATOR)
    ban = await world.flag(target)
    lifted = await world.moderation.unban(moderator, ban.id, note="a false positive")
    assert lifted.state_at(world.clock.now()) is BanState.LIFTED
    assert await world.moderation.current_ban(target) is None
    again = await world.flag(target)
    assert again.level == 1 and again.ends_at == world.clock.now() + 600


async def test_a_report_blocks_the_pair_for_good(world: World) -> None:
    reporter, target = await world.guest(), await world.guest()
    await world.moderation.report(reporter, reported_user_id=target.user_id, reason="nudity", note="!", pair_id="5")
    await world.moderation.record_block(target.user_id, reporter.user_id)
    await world.moderation.record_block(target.user_id, reporter.user_id)
    assert await world.moderation.blocked_pairs() == sorted(
        [(reporter.user_id, target.user_id), (target.user_id, reporter.user_id)]
    )


@pytest.mark.parametrize(
    ("reason", "note", "code"),
    [("rude", "", "invalid_reason"), ("spam", "x" * 501, "invalid_note"), ("spam", "bell\x07", "invalid_note")],
)
async def test_bad_reports_change_nothing(world: World, reason: str, note: str, code: str) -> None:
    reporter, target = await world.guest(), await world.guest()
    with pytest.raises(InvalidInput) as err:
        await world.moderation.report(reporter, reported_user_id=target.user_id, reason=reason, note=note, pair_id="1")
    assert err.value.code == code
    assert await world.moderation.blocked_pairs() == []


async def test_reporting_oneself_or_nobody(world: World) -> None:
    me = await world.guest()
    with pytest.raises(InvalidInput) as bad:
        await world.moderation.report(me, reported_user_id=me.user_id, reason="spam", pair_id=None)
    assert bad.value.code == "cannot_report_self"
    with pytest.raises(NotFound) as missing:
        await world.moderation.report(me, reported_user_id=12345, reason="spam", pair_id=None)
    assert missing.value.code == "user_not_found"
    with pytest.raises(InvalidInput):
        await world.moderation.record_block(me.user_id, me.user_id)
    assert await world.moderation.blocked_pairs() == []


async def test_sessions_record_device_and_salted_ip_hash(world: World) -> None:
    guest = await world.guest(ip="203.0.113.5")
    session = await world.session(guest)
    assert session.device_id is not None
    assert session.ip_hash is not None and len(session.ip_hash) == 32 and b"203.0.113.5" not in session.ip_hash
    registered = await world.staff("someone", Role.USER)
    assert (await world.session(registered)).device_id is None


async def test_an_ip_ban_catches_a_fresh_guest_from_that_address(world: World) -> None:
    target = await world.guest(ip="203.0.113.9")
    ban = await world.flag(target)
    fresh = await world.guest(ip="203.0.113.9")
    elsewhere = await world.guest(ip="203.0.113.10")
    caught = await world.moderation.current_ban(fresh)
    assert caught is not None and caught.id == ban.id
    with pytest.raises(Forbidden):
        await world.moderation.ensure_not_banned(fresh)
    assert await world.moderation.current_ban(elsewhere) is None


async def test_a_device_ban_catches_another_account_on_that_device(world: World) -> None:
    signed = await world.accounts.continue_as_guest(device_token=None, ip="")
    target = Principal(user_id=signed.user.id, session_id=signed.session.id, role=Role.USER)
    assert (await world.session(target)).ip_hash is None  # no address: only account and device
    again = await world.accounts.continue_as_guest(device_token=signed.device_token, ip="")
    assert again.user.id == target.user_id  # the device token signs the same guest in
    ban = await world.flag(target)
    other = await world.guest()
    device_id = (await world.session(target)).device_id
    async with world.storage.transaction() as tx:  # a session of another account on the banned device
        other_session = await tx.sessions.get(other.session_id)
        assert other_session is not None
        await tx.sessions.revoke(other.session_id, world.clock.now())
        moved = Session(**{**{f: getattr(other_session, f) for f in Session.__slots__}, "id": 777,
                           "token_hash": b"x" * 32, "device_id": device_id, "revoked_at": None})
        await tx.sessions.insert(moved)
    caught = await world.moderation.current_ban(Principal(user_id=other.user_id, session_id=777, role=Role.USER))
    assert caught is not None and caught.id == ban.id


async def test_appeals(world: World) -> None:
    target = await world.guest()
    with pytest.raises(Conflict) as none:
        await world.moderation.appeal(target, text="I did nothing")
    assert none.value.code == "no_active_ban"
    ban = await world.flag(target)
    with pytest.raises(InvalidInput) as empty:
        await world.moderation.appeal(target, text="  ")
    assert empty.value.code == "invalid_appeal_text"
    appeal = await world.moderation.appeal(target, text="It was a painting.")
    assert (appeal.ban_id, appeal.state.value, appeal.decided_at) == (ban.id, "open", None)
    with pytest.raises(Conflict) as twice:
        await world.moderation.appeal(target, text="Please")
    assert twice.value.code == "appeal_exists"
    current = await world.moderation.current_ban(target)
    assert current is not None and current.appeal == appeal
    assert ban_json(current)["appeal"]["text"] == "It was a painting."


async def test_purge_deletes_old_images_and_keeps_the_rows(world: World) -> None:
    target, admin = await world.guest(), await world.staff("admin_a", Role.ADMIN)
    await world.flag(target)
    frame_id = int((await world.moderation.list_frames(admin))[0]["id"])
    assert await world.moderation.frame_image(admin, frame_id) == b"\xff\xd8\xff\xe0evidence"
    world.clock.advance(29 * DAY)
    assert await world.moderation.purge_evidence() == 0
    world.clock.advance(2 * DAY)
    assert await world.moderation.purge_evidence() == 1
    assert await world.moderation.purge_evidence() == 0
    with pytest.raises(NotFound) as err:
        await world.moderation.frame_image(admin, frame_id)
    assert err.value.code == "evidence_purged"
    [row] = await world.moderation.list_frames(admin, state="all")
    assert row["score"] == 0.95 and row["purged_at"] == world.clock.now()


async def test_a_failing_on_ban_does_not_fail_the_call(world: World, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(user_id: int, ban: Ban) -> None:
        raise RuntimeError("roulette is down")

    world.moderation.on_ban = broken
    target = await world.guest()
    with caplog.at_level(logging.ERROR, logger="palaver.moderation"):
        ban = await world.flag(target)
    assert "on_ban failed" in caplog.text
    assert (await world.moderation.current_ban(target)) == ban
