"""A ban that commits while ``roulette.start`` is under way still keeps the person out of Roulette.

The ban's expel runs when the session is not in Roulette yet, so the start handler checks again
once the session is in, and leaves at once if a ban now holds."""

from __future__ import annotations

from typing import Any

import pytest

from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.gateway.routes_roulette import register_roulette_methods
from palaver.domain.accounts import Role
from palaver.domain.moderation import Ban
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden
from palaver.ids import SnowflakeIds
from palaver.services.moderation import ModerationPolicy, ModerationService
from palaver.services.moderation.serialize import ban_json
from palaver.services.roulette import RouletteService
from tests.integration.services.conftest import World


class BanDuringFirstCheck(ModerationService):
    """The real service; an admin's ban of ``target`` commits right after the first check passes."""

    target: Principal | None = None
    admin: Principal | None = None

    async def ensure_not_banned(self, principal: Principal) -> None:
        await super().ensure_not_banned(principal)
        if self.target == principal and self.admin is not None:
            admin, self.admin = self.admin, None
            await self.ban(admin, user_id=principal.user_id, reason_text="spam", duration_seconds=600)


@pytest.fixture
async def setup(world: World) -> tuple[RequestRouter, RouletteService, BanDuringFirstCheck]:
    roulette = RouletteService(broker=world.broker, clock=world.clock, ids=SnowflakeIds(world.clock))

    async def on_ban(user_id: int, ban: Ban) -> None:
        await roulette.expel(user_id, ban_json(ban))

    moderation = BanDuringFirstCheck(
        storage=world.storage,
        broker=world.broker,
        clock=world.clock,
        ids=SnowflakeIds(world.clock, node=2),
        policy=ModerationPolicy(),
        ip_hash_salt="test salt",
        on_ban=on_ban,
    )
    router = RequestRouter()
    register_roulette_methods(router, roulette, world.accounts, moderation)
    return router, roulette, moderation


async def call(router: RequestRouter, principal: Principal, method: str, **params: Any) -> Any:
    return await router.resolve(method).handler(principal, params)


async def test_a_ban_that_lands_during_start_takes_the_session_out_again(
    world: World, setup: tuple[RequestRouter, RouletteService, BanDuringFirstCheck]
) -> None:
    router, roulette, moderation = setup
    await world.accounts.register(username="warden", password="correct horse battery")
    await world.accounts.grant_role(None, username="warden", role=Role.ADMIN)
    admin = await world.accounts.authenticate(
        (await world.accounts.login(username="warden", password="correct horse battery")).session_token
    )
    waiting = await world.accounts.authenticate(
        (await world.accounts.continue_as_guest(device_token=None)).session_token
    )
    spammer = await world.accounts.authenticate(
        (await world.accounts.continue_as_guest(device_token=None)).session_token
    )
    assert (await call(router, waiting, "roulette.start", text_only=True))["state"] == "searching"

    moderation.target, moderation.admin = spammer, admin
    with pytest.raises(Forbidden) as refused:
        await call(router, spammer, "roulette.start", text_only=True)

    assert refused.value.code == "banned"
    assert moderation.admin is None  # the ban did land between the two checks
    assert (await roulette.status(spammer))["state"] == "stopped"
    assert (await roulette.status(waiting))["state"] == "searching"  # the pair made meanwhile ended
    assert roulette.check_invariants() == []
