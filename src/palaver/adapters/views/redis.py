"""The view ledger in Redis, shared by every process and node of a deployment.

One set per post, ``<prefix>views:<chat_id>:<msg_id>``, holding the ids of its viewers. A batch of
views is one pipelined round trip: ``SADD`` per view (Redis runs each atomically, so of two
processes adding the same viewer exactly one is told it was new) and ``EXPIRE … NX`` per post, so
a post's set lives ``window_seconds`` from its first recorded view and then disappears by itself.

Memory in Redis: a set of up to 512 small ids is an ``intset`` (8 bytes per viewer); larger ones
cost roughly 50–70 bytes per viewer, until the window ends.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from palaver.errors import Unavailable


class RedisViewLedger:
    def __init__(self, url: str, *, prefix: str, window_seconds: float = 7 * 86400.0) -> None:
        if window_seconds < 1:
            raise ValueError("the window is at least a second")
        self._redis: Redis = Redis.from_url(url)
        self._prefix = f"{prefix}views:"
        self._ttl = int(window_seconds)

    def key(self, chat_id: int, msg_id: int) -> str:
        return f"{self._prefix}{chat_id}:{msg_id}"

    async def first_views(self, keys: list[tuple[int, int, int]]) -> list[bool]:
        if not keys:
            return []
        posts: dict[tuple[int, int], str] = {}
        pipe = self._redis.pipeline(transaction=False)
        for chat_id, msg_id, user_id in keys:
            key = posts.get((chat_id, msg_id))
            if key is None:
                key = posts[(chat_id, msg_id)] = self.key(chat_id, msg_id)
            pipe.sadd(key, user_id)
        for key in posts.values():
            pipe.expire(key, self._ttl, nx=True)
        try:
            replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise Unavailable("cannot reach Redis to count views", code="views_unavailable") from exc
        return [int(added) == 1 for added in replies[: len(keys)]]

    async def close(self) -> None:
        await self._redis.aclose()
