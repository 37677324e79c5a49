"""Fixtures of the browser tests: one Chromium per test module, fresh contexts per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, ContextFactory

expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("needs Debian chromium: run scripts/install-system-deps.sh (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[ContextFactory]:
    """Make fresh browser contexts (separate storage, like separate devices); close them after."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "en-US", **options: object) -> BrowserContext:
        context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 900}, **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
