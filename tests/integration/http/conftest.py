from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from palaver.adapters.http.api import create_http_app
from palaver.ids import SnowflakeIds
from palaver.services.moderation import ModerationPolicy, ModerationService
from tests.integration.services.conftest import World, world

__all__ = ["world"]


@pytest.fixture
def moderation(world: World) -> ModerationService:
    """Trust & safety on the world's storage and clock, with the default thresholds and ladder."""
    return ModerationService(
        storage=world.storage,
        broker=world.broker,
        clock=world.clock,
        ids=SnowflakeIds(world.clock, node=2),
        policy=ModerationPolicy(),
        ip_hash_salt="test salt",
    )


@pytest.fixture
async def client(world: World, moderation: ModerationService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_http_app(
        accounts=world.accounts,
        storage=world.storage,
        broker=world.broker,
        registry=CollectorRegistry(),
        gateway_url="ws://127.0.0.1:1",
        moderation=moderation,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def guest(client: httpx.AsyncClient) -> dict[str, str]:
    """Sign in a new guest; returns the Authorization header."""
    response = await client.post("/api/v1/auth/guest", json={})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['session_token']}"}
