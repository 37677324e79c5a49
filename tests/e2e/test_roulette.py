"""Roulette in real browsers against a real server: pairing, video both ways, chat, Next, text-only.

Chromium's fake camera sends a test pattern; each side checks through the page's RTCPeerConnection
(window.__palaver.roulette.pc) that it decoded the other's video.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.browser import ContextFactory, open_page, strings
from tests.support.live_server import LiveServer
from tests.support.webrtc import frames_decoded, wait_frames_decoded

pytestmark = pytest.mark.browser

EN, AR = strings("en"), strings("ar")
RECORD_SOCKETS = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    window.__sockets.push(this);
  }
};
"""


def status(page: Page) -> Locator:
    return page.get_by_test_id("roulette-status")


def chat_log(page: Page) -> Locator:
    return page.get_by_test_id("roulette-chat-log")


def pair_id(page: Page) -> str | None:
    value = page.evaluate("window.__palaver?.roulette?.pairId ?? null")
    assert value is None or isinstance(value, str)
    return value


def open_roulette(context_page: Page, t: dict[str, str]) -> Page:
    """Sign in as a guest from the Roulette page itself."""
    page = context_page
    expect(page.get_by_role("heading", name=t["nav.roulette"], exact=True)).to_be_visible()
    page.get_by_role("button", name=t["auth.continue_as_guest"]).click()
    expect(status(page)).to_have_text(t["roulette.status.idle"])
    return page


def press_start(page: Page, t: dict[str, str], *, first_time: bool = True) -> None:
    page.get_by_role("button", name=t["roulette.action.start"], exact=True).click()
    if first_time:
        dialog = page.get_by_role("dialog", name=t["roulette.terms.title"])
        expect(dialog).to_be_visible()
        # Accepting without confirming the age is refused.
        dialog.get_by_role("button", name=t["roulette.terms.accept"]).click()
        expect(dialog.get_by_role("alert")).to_have_text(t["roulette.terms.must_confirm"])
        dialog.get_by_label(t["roulette.terms.confirm"]).check()
        dialog.get_by_role("button", name=t["roulette.terms.accept"]).click()
        expect(dialog).to_be_hidden()


def send_chat(page: Page, t: dict[str, str], text: str) -> None:
    box = page.get_by_label(t["roulette.chat.label"], exact=True)
    box.fill(text)
    page.get_by_role("button", name=t["roulette.chat.send"], exact=True).click()
    expect(box).to_have_value("")


def chat_line(page: Page, author: str, text: str) -> Locator:
    return chat_log(page).locator(".chat-message").filter(has_text=author).filter(has_text=text)


