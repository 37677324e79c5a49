"""64-bit time-ordered ids (snowflake layout).

    | 41 bits: ms since EPOCH_MS | 10 bits: node | 12 bits: sequence |

Ids from one generator strictly increase; ids from different nodes never collide as long as the
node numbers differ. The generator takes an injected clock so tests control time.
"""

from __future__ import annotations

from typing import Protocol

from palaver.clock import Clock

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class IdGenerator(Protocol):
    def next_id(self) -> int: ...


class SnowflakeIds:
    def __init__(self, clock: Clock, node: int = 0) -> None:
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node must be in 0..{MAX_NODE}")
        self._clock = clock
        self._node = node
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        ms = max(int(self._clock.now() * 1000) - EPOCH_MS, 0)
        if ms <= self._last_ms:
            # Same millisecond (or the wall clock stepped back): keep counting from the last one.
            ms = self._last_ms
            self._sequence += 1
            if self._sequence > MAX_SEQUENCE:
                ms += 1
                self._sequence = 0
        else:
            self._sequence = 0
        self._last_ms = ms
        return (ms << (NODE_BITS + SEQUENCE_BITS)) | (self._node << SEQUENCE_BITS) | self._sequence


def id_timestamp(snowflake: int) -> float:
    """The Unix time (seconds) at which an id was made."""
    return ((snowflake >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS) / 1000


MAX_ID = (1 << 63) - 1


def parse_id(text: str, what: str = "object") -> int:
    """An id as it travels in JSON and URLs (a decimal string) back to an int, or ``InvalidInput``."""
    from palaver.errors import InvalidInput

    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_ID:
        raise InvalidInput(f"A {what} id is a decimal number.", code=f"invalid_{what}_id")
    return int(text)
