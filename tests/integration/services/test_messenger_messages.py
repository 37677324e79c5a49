"""Sending, editing, deleting, pinning, reacting, reading, drafts, typing and views."""

from __future__ import annotations

import pytest

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.messages import EDIT_WINDOW_SECONDS, Entity, EntityType
from palaver.errors import Forbidden, InvalidInput, NotFound, PalaverError
from tests.support.messenger import MWorld, count_rows, mworld

__all__ = ["mworld"]


async def test_private_message_reaches_both_common_boxes(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user("Ada"), await mworld.user("Bob")
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}")
    chat = await m.chats.open_private(a, b.user_id)
    assert (await m.chats.open_private(b, a.user_id)).id == chat.id
    sent = await m.messages.send(a, chat.id, "Hello **Bob**", (Entity(EntityType.BOLD, 6, 7),))
    assert sent.id == 1
    assert [(f["topic"], f["data"]["box"], f["data"]["pts"]) for f in feed.frames] == [  # type: ignore[index]
        (f"user:{a.user_id}", "common", 1),
        (f"user:{b.user_id}", "common", 1),
    ]
    update = feed.updates()[1]["update"]
    assert update["type"] == "new_message" and update["message"]["text"] == "Hello **Bob**"  # type: ignore[index]
    assert update["message"]["sender_id"] == str(a.user_id)  # type: ignore[index]
    diff = await m.sync.difference(b, 0)
    assert diff["kind"] == "slice" and diff["final"] and diff["pts"] == 1
    assert diff["updates"][0]["update"] == update


async def test_bad_input_writes_nothing_and_publishes_nothing(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b, c = await mworld.user(), await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    channel = await m.chats.create_channel(a, "News", username="bad_input_news")
    await m.chats.join(c, channel.id)
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}", f"user:{c.user_id}", f"channel:{channel.id}")
    before = await count_rows(mworld, "messages")
    cases: list[tuple[str, object]] = [
        ("message_too_long", m.messages.send(a, chat.id, "x" * 4097)),
        ("message_empty", m.messages.send(a, chat.id, "  ")),
        ("invalid_entities", m.messages.send(a, chat.id, "hi", (Entity(EntityType.BOLD, 1, 5),))),
        ("cannot_send", m.messages.send(c, channel.id, "let me post")),
        ("chat_not_found", m.messages.send(c, chat.id, "not my chat")),
        ("reply_not_found", m.messages.send(a, chat.id, "re", reply_to=99)),
    ]
    for code, call in cases:
        with pytest.raises(PalaverError) as caught:
            await call  # type: ignore[misc]
        assert caught.value.code == code
    assert await count_rows(mworld, "messages") == before
    assert feed.frames == []
    assert (await m.sync.state(b))["pts"] == 0


