"""The messenger repositories' contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.domain.messenger.chats import Chat, ChatKind, private_key
from palaver.domain.messenger.invites import Invite, JoinRequest
from palaver.domain.messenger.members import Draft, Member
from palaver.domain.messenger.messages import Entity, EntityType, ForwardHeader, Message
from palaver.domain.messenger.roles import AdminRights, MemberStatus
from palaver.domain.messenger.search import query_terms
from palaver.domain.messenger.updates import StoredUpdate, UpdateType
from palaver.errors import Conflict
from palaver.ports import Transaction

_ids = itertools.count(5_000_000_000)
NOW = 1_790_000_000.0


def a_chat(kind: ChatKind = ChatKind.GROUP, **extra: object) -> Chat:
    return Chat(id=next(_ids), kind=kind, title=str(extra.pop("title", "Chat")), created_at=NOW, top_date=NOW, **extra)  # type: ignore[arg-type]


def a_message(chat_id: int, msg_id: int, text: str = "hello", sender: int = 1, **extra: object) -> Message:
    return Message(chat_id=chat_id, id=msg_id, uid=next(_ids), sender_id=sender, date=NOW + msg_id, text=text, **extra)  # type: ignore[arg-type]


async def test_chat_round_trip_and_unique_names(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.CHANNEL, username="Palaver_News", about="news", signatures=True, owner_id=7)
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
    async with storage.transaction() as tx:
        assert await tx.chats.get(chat.id) == chat
        assert await tx.chats.get_by_username("palaver_news") == chat
    with pytest.raises(Conflict) as taken:
        async with storage.transaction() as tx:
            await tx.chats.insert(a_chat(ChatKind.CHANNEL, username="PALAVER_NEWS"))
    assert taken.value.code == "username_taken"
    key = private_key(1, 2)
    async with storage.transaction() as tx:
        await tx.chats.insert(a_chat(ChatKind.PRIVATE, private_key=key))
    with pytest.raises(Conflict) as exists:
        async with storage.transaction() as tx:
            await tx.chats.insert(a_chat(ChatKind.PRIVATE, private_key=key))
    assert exists.value.code == "chat_exists"


async def test_allocate_advances_counters_atomically(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.CHANNEL)
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        assert await tx.chats.allocate(chat.id, messages=1, pts=0, date=NOW + 5) == (1, 0)
        assert await tx.chats.allocate(chat.id, messages=3, pts=2, date=None) == (4, 2)
    async with storage.transaction() as tx:
        stored = await tx.chats.get(chat.id)
    assert stored is not None and (stored.last_msg_id, stored.pts, stored.top_date) == (4, 2, NOW + 5)


async def test_members_roles_reads_and_drafts(storage: SqlStorage) -> None:
    chat = a_chat()
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        for uid, status in ((1, MemberStatus.OWNER), (2, MemberStatus.MEMBER), (3, MemberStatus.BANNED)):
            await tx.members.put(Member(chat.id, uid, status, joined_at=NOW))
        await tx.members.set_role(chat.id, 2, MemberStatus.ADMIN, rights=AdminRights.PIN_MESSAGES, promoted_by=1)
        await tx.members.set_draft(chat.id, 2, Draft("hi", ({"type": "bold", "offset": 0, "length": 2},), None, NOW))
        await tx.members.set_read_inbox(chat.id, 2, 9)
        assert await tx.members.raise_read_outbox(chat.id, 2, 9) == [1]
        assert await tx.members.raise_read_outbox(chat.id, 2, 9) == []
    async with storage.transaction() as tx:
        admin = await tx.members.get(chat.id, 2)
        assert await tx.members.active_user_ids(chat.id) == [1, 2]
        banned = await tx.members.list_members(chat.id, statuses=(MemberStatus.BANNED,), after_user_id=0, limit=10)
    assert admin is not None
    assert (admin.status, admin.rights, admin.promoted_by, admin.read_inbox_max) == (
        MemberStatus.ADMIN,
        AdminRights.PIN_MESSAGES,
        1,
        9,
    )
    assert admin.draft is not None and admin.draft.text == "hi" and admin.draft.entities[0]["type"] == "bold"
    assert [m.user_id for m in banned] == [3]


async def test_put_keeps_dialog_state_when_coming_back(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.SUPERGROUP)
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.members.put(Member(chat.id, 5, MemberStatus.MEMBER, joined_at=NOW))
        await tx.members.set_read_inbox(chat.id, 5, 4)
        await tx.members.set_role(chat.id, 5, MemberStatus.LEFT)
        await tx.members.put(Member(chat.id, 5, MemberStatus.MEMBER, joined_at=NOW + 1))
        member = await tx.members.get(chat.id, 5)
    assert member is not None and member.read_inbox_max == 4 and member.joined_at == NOW + 1


async def test_messages_history_hide_delete_and_reactions(storage: SqlStorage) -> None:
    chat = a_chat()
    forward = ForwardHeader(from_chat_id=9, from_msg_id=3, from_user_id=None, date=NOW, signature="Ada")
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.messages.insert(
            [
                a_message(chat.id, i, f"message {i}", entities=(Entity(EntityType.BOLD, 0, 7),), forward=forward)
                for i in range(1, 11)
            ]
        )
    async with storage.transaction() as tx:
        first = await tx.messages.get(chat.id, 1)
        assert first is not None and first.forward == forward and first.entities[0].type is EntityType.BOLD
        older = await tx.messages.history(chat.id, viewer_id=1, min_id=0, offset_id=6, older=True, limit=3)
        assert [m.id for m in older] == [5, 4, 3]
        newer = await tx.messages.history(chat.id, viewer_id=1, min_id=0, offset_id=6, older=False, limit=3)
        assert [m.id for m in newer] == [8, 7, 6]
        latest = await tx.messages.history(chat.id, viewer_id=1, min_id=7, offset_id=0, older=True, limit=50)
        assert [m.id for m in latest] == [10, 9, 8]
        await tx.messages.hide(2, chat.id, [9, 10])
        await tx.messages.hide(2, chat.id, [9])  # idempotent
        seen = await tx.messages.history(chat.id, viewer_id=2, min_id=0, offset_id=0, older=True, limit=3)
        assert [m.id for m in seen] == [8, 7, 6]
        assert await tx.messages.hidden_among(2, [(chat.id, 9), (chat.id, 1)]) == {(chat.id, 9)}
        assert await tx.messages.count_unread(chat.id, 2, 7) == 3
        assert await tx.messages.count_unread(chat.id, 1, 7) == 0  # own messages are never unread
        counts = await tx.messages.set_reaction(chat.id, 3, 1, "👍", NOW)
        counts = await tx.messages.set_reaction(chat.id, 3, 2, "👍", NOW)
        counts = await tx.messages.set_reaction(chat.id, 3, 3, "🔥", NOW)
        assert counts == (("👍", 2), ("🔥", 1))
        counts = await tx.messages.set_reaction(chat.id, 3, 2, "🔥", NOW)
        assert counts == (("👍", 1), ("🔥", 2))
        assert await tx.messages.my_reactions(2, chat.id, [3, 4]) == {3: "🔥"}
        assert await tx.messages.delete(chat.id, [3, 9, 99]) == [3, 9]
        assert await tx.messages.get(chat.id, 3) is None
        await tx.messages.add_views({(chat.id, 4): 5})
        await tx.messages.add_views({(chat.id, 4): 2})
        viewed = await tx.messages.get(chat.id, 4)
    assert viewed is not None and viewed.views == 7


async def test_common_boxes_allocate_without_holes(storage: SqlStorage) -> None:
    async with storage.transaction() as tx:
        await tx.updates.ensure_common_boxes([1, 2])
        await tx.updates.ensure_common_boxes([2, 3])
        assert await tx.updates.allocate_common({1: 1, 2: 3}) == {1: 1, 2: 3}
        assert await tx.updates.allocate_common({2: 1, 3: 2}) == {2: 4, 3: 2}
        rows = [
            StoredUpdate(2, 3, 3, UpdateType.DELETE_MESSAGES, 9, None, {"chat_id": "9", "ids": [1, 2, 3]}, NOW),
            StoredUpdate(2, 4, 1, UpdateType.NEW_MESSAGE, 9, 4, None, NOW),
        ]
        await tx.updates.insert_common(rows)
    async with storage.transaction() as tx:
        assert await tx.updates.common_state(2) == (4, 0)
        assert await tx.updates.common_state(99) == (0, 0)
        assert await tx.updates.common_after(2, 0, limit=10) == rows
        assert await tx.updates.common_after(2, 3, limit=10) == rows[1:]
        with pytest.raises(LookupError):
            await tx.updates.allocate_common({99: 1})


async def test_channel_box(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.CHANNEL)
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        _, pts = await tx.chats.allocate(chat.id, messages=1, pts=1, date=NOW)
        row = StoredUpdate(chat.id, pts, 1, UpdateType.NEW_MESSAGE, chat.id, 1, None, NOW)
        await tx.updates.insert_channel([row])
    async with storage.transaction() as tx:
        assert await tx.updates.channel_after(chat.id, 0, limit=5) == [row]
        assert await tx.updates.channel_after(chat.id, 1, limit=5) == []


async def test_invites_and_requests(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.SUPERGROUP)
    invite = Invite(
        id=next(_ids), chat_id=chat.id, code=f"code{next(_ids)}", creator_id=1, created_at=NOW, usage_limit=2
    )
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.invites.insert(invite)
        assert await tx.invites.count_use(invite.id)
        assert await tx.invites.count_use(invite.id)
        assert not await tx.invites.count_use(invite.id)
        assert await tx.invites.revoke(invite.id, NOW)
        assert not await tx.invites.revoke(invite.id, NOW)
        assert await tx.invites.add_request(JoinRequest(chat.id, 5, invite.id, NOW))
        assert not await tx.invites.add_request(JoinRequest(chat.id, 5, invite.id, NOW))
    async with storage.transaction() as tx:
        stored = await tx.invites.get_by_code(invite.code)
        assert stored is not None and stored.usage_count == 2 and stored.revoked_at == NOW
        assert [i.id for i in await tx.invites.list_for_chat(chat.id)] == [invite.id]
        assert [r.user_id for r in await tx.invites.list_requests(chat.id, limit=5)] == [5]
        assert await tx.invites.delete_request(chat.id, 5)
        assert await tx.invites.count_requests(chat.id) == 0


async def test_dialogs_order_and_channel_ids(storage: SqlStorage) -> None:
    chats = [a_chat(ChatKind.GROUP, title=f"g{i}") for i in range(3)]
    channel = a_chat(ChatKind.CHANNEL)
    empty_private = a_chat(ChatKind.PRIVATE, private_key=private_key(77, 78))
    async with storage.transaction() as tx:
        for i, chat in enumerate([*chats, channel, empty_private]):
            await tx.chats.insert(chat)
            await tx.members.put(Member(chat.id, 77, MemberStatus.MEMBER, joined_at=NOW))
            await tx.chats.allocate(chat.id, messages=0, pts=0, date=NOW + i)
        await tx.members.set_pinned_rank(chats[0].id, 77, 1)
    async with storage.transaction() as tx:
        pinned = await tx.members.dialogs(77, pinned=True, before=None, limit=10)
        rest = await tx.members.dialogs(77, pinned=False, before=None, limit=2)
        more = await tx.members.dialogs(77, pinned=False, before=(rest[-1][0].top_date, rest[-1][0].id), limit=10)
        assert await tx.members.channel_ids(77) == [channel.id]
        assert await tx.members.pinned_ranks(77) == [1]
    assert [c.id for c, _ in pinned] == [chats[0].id]
    assert [c.id for c, _ in rest] == [channel.id, chats[2].id]
    assert [c.id for c, _ in more] == [chats[1].id]  # the private chat without messages is not a dialog


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("The quick brown fox", "QUICK fox"),
        ("Un élève à l'école", "eleve ecole"),
        ("Ein Grüßen aus Köln", "grussen koln"),
        ("كَتَبَ الوَلَدُ الدَّرسَ", "كتب الدرس"),
        ("مرحبا بالعالم", "مرح"),
        ("Prefixes match: palaverous", "palav"),
    ],
)
async def test_message_search_in_four_languages(storage: SqlStorage, text: str, query: str) -> None:
    chat, other = a_chat(), a_chat()
    async with storage.transaction() as tx:
        for c in (chat, other):
            await tx.chats.insert(c)
            await tx.members.put(Member(c.id, 42, MemberStatus.MEMBER, joined_at=NOW))
        await tx.messages.insert([a_message(chat.id, 1, text), a_message(chat.id, 2, "unrelated words")])
        await tx.messages.insert([a_message(other.id, 1, text)])
        await tx.members.set_role(other.id, 42, MemberStatus.LEFT)
    terms = query_terms(query)
    async with storage.transaction() as tx:
        in_chat = await tx.messages.search(terms, viewer_id=42, chat_id=chat.id, min_id=0, before_uid=None, limit=10)
        everywhere = await tx.messages.search(terms, viewer_id=42, chat_id=None, min_id=0, before_uid=None, limit=10)
        hidden_history = await tx.messages.search(
            terms, viewer_id=42, chat_id=chat.id, min_id=1, before_uid=None, limit=10
        )
    assert [m.id for m in in_chat] == [1]
    assert [(m.chat_id, m.id) for m in everywhere] == [(chat.id, 1)]  # not the chat 42 left
    assert hidden_history == []


async def test_search_follows_edits_and_deletes(storage: SqlStorage) -> None:
    chat = a_chat()
    message = a_message(chat.id, 1, "first draft")
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.messages.insert([message])
        await tx.messages.edit(message, text="final version", entities=(), edit_date=NOW + 1)
    search = {"viewer_id": None, "chat_id": chat.id, "min_id": 0, "before_uid": None, "limit": 10}
    async with storage.transaction() as tx:
        assert await tx.messages.search(query_terms("draft"), **search) == []  # type: ignore[arg-type]
        found = await tx.messages.search(query_terms("final"), **search)  # type: ignore[arg-type]
        assert [m.text for m in found] == ["final version"]
        await tx.messages.delete(chat.id, [1])
        assert await tx.messages.search(query_terms("final"), **search) == []  # type: ignore[arg-type]


async def test_directory_search(storage: SqlStorage) -> None:
    news = a_chat(ChatKind.CHANNEL, title="Nouvelles du Monde", username=f"monde{next(_ids) % 10**6}")
    secret = a_chat(ChatKind.CHANNEL, title="Nouvelles secrètes")
    async with storage.transaction() as tx:
        await tx.chats.insert(news)
        await tx.chats.insert(secret)
    async with storage.transaction() as tx:
        assert [c.id for c in await tx.chats.search_public(query_terms("nouvelles"), limit=10)] == [news.id]
        assert [c.id for c in await tx.chats.search_public(query_terms("monde"), limit=10)] == [news.id]
        await tx.chats.update_info(replace(news, username=None))
    async with storage.transaction() as tx:
        assert await tx.chats.search_public(query_terms("nouvelles"), limit=10) == []


async def test_chat_with_membership_in_one_query(storage: SqlStorage) -> None:
    chat = a_chat()
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.members.put(Member(chat.id, 3, MemberStatus.ADMIN, joined_at=NOW, rights=AdminRights.BAN_USERS))
        found, member = await tx.chats.get_with_member(chat.id, 3)
        assert found == chat and member is not None and member.rights == AdminRights.BAN_USERS
        assert await tx.chats.get_with_member(chat.id, 4) == (chat, None)
        assert await tx.chats.get_with_member(next(_ids), 3) == (None, None)


async def test_run_batch_commits_or_rolls_back_as_a_whole(storage: SqlStorage) -> None:
    chat = a_chat()

    async def write(tx: Transaction) -> int:
        await tx.chats.insert(chat)
        last, _ = await tx.chats.allocate(chat.id, messages=2, pts=0, date=None)
        return last

    assert await storage.run_batch(write) == 2
    other = a_chat()

    async def failing(tx: Transaction) -> None:
        await tx.chats.insert(other)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.run_batch(failing)
    async with storage.transaction() as tx:
        assert await tx.chats.get(chat.id) is not None
        assert await tx.chats.get(other.id) is None


async def test_run_batch_savepoints_roll_back_alone(storage: SqlStorage) -> None:
    keep, lose = a_chat(), a_chat()

    async def inner(tx: Transaction) -> None:
        async with tx.savepoint():
            await tx.chats.insert(lose)
            raise ValueError("inner")

    async def write(tx: Transaction) -> None:
        await tx.chats.insert(keep)
        with pytest.raises(ValueError, match="inner"):
            await inner(tx)

    await storage.run_batch(write)
    async with storage.transaction() as tx:
        assert await tx.chats.get(keep.id) is not None
        assert await tx.chats.get(lose.id) is None


# --------------------------------------------------------------------------- deferred writes (write_behind)


async def test_deferred_writes_are_read_back_in_the_same_transaction(storage: SqlStorage) -> None:
    chat = a_chat()
    async with storage.transaction() as tx:
        await tx.chats.insert(chat)
        await tx.members.put(Member(chat.id, 1, MemberStatus.MEMBER, joined_at=NOW))
        assert await tx.chats.allocate(chat.id, messages=1, pts=0, date=NOW + 1) == (1, 0)
        await tx.messages.insert([a_message(chat.id, 1, "first words")])
        found, member = await tx.chats.get_with_member(chat.id, 1)  # counters held in memory, overlaid
        assert found is not None and (found.last_msg_id, found.top_date) == (1, NOW + 1) and member is not None
        assert await tx.chats.allocate(chat.id, messages=2, pts=0, date=None) == (3, 0)
        stored = await tx.chats.get(chat.id)  # any other statement sees every deferred write
        assert stored is not None and stored.last_msg_id == 3
        first = await tx.messages.get(chat.id, 1)
        assert first is not None and first.text == "first words"
        await tx.members.put(Member(chat.id, 2, MemberStatus.MEMBER, joined_at=NOW))
        assert await tx.members.active_user_ids(chat.id) == [1, 2]
        await tx.messages.insert([a_message(chat.id, 2, "second words")])
        assert [
            m.id
            for m in await tx.messages.search(
                query_terms("words"), viewer_id=None, chat_id=chat.id, min_id=0, before_uid=None, limit=5
            )
        ] == [2, 1]
    async with storage.transaction() as tx:
        stored = await tx.chats.get(chat.id)
        assert stored is not None and (stored.last_msg_id, stored.top_date) == (3, NOW + 1)
        assert [m.id for m in await tx.messages.get_many(chat.id, [1, 2])] == [1, 2]


async def test_a_rolled_back_savepoint_takes_its_deferred_writes_along(storage: SqlStorage) -> None:
    chat = a_chat(ChatKind.CHANNEL)

    async def doomed(tx: Transaction) -> None:
        async with tx.savepoint():
            assert await tx.chats.allocate(chat.id, messages=1, pts=1, date=None) == (2, 2)
            await tx.messages.insert([a_message(chat.id, 2, "lost")])
            raise ValueError("inner")

    async def write(tx: Transaction) -> None:
        await tx.chats.insert(chat)
        assert await tx.chats.allocate(chat.id, messages=1, pts=1, date=None) == (1, 1)
        await tx.messages.insert([a_message(chat.id, 1, "kept")])
        with pytest.raises(ValueError, match="inner"):
            await doomed(tx)
        assert await tx.chats.allocate(chat.id, messages=1, pts=1, date=None) == (2, 2)
        await tx.messages.insert([a_message(chat.id, 2, "kept too")])

    await storage.run_batch(write)
    async with storage.transaction() as tx:
        stored = await tx.chats.get(chat.id)
        assert stored is not None and (stored.last_msg_id, stored.pts) == (2, 2)
        assert [m.text for m in await tx.messages.get_many(chat.id, [1, 2])] == ["kept", "kept too"]


async def test_prefetched_chats_and_memberships(storage: SqlStorage) -> None:
    one, two = a_chat(), a_chat(ChatKind.SUPERGROUP)
    async with storage.transaction() as tx:
        for chat in (one, two):
            await tx.chats.insert(chat)
        await tx.members.put(Member(one.id, 1, MemberStatus.OWNER, joined_at=NOW))
        await tx.members.put(Member(two.id, 1, MemberStatus.MEMBER, joined_at=NOW))
    missing = next(_ids)

    async def write(tx: Transaction) -> list[object]:
        await tx.chats.prefetch([(two.id, 1), (one.id, 1), (one.id, 2), (missing, 1), (two.id, 1)])
        seen: list[object] = [
            await tx.chats.get_with_member(one.id, 1),
            await tx.chats.get_with_member(one.id, 2),
            await tx.chats.get_with_member(missing, 1),
            await tx.chats.get_with_member(two.id, 3),  # not prefetched: read on demand
        ]
        assert await tx.chats.allocate(two.id, messages=1, pts=1, date=NOW + 9) == (1, 1)
        assert await tx.chats.allocate(two.id, messages=1, pts=1, date=None) == (2, 2)
        after, _ = await tx.chats.get_with_member(two.id, 1)
        seen.append((after.last_msg_id, after.pts, after.top_date) if after else None)
        return seen

    by_owner, outsider, nothing, other, counters = await storage.run_batch(write)
    found, owner = by_owner  # type: ignore[misc]
    assert found == one and owner is not None and owner.status is MemberStatus.OWNER
    assert outsider == (one, None) and nothing == (None, None) and other == (two, None)
    assert counters == (2, 2, NOW + 9)
    async with storage.transaction() as tx:
        stored = await tx.chats.get(two.id)
    assert stored is not None and (stored.last_msg_id, stored.pts, stored.top_date) == (2, 2, NOW + 9)
