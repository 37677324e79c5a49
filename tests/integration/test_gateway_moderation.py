"""Reports and bans in Roulette over the real gateway, as ``palaver serve`` wires them: three people
report the same person → that person is banned at once (``roulette.banned``, their partner is told,
``roulette.start`` refused with ``banned``); a reporter never meets the reported person again, not
even after a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_gateway_wiring import Client, Frame, Guest, gateway, guest
from tests.support.live_server import LiveServer, live_server

QUIET = {"PALAVER_CLASSIFIER": "off"}  # no snapshots here: no need to load the model


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server", extra_env=QUIET) as running:
        yield running


def named(name: str) -> Callable[[Frame], bool]:
    return lambda frame: bool(frame["event"] == name)


async def start(ws: Client, *languages: str) -> dict[str, Any]:
    result: dict[str, Any] = await ws.result("roulette.start", {"languages": list(languages), "text_only": True})
    return result


async def meet(reporter: Client, target: Client, *languages: str) -> str:
    """``reporter`` enters Roulette and meets ``target`` (who is waiting alone)."""
    reply = await start(reporter, *languages)
    assert reply["state"] == "paired", reply
    pair_id: str = reply["pair_id"]
    await target.event(lambda f: f["event"] == "roulette.matched" and f["data"]["pair_id"] == pair_id)
    return pair_id


def ended(pair_id: str) -> Callable[[Frame], bool]:
    return lambda frame: bool(frame["event"] == "roulette.partner_left" and frame["data"]["pair_id"] == pair_id)


def events(ws: Client, name: str) -> list[Frame]:
    return [f for f in ws.frames if f["type"] == "event" and f["event"] == name]


async def test_three_reports_ban_the_person_at_once(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http, AsyncExitStack() as stack:
        target, partner = await guest(http), await guest(http)
        reporters = [await guest(http) for _ in range(3)]
        target_ws = await stack.enter_async_context(gateway(server, target))
        assert await start(target_ws, "en", "fr") == {"state": "searching"}

        for n, reporter in enumerate(reporters[:2]):  # two reports: not yet a ban
            async with gateway(server, reporter) as ws:
                pair_id = await meet(ws, target_ws, "en")
                reply = await ws.result("roulette.report", {"pair_id": pair_id, "reason": "spam", "note": f"#{n}"})
                assert reply == {"state": "searching"}  # moved on at once; nobody else is waiting
                assert await ws.result("roulette.stop") == {"state": "stopped"}
                left = await target_ws.event(ended(pair_id))
                assert left["data"]["requeued"] is True
        assert await target_ws.result("roulette.status") == {"state": "searching"}
        me = await http.get("/api/v1/moderation/me", headers=target.headers)
        assert me.status_code == 200 and me.json() == {"ban": None}

        # The third reporter speaks only French, the next partner only English: when the third
        # report ends their pair, the target meets the partner at once — and is then banned.
        last_ws = await stack.enter_async_context(gateway(server, reporters[2]))
        partner_ws = await stack.enter_async_context(gateway(server, partner))
        pair_id = await meet(last_ws, target_ws, "fr")
        assert await start(partner_ws, "en") == {"state": "searching"}
        reply = await last_ws.result("roulette.report", {"pair_id": pair_id, "reason": "harassment"})
        assert reply == {"state": "searching"}

        banned = await target_ws.event(named("roulette.banned"))
        ban = banned["data"]["ban"]
        assert banned["topic"] == f"session:{target_ws.ready['session_id']}"
        assert (ban["user_id"], ban["reason"], ban["level"], ban["state"]) == (target.user_id, "reports", 1, "active")
        assert ban["ends_at"] - ban["starts_at"] == pytest.approx(600.0)
        matched = await partner_ws.event(named("roulette.matched"))
        left = await partner_ws.event(named("roulette.partner_left"))
        assert left["data"]["pair_id"] == matched["data"]["pair_id"]
        assert await partner_ws.result("roulette.status") == {"state": "searching"}
        assert await target_ws.result("roulette.status") == {"state": "stopped"}

        refused = await target_ws.call("roulette.start", {"languages": ["en"]})
        assert (refused["type"], refused["code"]) == ("err", "banned")
        assert await target_ws.result("roulette.status") == {"state": "stopped"}
        me = await http.get("/api/v1/moderation/me", headers=target.headers)
        assert me.json()["ban"]["id"] == ban["id"]
        assert len(events(target_ws, "roulette.banned")) == 1
        chat = await http.get("/api/v1/me", headers=target.headers)  # the Messenger stays usable
        assert chat.status_code == 200


async def test_a_bad_report_is_refused_and_changes_nothing(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http, AsyncExitStack() as stack:
        alice, bob = await guest(http), await guest(http)
        alice_ws = await stack.enter_async_context(gateway(server, alice))
        bob_ws = await stack.enter_async_context(gateway(server, bob))
        await start(alice_ws, "en")
        pair_id = await meet(bob_ws, alice_ws, "en")
        for params in (
            {},
            {"pair_id": pair_id},
            {"pair_id": pair_id, "reason": "ugly"},
            {"pair_id": pair_id, "reason": "spam", "note": "x" * 501},
            {"pair_id": int(pair_id), "reason": "spam"},
            {"pair_id": pair_id, "reason": "spam", "extra": 1},
        ):
            refused = await bob_ws.call("roulette.report", params)
            assert (refused["type"], refused["code"]) == ("err", "invalid_params"), params
        stranger = await bob_ws.call("roulette.report", {"pair_id": "12345", "reason": "spam"})
        assert (stranger["type"], stranger["code"]) == ("err", "not_in_pair")
        assert (await bob_ws.result("roulette.status"))["pair_id"] == pair_id  # still together
        assert events(alice_ws, "roulette.partner_left") == []


async def _report_once(server: LiveServer) -> tuple[Guest, Guest]:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        reporter, reported = await guest(http), await guest(http)
        async with gateway(server, reported) as reported_ws, gateway(server, reporter) as reporter_ws:
            await start(reported_ws, "en")
            pair_id = await meet(reporter_ws, reported_ws, "en")
            await reporter_ws.result("roulette.report", {"pair_id": pair_id, "reason": "other"})
            await reporter_ws.result("roulette.stop")
    return reporter, reported


async def test_a_reporter_never_meets_the_reported_person_again_even_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "server"
    with live_server(data, extra_env=QUIET) as first:
        reporter, reported = await _report_once(first)
    with live_server(data, extra_env=QUIET) as second:  # a new process: nobody met recently
        async with httpx.AsyncClient(base_url=second.http_url) as http, AsyncExitStack() as stack:
            reporter_ws = await stack.enter_async_context(gateway(second, reporter))
            reported_ws = await stack.enter_async_context(gateway(second, reported))
            assert await start(reporter_ws, "en") == {"state": "searching"}
            assert await start(reported_ws, "en") == {"state": "searching"}  # would meet without the block
            newcomer_ws = await stack.enter_async_context(gateway(second, await guest(http)))
            assert (await start(newcomer_ws, "en"))["state"] == "paired"  # others still meet them
