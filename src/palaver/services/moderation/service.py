"""Trust & safety use cases for everyone: reports, flagged frames, the caller's ban, appeals,
persistent Roulette blocks and the evidence retention job. The console is in ``console.py``."""

from __future__ import annotations

from palaver.domain.moderation.appeals import Appeal, AppealState, validate_appeal_text
from palaver.domain.moderation.bans import Ban, BanReason, in_force, latest_start
from palaver.domain.moderation.frames import FlaggedFrame, purge_cutoff
from palaver.domain.moderation.reports import Report, ReportReason, validate_note
from palaver.domain.moderation.review import ReviewState
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound
from palaver.services.moderation.console import ModerationConsole


def _banned() -> Forbidden:
    return Forbidden("You are banned from Roulette for now.", code="banned")


class ModerationService(ModerationConsole):
    """Reports, bans, appeals, evidence and the moderation console (see docs/operations.md,
    "Trust & safety"). ``on_ban(user_id, ban)`` is awaited after the commit of every new ban."""

    # ------------------------------------------------------------------ reports

    async def report(
        self, principal: Principal, *, reported_user_id: int, reason: str, note: str = "", pair_id: str | None
    ) -> Ban | None:
        """Report a Roulette partner. The reporter never meets them again (a persistent block).
        Returns the ban when this report brought the person to the threshold."""
        now = self._clock.now()
        report = Report(
            id=self._ids.next_id(),
            reporter_id=principal.user_id,
            reported_id=reported_user_id,
            reason=ReportReason.parse(reason),
            note=validate_note(note),
            pair_id=pair_id,
            created_at=now,
        )
        ban: Ban | None = None
        async with self._storage.transaction() as tx:
            if await tx.users.get(reported_user_id) is None:
                raise NotFound("No such user.", code="user_not_found")
            await tx.bans.lock_user(reported_user_id)
            await tx.reports.insert(report)
            await tx.roulette_blocks.add(principal.user_id, reported_user_id, now=now)
            previous = await tx.bans.for_user(reported_user_id)
            if in_force(previous, now) is None:
                window = self._policy.window
                recent = await tx.reports.against(reported_user_id, since=now - window.window_seconds)
                counting = window.counting(recent, since=latest_start(previous))
                reporters = len({r.reporter_id for r in counting})
                if reporters >= window.threshold:
                    ban = await self._impose(
                        tx,
                        user_id=reported_user_id,
                        reason=BanReason.REPORTS,
                        reason_text=f"Reported by {reporters} people within "
                        f"{window.window_seconds / 60:g} minutes.",
                        now=now,
                        details={"report_ids": [str(r.id) for r in counting]},
                    )
                    await tx.reports.set_state([r.id for r in counting], ReviewState.ACTIONED)
        if ban is not None:
            await self._notify(ban)
        return ban

    async def record_block(self, user_id: int, other_user_id: int) -> None:
        """``user_id`` never meets ``other_user_id`` in Roulette again (kept across restarts)."""
        if user_id == other_user_id:
            raise InvalidInput("Nobody meets themselves.", code="invalid_block")
        async with self._storage.transaction() as tx:
            await tx.roulette_blocks.add(user_id, other_user_id, now=self._clock.now())

    async def blocked_pairs(self) -> list[tuple[int, int]]:
        """Every persistent Roulette block (loaded into the matcher at start-up)."""
        async with self._storage.reading() as tx:
            return await tx.roulette_blocks.all()

    # ------------------------------------------------------------------ bans

    async def current_ban(self, principal: Principal) -> Ban | None:
        """The ban that holds for the caller now — by account, the session's device or its IP
        hash — with its latest appeal; None when not banned."""
        async with self._storage.reading() as tx:
            return await self._ban_for_session(tx, principal, self._clock.now())

    async def ensure_not_banned(self, principal: Principal) -> None:
        """``Forbidden(code="banned")`` when a ban holds for the caller."""
        if await self.current_ban(principal) is not None:
            raise _banned()

    async def record_flagged_frame(
        self, *, principal: Principal, pair_id: str | None, image: bytes, score: float
    ) -> Ban:
        """A snapshot of the caller's camera scored at or above the threshold: keep it as evidence
        and ban the caller (reason nudity_detected, on the ladder). If a ban already holds for the
        account, that ban is returned and no new one is made."""
        now = self._clock.now()
        frame = FlaggedFrame(
            id=self._ids.next_id(), user_id=principal.user_id, pair_id=pair_id, score=score, created_at=now
        )
        async with self._storage.transaction() as tx:
            await tx.bans.lock_user(principal.user_id)
            await tx.flagged_frames.insert(frame, image)
            existing = in_force(await tx.bans.for_user(principal.user_id), now)
            if existing is not None:
                return await self._with_appeal(tx, existing, now)
            ban = await self._impose(
                tx,
                user_id=principal.user_id,
                reason=BanReason.NUDITY_DETECTED,
                reason_text="Nudity was detected in a snapshot of your camera.",
                now=now,
                details={"frame_id": str(frame.id), "score": score},
            )
        await self._notify(ban)
        return ban

    # ------------------------------------------------------------------ appeals

    async def appeal(self, principal: Principal, *, text: str) -> Appeal:
        """Appeal the ban that holds for the caller. One open appeal per ban."""
        validate_appeal_text(text)
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            ban = await self._ban_for_session(tx, principal, now)
            if ban is None:
                raise Conflict("You are not banned.", code="no_active_ban")
            if ban.appeal is not None and ban.appeal.state is AppealState.OPEN:
                raise Conflict("This ban has an open appeal already.", code="appeal_exists")
            appeal = Appeal(id=self._ids.next_id(), ban_id=ban.id, user_id=principal.user_id, text=text, created_at=now)
            await tx.appeals.insert(appeal)
        return appeal

    # ------------------------------------------------------------------ evidence retention

    async def purge_evidence(self) -> int:
        """Delete the images of frames flagged longer ago than the retention period (their rows
        stay for the audit trail); returns how many were purged."""
        now = self._clock.now()
        async with self._storage.transaction() as tx:
            return await tx.flagged_frames.purge(
                flagged_before=purge_cutoff(now, self._policy.evidence_retention_days), now=now
            )
