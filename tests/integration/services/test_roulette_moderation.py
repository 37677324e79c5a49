"""RouletteService's side of trust & safety: reporting a partner, expelling a banned user, blocks
loaded at start-up (in-memory broker, manual clock; no sleeping)."""

from __future__ import annotations

from typing import Any

import pytest

from palaver.errors import Forbidden
from tests.integration.services.test_roulette import Env, begin, env, paired, person, topic

__all__ = ["env"]

A, B, C, D = person(1), person(2), person(3), person(4)
BAN: dict[str, Any] = {"id": "77", "user_id": str(B.user_id), "reason": "reports", "state": "active"}


# --------------------------------------------------------------------------- report_target


async def test_reporting_the_current_partner_moves_on_and_names_the_partner(env: Env) -> None:
    pair_id = await paired(env, A, B, auto_next=False)
    await begin(env, C)  # waiting: the reporter meets C at once
    env.received.clear()
    target, reply = await env.service.report_target(A, pair_id=pair_id)
    assert target == B.user_id
    assert reply["state"] == "paired" and reply["partner"]["display_name"] == "User 3"
    assert env.received.on(topic(B)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": False})]
    assert [name for name, _ in env.received.on(topic(A))] == ["roulette.matched"]


async def test_the_reporter_never_meets_the_reported_person_again(env: Env) -> None:
    pair_id = await paired(env, A, B)
    target, reply = await env.service.report_target(A, pair_id=pair_id)
    assert (target, reply) == (B.user_id, {"state": "searching"})
    env.clock.advance(3600)  # past the recent-meetings window and every relaxation
    await env.service.tick()
    assert env.service.stats() == {"online": 2, "searching": 2, "paired": 0}
    await env.service.stop(B)
    assert await begin(env, B) == {"state": "searching"}  # a new session of B: still blocked
    assert (await begin(env, C))["state"] == "paired"  # others still meet


async def test_reporting_the_partner_who_just_left(env: Env) -> None:
    pair_id = await paired(env, A, B)
    await env.service.next(B)
    await env.service.stop(B)
    env.received.clear()
    target, reply = await env.service.report_target(A, pair_id=pair_id)
    assert (target, reply) == (B.user_id, {"state": "searching"})
    assert env.received.events == []  # nothing to end, nobody to tell
    env.clock.advance(3600)
    assert await begin(env, B) == {"state": "searching"}


async def test_reporting_a_pair_one_was_not_in_is_not_in_pair(env: Env) -> None:
    pair_id = await paired(env, A, B)
    for who, pid in ((C, pair_id), (A, "42"), (A, ""), (D, "42")):
        with pytest.raises(Forbidden) as exc:
            await env.service.report_target(who, pair_id=pid)
        assert exc.value.code == "not_in_pair"
    await begin(env, C)
    with pytest.raises(Forbidden):
        await env.service.report_target(C, pair_id=pair_id)
    assert env.service.stats() == {"online": 3, "searching": 1, "paired": 2}  # nothing changed


# --------------------------------------------------------------------------- expel


async def test_expel_ends_the_pair_and_tells_every_session_of_the_banned_user(env: Env) -> None:
    b_tab = person(2, session=2002)
    await env.listen(topic(b_tab))
    pair_id = await paired(env, A, B, text_only=False)
    await begin(env, b_tab)  # a second tab of B, waiting
    env.received.clear()
    await env.service.expel(B.user_id, BAN)
    assert env.received.on(topic(A)) == [("roulette.partner_left", {"pair_id": pair_id, "requeued": True})]
    for session in (B, b_tab):
        assert env.received.on(topic(session)) == [("roulette.banned", {"ban": BAN})]
    assert env.service.stats() == {"online": 1, "searching": 1, "paired": 0}
    assert await env.service.status(B) == {"state": "stopped"}
    assert await env.service.status(b_tab) == {"state": "stopped"}
    assert await env.service.status(A) == {"state": "searching"}


async def test_partner_of_an_expelled_user_meets_the_next_person(env: Env) -> None:
    await paired(env, A, B)
    await begin(env, C)
    await env.service.expel(B.user_id, BAN)
    # A was requeued when the pair ended and C was waiting: they meet at once
    assert (await env.service.status(A))["state"] == "paired"
    assert (await env.service.status(C))["partner"]["display_name"] == "User 1"


async def test_expel_of_someone_not_in_roulette_does_nothing(env: Env) -> None:
    await paired(env, A, C)
    await env.service.expel(B.user_id, BAN)
    assert env.received.events == []
    assert env.service.stats() == {"online": 2, "searching": 0, "paired": 2}


async def test_an_expelled_user_may_start_again_once_roulette_is_told_nothing_else(env: Env) -> None:
    """Refusing a banned user is the gateway's job (``ensure_not_banned`` before ``start``): the
    Roulette service forgets an expelled user completely, so an unbanned one can come back."""
    await paired(env, A, B)
    await env.service.expel(B.user_id, BAN)
    await env.service.expel(B.user_id, BAN)  # idempotent
    assert (await begin(env, B))["state"] in ("searching", "paired")


# --------------------------------------------------------------------------- blocks loaded at start-up


async def test_blocks_loaded_at_start_up_are_respected(env: Env) -> None:
    await env.service.load_blocks([(A.user_id, B.user_id), (C.user_id, A.user_id)])
    await begin(env, A)
    assert await begin(env, B) == {"state": "searching"}
    assert (await begin(env, C))["partner"]["display_name"] == "User 2"  # not A, who waited longer
    assert (await begin(env, D))["partner"]["display_name"] == "User 1"
