"""Message text and formatting entities, the edit window and the reaction set.

Entity offsets and lengths count UTF-16 code units (as Telegram and JavaScript do). Nesting rules:

* entities never partly overlap: two ranges are disjoint, or one contains the other;
* an entity never contains another of its own type;
* ``code``, ``pre``, ``url`` and ``mention`` contain no other entity; ``pre`` (a block) is not
  inside any other entity;
* links (``text_link``, ``url``, ``mention``) never contain links.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from palaver.errors import Forbidden, InvalidInput

MAX_TEXT = 4096  # characters (code points)
MAX_ENTITIES = 100
MAX_URL = 2048
EDIT_WINDOW_SECONDS = 48 * 3600
MAX_IDS_PER_CALL = 100
REACTIONS = ("👍", "❤️", "🔥", "🎉", "😂", "😮", "😢", "👎")
_URL_RE = re.compile(r"^(https?)://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_MENTION_RE = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{2,31}$")
_LANGUAGE_RE = re.compile(r"^[A-Za-z0-9+#._-]{1,32}$")
_ALLOWED_CONTROLS = frozenset("\n\t")


class EntityType(StrEnum):
    BOLD = "bold"
    ITALIC = "italic"
    CODE = "code"
    PRE = "pre"
    TEXT_LINK = "text_link"
    URL = "url"
    MENTION = "mention"


_LEAVES = frozenset({EntityType.CODE, EntityType.PRE, EntityType.URL, EntityType.MENTION})
_LINKS = frozenset({EntityType.TEXT_LINK, EntityType.URL, EntityType.MENTION})


@dataclass(frozen=True, slots=True)
class Entity:
    type: EntityType
    offset: int  # UTF-16 code units
    length: int  # UTF-16 code units
    url: str | None = None  # text_link only
    language: str | None = None  # pre only

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"type": self.type.value, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language is not None:
            data["language"] = self.language
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Entity:
        """Parse a client's entity; raises ``InvalidInput`` on anything malformed."""
        try:
            kind = EntityType(str(data["type"]))
            offset, length = data["offset"], data["length"]
        except (KeyError, ValueError) as exc:
            raise _bad_entity("Each entity has a known type, an offset and a length.") from exc
        if not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool):
            raise _bad_entity("Entity offsets and lengths are integers.")
        url, language = data.get("url"), data.get("language")
        if url is not None and not isinstance(url, str):
            raise _bad_entity("An entity url is a string.")
        if language is not None and not isinstance(language, str):
            raise _bad_entity("A pre language is a string.")
        return cls(kind, offset, length, url, language)


