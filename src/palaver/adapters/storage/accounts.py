"""SQL repositories for users, sessions and guest devices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage.dialect import is_unique_violation
from palaver.adapters.storage.tables import devices, sessions, users
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.sessions import Device, Session
from palaver.errors import Conflict


def _username_taken() -> Conflict:
    return Conflict("This username is taken.", code="username_taken")


def _user_row(user: User) -> dict[str, Any]:
    return {
        "kind": user.kind.value,
        "role": user.role.value,
        "display_name": user.display_name,
        "username": user.username,
        "username_canonical": user.username.lower() if user.username else None,
        "bio": user.bio,
        "languages": ",".join(user.languages),
        "password_hash": user.password_hash,
        "created_at": user.created_at,
    }


def _to_user(row: Any) -> User:
    return User(
        id=row.id,
        kind=AccountKind(row.kind),
        role=Role(row.role),
        display_name=row.display_name,
        username=row.username,
        bio=row.bio,
        languages=tuple(code for code in row.languages.split(",") if code),
        created_at=row.created_at,
        password_hash=row.password_hash,
    )


def _to_session(row: Any) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        token_hash=bytes(row.token_hash),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
        device_id=row.device_id,
        ip_hash=bytes(row.ip_hash) if row.ip_hash is not None else None,
    )


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, user: User, *, username_canonical: str | None) -> None:
        row = _user_row(user) | {"id": user.id, "username_canonical": username_canonical}
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(users.insert().values(**row))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise _username_taken() from exc
            raise

    async def get(self, user_id: int) -> User | None:
        row = (await self._conn.execute(select(users).where(users.c.id == user_id))).first()
        return _to_user(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        query = select(users).where(users.c.username_canonical == username.lower())
        row = (await self._conn.execute(query)).first()
        return _to_user(row) if row else None

    async def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = await self._conn.execute(select(users).where(users.c.id.in_(wanted)))
        return {row.id: _to_user(row) for row in rows}

    async def update(self, user: User) -> None:
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(update(users).where(users.c.id == user.id).values(**_user_row(user)))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise _username_taken() from exc
            raise

    async def set_role(self, user_id: int, role: Role) -> None:
        await self._conn.execute(update(users).where(users.c.id == user_id).values(role=role.value))

    async def count_by_kind(self, kind: AccountKind) -> int:
        query = select(func.count()).select_from(users).where(users.c.kind == kind.value)
        return int((await self._conn.execute(query)).scalar_one())


class SqlSessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, session: Session) -> None:
        await self._conn.execute(
            sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                token_hash=session.token_hash,
                created_at=session.created_at,
                expires_at=session.expires_at,
                last_seen_at=session.last_seen_at,
                user_agent=session.user_agent,
                revoked_at=session.revoked_at,
                device_id=session.device_id,
                ip_hash=session.ip_hash,
            )
        )

    async def get_by_token_hash(self, token_hash: bytes) -> Session | None:
        row = (await self._conn.execute(select(sessions).where(sessions.c.token_hash == token_hash))).first()
        return _to_session(row) if row else None

    async def get(self, session_id: int) -> Session | None:
        row = (await self._conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        return _to_session(row) if row else None

    async def list_active(self, user_id: int, now: float) -> list[Session]:
        query = (
            select(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None), sessions.c.expires_at > now)
            .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
        )
        return [_to_session(row) for row in await self._conn.execute(query)]

    async def revoke(self, session_id: int, now: float) -> bool:
        result = await self._conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def revoke_all(self, user_id: int, now: float, *, except_id: int | None = None) -> list[int]:
        conditions = [sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)]
        if except_id is not None:
            conditions.append(sessions.c.id != except_id)
        ids = list((await self._conn.execute(select(sessions.c.id).where(*conditions))).scalars())
        if ids:
            await self._conn.execute(update(sessions).where(sessions.c.id.in_(ids)).values(revoked_at=now))
        return ids

    async def touch(self, session_id: int, now: float) -> None:
        await self._conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now))

    async def set_ip_hash(self, session_id: int, ip_hash: bytes) -> None:
        await self._conn.execute(update(sessions).where(sessions.c.id == session_id).values(ip_hash=ip_hash))

    async def ip_hashes(self, user_id: int, *, since: float) -> list[bytes]:
        query = (
            select(sessions.c.ip_hash)
            .where(sessions.c.user_id == user_id, sessions.c.ip_hash.is_not(None), sessions.c.last_seen_at >= since)
            .distinct()
        )
        return [bytes(value) for value in (await self._conn.execute(query)).scalars()]


class SqlDeviceRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, device: Device) -> None:
        await self._conn.execute(
            devices.insert().values(
                id=device.id,
                user_id=device.user_id,
                token_hash=device.token_hash,
                created_at=device.created_at,
                revoked_at=device.revoked_at,
            )
        )

    async def get_by_token_hash(self, token_hash: bytes) -> Device | None:
        row = (await self._conn.execute(select(devices).where(devices.c.token_hash == token_hash))).first()
        if row is None:
            return None
        return Device(
            id=row.id,
            user_id=row.user_id,
            token_hash=bytes(row.token_hash),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )

    async def ids_for_user(self, user_id: int) -> list[int]:
        """Every device the user ever had, revoked ones included (a ban follows the hardware)."""
        query = select(devices.c.id).where(devices.c.user_id == user_id).order_by(devices.c.id)
        return list((await self._conn.execute(query)).scalars())

    async def revoke_for_user(self, user_id: int, now: float) -> None:
        await self._conn.execute(
            update(devices).where(devices.c.user_id == user_id, devices.c.revoked_at.is_(None)).values(revoked_at=now)
        )
