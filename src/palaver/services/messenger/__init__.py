"""Messenger use cases: private chats, groups, supergroups and channels with gap-free sync.

``Messenger`` bundles the services; each write goes through one ``Writer`` (optionally group-committed)
so updates get their pts atomically and are published only after the commit.
"""

from __future__ import annotations

from palaver.ports import Broker, Clock, IdGenerator, Storage, ViewLedger
from palaver.services.messenger.chats import ChatService
from palaver.services.messenger.deps import Deps, LockedIds, MessengerPolicy
from palaver.services.messenger.dialogs import DialogService
from palaver.services.messenger.history import HistoryService
from palaver.services.messenger.invites import InviteService
from palaver.services.messenger.messages import MessageService
from palaver.services.messenger.search import SearchService
from palaver.services.messenger.sync import SyncService
from palaver.services.messenger.writer import Writer

__all__ = ["LockedIds", "Messenger", "MessengerPolicy"]


class Messenger:
    def __init__(
        self,
        *,
        storage: Storage,
        broker: Broker,
        clock: Clock,
        ids: IdGenerator,
        views: ViewLedger,
        policy: MessengerPolicy | None = None,
    ) -> None:
        """``views``: the view ledger (memory, or Redis for several processes); the messenger closes it."""
        policy = policy or MessengerPolicy()
        ids = ids if isinstance(ids, LockedIds) else LockedIds(ids)  # writes may run on a writer thread
        self.writer = Writer(storage, broker, clock, batch=policy.batch_writes, max_batch=policy.max_batch)
        deps = Deps(storage, broker, clock, ids, self.writer, policy, views)
        self.chats = ChatService(deps)
        self.invites = InviteService(deps)
        self.messages = MessageService(deps)
        self.dialogs = DialogService(deps)
        self.history = HistoryService(deps)
        self.sync = SyncService(deps)
        self.search = SearchService(deps)

    async def channel_topics_for(self, user_id: int) -> list[str]:
        """Broker topics of the channels and supergroups a user is in (for the gateway)."""
        return await self.sync.channel_topics_for(user_id)

    async def close(self) -> None:
        await self.dialogs.flush_views()
        await self.writer.close()
        await self.dialogs.close()
