"""Account use cases: guests, registration, login, sessions, profiles and roles."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from palaver.domain.accounts import (
    AccountKind,
    DisplayName,
    ProfileChange,
    Role,
    User,
    Username,
    can_grant_role,
    guest_display_name,
)
from palaver.domain.moderation.subjects import hash_ip
from palaver.domain.passwords import check_password
from palaver.domain.ratelimit import KeyedLimiter
from palaver.domain.sessions import Device, Principal, Session
from palaver.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from palaver.ports import Broker, Clock, IdGenerator, PasswordHasher, Storage, Transaction
from palaver.services.events import Event, publish_all, session_topic, user_topic
from palaver.services.serialize import user_json
from palaver.services.tokens import DEVICE_PREFIX, SESSION_PREFIX, hash_token, new_token

TOUCH_INTERVAL = 60.0
MAX_USER_AGENT = 256


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    session_ttl_seconds: float = 30 * 86400
    login_attempts: int = 5  # per username per window
    login_window_seconds: float = 300.0
    login_attempts_per_ip: int = 30  # per IP per window


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The result of signing in: the secret token is shown to the client exactly once."""

    user: User
    session: Session
    session_token: str
    device_token: str | None = None


def _invalid_credentials() -> Unauthenticated:
    return Unauthenticated("Wrong username or password.", code="invalid_credentials")


