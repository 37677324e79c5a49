"""Accounts: value objects and rules for users, roles and profiles. Pure, no I/O."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from palaver.errors import InvalidInput

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
MAX_DISPLAY_NAME = 64
MAX_BIO = 140
MAX_LANGUAGES = 8


class Role(StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.USER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class AccountKind(StrEnum):
    GUEST = "guest"
    REGISTERED = "registered"


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch not in "\u200c\u200d"
               for ch in text)


@dataclass(frozen=True, slots=True)
class Username:
    """A public handle: 3–32 of ``A-Z a-z 0-9 _``, starting with a letter; unique ignoring case."""

    value: str

    def __post_init__(self) -> None:
        if not USERNAME_RE.fullmatch(self.value):
            raise InvalidInput(
                "A username has 3–32 characters: letters, digits and _, starting with a letter.",
                code="invalid_username",
            )

    @property
    def canonical(self) -> str:
        return self.value.lower()


@dataclass(frozen=True, slots=True)
class DisplayName:
    value: str

    def __post_init__(self) -> None:
        text = self.value
        if text != text.strip() or not text or len(text) > MAX_DISPLAY_NAME or _has_control_chars(text):
            raise InvalidInput(
                f"A display name has 1–{MAX_DISPLAY_NAME} characters, no control characters "
                "and no leading or trailing spaces.",
                code="invalid_display_name",
            )


@dataclass(frozen=True, slots=True)
class Bio:
    value: str

    def __post_init__(self) -> None:
        if len(self.value) > MAX_BIO or _has_control_chars(self.value.replace("\n", "")):
            raise InvalidInput(f"A bio has at most {MAX_BIO} characters.", code="invalid_bio")


@dataclass(frozen=True, slots=True)
class Languages:
    """Spoken languages as ISO 639 codes, most preferred first, without repeats."""

    codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.codes) > MAX_LANGUAGES or len(set(self.codes)) != len(self.codes):
            raise InvalidInput(f"Give at most {MAX_LANGUAGES} distinct languages.", code="invalid_languages")
        for code in self.codes:
            if not LANGUAGE_RE.fullmatch(code):
                raise InvalidInput(f"{code!r} is not an ISO 639 language code.", code="invalid_languages")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    kind: AccountKind
    role: Role
    display_name: str
    username: str | None
    bio: str = ""
    languages: tuple[str, ...] = ()
    created_at: float = 0.0
    password_hash: str | None = field(default=None, repr=False)

    @property
    def is_guest(self) -> bool:
        return self.kind is AccountKind.GUEST


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """A partial profile update; ``None`` leaves a field unchanged. Validated on construction."""

    display_name: DisplayName | None = None
    username: Username | None = None
    bio: Bio | None = None
    languages: Languages | None = None


def guest_display_name(user_id: int) -> str:
    return f"Guest {user_id % 100000:05d}"


def can_grant_role(actor: Role, target_current: Role, new_role: Role) -> bool:
    """Only admins change roles; nobody grants above their own rank."""
    return actor is Role.ADMIN and new_role.rank <= actor.rank and target_current.rank <= actor.rank
