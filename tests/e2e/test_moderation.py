"""Trust & safety in a real browser against a real server: Report, the ban page, the console.

The person under test uses Roulette in Chromium (text only: no video needed); the people who meet
and report them are scripted gateway clients (tests/support/gateway_client.py). A moderator is a
registered user given the role with ``palaver admin grant``, as an operator would.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.support.browser import ContextFactory, local_storage, open_page, strings
from tests.support.gateway_client import GatewayClient, new_guest
from tests.support.live_server import LiveServer
from tests.support.live_server import live_server as start_live_server

pytestmark = pytest.mark.browser

EN, AR = strings("en"), strings("ar")
TEXT_ONLY = {"text_only": True, "auto_next": True}


def status(page: Page) -> Any:
    return page.get_by_test_id("roulette-status")


def start_text_only(page: Page, *, first_time: bool = True) -> None:
    """As a guest on /roulette, start in text-only mode (accepting the rules the first time)."""
    if first_time:
        page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
        expect(status(page)).to_have_text(EN["roulette.status.idle"])
    text_only = page.get_by_label(EN["roulette.prefs.text_only"])
    if not text_only.is_checked():
        text_only.check()
    page.get_by_role("button", name=EN["roulette.action.start"], exact=True).click()
    if first_time:
        dialog = page.get_by_role("dialog", name=EN["roulette.terms.title"])
        dialog.get_by_label(EN["roulette.terms.confirm"]).check()
        dialog.get_by_role("button", name=EN["roulette.terms.accept"]).click()
    expect(status(page)).to_have_text(EN["roulette.status.searching"])


def meet(client: GatewayClient) -> str:
    """Start Roulette (text only) and wait for a partner; the pair's id."""
    reply = client.request("roulette.start", TEXT_ONLY)
    if reply["state"] != "paired":
        reply = client.wait_event("roulette.matched")
    return str(reply["pair_id"])