class AccountService:
    def __init__(
        self,
        *,
        storage: Storage,
        broker: Broker,
        clock: Clock,
        ids: IdGenerator,
        hasher: PasswordHasher,
        policy: AccountPolicy | None = None,
        ip_hash_salt: str = "",
    ) -> None:
        self._storage = storage
        self._ip_hash_salt = ip_hash_salt  # sessions keep HMAC-SHA256(salt, ip), never the address
        self._broker = broker
        self._clock = clock
        self._ids = ids
        self._hasher = hasher
        self._policy = policy or AccountPolicy()
        window = self._policy.login_window_seconds
        self._login_by_name = KeyedLimiter(
            rate=self._policy.login_attempts / window, burst=self._policy.login_attempts
        )
        self._login_by_ip = KeyedLimiter(
            rate=self._policy.login_attempts_per_ip / window, burst=self._policy.login_attempts_per_ip
        )
        self._dummy_hash: str | None = None

    # ------------------------------------------------------------------ sign-in flows

    async def continue_as_guest(self, *, device_token: str | None, user_agent: str = "", ip: str = "") -> SignedIn:
        """Sign a guest in: with a known device token, the same guest again; otherwise a new guest.
        The session records the device and a salted hash of ``ip``."""
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            if device_token:
                device = await tx.devices.get_by_token_hash(hash_token(device_token))
                if device is not None and device.revoked_at is None:
                    user = await tx.users.get(device.user_id)
                    if user is not None and user.is_guest:
                        session, token = await self._open_session(
                            tx, user.id, user_agent, ip=ip, device_id=device.id
                        )
                        return SignedIn(user, session, token, device_token)
            user_id = self._ids.next_id()
            user = User(
                id=user_id,
                kind=AccountKind.GUEST,
                role=Role.USER,
                display_name=guest_display_name(user_id),
                username=None,
                created_at=now,
            )
            await tx.users.insert(user, username_canonical=None)
            new_device = new_token(DEVICE_PREFIX)
            device_id = self._ids.next_id()
            await tx.devices.insert(
                Device(id=device_id, user_id=user_id, token_hash=hash_token(new_device), created_at=now)
            )
            session, token = await self._open_session(tx, user_id, user_agent, ip=ip, device_id=device_id)
        return SignedIn(user, session, token, new_device)

    async def register(
        self,
        *,
        username: str,
        password: str,
        display_name: str | None = None,
        user_agent: str = "",
        ip: str = "",
    ) -> SignedIn:
        name = Username(username)
        shown = DisplayName(display_name if display_name is not None else name.value)
        check_password(password, username=name.value)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._storage.transaction() as tx:
            user = User(
                id=self._ids.next_id(),
                kind=AccountKind.REGISTERED,
                role=Role.USER,
                display_name=shown.value,
                username=name.value,
                created_at=self._clock.now(),
                password_hash=password_hash,
            )
            await tx.users.insert(user, username_canonical=name.canonical)
            session, token = await self._open_session(tx, user.id, user_agent, ip=ip)
        return SignedIn(user, session, token)

    async def login(self, *, username: str, password: str, ip: str = "", user_agent: str = "") -> SignedIn:
        now = self._clock.monotonic()
        name_key = username.lower()[:64]
        for limiter, key in ((self._login_by_name, name_key), (self._login_by_ip, ip)):
            if key and not limiter.would_allow(key, now):
                raise RateLimited(
                    "Too many sign-in attempts. Try again later.", retry_after=limiter.retry_after(key)
                )
        if ip:
            self._login_by_ip.allow(ip, now)
        async with self._storage.transaction() as tx:
            user = await tx.users.get_by_username(username) if len(username) <= 64 else None
        ok = await asyncio.to_thread(self._verify, user, password)
        if user is None or not ok:
            self._login_by_name.allow(name_key, now)
            raise _invalid_credentials()
        self._login_by_name.reset(name_key)
        async with self._storage.transaction() as tx:
            if user.password_hash and self._hasher.needs_rehash(user.password_hash):
                rehashed = await asyncio.to_thread(self._hasher.hash, password)
                user = replace(user, password_hash=rehashed)
                await tx.users.update(user)
            session, token = await self._open_session(tx, user.id, user_agent, ip=ip)
        return SignedIn(user, session, token)

    def _verify(self, user: User | None, password: str) -> bool:
        if user is None or user.password_hash is None:
            # Spend the same time as a real check so response times do not reveal which names exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not a real password, only for timing")
            self._hasher.verify(self._dummy_hash, password)
            return False
        return self._hasher.verify(user.password_hash, password[:512])

    async def upgrade_guest(self, principal: Principal, *, username: str, password: str, ip: str = "") -> User:
        """Turn a guest into a registered account, keeping its id and so all its data. The session
        goes on (with its device recorded); ``ip``, when given, becomes its recorded IP hash."""
        name = Username(username)
        check_password(password, username=name.value)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._storage.transaction() as tx:
            user = await self._require_user(tx, principal)
            if not user.is_guest:
                raise Conflict("This account is already registered.", code="already_registered")
            upgraded = replace(
                user,
                kind=AccountKind.REGISTERED,
                username=name.value,
                password_hash=password_hash,
            )
            await tx.users.update(upgraded)
            await tx.devices.revoke_for_user(user.id, self._clock.now())
            ip_hash = hash_ip(self._ip_hash_salt, ip)
            if ip_hash is not None:
                await tx.sessions.set_ip_hash(principal.session_id, ip_hash)
        await publish_all(self._broker, [Event(user_topic(user.id), "user.updated", user_json(upgraded))])
        return upgraded

    # ------------------------------------------------------------------ sessions

    async def _open_session(
        self, tx: Transaction, user_id: int, user_agent: str, *, ip: str = "", device_id: int | None = None
    ) -> tuple[Session, str]:
        now = self._clock.now()
        token = new_token(SESSION_PREFIX)
        session = Session(
            id=self._ids.next_id(),
            user_id=user_id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + self._policy.session_ttl_seconds,
            last_seen_at=now,
            user_agent=user_agent[:MAX_USER_AGENT],
            device_id=device_id,
            ip_hash=hash_ip(self._ip_hash_salt, ip),
        )
        await tx.sessions.insert(session)
        return session, token

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a session token; ``Unauthenticated`` if unknown, revoked or expired."""
        if not token.startswith(SESSION_PREFIX) or len(token) > 128:
            raise Unauthenticated("The session token is not valid.", code="invalid_token")
        now = self._clock.now()
        async with self._storage.reading() as tx:
            session = await tx.sessions.get_by_token_hash(hash_token(token))
            if session is None or not session.is_active(now):
                raise Unauthenticated("The session has ended. Sign in again.", code="invalid_token")
            user = await tx.users.get(session.user_id)
            if user is None:
                raise Unauthenticated("The account no longer exists.", code="invalid_token")
        if now - session.last_seen_at >= TOUCH_INTERVAL:  # a write only now and then
            async with self._storage.transaction() as tx:
                await tx.sessions.touch(session.id, now)
        return Principal(user_id=user.id, session_id=session.id, role=user.role)

    async def logout(self, principal: Principal) -> None:
        await self.revoke_session(principal, principal.session_id)

    async def list_sessions(self, principal: Principal) -> list[Session]:
        async with self._storage.reading() as tx:
            return await tx.sessions.list_active(principal.user_id, self._clock.now())

    async def revoke_session(self, principal: Principal, session_id: int) -> None:
        async with self._storage.transaction() as tx:
            session = await tx.sessions.get(session_id)
            if session is None or session.user_id != principal.user_id:
                raise NotFound("No such session.", code="session_not_found")
            revoked = await tx.sessions.revoke(session_id, self._clock.now())
        if revoked:
            await publish_all(self._broker, [_revoked_event(session_id)])

    async def change_password(self, principal: Principal, *, current_password: str, new_password: str) -> None:
        """Change the password and sign out every other session."""
        async with self._storage.transaction() as tx:
            user = await self._require_user(tx, principal)
        if user.password_hash is None:
            raise Forbidden("Guests have no password; register first.", code="not_registered")
        if not await asyncio.to_thread(self._hasher.verify, user.password_hash, current_password[:512]):
            raise _invalid_credentials()
        check_password(new_password, username=user.username)
        new_hash = await asyncio.to_thread(self._hasher.hash, new_password)
        async with self._storage.transaction() as tx:
            await tx.users.update(replace(user, password_hash=new_hash))
            revoked = await tx.sessions.revoke_all(user.id, self._clock.now(), except_id=principal.session_id)
        await publish_all(self._broker, [_revoked_event(sid) for sid in revoked])

    # ------------------------------------------------------------------ profiles and roles

    async def me(self, principal: Principal) -> User:
        async with self._storage.reading() as tx:
            return await self._require_user(tx, principal)

    async def profile(self, username: str) -> User:
        Username(username)
        async with self._storage.transaction() as tx:
            user = await tx.users.get_by_username(username)
        if user is None:
            raise NotFound("No user with this username.", code="user_not_found")
        return user

    async def update_profile(self, principal: Principal, change: ProfileChange) -> User:
        async with self._storage.transaction() as tx:
            user = await self._require_user(tx, principal)
            if change.username is not None and user.is_guest:
                raise Forbidden("Register to choose a username.", code="not_registered")
            updated = replace(
                user,
                display_name=change.display_name.value if change.display_name else user.display_name,
                username=change.username.value if change.username else user.username,
                bio=change.bio.value if change.bio is not None else user.bio,
                languages=change.languages.codes if change.languages is not None else user.languages,
            )
            if updated != user:
                await tx.users.update(updated)
        if updated != user:
            await publish_all(self._broker, [Event(user_topic(user.id), "user.updated", user_json(updated))])
        return updated

    async def grant_role(self, actor: Principal | None, *, username: str, role: Role) -> User:
        """Give ``username`` a role. ``actor=None`` is the operator at the command line."""
        async with self._storage.transaction() as tx:
            target = await tx.users.get_by_username(username)
            if target is None:
                raise NotFound("No user with this username.", code="user_not_found")
            if actor is not None:
                acting = await self._require_user(tx, actor)
                if not can_grant_role(acting.role, target.role, role):
                    raise Forbidden("Only admins change roles.", code="forbidden")
            await tx.users.set_role(target.id, role)
        return replace(target, role=role)

    async def count_guests(self) -> int:
        async with self._storage.transaction() as tx:
            return await tx.users.count_by_kind(AccountKind.GUEST)

    async def _require_user(self, tx: Transaction, principal: Principal) -> User:
        user = await tx.users.get(principal.user_id)
        if user is None:
            raise Unauthenticated("The account no longer exists.", code="invalid_token")
        return user


def _revoked_event(session_id: int) -> Event:
    return Event(session_topic(session_id), "session.revoked", {"session_id": str(session_id)})

