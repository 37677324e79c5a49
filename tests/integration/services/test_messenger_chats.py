"""Chats and membership: groups, supergroups, channels, roles, bans, invite links, upgrades."""

from __future__ import annotations

import pytest

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.invites import InviteTerms
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound, PalaverError
from tests.support.messenger import MWorld, count_rows, mworld

__all__ = ["mworld"]


async def test_group_creation_tells_every_member(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, a, b = await mworld.user(), await mworld.user(), await mworld.user()
    feed = await mworld.feed(*(f"user:{u.user_id}" for u in (owner, a, b)))
    group = await m.chats.create_group(owner, "Friends", [a.user_id, b.user_id, owner.user_id])
    assert group.member_count == 3
    assert feed.types() == ["chat", "chat", "chat"]
    statuses = [u["update"]["membership"]["status"] for u in feed.updates()]  # type: ignore[index]
    assert sorted(statuses) == ["member", "member", "owner"]
    with pytest.raises(InvalidInput):
        await m.chats.create_group(owner, " ", [])
    with pytest.raises(NotFound):
        await m.chats.create_group(owner, "Ghosts", [123456789])


async def test_group_limit_and_upgrade_to_supergroup(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, member, late = await mworld.user(), await mworld.user(), await mworld.user()
    group = await m.chats.create_group(owner, "Grows", [member.user_id])
    await m.messages.send(owner, group.id, "before the upgrade")
    async with mworld.storage.engine.begin() as conn:  # pretend it is full
        await conn.exec_driver_sql(f"UPDATE chats SET member_count = 200 WHERE id = {group.id}")  # noqa: S608
    with pytest.raises(Conflict) as full:
        await m.chats.add_members(owner, group.id, [late.user_id])
    assert full.value.code == "group_full"
    with pytest.raises(Forbidden):
        await m.chats.upgrade(member, group.id)
    feed = await mworld.feed(f"user:{member.user_id}")
    upgraded = await m.chats.upgrade(owner, group.id)
    assert upgraded.kind is ChatKind.SUPERGROUP
    assert feed.types() == ["chat_upgraded"]
    await m.chats.add_members(owner, group.id, [late.user_id])
    channel_feed = await mworld.feed(f"channel:{group.id}")
    await m.messages.send(member, group.id, "after the upgrade")
    assert [f["data"]["box"] for f in channel_feed.frames] == [f"channel:{group.id}"]  # type: ignore[index]
    history = await m.history.history(late, group.id)
    # Supergroups show new members the whole history (basic groups only what came after joining).
    assert [x["text"] for x in history["messages"]] == ["after the upgrade", "before the upgrade"]
    assert f"channel:{group.id}" in await m.channel_topics_for(member.user_id)


async def test_public_join_leave_and_topics(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, reader = await mworld.user(), await mworld.user()
    channel = await m.chats.create_channel(owner, "Public", username="public_one")
    private = await m.chats.create_channel(owner, "Private")
    await m.messages.send(owner, channel.id, "visible to visitors")
    preview = await m.history.history(reader, channel.id)  # public channels can be read before joining
    assert preview["messages"][0]["text"] == "visible to visitors"
    with pytest.raises(Forbidden):
        await m.history.history(reader, private.id)
    with pytest.raises(Forbidden) as cannot:
        await m.chats.join(reader, private.id)
    assert cannot.value.code == "cannot_join"
    feed = await mworld.feed(f"user:{reader.user_id}")
    await m.chats.join(reader, channel.id)
    assert feed.types() == ["chat"]
    with pytest.raises(Conflict):
        await m.chats.join(reader, channel.id)
    assert await m.channel_topics_for(reader.user_id) == [f"channel:{channel.id}"]
    await m.chats.leave(reader, channel.id)
    assert feed.types() == ["chat", "chat_left"]
    assert await m.channel_topics_for(reader.user_id) == []
    with pytest.raises(Forbidden):
        await m.chats.leave(owner, channel.id)


async def test_ban_kick_restrict(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, mod, troll, other = [await mworld.user() for _ in range(4)]
    group = await m.chats.create_channel(owner, "Forum", kind=ChatKind.SUPERGROUP, username="forum_x")
    for u in (mod, troll, other):
        await m.chats.join(u, group.id)
    await m.chats.promote(owner, group.id, mod.user_id, ["ban_users"])
    with pytest.raises(Forbidden):
        await m.chats.ban(other, group.id, troll.user_id)
    await m.chats.restrict(mod, group.id, troll.user_id)
    with pytest.raises(Forbidden) as muted:
        await m.messages.send(troll, group.id, "spam")
    assert muted.value.code == "cannot_send"
    await m.chats.unrestrict(mod, group.id, troll.user_id)
    await m.messages.send(troll, group.id, "sorry")
    feed = await mworld.feed(f"user:{troll.user_id}")
    await m.chats.ban(mod, group.id, troll.user_id, until=mworld.clock.now() + 3600)
    assert feed.updates()[-1]["update"] == {"type": "chat_left", "chat_id": str(group.id), "reason": "banned"}
    with pytest.raises(Forbidden) as banned:
        await m.chats.join(troll, group.id)
    assert banned.value.code == "banned"
    with pytest.raises(Forbidden):
        await m.history.history(troll, group.id)
    with pytest.raises(Forbidden) as no:
        await m.chats.ban(mod, group.id, owner.user_id)
    assert no.value.code == "cannot_restrict_member"
    mworld.clock.advance(3601)  # the ban runs out
    await m.chats.join(troll, group.id)
    await m.chats.kick(owner, group.id, troll.user_id)
    await m.chats.join(troll, group.id)  # kicked, not banned: may come back
    banned_list = await m.chats.list_members(mod, group.id, which="banned")
    assert banned_list == []
    admins = await m.chats.list_members(other, group.id, which="admins")
    assert {a["status"] for a in admins} == {"owner", "admin"}


async def test_invite_links(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, a, b, c = [await mworld.user() for _ in range(4)]
    channel = await m.chats.create_channel(owner, "Invite only")
    with pytest.raises(Forbidden):
        await m.invites.create(a, channel.id, InviteTerms())
    link = await m.invites.create(owner, channel.id, InviteTerms(usage_limit=1, expire_at=mworld.clock.now() + 60))
    assert (await m.invites.preview(a, link.code))["chat"]["title"] == "Invite only"
    assert (await m.invites.join(a, link.code))["status"] == "joined"
    with pytest.raises(Forbidden) as used:
        await m.invites.join(b, link.code)
    assert used.value.code == "invite_used_up"
    timed = await m.invites.create(owner, channel.id, InviteTerms(expire_at=mworld.clock.now() + 60))
    mworld.clock.advance(61)
    with pytest.raises(Forbidden) as expired:
        await m.invites.join(b, timed.code)
    assert expired.value.code == "invite_expired"
    revoked = await m.invites.create(owner, channel.id, InviteTerms())
    await m.invites.revoke(owner, channel.id, revoked.id)
    feed = await mworld.feed(f"user:{b.user_id}", f"channel:{channel.id}")
    members_before = await count_rows(mworld, "chat_members")
    with pytest.raises(Forbidden) as gone:
        await m.invites.join(b, revoked.code)
    assert gone.value.code == "invite_revoked"
    assert await count_rows(mworld, "chat_members") == members_before and feed.frames == []
    with pytest.raises(NotFound):
        await m.invites.join(b, "no-such-code")
    approval = await m.invites.create(owner, channel.id, InviteTerms(requires_approval=True))
    assert (await m.invites.join(b, approval.code))["status"] == "requested"
    assert (await m.invites.join(c, approval.code))["status"] == "requested"
    requests = await m.invites.requests(owner, channel.id)
    assert {r["user_id"] for r in requests} == {str(b.user_id), str(c.user_id)}
    await m.invites.decide(owner, channel.id, b.user_id, approve=True)
    await m.invites.decide(owner, channel.id, c.user_id, approve=False)
    assert feed.types() == ["chat"]
    assert (await m.chats.get(b, channel.id))["membership"]["status"] == "member"
    with pytest.raises(Forbidden):
        await m.chats.get(c, channel.id)
    assert len(await m.invites.list_for_chat(owner, channel.id)) == 4


async def test_info_changes_and_usernames(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, other = await mworld.user(), await mworld.user()
    channel = await m.chats.create_channel(owner, "Old title", username="taken_name")
    with pytest.raises(Conflict):
        await m.chats.create_channel(other, "Copy", username="TAKEN_NAME")
    feed = await mworld.feed(f"channel:{channel.id}")
    changed = await m.chats.update_info(owner, channel.id, title="New title", username=None, signatures=True)
    assert (changed.title, changed.username, changed.signatures) == ("New title", None, True)
    assert feed.types() == ["chat"]
    with pytest.raises(Forbidden):
        await m.chats.update_info(other, channel.id, title="Hijack")
    group = await m.chats.create_group(owner, "G", [])
    with pytest.raises(PalaverError) as cannot:
        await m.chats.update_info(owner, group.id, username="group_name")
    assert cannot.value.code == "cannot_be_public"


async def test_dialog_pins_are_limited(mworld: MWorld) -> None:
    m = mworld.messenger
    me = await mworld.user()
    groups = [await m.chats.create_group(me, f"g{i}", []) for i in range(6)]
    for g in groups[:5]:
        await m.dialogs.pin_dialog(me, g.id, True)
    with pytest.raises(Conflict) as too_many:
        await m.dialogs.pin_dialog(me, groups[5].id, True)
    assert too_many.value.code == "too_many_pinned"
    dialogs = (await m.history.dialogs(me))["dialogs"]
    assert [d["chat"]["id"] for d in dialogs[:5]] == [str(g.id) for g in reversed(groups[:5])]
