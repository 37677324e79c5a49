"""Running a coroutine inline until it first suspends, and finishing it in a task after that."""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def resume(coro: Coroutine[Any, Any, T], yielded: Any) -> Generator[Any, Any, T]:
    """Await the rest of ``coro``, which was stepped with ``coro.send(None)`` and yielded ``yielded``.

    ``yielded`` (usually a future) is handed to the running task as if ``coro`` had yielded it there;
    exceptions thrown in (cancellation) are passed on to ``coro``.
    """
    while True:
        try:
            yield yielded
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        return (yield from coro)  # type: ignore[no-any-return]
