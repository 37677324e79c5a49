"""Pairs, and the memory of who must not meet again: recent meetings (bounded) and blocks. Pure."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """WebRTC roles: exactly one member of a pair makes the offer."""

    OFFERER = "offerer"
    ANSWERER = "answerer"


@dataclass(frozen=True, slots=True)
class Pair:
    """Two participants (by participant id) talking to each other; ``first`` waited longer."""

    id: int
    first: int
    second: int
    first_person: int
    second_person: int
    offerer: int
    formed_at: float
    common_interests: tuple[str, ...] = ()
    text_only: bool = False

    def __post_init__(self) -> None:
        if self.first == self.second or self.first_person == self.second_person:
            raise ValueError("a pair has two different people")
        if self.offerer not in (self.first, self.second):
            raise ValueError("the offerer is a member of the pair")

    @property
    def members(self) -> tuple[int, int]:
        return (self.first, self.second)

    def partner_of(self, participant: int) -> int:
        if participant == self.first:
            return self.second
        if participant == self.second:
            return self.first
        raise KeyError(participant)

    def person_of(self, participant: int) -> int:
        if participant == self.first:
            return self.first_person
        if participant == self.second:
            return self.second_person
        raise KeyError(participant)

    def role_of(self, participant: int) -> Role:
        self.partner_of(participant)  # membership check
        return Role.OFFERER if participant == self.offerer else Role.ANSWERER


_NO_MEETINGS: dict[int, int] = {}
_COMPACT_AFTER = 4096


class RecentMeetings:
    """Who is meeting or met whom in the last ``window`` seconds, by person (64-bit ids).

    A meeting ``begin``s when a pair forms and ``end``s when it ends; the two people stay remembered
    until ``window`` seconds after the end. Memory is about 50 bytes per remembered meeting: a count
    per (person, other person) in small dicts (untracked by the garbage collector), and a log of
    ends in flat arrays. ``expire`` forgets what left the window; call it with non-decreasing times.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._count: dict[int, dict[int, int]] = {}  # person -> other -> live meetings + logged ends
        self._log_at = array("d")
        self._log_a = array("q")
        self._log_b = array("q")
        self._head = 0

    def begin(self, a: int, b: int) -> None:
        self._add(a, b)
        self._add(b, a)

    def end(self, a: int, b: int, at: float) -> None:
        """The meeting that ``begin`` started ended at ``at``; remembered until ``at + window``."""
        self._log_at.append(at)
        self._log_a.append(a)
        self._log_b.append(b)

    def of(self, person: int) -> dict[int, int]:
        """Whom ``person`` is meeting or met within the window (as of the last ``expire``)."""
        return self._count.get(person, _NO_MEETINGS)

    def met_recently(self, a: int, b: int) -> bool:
        return b in self._count.get(a, _NO_MEETINGS)

    def expire(self, now: float) -> list[tuple[int, int]]:
        """Forget meetings that ended ``window`` or more seconds before ``now``; returns the pairs of
        people now free to meet again."""
        at, log_a, log_b = self._log_at, self._log_a, self._log_b
        head, size, cutoff = self._head, len(at), now - self.window
        freed: list[tuple[int, int]] = []
        while head < size and at[head] <= cutoff:
            a, b = log_a[head], log_b[head]
            head += 1
            if self._remove(a, b):
                freed.append((a, b))
            self._remove(b, a)
        if head > _COMPACT_AFTER and 2 * head > size:
            del at[:head], log_a[:head], log_b[:head]
            head = 0
        self._head = head
        return freed

    def _add(self, a: int, b: int) -> None:
        counts = self._count.get(a)
        if counts is None:
            counts = self._count[a] = {}
        counts[b] = counts.get(b, 0) + 1

    def _remove(self, a: int, b: int) -> bool:
        """One meeting fewer; True if none remains."""
        counts = self._count[a]
        left = counts[b] - 1
        if left:
            counts[b] = left
            return False
        del counts[b]
        if not counts:
            del self._count[a]
        return True

    def __len__(self) -> int:
        """Number of pairs of people remembered."""
        return sum(len(counts) for counts in self._count.values()) // 2

    @property
    def logged(self) -> int:
        """Ended meetings still inside the window (including repeats)."""
        return len(self._log_at) - self._head


_NO_BLOCKS: frozenset[int] = frozenset()


class Blocks:
    """People who must never be paired: one blocked or reported the other (either direction)."""

    def __init__(self) -> None:
        self._blocked: dict[int, set[int]] = {}

    def add(self, a: int, b: int) -> None:
        self._blocked.setdefault(a, set()).add(b)
        self._blocked.setdefault(b, set()).add(a)

    def of(self, person: int) -> set[int] | frozenset[int]:
        return self._blocked.get(person, _NO_BLOCKS)

    def between(self, a: int, b: int) -> bool:
        return b in self._blocked.get(a, _NO_BLOCKS)
