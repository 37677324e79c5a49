"""Channel post views: counted once per viewer per post, in batches, pushed to online clients.

``record`` asks the view ledger (shared by every process: Redis, or this process's memory) which
of the views are first views, and counts only those, in memory. ``flush`` (every few seconds, when
enough are pending, and on shutdown) adds the counts to the messages in one transaction — additive,
so several processes flushing their own counts never overwrite each other — reads the totals back
from that same write, and publishes one ``channel.views`` event per channel on its topic:
``{"chat_id": "<id>", "views": {"<msg_id>": <total>}}``. Totals only grow; a client keeps the
largest it has seen (two processes' events may arrive in either order).

Exactness: a view is in the total once the flush after it committed ("eventually exact"). A count
pending in a process that is killed before its flush is lost (at most one flush interval of that
process's views); a failed flush keeps its counts for the next one.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.messages import check_ids
from palaver.domain.sessions import Principal
from palaver.services.events import Event, publish_all
from palaver.services.messenger.access import readable
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.staging import channel_topic

log = logging.getLogger(__name__)
VIEWS_EVENT = "channel.views"


class ViewCounter:
    def __init__(self, deps: Deps) -> None:
        self._d = deps
        self._pending: dict[tuple[int, int], int] = defaultdict(int)  # (chat, msg) → first views not yet written

    async def record(self, principal: Principal, chat_id: int, ids: list[int]) -> int:
        """Count views of channel posts by this user; returns how many were first views."""
        wanted = check_ids(ids)
        async with self._d.storage.transaction() as tx:
            access = await readable(tx, chat_id, principal.user_id, self._d.clock.now())
        if access.chat.kind is not ChatKind.CHANNEL:
            return 0
        keys = [(chat_id, msg_id, principal.user_id) for msg_id in wanted if msg_id <= access.chat.last_msg_id]
        if not keys:
            return 0
        first = await self._d.views.first_views(keys)
        counted = 0
        for (_, msg_id, _), new in zip(keys, first, strict=True):
            if new:
                self._pending[(chat_id, msg_id)] += 1
                counted += 1
        if self.pending() >= self._d.policy.views_flush_every:
            await self.flush()
        return counted

    async def flush(self) -> int:
        """Write the pending counts and publish the new totals; returns how many views were written."""
        pending, self._pending = dict(self._pending), defaultdict(int)
        if not pending:
            return 0
        try:
            async with self._d.storage.transaction() as tx:
                totals = await tx.messages.add_views(pending)
        except BaseException:
            for key, count in pending.items():  # kept for the next flush
                self._pending[key] += count
            raise
        by_chat: dict[int, dict[str, int]] = defaultdict(dict)
        for (chat_id, msg_id), total in sorted(totals.items()):
            by_chat[chat_id][str(msg_id)] = total
        events = [
            Event(channel_topic(chat_id), VIEWS_EVENT, {"chat_id": str(chat_id), "views": views})
            for chat_id, views in by_chat.items()
        ]
        try:
            await publish_all(self._d.broker, events)
        except Exception:  # live delivery is best effort; the totals are stored
            log.exception("publishing %d channel.views events failed", len(events))
        return sum(pending.values())

    def pending(self) -> int:
        return sum(self._pending.values())
