"""The port the gateway authenticates session tokens through."""

from __future__ import annotations

from typing import Protocol

from palaver.domain.sessions import Principal


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal:
        """The session's principal; raises ``palaver.errors.Unauthenticated`` for a bad token."""
        ...
