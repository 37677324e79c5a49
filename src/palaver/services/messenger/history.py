"""Reading: message history (older, newer, around a message) and the dialog list."""

from __future__ import annotations

from typing import Any

from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.messages import Message
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput
from palaver.ports import Transaction
from palaver.services.messenger.access import readable
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.serialize import chat_json, membership_json, message_json

MAX_HISTORY = 100
DIRECTIONS = ("older", "newer", "around")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInput(f"A page has 1–{MAX_HISTORY} items.", code="invalid_limit")
    return limit


def encode_cursor(top_date: float, chat_id: int) -> str:
    return f"{top_date!r}_{chat_id}"


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        date, chat_id = cursor.split("_")
        return float(date), int(chat_id)
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.", code="invalid_cursor") from exc


class HistoryService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def history(
        self, principal: Principal, chat_id: int, *, offset_id: int = 0, direction: str = "older", limit: int = 50
    ) -> dict[str, Any]:
        """Messages newest first: before ``offset_id`` (``older``; 0 = the latest), from it on
        (``newer``), or ``around`` it (half before, the rest from it on)."""
        if direction not in DIRECTIONS:
            raise InvalidInput("direction is older, newer or around.", code="invalid_direction")
        limit = _limit(limit)
        user_id = principal.user_id
        async with self._d.storage.reading() as tx:
            access = await readable(tx, chat_id, user_id, self._d.clock.now())
            viewer = user_id if access.is_active else None
            common: dict[str, Any] = {"viewer_id": viewer, "min_id": access.min_id}
            if direction == "older":
                found = await tx.messages.history(chat_id, offset_id=offset_id, older=True, limit=limit, **common)
            elif direction == "newer":
                found = await tx.messages.history(chat_id, offset_id=offset_id, older=False, limit=limit, **common)
            else:
                before = max(1, limit // 2)
                newer = await tx.messages.history(
                    chat_id, offset_id=offset_id, older=False, limit=limit - before or 1, **common
                )
                older = await tx.messages.history(chat_id, offset_id=offset_id, older=True, limit=before, **common)
                found = newer + older
            messages = await _with_mine(tx, found, chat_id, viewer)
        return {"chat": chat_json(access.chat, viewer_id=user_id), "messages": messages}

    async def dialogs(self, principal: Principal, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        """My chats: pinned ones first (on the first page), then by last activity; ``next_cursor``
        continues the list."""
        limit = _limit(limit)
        user_id = principal.user_id
        now = self._d.clock.now()
        before = decode_cursor(cursor) if cursor else None
        async with self._d.storage.reading() as tx:
            pinned = [] if before else await tx.members.dialogs(user_id, pinned=True, before=None, limit=MAX_HISTORY)
            rest = await tx.members.dialogs(user_id, pinned=False, before=before, limit=limit)
            items = [await self._dialog(tx, chat, member, user_id, now) for chat, member in pinned + rest]
        next_cursor = encode_cursor(rest[-1][0].top_date, rest[-1][0].id) if len(rest) == limit else None
        return {"dialogs": items, "next_cursor": next_cursor}

    async def _dialog(self, tx: Transaction, chat: Chat, member: Member, user_id: int, now: float) -> dict[str, Any]:
        top = await tx.messages.history(
            chat.id, viewer_id=user_id, min_id=member.history_from, offset_id=0, older=True, limit=1
        )
        unread = await tx.messages.count_unread(chat.id, user_id, max(member.read_inbox_max, member.history_from))
        peer = None
        if chat.kind is ChatKind.PRIVATE:
            user = await tx.users.get(chat.peer_of(user_id))
            if user is not None:
                peer = {"id": str(user.id), "display_name": user.display_name, "username": user.username}
        return {
            "chat": chat_json(chat, viewer_id=user_id),
            "membership": membership_json(member, now=now),
            "top_message": message_json(top[0]) if top else None,
            "unread_count": unread,
            "peer": peer,
        }


async def _with_mine(tx: Transaction, found: list[Message], chat_id: int, viewer: int | None) -> list[dict[str, Any]]:
    mine = await tx.messages.my_reactions(viewer, chat_id, [m.id for m in found]) if viewer and found else {}
    return [message_json(m, my_reaction=mine.get(m.id), with_mine=True) for m in found]
