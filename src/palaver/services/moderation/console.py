"""The moderation console: queues of reports, flagged frames, bans and appeals, and the actions on
them. Each method checks the caller's role (``domain.moderation.permissions``); each action writes
its audit entry in the same transaction as the change."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from palaver.domain.moderation.appeals import AppealDecision, AppealState
from palaver.domain.moderation.audit import AuditAction
from palaver.domain.moderation.bans import MAX_REASON_TEXT, Ban, BanReason, in_force
from palaver.domain.moderation.permissions import ConsoleAction, authorize
from palaver.domain.moderation.reports import validate_note
from palaver.domain.moderation.review import ReviewState
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, InvalidInput, NotFound
from palaver.ports import Transaction
from palaver.services.moderation.core import ModerationCore, page_size
from palaver.services.moderation.serialize import (
    appeal_json,
    audit_json,
    ban_json,
    frame_json,
    report_json,
    user_ref,
)

_REVIEW_STATES = {"open": ReviewState.OPEN, "dismissed": ReviewState.DISMISSED, "actioned": ReviewState.ACTIONED}
_APPEAL_STATES = {"open": AppealState.OPEN, "accepted": AppealState.ACCEPTED, "rejected": AppealState.REJECTED}
_BAN_STATES = ("active", "review", "all")


def _invalid_state(allowed: object) -> InvalidInput:
    return InvalidInput(f"state is one of {allowed}.", code="invalid_state")


def _review_state(state: str) -> ReviewState | None:
    if state == "all":
        return None
    if state not in _REVIEW_STATES:
        raise _invalid_state([*_REVIEW_STATES, "all"])
    return _REVIEW_STATES[state]


def _appeal_state(state: str) -> AppealState | None:
    if state == "all":
        return None
    if state not in _APPEAL_STATES:
        raise _invalid_state([*_APPEAL_STATES, "all"])
    return _APPEAL_STATES[state]


def _ban_not_found() -> NotFound:
    return NotFound("No such ban.", code="ban_not_found")


def _not_in_force() -> Conflict:
    return Conflict("This ban is no longer in force.", code="ban_not_in_force")


class ModerationConsole(ModerationCore):
    # ------------------------------------------------------------------ checks

    def _check(self, principal: Principal, action: ConsoleAction) -> None:
        authorize(principal.role, action, actor_id=principal.user_id)

    async def _check_target(
        self, tx: Transaction, principal: Principal, action: ConsoleAction, *target_ids: int
    ) -> None:
        users = await tx.users.get_many(target_ids)
        for target in dict.fromkeys(target_ids):
            user = users.get(target)
            authorize(
                principal.role,
                action,
                actor_id=principal.user_id,
                target_user_id=target,
                target_role=user.role if user else None,
            )

    # ------------------------------------------------------------------ queues

    async def list_reports(
        self, principal: Principal, *, state: str = "open", limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        self._check(principal, ConsoleAction.VIEW)
        wanted = _review_state(state)
        async with self._storage.transaction() as tx:
            found = await tx.reports.list(
                state=wanted, limit=page_size(limit, self._policy.max_page), before=before
            )
            users = await tx.users.get_many(i for r in found for i in (r.reporter_id, r.reported_id))
        return [report_json(r, users) for r in found]

    async def list_frames(
        self, principal: Principal, *, state: str = "open", limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        self._check(principal, ConsoleAction.VIEW)
        wanted = _review_state(state)
        async with self._storage.transaction() as tx:
            found = await tx.flagged_frames.list(
                state=wanted, limit=page_size(limit, self._policy.max_page), before=before
            )
            users = await tx.users.get_many(f.user_id for f in found)
        return [frame_json(f, users) for f in found]

    async def frame_image(self, principal: Principal, frame_id: int) -> bytes:
        self._check(principal, ConsoleAction.VIEW)
        async with self._storage.transaction() as tx:
            frame = await tx.flagged_frames.get(frame_id)
            image = await tx.flagged_frames.image(frame_id) if frame is not None else None
        if frame is None:
            raise NotFound("No such frame.", code="frame_not_found")
        if image is None:
            raise NotFound("This frame's image was deleted (evidence retention).", code="evidence_purged")
        return image

    async def list_bans(
        self, principal: Principal, *, state: str = "active", limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        self._check(principal, ConsoleAction.VIEW)
        if state not in _BAN_STATES:
            raise _invalid_state(list(_BAN_STATES))
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            found = await tx.bans.list(
                state=state, now=now, limit=page_size(limit, self._policy.max_page), before=before
            )
            appeals = await tx.appeals.latest_for_bans(b.id for b in found)
            users = await tx.users.get_many(b.user_id for b in found)
        return [
            ban_json(replace(b, appeal=appeals.get(b.id)), now=now) | {"user": user_ref(b.user_id, users)}
            for b in found
        ]

    async def list_appeals(
        self, principal: Principal, *, state: str = "open", limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        self._check(principal, ConsoleAction.VIEW)
        wanted = _appeal_state(state)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            found = await tx.appeals.list(
                state=wanted, limit=page_size(limit, self._policy.max_page), before=before
            )
            bans: dict[int, Ban] = {}
            for ban_id in dict.fromkeys(a.ban_id for a in found):
                ban = await tx.bans.get(ban_id)
                if ban is not None:
                    bans[ban_id] = ban
            latest = await tx.appeals.latest_for_bans(bans)
            users = await tx.users.get_many(
                [b.user_id for b in bans.values()] + [a.user_id for a in found]
            )
        result = []
        for appeal in found:
            ban = bans.get(appeal.ban_id)
            if ban is None:
                continue
            result.append(
                appeal_json(appeal)
                | {
                    "ban": ban_json(replace(ban, appeal=latest.get(ban.id)), now=now),
                    "user": user_ref(ban.user_id, users),  # whose ban it is
                    "appellant": user_ref(appeal.user_id, users),  # who appealed (differs for device/IP bans)
                }
            )
        return result

    async def audit(
        self, principal: Principal, *, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        self._check(principal, ConsoleAction.VIEW_AUDIT)
        async with self._storage.transaction() as tx:
            entries = await tx.audit_log.list(limit=page_size(limit, self._policy.max_page), before=before)
            users = await tx.users.get_many(e.actor_id for e in entries if e.actor_id is not None)
        return [audit_json(e, users) for e in entries]

    # ------------------------------------------------------------------ queue actions

    async def dismiss_report(self, principal: Principal, report_id: int) -> dict[str, Any]:
        self._check(principal, ConsoleAction.DISMISS)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            report = await tx.reports.get(report_id)
            if report is None:
                raise NotFound("No such report.", code="report_not_found")
            await self._check_target(tx, principal, ConsoleAction.DISMISS, report.reported_id)
            if report.state is not ReviewState.OPEN:
                raise Conflict("This report is not open.", code="not_open")
            await tx.reports.set_state([report.id], ReviewState.DISMISSED)
            await self._audit(
                tx,
                actor_id=principal.user_id,
                action=AuditAction.REPORT_DISMISS,
                target_user_id=report.reported_id,
                target_id=report.id,
                now=now,
            )
            users = await tx.users.get_many([report.reporter_id, report.reported_id])
        return report_json(replace(report, state=ReviewState.DISMISSED), users)

    async def dismiss_frame(self, principal: Principal, frame_id: int) -> dict[str, Any]:
        self._check(principal, ConsoleAction.DISMISS)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            frame = await tx.flagged_frames.get(frame_id)
            if frame is None:
                raise NotFound("No such frame.", code="frame_not_found")
            await self._check_target(tx, principal, ConsoleAction.DISMISS, frame.user_id)
            if frame.state is not ReviewState.OPEN:
                raise Conflict("This frame is not open.", code="not_open")
            await tx.flagged_frames.set_state(frame.id, ReviewState.DISMISSED)
            await self._audit(
                tx,
                actor_id=principal.user_id,
                action=AuditAction.FRAME_DISMISS,
                target_user_id=frame.user_id,
                target_id=frame.id,
                now=now,
                details={"score": frame.score},
            )
            users = await tx.users.get_many([frame.user_id])
        return frame_json(replace(frame, state=ReviewState.DISMISSED), users)

    # ------------------------------------------------------------------ bans

    async def ban(
        self, principal: Principal, *, user_id: int, reason_text: str, duration_seconds: int | None
    ) -> Ban:
        """Ban ``user_id`` for ``duration_seconds`` (None: indefinitely — admins only)."""
        action = ConsoleAction.BAN if duration_seconds is not None else ConsoleAction.BAN_INDEFINITELY
        self._check(principal, action)
        if not reason_text.strip() or len(reason_text) > MAX_REASON_TEXT:
            raise InvalidInput(f"Give a reason of 1–{MAX_REASON_TEXT} characters.", code="invalid_reason_text")
        if duration_seconds is not None and not 1 <= duration_seconds <= self._policy.max_ban_seconds:
            raise InvalidInput("duration_seconds is a positive number of seconds (at most ten years).",
                               code="invalid_duration")
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            if await tx.users.get(user_id) is None:
                raise NotFound("No such user.", code="user_not_found")
            await self._check_target(tx, principal, action, user_id)
            await tx.bans.lock_user(user_id)
            if in_force(await tx.bans.for_user(user_id), now) is not None:
                raise Conflict("This person is banned already; adjust that ban instead.", code="already_banned")
            ban = await self._impose(
                tx,
                user_id=user_id,
                reason=BanReason.MODERATOR,
                reason_text=reason_text,
                now=now,
                actor_id=principal.user_id,
                duration_seconds=duration_seconds,
            )
        await self._notify(ban)
        return ban

    async def unban(self, principal: Principal, ban_id: int, *, note: str = "") -> Ban:
        """Lift a ban in force. A lifted ban does not count towards escalation; an open appeal
        against it is closed as accepted."""
        self._check(principal, ConsoleAction.LIFT)
        validate_note(note)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            ban = await tx.bans.get(ban_id)
            if ban is None:
                raise _ban_not_found()
            await self._check_target(tx, principal, ConsoleAction.LIFT, ban.user_id)
            if not ban.in_force(now):
                raise _not_in_force()
            lifted = await self._lift(tx, ban, principal, now, note)
            appeal = (await tx.appeals.latest_for_bans([ban.id])).get(ban.id)
            if appeal is not None and appeal.state is AppealState.OPEN:
                appeal = replace(
                    appeal,
                    state=AppealState.ACCEPTED,
                    decided_at=now,
                    decided_by=principal.user_id,
                    decision_note=note,
                )
                await tx.appeals.decide(appeal)
        return replace(lifted, appeal=appeal, observed_at=now)

    async def _lift(self, tx: Transaction, ban: Ban, principal: Principal, now: float, note: str) -> Ban:
        await tx.bans.lift(ban.id, at=now, by=principal.user_id, note=note)
        await self._audit(
            tx,
            actor_id=principal.user_id,
            action=AuditAction.BAN_LIFT,
            target_user_id=ban.user_id,
            target_id=ban.id,
            now=now,
            details={"note": note},
        )
        return replace(ban, lifted_at=now, lifted_by=principal.user_id, lift_note=note)

    async def adjust(self, principal: Principal, ban_id: int, *, ends_at: float | None) -> Ban:
        """Shorten or extend a ban in force to end at ``ends_at`` (None: indefinitely — admins only)."""
        action = ConsoleAction.ADJUST if ends_at is not None else ConsoleAction.ADJUST_INDEFINITELY
        self._check(principal, action)
        now = self._clock.now()
        if ends_at is not None and not (math.isfinite(ends_at) and ends_at <= now + self._policy.max_ban_seconds):
            raise InvalidInput("ends_at is a time at most ten years from now.", code="invalid_ends_at")
        async with self._storage.transaction() as tx:
            ban = await tx.bans.get(ban_id)
            if ban is None:
                raise _ban_not_found()
            await self._check_target(tx, principal, action, ban.user_id)
            if not ban.in_force(now):
                raise _not_in_force()
            adjusted = replace(ban, ends_at=ends_at)  # InvalidInput(invalid_ends_at) before its start
            await tx.bans.set_ends_at(ban.id, ends_at)
            await self._audit(
                tx,
                actor_id=principal.user_id,
                action=AuditAction.BAN_ADJUST,
                target_user_id=ban.user_id,
                target_id=ban.id,
                now=now,
                details={"from": ban.ends_at, "to": ends_at},
            )
            return await self._with_appeal(tx, adjusted, now)

    # ------------------------------------------------------------------ appeals

    async def decide_appeal(
        self, principal: Principal, appeal_id: int, *, decision: str, note: str = ""
    ) -> dict[str, Any]:
        """Accept (the ban is lifted) or reject an open appeal."""
        self._check(principal, ConsoleAction.DECIDE_APPEAL)
        verdict = AppealDecision.parse(decision)
        validate_note(note)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            appeal = await tx.appeals.get(appeal_id)
            ban = await tx.bans.get(appeal.ban_id) if appeal is not None else None
            if appeal is None or ban is None:
                raise NotFound("No such appeal.", code="appeal_not_found")
            await self._check_target(tx, principal, ConsoleAction.DECIDE_APPEAL, ban.user_id, appeal.user_id)
            decided = replace(
                appeal, state=verdict.outcome, decided_at=now, decided_by=principal.user_id, decision_note=note
            )
            if appeal.state is not AppealState.OPEN or not await tx.appeals.decide(decided):
                raise Conflict("This appeal was decided already.", code="appeal_decided")
            lifted = verdict is AppealDecision.ACCEPT and ban.in_force(now)
            if lifted:
                await self._lift(tx, ban, principal, now, note)
            await self._audit(
                tx,
                actor_id=principal.user_id,
                action=AuditAction.APPEAL_ACCEPT if verdict is AppealDecision.ACCEPT else AuditAction.APPEAL_REJECT,
                target_user_id=ban.user_id,
                target_id=appeal.id,
                now=now,
                details={"ban_id": str(ban.id), "lifted": lifted, "note": note},
            )
        return appeal_json(decided)

