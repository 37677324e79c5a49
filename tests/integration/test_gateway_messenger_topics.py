"""The messenger tells the gateway when a user's supergroups and channels change: ``gateway.join`` and
``gateway.leave`` control events on ``user:<id>``, published after the commit, after the box updates."""

from __future__ import annotations

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.invites import InviteTerms
from palaver.domain.sessions import Principal
from tests.support.messenger import Feed, MWorld, mworld

__all__ = ["mworld"]


def controls(feed: Feed) -> list[tuple[str, str, list[str]]]:
    """(user topic, event, topics) of every control event, in order."""
    return [
        (str(f["topic"]), str(f["event"]), f["data"]["topics"])  # type: ignore[index]
        for f in feed.frames
        if str(f["event"]).startswith("gateway.")
    ]


def joined(user: Principal, chat_id: int) -> tuple[str, str, list[str]]:
    return (f"user:{user.user_id}", "gateway.join", [f"channel:{chat_id}"])


def left(user: Principal, chat_id: int) -> tuple[str, str, list[str]]:
    return (f"user:{user.user_id}", "gateway.leave", [f"channel:{chat_id}"])


async def test_create_join_and_leave(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, reader = await mworld.user(), await mworld.user()
    feed = await mworld.feed(f"user:{owner.user_id}", f"user:{reader.user_id}")
    channel = await m.chats.create_channel(owner, "Public", username="topics_public")
    assert controls(feed) == [joined(owner, channel.id)]
    await m.chats.join(reader, channel.id)
    await m.chats.leave(reader, channel.id)
    assert controls(feed)[1:] == [joined(reader, channel.id), left(reader, channel.id)]
    events = [f["event"] for f in feed.frames if f["topic"] == f"user:{reader.user_id}"]
    assert events == ["update", "gateway.join", "update", "gateway.leave"]  # after the box update


async def test_members_added_kicked_banned_and_restricted(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, a, b, c = [await mworld.user() for _ in range(4)]
    group = await m.chats.create_channel(owner, "Super", kind=ChatKind.SUPERGROUP)
    feed = await mworld.feed(*(f"user:{u.user_id}" for u in (a, b, c)))
    await m.chats.add_members(owner, group.id, [a.user_id, b.user_id, c.user_id])
    assert sorted(controls(feed)) == sorted([joined(a, group.id), joined(b, group.id), joined(c, group.id)])
    feed.frames.clear()
    await m.chats.restrict(owner, group.id, a.user_id)  # read-only, still subscribed
    await m.chats.kick(owner, group.id, b.user_id)
    await m.chats.ban(owner, group.id, c.user_id)
    await m.chats.ban(owner, group.id, b.user_id)  # no longer a member: nothing to leave
    assert controls(feed) == [left(b, group.id), left(c, group.id)]


async def test_invite_links_and_join_requests(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, direct, asking, declined = [await mworld.user() for _ in range(4)]
    channel = await m.chats.create_channel(owner, "Private")
    feed = await mworld.feed(*(f"user:{u.user_id}" for u in (direct, asking, declined)))
    link = await m.invites.create(owner, channel.id, InviteTerms())
    await m.invites.join(direct, link.code)
    assert controls(feed) == [joined(direct, channel.id)]
    gated = await m.invites.create(owner, channel.id, InviteTerms(requires_approval=True))
    assert (await m.invites.join(asking, gated.code))["status"] == "requested"
    assert (await m.invites.join(declined, gated.code))["status"] == "requested"
    assert len(controls(feed)) == 1  # asking is not joining
    await m.invites.decide(owner, channel.id, declined.user_id, approve=False)
    await m.invites.decide(owner, channel.id, asking.user_id, approve=True)
    assert controls(feed)[1:] == [joined(asking, channel.id)]


async def test_upgrading_a_group_joins_every_member(mworld: MWorld) -> None:
    m = mworld.messenger
    owner, a, b = [await mworld.user() for _ in range(3)]
    feed = await mworld.feed(*(f"user:{u.user_id}" for u in (owner, a, b)))
    group = await m.chats.create_group(owner, "Basic", [a.user_id])
    await m.chats.add_members(owner, group.id, [b.user_id])
    await m.chats.kick(owner, group.id, b.user_id)
    assert controls(feed) == []  # basic groups use the common box: no topic of their own
    await m.chats.upgrade(owner, group.id)
    assert sorted(controls(feed)) == sorted([joined(owner, group.id), joined(a, group.id)])
    assert [f["event"] for f in feed.frames if f["topic"] == f"user:{a.user_id}"][-2:] == ["update", "gateway.join"]


async def test_private_chats_send_no_control_events(mworld: MWorld) -> None:
    m = mworld.messenger
    a, b = await mworld.user(), await mworld.user()
    feed = await mworld.feed(f"user:{a.user_id}", f"user:{b.user_id}")
    chat = await m.chats.open_private(a, b.user_id)
    await m.messages.send(a, chat.id, "hi")
    assert controls(feed) == []