def _bad_entity(message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_entities")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="strict")


def check_text(text: str, *, allow_empty: bool = False, limit: int = MAX_TEXT) -> str:
    if len(text) > limit:
        raise InvalidInput(f"A message has at most {limit} characters.", code="message_too_long")
    if not allow_empty and not text.strip():
        raise InvalidInput("A message cannot be empty.", code="message_empty")
    for ch in text:
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in ("Cc", "Cs"):
            raise InvalidInput("A message contains a control character.", code="invalid_text")
    return text


def check_entities(text: str, entities: tuple[Entity, ...]) -> tuple[Entity, ...]:
    """Validate ``entities`` for ``text`` and return them sorted (outer before inner)."""
    if len(entities) > MAX_ENTITIES:
        raise _bad_entity(f"At most {MAX_ENTITIES} entities per message.")
    size = utf16_length(text)
    for entity in entities:
        _check_one(text, size, entity)
    ordered = tuple(sorted(entities, key=lambda e: (e.offset, -e.length, e.type.value)))
    open_stack: list[Entity] = []
    for entity in ordered:
        while open_stack and open_stack[-1].end <= entity.offset:
            open_stack.pop()
        for outer in open_stack:
            if entity.end > outer.end:
                raise _bad_entity("Entities may nest but must not partly overlap.")
            _check_nesting(outer, entity)
        open_stack.append(entity)
    return ordered


def _check_one(text: str, size: int, entity: Entity) -> None:
    if entity.offset < 0 or entity.length < 1 or entity.end > size:
        raise _bad_entity("An entity lies outside the text.")
    try:
        covered = utf16_slice(text, entity.offset, entity.length)
    except UnicodeDecodeError as exc:
        raise _bad_entity("An entity splits a character in two.") from exc
    if entity.type is EntityType.TEXT_LINK:
        if entity.url is None or len(entity.url) > MAX_URL or not _URL_RE.match(entity.url):
            raise _bad_entity("A text link needs an http(s) url.")
    elif entity.url is not None:
        raise _bad_entity("Only text links carry a url.")
    if entity.language is not None and (entity.type is not EntityType.PRE or not _LANGUAGE_RE.match(entity.language)):
        raise _bad_entity("Only pre entities carry a language, of up to 32 plain characters.")
    if entity.type is EntityType.URL and not _URL_RE.match(covered):
        raise _bad_entity("A url entity must cover an http(s) url.")
    if entity.type is EntityType.MENTION and not _MENTION_RE.match(covered):
        raise _bad_entity("A mention entity must cover an @username.")


def _check_nesting(outer: Entity, inner: Entity) -> None:
    if outer.type is inner.type:
        raise _bad_entity(f"A {outer.type.value} entity cannot contain another.")
    if outer.type in _LEAVES:
        raise _bad_entity(f"A {outer.type.value} entity cannot contain other entities.")
    if inner.type is EntityType.PRE:
        raise _bad_entity("A pre block cannot be inside another entity.")
    if outer.type in _LINKS and inner.type in _LINKS:
        raise _bad_entity("Links cannot contain links.")


@dataclass(frozen=True, slots=True)
class MessageText:
    """Validated message text with its entities (sorted)."""

    text: str
    entities: tuple[Entity, ...] = ()

    def __post_init__(self) -> None:
        check_text(self.text)
        object.__setattr__(self, "entities", check_entities(self.text, self.entities))

    def entities_json(self) -> list[dict[str, object]]:
        return [e.to_json() for e in self.entities]


def parse_entities(raw: list[dict[str, object]] | None) -> tuple[Entity, ...]:
    if not raw:
        return ()
    if len(raw) > MAX_ENTITIES:
        raise _bad_entity(f"At most {MAX_ENTITIES} entities per message.")
    return tuple(Entity.from_json(item) for item in raw)


def check_edit_window(sent_at: float, now: float) -> None:
    if now - sent_at > EDIT_WINDOW_SECONDS:
        raise Forbidden("Messages can be edited for 48 hours after sending.", code="edit_window_expired")


def check_reaction(emoji: str) -> str:
    if emoji not in REACTIONS:
        raise InvalidInput(f"Reactions are one of {' '.join(REACTIONS)}.", code="invalid_reaction")
    return emoji


def check_ids(ids: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """Message ids of one call: 1–100 positive ids, without repeats, ascending."""
    unique = tuple(sorted(set(ids)))
    if not unique or len(unique) > MAX_IDS_PER_CALL or unique[0] < 1:
        raise InvalidInput(f"Give 1–{MAX_IDS_PER_CALL} message ids.", code="invalid_message_ids")
    return unique


@dataclass(frozen=True, slots=True)
class ForwardHeader:
    """Where a forwarded message came from; a forward of a forward keeps the original."""

    from_chat_id: int
    from_msg_id: int
    from_user_id: int | None  # None when the original was posted anonymously / by a channel
    date: float
    signature: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "from_chat_id": str(self.from_chat_id),
            "from_msg_id": self.from_msg_id,
            "from_user_id": str(self.from_user_id) if self.from_user_id is not None else None,
            "date": self.date,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ForwardHeader:
        user = data.get("from_user_id")
        signature = data.get("signature")
        return cls(
            from_chat_id=int(str(data["from_chat_id"])),
            from_msg_id=int(str(data["from_msg_id"])),
            from_user_id=int(str(user)) if user is not None else None,
            date=float(str(data["date"])),
            signature=str(signature) if signature is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Message:
    chat_id: int
    id: int  # sequential within the chat
    uid: int  # globally unique (snowflake): search cursor, index row id
    sender_id: int | None  # the author; kept even when shown anonymously
    date: float
    text: str
    entities: tuple[Entity, ...] = ()
    anonymous: bool = False  # shown as sent by the chat (channel posts, anonymous admins)
    reply_to: int | None = None
    forward: ForwardHeader | None = None
    edit_date: float | None = None
    silent: bool = False
    signature: str | None = None
    views: int = 0
    reactions: tuple[tuple[str, int], ...] = ()  # (emoji, count), in REACTIONS order

    def visible_sender(self) -> int | None:
        return None if self.anonymous else self.sender_id


def reaction_counts(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple((emoji, counts[emoji]) for emoji in REACTIONS if counts.get(emoji, 0) > 0)
