"""One contract for the SQL storage, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

import pytest
from sqlalchemy.exc import DBAPIError

from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.sessions import Device, Session
from palaver.errors import Conflict

_ids = itertools.count(1_000_000)


def a_user(username: str | None = None, kind: AccountKind = AccountKind.REGISTERED) -> User:
    return User(
        id=next(_ids),
        kind=kind,
        role=Role.USER,
        display_name="Ada Lovelace",
        username=username,
        bio="Analytical engines",
        languages=("en", "fr"),
        created_at=1_700_000_000.5,
        password_hash="$argon2id$fake" if username else None,
    )


def a_session(user_id: int, *, token: bytes, expires_at: float = 2e9) -> Session:
    return Session(
        id=next(_ids),
        user_id=user_id,
        token_hash=token,
        created_at=1_700_000_000.0,
        expires_at=expires_at,
        last_seen_at=1_700_000_000.0,
        user_agent="test",
    )


async def insert(storage: SqlStorage, user: User) -> User:
    async with storage.transaction() as tx:
        await tx.users.insert(user, username_canonical=user.username.lower() if user.username else None)
    return user


async def test_user_round_trip(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("Ada"))
    async with storage.transaction() as tx:
        assert await tx.users.get(user.id) == user
        assert await tx.users.get(user.id + 1) is None


async def test_username_lookup_ignores_case(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("AdaL"))
    async with storage.transaction() as tx:
        found = await tx.users.get_by_username("adal")
        assert found is not None and found.id == user.id and found.username == "AdaL"
        assert await tx.users.get_by_username("someone") is None


async def test_duplicate_username_in_other_case_is_a_conflict(storage: SqlStorage) -> None:
    await insert(storage, a_user("Grace"))
    with pytest.raises(Conflict) as caught:
        await insert(storage, a_user("GRACE"))
    assert caught.value.code == "username_taken"


async def test_conflict_inside_a_transaction_leaves_the_rest_usable(storage: SqlStorage) -> None:
    await insert(storage, a_user("Taken"))
    other = a_user("Other")
    async with storage.transaction() as tx:
        with pytest.raises(Conflict):
            await tx.users.insert(a_user("taken"), username_canonical="taken")
        await tx.users.insert(other, username_canonical="other")
    async with storage.transaction() as tx:
        assert await tx.users.get(other.id) == other


async def test_guests_have_no_username_and_do_not_clash(storage: SqlStorage) -> None:
    first = await insert(storage, a_user(None, AccountKind.GUEST))
    second = await insert(storage, a_user(None, AccountKind.GUEST))
    async with storage.transaction() as tx:
        assert (await tx.users.get(first.id)) == first
        assert (await tx.users.get(second.id)) == second
        assert await tx.users.count_by_kind(AccountKind.GUEST) == 2
        assert await tx.users.count_by_kind(AccountKind.REGISTERED) == 0


async def test_update_writes_every_field_and_checks_uniqueness(storage: SqlStorage) -> None:
    await insert(storage, a_user("Alan"))
    user = await insert(storage, a_user(None, AccountKind.GUEST))
    upgraded = replace(user, kind=AccountKind.REGISTERED, username="Barbara", bio="", languages=("de",))
    async with storage.transaction() as tx:
        await tx.users.update(upgraded)
    async with storage.transaction() as tx:
        assert await tx.users.get(user.id) == upgraded
        with pytest.raises(Conflict):
            await tx.users.update(replace(upgraded, username="ALAN"))


async def test_role_change(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("Mod"))
    async with storage.transaction() as tx:
        await tx.users.set_role(user.id, Role.MODERATOR)
    async with storage.transaction() as tx:
        found = await tx.users.get(user.id)
        assert found is not None and found.role is Role.MODERATOR


async def test_failed_transaction_writes_nothing(storage: SqlStorage) -> None:
    user = a_user("Ghost")

    async def write_then_fail() -> None:
        async with storage.transaction() as tx:
            await tx.users.insert(user, username_canonical="ghost")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with storage.transaction() as tx:
        assert await tx.users.get(user.id) is None


async def test_sessions_by_token_hash_and_listing(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("Linus"))
    live = a_session(user.id, token=b"a" * 32)
    expired = a_session(user.id, token=b"b" * 32, expires_at=1_600_000_000.0)
    other = a_session(user.id, token=b"c" * 32)
    async with storage.transaction() as tx:
        for session in (live, expired, other):
            await tx.sessions.insert(session)
    async with storage.transaction() as tx:
        assert await tx.sessions.get_by_token_hash(b"a" * 32) == live
        assert await tx.sessions.get_by_token_hash(b"z" * 32) is None
        assert await tx.sessions.get(expired.id) == expired
        listed = await tx.sessions.list_active(user.id, now=1_700_000_100.0)
        assert {s.id for s in listed} == {live.id, other.id}


async def test_revoke_one_and_all(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("Ken"))
    sessions = [a_session(user.id, token=bytes([i]) * 32) for i in range(3)]
    async with storage.transaction() as tx:
        for session in sessions:
            await tx.sessions.insert(session)
    async with storage.transaction() as tx:
        assert await tx.sessions.revoke(sessions[0].id, 1_700_000_001.0) is True
        assert await tx.sessions.revoke(sessions[0].id, 1_700_000_002.0) is False
        revoked = await tx.sessions.revoke_all(user.id, 1_700_000_003.0, except_id=sessions[2].id)
        assert revoked == [sessions[1].id]
    async with storage.transaction() as tx:
        first = await tx.sessions.get(sessions[0].id)
        assert first is not None and first.revoked_at == 1_700_000_001.0
        assert [s.id for s in await tx.sessions.list_active(user.id, 1_700_000_004.0)] == [sessions[2].id]


async def test_touch_moves_last_seen(storage: SqlStorage) -> None:
    user = await insert(storage, a_user("Dennis"))
    session = a_session(user.id, token=b"t" * 32)
    async with storage.transaction() as tx:
        await tx.sessions.insert(session)
        await tx.sessions.touch(session.id, 1_700_000_500.0)
    async with storage.transaction() as tx:
        found = await tx.sessions.get(session.id)
        assert found is not None and found.last_seen_at == 1_700_000_500.0


async def test_devices(storage: SqlStorage) -> None:
    user = await insert(storage, a_user(None, AccountKind.GUEST))
    device = Device(id=next(_ids), user_id=user.id, token_hash=b"d" * 32, created_at=1_700_000_000.0)
    async with storage.transaction() as tx:
        await tx.devices.insert(device)
    async with storage.transaction() as tx:
        assert await tx.devices.get_by_token_hash(b"d" * 32) == device
        await tx.devices.revoke_for_user(user.id, 1_700_000_009.0)
    async with storage.transaction() as tx:
        found = await tx.devices.get_by_token_hash(b"d" * 32)
        assert found is not None and found.revoked_at == 1_700_000_009.0


async def test_ping(storage: SqlStorage) -> None:
    assert await storage.ping() is True


async def test_a_reading_unit_of_work_refuses_writes_and_changes_nothing(storage: SqlStorage) -> None:
    user = a_user("Reader")
    with pytest.raises(DBAPIError):
        async with storage.reading() as tx:
            await tx.users.insert(user, username_canonical="reader")
    async with storage.transaction() as tx:  # the next unit of work on a pooled connection writes again
        assert await tx.users.get(user.id) is None
        await tx.users.insert(user, username_canonical="reader")
    async with storage.reading() as tx:
        assert await tx.users.get(user.id) == user


async def test_reading_neither_waits_for_nor_sees_an_uncommitted_write(storage: SqlStorage) -> None:
    before = await insert(storage, a_user("Before"))
    pending = a_user("Pending")
    async with storage.transaction() as writer:  # holds SQLite's write lock until the block ends
        await writer.users.insert(pending, username_canonical="pending")
        await writer.flush()
        async with asyncio.timeout(2):  # a BEGIN IMMEDIATE here would wait for the writer (10 s)
            async with storage.reading() as tx:
                assert await tx.users.get(before.id) == before
                assert await tx.users.get(pending.id) is None
    async with storage.reading() as tx:
        assert await tx.users.get(pending.id) == pending
