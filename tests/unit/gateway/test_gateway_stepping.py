"""Finishing a coroutine that was stepped inline once and then suspended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from palaver.adapters.gateway.stepping import resume


async def two_waits(gate: asyncio.Future[int]) -> int:
    first = await gate
    await asyncio.sleep(0)
    return first + 1


async def test_resume_finishes_a_suspended_coroutine() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    coro = two_waits(gate)
    yielded: Any = coro.send(None)
    assert yielded is gate
    task = asyncio.ensure_future(resume(coro, yielded))
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result(41)
    assert await task == 42


async def test_exceptions_after_suspension_propagate() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("x")

    coro = fails()
    yielded = coro.send(None)
    with pytest.raises(LookupError):
        await resume(coro, yielded)


async def test_cancellation_reaches_the_coroutine() -> None:
    cleaned = []

    async def waits_forever(gate: asyncio.Future[None]) -> None:
        try:
            await gate
        finally:
            cleaned.append(True)

    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    coro = waits_forever(gate)
    task = asyncio.ensure_future(resume(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]
