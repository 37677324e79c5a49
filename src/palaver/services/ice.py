"""ICE servers for a roulette call: STUN urls, and TURN urls with a fresh time-limited credential."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from palaver.domain.sessions import Principal
from palaver.domain.turn import IceServer, check_ice_urls, credential_expiry, ice_servers, turn_credential
from palaver.ports import Clock


def ice_server_json(server: IceServer) -> dict[str, Any]:
    """The shape of a browser's ``RTCIceServer``; only TURN entries carry ``username``/``credential``."""
    body: dict[str, Any] = {"urls": list(server.urls)}
    if server.username is not None:
        body["username"] = server.username
        body["credential"] = server.credential
    return body


class IceService:
    """Hands out ICE server lists. Stateless: coturn checks the credential with the shared secret."""

    def __init__(
        self,
        clock: Clock,
        *,
        turn_secret: str,
        stun_urls: Sequence[str] = (),
        turn_urls: Sequence[str] = (),
        ttl_seconds: int = 3600,
    ) -> None:
        check_ice_urls(stun_urls, turn_urls)
        if turn_urls and not turn_secret:
            raise ValueError("TURN urls are configured but the TURN secret is empty")
        credential_expiry(0.0, ttl_seconds)  # validates the lifetime
        self._clock = clock
        self._secret = turn_secret
        self._stun_urls = tuple(stun_urls)
        self._turn_urls = tuple(turn_urls)
        self._ttl = ttl_seconds

    @property
    def has_turn(self) -> bool:
        return bool(self._turn_urls)

    def ice_servers(self, principal: Principal) -> dict[str, Any]:
        """``{"ice_servers": [...], "ttl": seconds, "expires_at": unix}``; fetch again before it expires."""
        now = self._clock.now()
        credential = (
            turn_credential(self._secret, principal.user_id, now=now, ttl_seconds=self._ttl)
            if self._turn_urls
            else None
        )
        servers = ice_servers(self._stun_urls, self._turn_urls, credential)
        expires_at = credential.expires_at if credential else credential_expiry(now, self._ttl)
        return {
            "ice_servers": [ice_server_json(server) for server in servers],
            "ttl": self._ttl,
            "expires_at": expires_at,
        }
