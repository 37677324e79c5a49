from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.clock import ManualClock
from palaver.domain.turn import (
    IceServer,
    TurnCredential,
    check_ice_urls,
    credential_expiry,
    ice_servers,
    turn_credential,
    turn_password,
    turn_username,
)


def reference_password(secret: str, username: str) -> str:
    """The TURN REST API password, written out independently of the module under test."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def test_known_vector() -> None:
    # printf '%s' '1700003600:42' | openssl dgst -sha1 -hmac north -binary | base64
    assert turn_password("north", "1700003600:42") == "WO3ZFttCQxBYtA2Ohz7jjGcQStA="
    assert reference_password("north", "1700003600:42") == "WO3ZFttCQxBYtA2Ohz7jjGcQStA="


def test_credential_is_expiry_colon_user_and_hmac_sha1_of_it() -> None:
    clock = ManualClock(start=1_700_000_000.75)
    credential = turn_credential("north", 42, now=clock.now(), ttl_seconds=3600)
    assert credential == TurnCredential(
        username="1700003600:42", credential="WO3ZFttCQxBYtA2Ohz7jjGcQStA=", expires_at=1_700_003_600
    )


def test_expiry_moves_with_the_clock() -> None:
    clock = ManualClock(start=1_700_000_000.0)
    first = turn_credential("s", 7, now=clock.now(), ttl_seconds=600)
    clock.advance(90.9)
    second = turn_credential("s", 7, now=clock.now(), ttl_seconds=600)
    assert first.expires_at == 1_700_000_600
    assert second.expires_at == 1_700_000_690  # whole seconds, never later than now + ttl
    assert second.username == "1700000690:7"
    assert second.credential == reference_password("s", "1700000690:7")
    assert second.credential != first.credential


@given(
    secret=st.text(min_size=1, max_size=64),
    user_id=st.integers(min_value=1, max_value=2**63 - 1),
    now=st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
    ttl=st.integers(min_value=1, max_value=7 * 86400),
)
def test_credential_matches_reference(secret: str, user_id: int, now: float, ttl: int) -> None:
    credential = turn_credential(secret, user_id, now=now, ttl_seconds=ttl)
    expiry, _, user = credential.username.partition(":")
    assert user == str(user_id)
    assert int(expiry) == credential.expires_at
    assert 0 <= (now + ttl) - credential.expires_at < 1 + 1e-6  # whole seconds, rounded down
    assert credential.credential == reference_password(secret, credential.username)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        credential_expiry(0.0, 0)
    with pytest.raises(ValueError, match="secret"):
        turn_password("", "1:2")
    with pytest.raises(ValueError, match="user id"):
        turn_username("a:b", 1)
    with pytest.raises(ValueError, match="user id"):
        turn_username("", 1)


def test_ice_servers_put_credentials_only_on_turn() -> None:
    credential = turn_credential("s", 1, now=0.0, ttl_seconds=60)
    servers = ice_servers(
        ["stun:stun.example.org:3478"],
        ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
        credential,
    )
    assert servers == (
        IceServer(("stun:stun.example.org:3478",)),
        IceServer(
            ("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"),
            credential.username,
            credential.credential,
        ),
    )


def test_ice_servers_leave_out_what_is_not_configured() -> None:
    credential = turn_credential("s", 1, now=0.0, ttl_seconds=60)
    assert ice_servers([], [], None) == ()
    assert ice_servers(["stun:a:1"], [], None) == (IceServer(("stun:a:1",)),)
    assert ice_servers([], ["turn:a:1"], credential) == (
        IceServer(("turn:a:1",), credential.username, credential.credential),
    )
    with pytest.raises(ValueError, match="credential"):
        ice_servers([], ["turn:a:1"], None)


def test_urls_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="PALAVER_STUN_URLS"):
        check_ice_urls(["turn:a:1"], [])
    with pytest.raises(ValueError, match="PALAVER_TURN_URLS"):
        check_ice_urls([], ["stun:a:1"])
    with pytest.raises(ValueError, match="PALAVER_TURN_URLS"):
        check_ice_urls([], ["http://a"])
    with pytest.raises(ValueError, match="PALAVER_TURN_URLS"):
        check_ice_urls([], ["turn:"])


@pytest.mark.parametrize(
    ("urls", "username", "credential", "problem"),
    [
        ((), None, None, "at least one url"),
        (("turn:a:1",), None, None, "need a username"),
        (("stun:a:1",), "u", "c", "no credentials"),
        (("turn:a:1",), "u", None, "both"),
        (("ftp://a",), None, None, "not a stun"),
    ],
)
def test_ice_server_validates(
    urls: tuple[str, ...], username: str | None, credential: str | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        IceServer(urls, username, credential)
