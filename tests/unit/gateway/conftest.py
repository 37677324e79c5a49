"""Fixtures for the gateway's sans-io core: a manual clock and a connection factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.connection import GatewayConnection
from palaver.adapters.gateway.frames import FrameDecoder, FrameEncoder
from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal

PRINCIPAL = Principal(user_id=(1 << 62) + 7, session_id=(1 << 61) + 3, role=Role.USER)

ConnectionFactory = Callable[..., GatewayConnection]


def make_config(**overrides: object) -> GatewayConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": 0, "allowed_origins": frozenset()}
    values.update(overrides)
    return GatewayConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def new_connection(clock: ManualClock) -> ConnectionFactory:
    def factory(**overrides: object) -> GatewayConnection:
        return GatewayConnection(make_config(**overrides), FrameDecoder(), FrameEncoder(), clock.monotonic())

    return factory


@pytest.fixture
def ready_connection(new_connection: ConnectionFactory, clock: ManualClock) -> ConnectionFactory:
    """A connection that has authenticated as ``PRINCIPAL``."""

    def factory(**overrides: object) -> GatewayConnection:
        conn = new_connection(**overrides)
        conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
        assert conn.authenticated(PRINCIPAL, clock.monotonic()) is not None
        return conn

    return factory


@pytest.fixture
def principal() -> Principal:
    return PRINCIPAL
