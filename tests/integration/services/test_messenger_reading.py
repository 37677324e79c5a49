"""History in both directions, the dialog list, and search (which respects membership)."""

from __future__ import annotations

import pytest

from palaver.adapters.views.memory import MemoryViewLedger
from palaver.domain.messenger.chats import ChatKind
from palaver.errors import Forbidden, InvalidInput
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger, MessengerPolicy
from tests.support.messenger import MWorld, mworld

__all__ = ["mworld"]


async def test_history_directions(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    for i in range(1, 21):
        await m.messages.send(a, chat.id, f"m{i}")

    async def ids(**kwargs: object) -> list[int]:
        page = await m.history.history(b, chat.id, **kwargs)  # type: ignore[arg-type]
        return [x["id"] for x in page["messages"]]

    assert await ids(limit=3) == [20, 19, 18]
    assert await ids(offset_id=18, limit=3) == [17, 16, 15]
    assert await ids(offset_id=18, direction="newer", limit=3) == [20, 19, 18]
    assert await ids(offset_id=10, direction="around", limit=4) == [11, 10, 9, 8]
    assert await ids(offset_id=1, direction="older") == []
    for bad in ({"limit": 0}, {"limit": 101}, {"direction": "sideways"}):
        with pytest.raises(InvalidInput):
            await ids(**bad)


async def test_basic_group_history_starts_at_joining(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, late = await mworld.user(), await mworld.user()
    group = await m.chats.create_group(owner, "G", [])
    await m.messages.send(owner, group.id, "before you came")
    await m.chats.add_members(owner, group.id, [late.user_id])
    await m.messages.send(owner, group.id, "welcome")
    page = await m.history.history(late, group.id)
    assert [x["text"] for x in page["messages"]] == ["welcome"]
    assert (await m.search.messages(late, "came"))["messages"] == []


async def test_dialogs_sorted_by_last_message_with_cursor(mworld: MWorld) -> None:
    m = mworld.messenger
    me = await mworld.user()
    peers = [await mworld.user(f"peer{i}") for i in range(5)]
    chats = []
    for peer in peers:
        chat = await m.chats.open_private(peer, me.user_id)
        await m.messages.send(peer, chat.id, f"from {peer.user_id}")
        chats.append(chat)
        mworld.clock.advance(1)
    await m.chats.open_private(me, (await mworld.user()).user_id)  # no messages: not a dialog yet
    await m.messages.send(peers[0], chats[0].id, "bump")  # the oldest chat becomes the newest
    await m.dialogs.pin_dialog(me, chats[2].id, True)
    first = await m.history.dialogs(me, limit=2)
    order = [d["chat"]["id"] for d in first["dialogs"]]
    assert order == [str(chats[2].id), str(chats[0].id), str(chats[4].id)]
    assert first["dialogs"][1]["top_message"]["text"] == "bump"
    assert first["dialogs"][1]["unread_count"] == 2
    assert first["dialogs"][1]["peer"]["display_name"] == "peer0"
    second = await m.history.dialogs(me, cursor=first["next_cursor"], limit=2)
    assert [d["chat"]["id"] for d in second["dialogs"]] == [str(chats[3].id), str(chats[1].id)]
    third = await m.history.dialogs(me, cursor=second["next_cursor"], limit=2)
    assert third == {"dialogs": [], "next_cursor": None}
    with pytest.raises(InvalidInput):
        await m.history.dialogs(me, cursor="garbage")


async def test_search_respects_membership(mworld: MWorld) -> None:
    m = mworld.messenger
    me, stranger = await mworld.user(), await mworld.user()
    mine = await m.chats.create_group(me, "Mine", [])
    theirs = await m.chats.create_group(stranger, "Theirs", [])
    hidden_channel = await m.chats.create_channel(stranger, "Secret channel")
    await m.messages.send(me, mine.id, "Le rendez-vous est à l'école")
    await m.messages.send(stranger, theirs.id, "École secrète")
    await m.messages.send(stranger, hidden_channel.id, "école cachée")
    found = await m.search.messages(me, "ecole")
    assert [x["chat_id"] for x in found["messages"]] == [str(mine.id)]
    with pytest.raises(Forbidden):
        await m.search.messages(me, "ecole", chat_id=theirs.id)
    with pytest.raises(Forbidden):
        await m.search.messages(me, "ecole", chat_id=hidden_channel.id)
    assert len((await m.search.messages(stranger, "ÉCOLE"))["messages"]) == 2


async def test_search_in_four_languages_and_paging(mworld: MWorld) -> None:
    m = mworld.messenger
    me = await mworld.user()
    chat = await m.chats.create_group(me, "Polyglot", [])
    texts = ["Guten Morgen, schöne Grüße", "مرحبا بكم في المدرسة", "Bonjour à tous les élèves", "Good morning all"]
    for text in texts:
        await m.messages.send(me, chat.id, text)
    for query, expected in [("grusse", texts[0]), ("المدرسة", texts[1]), ("eleves", texts[2]), ("MORN", texts[3])]:
        found = await m.search.messages(me, query, chat_id=chat.id)
        assert [x["text"] for x in found["messages"]] == [expected], query
    for i in range(5):
        await m.messages.send(me, chat.id, f"page item {i}")
    first = await m.search.messages(me, "page item", limit=3)
    rest = await m.search.messages(me, "page item", cursor=first["next_cursor"], limit=3)
    texts_found = [x["text"] for x in first["messages"] + rest["messages"]]
    assert texts_found == [f"page item {i}" for i in reversed(range(5))]


async def test_public_directory(mworld: MWorld) -> None:
    m = mworld.messenger
    me = await mworld.user()
    await m.chats.create_channel(me, "Nachrichten aus Köln", username="koeln_news")
    await m.chats.create_channel(me, "أخبار القاهرة", username="cairo_news", kind=ChatKind.SUPERGROUP)
    await m.chats.create_channel(me, "Köln privat")
    found = await m.search.directory(me, "koln")
    assert [c["username"] for c in found["chats"]] == ["koeln_news"]
    assert [c["username"] for c in (await m.search.directory(me, "القاهرة"))["chats"]] == ["cairo_news"]
    assert len((await m.search.directory(me, "news"))["chats"]) == 2


async def test_difference_slices_and_too_long(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    chat = await m.chats.open_private(a, b.user_id)
    for i in range(5):
        await m.messages.send(a, chat.id, f"m{i}")
    first = await m.sync.difference(b, 0, limit=2)
    assert (first["kind"], first["pts"], first["final"]) == ("slice", 2, False)
    rest = await m.sync.difference(b, first["pts"], limit=10)
    assert (rest["pts"], rest["final"], len(rest["updates"])) == (5, True, 3)
    assert (await m.sync.difference(b, 5))["kind"] == "empty"
    assert (await m.sync.difference(b, 9))["kind"] == "too_long"  # from the future: reload
    strict = Messenger(
        storage=mworld.storage,
        broker=mworld.broker,
        clock=mworld.clock,
        ids=SnowflakeIds(mworld.clock, node=9),
        policy=MessengerPolicy(too_long_after=3),
        views=MemoryViewLedger(mworld.clock),
    )
    answer = await strict.sync.difference(b, 0)
    assert (answer["kind"], answer["pts"], answer["updates"]) == ("too_long", 5, [])
    with pytest.raises(InvalidInput):
        await m.sync.channel_difference(b, chat.id, 0)  # private chats have no channel box