def register(live_server: LiveServer, username: str) -> dict[str, Any]:
    response = httpx.post(
        f"{live_server.http_url}/api/v1/auth/register",
        json={"username": username, "password": "correct horse battery staple"},
        timeout=10.0,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def grant(live_server: LiveServer, username: str, role: str) -> None:
    """``palaver admin grant`` against the live server's database, as an operator would."""
    subprocess.run(
        [sys.executable, "-m", "palaver", "admin", "grant", username, role],
        env=live_server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )


def staff_context(new_context: ContextFactory, token: str) -> BrowserContext:
    """A browser already signed in with `token` (a moderator's session)."""
    context = new_context("en-US")
    context.add_init_script(f"localStorage.setItem('palaver.session_token', {token!r});")
    return context


def test_three_reports_ban_then_a_moderator_lifts_it(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    page = open_page(new_context("en-US"), f"{live_server.http_url}/roulette", errors)
    start_text_only(page)

    # Three strangers meet the person in turn, and each reports them.
    for number in range(3):
        guest = new_guest(live_server.http_url)
        with GatewayClient(live_server.gateway_url, guest["session_token"]) as reporter:
            pair_id = meet(reporter)
            if number < 2:
                expect(status(page)).to_have_text(EN["roulette.status.connected_text"])
            reporter.request("roulette.report", {"pair_id": pair_id, "reason": "harassment", "note": f"#{number}"})
            reporter.request("roulette.stop")
        if number < 2:
            expect(status(page)).to_have_text(EN["roulette.status.partner_left_searching"])

    # The third report reaches the threshold: the page shows the ban at once.
    expect(page).to_have_url(f"{live_server.http_url}/banned")
    expect(page.get_by_role("heading", name=EN["banned.title"])).to_be_visible()
    expect(page.get_by_test_id("ban-reason")).to_have_text(EN["banned.reason.reports"])
    remaining = page.get_by_test_id("ban-remaining")
    expect(remaining).to_have_attribute("data-seconds", re.compile(r"^(5\d\d|600)$"))
    expect(remaining).not_to_be_empty()
    first = int(remaining.get_attribute("data-seconds") or "0")
    page.wait_for_function(f"Number(document.querySelector('[data-testid=ban-remaining]').dataset.seconds) < {first}")
    # Messenger stays usable: the page says so; and the appeal form is there.
    expect(page.get_by_text(EN["banned.messenger_ok"])).to_be_visible()
    page.get_by_label(EN["banned.appeal.label"]).fill("I was only talking about the weather.")
    page.get_by_role("button", name=EN["banned.appeal.send"]).click()
    expect(page.get_by_test_id("appeal-state")).to_contain_text(EN["banned.appeal.state.open"])

    # Roulette itself sends a banned person to the ban page (GET /moderation/me on load).
    page.goto(f"{live_server.http_url}/roulette")
    expect(page).to_have_url(f"{live_server.http_url}/banned")
    expect(page.get_by_role("heading", name=EN["banned.title"])).to_be_visible()

    # A moderator finds the ban in the console and lifts it.
    moderator = register(live_server, "mod_maria")
    grant(live_server, "mod_maria", "moderator")
    console = open_page(staff_context(new_context, moderator["session_token"]), f"{live_server.http_url}/", errors)
    console.get_by_role("link", name=EN["nav.admin"]).click()
    expect(console.get_by_role("heading", name=EN["admin.title"], level=1)).to_be_visible()
    # First the appeal: rejected, with a note.
    console.get_by_role("link", name=EN["admin.tab.appeals"]).click()
    appeal = console.get_by_test_id("appeal-item")
    expect(appeal).to_have_count(1)
    expect(appeal).to_contain_text("I was only talking about the weather.")
    appeal.get_by_label(EN["admin.appeal.note"]).fill("Three people said otherwise.")
    appeal.get_by_role("button", name=EN["admin.action.reject"]).click()
    expect(console.get_by_test_id("admin-message")).to_have_text(EN["admin.done.rejected"])
    expect(console.get_by_test_id("appeal-item")).to_have_count(0)
    console.get_by_role("link", name=EN["admin.tab.bans"]).click()
    ban = console.get_by_test_id("ban-item")
    expect(ban).to_have_count(1)
    expect(ban).to_contain_text(EN["admin.reason.reports"])
    expect(ban).not_to_contain_text("null")
    expect(console.get_by_role("button", name=EN["admin.older"])).to_be_hidden()  # one page only
    expect(ban).to_contain_text(EN["admin.ban_appeal.rejected"])
    ban.get_by_role("button", name=EN["admin.action.unban"]).click()
    dialog = console.get_by_role("dialog", name=EN["admin.unban.dialog_title"])
    dialog.get_by_label(EN["admin.unban.note"]).fill("Benefit of the doubt.")
    dialog.get_by_role("button", name=EN["admin.action.unban"]).click()
    expect(console.get_by_test_id("admin-message")).to_have_text(EN["admin.done.unbanned"])
    expect(console.get_by_test_id("ban-item")).to_have_count(0)
    expect(console.get_by_text(EN["admin.empty.bans"])).to_be_visible()

    # Back on the first page: no ban any more, and Roulette starts again.
    page.reload()
    expect(page.get_by_role("heading", name=EN["banned.none_title"])).to_be_visible()
    page.get_by_role("link", name=EN["banned.back_to_roulette"]).click()
    start_text_only(page, first_time=False)
    assert errors == []


def test_report_button_dialog_and_the_reports_queue(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    page = open_page(new_context("en-US"), f"{live_server.http_url}/roulette", errors)
    start_text_only(page)
    shortcuts = page.locator(".roulette-shortcuts")
    expect(shortcuts).to_contain_text(EN["roulette.shortcuts.report"])

    guest = new_guest(live_server.http_url)
    with GatewayClient(live_server.gateway_url, guest["session_token"]) as stranger:
        pair_id = meet(stranger)
        expect(status(page)).to_have_text(EN["roulette.status.connected_text"])
        report = page.get_by_role("button", name=EN["roulette.action.report"], exact=True)
        expect(report).to_be_enabled()

        # The R shortcut opens the dialog; sending without a reason is refused.
        page.locator("h1").click()
        page.keyboard.press("r")
        dialog = page.get_by_role("dialog", name=EN["roulette.report.title"])
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=EN["roulette.report.send"]).click()
        expect(dialog.get_by_role("alert")).to_have_text(EN["roulette.report.choose_reason"])
        dialog.get_by_label(EN["roulette.report.reason.spam"]).check()
        dialog.get_by_label(EN["roulette.report.note"]).fill("Sends the same link again and again")
        dialog.get_by_role("button", name=EN["roulette.report.send"]).click()
        expect(dialog).to_be_hidden()

        # The page moves on at once, with a thank-you; the stranger sees their partner leave.
        expect(status(page)).to_have_text(EN["roulette.status.reported"])
        left = stranger.wait_event("roulette.partner_left")
        assert left["pair_id"] == pair_id
        assert page.evaluate("window.__palaver.roulette.pairId") is None
        stranger.request("roulette.stop")

    # One report bans nobody; a moderator sees it in the console's queue and dismisses it.
    assert page.get_by_test_id("roulette-status").is_visible()
    moderator = register(live_server, "mod_omar")
    grant(live_server, "mod_omar", "moderator")
    console = open_page(staff_context(new_context, moderator["session_token"]), f"{live_server.http_url}/admin", errors)
    item = console.get_by_test_id("report-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(EN["roulette.report.reason.spam"])
    expect(item).to_contain_text("Sends the same link again and again")
    expect(item).to_contain_text(guest["user"]["display_name"])
    # Moderators have no audit log tab (admins only).
    expect(console.get_by_role("link", name=EN["admin.tab.audit"])).to_have_count(0)

    # Ban the reported stranger from the report, for 1 hour; then extend it by an hour.
    item.get_by_role("button", name=EN["admin.action.ban_user"]).click()
    dialog = console.get_by_role("dialog", name=EN["admin.ban.dialog_title"])
    expect(dialog.get_by_label(EN["admin.ban.duration"])).not_to_contain_text(EN["admin.duration.indefinite"])
    dialog.get_by_label(EN["admin.ban.duration"]).select_option(label=EN["admin.duration.1h"])
    dialog.get_by_label(EN["admin.ban.reason_text"]).fill("Spam links")
    dialog.get_by_role("button", name=EN["admin.action.ban"]).click()
    expect(console.get_by_test_id("admin-message")).to_have_text(EN["admin.done.banned"])
    console.get_by_role("link", name=EN["admin.tab.bans"]).click()
    ban = console.get_by_test_id("ban-item")
    expect(ban).to_have_count(1)
    expect(ban).to_contain_text("Spam links")
    assert ban.get_attribute("data-user-id") == guest["user"]["id"]
    ends = banned_until(live_server, guest["session_token"])
    ban.get_by_role("button", name=EN["admin.adjust.plus_1h"]).click()
    expect(console.get_by_test_id("admin-message")).to_have_text(EN["admin.done.adjusted"])
    assert banned_until(live_server, guest["session_token"]) == pytest.approx(ends + 3600, abs=1)

    # The report itself is still open (banning is a separate action): dismiss it.
    console.get_by_role("link", name=EN["admin.tab.reports"]).click()
    item = console.get_by_test_id("report-item")
    item.get_by_role("button", name=EN["admin.action.dismiss"]).click()
    expect(console.get_by_test_id("admin-message")).to_have_text(EN["admin.done.dismissed"])
    expect(console.get_by_test_id("report-item")).to_have_count(0)
    assert errors == []


def test_the_console_is_for_staff_only(live_server: LiveServer, new_context: ContextFactory) -> None:
    """A guest (here in Arabic, right to left) has no Moderation link and is told so at /admin."""
    page = open_page(new_context("ar"), f"{live_server.http_url}/roulette")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("button", name=AR["auth.continue_as_guest"]).click()
    expect(status(page)).to_have_text(AR["roulette.status.idle"])
    expect(page.locator(".roulette-shortcuts")).to_contain_text(AR["roulette.shortcuts.report"])
    expect(page.get_by_role("link", name=AR["nav.admin"])).to_be_hidden()
    page.goto(f"{live_server.http_url}/admin")
    expect(page.get_by_test_id("admin-not-allowed")).to_be_visible()
    expect(page.get_by_role("heading", name=AR["admin.not_allowed_title"])).to_be_visible()
    token = local_storage(page, "palaver.session_token")
    forbidden = httpx.get(
        f"{live_server.http_url}/api/v1/admin/reports", headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    )
    assert forbidden.status_code == 403


def test_a_flagged_snapshot_bans_and_reaches_the_frames_queue(tmp_path: Path, new_context: ContextFactory) -> None:
    """With the classifier threshold at 1e-9 every frame is flagged: the first snapshot bans."""
    errors: list[str] = []
    with start_live_server(tmp_path / "server", extra_env={"PALAVER_CLASSIFIER_THRESHOLD": "1e-9"}) as server:
        context = new_context("en-US")
        page = open_page(context, f"{server.http_url}/roulette", errors)
        snapshots: list[Request] = []
        page.on("request", lambda request: snapshots.append(request) if "/roulette/snapshots" in request.url else None)
        page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
        page.get_by_role("button", name=EN["roulette.action.start"], exact=True).click()
        dialog = page.get_by_role("dialog", name=EN["roulette.terms.title"])
        dialog.get_by_label(EN["roulette.terms.confirm"]).check()
        dialog.get_by_role("button", name=EN["roulette.terms.accept"]).click()
        expect(status(page)).to_have_text(EN["roulette.status.searching"])

        guest = new_guest(server.http_url)
        with GatewayClient(server.gateway_url, guest["session_token"]) as stranger:
            pair_id = meet_on_camera(stranger)
            # The page sends a frame of its own camera at once, and is banned for it.
            expect(page).to_have_url(f"{server.http_url}/banned", timeout=20_000)
            assert stranger.wait_event("roulette.partner_left")["pair_id"] == pair_id
        expect(page.get_by_test_id("ban-reason")).to_have_text(EN["banned.reason.nudity_detected"])
        # A first ban lasts 10 minutes: with the page's clock moved on, the countdown ends and offers
        # Roulette again (the browser's fake clock; nobody waits).
        page.clock.install()
        page.reload()
        expect(page.get_by_test_id("ban-over")).to_be_hidden()
        page.clock.fast_forward(601_000)
        expect(page.get_by_test_id("ban-remaining")).to_have_text(EN["banned.ended"])
        expect(page.get_by_test_id("ban-over").get_by_role("link", name=EN["banned.back_to_roulette"])).to_be_visible()
        assert len(snapshots) == 1
        sent = snapshots[0]
        assert sent.method == "POST"
        assert f"pair_id={pair_id}" in sent.url
        assert sent.headers["content-type"] == "image/jpeg"
        # An admin sees the frame as evidence, and the automatic ban in the audit log.
        admin = register(server, "admin_ada")
        grant(server, "admin_ada", "admin")
        console = open_page(
            staff_context(new_context, admin["session_token"]), f"{server.http_url}/admin?tab=frames", errors
        )
        frame = console.get_by_test_id("frame-item")
        expect(frame).to_have_count(1)
        image_element = frame.get_by_role("img")
        expect(image_element).to_have_attribute("src", re.compile(r"^blob:"))
        console.wait_for_function("document.querySelector('.mod-frame img')?.naturalWidth === 320")
        # The evidence is the JPEG the page sent: 320×240 of its own camera.
        frame_id = frame.get_attribute("data-id")
        evidence = httpx.get(
            f"{server.http_url}/api/v1/admin/frames/{frame_id}/image",
            headers={"Authorization": f"Bearer {admin['session_token']}"},
            timeout=10.0,
        )
        assert evidence.headers["content-type"] == "image/jpeg"
        assert evidence.content[:3] == b"\xff\xd8\xff"
        with Image.open(io.BytesIO(evidence.content)) as image:
            assert image.size == (320, 240)
        console.get_by_role("link", name=EN["admin.tab.audit"]).click()
        expect(console.get_by_test_id("audit-item").first).to_contain_text(EN["admin.system"])
    assert errors == []


def meet_on_camera(client: GatewayClient) -> str:
    reply = client.request("roulette.start", {"text_only": False, "auto_next": False})
    if reply["state"] != "paired":
        reply = client.wait_event("roulette.matched")
    return str(reply["pair_id"])


def banned_until(live_server: LiveServer, token: str) -> float:
    """The end of the current ban of the session's user (GET /moderation/me)."""
    response = httpx.get(
        f"{live_server.http_url}/api/v1/moderation/me", headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    )
    response.raise_for_status()
    ends_at: float = response.json()["ban"]["ends_at"]
    return ends_at
