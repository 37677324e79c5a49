"""Ports: the small interfaces services depend on. Adapters implement them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from palaver.clock import Clock as Clock
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.sessions import Device, Session
from palaver.ids import IdGenerator as IdGenerator

# --------------------------------------------------------------------------- broker

MessageHandler = Callable[[str, bytes], None]
"""Called with (topic, payload) for each message on a subscribed topic. Must not block."""


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering to this handler. Idempotent."""
        ...


class Broker(Protocol):
    """Publish/subscribe on topics. Delivery is at-most-once and live only: anything that must
    survive a restart is in the database, and clients catch up from there."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    async def subscribe(self, topic: str, handler: MessageHandler) -> Subscription: ...

    async def ping(self) -> bool:
        """True when the broker can deliver messages now."""
        ...


# --------------------------------------------------------------------------- storage


class UserRepository(Protocol):
    async def insert(self, user: User, *, username_canonical: str | None) -> None:
        """Raise ``Conflict(code="username_taken")`` if the canonical username exists."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup."""
        ...

    async def update(self, user: User) -> None:
        """Write every field of ``user``; raise ``Conflict(code="username_taken")`` on a clash."""
        ...

    async def set_role(self, user_id: int, role: Role) -> None: ...

    async def count_by_kind(self, kind: AccountKind) -> int: ...


class SessionRepository(Protocol):
    async def insert(self, session: Session) -> None: ...

    async def get_by_token_hash(self, token_hash: bytes) -> Session | None: ...

    async def get(self, session_id: int) -> Session | None: ...

    async def list_active(self, user_id: int, now: float) -> list[Session]: ...

    async def revoke(self, session_id: int, now: float) -> bool:
        """Mark revoked; True if it was active."""
        ...

    async def revoke_all(self, user_id: int, now: float, *, except_id: int | None = None) -> list[int]:
        """Revoke every active session of a user; returns the ids revoked."""
        ...

    async def touch(self, session_id: int, now: float) -> None: ...


class DeviceRepository(Protocol):
    async def insert(self, device: Device) -> None: ...

    async def get_by_token_hash(self, token_hash: bytes) -> Device | None: ...

    async def revoke_for_user(self, user_id: int, now: float) -> None: ...


class Transaction(Protocol):
    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def devices(self) -> DeviceRepository: ...


class Storage(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction, None]:
        """A unit of work: commits when the block ends normally, rolls back on an exception."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------- security


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...
