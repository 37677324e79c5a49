"""The SQLite batch writer: its coroutine driver, and where batches run (inline or on the thread)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from palaver.adapters.storage import writer_thread
from palaver.adapters.storage.dialect import create_sqlite_writer_engine
from palaver.adapters.storage.write_behind import SqliteDriver
from palaver.adapters.storage.writer_thread import SqliteWriterThread, drive


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


# --------------------------------------------------------------------------- inline batches


def _writer(tmp_path: Path, *, inline: bool) -> tuple[SqliteWriterThread, Path]:
    path = tmp_path / "w.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.close()
    engine = create_sqlite_writer_engine(f"sqlite+aiosqlite:///{path}")
    assert engine is not None
    return SqliteWriterThread(engine, inline=inline), path


async def insert(conn: AsyncConnection, driver: SqliteDriver, value: int) -> int:
    await driver.execute_many("INSERT INTO t (x) VALUES (?)", [(value,)])
    return threading.get_ident()


async def test_inline_batches_run_on_the_loop_thread(tmp_path: Path) -> None:
    writer, path = _writer(tmp_path, inline=True)
    try:
        ident = await writer.run(lambda conn, driver: insert(conn, driver, 1))
        assert ident == threading.get_ident()
        assert (writer.inline_batches, writer.thread_batches) == (1, 0)
    finally:
        writer.close()
    assert sqlite3.connect(path).execute("SELECT x FROM t").fetchall() == [(1,)]


async def test_inline_batch_waits_on_the_thread_while_another_connection_writes(tmp_path: Path) -> None:
    writer, path = _writer(tmp_path, inline=True)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock, and needs the loop to finish
    try:
        batch = asyncio.create_task(writer.run(lambda conn, driver: insert(conn, driver, 2)))
        await asyncio.sleep(0.05)
        assert not batch.done()  # waiting on the writer thread, not blocking the loop
        other.execute("INSERT INTO t (x) VALUES (1)")
        other.execute("COMMIT")
        assert await batch != threading.get_ident()
        assert (writer.inline_batches, writer.thread_batches) == (0, 1)
        await writer.run(lambda conn, driver: insert(conn, driver, 3))  # the lock is free again
        assert (writer.inline_batches, writer.thread_batches) == (1, 1)
    finally:
        other.close()
        writer.close()
    assert sqlite3.connect(path).execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,), (3,)]


async def test_batches_on_a_writer_thread(tmp_path: Path) -> None:
    writer, _ = _writer(tmp_path, inline=False)
    try:
        assert await writer.run(lambda conn, driver: insert(conn, driver, 1)) != threading.get_ident()
        assert (writer.inline_batches, writer.thread_batches) == (0, 1)
    finally:
        writer.close()


async def test_inline_batches_leave_checkpoints_to_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_thread, "CHECKPOINT_SECONDS", 0.0)
    writer, path = _writer(tmp_path, inline=True)
    try:
        for value in range(3):
            await writer.run(lambda conn, driver, value=value: insert(conn, driver, value))
            checkpoint = writer._checkpoint
            assert checkpoint is not None
            await asyncio.wrap_future(checkpoint)  # ran on the thread, after the commit
        assert writer.thread_batches == 0
    finally:
        writer.close()
    reader = sqlite3.connect(path)
    assert reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (3,)
