"""Argon2id password hashing (argon2-cffi, RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY


class Argon2Hasher:
    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        profile = RFC_9106_LOW_MEMORY
        self._hasher = _Argon2(
            time_cost=time_cost or profile.time_cost,
            memory_cost=memory_cost or profile.memory_cost,
            parallelism=profile.parallelism,
            hash_len=profile.hash_len,
            salt_len=profile.salt_len,
        )

    def hash(self, password: str) -> str:
        return str(self._hasher.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return bool(self._hasher.check_needs_rehash(password_hash))
