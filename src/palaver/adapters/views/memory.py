"""The view ledger in this process's memory (one process: the default, in-memory broker).

Viewers are kept per post (``(chat_id, msg_id)`` → set of user ids) in the order of each post's
first recorded view. Memory is bounded two ways:

* time: a post's set is dropped ``window_seconds`` after its first view (default 7 days), and
* size: when more than ``max_entries`` viewer entries are held, the posts first viewed longest
  ago are dropped until the total is under the cap again (default 2,000,000 entries: roughly
  150–200 MB of Python sets and ints at worst).

A viewer of a dropped post is counted again if they view it again: "once per viewer per post"
holds within the window, and across a drop at most once more per drop.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from palaver.ports import Clock

DEFAULT_MAX_ENTRIES = 2_000_000
PostKey = tuple[int, int]


@dataclass(slots=True)
class _Post:
    first_seen: float
    viewers: set[int] = field(default_factory=set)


class MemoryViewLedger:
    def __init__(
        self, clock: Clock, *, window_seconds: float = 7 * 86400.0, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        if window_seconds <= 0 or max_entries < 1:
            raise ValueError("the window and the cap must be positive")
        self._clock = clock
        self._window = window_seconds
        self._max_entries = max_entries
        self._posts: OrderedDict[PostKey, _Post] = OrderedDict()  # by first view, oldest first
        self._entries = 0

    @property
    def entries(self) -> int:
        """Viewer entries held now (for tests and metrics)."""
        return self._entries

    async def first_views(self, keys: list[tuple[int, int, int]]) -> list[bool]:
        now = self._clock.now()
        self._expire(now)
        answers: list[bool] = []
        for chat_id, msg_id, user_id in keys:
            post = self._posts.get((chat_id, msg_id))
            if post is None:
                post = self._posts[(chat_id, msg_id)] = _Post(now)
            if user_id in post.viewers:
                answers.append(False)
                continue
            post.viewers.add(user_id)
            self._entries += 1
            answers.append(True)
        self._shrink()
        return answers

    def _expire(self, now: float) -> None:
        while self._posts:
            key, post = next(iter(self._posts.items()))
            if now - post.first_seen < self._window:
                return
            self._drop(key)

    def _shrink(self) -> None:
        """Drop the oldest posts while over the cap (always keeping the newest one)."""
        while self._entries > self._max_entries and len(self._posts) > 1:
            self._drop(next(iter(self._posts)))

    def _drop(self, key: PostKey) -> None:
        post = self._posts.pop(key)
        self._entries -= len(post.viewers)

    async def close(self) -> None:
        self._posts.clear()
        self._entries = 0
