"""Invite links and join requests."""

from __future__ import annotations

import secrets
from typing import Any

from palaver.domain.messenger.invites import Invite, InviteTerms, JoinRequest, invite_not_found
from palaver.domain.messenger.rights import Action
from palaver.domain.messenger.roles import MemberStatus
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, NotFound
from palaver.ports import Transaction
from palaver.services.messenger.access import load_access
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.membership import add_member
from palaver.services.messenger.serialize import chat_json, join_request_json
from palaver.services.messenger.staging import Staged

MAX_CODE = 64


class InviteService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def create(self, principal: Principal, chat_id: int, terms: InviteTerms) -> Invite:
        terms.check(self._d.clock.now())

        async def op(tx: Transaction, staged: Staged) -> Invite:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.INVITE)
            invite = Invite(
                id=self._d.ids.next_id(),
                chat_id=chat_id,
                code=secrets.token_urlsafe(16),
                creator_id=principal.user_id,
                created_at=staged.now,
                title=terms.title,
                expire_at=terms.expire_at,
                usage_limit=terms.usage_limit,
                requires_approval=terms.requires_approval,
            )
            await tx.invites.insert(invite)
            return invite

        return await self._d.writer.run(op)

    async def list_for_chat(self, principal: Principal, chat_id: int) -> list[Invite]:
        async with self._d.storage.transaction() as tx:
            access = await load_access(tx, chat_id, principal.user_id, self._d.clock.now())
            access.require(Action.INVITE)
            return await tx.invites.list_for_chat(chat_id)

    async def revoke(self, principal: Principal, chat_id: int, invite_id: int) -> None:
        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.INVITE)
            invite = await tx.invites.get(invite_id)
            if invite is None or invite.chat_id != chat_id:
                raise invite_not_found()
            await tx.invites.revoke(invite_id, staged.now)

        await self._d.writer.run(op)

    async def _usable(self, tx: Transaction, code: str, now: float) -> Invite:
        invite = await tx.invites.get_by_code(code) if 0 < len(code) <= MAX_CODE else None
        if invite is None:
            raise invite_not_found()
        invite.check_usable(now)
        return invite

    async def preview(self, principal: Principal, code: str) -> dict[str, Any]:
        """What a link leads to, shown before joining."""
        now = self._d.clock.now()
        async with self._d.storage.transaction() as tx:
            invite = await self._usable(tx, code, now)
            access = await load_access(tx, invite.chat_id, principal.user_id, now)
        return {
            "chat": chat_json(access.chat),
            "requires_approval": invite.requires_approval,
            "already_member": access.is_active,
        }

    async def join(self, principal: Principal, code: str) -> dict[str, Any]:
        """Join by link: ``{"status": "joined", "chat"}`` or, for links that need approval,
        ``{"status": "requested"}``."""
        user_id = principal.user_id

        async def op(tx: Transaction, staged: Staged) -> dict[str, Any]:
            invite = await self._usable(tx, code, staged.now)
            access = await load_access(tx, invite.chat_id, user_id, staged.now)
            if access.is_active:
                raise Conflict("You are already a member.", code="already_member")
            if access.status is MemberStatus.BANNED:
                raise Forbidden("You are banned from this chat.", code="banned")
            if invite.requires_approval:
                await tx.invites.add_request(JoinRequest(invite.chat_id, user_id, invite.id, staged.now))
                return {"status": "requested", "chat": chat_json(access.chat)}
            if not await tx.invites.count_use(invite.id):
                raise Forbidden("This invite link has been used up.", code="invite_used_up")
            await add_member(tx, staged, access.chat, user_id, existing=access.member)
            return {"status": "joined", "chat": chat_json(access.chat)}

        return await self._d.writer.run(op)

    async def requests(self, principal: Principal, chat_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        async with self._d.storage.transaction() as tx:
            access = await load_access(tx, chat_id, principal.user_id, self._d.clock.now())
            access.require(Action.INVITE)
            found = await tx.invites.list_requests(chat_id, limit=max(1, min(limit, 200)))
        return [join_request_json(r) for r in found]

    async def decide(self, principal: Principal, chat_id: int, user_id: int, *, approve: bool) -> None:
        async def op(tx: Transaction, staged: Staged) -> None:
            access = await load_access(tx, chat_id, principal.user_id, staged.now)
            access.require(Action.INVITE)
            if not await tx.invites.delete_request(chat_id, user_id):
                raise NotFound("No such join request.", code="join_request_not_found")
            if not approve:
                return
            member = await tx.members.get(chat_id, user_id)
            status = member.effective_status(staged.now) if member else MemberStatus.LEFT
            if status is MemberStatus.BANNED:
                raise Forbidden("This user is banned from the chat.", code="user_banned")
            if not status.is_active:
                await add_member(tx, staged, access.chat, user_id, existing=member)

        await self._d.writer.run(op)
