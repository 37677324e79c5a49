"""Helpers for browser tests: Chromium's flags, the translations, and opening a page of the client."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebRTC: a fake camera and microphone (a test pattern and a beep), no permission prompt, and
    # peer connections over loopback, the only network here.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
# Makes a fresh browser context (separate storage, like a separate device): the new_context fixture.
ContextFactory = Callable[..., BrowserContext]
I18N = Path(__file__).resolve().parents[2] / "src" / "palaver" / "web" / "i18n"


@cache
def strings(lang: str) -> dict[str, str]:
    """The client's translations for `lang`."""
    data: dict[str, str] = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def open_page(context: BrowserContext, url: str, errors: list[str] | None = None) -> Page:
    """Open `url` and wait until the client has started; uncaught script errors go to `errors`."""
    page = context.new_page()
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_ready(page)
    return page


def wait_ready(page: Page) -> None:
    page.wait_for_selector("html[data-ready='true']")


def current_user(page: Page) -> Locator:
    return page.get_by_test_id("current-user")


def local_storage(page: Page, key: str) -> str | None:
    value = page.evaluate("key => localStorage.getItem(key)", key)
    assert value is None or isinstance(value, str)
    return value
