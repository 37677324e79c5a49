"""Event frames as published on the broker: encoded once, delivered as the same bytes to everyone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from palaver.ports import Broker

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    name: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        return _encoder.encode({"type": "event", "topic": self.topic, "event": self.name, "data": self.data})


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def session_topic(session_id: int) -> str:
    return f"session:{session_id}"


async def publish_all(broker: Broker, events: Sequence[Event]) -> None:
    """Publish events in order. Call only after the transaction that produced them committed."""
    for event in events:
        await broker.publish(event.topic, event.encode())
