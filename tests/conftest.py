"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import postgres_database
from tests.support.live_server import LiveServer
from tests.support.live_server import live_server as _live_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test worker's own, dropped at the end."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """``palaver serve`` on free ports with the embedded defaults (SQLite, in-memory broker)."""
    with _live_server(tmp_path / "server") as server:
        yield server
