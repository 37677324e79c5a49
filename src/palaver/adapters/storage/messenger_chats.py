"""SQL repositories for chats, memberships and invite links."""

from __future__ import annotations

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage import search_dialect
from palaver.adapters.storage.dialect import is_unique_violation
from palaver.adapters.storage.messenger_rows import (
    chat_from_tuple,
    chat_row,
    draft_row,
    invite_row,
    member_from_tuple,
    member_row,
    to_chat,
    to_invite,
    to_member,
)
from palaver.adapters.storage.messenger_sql import CHAT_WIDTH
from palaver.adapters.storage.tables_messenger import chat_invites, chat_members, chats, join_requests
from palaver.adapters.storage.write_behind import TxState
from palaver.domain.messenger.chats import Chat, ChatKind
from palaver.domain.messenger.invites import Invite, JoinRequest
from palaver.domain.messenger.members import Draft, Member
from palaver.domain.messenger.roles import ACTIVE_STATUSES, AdminRights, MemberStatus
from palaver.domain.messenger.search import index_text
from palaver.errors import Conflict

_ACTIVE = [status.value for status in ACTIVE_STATUSES]


def _name_taken() -> Conflict:
    return Conflict("This username is taken.", code="username_taken")


class SqlChatRepository:
    """``get_with_member`` and ``allocate`` are the hot path of every write: plain SQL, with the
    counters held in the transaction's memory (``write_behind``)."""

    def __init__(self, conn: AsyncConnection, state: TxState) -> None:
        self._conn = conn
        self._state = state

    async def insert(self, chat: Chat) -> None:
        """Raise ``Conflict(username_taken)`` or ``Conflict(chat_exists)`` (private chat) on a clash."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(chats.insert().values(**chat_row(chat)))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                if chat.private_key is not None:
                    raise Conflict("This private chat exists.", code="chat_exists") from exc
                raise _name_taken() from exc
            raise
        await self._index(chat)

    async def _index(self, chat: Chat) -> None:
        body = index_text(chat.title, chat.username) if chat.is_public else None
        if chat.is_public or chat.kind.can_be_public:
            await search_dialect.index_chat(self._conn, chat.id, body)

    async def get(self, chat_id: int) -> Chat | None:
        row = (await self._conn.execute(select(chats).where(chats.c.id == chat_id))).first()
        return to_chat(row) if row else None

    async def get_with_member(self, chat_id: int, user_id: int) -> tuple[Chat | None, Member | None]:
        """The chat and the user's membership row, in one query (the hot path of every request)."""
        row, counters = await self._state.chat_with_member(chat_id, user_id)
        if row is None:
            return None, None
        member = member_from_tuple(row, CHAT_WIDTH) if row[CHAT_WIDTH] is not None else None
        return chat_from_tuple(row, counters), member

    async def prefetch(self, keys: list[tuple[int, int]]) -> None:
        await self._state.prefetch(keys)

    async def get_private(self, key: str) -> Chat | None:
        row = (await self._conn.execute(select(chats).where(chats.c.private_key == key))).first()
        return to_chat(row) if row else None

    async def get_by_username(self, username: str) -> Chat | None:
        row = (await self._conn.execute(select(chats).where(chats.c.username_canonical == username.lower()))).first()
        return to_chat(row) if row else None

    async def update_info(self, chat: Chat) -> None:
        """Write title, about, username, signatures and kind; ``Conflict(username_taken)`` on a clash."""
        values = chat_row(chat)
        changed = {k: values[k] for k in ("title", "about", "username", "username_canonical", "signatures", "kind")}
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(update(chats).where(chats.c.id == chat.id).values(**changed))
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise _name_taken() from exc
            raise
        await self._index(chat)

    async def allocate(self, chat_id: int, *, messages: int, pts: int, date: float | None) -> tuple[int, int]:
        """Advance the message counter by ``messages`` and the channel box by ``pts`` atomically (the
        row stays locked until commit); returns the new ``(last_msg_id, pts)``. ``LookupError`` when
        there is no such chat."""
        return await self._state.allocate(chat_id, messages, pts, date)

    async def set_pinned(self, chat_id: int, msg_id: int) -> None:
        await self._conn.execute(update(chats).where(chats.c.id == chat_id).values(pinned_msg_id=msg_id))

    async def add_members(self, chat_id: int, delta: int) -> None:
        await self._conn.execute(
            update(chats).where(chats.c.id == chat_id).values(member_count=chats.c.member_count + delta)
        )

    async def search_public(self, terms: tuple[str, ...], *, limit: int) -> list[Chat]:
        found = search_dialect.matching_chat_ids(self._conn.dialect.name, terms)
        query = (
            select(chats)
            .where(chats.c.id.in_(found), chats.c.username.is_not(None))
            .order_by(chats.c.member_count.desc(), chats.c.id)
            .limit(limit)
        )
        return [to_chat(row) for row in await self._conn.execute(query)]


