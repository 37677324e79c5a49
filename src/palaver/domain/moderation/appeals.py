"""Appeals: a banned person asks a moderator to lift their ban. One open appeal per ban."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from palaver.domain.moderation.reports import validate_note
from palaver.errors import InvalidInput

MAX_APPEAL_TEXT = 2000


class AppealState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # the ban was lifted
    REJECTED = "rejected"


class AppealDecision(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"

    @classmethod
    def parse(cls, text: str) -> AppealDecision:
        try:
            return cls(text)
        except ValueError:
            raise InvalidInput("The decision is 'accept' or 'reject'.", code="invalid_decision") from None

    @property
    def outcome(self) -> AppealState:
        return AppealState.ACCEPTED if self is AppealDecision.ACCEPT else AppealState.REJECTED


def validate_appeal_text(text: str) -> str:
    if not text.strip() or len(text) > MAX_APPEAL_TEXT or "\x00" in text:
        raise InvalidInput(f"An appeal has 1–{MAX_APPEAL_TEXT} characters.", code="invalid_appeal_text")
    return text


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    ban_id: int
    user_id: int  # who appealed (the banned account, or an account caught by its device or IP)
    text: str
    created_at: float
    state: AppealState = AppealState.OPEN
    decided_at: float | None = None
    decided_by: int | None = None
    decision_note: str = ""

    def __post_init__(self) -> None:
        validate_appeal_text(self.text)
        validate_note(self.decision_note)
        if (self.state is AppealState.OPEN) != (self.decided_at is None):
            raise ValueError("an appeal has a decision time exactly when it is decided")
