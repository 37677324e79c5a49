"""Control events: messages on a ``user:<id>`` topic that change which topics that user's connections
are in, instead of being delivered to them.

A publisher (the messenger, after a commit) sends
``{"type":"event","topic":"user:<id>","event":"gateway.join","data":{"topics":["channel:5"]}}``
(or ``"gateway.leave"``); every local connection of that user then joins (leaves) those topics.
Only topics that start with one of the server's ``joinable_prefixes`` are honoured, so a bug in a
publisher cannot subscribe a user to someone else's ``user:`` or ``session:`` topic.
"""

from __future__ import annotations

import logging
from typing import Any, Final, NamedTuple

import msgspec

from palaver.adapters.gateway.topics import SESSION_TOPIC_PREFIX, USER_TOPIC_PREFIX

logger = logging.getLogger(__name__)

JOIN_EVENT: Final = "gateway.join"
LEAVE_EVENT: Final = "gateway.leave"
CONTROL_NEEDLE: Final = b'"gateway.'  # in every control payload; a cheap pre-check before decoding
MAX_CONTROL_TOPICS: Final = 1000
MAX_TOPIC_CHARS: Final = 200


class TopicChange(NamedTuple):
    """Join (``join=True``) or leave ``topics``."""

    join: bool
    topics: tuple[str, ...]


class _Header(msgspec.Struct, gc=False):
    event: Any = None


class _TopicsData(msgspec.Struct, gc=False):
    topics: list[str]


class _ControlFrame(msgspec.Struct, gc=False):
    data: _TopicsData


_EVENTS: Final = {JOIN_EVENT: True, LEAVE_EVENT: False}
_PRIVATE_PREFIXES: Final = (USER_TOPIC_PREFIX, SESSION_TOPIC_PREFIX)


def check_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """``prefixes`` if none of them can reach a user or session topic; else ``ValueError``."""
    for prefix in prefixes:
        if not prefix or any(p.startswith(prefix) or prefix.startswith(p) for p in _PRIVATE_PREFIXES):
            raise ValueError(f"{prefix!r} cannot be a joinable topic prefix")
    return prefixes


class TopicControl:
    """Recognises control events and keeps only the topics on the allow-list."""

    __slots__ = ("_decode_frame", "_decode_header", "_prefixes")

    def __init__(self, joinable_prefixes: tuple[str, ...] = ()) -> None:
        self._prefixes = check_prefixes(tuple(joinable_prefixes))
        self._decode_header = msgspec.json.Decoder(_Header).decode
        self._decode_frame = msgspec.json.Decoder(_ControlFrame).decode

    def parse(self, payload: bytes) -> TopicChange | None:
        """None when ``payload`` is an ordinary event (deliver it). Otherwise the change it asks for,
        reduced to the allowed topics (possibly none); the payload itself is never delivered."""
        if CONTROL_NEEDLE not in payload:
            return None
        try:
            event: object = self._decode_header(payload).event
        except msgspec.DecodeError:
            return None
        join = _EVENTS.get(event) if type(event) is str else None
        if join is None:
            return None
        try:
            topics = self._decode_frame(payload).data.topics
        except msgspec.DecodeError as exc:
            logger.warning("gateway: ignoring a malformed %s event: %s", event, exc)
            return TopicChange(join, ())
        if len(topics) > MAX_CONTROL_TOPICS:
            logger.warning("gateway: ignoring a %s event with %d topics", event, len(topics))
            return TopicChange(join, ())
        allowed = tuple(dict.fromkeys(t for t in topics if self.allows(t)))
        if len(allowed) != len(set(topics)):
            logger.warning("gateway: %s event named topics outside the allow-list; ignored them", event)
        return TopicChange(join, allowed)

    def allows(self, topic: str) -> bool:
        """Whether a control event may make a connection join or leave ``topic``."""
        if not self._prefixes or len(topic) > MAX_TOPIC_CHARS:
            return False
        return topic.startswith(self._prefixes)
