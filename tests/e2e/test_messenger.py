"""The Messenger page in real browsers against a real server: live private chats (unread badges,
read receipts, edits, reactions, typing), a channel followed from the directory, catching up
after a network drop without losing or duplicating anything, and the Arabic (RTL) layout."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from tests.support.browser import ContextFactory, strings, wait_ready
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

EN, AR = strings("en"), strings("ar")
PASSWORD = "a long enough secret 7"
HTTP = httpx.Client(timeout=10)  # the tests' own calls to the API, over kept-alive connections


@dataclass(frozen=True)
class Account:
    token: str
    id: str
    username: str
    display_name: str


def register(server: LiveServer, name: str) -> Account:
    username = f"{name.lower()}_{secrets.token_hex(3)}"
    reply = HTTP.post(
        f"{server.http_url}/api/v1/auth/register",
        json={"username": username, "password": PASSWORD, "display_name": name},
    )
    reply.raise_for_status()
    body = reply.json()
    return Account(body["session_token"], body["user"]["id"], username, name)


def api(server: LiveServer, account: Account, method: str, path: str, body: Any = None) -> Any:
    reply = HTTP.request(
        method, f"{server.http_url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {account.token}"}
    )
    reply.raise_for_status()
    return reply.json() if reply.content else None


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `check()` is true (the server catches up with what the page already shows)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def signed_in(context: BrowserContext, account: Account) -> BrowserContext:
    """Every page of `context` starts signed in as `account` (like a device that signed in before)."""
    context.add_init_script(
        f"localStorage.setItem('palaver.session_token', {account.token!r});"
        "localStorage.setItem('palaver.account_kind', 'registered');"
    )
    return context


PAGE_ERRORS: dict[int, list[str]] = {}


def open_messenger(context: BrowserContext, server: LiveServer, path: str = "/messenger") -> Page:
    """Open the messenger at `path`; uncaught script errors are collected for no_errors()."""
    page = context.new_page()
    errors = PAGE_ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.http_url + path)
    wait_ready(page)
    expect(page.get_by_test_id("messenger")).to_be_visible()
    return page


def no_errors(*pages: Page) -> None:
    for page in pages:
        assert PAGE_ERRORS.pop(id(page), []) == []


def messages(page: Page) -> Locator:
    return page.get_by_test_id("messages").get_by_test_id("message")


def bubble(page: Page, text: str) -> Locator:
    """The messages whose text is exactly `text`."""
    return messages(page).filter(has=page.locator(".m-text").get_by_text(text, exact=True))


def dialog(page: Page, title: str) -> Locator:
    return page.get_by_test_id("dialog-list").get_by_role("link").filter(has_text=title)


def composer(page: Page, lang: dict[str, str] = EN) -> Locator:
    return page.get_by_label(lang["messenger.message_label"], exact=True)


def message_menu(page: Page, text: str) -> None:
    target = bubble(page, text)
    target.hover()
    target.get_by_role("button", name=EN["messenger.message_actions"]).click()


def test_two_people_chat_live(live_server: LiveServer, new_context: ContextFactory) -> None:
    alice, bob = register(live_server, "Alice"), register(live_server, "Bob")
    pa = open_messenger(signed_in(new_context(), alice), live_server)
    pb = open_messenger(signed_in(new_context(), bob), live_server)

    # Alice starts a private chat with Bob by his username.
    pa.get_by_test_id("new-chat").click()
    pa.get_by_role("menuitem", name=EN["messenger.new_private"]).click()
    pa.get_by_label(EN["messenger.username_label"]).fill(f"@{bob.username}")
    pa.get_by_role("button", name=EN["messenger.start_chat"]).click()
    expect(pa.get_by_role("heading", name="Bob")).to_be_visible()
    composer(pa).fill("Hello Bob!")
    composer(pa).press("Enter")
    expect(bubble(pa, "Hello Bob!")).to_have_count(1)
    expect(composer(pa)).to_have_value("")
    expect(bubble(pa, "Hello Bob!").get_by_test_id("receipt")).to_have_attribute("data-state", "sent")

    # Bob sees it arrive live, with an unread badge.
    bobs_dialog = dialog(pb, "Alice")
    expect(bobs_dialog).to_contain_text("Hello Bob!")
    expect(bobs_dialog.get_by_test_id("unread-badge")).to_contain_text("1")

    # Bob opens the chat: the badge goes, and Alice sees her message read (✓✓).
    bobs_dialog.click()
    expect(bubble(pb, "Hello Bob!")).to_be_visible()
    expect(bobs_dialog.get_by_test_id("unread-badge")).to_have_count(0)
    expect(bubble(pa, "Hello Bob!").get_by_test_id("receipt")).to_have_attribute("data-state", "read")
    expect(bubble(pa, "Hello Bob!").get_by_test_id("receipt")).to_contain_text("✓✓")

    # Bob types (Alice sees it), then replies with Enter.
    composer(pb).press_sequentially("Hi Alice")
    expect(pa.get_by_test_id("chat-subtitle")).to_have_text(EN["messenger.typing"])
    composer(pb).press("Enter")
    expect(bubble(pa, "Hi Alice")).to_have_count(1)
    expect(pa.get_by_test_id("chat-subtitle")).not_to_have_text(EN["messenger.typing"])

    # Alice edits her message with ↑ in the empty composer; Bob sees the new text, marked edited.
    composer(pa).press("ArrowUp")
    expect(composer(pa)).to_have_value("Hello Bob!")
    composer(pa).fill("Hello Bob, how are you?")
    composer(pa).press("Enter")
    edited = bubble(pb, "Hello Bob, how are you?")
    expect(edited).to_have_count(1)
    expect(edited.get_by_test_id("edited")).to_have_text(EN["messenger.edited"])
    expect(bubble(pb, "Hello Bob!")).to_have_count(0)

    # Bob reacts; the reaction shows up on Alice's side.
    message_menu(pb, "Hello Bob, how are you?")
    pb.get_by_role("menuitem", name=EN["messenger.react_with"].format(emoji="🔥")).click()
    reaction = bubble(pa, "Hello Bob, how are you?").get_by_test_id("reactions")
    expect(reaction).to_contain_text("🔥")
    expect(reaction).to_contain_text("1")
    no_errors(pa, pb)


def test_channel_found_in_the_directory_shows_posts_live(live_server: LiveServer, new_context: ContextFactory) -> None:
    owner, reader = register(live_server, "Olga"), register(live_server, "Carl")
    handle = f"news_{secrets.token_hex(3)}"
    channel = api(
        live_server,
        owner,
        "POST",
        "/chats/channels",
        {"title": "Harbour News", "kind": "channel", "username": handle, "about": "Ships and tides"},
    )["chat"]
    api(live_server, owner, "POST", f"/chats/{channel['id']}/messages", {"text": "First post: welcome aboard"})

    po = open_messenger(signed_in(new_context(), owner), live_server, f"/messenger/{channel['id']}")
    pc = open_messenger(signed_in(new_context(), reader), live_server)

    # The reader finds the public channel by its @username and joins it.
    pc.get_by_label(EN["messenger.search_label"], exact=True).fill(f"@{handle}")
    result = pc.get_by_test_id("directory-results").get_by_role("button").filter(has_text="Harbour News")
    result.click()
    expect(bubble(pc, "First post: welcome aboard")).to_be_visible()
    pc.get_by_test_id("join-chat").click()
    expect(dialog(pc, "Harbour News")).to_be_visible()
    expect(pc.get_by_test_id("chat-subtitle")).to_have_text(EN["messenger.subscribers_count"].format(count=2))
    expect(pc.get_by_test_id("join-chat")).to_have_count(0)

    # The owner posts (silently) from the page; the reader sees it live, and its view count rises to
    # the two people who have it on screen once the server's next view flush is pushed.
    po.get_by_label(EN["messenger.silent"]).check()
    composer(po).fill("Storm warning for tonight")
    composer(po).press("Enter")
    post = bubble(pc, "Storm warning for tonight")
    expect(post).to_have_count(1)
    expect(post.get_by_test_id("views")).to_contain_text(EN["messenger.views"].format(count=2))
    expect(bubble(po, "Storm warning for tonight").get_by_test_id("views")).to_contain_text(
        EN["messenger.views"].format(count=2)
    )
    # A reader cannot post: there is no composer.
    expect(composer(pc)).to_be_hidden()
    no_errors(po, pc)


class SwitchableGateway:
    """Stands between a page and the gateway so a test can cut the connection like a network drop."""

    def __init__(self) -> None:
        self.online = True
        self.sockets: list[WebSocketRoute] = []

    def handle(self, socket: WebSocketRoute) -> None:
        if not self.online:
            socket.close(code=1011, reason="offline")
            return
        socket.connect_to_server()
        self.sockets.append(socket)

    def drop(self) -> None:
        self.online = False
        for socket in self.sockets:
            socket.close(code=1011, reason="offline")
        self.sockets.clear()


def test_catches_up_after_being_offline_without_duplicates(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    alice, bob = register(live_server, "Alice"), register(live_server, "Bob")
    chat = api(live_server, alice, "POST", "/chats/private", {"user_id": bob.id})["chat"]
    api(live_server, alice, "POST", f"/chats/{chat['id']}/messages", {"text": "before the drop"})

    context = signed_in(new_context(), bob)
    gateway = SwitchableGateway()
    context.route_web_socket(re.compile(r"^wss?://"), gateway.handle)
    pb = open_messenger(context, live_server, f"/messenger/{chat['id']}")
    expect(messages(pb)).to_have_count(1)
    api(live_server, alice, "POST", f"/chats/{chat['id']}/messages", {"text": "live one"})
    expect(messages(pb)).to_have_count(2)

    # The network goes: the socket drops and HTTP fails. Alice writes meanwhile.
    context.set_offline(True)
    gateway.drop()
    sent = [f"while offline {n}" for n in range(1, 4)]
    for text in sent:
        api(live_server, alice, "POST", f"/chats/{chat['id']}/messages", {"text": text})
    api(live_server, alice, "PATCH", f"/chats/{chat['id']}/messages/2", {"text": "live one (edited)"})
    pb.wait_for_timeout(1000)
    expect(messages(pb)).to_have_count(2)

    # Back online: the client reconnects, fetches the difference and shows each message once.
    gateway.online = True
    with pb.expect_request(re.compile(r"/api/v1/updates/difference\?pts=\d+"), timeout=15_000):
        context.set_offline(False)
    for text in sent:
        expect(bubble(pb, text)).to_have_count(1)
    expect(bubble(pb, "live one (edited)")).to_have_count(1)
    expect(messages(pb)).to_have_count(5)

    # Live delivery works again, still without duplicates.
    api(live_server, alice, "POST", f"/chats/{chat['id']}/messages", {"text": "after the drop"})
    expect(bubble(pb, "after the drop")).to_have_count(1)
    expect(messages(pb)).to_have_count(6)
    pb.wait_for_timeout(500)
    texts = messages(pb).locator(".m-text").all_inner_texts()
    assert texts == ["before the drop", "live one (edited)", *sent, "after the drop"]
    no_errors(pb)


def test_arabic_layout_is_right_to_left(live_server: LiveServer, new_context: ContextFactory) -> None:
    alice, bob = register(live_server, "Alice"), register(live_server, "Bob")
    chat = api(live_server, alice, "POST", "/chats/private", {"user_id": bob.id})["chat"]
    api(live_server, alice, "POST", f"/chats/{chat['id']}/messages", {"text": "مرحبا يا بوب"})
    api(live_server, bob, "POST", f"/chats/{chat['id']}/messages", {"text": "أهلا أليس"})

    pb = open_messenger(signed_in(new_context("ar"), bob), live_server)
    expect(pb.locator("html")).to_have_attribute("dir", "rtl")
    expect(pb.locator("html")).to_have_attribute("lang", "ar")
    expect(pb.get_by_text(AR["messenger.pick_a_chat"])).to_be_visible()
    expect(pb.get_by_label(AR["messenger.search_label"], exact=True)).to_have_attribute(
        "placeholder", AR["messenger.search_placeholder"]
    )

    dialog(pb, "Alice").click()
    expect(pb.get_by_role("button", name=AR["messenger.send"])).to_be_visible()
    expect(composer(pb, AR)).to_have_attribute("placeholder", AR["messenger.write_message"])
    own = bubble(pb, "أهلا أليس").locator(".m-bubble").bounding_box()
    theirs = bubble(pb, "مرحبا يا بوب").locator(".m-bubble").bounding_box()
    assert own is not None
    assert theirs is not None
    # Mirrored: my messages sit at the inline end, the left-hand side in Arabic.
    assert own["x"] + own["width"] < theirs["x"] + theirs["width"]
    assert own["x"] < theirs["x"]
    # The sidebar sits at the inline start: on the right.
    sidebar = pb.locator(".m-sidebar").bounding_box()
    pane = pb.locator(".m-chat").bounding_box()
    assert sidebar is not None
    assert pane is not None
    assert sidebar["x"] > pane["x"]
    no_errors(pb)


def test_group_invites_admins_forward_pin_delete_and_drafts(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    alice, bob, carl = register(live_server, "Alice"), register(live_server, "Bob"), register(live_server, "Carl")
    private = api(live_server, alice, "POST", "/chats/private", {"user_id": bob.id})["chat"]
    api(live_server, bob, "POST", f"/chats/{private['id']}/messages", {"text": "ping"})
    pa = open_messenger(signed_in(new_context(), alice), live_server)
    pc = open_messenger(signed_in(new_context(), carl), live_server)

    # Alice creates a group with Bob.
    pa.get_by_test_id("new-chat").click()
    pa.get_by_role("menuitem", name=EN["messenger.new_group"]).click()
    pa.get_by_label(EN["messenger.chat_title"], exact=True).fill("Book club")
    pa.get_by_label(EN["messenger.group_members"]).fill(bob.username)
    pa.get_by_role("button", name=EN["messenger.create_group"]).click()
    expect(pa.get_by_role("heading", name="Book club")).to_be_visible()
    expect(pa.get_by_test_id("chat-subtitle")).to_have_text(EN["messenger.members_count"].format(count=2))
    group_id = pa.evaluate("location.pathname").rsplit("/", 1)[1]

    # An invite link that needs approval; Carl follows it and asks to join.
    pa.get_by_test_id("chat-info").click()
    info = pa.get_by_role("dialog", name=EN["messenger.chat_info"])
    info.get_by_test_id("invite-links").locator("summary").click()
    info.get_by_label(EN["messenger.invite_approval"]).check()
    info.get_by_role("button", name=EN["messenger.create_invite"]).click()
    link = info.get_by_test_id("invite-url")
    expect(link).to_have_count(1)
    url = link.input_value()
    assert re.fullmatch(rf"{re.escape(live_server.http_url)}/messenger/join/[\w-]+", url)
    pc.goto(url)
    wait_ready(pc)
    expect(pc.get_by_test_id("join-panel")).to_contain_text("Book club")
    pc.get_by_role("button", name=EN["messenger.request_to_join"]).click()
    expect(pc.get_by_text(EN["messenger.request_sent"])).to_be_visible()

    # Alice approves; the group appears in Carl's list at once.
    info.get_by_role("button", name=EN["messenger.close"]).click()
    pa.get_by_test_id("chat-info").click()
    requests = info.get_by_test_id("join-requests")
    expect(requests.get_by_test_id("join-request")).to_have_count(1)
    requests.get_by_role("button", name=EN["messenger.approve"]).click()
    expect(requests).to_be_hidden()
    expect(dialog(pc, "Book club")).to_be_visible()

    # Alice makes Bob an admin who may pin and invite.
    member = info.get_by_test_id("member").filter(has_text=bob.username)
    member.get_by_text(EN["messenger.make_admin"]).click()
    for right in ("change_info", "delete_messages", "ban_users", "add_admins"):
        member.get_by_label(EN[f"messenger.right.{right}"]).uncheck()
    member.get_by_role("button", name=EN["messenger.promote"]).click()
    expect(pa.get_by_text(EN["messenger.rights_saved"])).to_be_visible()
    admins = api(live_server, alice, "GET", f"/chats/{group_id}/members?which=admins")["members"]
    bob_admin = next(m for m in admins if m["user_id"] == bob.id)
    assert sorted(bob_admin["rights"]) == ["invite_users", "pin_messages"]
    info.get_by_role("button", name=EN["messenger.close"]).click()

    # Messages, a pin that Carl sees live, and a message deleted for everyone.
    for text in ("Next book: Dune", "Oops, wrong chat", "Meeting on Friday"):
        composer(pa).fill(text)
        composer(pa).press("Enter")
        expect(bubble(pa, text)).to_have_count(1)
    dialog(pc, "Book club").click()
    expect(bubble(pc, "Meeting on Friday")).to_be_visible()
    message_menu(pa, "Meeting on Friday")
    pa.get_by_role("menuitem", name=EN["messenger.pin"]).click()
    expect(pc.get_by_test_id("pinned-bar")).to_contain_text("Meeting on Friday")
    message_menu(pa, "Oops, wrong chat")
    pa.get_by_role("menuitem", name=EN["messenger.delete"]).click()
    pa.get_by_role("button", name=EN["messenger.delete_for_everyone"]).click()
    expect(bubble(pa, "Oops, wrong chat")).to_have_count(0)
    expect(bubble(pc, "Oops, wrong chat")).to_have_count(0)
    expect(bubble(pc, "Next book: Dune")).to_be_visible()

    # Forward to Bob, keeping the author.
    message_menu(pa, "Next book: Dune")
    pa.get_by_role("menuitem", name=EN["messenger.forward"]).click()
    pa.get_by_test_id("forward-target").filter(has_text="Bob").click()
    expect(pa.get_by_role("heading", name="Bob")).to_be_visible()
    forwarded = bubble(pa, "Next book: Dune")
    expect(forwarded).to_contain_text(EN["messenger.forwarded_from"])

    # A draft is kept while you are away, and shown in the list.
    composer(pa).fill("an unfinished thought")
    dialog(pa, "Book club").click()
    expect(dialog(pa, "Bob")).to_contain_text(EN["messenger.draft_label"])
    expect(dialog(pa, "Bob")).to_contain_text("an unfinished thought")

    def saved_draft() -> str | None:
        dialogs = api(live_server, alice, "GET", "/dialogs")["dialogs"]
        draft = next(d["membership"]["draft"] for d in dialogs if d["chat"]["id"] == private["id"])
        return None if draft is None else str(draft["text"])

    eventually(lambda: saved_draft() == "an unfinished thought")
    dialog(pa, "Bob").click()
    expect(composer(pa)).to_have_value("an unfinished thought")

    # Search within the chat jumps to the message.
    pa.get_by_role("button", name=EN["messenger.search_in_chat"]).first.click()
    pa.get_by_placeholder(EN["messenger.search_in_chat_placeholder"]).fill("ping")
    pa.locator(".m-chat-result").filter(has_text="ping").click()
    expect(bubble(pa, "ping")).to_have_class(re.compile(r"\bflash\b"))
    no_errors(pa, pc)


def test_long_history_pages_in_while_scrolling(live_server: LiveServer, new_context: ContextFactory) -> None:
    alice, bob = register(live_server, "Alice"), register(live_server, "Bob")
    chat = api(live_server, alice, "POST", "/chats/private", {"user_id": bob.id})["chat"]
    for n in range(1, 131):
        api(live_server, alice if n % 3 else bob, "POST", f"/chats/{chat['id']}/messages", {"text": f"message {n}"})
    api(live_server, alice, "PUT", f"/chats/{chat['id']}/pinned", {"msg_id": 3})

    pb = open_messenger(signed_in(new_context(), bob), live_server, f"/messenger/{chat['id']}")
    expect(bubble(pb, "message 130")).to_be_in_viewport()
    assert messages(pb).count() < 130
    scroller = pb.get_by_test_id("messages")
    # Scrolling up loads older pages, keeping what is on screen in place.
    for _ in range(10):
        if messages(pb).count() == 130:
            break
        top = messages(pb).first
        text = top.locator(".m-text").inner_text()
        scroller.evaluate("element => { element.scrollTop = 0; }")
        expect(messages(pb).first.locator(".m-text")).not_to_have_text(text)
        expect(bubble(pb, text)).to_be_in_viewport()
    expect(messages(pb)).to_have_count(130)
    texts = messages(pb).locator(".m-text").all_inner_texts()
    assert texts == [f"message {n}" for n in range(1, 131)]

    # The pinned message is far back: reopening the chat at it loads the history around it.
    pb.goto(f"{live_server.http_url}/messenger")
    wait_ready(pb)
    dialog(pb, "Alice").click()
    expect(bubble(pb, "message 130")).to_be_visible()
    pb.get_by_test_id("pinned-bar").click()
    expect(bubble(pb, "message 3")).to_be_in_viewport()
    no_errors(pb)
