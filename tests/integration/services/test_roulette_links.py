"""Brand-new guests cannot send links in Roulette's text chat (spam bots); everyone else can."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.gateway.routes_roulette import register_roulette_methods
from palaver.domain.links import may_send_links
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden, RateLimited
from palaver.ids import SnowflakeIds
from palaver.services.moderation import ModerationPolicy, ModerationService
from palaver.services.roulette import RoulettePolicy, RouletteService
from tests.integration.services.conftest import Recorder, World

BLOCK = 86400.0


@dataclass
class Env:
    world: World
    roulette: RouletteService
    router: RequestRouter
    received: Recorder

    async def call(self, principal: Principal, method: str, **params: Any) -> Any:
        route = self.router.resolve(method)
        return await route.handler(principal, params)

    def chats_to(self, principal: Principal) -> list[str]:
        topic = f"session:{principal.session_id}"
        frames = [msgspec.json.decode(p) for t, p in self.received.messages if t == topic]
        return [f["data"]["text"] for f in frames if f["event"] == "roulette.chat"]


@pytest.fixture
async def env(world: World) -> Env:
    roulette = RouletteService(
        broker=world.broker, clock=world.clock, ids=SnowflakeIds(world.clock), policy=RoulettePolicy(chat_burst=3)
    )
    router = RequestRouter()
    moderation = ModerationService(
        storage=world.storage,
        broker=world.broker,
        clock=world.clock,
        ids=SnowflakeIds(world.clock, node=2),
        policy=ModerationPolicy(),
        ip_hash_salt="test salt",
    )
    register_roulette_methods(
        router, roulette, world.accounts, moderation, clock=world.clock, new_guest_link_block_seconds=BLOCK
    )
    return Env(world, roulette, router, Recorder())


async def guest(env: Env) -> Principal:
    signed = await env.world.accounts.continue_as_guest(device_token=None)
    principal = await env.world.accounts.authenticate(signed.session_token)
    await env.world.broker.subscribe(f"session:{principal.session_id}", env.received)
    return principal


async def registered(env: Env, username: str) -> Principal:
    signed = await env.world.accounts.register(username=username, password="correct horse battery")
    principal = await env.world.accounts.authenticate(signed.session_token)
    await env.world.broker.subscribe(f"session:{principal.session_id}", env.received)
    return principal


async def pair_up(env: Env, a: Principal, b: Principal) -> str:
    await env.call(a, "roulette.start", languages=["en"])
    reply = await env.call(b, "roulette.start", languages=["en"])
    assert reply["state"] == "paired"
    pair_id: str = reply["pair_id"]
    return pair_id


async def test_a_new_guest_cannot_send_links_but_can_chat(env: Env) -> None:
    newbie, other = await guest(env), await registered(env, "alice")
    pair_id = await pair_up(env, newbie, other)
    for text in ["join t.me/freestuff", "https://example.org", "visit example．com", "www.spam"]:
        with pytest.raises(Forbidden) as caught:
            await env.call(newbie, "roulette.chat", pair_id=pair_id, text=text)
        assert caught.value.code == "links_not_allowed"
    await env.call(newbie, "roulette.chat", pair_id=pair_id, text="hi, e.g. from 3.14 land")
    await env.call(other, "roulette.chat", pair_id=pair_id, text="my site is example.com")
    assert env.chats_to(other) == ["hi, e.g. from 3.14 land"]  # the refused ones never arrived
    assert env.chats_to(newbie) == ["my site is example.com"]


async def test_an_older_guest_may_send_links_from_their_next_start(env: Env) -> None:
    newbie, other = await guest(env), await guest(env)
    pair_id = await pair_up(env, newbie, other)
    env.world.clock.advance(BLOCK + 1)
    with pytest.raises(Forbidden):  # decided when Roulette was started
        await env.call(newbie, "roulette.chat", pair_id=pair_id, text="example.com")
    await env.call(newbie, "roulette.stop")
    await env.call(other, "roulette.stop")
    third = await guest(env)  # (two people who just met are not paired again at once)
    pair_id = await pair_up(env, newbie, third)
    await env.call(newbie, "roulette.chat", pair_id=pair_id, text="example.com")
    assert env.chats_to(third) == ["example.com"]
    with pytest.raises(Forbidden):  # the newly arrived guest, though, may not
        await env.call(third, "roulette.chat", pair_id=pair_id, text="and mine: example.org")


async def test_the_chat_rate_limit_still_applies(env: Env) -> None:
    a, b = await registered(env, "alice"), await registered(env, "bob_b")
    pair_id = await pair_up(env, a, b)
    for n in range(3):
        await env.call(a, "roulette.chat", pair_id=pair_id, text=f"message {n}")
    with pytest.raises(RateLimited) as caught:
        await env.call(a, "roulette.chat", pair_id=pair_id, text="one too many")
    assert caught.value.code == "chat_rate_limited"


async def test_the_service_default_allows_links(env: Env) -> None:
    """Callers that do not say (other transports, tests) leave links allowed."""
    a, b = await guest(env), await guest(env)
    for p in (a, b):
        await env.roulette.start(p, languages=["en"], interests=[], text_only=False, display_name="Someone")
    pair = await env.roulette.status(a)
    await env.roulette.send_chat(a, pair_id=pair["pair_id"], text="example.com")
    assert env.chats_to(b) == ["example.com"]


async def test_may_send_links_rule(env: Env) -> None:
    newbie = await env.world.accounts.me(await guest(env))
    member = await env.world.accounts.me(await registered(env, "carol"))
    now = env.world.clock.now()
    assert not may_send_links(newbie, now=now, guest_block_seconds=BLOCK)
    assert not may_send_links(newbie, now=now + BLOCK - 1, guest_block_seconds=BLOCK)
    assert may_send_links(newbie, now=now + BLOCK, guest_block_seconds=BLOCK)
    assert may_send_links(newbie, now=now, guest_block_seconds=0)
    assert may_send_links(member, now=now, guest_block_seconds=BLOCK)
