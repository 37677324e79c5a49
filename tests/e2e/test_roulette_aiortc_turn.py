"""A Roulette call between a browser and a scripted aiortc peer, relayed by a real coturn.

Both sides allow relay candidates only: the browser because the page honours the
``palaver.iceTransportPolicy`` = ``relay`` switch in localStorage, aiortc through its configuration.
The TURN credentials come from ``palaver serve``'s ICE endpoint, signed with the secret coturn shares.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, strings
from tests.support.coturn import Coturn, coturn
from tests.support.live_server import LiveServer, live_server
from tests.support.webrtc import (
    FRAMES_DECODED_JS,
    SELECTED_PAIR_JS,
    AiortcRoulettePeer,
    GatewayClient,
    guest_token,
    rtc_configuration,
)

pytestmark = pytest.mark.browser

EN = strings("en")
TIMEOUT = 30.0
RELAY_ONLY = "localStorage.setItem('palaver.iceTransportPolicy', 'relay');"


@pytest.fixture
def turn() -> Iterator[Coturn]:
    with coturn(secret=secrets.token_urlsafe(32)) as server:
        yield server


@pytest.fixture
def relay_server(turn: Coturn, tmp_path: Path) -> Iterator[LiveServer]:
    env = {"PALAVER_TURN_SECRET": turn.secret, "PALAVER_TURN_URLS": json.dumps(turn.turn_urls)}
    with live_server(tmp_path / "server", extra_env=env) as server:
        yield server


@pytest.fixture
async def page(relay_server: LiveServer) -> AsyncIterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail("needs Debian chromium: run scripts/install-system-deps.sh (make test does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
            await context.add_init_script(RELAY_ONLY)
            page = await context.new_page()
            await page.goto(f"{relay_server.http_url}/roulette")
            await page.wait_for_selector("html[data-ready='true']")
            yield page
        finally:
            await browser.close()


async def poll(page: Page, script: str, predicate: Any) -> Any:
    while True:
        value = await page.evaluate(script)
        if predicate(value):
            return value
        await asyncio.sleep(0.2)


async def test_browser_and_aiortc_talk_through_coturn_only(relay_server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
    await page.get_by_role("button", name=EN["roulette.action.start"], exact=True).click()
    await page.get_by_label(EN["roulette.terms.confirm"]).check()
    await page.get_by_role("button", name=EN["roulette.terms.accept"]).click()
    status = page.get_by_test_id("roulette-status")
    await expect(status).to_have_text(EN["roulette.status.searching"])

    token = await guest_token(relay_server.http_url)
    configuration = await rtc_configuration(relay_server.http_url, token, relay=True)
    assert any(server.username for server in configuration.iceServers), "the server hands out TURN credentials"
    gateway = await GatewayClient.connect(relay_server.gateway_url, token)
    peer = AiortcRoulettePeer(gateway, configuration)
    try:
        async with asyncio.timeout(TIMEOUT):
            matched = await peer.start()
            assert matched["role"] in ("offerer", "answerer")
            await expect(status).to_have_text(EN["roulette.status.connected"], timeout=TIMEOUT * 1000)
            assert await page.evaluate("window.__palaver.roulette.pairId") == peer.pair_id

            # The browser decodes aiortc's test pattern; aiortc decodes the browser's fake camera.
            assert await poll(page, FRAMES_DECODED_JS, lambda frames: frames > 0) > 0
            assert await peer.first_frame() > 0

        route = await page.evaluate(SELECTED_PAIR_JS)
        assert (route["local"], route["remote"]) == ("relay", "relay"), route
        assert peer.selected_pair_types() == ("relay", "relay")
        policy = await page.evaluate("window.__palaver.roulette.pc.getConfiguration().iceTransportPolicy")
        assert policy == "relay"

        # aiortc leaves; the browser hears it, closes the call and searches again (auto-next).
        await gateway.request("roulette.stop")
        await expect(status).to_have_text(EN["roulette.status.partner_left_searching"])
        assert await page.evaluate("window.__palaver.roulette.pc") is None
    finally:
        await peer.close()
    assert errors == []
