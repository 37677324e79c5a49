"""Roulette snapshot frames: the client sends a JPEG of its own camera now and then while paired;
the classifier scores it off the event loop, and a frame at or above the threshold ends the pair and
bans the sender (with the ban ladder's escalation, reason ``nudity_detected``).

Frames below the threshold are dropped the moment they are scored: their bytes are never written to
the database, a file or a log. Only a flagged frame is kept, as evidence for the moderators (by the
moderation service, which deletes it after the retention period).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from palaver.config import Settings
from palaver.domain.moderation import Ban
from palaver.domain.ratelimit import KeyedLimiter
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden, InvalidInput, RateLimited, TooLarge
from palaver.ports import Classifier, Clock
from palaver.services.moderation.serialize import ban_json

log = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"


class SnapshotModeration(Protocol):
    """What the pipeline needs of ``ModerationService``."""

    async def ensure_not_banned(self, principal: Principal) -> None: ...

    async def record_flagged_frame(
        self, *, principal: Principal, pair_id: str | None, image: bytes, score: float
    ) -> Ban: ...


class PairMembership(Protocol):
    """What the pipeline needs of Roulette."""

    async def in_pair(self, session_id: int, pair_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    enabled: bool = True  # False when the classifier is off: clients need not send frames
    threshold: float = 0.8  # a score at or above this is acted on
    max_bytes: int = 256 * 1024
    interval_seconds: float = 20.0  # how often clients send a frame (they learn it from config())
    min_seconds_between: float = 2.0  # per session; faster uploads are refused
    max_rate_limit_keys: int = 100_000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("the classifier threshold is in (0, 1]")
        if self.max_bytes < 1 or self.interval_seconds <= 0 or self.min_seconds_between <= 0:
            raise ValueError("snapshot sizes and intervals are positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> SnapshotPolicy:
        return cls(
            enabled=settings.classifier != "off",
            threshold=settings.classifier_threshold,
            max_bytes=settings.snapshot_max_bytes,
            interval_seconds=settings.snapshot_interval_seconds,
        )


class SnapshotService:
    def __init__(
        self,
        *,
        classifier: Classifier,
        moderation: SnapshotModeration,
        roulette: PairMembership,
        clock: Clock,
        policy: SnapshotPolicy | None = None,
    ) -> None:
        self._classifier = classifier
        self._moderation = moderation
        self._roulette = roulette
        self._clock = clock
        self._policy = policy = policy or SnapshotPolicy()
        self._limits = KeyedLimiter(
            rate=1.0 / policy.min_seconds_between, burst=1.0, max_keys=policy.max_rate_limit_keys
        )

    @property
    def policy(self) -> SnapshotPolicy:
        return self._policy

    def config(self) -> dict[str, Any]:
        """What a client needs to know to send snapshots (``GET /api/v1/roulette/config``)."""
        return {
            "snapshot_interval_seconds": float(self._policy.interval_seconds),
            "snapshot_max_bytes": self._policy.max_bytes,
            "classifier": self._policy.enabled,
        }

    async def submit(self, principal: Principal, *, pair_id: str, image: bytes) -> dict[str, Any]:
        """Check and score one frame: ``{"action": "ok"}``, or ``{"action": "banned", "ban": BanJson}``."""
        policy = self._policy
        if len(image) > policy.max_bytes:
            raise TooLarge(f"A snapshot has at most {policy.max_bytes} bytes.", code="too_large")
        if not image.startswith(JPEG_MAGIC):
            raise InvalidInput("A snapshot is a JPEG image.", code="unsupported_media_type")
        if not await self._roulette.in_pair(principal.session_id, pair_id):
            raise Forbidden("Not a member of that pair (or it has ended).", code="not_in_pair")
        key = str(principal.session_id)
        if not self._limits.allow(key, self._clock.monotonic()):
            raise RateLimited(
                "Snapshots are sent at most every few seconds.",
                code="snapshot_rate_limited",
                retry_after=self._limits.retry_after(key),
            )
        await self._moderation.ensure_not_banned(principal)
        if not policy.enabled:
            return {"action": "ok"}
        score = await self._classifier.score(image)
        if score < policy.threshold:
            return {"action": "ok"}  # the bytes go out of scope here: nothing is kept
        log.warning("snapshot flagged: user %d, pair %s, score %.3f", principal.user_id, pair_id, score)
        ban = await self._moderation.record_flagged_frame(
            principal=principal, pair_id=pair_id, image=image, score=score
        )
        return {"action": "banned", "ban": ban_json(ban)}
