"""Chat kinds, their limits, and validated chat attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from palaver.domain.accounts import Username
from palaver.errors import InvalidInput

MAX_GROUP_MEMBERS = 200
MAX_SUPERGROUP_MEMBERS = 200_000
MAX_TITLE = 128
MAX_ABOUT = 255
MAX_PINNED_DIALOGS = 5
_BLANK_RE = re.compile(r"^\s*$")


class ChatKind(StrEnum):
    PRIVATE = "private"  # one-to-one (or a user with themself: saved messages)
    GROUP = "group"  # basic group, up to 200 members, updates in every member's common box
    SUPERGROUP = "supergroup"  # up to 200,000 members, its own channel box
    CHANNEL = "channel"  # broadcast by owner/admins, unlimited subscribers, its own channel box

    @property
    def has_channel_box(self) -> bool:
        """Supergroups and channels keep one update box for the chat; the others fan out."""
        return self in (ChatKind.SUPERGROUP, ChatKind.CHANNEL)

    @property
    def member_limit(self) -> int | None:
        return _LIMITS[self]

    @property
    def can_be_public(self) -> bool:
        return self.has_channel_box


_LIMITS: dict[ChatKind, int | None] = {
    ChatKind.PRIVATE: 2,
    ChatKind.GROUP: MAX_GROUP_MEMBERS,
    ChatKind.SUPERGROUP: MAX_SUPERGROUP_MEMBERS,
    ChatKind.CHANNEL: None,
}


def check_title(title: str) -> str:
    if not title or _BLANK_RE.match(title) or len(title) > MAX_TITLE or title != title.strip():
        raise InvalidInput(
            f"A chat title has 1–{MAX_TITLE} characters without leading or trailing spaces.", code="invalid_title"
        )
    if any(ch in title for ch in "\n\r\t\x00"):
        raise InvalidInput("A chat title is one line.", code="invalid_title")
    return title


def check_about(about: str) -> str:
    if len(about) > MAX_ABOUT or "\x00" in about:
        raise InvalidInput(f"A chat description has at most {MAX_ABOUT} characters.", code="invalid_about")
    return about


def check_chat_username(kind: ChatKind, username: str | None) -> str | None:
    """Only supergroups and channels can be public; the name follows the user-name rules."""
    if username is None:
        return None
    if not kind.can_be_public:
        raise InvalidInput("Only channels and supergroups can have a public username.", code="cannot_be_public")
    return Username(username).value


def private_key(a: int, b: int) -> str:
    """The unique key of the private chat between two users (order does not matter)."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


def private_members(key: str) -> tuple[int, ...]:
    """The one or two users of a private chat, from its key."""
    low, high = (int(part) for part in key.split(":"))
    return (low,) if low == high else (low, high)


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    kind: ChatKind
    title: str
    created_at: float
    about: str = ""
    username: str | None = None
    owner_id: int | None = None
    private_key: str | None = None
    signatures: bool = False
    member_count: int = 0
    last_msg_id: int = 0
    top_date: float = 0.0
    pts: int = 0  # the channel box counter (supergroups and channels)
    pinned_msg_id: int = 0

    @property
    def is_public(self) -> bool:
        return self.username is not None

    def members_of_private(self) -> tuple[int, ...]:
        assert self.private_key is not None
        return private_members(self.private_key)

    def peer_of(self, user_id: int) -> int:
        """The other participant of a private chat (the user themself in saved messages)."""
        members = self.members_of_private()
        return next((m for m in members if m != user_id), user_id)
