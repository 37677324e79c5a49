"""What a Roulette participant asks for, and the policy by which the matcher relaxes it. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from palaver.errors import InvalidInput

LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")  # ISO 639-1 or 639-2/3 code
MAX_LANGUAGES = 8
MAX_INTERESTS = 10
MAX_INTEREST_CHARS = 24


class LanguageRule(StrEnum):
    """Whom a waiting participant accepts, language-wise."""

    SHARED = "shared"  # only partners who share at least one language
    ANY = "any"  # anyone


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """From ``after_seconds`` of waiting on, the participant accepts partners by ``language``."""

    after_seconds: float
    language: LanguageRule


DEFAULT_SCHEDULE: tuple[RelaxationStep, ...] = (
    RelaxationStep(0.0, LanguageRule.SHARED),
    RelaxationStep(10.0, LanguageRule.ANY),
)


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Tunable rules of the matcher.

    - ``schedule``: how the language preference relaxes with waiting time. Steps start at 0 s, have
      increasing ``after_seconds``, and never tighten again (no ``SHARED`` after an ``ANY``).
    - ``recent_window_seconds``: two people who met (a pair that ended) less than this long ago are
      never paired again.
    - Interest overlap counts as extra waiting time when the matcher picks among acceptable
      candidates: ``interest_bonus_seconds`` per common interest, counting at most
      ``max_bonus_interests`` of them. Because the bonus is bounded, whoever has waited longest
      wins eventually: nobody starves.
    - ``max_scan``: most candidates one search on entering the queue looks at; a search that hits
      it is repeated in full on the next tick (a bound on latency, not expected to bind in practice).
    """

    schedule: tuple[RelaxationStep, ...] = DEFAULT_SCHEDULE
    recent_window_seconds: float = 600.0
    interest_bonus_seconds: float = 1.0
    max_bonus_interests: int = 3
    max_scan: int = 2000

    def __post_init__(self) -> None:
        steps = self.schedule
        if not steps or steps[0].after_seconds != 0:
            raise ValueError("a relaxation schedule starts with a step at 0 seconds")
        for before, after in pairwise(steps):
            if after.after_seconds <= before.after_seconds:
                raise ValueError("relaxation steps must have increasing after_seconds")
            if before.language is LanguageRule.ANY and after.language is LanguageRule.SHARED:
                raise ValueError("a relaxation schedule never tightens again")
        if not self.recent_window_seconds > 0:
            raise ValueError("the recent window is positive: Next must never return the same person")
        if self.interest_bonus_seconds < 0:
            raise ValueError("the interest bonus is not negative")
        if self.max_bonus_interests < 0 or self.max_scan < 1:
            raise ValueError("max_bonus_interests >= 0 and max_scan >= 1")

    @property
    def relax_after(self) -> float | None:
        """Seconds of waiting after which anyone is accepted (``None``: never)."""
        for step in self.schedule:
            if step.language is LanguageRule.ANY:
                return step.after_seconds
        return None

    def language_rule(self, waited: float) -> LanguageRule:
        rule = self.schedule[0].language
        for step in self.schedule:
            if waited >= step.after_seconds:
                rule = step.language
        return rule

    @property
    def max_bonus(self) -> float:
        return self.interest_bonus_seconds * self.max_bonus_interests

    def score(self, waited: float, common_interests: int) -> float:
        """How strongly a waiting candidate is preferred: waiting time plus a bounded interest bonus."""
        return waited + self.interest_bonus_seconds * min(common_interests, self.max_bonus_interests)


@dataclass(frozen=True, slots=True)
class Profile:
    """One participant's criteria. ``person`` (the user id) is who blocks and recent meetings refer
    to: two sessions of one person are never paired with each other."""

    person: int
    languages: tuple[str, ...] = ()  # most preferred first; empty = no language preference
    interests: frozenset[str] = frozenset()
    text_only: bool = False
    auto_next: bool = True

    def __post_init__(self) -> None:
        if len(self.languages) > MAX_LANGUAGES or len(set(self.languages)) != len(self.languages):
            raise InvalidInput(f"Give at most {MAX_LANGUAGES} distinct languages.", code="invalid_languages")
        if not all(LANGUAGE_RE.fullmatch(code) for code in self.languages):
            raise InvalidInput("Languages are ISO 639 codes such as 'en'.", code="invalid_languages")
        if len(self.interests) > MAX_INTERESTS or not all(
            1 <= len(item) <= MAX_INTEREST_CHARS for item in self.interests
        ):
            raise InvalidInput(
                f"Give at most {MAX_INTERESTS} interests of 1–{MAX_INTEREST_CHARS} characters.",
                code="invalid_interests",
            )


def normalise_languages(raw: Sequence[object]) -> tuple[str, ...]:
    """Trimmed, lowercased, de-duplicated (first occurrence kept) ISO 639 codes, or ``InvalidInput``."""
    if isinstance(raw, str) or len(raw) > MAX_LANGUAGES:
        raise InvalidInput(f"Give at most {MAX_LANGUAGES} languages.", code="invalid_languages")
    codes: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise InvalidInput("Languages are ISO 639 codes such as 'en'.", code="invalid_languages")
        code = item.strip().lower()
        if not LANGUAGE_RE.fullmatch(code):
            raise InvalidInput(f"{item!r} is not an ISO 639 language code.", code="invalid_languages")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def normalise_interests(raw: Sequence[object]) -> frozenset[str]:
    """Interests trimmed, NFKC-normalised, lowercased, inner whitespace collapsed; 1–24 characters
    each, at most 10, no control characters; or ``InvalidInput``."""
    if isinstance(raw, str) or len(raw) > MAX_INTERESTS:
        raise InvalidInput(f"Give at most {MAX_INTERESTS} interests.", code="invalid_interests")
    items: set[str] = set()
    for item in raw:
        if not isinstance(item, str):
            raise InvalidInput("Interests are short texts.", code="invalid_interests")
        text = " ".join(unicodedata.normalize("NFKC", item).lower().split())
        if not 1 <= len(text) <= MAX_INTEREST_CHARS or _has_control_chars(text):
            raise InvalidInput(
                f"An interest has 1–{MAX_INTEREST_CHARS} characters and no control characters.",
                code="invalid_interests",
            )
        items.add(text)
    return frozenset(items)
