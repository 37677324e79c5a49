from __future__ import annotations

import pytest

from palaver.adapters.gateway.origins import OriginPolicy


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # non-browser client
        ("https://chat.example.org", True),
        ("HTTPS://Chat.Example.org/", True),
        ("https://evil.example.org", False),
        ("http://chat.example.org", False),
        ("https://chat.example.org:8443", False),
        ("null", False),
        ("", False),
    ],
)
def test_origin_policy(origin: str | None, allowed: bool) -> None:
    policy = OriginPolicy(frozenset({"https://chat.example.org/", "http://127.0.0.1:8000"}))
    assert policy.allows(origin) is allowed
