"""Creating chats, reading and changing their info, upgrading groups, and who is in them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from palaver.domain.messenger.chats import (
    MAX_GROUP_MEMBERS,
    Chat,
    ChatKind,
    check_about,
    check_chat_username,
    check_title,
    private_key,
)
from palaver.domain.messenger.members import Member
from palaver.domain.messenger.rights import (
    Action,
    can_act_on,
    can_promote,
    rights_for_kind,
    rights_from_names,
)
from palaver.domain.messenger.roles import AdminRights, MemberStatus
from palaver.domain.messenger.updates import UpdateType
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound
from palaver.ports import Transaction
from palaver.services.messenger.access import load_access, readable, recipients
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.membership import add_member, remove_member, stage_membership, stage_topics
from palaver.services.messenger.serialize import chat_json, member_json, membership_json
from palaver.services.messenger.staging import Staged

_UNSET: Any = object()


def user_not_found() -> NotFound:
    return NotFound("No such user.", code="user_not_found")


class ChatService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    # ------------------------------------------------------------------ creating

    async def open_private(self, principal: Principal, user_id: int) -> Chat:
        """The private chat with ``user_id`` (created when needed; with oneself: saved messages)."""
        me = principal.user_id
        key = private_key(me, user_id)

        async def op(tx: Transaction, staged: Staged) -> Chat:
            found = await tx.chats.get_private(key)
            if found is not None:
                return found
            if await tx.users.get(user_id) is None:
                raise user_not_found()
            chat = Chat(
                id=self._d.ids.next_id(),
                kind=ChatKind.PRIVATE,
                title="",
                created_at=staged.now,
                private_key=key,
                top_date=staged.now,
            )
            users = sorted({me, user_id})
            chat = replace(chat, member_count=len(users))
            await tx.chats.insert(chat)
            for uid in users:
                await tx.members.put(Member(chat.id, uid, MemberStatus.MEMBER, joined_at=staged.now))
            await tx.updates.ensure_common_boxes(users)
            return chat

        try:
            return await self._d.writer.run(op)
        except Conflict as exc:
            if exc.code != "chat_exists":
                raise
            async with self._d.storage.transaction() as tx:
                found = await tx.chats.get_private(key)
            assert found is not None
            return found

    async def create_group(self, principal: Principal, title: str, member_ids: list[int]) -> Chat:
        check_title(title)
        owner = principal.user_id
        others = sorted(set(member_ids) - {owner})
        if len(others) + 1 > MAX_GROUP_MEMBERS:
            raise InvalidInput(f"A group has at most {MAX_GROUP_MEMBERS} members.", code="group_full")

        async def op(tx: Transaction, staged: Staged) -> Chat:
            for uid in others:
                if await tx.users.get(uid) is None:
                    raise user_not_found()
            chat = Chat(
                id=self._d.ids.next_id(),
                kind=ChatKind.GROUP,
                title=title,
                created_at=staged.now,
                owner_id=owner,
                member_count=len(others) + 1,
                top_date=staged.now,
            )
            await tx.chats.insert(chat)
            await tx.updates.ensure_common_boxes([owner, *others])
            for uid in [owner, *others]:
                status = MemberStatus.OWNER if uid == owner else MemberStatus.MEMBER
                member = Member(chat.id, uid, status, joined_at=staged.now)
                await tx.members.put(member)
                stage_membership(staged, chat, member)
            return chat

        return await self._d.writer.run(op)

    async def create_channel(
        self,
        principal: Principal,
        title: str,
        *,
        kind: ChatKind = ChatKind.CHANNEL,
        about: str = "",
        username: str | None = None,
        signatures: bool = False,
    ) -> Chat:
        if not kind.has_channel_box:
            raise InvalidInput("Create a channel or a supergroup here.", code="invalid_chat_kind")
        check_title(title)
        check_about(about)
        name = check_chat_username(kind, username)
        owner = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> Chat:
            chat = Chat(
                id=self._d.ids.next_id(),
                kind=kind,
                title=title,
                about=about,
                username=name,
                created_at=staged.now,
                owner_id=owner,
                signatures=signatures and kind is ChatKind.CHANNEL,
                member_count=1,
                top_date=staged.now,
            )
            await tx.chats.insert(chat)
            member = Member(chat.id, owner, MemberStatus.OWNER, joined_at=staged.now)
            await tx.members.put(member)
            await tx.updates.ensure_common_boxes([owner])
            stage_membership(staged, chat, member)
            stage_topics(staged, chat, [owner], join=True)
            return chat

        return await self._d.writer.run(op)

    # ------------------------------------------------------------------ reading and changing info

    async def get(self, principal: Principal, chat_id: int) -> dict[str, Any]:
        now = self._d.clock.now()
        async with self._d.storage.transaction() as tx:
            access = await readable(tx, chat_id, principal.user_id, now)
        return {
            "chat": chat_json(access.chat, viewer_id=principal.user_id),
            "membership": membership_json(access.member, now=now) if access.is_active else None,
        }

    async def update_info(
        self,
        principal: Principal,
        chat_id: int,
        *,
        title: str | None = None,
        about: str | None = None,
        username: str | None = _UNSET,
        signatures: bool | None = None,
    ) -> Chat:
        """Change title, description, public username (``None``: make private) or signatures."""
        if title is not None:
            check_title(title)
        if about is not None:
            check_about(about)

        async def op(tx: Transaction, staged: Staged) -> Chat:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.CHANGE_INFO)
            chat = access.chat
            changed = replace(
                chat,
                title=title if title is not None else chat.title,
                about=about if about is not None else chat.about,
                username=check_chat_username(chat.kind, username) if username is not _UNSET else chat.username,
                signatures=(signatures and chat.kind is ChatKind.CHANNEL)
                if signatures is not None
                else chat.signatures,
            )
            if changed == chat:
                return chat
            await tx.chats.update_info(changed)
            members = await recipients(tx, chat)
            staged.to_chat(changed, members, UpdateType.CHAT, {"chat": chat_json(changed)})
            return changed

        return await self._d.writer.run(op)

    async def upgrade(self, principal: Principal, chat_id: int) -> Chat:
        """Turn a basic group into a supergroup: from now on its updates go to its own box."""

        async def op(tx: Transaction, staged: Staged) -> Chat:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.UPGRADE)
            members = await tx.members.active_user_ids(chat_id)
            upgraded = replace(access.chat, kind=ChatKind.SUPERGROUP)
            await tx.chats.update_info(upgraded)
            staged.to_users(members, UpdateType.CHAT_UPGRADED, chat_id, {"chat": chat_json(upgraded)})
            stage_topics(staged, upgraded, members, join=True)
            return upgraded

        return await self._d.writer.run(op)

    # ------------------------------------------------------------------ members

    async def join(self, principal: Principal, chat_id: int) -> Chat:
        """Join a public supergroup or channel."""

        async def op(tx: Transaction, staged: Staged) -> Chat:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            if access.is_active:
                raise Conflict("You are already a member.", code="already_member")
            access.require(Action.JOIN)
            await add_member(tx, staged, access.chat, principal.user_id, existing=access.member)
            return access.chat

        return await self._d.writer.run(op)

    async def leave(self, principal: Principal, chat_id: int) -> None:
        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.LEAVE)
            assert access.member is not None
            await remove_member(tx, staged, access.chat, access.member, status=MemberStatus.LEFT, reason="left")

        await self._d.writer.run(op)

    async def add_members(self, principal: Principal, chat_id: int, user_ids: list[int]) -> list[int]:
        """Add users (invite right); returns those added (active members are skipped)."""
        wanted = sorted(set(user_ids))
        if not 1 <= len(wanted) <= 100:
            raise InvalidInput("Add 1–100 users at a time.", code="invalid_user_ids")

        async def op(tx: Transaction, staged: Staged) -> list[int]:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.INVITE)
            chat = access.chat
            existing = await tx.members.get_many(chat_id, wanted)
            added = []
            for uid in wanted:
                if await tx.users.get(uid) is None:
                    raise user_not_found()
                member = existing.get(uid)
                status = member.effective_status(staged.now) if member else MemberStatus.LEFT
                if status is MemberStatus.BANNED:
                    raise Forbidden("This user is banned from the chat; unban them first.", code="user_banned")
                if status.is_active:
                    continue
                await add_member(tx, staged, chat, uid, existing=member)
                chat = replace(chat, member_count=chat.member_count + 1)
                added.append(uid)
            return added

        return await self._d.writer.run(op)

    async def kick(self, principal: Principal, chat_id: int, user_id: int) -> None:
        await self._restrict(principal, chat_id, user_id, MemberStatus.LEFT, until=None)

    async def ban(self, principal: Principal, chat_id: int, user_id: int, *, until: float | None = None) -> None:
        await self._restrict(principal, chat_id, user_id, MemberStatus.BANNED, until=until)

    async def restrict(self, principal: Principal, chat_id: int, user_id: int, *, until: float | None = None) -> None:
        """Make a member read-only (until ``until``, or until lifted)."""
        await self._restrict(principal, chat_id, user_id, MemberStatus.RESTRICTED, until=until)

    async def unrestrict(self, principal: Principal, chat_id: int, user_id: int) -> None:
        await self._restrict(principal, chat_id, user_id, MemberStatus.MEMBER, until=None)

    async def unban(self, principal: Principal, chat_id: int, user_id: int) -> None:
        await self._restrict(principal, chat_id, user_id, MemberStatus.LEFT, until=None, unban=True)

    async def _restrict(
        self,
        principal: Principal,
        chat_id: int,
        user_id: int,
        status: MemberStatus,
        *,
        until: float | None,
        unban: bool = False,
    ) -> None:
        if until is not None and until <= self._d.clock.now():
            raise InvalidInput("'until' must be in the future.", code="invalid_until")

        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.BAN)
            chat = access.chat
            target = await tx.members.get(chat_id, user_id)
            if target is None:
                if status is not MemberStatus.BANNED or await tx.users.get(user_id) is None:
                    raise NotFound("This user is not in the chat.", code="member_not_found")
                target = Member(chat_id, user_id, MemberStatus.LEFT, joined_at=staged.now)
                await tx.members.put(target)
            current = target.effective_status(staged.now)
            if not can_act_on(principal.user_id, access.status, replace(target, status=current)):
                raise Forbidden("You cannot do this to that member.", code="cannot_restrict_member")
            if unban:
                if current is MemberStatus.BANNED:
                    await tx.members.set_role(chat_id, user_id, MemberStatus.LEFT)
                return
            if status in (MemberStatus.LEFT, MemberStatus.BANNED):
                if current.is_active:
                    reason = "banned" if status is MemberStatus.BANNED else "kicked"
                    await remove_member(tx, staged, chat, target, status=status, reason=reason, until=until)
                elif status is MemberStatus.BANNED:
                    await tx.members.set_role(chat_id, user_id, status, until=until)
                return
            if not current.is_active:
                raise NotFound("This user is not in the chat.", code="member_not_found")
            await tx.members.set_role(chat_id, user_id, status, until=until)
            stage_membership(staged, chat, replace(target, status=status, until=until, rights=AdminRights.NONE))

        await self._d.writer.run(op)

    async def promote(self, principal: Principal, chat_id: int, user_id: int, rights: list[str]) -> None:
        """Make a member an admin with ``rights`` (none: dismiss the admin)."""
        wanted = rights_from_names(tuple(rights))

        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.PROMOTE)
            chat = access.chat
            if wanted & ~rights_for_kind(chat.kind):
                raise InvalidInput("Some of these rights do not apply to this kind of chat.", code="invalid_rights")
            target = await tx.members.get(chat_id, user_id)
            if target is None:
                raise NotFound("This user is not in the chat.", code="member_not_found")
            target = replace(target, status=target.effective_status(staged.now))
            if not can_promote(principal.user_id, access.status, access.rights, target, wanted):
                raise Forbidden("You cannot give that member these rights.", code="cannot_promote_member")
            if wanted:
                status, promoted_by = MemberStatus.ADMIN, principal.user_id
            else:
                status, promoted_by = MemberStatus.MEMBER, None
            await tx.members.set_role(chat_id, user_id, status, rights=wanted, promoted_by=promoted_by)
            stage_membership(staged, chat, replace(target, status=status, rights=wanted, promoted_by=promoted_by))

        await self._d.writer.run(op)

    async def list_members(
        self, principal: Principal, chat_id: int, *, which: str = "active", after_user_id: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        statuses = {
            "active": (MemberStatus.OWNER, MemberStatus.ADMIN, MemberStatus.MEMBER, MemberStatus.RESTRICTED),
            "admins": (MemberStatus.OWNER, MemberStatus.ADMIN),
            "banned": (MemberStatus.BANNED,),
            "restricted": (MemberStatus.RESTRICTED,),
        }.get(which)
        if statuses is None:
            raise InvalidInput("List active, admins, banned or restricted members.", code="invalid_filter")
        now = self._d.clock.now()
        async with self._d.storage.transaction() as tx:
            access = await load_access(tx, chat_id, principal.user_id, now)
            access.require(Action.BAN if which in ("banned", "restricted") else Action.VIEW_MEMBERS)
            found = await tx.members.list_members(
                chat_id, statuses=statuses, after_user_id=after_user_id, limit=max(1, min(limit, 200))
            )
            users = {m.user_id: await tx.users.get(m.user_id) for m in found}
        return [member_json(m, users[m.user_id], now=now) for m in found]
