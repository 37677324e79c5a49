"""A user's own dialog state: read marks (and read receipts), drafts, pinned dialogs, typing, views."""

from __future__ import annotations

from palaver.domain.messenger.chats import MAX_PINNED_DIALOGS, ChatKind
from palaver.domain.messenger.members import Draft
from palaver.domain.messenger.messages import Entity, check_entities, check_text
from palaver.domain.messenger.rights import Action
from palaver.domain.messenger.updates import UpdateType
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, InvalidInput
from palaver.ports import Transaction
from palaver.services.events import Event, publish_all, user_topic
from palaver.services.messenger.access import load_access
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.messages import visible_message
from palaver.services.messenger.serialize import draft_json
from palaver.services.messenger.staging import Staged, channel_topic
from palaver.services.messenger.views import ViewCounter

TYPING_ACTIONS = ("typing", "cancel")


class DialogService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps
        self._views = ViewCounter(deps)

    async def read(self, principal: Principal, chat_id: int, max_id: int) -> int:
        """Mark messages up to ``max_id`` read; returns my read mark. Private chats and basic groups
        tell the senders (read receipts) with ``read_outbox`` updates."""
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> int:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.MANAGE_DIALOG)
            assert access.member is not None
            upto = min(max_id, access.chat.last_msg_id)
            if upto <= access.member.read_inbox_max:
                return access.member.read_inbox_max
            await tx.members.set_read_inbox(chat_id, user_id, upto)
            unread = await tx.messages.count_unread(chat_id, user_id, max(upto, access.min_id))
            payload = {"chat_id": str(chat_id), "max_id": upto, "unread_count": unread}
            staged.to_users([user_id], UpdateType.READ_INBOX, chat_id, payload)
            if access.chat.kind in (ChatKind.PRIVATE, ChatKind.GROUP):
                senders = await tx.members.raise_read_outbox(chat_id, user_id, upto)
                staged.to_users(senders, UpdateType.READ_OUTBOX, chat_id, {"chat_id": str(chat_id), "max_id": upto})
            return upto

        return await self._d.writer.run(op)

    async def save_draft(
        self,
        principal: Principal,
        chat_id: int,
        text: str,
        entities: tuple[Entity, ...] = (),
        *,
        reply_to: int | None = None,
    ) -> Draft | None:
        """Save (empty text: clear) my draft in a chat; synced to my other devices."""
        check_text(text, allow_empty=True)
        checked = check_entities(text, entities)
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> Draft | None:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.MANAGE_DIALOG)
            draft = None
            if text.strip():
                if reply_to is not None:
                    await visible_message(tx, access, reply_to)
                draft = Draft(text, tuple(e.to_json() for e in checked), reply_to, staged.now)
            elif access.member is not None and access.member.draft is None:
                return None
            await tx.members.set_draft(chat_id, user_id, draft)
            payload = {"chat_id": str(chat_id), "draft": draft_json(draft)}
            staged.to_users([user_id], UpdateType.DRAFT, chat_id, payload)
            return draft

        return await self._d.writer.run(op)

    async def pin_dialog(self, principal: Principal, chat_id: int, pinned: bool) -> None:
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.MANAGE_DIALOG)
            assert access.member is not None
            if (access.member.pinned_rank > 0) == pinned:
                return
            rank = 0
            if pinned:
                ranks = await tx.members.pinned_ranks(user_id)
                if len(ranks) >= MAX_PINNED_DIALOGS:
                    raise Conflict(f"At most {MAX_PINNED_DIALOGS} dialogs can be pinned.", code="too_many_pinned")
                rank = (ranks[-1] if ranks else 0) + 1
            await tx.members.set_pinned_rank(chat_id, user_id, rank)
            payload = {"chat_id": str(chat_id), "pinned": pinned}
            staged.to_users([user_id], UpdateType.DIALOG_PINNED, chat_id, payload)

        await self._d.writer.run(op)

    async def typing(self, principal: Principal, chat_id: int, action: str = "typing") -> None:
        """Tell the chat's other members I am typing. Ephemeral: published, never stored."""
        if action not in TYPING_ACTIONS:
            raise InvalidInput("A typing action is 'typing' or 'cancel'.", code="invalid_typing_action")
        user_id = principal.user_id
        async with self._d.storage.transaction() as tx:
            access = await load_access(tx, chat_id, user_id, self._d.clock.now())
            access.require(Action.SEND)
            chat = access.chat
            if chat.kind is ChatKind.CHANNEL:
                return
            members = [] if chat.kind.has_channel_box else await tx.members.active_user_ids(chat_id)
            if chat.kind is ChatKind.PRIVATE:
                members = list(chat.members_of_private())
        data = {"chat_id": str(chat_id), "user_id": str(user_id), "action": action}
        if chat.kind.has_channel_box:
            events = [Event(channel_topic(chat_id), "typing", data)]
        else:
            events = [Event(user_topic(uid), "typing", data) for uid in members if uid != user_id]
        await publish_all(self._d.broker, events)

    async def record_views(self, principal: Principal, chat_id: int, ids: list[int]) -> int:
        """Count views of channel posts (once per viewer per post; see ``views.ViewCounter``);
        returns how many were first views."""
        return await self._views.record(principal, chat_id, ids)

    async def flush_views(self) -> int:
        """Write the pending view counts and push the totals; returns how many views were written."""
        return await self._views.flush()

    def pending_views(self) -> int:
        return self._views.pending()

    async def close(self) -> None:
        await self._d.views.close()
