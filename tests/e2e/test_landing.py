"""The web client's shell in a real browser against a real server: guests, accounts, languages."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import expect

from tests.support.browser import ContextFactory, current_user, local_storage, open_page, strings, wait_ready
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

EN, AR, FR = strings("en"), strings("ar"), strings("fr")


def test_guest_then_arabic(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    page = open_page(new_context("en-US"), live_server.http_url, errors)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_response("**/api/v1/auth/guest") as response:
        page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
    user = response.value.json()["user"]
    assert user["kind"] == "guest"

    expect(current_user(page)).to_contain_text(user["display_name"])
    expect(page.get_by_role("heading", name=EN["landing.welcome"].format(name=user["display_name"]))).to_be_visible()
    assert local_storage(page, "palaver.session_token")
    assert local_storage(page, "palaver.device_token")

    page.get_by_label(EN["language.label"]).select_option("ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert page.evaluate("[document.documentElement.dir, document.documentElement.lang]") == ["rtl", "ar"]
    expect(page.locator(".pitch")).to_have_text(AR["landing.pitch"])
    expect(page.get_by_role("heading", name=AR["landing.welcome"].format(name=user["display_name"]))).to_be_visible()
    expect(page.get_by_role("button", name=AR["auth.sign_out"])).to_be_visible()
    nav = page.get_by_role("navigation", name=AR["shell.main_nav"])
    expect(nav.get_by_role("link", name=AR["nav.roulette"], exact=True)).to_be_visible()
    expect(page.get_by_label(AR["language.label"])).to_have_value("ar")
    # Mirrored: the brand sits at the inline start, which is the right-hand side in RTL.
    brand = page.locator(".brand").bounding_box()
    tools = page.locator(".header-tools").bounding_box()
    assert brand is not None
    assert tools is not None
    assert brand["x"] > tools["x"]

    # The language and the guest survive a reload.
    page.reload()
    wait_ready(page)
    assert page.evaluate("document.documentElement.dir") == "rtl"
    expect(current_user(page)).to_contain_text(user["display_name"])
    assert errors == []


def test_expired_guest_session_is_renewed_silently(live_server: LiveServer, new_context: ContextFactory) -> None:
    page = open_page(new_context(), live_server.http_url)
    with page.expect_response("**/api/v1/auth/guest") as response:
        page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
    user = response.value.json()["user"]
    expect(current_user(page)).to_contain_text(user["display_name"])

    page.evaluate("localStorage.setItem('palaver.session_token', 'pvs_no-such-session')")
    with page.expect_response("**/api/v1/auth/guest") as renewed:
        page.reload()
    wait_ready(page)
    assert renewed.value.json()["user"]["id"] == user["id"]
    expect(current_user(page)).to_contain_text(user["display_name"])
    assert local_storage(page, "palaver.session_token") != "pvs_no-such-session"


def test_sign_up_stays_signed_in_after_reload(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    page = open_page(new_context(), live_server.http_url, errors)
    page.get_by_role("main").get_by_role("link", name=EN["auth.sign_up"]).click()
    expect(page.get_by_role("heading", name=EN["auth.sign_up_title"])).to_be_visible()
    username = f"ada_{secrets.token_hex(4)}"
    page.get_by_label(EN["auth.display_name_optional"]).fill("Ada Lovelace")
    page.get_by_label(EN["auth.username"]).fill(username)
    page.get_by_label(EN["auth.password"], exact=True).fill("analytical engine 1843")
    page.get_by_role("button", name=EN["auth.create_account"]).click()

    expect(current_user(page)).to_contain_text("Ada Lovelace")
    expect(page.get_by_text(EN["auth.account_created"])).to_be_visible()
    page.reload()
    wait_ready(page)
    expect(current_user(page)).to_contain_text("Ada Lovelace")
    expect(page.get_by_text(EN["landing.signed_in_registered"].format(username=username))).to_be_visible()

    current_user(page).click()
    expect(page.get_by_role("heading", name=EN["account.title"])).to_be_visible()
    expect(page.get_by_text(f"@{username}")).to_be_visible()
    expect(page.locator(".session.current").get_by_text(EN["sessions.this_device"])).to_be_visible()

    page.get_by_role("main").get_by_role("button", name=EN["auth.sign_out"]).click()
    expect(page.get_by_text(EN["auth.signed_out"])).to_be_visible()
    expect(current_user(page)).to_have_count(0)
    assert page.evaluate("location.pathname") == "/"
    assert local_storage(page, "palaver.session_token") is None
    assert errors == []


def test_weak_password_shows_the_translated_error(live_server: LiveServer, new_context: ContextFactory) -> None:
    # A French browser gets the French interface without choosing it.
    page = open_page(new_context("fr-FR"), f"{live_server.http_url}/signup")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label(FR["auth.username"]).fill(f"bob_{secrets.token_hex(4)}")
    page.get_by_label(FR["auth.password"], exact=True).fill("short")
    page.get_by_role("button", name=FR["auth.create_account"]).click()

    expect(page.get_by_role("alert")).to_have_text(FR["errors.weak_password"])
    expect(page.get_by_label(FR["auth.password"], exact=True)).to_have_attribute("aria-invalid", "true")
    assert local_storage(page, "palaver.session_token") is None


def test_guest_keeps_the_account_by_upgrading(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    page = open_page(new_context(), live_server.http_url, errors)
    with page.expect_response("**/api/v1/auth/guest") as response:
        page.get_by_role("button", name=EN["auth.continue_as_guest"]).click()
    guest = response.value.json()["user"]

    page.get_by_role("link", name=EN["landing.keep_account"]).click()
    expect(page.get_by_role("heading", name=EN["auth.upgrade_title"])).to_be_visible()
    username = f"grace_{secrets.token_hex(4)}"
    page.get_by_label(EN["auth.username"]).fill(username)
    page.get_by_label(EN["auth.password"], exact=True).fill("compile the cobol 1959")
    page.get_by_role("button", name=EN["auth.create_account"]).click()

    expect(page.get_by_role("heading", name=EN["account.title"])).to_be_visible()
    expect(page.get_by_text(EN["auth.upgraded"])).to_be_visible()
    expect(page.locator(".facts")).to_contain_text(EN["account.kind.registered"])
    expect(page.get_by_text(f"@{username}")).to_be_visible()
    expect(current_user(page)).to_contain_text(guest["display_name"])

    # Keyboard: "g" then "h" goes home.
    page.keyboard.press("g")
    page.keyboard.press("h")
    expect(page.locator(".pitch")).to_have_text(EN["landing.pitch"])
    assert errors == []


def test_account_page_edits_profile_and_revokes_another_session(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    username, password = f"lin_{secrets.token_hex(4)}", "a long enough secret 7"
    laptop = open_page(new_context(), f"{live_server.http_url}/signup")
    laptop.get_by_label(EN["auth.username"]).fill(username)
    laptop.get_by_label(EN["auth.password"], exact=True).fill(password)
    laptop.get_by_role("button", name=EN["auth.create_account"]).click()
    expect(current_user(laptop)).to_be_visible()

    phone = open_page(new_context(), f"{live_server.http_url}/signin")
    phone.get_by_label(EN["auth.username"]).fill(username)
    phone.get_by_label(EN["auth.password"], exact=True).fill(password)
    phone.get_by_role("button", name=EN["auth.sign_in"]).click()
    expect(current_user(phone)).to_be_visible()

    laptop.goto(f"{live_server.http_url}/account")
    wait_ready(laptop)
    laptop.get_by_label(EN["account.bio"]).fill("Plays the oud.")
    laptop.get_by_label(EN["language.name.ar"]).check()
    laptop.get_by_role("button", name=EN["account.save"]).click()
    expect(laptop.get_by_text(EN["account.saved"])).to_be_visible()

    sessions = laptop.locator(".session")
    expect(sessions).to_have_count(2)
    laptop.locator(".session:not(.current)").get_by_role("button", name=EN["sessions.revoke"]).click()
    expect(laptop.get_by_text(EN["sessions.revoked"])).to_be_visible()
    expect(sessions).to_have_count(1)

    phone.reload()
    wait_ready(phone)
    expect(current_user(phone)).to_have_count(0)
    expect(phone.get_by_role("button", name=EN["auth.continue_as_guest"])).to_be_visible()

    laptop.reload()
    wait_ready(laptop)
    expect(laptop.get_by_label(EN["account.bio"])).to_have_value("Plays the oud.")
    expect(laptop.get_by_label(EN["language.name.ar"])).to_be_checked()
