"""Roulette: random one-to-one matching. Pure domain code — no I/O, no clock, injected randomness."""

from palaver.domain.roulette.criteria import (
    DEFAULT_SCHEDULE,
    LanguageRule,
    MatchPolicy,
    Profile,
    RelaxationStep,
    normalise_interests,
    normalise_languages,
)
from palaver.domain.roulette.matcher import Ended, Formed, Matcher, MatcherCounts, ParticipantState, Step
from palaver.domain.roulette.pairs import Blocks, Pair, RecentMeetings, Role

__all__ = [
    "DEFAULT_SCHEDULE",
    "Blocks",
    "Ended",
    "Formed",
    "LanguageRule",
    "MatchPolicy",
    "Matcher",
    "MatcherCounts",
    "Pair",
    "ParticipantState",
    "Profile",
    "RecentMeetings",
    "RelaxationStep",
    "Role",
    "Step",
    "normalise_interests",
    "normalise_languages",
]
