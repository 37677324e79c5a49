"""The coroutine driver of the SQLite writer thread."""

from __future__ import annotations

import asyncio

import pytest

from palaver.adapters.storage.writer_thread import drive


async def immediate(value: int) -> int:
    return value + 1


async def composed() -> int:
    return await immediate(1) + await immediate(2)


async def suspends() -> None:
    await asyncio.sleep(0)


def test_drive_runs_coroutines_that_never_suspend() -> None:
    assert drive(composed()) == 5


def test_drive_refuses_coroutines_that_suspend() -> None:
    with pytest.raises(RuntimeError, match="awaited something"):
        drive(suspends())


def test_drive_propagates_errors() -> None:
    async def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        drive(fails())