async def test_edit_rules(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    sent = await m.messages.send(a, chat.id, "typo")
    with pytest.raises(Forbidden) as others:
        await m.messages.edit(b, chat.id, sent.id, "not yours")
    assert others.value.code == "cannot_edit"
    with pytest.raises(InvalidInput):
        await m.messages.edit(a, chat.id, sent.id, "typo")
    edited = await m.messages.edit(a, chat.id, sent.id, "fixed")
    assert edited.text == "fixed" and edited.edit_date == mworld.clock.now()
    history = await m.history.history(b, chat.id)
    assert history["messages"][0]["text"] == "fixed" and history["messages"][0]["edit_date"] is not None
    feed = await mworld.feed(f"user:{b.user_id}")
    mworld.clock.advance(EDIT_WINDOW_SECONDS + 1)
    with pytest.raises(Forbidden) as late:
        await m.messages.edit(a, chat.id, sent.id, "too late")
    assert late.value.code == "edit_window_expired"
    assert feed.frames == []


async def test_channel_post_is_one_row_and_one_update_whatever_the_audience(mworld: MWorld) -> None:
    m = mworld.messenger
    owner = await mworld.user("owner")
    channel = await m.chats.create_channel(owner, "Big channel", username="big_channel", signatures=True)
    subscribers = [await mworld.user() for _ in range(30)]
    for s in subscribers:
        await m.chats.join(s, channel.id)
    feed = await mworld.feed(f"channel:{channel.id}", *(f"user:{s.user_id}" for s in subscribers))
    rows = {t: await count_rows(mworld, t) for t in ("messages", "common_updates", "channel_updates")}
    post = await m.messages.send(owner, channel.id, "Breaking news", silent=True)
    assert await count_rows(mworld, "messages") == rows["messages"] + 1
    assert await count_rows(mworld, "channel_updates") == rows["channel_updates"] + 1
    assert await count_rows(mworld, "common_updates") == rows["common_updates"]
    assert len(feed.frames) == 1 and feed.frames[0]["topic"] == f"channel:{channel.id}"
    message = feed.updates()[0]["update"]["message"]  # type: ignore[index]
    assert message["sender_id"] is None and message["signature"] == "owner" and message["silent"] is True
    assert post.sender_id == owner.user_id  # kept for authorization, never shown
    diff = await m.sync.channel_difference(subscribers[0], channel.id, 0)
    assert [u["update"]["type"] for u in diff["updates"]] == ["new_message"]


async def test_channel_admin_rights(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, editor, poster = await mworld.user(), await mworld.user(), await mworld.user()
    channel = await m.chats.create_channel(owner, "Rights", username="rights_channel")
    for u in (editor, poster):
        await m.chats.join(u, channel.id)
    await m.chats.promote(owner, channel.id, poster.user_id, ["post_messages"])
    await m.chats.promote(owner, channel.id, editor.user_id, ["edit_messages", "delete_messages"])
    post = await m.messages.send(poster, channel.id, "by poster")
    with pytest.raises(Forbidden):
        await m.messages.send(editor, channel.id, "editor cannot post")
    await m.messages.edit(editor, channel.id, post.id, "edited by editor")
    with pytest.raises(Forbidden) as denied:
        await m.chats.promote(poster, channel.id, editor.user_id, ["post_messages"])
    assert denied.value.code == "cannot_promote"
    assert await m.messages.delete(editor, channel.id, [post.id], for_everyone=True) == [post.id]


async def test_delete_for_me_and_for_everyone(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    for i in range(3):
        await m.messages.send(a, chat.id, f"m{i}")
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}")
    assert await m.messages.delete(b, chat.id, [1], for_everyone=False) == [1]
    assert [x["id"] for x in (await m.history.history(b, chat.id))["messages"]] == [3, 2]
    assert [x["id"] for x in (await m.history.history(a, chat.id))["messages"]] == [3, 2, 1]
    assert [f["topic"] for f in feed.frames] == [f"user:{b.user_id}"]  # only my own devices
    assert await m.messages.delete(b, chat.id, [2, 3], for_everyone=True) == [2, 3]  # private: either side
    last = feed.updates()[-1]
    assert last["pts_count"] == 2 and last["update"]["ids"] == [2, 3]  # type: ignore[index]
    assert (await m.history.history(a, chat.id))["messages"][0]["id"] == 1


async def test_group_members_and_admin_deletes(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, x, y = await mworld.user(), await mworld.user(), await mworld.user()
    group = await m.chats.create_group(owner, "Team", [x.user_id, y.user_id])
    feed = await mworld.feed(*(f"user:{u.user_id}" for u in (owner, x, y)))
    msg = await m.messages.send(x, group.id, "hello team")
    assert len(feed.frames) == 3  # one common-box update per member
    with pytest.raises(Forbidden):
        await m.messages.delete(y, group.id, [msg.id], for_everyone=True)
    await m.chats.promote(owner, group.id, y.user_id, ["delete_messages"])
    assert await m.messages.delete(y, group.id, [msg.id], for_everyone=True) == [msg.id]


async def test_pins_reactions_and_forwards(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user("Ada"), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    first = await m.messages.send(a, chat.id, "pin me")
    await m.messages.pin(b, chat.id, first.id)
    assert (await m.chats.get(a, chat.id))["chat"]["pinned_msg_id"] == first.id
    assert await m.messages.react(b, chat.id, first.id, "🔥") == [{"emoji": "🔥", "count": 1}]
    assert await m.messages.react(a, chat.id, first.id, "🔥") == [{"emoji": "🔥", "count": 2}]
    assert await m.messages.react(a, chat.id, first.id, None) == [{"emoji": "🔥", "count": 1}]
    with pytest.raises(InvalidInput):
        await m.messages.react(a, chat.id, first.id, "🦄")
    history = await m.history.history(b, chat.id)
    assert history["messages"][0]["my_reaction"] == "🔥"
    channel = await m.chats.create_channel(a, "Fwd", username="fwd_channel")
    copies = await m.messages.forward(a, channel.id, chat.id, [first.id])
    assert copies[0].forward is not None and copies[0].forward.from_user_id == a.user_id
    again = await m.messages.forward(a, chat.id, channel.id, [copies[0].id])
    assert again[0].forward == copies[0].forward  # the original author survives a second forward
    with pytest.raises(NotFound):
        await m.messages.forward(b, chat.id, channel.id, [999])


async def test_read_receipts_and_unread_counts(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    for i in range(4):
        await m.messages.send(a, chat.id, f"m{i}")
    dialogs = await m.history.dialogs(b)
    assert dialogs["dialogs"][0]["unread_count"] == 4
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}")
    assert await m.dialogs.read(b, chat.id, 3) == 3
    assert await m.dialogs.read(b, chat.id, 2) == 3  # read marks never go back
    kinds = {(f["topic"], f["data"]["update"]["type"]) for f in feed.frames}  # type: ignore[index]
    assert kinds == {(f"user:{b.user_id}", "read_inbox"), (f"user:{a.user_id}", "read_outbox")}
    assert feed.updates()[0]["update"]["unread_count"] == 1  # type: ignore[index]
    assert (await m.history.dialogs(b))["dialogs"][0]["unread_count"] == 1


async def test_drafts_sync_and_clear_on_send(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    feed = await mworld.feed(f"user:{a.user_id}")
    draft = await m.dialogs.save_draft(a, chat.id, "half a thought")
    assert draft is not None and draft.text == "half a thought"
    info = await m.chats.get(a, chat.id)
    assert info["membership"]["draft"]["text"] == "half a thought"
    await m.messages.send(a, chat.id, "whole thought")
    assert feed.types() == ["draft", "new_message", "draft"]
    assert (await m.chats.get(a, chat.id))["membership"]["draft"] is None


async def test_typing_is_published_not_stored(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}")
    await m.dialogs.typing(a, chat.id)
    assert [(f["topic"], f["event"]) for f in feed.frames] == [(f"user:{b.user_id}", "typing")]
    assert (await m.sync.state(b))["pts"] == 0
    super_ = await m.chats.create_channel(a, "S", kind=ChatKind.SUPERGROUP)
    topic = await mworld.feed(f"channel:{super_.id}")
    await m.dialogs.typing(a, super_.id)
    assert [f["event"] for f in topic.frames] == ["typing"]
    with pytest.raises(InvalidInput):
        await m.dialogs.typing(a, chat.id, "dancing")


async def test_views_are_counted_in_batches(mworld: MWorld) -> None:
    m = mworld.messenger
    owner = await mworld.user()
    channel = await m.chats.create_channel(owner, "Views", username="views_channel")
    post = await m.messages.send(owner, channel.id, "look")
    readers = [await mworld.user() for _ in range(3)]
    for r in readers:
        await m.chats.join(r, channel.id)
        await m.dialogs.record_views(r, channel.id, [post.id])
        await m.dialogs.record_views(r, channel.id, [post.id])  # the same reader counts once
    assert m.dialogs.pending_views() == 3
    assert (await m.history.history(owner, channel.id))["messages"][0]["views"] == 0
    assert await m.dialogs.flush_views() == 3
    assert (await m.history.history(owner, channel.id))["messages"][0]["views"] == 3