def test_two_strangers_see_each_other_chat_and_move_on(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    url = f"{live_server.http_url}/roulette"
    alice = open_roulette(open_page(new_context("en-US"), url, errors), EN)
    bob = open_roulette(open_page(new_context("en-US"), url, errors), EN)

    # Bob will not be requeued when his partner leaves: he stays to read the chat.
    bob.get_by_label(EN["roulette.prefs.auto_next"]).uncheck()
    alice.get_by_label(EN["roulette.prefs.interests"], exact=True).fill("Jazz")
    alice.get_by_role("button", name=EN["roulette.prefs.add_interest"]).click()
    expect(alice.locator(".tags .tag bdi")).to_have_text(["jazz"])

    press_start(alice, EN)
    expect(status(alice)).to_have_text(EN["roulette.status.searching"])
    expect(alice.get_by_test_id("roulette-stats")).to_have_text(EN["roulette.counts"].format(online=1, searching=1))
    press_start(bob, EN)

    for page in (alice, bob):
        expect(status(page)).to_have_text(EN["roulette.status.connected"], timeout=20_000)
        assert wait_frames_decoded(page) > 0
    assert pair_id(alice) == pair_id(bob) is not None
    expect(bob.locator(".partner-info")).to_contain_text(alice.get_by_test_id("current-user").inner_text())

    # Text chat both ways, shown as "You" on one side and "Stranger" on the other.
    send_chat(alice, EN, "Hello from Alice")
    expect(chat_line(alice, EN["roulette.chat.you"], "Hello from Alice")).to_be_visible()
    expect(chat_line(bob, EN["roulette.chat.stranger"], "Hello from Alice")).to_be_visible()
    send_chat(bob, EN, "مرحبا Alice")
    expect(chat_line(alice, EN["roulette.chat.stranger"], "مرحبا Alice")).to_be_visible()
    expect(chat_line(bob, EN["roulette.chat.you"], "مرحبا Alice")).to_be_visible()

    # Carol, in Arabic, is already searching when Alice presses Next (the keyboard shortcut).
    carol = open_roulette(open_page(new_context("ar"), url, errors), AR)
    expect(carol.locator("html")).to_have_attribute("dir", "rtl")
    press_start(carol, AR)
    expect(status(carol)).to_have_text(AR["roulette.status.searching"])
    first_pair = pair_id(alice)
    alice.locator("h1").click()  # focus outside the text fields
    alice.keyboard.press("n")

    expect(status(bob)).to_have_text(EN["roulette.status.partner_left"])
    expect(bob.get_by_label(EN["roulette.chat.label"], exact=True)).to_be_disabled()
    expect(chat_log(bob)).to_contain_text(EN["roulette.chat.partner_left"])
    assert bob.evaluate("window.__palaver.roulette.pc") is None
    expect(bob.get_by_test_id("partner-video")).to_have_js_property("srcObject", None)

    for page, t in ((alice, EN), (carol, AR)):
        expect(status(page)).to_have_text(t["roulette.status.connected"], timeout=20_000)
        assert wait_frames_decoded(page) > 0
    assert pair_id(alice) == pair_id(carol) != first_pair
    # Alice's chat starts over with Carol: Bob's messages are gone.
    expect(chat_log(alice).locator(".chat-message")).to_have_count(0)
    send_chat(carol, AR, "أهلا")
    expect(chat_line(alice, EN["roulette.chat.stranger"], "أهلا")).to_be_visible()
    expect(chat_line(carol, AR["roulette.chat.you"], "أهلا")).to_be_visible()

    # Escape stops: Carol's partner Alice is requeued (auto-next is on by default).
    carol.keyboard.press("Escape")
    expect(status(carol)).to_have_text(AR["roulette.status.stopped"])
    expect(status(alice)).to_have_text(EN["roulette.status.partner_left_searching"])
    assert frames_decoded(alice) == 0
    assert errors == []


def test_text_only_camera_denied_rate_limit_and_reconnect(live_server: LiveServer, new_context: ContextFactory) -> None:
    errors: list[str] = []
    url = f"{live_server.http_url}/roulette"
    denied = new_context("en-US")
    # This browser refuses the camera, as when the user blocks it; and we keep its WebSockets at hand.
    denied.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    denied.add_init_script(RECORD_SOCKETS)
    dana = open_roulette(open_page(denied, url, errors), EN)
    press_start(dana, EN)
    expect(status(dana)).to_have_text(EN["roulette.status.camera_denied"])
    expect(dana.get_by_role("button", name=EN["roulette.action.start"], exact=True)).to_be_enabled()

    dana.get_by_label(EN["roulette.prefs.text_only"]).check()
    press_start(dana, EN, first_time=False)  # the rules were accepted once: no second dialog
    expect(status(dana)).to_have_text(EN["roulette.status.searching"])

    erin = open_roulette(open_page(new_context("en-US"), url, errors), EN)
    erin.get_by_label(EN["roulette.prefs.text_only"]).check()
    press_start(erin, EN)
    for page in (dana, erin):
        expect(status(page)).to_have_text(EN["roulette.status.connected_text"])
        expect(page.get_by_test_id("partner-video")).to_be_hidden()
        assert page.evaluate("window.__palaver.roulette.pc") is None

    box = dana.get_by_label(EN["roulette.chat.label"], exact=True)
    expect(box).to_have_attribute("maxlength", "1000")
    box.fill("x" * 5)
    expect(dana.locator(".chat-count")).to_have_text(EN["roulette.chat.count"].format(count=5, max=1000))

    # Over the server's chat rate (a burst of 10), the translated error shows.
    send_burst(dana, [f"message {number}" for number in range(20)])
    expect(dana.locator(".chat-error")).to_have_text(EN["roulette.error.chat_rate_limited"])
    expect(chat_line(erin, EN["roulette.chat.stranger"], "message 0")).to_be_visible()

    # The Next button and the "Ctrl + →" shortcut: Erin leaves, Dana is searching again.
    erin.locator("h1").click()
    erin.keyboard.press("Control+ArrowRight")
    expect(status(dana)).to_have_text(EN["roulette.status.partner_left_searching"])
    expect(dana.get_by_label(EN["roulette.chat.label"], exact=True)).to_be_disabled()
    expect(status(erin)).to_have_text(EN["roulette.status.searching"])
    # They just met: never paired again right away.
    erin.wait_for_timeout(1000)
    expect(status(erin)).to_have_text(EN["roulette.status.searching"])

    # Dana's connection to the gateway drops: the client reconnects by itself and queues again.
    assert dana.evaluate("window.__sockets.length") == 1
    dana.evaluate("window.__sockets[0].close(3000)")
    expect(status(dana)).to_have_text(EN["roulette.status.reconnected"])
    dana.wait_for_function("window.__sockets.length === 2 && window.__palaver.roulette.phase === 'searching'")
    expect(dana.get_by_test_id("roulette-stats")).to_have_text(EN["roulette.counts"].format(online=2, searching=2))
    assert errors == []


def send_burst(page: Page, texts: list[str]) -> None:
    """Submit the chat form once per text, all at once (faster than typing)."""
    page.evaluate(
        """texts => {
            const form = document.querySelector(".chat-form");
            for (const text of texts) {
                form.elements.message.value = text;
                form.requestSubmit();
            }
        }""",
        texts,
    )


def test_guest_account_inline_shortcuts_and_one_tab_at_a_time(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    context = new_context("ar")
    url = f"{live_server.http_url}/roulette"
    page = open_page(context, url)
    expect(page.get_by_text(AR["roulette.signin.text"])).to_be_visible()
    expect(page.get_by_role("link", name=AR["auth.sign_in"]).last).to_have_attribute(
        "href", re.compile(r"next=/roulette")
    )
    page.get_by_role("button", name=AR["auth.continue_as_guest"]).click()
    expect(status(page)).to_have_text(AR["roulette.status.idle"])
    expect(page.get_by_role("button", name=AR["roulette.action.start"], exact=True)).to_be_enabled()
    # The shortcuts are listed on the page, with the arrow pointing forward in Arabic (←).
    shortcuts = page.locator(".roulette-shortcuts")
    expect(shortcuts).to_contain_text(AR["roulette.shortcuts.next"])
    arrow = shortcuts.locator(".key-forward").evaluate("el => getComputedStyle(el, '::before').content")
    assert arrow == '"←"'

    # Another tab of the same browser shares the session: it cannot run Roulette at the same time.
    page.get_by_label(AR["roulette.prefs.text_only"]).check()
    press_start(page, AR)
    expect(status(page)).to_have_text(AR["roulette.status.searching"])
    second = open_page(context, url)
    second.get_by_role("button", name=AR["roulette.action.start"], exact=True).click()
    expect(status(second)).to_have_text(AR["roulette.error.other_tab"])
    expect(status(page)).to_have_text(AR["roulette.status.searching"])
    page.get_by_role("button", name=AR["roulette.action.stop"], exact=True).click()
    expect(status(page)).to_have_text(AR["roulette.status.stopped"])
    press_start(second, AR, first_time=False)
    expect(status(second)).to_have_text(AR["roulette.status.searching"])
