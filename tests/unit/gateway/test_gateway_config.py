"""GatewayConfig validates its limits and its transport once, at start-up."""

from __future__ import annotations

import pytest

from palaver.adapters.gateway.config import GatewayConfig


def test_defaults_are_valid_and_use_the_event_loops_transport() -> None:
    config = GatewayConfig(host="127.0.0.1", port=0, allowed_origins=frozenset())
    assert config.transport == "uvloop"
    assert config.idle_timeout_seconds == 2 * config.heartbeat_seconds


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("transport", "asyncio", "transport"),
        ("read_buffer_bytes", 0, "read_buffer_bytes"),
        ("heartbeat_seconds", -1.0, "heartbeat_seconds"),
        ("port", 70000, "port"),
    ],
)
def test_bad_settings_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GatewayConfig(**({"host": "127.0.0.1", "port": 0, "allowed_origins": frozenset()} | {field: value}))  # type: ignore[arg-type]
