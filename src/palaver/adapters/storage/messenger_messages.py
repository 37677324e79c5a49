"""SQL repository for messages, reactions, delete-for-me marks, view counters and message search."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage import search_dialect
from palaver.adapters.storage.dialect import insert_ignoring_conflicts, upsert
from palaver.adapters.storage.messenger_rows import dump_json, message_tuple, to_message
from palaver.adapters.storage.tables_messenger import chat_members, hidden_messages, message_reactions, messages
from palaver.adapters.storage.write_behind import TxState
from palaver.domain.messenger.messages import Entity, Message, reaction_counts
from palaver.domain.messenger.roles import ACTIVE_STATUSES
from palaver.domain.messenger.search import index_text

_ACTIVE = [status.value for status in ACTIVE_STATUSES]
MessageKey = tuple[int, int]  # (chat_id, msg_id)


def _not_hidden(user_id: int | None) -> list[ColumnElement[bool]]:
    if user_id is None:
        return []
    hidden = exists().where(
        hidden_messages.c.user_id == user_id,
        hidden_messages.c.chat_id == messages.c.chat_id,
        hidden_messages.c.msg_id == messages.c.id,
    )
    return [~hidden]


class SqlMessageRepository:
    def __init__(self, conn: AsyncConnection, state: TxState) -> None:
        self._conn = conn
        self._state = state

    async def insert(self, items: list[Message], *, random_id: int | None = None) -> None:
        """Insert messages and index their text (deferred: written in bulk when the transaction
        flushes, before any other statement). ``random_id``: the sender's key of the one message."""
        if not items:
            return
        if random_id is not None:
            if len(items) != 1 or items[0].sender_id is None:
                raise ValueError("a random_id goes with one message that has a sender")
            self._state.sent[(items[0].sender_id, random_id)] = items[0]
        rows = [message_tuple(m, random_id) for m in items]
        self._state.add_messages(rows, [(m.uid, index_text(m.text)) for m in items])

    async def get_sent(self, sender_id: int, random_id: int) -> Message | None:
        key = (sender_id, random_id)
        if key not in self._state.sent:
            await self.prefetch_sent([key])
        return self._state.sent[key]

    async def prefetch_sent(self, keys: list[tuple[int, int]]) -> None:
        """One query for the pairs not known to this transaction yet; the answers (found or not)
        are remembered until the transaction ends (it inserts the ones it sends itself)."""
        wanted = sorted(set(keys) - self._state.sent.keys())
        if not wanted:
            return
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(messages).where(
                messages.c.random_id.is_not(None), tuple_(messages.c.sender_id, messages.c.random_id).in_(chunk)
            )
            found = {
                (int(row.sender_id), int(row.random_id)): to_message(row) for row in await self._conn.execute(query)
            }
            for key in chunk:
                self._state.sent[key] = found.get(key)

    async def get(self, chat_id: int, msg_id: int, *, lock: bool = False) -> Message | None:
        """With ``lock``, the row stays locked until commit (PostgreSQL; SQLite locks the database)."""
        query = select(messages).where(messages.c.chat_id == chat_id, messages.c.id == msg_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return to_message(row) if row else None

    async def get_many(self, chat_id: int, ids: Iterable[int], *, lock: bool = False) -> list[Message]:
        """Ordered by id; with ``lock``, locked in that order (so lockers never deadlock)."""
        query = select(messages).where(messages.c.chat_id == chat_id, messages.c.id.in_(list(ids)))
        query = query.order_by(messages.c.id)
        if lock:
            query = query.with_for_update()
        return [to_message(row) for row in await self._conn.execute(query)]

    async def get_by_keys(self, keys: Iterable[MessageKey]) -> dict[MessageKey, Message]:
        wanted = sorted(set(keys))
        found: dict[MessageKey, Message] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(messages).where(tuple_(messages.c.chat_id, messages.c.id).in_(chunk))
            for row in await self._conn.execute(query):
                found[(row.chat_id, row.id)] = to_message(row)
        return found

    async def edit(self, message: Message, *, text: str, entities: tuple[Entity, ...], edit_date: float) -> None:
        await self._conn.execute(
            update(messages)
            .where(messages.c.uid == message.uid)
            .values(
                text=text,
                entities=dump_json([e.to_json() for e in entities]) if entities else None,
                edit_date=edit_date,
            )
        )
        await search_dialect.reindex_message(self._conn, message.uid, index_text(text))

    async def delete(self, chat_id: int, ids: Iterable[int]) -> list[int]:
        """Delete messages for everyone (with their reactions and delete-for-me marks); returns the ids
        that existed."""
        query = select(messages.c.uid, messages.c.id).where(messages.c.chat_id == chat_id, messages.c.id.in_(list(ids)))
        rows = (await self._conn.execute(query)).all()
        if not rows:
            return []
        found = sorted(int(row.id) for row in rows)
        await search_dialect.unindex_messages(self._conn, [int(row.uid) for row in rows])
        for tbl, column in ((message_reactions, "msg_id"), (hidden_messages, "msg_id"), (messages, "id")):
            await self._conn.execute(delete(tbl).where(tbl.c.chat_id == chat_id, tbl.c[column].in_(found)))
        return found

    async def history(
        self, chat_id: int, *, viewer_id: int | None, min_id: int, offset_id: int, older: bool, limit: int
    ) -> list[Message]:
        """Visible messages (id > ``min_id``, not deleted for the viewer), newest first: those before
        ``offset_id`` (``older``; 0 = from the newest), or from ``offset_id`` on (not older)."""
        conditions = [messages.c.chat_id == chat_id, messages.c.id > min_id, *_not_hidden(viewer_id)]
        if older:
            if offset_id > 0:
                conditions.append(messages.c.id < offset_id)
            order = messages.c.id.desc()
        else:
            conditions.append(messages.c.id >= offset_id)
            order = messages.c.id.asc()
        query = select(messages).where(*conditions).order_by(order).limit(limit)
        found = [to_message(row) for row in await self._conn.execute(query)]
        return found if older else found[::-1]

    async def count_unread(self, chat_id: int, user_id: int, after_id: int) -> int:
        query = (
            select(func.count())
            .select_from(messages)
            .where(
                messages.c.chat_id == chat_id,
                messages.c.id > after_id,
                or_(messages.c.sender_id.is_(None), messages.c.sender_id != user_id),
            )
        )
        return int((await self._conn.execute(query)).scalar_one())

    async def hide(self, user_id: int, chat_id: int, ids: Iterable[int]) -> None:
        rows = [{"user_id": user_id, "chat_id": chat_id, "msg_id": msg_id} for msg_id in ids]
        if rows:
            await self._conn.execute(insert_ignoring_conflicts(self._conn.dialect.name, hidden_messages), rows)

    async def hidden_among(self, user_id: int, keys: Iterable[MessageKey]) -> set[MessageKey]:
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        query = select(hidden_messages.c.chat_id, hidden_messages.c.msg_id).where(
            hidden_messages.c.user_id == user_id,
            tuple_(hidden_messages.c.chat_id, hidden_messages.c.msg_id).in_(wanted),
        )
        return {(int(r.chat_id), int(r.msg_id)) for r in await self._conn.execute(query)}

    async def set_reaction(
        self, chat_id: int, msg_id: int, user_id: int, emoji: str | None, date: float
    ) -> tuple[tuple[str, int], ...]:
        """Set (or with ``None`` remove) the user's one reaction; returns the message's new counts."""
        key = (
            message_reactions.c.chat_id == chat_id,
            message_reactions.c.msg_id == msg_id,
        )
        if emoji is None:
            await self._conn.execute(delete(message_reactions).where(*key, message_reactions.c.user_id == user_id))
        else:
            values = {"chat_id": chat_id, "msg_id": msg_id, "user_id": user_id, "emoji": emoji, "date": date}
            stmt = upsert(self._conn.dialect.name, message_reactions, ["chat_id", "msg_id", "user_id"], values)
            await self._conn.execute(stmt)
        query = select(message_reactions.c.emoji, func.count()).where(*key).group_by(message_reactions.c.emoji)
        counts = reaction_counts({str(r[0]): int(r[1]) for r in await self._conn.execute(query)})
        await self._conn.execute(
            update(messages)
            .where(messages.c.chat_id == chat_id, messages.c.id == msg_id)
            .values(reactions=dump_json(dict(counts)) if counts else None)
        )
        return counts

    async def my_reactions(self, user_id: int, chat_id: int, ids: Iterable[int]) -> dict[int, str]:
        query = select(message_reactions.c.msg_id, message_reactions.c.emoji).where(
            message_reactions.c.chat_id == chat_id,
            message_reactions.c.user_id == user_id,
            message_reactions.c.msg_id.in_(list(ids)),
        )
        return {int(r.msg_id): str(r.emoji) for r in await self._conn.execute(query)}

    async def add_views(self, counts: dict[MessageKey, int]) -> dict[MessageKey, int]:
        """Additive (concurrent flushes never overwrite each other), in key order (so they never
        deadlock); the totals are those this very update wrote."""
        totals: dict[MessageKey, int] = {}
        for (chat_id, msg_id), count in sorted(counts.items()):
            found = await self._conn.execute(
                update(messages)
                .where(messages.c.chat_id == chat_id, messages.c.id == msg_id)
                .values(views=messages.c.views + count)
                .returning(messages.c.views)
            )
            row = found.first()
            if row is not None:
                totals[(chat_id, msg_id)] = int(row[0])
        return totals

    async def search(
        self,
        terms: tuple[str, ...],
        *,
        viewer_id: int | None,
        chat_id: int | None,
        min_id: int,
        before_uid: int | None,
        limit: int,
    ) -> list[Message]:
        """Messages with every term, newest first. With ``chat_id``: in that chat (ids > ``min_id``);
        without: in every chat the viewer is an active member of, within the history they can see."""
        found = search_dialect.matching_message_uids(self._conn.dialect.name, terms)
        conditions: list[ColumnElement[bool]] = [messages.c.uid.in_(found), *_not_hidden(viewer_id)]
        if before_uid is not None:
            conditions.append(messages.c.uid < before_uid)
        query = select(messages)
        if chat_id is not None:
            conditions += [messages.c.chat_id == chat_id, messages.c.id > min_id]
        else:
            assert viewer_id is not None
            query = query.join(
                chat_members,
                and_(
                    chat_members.c.chat_id == messages.c.chat_id,
                    chat_members.c.user_id == viewer_id,
                    chat_members.c.status.in_(_ACTIVE),
                    messages.c.id > chat_members.c.history_from,
                ),
            )
        query = query.where(*conditions).order_by(messages.c.uid.desc()).limit(limit)
        return [to_message(row) for row in await self._conn.execute(query)]
