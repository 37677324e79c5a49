"""ICE servers and TURN REST API credentials, as coturn's ``use-auth-secret`` checks them. Pure.

The TURN REST API (draft-uberti-behave-turn-rest) lets a TURN server and an application share one
secret instead of a user table: the application hands each client a time-limited credential

    username   = "<expiry unix time>:<user id>"
    credential = base64(HMAC-SHA1(secret, username))

and coturn recomputes the HMAC from the username the client presents, refusing it once the expiry
in the username has passed. Nothing is stored; revoking means waiting for the expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass

STUN_SCHEMES = ("stun:", "stuns:")
TURN_SCHEMES = ("turn:", "turns:")
SEPARATOR = ":"  # coturn's default --rest-api-separator


def is_stun_url(url: str) -> bool:
    return url.startswith(STUN_SCHEMES) and len(url) > url.index(":") + 1


def is_turn_url(url: str) -> bool:
    return url.startswith(TURN_SCHEMES) and len(url) > url.index(":") + 1


@dataclass(frozen=True, slots=True)
class IceServer:
    """One entry of ``RTCConfiguration.iceServers``: STUN urls bare, TURN urls with credentials."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("an ICE server needs at least one url")
        if (self.username is None) != (self.credential is None):
            raise ValueError("give both a username and a credential, or neither")
        has_turn = any(is_turn_url(url) for url in self.urls)
        for url in self.urls:
            if not (is_stun_url(url) or is_turn_url(url)):
                raise ValueError(f"not a stun:, stuns:, turn: or turns: url: {url!r}")
        if has_turn and self.username is None:
            raise ValueError("TURN urls need a username and a credential")
        if not has_turn and self.username is not None:
            raise ValueError("STUN urls take no credentials")


@dataclass(frozen=True, slots=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int  # unix seconds


def credential_expiry(now: float, ttl_seconds: int) -> int:
    """The unix time at which a credential issued at ``now`` stops working."""
    if ttl_seconds <= 0:
        raise ValueError("the TURN credential lifetime must be positive")
    return math.floor(now) + ttl_seconds


def turn_username(user_id: int | str, expires_at: int) -> str:
    user = str(user_id)
    if not user or SEPARATOR in user:
        raise ValueError(f"a TURN user id must be non-empty and free of {SEPARATOR!r}")
    return f"{expires_at}{SEPARATOR}{user}"


def turn_password(secret: str, username: str) -> str:
    """``base64(HMAC-SHA1(secret, username))`` — the password coturn derives from the username."""
    if not secret:
        raise ValueError("the TURN secret must not be empty")
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_credential(secret: str, user_id: int | str, *, now: float, ttl_seconds: int) -> TurnCredential:
    expires_at = credential_expiry(now, ttl_seconds)
    username = turn_username(user_id, expires_at)
    return TurnCredential(username=username, credential=turn_password(secret, username), expires_at=expires_at)


def check_ice_urls(stun_urls: Iterable[str], turn_urls: Iterable[str]) -> None:
    """Raise ``ValueError`` when a configured url is of the wrong kind (a config error, at startup)."""
    for url in stun_urls:
        if not is_stun_url(url):
            raise ValueError(f"PALAVER_STUN_URLS takes stun: or stuns: urls, not {url!r}")
    for url in turn_urls:
        if not is_turn_url(url):
            raise ValueError(f"PALAVER_TURN_URLS takes turn: or turns: urls, not {url!r}")


def ice_servers(
    stun_urls: Iterable[str], turn_urls: Iterable[str], credential: TurnCredential | None
) -> tuple[IceServer, ...]:
    """The ICE servers to give one client: one bare STUN entry, one TURN entry with its credential.

    Either entry is left out when no url of its kind is configured.
    """
    stun, turn = tuple(stun_urls), tuple(turn_urls)
    check_ice_urls(stun, turn)
    servers: list[IceServer] = []
    if stun:
        servers.append(IceServer(stun))
    if turn:
        if credential is None:
            raise ValueError("TURN urls need a credential")
        servers.append(IceServer(turn, credential.username, credential.credential))
    return tuple(servers)
