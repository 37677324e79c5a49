"""What the moderation use cases share: dependencies, imposing a ban, the audit entry, notifying."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from palaver.domain.moderation.audit import AuditAction, AuditEntry
from palaver.domain.moderation.bans import Ban, BanReason, escalation_level, in_force
from palaver.domain.moderation.subjects import BanSubject, subjects_of
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput
from palaver.ports import Broker, Clock, IdGenerator, Storage, Transaction
from palaver.services.moderation.policy import DAY, ModerationPolicy

log = logging.getLogger("palaver.moderation")

OnBan = Callable[[int, Ban], Awaitable[None]]


def page_size(limit: int, most: int) -> int:
    if not 1 <= limit <= most:
        raise InvalidInput(f"limit is between 1 and {most}.", code="invalid_limit")
    return limit


class ModerationCore:
    def __init__(
        self,
        *,
        storage: Storage,
        broker: Broker,
        clock: Clock,
        ids: IdGenerator,
        policy: ModerationPolicy,
        ip_hash_salt: str,
        on_ban: OnBan | None = None,
    ) -> None:
        self._storage = storage
        self._broker = broker
        self._clock = clock
        self._ids = ids
        self._policy = policy
        self._ip_hash_salt = ip_hash_salt
        self.on_ban = on_ban  # settable after construction (the app wires it to Roulette)

    @property
    def policy(self) -> ModerationPolicy:
        return self._policy

    async def _impose(
        self,
        tx: Transaction,
        *,
        user_id: int,
        reason: BanReason,
        reason_text: str,
        now: float,
        actor_id: int | None = None,
        duration_seconds: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Ban:
        """Write a new ban of ``user_id`` with its subjects and its audit entry. Automatic bans take
        their length from the ladder; a moderator's from ``duration_seconds`` (None: indefinite).
        The caller holds ``tx.bans.lock_user(user_id)``."""
        level = escalation_level(await tx.bans.for_user(user_id))
        if reason.automatic:
            ends_at = self._policy.ladder.ends_at(level, now)
        else:
            ends_at = None if duration_seconds is None else now + duration_seconds
        ban = Ban(
            id=self._ids.next_id(),
            user_id=user_id,
            reason=reason,
            reason_text=reason_text,
            level=level,
            starts_at=now,
            ends_at=ends_at,
            created_by=actor_id,
            observed_at=now,
        )
        device_ids = await tx.devices.ids_for_user(user_id)
        ip_hashes = await tx.sessions.ip_hashes(user_id, since=now - self._policy.ip_lookback_days * DAY)
        await tx.bans.insert(ban, list(subjects_of(user_id, device_ids=device_ids, ip_hashes=ip_hashes)))
        await self._audit(
            tx,
            actor_id=actor_id,
            action=AuditAction.BAN_CREATE if actor_id is not None else AuditAction.BAN_AUTO,
            target_user_id=user_id,
            target_id=ban.id,
            now=now,
            details={"reason": reason.value, "level": level, "ends_at": ends_at, **(details or {})},
        )
        return ban

    async def _audit(
        self,
        tx: Transaction,
        *,
        actor_id: int | None,
        action: AuditAction,
        target_user_id: int | None,
        target_id: int | None,
        now: float,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        entry = AuditEntry(
            id=self._ids.next_id(),
            actor_id=actor_id,
            action=action,
            target_user_id=target_user_id,
            target_id=target_id,
            created_at=now,
            details=dict(details or {}),
        )
        await tx.audit_log.insert(entry)

    async def _ban_for_session(self, tx: Transaction, principal: Principal, now: float) -> Ban | None:
        """The ban that holds for the caller: by account, by the device and by the IP hash of the
        session, with its latest appeal."""
        subjects = [BanSubject.account(principal.user_id)]
        session = await tx.sessions.get(principal.session_id)
        if session is not None:
            if session.device_id is not None:
                subjects.append(BanSubject.device(session.device_id))
            if session.ip_hash is not None:
                subjects.append(BanSubject.ip(session.ip_hash))
        ban = in_force(await tx.bans.in_force_for(subjects, now), now)
        if ban is None:
            return None
        return await self._with_appeal(tx, ban, now)

    async def _with_appeal(self, tx: Transaction, ban: Ban, now: float) -> Ban:
        """``ban`` with its latest appeal, as observed at ``now``."""
        appeal = (await tx.appeals.latest_for_bans([ban.id])).get(ban.id)
        return replace(ban, appeal=appeal, observed_at=now)

    async def _notify(self, ban: Ban) -> None:
        """Tell the rest of the node about a new ban (after its commit): Roulette expels the person."""
        if self.on_ban is None:
            return
        try:
            await self.on_ban(ban.user_id, ban)
        except Exception:  # the ban is committed and holds; a failed expulsion must not undo the call
            log.exception("on_ban failed for ban %s", ban.id)
