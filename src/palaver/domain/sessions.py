"""Login sessions and guest devices. Tokens are random secrets; only their hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass

from palaver.domain.accounts import Role


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    user_id: int
    token_hash: bytes
    created_at: float
    expires_at: float
    last_seen_at: float
    user_agent: str = ""
    revoked_at: float | None = None
    device_id: int | None = None  # the guest device signed in with
    ip_hash: bytes | None = None  # HMAC-SHA256(ip_hash_salt, sign-in IP address); never the address

    def is_active(self, now: float) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Device:
    """A guest's device: its token logs the guest back in without a password."""

    id: int
    user_id: int
    token_hash: bytes
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the result of authenticating a session token."""

    user_id: int
    session_id: int
    role: Role
