"""Sending, forwarding, editing and deleting messages; pins and reactions."""

from __future__ import annotations

from dataclasses import replace

from palaver.domain.messenger.chats import ChatKind
from palaver.domain.messenger.messages import (
    Entity,
    ForwardHeader,
    Message,
    MessageText,
    check_edit_window,
    check_ids,
    check_reaction,
)
from palaver.domain.messenger.rights import Action
from palaver.domain.messenger.updates import UpdateType
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound
from palaver.ports import Transaction
from palaver.services.messenger.access import Access, load_access, readable, recipients
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.serialize import message_json, reactions_json
from palaver.services.messenger.staging import Staged

RANDOM_ID_MIN, RANDOM_ID_MAX = -(2**63), 2**63 - 1


def check_random_id(random_id: int | None) -> None:
    if random_id is not None and not RANDOM_ID_MIN <= random_id <= RANDOM_ID_MAX:
        raise InvalidInput("A random_id is a 64-bit signed integer.", code="invalid_random_id")


def message_not_found() -> NotFound:
    return NotFound("No such message.", code="message_not_found")


async def visible_message(tx: Transaction, access: Access, msg_id: int, *, lock: bool = False) -> Message:
    """The message if this user can see it; ``lock`` before changing it (lock order: messages, then
    the chat row, then update boxes)."""
    message = await tx.messages.get(access.chat.id, msg_id, lock=lock)
    if message is None or message.id <= access.min_id:
        raise message_not_found()
    return message


