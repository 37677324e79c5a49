"""The origin check made at the WebSocket upgrade."""

from __future__ import annotations

from collections.abc import Iterable


def normalize_origin(origin: str) -> str:
    """``HTTPS://Chat.Example.org/`` → ``https://chat.example.org``."""
    return origin.strip().rstrip("/").lower()


class OriginPolicy:
    """Allows the listed browser origins, and requests without ``Origin`` (non-browser clients: they
    carry no victim's cookies, and the gateway authenticates by token anyway)."""

    __slots__ = ("_allowed",)

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(normalize_origin(o) for o in allowed)

    def allows(self, origin: str | None) -> bool:
        return origin is None or normalize_origin(origin) in self._allowed
