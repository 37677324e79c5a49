"""The Messenger page against a real server: channel view counts pushed live (``channel.views``),
and a send whose answer is lost on the way retried with the same ``random_id`` — stored once,
shown once."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.test_messenger import api, bubble, composer, no_errors, open_messenger, register, signed_in
from tests.support.browser import ContextFactory
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_channel_view_counts_are_pushed_to_the_open_page(live_server: LiveServer, new_context: ContextFactory) -> None:
    owner, reader, others = register(live_server, "Vera"), register(live_server, "Rolf"), []
    handle = f"counted_{secrets.token_hex(3)}"  # public: anyone may read (and view) its posts
    channel = api(
        live_server, owner, "POST", "/chats/channels", {"title": "Counted", "kind": "channel", "username": handle}
    )["chat"]
    post = api(live_server, owner, "POST", f"/chats/{channel['id']}/messages", {"text": "Count me"})["message"]
    api(live_server, owner, "POST", f"/chats/{channel['id']}/members", {"user_ids": [reader.id]})
    page = open_messenger(signed_in(new_context(), reader), live_server, f"/messenger/{channel['id']}")
    views = bubble(page, "Count me").get_by_test_id("views")
    expect(views).to_contain_text("1")  # the reader's own view, shown at once
    for name in ("Anna", "Bert"):
        others.append(register(live_server, name))
        api(live_server, others[-1], "POST", f"/chats/{channel['id']}/views", {"ids": [post["id"], post["id"]]})
    # The server flushes every 5 s and pushes the totals; the page is not reloaded.
    expect(views).to_contain_text("3", timeout=15_000)
    history = api(live_server, owner, "GET", f"/chats/{channel['id']}/messages")
    assert history["messages"][0]["views"] == 3
    no_errors(page)


def send_from_composer(page: Page, text: str, requests: list[Any]) -> None:
    """Type and press Enter until the send has left the page. While the chat is still loading, opening
    it puts its (empty) draft into the composer and the typed text is gone; only then is it typed
    again — never once a request went out, so the message is never sent twice."""
    expect(page.locator("#m-chat-title")).not_to_be_empty()
    for _ in range(3):
        composer(page).fill(text)
        composer(page).press("Enter")
        for _ in range(50):
            if requests:
                return
            page.wait_for_timeout(100)  # lets Playwright run the route handler
    raise AssertionError("the message never left the page")


def test_a_send_whose_answer_was_lost_is_stored_and_shown_once(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    alice, bob = register(live_server, "Alice"), register(live_server, "Bob")
    chat = api(live_server, alice, "POST", "/chats/private", {"user_id": bob.id})["chat"]
    page = open_messenger(signed_in(new_context(), alice), live_server, f"/messenger/{chat['id']}")
    sent: list[Any] = []

    def lose_the_first_answer(route: Route) -> None:
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server stores the message …
            route.abort("connectionreset")  # … and the answer never arrives
        else:
            route.continue_()

    page.route(f"**/api/v1/chats/{chat['id']}/messages", lose_the_first_answer)
    send_from_composer(page, "Exactly once", sent)
    expect(bubble(page, "Exactly once")).to_have_count(1, timeout=15_000)  # shown once the send was answered
    expect(composer(page)).to_have_value("")
    assert len(sent) >= 2 and len({body["random_id"] for body in sent}) == 1
    assert isinstance(sent[0]["random_id"], int)
    history = api(live_server, alice, "GET", f"/chats/{chat['id']}/messages")
    assert [m["text"] for m in history["messages"]] == ["Exactly once"]
    expect(bubble(page, "Exactly once")).to_have_count(1)
    no_errors(page)
