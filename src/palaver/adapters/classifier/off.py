"""The classifier for ``PALAVER_CLASSIFIER=off``: every frame scores 0, so nothing is ever flagged."""

from __future__ import annotations


class ClassifierOff:
    async def score(self, jpeg: bytes) -> float:
        return 0.0

    async def close(self) -> None:
        return None
