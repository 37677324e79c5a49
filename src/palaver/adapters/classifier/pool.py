"""``ClassifierPool``: scores frames with :class:`OnnxScorer` in worker processes (or threads), so the
event loop never runs the model.

Processes (the default) each load the model once in their initializer and score one frame at a time
with one onnxruntime thread; the loop only pickles the bytes over and a float back. Threads share one
scorer (onnxruntime's ``run`` is thread-safe and releases the GIL). ``bench/classifier.py`` measures
both against each other (docs/benchmarks.md, "Snapshot classifier").

At most ``max_pending`` frames wait at once; past that ``score`` refuses at once with
``Unavailable(classifier_busy)`` rather than queueing without bound. A worker process that dies
(killed, out of memory) breaks the executor: that call fails with ``Unavailable(classifier_unavailable)``
and the next one gets a fresh pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Literal

from palaver.errors import InvalidInput, Unavailable
from palaver.processes import die_with_parent

if TYPE_CHECKING:  # onnxruntime is imported only where the model runs (not in the server with processes)
    from palaver.adapters.classifier.onnx import OnnxScorer

log = logging.getLogger(__name__)

ExecutorKind = Literal["process", "thread"]

# The scorer of this worker process, loaded once by the pool initializer (per process, never shared).
_worker_scorer: OnnxScorer | None = None


def _load_scorer(intra_op_threads: int) -> OnnxScorer:
    from palaver.adapters.classifier.onnx import OnnxScorer

    scorer = OnnxScorer(intra_op_threads=intra_op_threads)
    scorer.warm_up()
    return scorer


def _init_worker(intra_op_threads: int, parent_pid: int) -> None:
    global _worker_scorer
    die_with_parent(parent_pid)  # a worker blocked on its call queue would outlive a killed server
    _worker_scorer = _load_scorer(intra_op_threads)


def _ready() -> bool:
    return _worker_scorer is not None


def _score_in_worker(jpeg: bytes) -> float | None:
    """The score, or None for bytes that are no JPEG (exceptions lose their ``code`` when pickled)."""
    assert _worker_scorer is not None, "the pool initializer loads the scorer"
    try:
        return _worker_scorer.score(jpeg)
    except InvalidInput:
        return None


def _invalid_image() -> InvalidInput:
    return InvalidInput("The image could not be decoded as a JPEG.", code="invalid_image")


class ClassifierPool:
    def __init__(
        self,
        *,
        workers: int = 1,
        executor: ExecutorKind = "process",
        intra_op_threads: int = 1,
        max_pending: int | None = None,
    ) -> None:
        if workers < 1 or intra_op_threads < 1:
            raise ValueError("workers and intra_op_threads are at least 1")
        self._workers = workers
        self._kind: ExecutorKind = executor
        self._threads = intra_op_threads
        self._max_pending = max_pending if max_pending is not None else 16 * workers
        self._pending = 0
        self._executor: Executor | None = None
        self._scorer: OnnxScorer | None = None  # thread mode: shared by the threads
        self._start_lock = asyncio.Lock()
        self._closed = False

    @property
    def kind(self) -> ExecutorKind:
        return self._kind

    async def start(self) -> None:
        """Start the workers and load the model in each (about a second). Idempotent; ``score`` calls it."""
        async with self._start_lock:
            if self._closed:
                raise Unavailable("The classifier is shut down.", code="classifier_unavailable")
            if self._executor is not None:
                return
            loop = asyncio.get_running_loop()
            if self._kind == "thread":
                executor: Executor = ThreadPoolExecutor(self._workers, thread_name_prefix="classifier")
                scorer = await loop.run_in_executor(executor, _load_scorer, self._threads)
                self._scorer = scorer
            else:
                executor = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context("spawn"),  # never fork a running event loop
                    initializer=_init_worker,
                    initargs=(self._threads, os.getpid()),
                )
                # one call per worker makes every process start and load the model now
                await asyncio.gather(*(loop.run_in_executor(executor, _ready) for _ in range(self._workers)))
            self._executor = executor

    async def score(self, jpeg: bytes) -> float:
        if self._pending >= self._max_pending:
            raise Unavailable("The classifier is busy; try again shortly.", code="classifier_busy", retry_after=1.0)
        self._pending += 1
        try:
            await self.start()
            executor = self._executor
            assert executor is not None
            loop = asyncio.get_running_loop()
            if self._scorer is not None:
                return await loop.run_in_executor(executor, self._scorer.score, jpeg)
            try:
                result = await loop.run_in_executor(executor, _score_in_worker, jpeg)
            except BrokenProcessPool as exc:
                await self._discard(executor)
                raise Unavailable("The classifier stopped; try again.", code="classifier_unavailable") from exc
            if result is None:
                raise _invalid_image()
            return result
        finally:
            self._pending -= 1

    async def _discard(self, executor: Executor) -> None:
        """Drop a broken executor so the next call starts a fresh one."""
        async with self._start_lock:
            if self._executor is executor:
                self._executor = None
                log.error("classifier worker died; starting a new pool on the next frame")
        executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        async with self._start_lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
