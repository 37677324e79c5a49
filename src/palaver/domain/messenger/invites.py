"""Invite links: expiry, usage limits, join requests that need approval, revocation."""

from __future__ import annotations

from dataclasses import dataclass

from palaver.errors import Forbidden, InvalidInput, NotFound

MAX_INVITE_TITLE = 32
MAX_USAGE_LIMIT = 99_999


@dataclass(frozen=True, slots=True)
class InviteTerms:
    """What an admin asks for when creating a link (validated)."""

    title: str = ""
    expire_at: float | None = None
    usage_limit: int | None = None
    requires_approval: bool = False

    def check(self, now: float) -> InviteTerms:
        if len(self.title) > MAX_INVITE_TITLE:
            raise InvalidInput(f"An invite title has at most {MAX_INVITE_TITLE} characters.", code="invalid_invite")
        if self.expire_at is not None and self.expire_at <= now:
            raise InvalidInput("An invite link must expire in the future.", code="invalid_invite")
        if self.usage_limit is not None and not 1 <= self.usage_limit <= MAX_USAGE_LIMIT:
            raise InvalidInput(f"A usage limit is 1–{MAX_USAGE_LIMIT}.", code="invalid_invite")
        if self.requires_approval and self.usage_limit is not None:
            raise InvalidInput("A link that needs approval has no usage limit.", code="invalid_invite")
        return self


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    chat_id: int
    code: str
    creator_id: int
    created_at: float
    title: str = ""
    expire_at: float | None = None
    usage_limit: int | None = None
    usage_count: int = 0
    requires_approval: bool = False
    revoked_at: float | None = None

    def check_usable(self, now: float) -> None:
        """Raise the reason this link cannot be used now."""
        if self.revoked_at is not None:
            raise Forbidden("This invite link was revoked.", code="invite_revoked")
        if self.expire_at is not None and now >= self.expire_at:
            raise Forbidden("This invite link has expired.", code="invite_expired")
        if self.usage_limit is not None and self.usage_count >= self.usage_limit:
            raise Forbidden("This invite link has been used up.", code="invite_used_up")


def invite_not_found() -> NotFound:
    return NotFound("No such invite link.", code="invite_not_found")


@dataclass(frozen=True, slots=True)
class JoinRequest:
    chat_id: int
    user_id: int
    invite_id: int
    date: float