class MessageService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def send(
        self,
        principal: Principal,
        chat_id: int,
        text: str,
        entities: tuple[Entity, ...] = (),
        *,
        reply_to: int | None = None,
        silent: bool = False,
        anonymous: bool = False,
        random_id: int | None = None,
    ) -> Message:
        """Send a message. ``random_id`` (the client's, int64) makes it idempotent: a send repeated
        with the same ``random_id`` by the same sender returns the message stored the first time
        (no second message, no second update); in another chat it is ``random_id_duplicate``."""
        content = MessageText(text, entities)  # validated before any I/O
        check_random_id(random_id)
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> Message:
            if random_id is not None:
                earlier = await tx.messages.get_sent(user_id, random_id)
                if earlier is not None:
                    if earlier.chat_id != chat_id:
                        raise Conflict("This random_id was used for another message.", code="random_id_duplicate")
                    return earlier
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.SEND)
            chat = access.chat
            hide_sender = chat.kind is ChatKind.CHANNEL or anonymous
            if anonymous and chat.kind is not ChatKind.CHANNEL:
                access.require(Action.POST_ANONYMOUSLY)
            if reply_to is not None:
                try:
                    await visible_message(tx, access, reply_to)
                except NotFound as exc:
                    raise InvalidInput("The message replied to does not exist.", code="reply_not_found") from exc
            signature = await self._signature(tx, access)
            last_id, _ = await tx.chats.allocate(chat.id, messages=1, pts=0, date=staged.now)
            message = Message(
                chat_id=chat.id,
                id=last_id,
                uid=self._d.ids.next_id(),
                sender_id=user_id,
                date=staged.now,
                text=content.text,
                entities=content.entities,
                anonymous=hide_sender,
                reply_to=reply_to,
                silent=silent,
                signature=signature,
            )
            await tx.messages.insert([message], random_id=random_id)
            members = await recipients(tx, chat)
            staged.to_chat(chat, members, UpdateType.NEW_MESSAGE, {"message": message_json(message)}, msg_id=message.id)
            await self._clear_draft(tx, staged, access)
            return message

        sent = None if random_id is None else (user_id, random_id)
        try:
            return await self._d.writer.run(op, chat=(chat_id, user_id), sent=sent)
        except Conflict as exc:
            if exc.code != "random_id_race":
                raise
            # A concurrent send with this random_id (another process) committed first: now it is found.
            return await self._d.writer.run(op, chat=(chat_id, user_id), sent=sent)

    async def _signature(self, tx: Transaction, access: Access) -> str | None:
        if access.chat.kind is not ChatKind.CHANNEL or not access.chat.signatures:
            return None
        user = await tx.users.get(access.user_id)
        return user.display_name[:64] if user else None

    async def _clear_draft(self, tx: Transaction, staged: Staged, access: Access) -> None:
        if access.member is not None and access.member.draft is not None:
            await tx.members.set_draft(access.chat.id, access.user_id, None)
            staged.to_users(
                [access.user_id], UpdateType.DRAFT, access.chat.id, {"chat_id": str(access.chat.id), "draft": None}
            )

    async def forward(
        self, principal: Principal, to_chat_id: int, from_chat_id: int, ids: list[int], *, silent: bool = False
    ) -> list[Message]:
        wanted = check_ids(ids)
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> list[Message]:
            source = await readable(tx, from_chat_id, user_id, staged.now)
            target = await load_access(tx, to_chat_id, user_id, staged.now)
            target.require(Action.SEND)
            originals = [m for m in await tx.messages.get_many(from_chat_id, wanted) if m.id > source.min_id]
            if not originals:
                raise message_not_found()
            chat = target.chat
            signature = await self._signature(tx, target)
            last_id, _ = await tx.chats.allocate(chat.id, messages=len(originals), pts=0, date=staged.now)
            first_id = last_id - len(originals) + 1
            copies = [
                Message(
                    chat_id=chat.id,
                    id=first_id + index,
                    uid=self._d.ids.next_id(),
                    sender_id=user_id,
                    date=staged.now,
                    text=original.text,
                    entities=original.entities,
                    anonymous=chat.kind is ChatKind.CHANNEL,
                    forward=original.forward
                    or ForwardHeader(
                        from_chat_id=original.chat_id,
                        from_msg_id=original.id,
                        from_user_id=original.visible_sender(),
                        date=original.date,
                        signature=original.signature,
                    ),
                    silent=silent,
                    signature=signature,
                )
                for index, original in enumerate(originals)
            ]
            await tx.messages.insert(copies)
            members = await recipients(tx, chat)
            for copy in copies:
                staged.to_chat(chat, members, UpdateType.NEW_MESSAGE, {"message": message_json(copy)}, msg_id=copy.id)
            return copies

        return await self._d.writer.run(op)

    async def edit(
        self, principal: Principal, chat_id: int, msg_id: int, text: str, entities: tuple[Entity, ...] = ()
    ) -> Message:
        content = MessageText(text, entities)
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> Message:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.READ)
            message = await visible_message(tx, access, msg_id, lock=True)
            access.require(Action.EDIT_OWN if message.sender_id == user_id else Action.EDIT_OTHERS)
            if message.forward is not None:
                raise Forbidden("Forwarded messages cannot be edited.", code="cannot_edit")
            check_edit_window(message.date, staged.now)
            if (message.text, message.entities) == (content.text, content.entities):
                raise InvalidInput("The message is unchanged.", code="message_not_modified")
            await tx.messages.edit(message, text=content.text, entities=content.entities, edit_date=staged.now)
            edited = replace(message, text=content.text, entities=content.entities, edit_date=staged.now)
            members = await recipients(tx, access.chat)
            staged.to_chat(
                access.chat, members, UpdateType.EDIT_MESSAGE, {"message": message_json(edited)}, msg_id=msg_id
            )
            return edited

        return await self._d.writer.run(op)

    async def delete(self, principal: Principal, chat_id: int, ids: list[int], *, for_everyone: bool) -> list[int]:
        """Delete for everyone (authorized per message) or only for me; returns the ids deleted."""
        wanted = check_ids(ids)
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> list[int]:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.READ)
            found = [m for m in await tx.messages.get_many(chat_id, wanted, lock=True) if m.id > access.min_id]
            if not found:
                return []
            chat = access.chat
            if not for_everyone:
                access.require(Action.MANAGE_DIALOG)
                done = [m.id for m in found]
                await tx.messages.hide(user_id, chat_id, done)
                payload = {"chat_id": str(chat_id), "ids": done}
                staged.to_users([user_id], UpdateType.DELETE_MESSAGES, chat_id, payload, count=len(done))
                return done
            for message in found:
                access.require(Action.DELETE_OWN if message.sender_id == user_id else Action.DELETE_OTHERS)
            done = await tx.messages.delete(chat_id, [m.id for m in found])
            if chat.pinned_msg_id in done:
                await tx.chats.set_pinned(chat_id, 0)
            members = await recipients(tx, chat)
            payload = {"chat_id": str(chat_id), "ids": done}
            staged.to_chat(chat, members, UpdateType.DELETE_MESSAGES, payload, count=len(done))
            if chat.pinned_msg_id in done:
                staged.to_chat(chat, members, UpdateType.PINNED_MESSAGE, {"chat_id": str(chat_id), "msg_id": 0})
            return done

        return await self._d.writer.run(op)

    async def pin(self, principal: Principal, chat_id: int, msg_id: int) -> None:
        """Pin a message (``msg_id`` 0: unpin)."""
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.PIN)
            if msg_id:
                await visible_message(tx, access, msg_id)
            if access.chat.pinned_msg_id == msg_id:
                return
            await tx.chats.set_pinned(chat_id, msg_id)
            members = await recipients(tx, access.chat)
            payload = {"chat_id": str(chat_id), "msg_id": msg_id}
            staged.to_chat(access.chat, members, UpdateType.PINNED_MESSAGE, payload)

        await self._d.writer.run(op)

    async def react(
        self, principal: Principal, chat_id: int, msg_id: int, emoji: str | None
    ) -> list[dict[str, object]]:
        """Set (``None``: remove) my one reaction; returns the new counts."""
        chosen = check_reaction(emoji) if emoji is not None else None
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> list[dict[str, object]]:
            access = await load_access(tx, chat_id, user_id, staged.now)
            access.require(Action.REACT)
            await visible_message(tx, access, msg_id, lock=True)
            counts = await tx.messages.set_reaction(chat_id, msg_id, user_id, chosen, staged.now)
            payload: dict[str, object] = {
                "chat_id": str(chat_id),
                "msg_id": msg_id,
                "reactions": reactions_json(counts),
            }
            chat = access.chat
            if chat.kind.has_channel_box:
                staged.to_channel(chat_id, UpdateType.MESSAGE_REACTIONS, payload, msg_id=msg_id)
            else:
                others = [uid for uid in await recipients(tx, chat) if uid != user_id]
                staged.to_users(others, UpdateType.MESSAGE_REACTIONS, chat_id, payload, msg_id=msg_id)
                mine = {**payload, "my_reaction": chosen}
                staged.to_users([user_id], UpdateType.MESSAGE_REACTIONS, chat_id, mine, msg_id=msg_id)
            return reactions_json(counts)

        return await self._d.writer.run(op)