class SqlMemberRepository:
    def __init__(self, conn: AsyncConnection, state: TxState) -> None:
        self._conn = conn
        self._state = state

    async def get(self, chat_id: int, user_id: int) -> Member | None:
        query = select(chat_members).where(chat_members.c.chat_id == chat_id, chat_members.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return to_member(row) if row else None

    async def get_many(self, chat_id: int, user_ids: list[int]) -> dict[int, Member]:
        query = select(chat_members).where(chat_members.c.chat_id == chat_id, chat_members.c.user_id.in_(user_ids))
        return {row.user_id: to_member(row) for row in await self._conn.execute(query)}

    async def put(self, member: Member) -> None:
        """Insert the membership, or replace the role part (status, rights, dates) of an existing one;
        a user's own dialog state (read marks, draft, pin) survives leaving and coming back."""
        row = member_row(member)
        role = {k: row[k] for k in ("status", "rights", "promoted_by", "until", "joined_at", "history_from")}
        key = and_(chat_members.c.chat_id == member.chat_id, chat_members.c.user_id == member.user_id)
        result = await self._conn.execute(update(chat_members).where(key).values(**role))
        if not result.rowcount:
            await self._conn.execute(chat_members.insert().values(**row))

    async def set_role(
        self,
        chat_id: int,
        user_id: int,
        status: MemberStatus,
        *,
        rights: AdminRights = AdminRights.NONE,
        promoted_by: int | None = None,
        until: float | None = None,
    ) -> None:
        await self._conn.execute(
            update(chat_members)
            .where(chat_members.c.chat_id == chat_id, chat_members.c.user_id == user_id)
            .values(status=status.value, rights=int(rights), promoted_by=promoted_by, until=until)
        )

    async def active_user_ids(self, chat_id: int) -> list[int]:
        """Sorted (the hot path of every group message: cached until the transaction writes anything
        but deferred rows)."""
        return await self._state.active_members(chat_id)

    async def list_members(
        self, chat_id: int, *, statuses: tuple[MemberStatus, ...], after_user_id: int, limit: int
    ) -> list[Member]:
        query = (
            select(chat_members)
            .where(
                chat_members.c.chat_id == chat_id,
                chat_members.c.status.in_([s.value for s in statuses]),
                chat_members.c.user_id > after_user_id,
            )
            .order_by(chat_members.c.user_id)
            .limit(limit)
        )
        return [to_member(row) for row in await self._conn.execute(query)]

    async def set_read_inbox(self, chat_id: int, user_id: int, max_id: int) -> None:
        await self._conn.execute(
            update(chat_members)
            .where(chat_members.c.chat_id == chat_id, chat_members.c.user_id == user_id)
            .values(read_inbox_max=max_id)
        )

    async def raise_read_outbox(self, chat_id: int, reader_id: int, max_id: int) -> list[int]:
        """Set ``read_outbox_max`` to ``max_id`` for the other active members below it; returns them."""
        where = (
            chat_members.c.chat_id == chat_id,
            chat_members.c.user_id != reader_id,
            chat_members.c.status.in_(_ACTIVE),
            chat_members.c.read_outbox_max < max_id,
        )
        stmt = update(chat_members).where(*where).values(read_outbox_max=max_id).returning(chat_members.c.user_id)
        return sorted(int(uid) for uid in (await self._conn.execute(stmt)).scalars())

    async def set_draft(self, chat_id: int, user_id: int, draft: Draft | None) -> None:
        await self._conn.execute(
            update(chat_members)
            .where(chat_members.c.chat_id == chat_id, chat_members.c.user_id == user_id)
            .values(**draft_row(draft))
        )

    async def set_pinned_rank(self, chat_id: int, user_id: int, rank: int) -> None:
        await self._conn.execute(
            update(chat_members)
            .where(chat_members.c.chat_id == chat_id, chat_members.c.user_id == user_id)
            .values(pinned_rank=rank)
        )

    async def pinned_ranks(self, user_id: int) -> list[int]:
        query = select(chat_members.c.pinned_rank).where(
            chat_members.c.user_id == user_id, chat_members.c.pinned_rank > 0, chat_members.c.status.in_(_ACTIVE)
        )
        return sorted(int(rank) for rank in (await self._conn.execute(query)).scalars())

    async def dialogs(
        self, user_id: int, *, pinned: bool, before: tuple[float, int] | None, limit: int
    ) -> list[tuple[Chat, Member]]:
        """The user's chats: pinned ones by rank, or the others by last activity, newest first."""
        conditions = [
            chat_members.c.user_id == user_id,
            chat_members.c.status.in_(_ACTIVE),
            or_(chats.c.kind != ChatKind.PRIVATE.value, chats.c.last_msg_id > 0),
            chat_members.c.pinned_rank > 0 if pinned else chat_members.c.pinned_rank == 0,
        ]
        if before is not None:
            date, chat_id = before
            conditions.append(or_(chats.c.top_date < date, and_(chats.c.top_date == date, chats.c.id < chat_id)))
        order = (chat_members.c.pinned_rank.desc(),) if pinned else (chats.c.top_date.desc(), chats.c.id.desc())
        query = (
            select(chats, chat_members)
            .join(chat_members, chat_members.c.chat_id == chats.c.id)
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
        )
        rows = (await self._conn.execute(query)).all()
        # No column name is shared by the two tables, so one row maps to both.
        return [(to_chat(row), to_member(row)) for row in rows]

    async def channel_ids(self, user_id: int) -> list[int]:
        """The supergroups and channels the user is an active member of."""
        query = (
            select(chats.c.id)
            .join(chat_members, chat_members.c.chat_id == chats.c.id)
            .where(
                chat_members.c.user_id == user_id,
                chat_members.c.status.in_(_ACTIVE),
                chats.c.kind.in_([ChatKind.SUPERGROUP.value, ChatKind.CHANNEL.value]),
            )
            .order_by(chats.c.id)
        )
        return [int(cid) for cid in (await self._conn.execute(query)).scalars()]


class SqlInviteRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert(self, invite: Invite) -> None:
        await self._conn.execute(chat_invites.insert().values(**invite_row(invite)))

    async def get(self, invite_id: int) -> Invite | None:
        row = (await self._conn.execute(select(chat_invites).where(chat_invites.c.id == invite_id))).first()
        return to_invite(row) if row else None

    async def get_by_code(self, code: str) -> Invite | None:
        row = (await self._conn.execute(select(chat_invites).where(chat_invites.c.code == code))).first()
        return to_invite(row) if row else None

    async def list_for_chat(self, chat_id: int) -> list[Invite]:
        query = select(chat_invites).where(chat_invites.c.chat_id == chat_id).order_by(chat_invites.c.id.desc())
        return [to_invite(row) for row in await self._conn.execute(query)]

    async def revoke(self, invite_id: int, now: float) -> bool:
        result = await self._conn.execute(
            update(chat_invites)
            .where(chat_invites.c.id == invite_id, chat_invites.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def count_use(self, invite_id: int) -> bool:
        """Count one use unless the limit is reached (atomic); False when it was."""
        stmt = (
            update(chat_invites)
            .where(
                chat_invites.c.id == invite_id,
                or_(chat_invites.c.usage_limit.is_(None), chat_invites.c.usage_count < chat_invites.c.usage_limit),
            )
            .values(usage_count=chat_invites.c.usage_count + 1)
        )
        return bool((await self._conn.execute(stmt)).rowcount)

    async def add_request(self, request: JoinRequest) -> bool:
        """False when the user already asked."""
        exists = await self.get_request(request.chat_id, request.user_id)
        if exists is not None:
            return False
        await self._conn.execute(
            join_requests.insert().values(
                chat_id=request.chat_id, user_id=request.user_id, invite_id=request.invite_id, date=request.date
            )
        )
        return True

    async def get_request(self, chat_id: int, user_id: int) -> JoinRequest | None:
        query = select(join_requests).where(join_requests.c.chat_id == chat_id, join_requests.c.user_id == user_id)
        row = (await self._conn.execute(query)).first()
        return JoinRequest(row.chat_id, row.user_id, row.invite_id, row.date) if row else None

    async def list_requests(self, chat_id: int, *, limit: int) -> list[JoinRequest]:
        query = (
            select(join_requests)
            .where(join_requests.c.chat_id == chat_id)
            .order_by(join_requests.c.date, join_requests.c.user_id)
            .limit(limit)
        )
        return [JoinRequest(r.chat_id, r.user_id, r.invite_id, r.date) for r in await self._conn.execute(query)]

    async def delete_request(self, chat_id: int, user_id: int) -> bool:
        stmt = delete(join_requests).where(join_requests.c.chat_id == chat_id, join_requests.c.user_id == user_id)
        return bool((await self._conn.execute(stmt)).rowcount)

    async def count_requests(self, chat_id: int) -> int:
        query = select(func.count()).select_from(join_requests).where(join_requests.c.chat_id == chat_id)
        return int((await self._conn.execute(query)).scalar_one())
