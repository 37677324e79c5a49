"""Property: in every box, pts strictly increase with no holes, in the database and on the wire."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palaver.adapters.storage.migrate import upgrade
from palaver.domain.messenger.chats import ChatKind
from palaver.errors import PalaverError
from tests.support.databases import sqlite_url
from tests.support.messenger import MWorld, messenger_world

_TEMPLATE: list[Path] = []

Op = tuple[str, int, int]  # (action, chat index, actor index)
ops_strategy = st.lists(
    st.tuples(
        st.sampled_from(["send", "send", "send", "delete", "delete_many", "react", "read", "edit", "pin", "draft"]),
        st.integers(0, 3),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=25,
)


def template_db() -> Path:
    if not _TEMPLATE:
        directory = Path(tempfile.mkdtemp(prefix="palaver-pts-"))
        upgrade(sqlite_url(directory))
        _TEMPLATE.append(directory / "palaver.db")
    return _TEMPLATE[0]


async def scenario(world: MWorld, ops: list[Op]) -> None:
    m = world.messenger
    users = [await world.user() for _ in range(3)]
    feed = await world.feed(*(f"user:{u.user_id}" for u in users))
    chats = [
        await m.chats.open_private(users[0], users[1].user_id),
        await m.chats.create_group(users[0], "g", [u.user_id for u in users]),
        await m.chats.create_channel(users[0], "c", username="pts_channel"),
        await m.chats.create_channel(users[0], "s", kind=ChatKind.SUPERGROUP, username="pts_super"),
    ]
    for chat in chats[2:]:
        await world.broker.subscribe(f"channel:{chat.id}", feed)
        for u in users[1:]:
            await m.chats.join(u, chat.id)
    for action, chat_index, actor_index in ops:
        chat, actor = chats[chat_index], users[actor_index]
        try:
            if action == "send":
                await m.messages.send(actor, chat.id, "hi")
            elif action in ("delete", "delete_many"):
                ids = [1] if action == "delete" else [1, 2, 3, 4]
                await m.messages.delete(actor, chat.id, ids, for_everyone=action == "delete_many")
            elif action == "react":
                await m.messages.react(actor, chat.id, 1, "🔥")
            elif action == "edit":
                await m.messages.edit(actor, chat.id, 1, f"edit {len(feed.frames)}")
            elif action == "pin":
                await m.messages.pin(actor, chat.id, 1)
            elif action == "draft":
                await m.dialogs.save_draft(actor, chat.id, f"draft {len(feed.frames)}")
            else:
                await m.dialogs.read(actor, chat.id, 10**6)
        except PalaverError:
            pass  # forbidden or missing: nothing written, no update

    # On the wire: per box, consecutive pts in publish order.
    wire: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for frame in feed.frames:
        data = frame["data"]
        if frame["event"] == "update":
            wire[(str(frame["topic"]), data["box"])].append((data["pts"], data["pts_count"]))  # type: ignore[index]
    for updates in wire.values():
        previous = 0
        for pts, count in updates:
            assert count >= 1 and pts - count == previous
            previous = pts

    # In the database: every box's rows cover 1..pts exactly.
    async with world.storage.transaction() as tx:
        boxes = [
            (await tx.updates.common_after(u.user_id, 0, limit=10**6), (await tx.updates.common_state(u.user_id))[0])
            for u in users
        ]
        for chat in chats[2:]:
            fresh = await tx.chats.get(chat.id)
            assert fresh is not None
            boxes.append((await tx.updates.channel_after(chat.id, 0, limit=10**6), fresh.pts))
    for rows, box_pts in boxes:
        previous = 0
        for row in rows:
            assert row.pts_count >= 1 and row.pts - row.pts_count == previous
            previous = row.pts
        assert previous == box_pts

    # Through getDifference in small slices, clients reach the box pts.
    for user in users:
        state = await m.sync.state(user)
        pts = 0
        while True:
            answer = await m.sync.difference(user, pts, limit=3)
            for item in answer["updates"]:
                assert item["pts"] - item["pts_count"] >= pts
            pts = answer["pts"]
            if answer["final"]:
                break
        assert pts == state["pts"]
        assert len(wire.get((f"user:{user.user_id}", "common"), [])) <= state["pts"]
    for chat in chats[2:]:
        info = await m.chats.get(users[0], chat.id)
        box_pts = info["chat"]["pts"]
        rows = (await m.sync.channel_difference(users[0], chat.id, 0, limit=1000))["updates"]
        previous = 0
        for item in rows:
            assert item["pts"] - item["pts_count"] >= previous  # message updates of deleted messages drop out
            previous = item["pts"]
        assert [p for p, _ in wire[(f"channel:{chat.id}", f"channel:{chat.id}")]][-1:] == ([box_pts] if box_pts else [])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy, batch=st.booleans())
def test_pts_strictly_increase_without_holes(ops: list[Op], batch: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        shutil.copy(template_db(), path / "palaver.db")

        async def run() -> None:
            async with messenger_world("sqlite", path, batch=batch, migrate=False) as world:
                await scenario(world, ops)

        asyncio.run(run())
