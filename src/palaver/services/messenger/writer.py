"""Every messenger write runs through a ``Writer``: one transaction, box updates flushed at its end,
events published only after the commit.

With ``batch=True`` writes are queued and a single task commits many of them in one transaction
("group commit") as soon as the previous batch is done. The batch runs optimistically: every write,
then the box updates of all of them together (one pts allocation, one insert — ``flush_all``); the
storage defers the hot rows (messages, counters) and writes each table once per batch. If anything
fails, the batch is rolled back and run again with a savepoint per write, so one failing write rolls
back alone. Callers see the same thing either way: the result once committed (or the write's own
error), and its events published in commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from palaver.ports import BatchStorage, Broker, Clock, Storage, Transaction
from palaver.services.events import Event, publish_all
from palaver.services.messenger.staging import Staged, flush_all

log = logging.getLogger(__name__)
T = TypeVar("T")
WriteOp = Callable[[Transaction, Staged], Awaitable[T]]


@dataclass
class _Job(Generic[T]):
    op: WriteOp[T]
    future: asyncio.Future[T]
    events: list[Event]
    chat: tuple[int, int] | None  # (chat_id, user_id) whose access the write loads first
    sent: tuple[int, int] | None = None  # (sender_id, random_id) the write looks up first


class Writer:
    def __init__(
        self, storage: Storage, broker: Broker, clock: Clock, *, batch: bool = False, max_batch: int = 256
    ) -> None:
        self._storage = storage
        self._broker = broker
        self._clock = clock
        self._batch = batch
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Job[Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def run(
        self, op: WriteOp[T], *, chat: tuple[int, int] | None = None, sent: tuple[int, int] | None = None
    ) -> T:
        """Run ``op`` in a transaction; publish what it staged after the commit; return its result.

        ``chat``: the ``(chat_id, user_id)`` whose chat and membership ``op`` loads first; a group
        commit loads those of all its writes in one query (and, on PostgreSQL, locks the chat rows
        in id order before anything else). ``sent``: the ``(sender_id, random_id)`` of an idempotent
        send, looked up for all the writes of a group commit in one query."""
        if self._closed:
            raise RuntimeError("the messenger writer is closed")
        if not self._batch:
            return await self._run_alone(op)
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._drain(), name="messenger-group-commit")
        assert self._queue is not None
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(op, future, [], chat, sent))
        return await future

    async def _run_alone(self, op: WriteOp[T]) -> T:
        async with self._storage.transaction() as tx:
            staged = Staged(now=self._clock.now())
            result = await op(tx, staged)
            events = await staged.flush(tx)
        await self._publish(events)
        return result

    async def _publish(self, events: list[Event]) -> None:
        """Live delivery is best effort: a committed write never reports failure because the broker
        hiccuped (the client would send it again); clients catch up with getDifference."""
        try:
            await publish_all(self._broker, events)
        except Exception:
            log.exception("publishing %d messenger events failed", len(events))

    async def _drain(self) -> None:
        """Commit whatever is queued as soon as the previous batch is done: no timer, so a lone
        write commits at once and batches grow only while the writer is busy."""
        assert self._queue is not None
        while True:
            jobs = [await self._queue.get()]
            while len(jobs) < self._max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            try:
                await self._commit(jobs)
            except Exception as exc:
                log.exception("group commit failed")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            # A batch may run right on the event loop (SQLite on one CPU): let the loop answer the
            # writers just committed and read new requests before the next batch.
            await asyncio.sleep(0)

    async def _commit(self, jobs: list[_Job[Any]]) -> None:
        """Optimistically run the whole batch in one transaction without savepoints; if anything
        fails, roll back and run the batch again with a savepoint per write (so a failing write
        costs one retry of its batch, never more)."""
        live = [job for job in jobs if not job.future.cancelled()]
        try:
            outcomes = await self._run_batch(live, savepoints=False)
        except Exception:  # a write failed, or the batch's own flush or commit did
            outcomes = await self._run_batch(live, savepoints=True)
        for job, result, error in outcomes:
            if error is None:
                await self._publish(job.events)
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)

    async def _run_batch(
        self, jobs: list[_Job[Any]], *, savepoints: bool
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        if isinstance(self._storage, BatchStorage):
            return await self._storage.run_batch(lambda tx: self._batch_body(tx, jobs, savepoints=savepoints))
        async with self._storage.transaction() as tx:
            return await self._batch_body(tx, jobs, savepoints=savepoints)

    async def _batch_body(
        self, tx: Transaction, jobs: list[_Job[Any]], *, savepoints: bool
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        """Awaits nothing but ``tx``: it may run on the storage's writer thread.

        Optimistic (no savepoints): every write runs, then the box updates of all of them are
        flushed together (one pts allocation and one insert for the batch). With savepoints: each
        write and its updates alone in a savepoint, so a failing one rolls back alone."""
        if not savepoints:
            sent = [job.sent for job in jobs if job.sent is not None]
            if sent:  # first: a plain query, before the chats' counters are held in memory
                await tx.messages.prefetch_sent(sent)
            keys = [job.chat for job in jobs if job.chat is not None]
            if keys:
                await tx.chats.prefetch(keys)
            staged = [Staged(now=self._clock.now()) for _ in jobs]
            results = [await job.op(tx, stage) for job, stage in zip(jobs, staged, strict=True)]
            for job, events in zip(jobs, await flush_all(tx, staged), strict=True):
                job.events = events
            return [(job, result, None) for job, result in zip(jobs, results, strict=True)]
        outcomes: list[tuple[_Job[Any], Any, BaseException | None]] = []
        for job in jobs:
            try:
                async with tx.savepoint():
                    result = await self._run_job(tx, job)
                outcomes.append((job, result, None))
            except Exception as exc:  # the write's own failure: only it is rolled back
                outcomes.append((job, None, exc))
        return outcomes

    async def _run_job(self, tx: Transaction, job: _Job[Any]) -> Any:
        staged = Staged(now=self._clock.now())
        result = await job.op(tx, staged)
        job.events = await staged.flush(tx)
        return result

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
