"""``palaver serve --workers N``: one supervisor, N worker processes sharing the same ports.

The supervisor checks that the configuration can run in several processes (a Redis broker joins
them; a database they can all write to), applies the migrations once, then starts N ``palaver
serve --worker`` processes. Each worker binds the HTTP and gateway ports with ``SO_REUSEPORT`` (the
kernel spreads new connections over them) and gets its own snowflake node id (``node_id + index``),
so ids made by different workers never collide. A worker that dies is started again after a short
backoff; SIGTERM/SIGINT are forwarded to the workers, and the supervisor exits once they have.

Workers die with the supervisor (``PR_SET_PDEATHSIG``), so a supervisor killed with SIGKILL leaves
no orphans behind holding the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from palaver.config import Settings
from palaver.ids import MAX_NODE
from palaver.processes import die_with_parent

log = logging.getLogger("palaver.supervisor")

FIRST_RESTART_DELAY = 0.5  # seconds before restarting a worker that died
MAX_RESTART_DELAY = 10.0  # the backoff doubles while workers keep dying young, up to this
STABLE_SECONDS = 30.0  # a worker that ran this long starts the backoff afresh
STOP_TIMEOUT = 20.0  # after forwarding a stop signal, wait this long, then SIGKILL the rest


class WorkersRefused(Exception):
    """The configuration cannot run in several processes; the message says what to change."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    index: int
    env: dict[str, str]


def check_workers(settings: Settings, workers: int) -> None:
    """Raise ``WorkersRefused`` unless ``workers`` processes can share this configuration."""
    if workers < 1:
        raise WorkersRefused("--workers must be at least 1")
    if workers == 1:
        return
    if settings.resolved_broker() != "redis" or not settings.redis_url:
        raise WorkersRefused(
            "several workers need the Redis broker to reach each other's clients: "
            "set PALAVER_REDIS_URL (and leave PALAVER_BROKER unset or 'redis')"
        )
    if settings.node_id + workers - 1 > MAX_NODE:
        raise WorkersRefused(
            f"workers take node ids {settings.node_id}..{settings.node_id + workers - 1}; "
            f"node ids go up to {MAX_NODE}: lower PALAVER_NODE_ID or --workers"
        )
    if settings.http_port == 0 or settings.gateway_port == 0:
        raise WorkersRefused("several workers share fixed ports: set the HTTP and gateway ports (not 0)")
    url = make_url(settings.resolved_database_url())
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        raise WorkersRefused("an in-memory SQLite database cannot be shared by several workers")


def worker_specs(settings: Settings, workers: int, base_env: Mapping[str, str]) -> list[WorkerSpec]:
    """The environment of each worker: its index and node id, the Redis broker, the resolved ports."""
    common = dict(base_env) | {
        "PALAVER_WORKERS": str(workers),
        "PALAVER_BROKER": "redis",
        "PALAVER_HOST": settings.host,
        "PALAVER_HTTP_PORT": str(settings.http_port),
        "PALAVER_GATEWAY_PORT": str(settings.gateway_port),
        "PALAVER_DATA_DIR": str(settings.data_dir),
    }
    return [
        WorkerSpec(
            index,
            common | {"PALAVER_WORKER_INDEX": str(index), "PALAVER_NODE_ID": str(settings.node_id + index)},
        )
        for index in range(workers)
    ]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "palaver", "serve", "--worker", "--no-migrate"]


def restart_delay(previous: float, uptime: float) -> float:
    """How long to wait before restarting a worker that died after ``uptime`` seconds, when the
    previous wait was ``previous`` (0: none yet). Doubles while workers die young."""
    if uptime >= STABLE_SECONDS or previous <= 0:
        return FIRST_RESTART_DELAY
    return min(previous * 2, MAX_RESTART_DELAY)


def raise_open_file_limit() -> int:
    """Raise this process' soft RLIMIT_NOFILE to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            target = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            log.warning("could not raise the open-file limit from %d to %d", soft, target)
            return soft
        return target
    return soft


class Supervisor:
    """Starts the workers, restarts the ones that die, stops them all on SIGTERM/SIGINT."""

    def __init__(
        self,
        specs: Sequence[WorkerSpec],
        *,
        command: Sequence[str],
        monotonic: Callable[[], float] = time.monotonic,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self._specs = list(specs)
        self._command = list(command)
        self._monotonic = monotonic
        self._stop_timeout = stop_timeout
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._stopping: asyncio.Event | None = None
        self._signal = signal.SIGTERM
        self.restarts = 0

    def pids(self) -> dict[int, int]:
        """Worker index → pid of the worker processes running now."""
        return {i: p.pid for i, p in self._processes.items() if p.returncode is None}

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig)
        keepers = [asyncio.create_task(self._keep(spec), name=f"worker-{spec.index}") for spec in self._specs]
        try:
            await self._stopping.wait()
            self._forward(self._signal)
            _, pending = await asyncio.wait(keepers, timeout=self._stop_timeout)
            if pending:
                log.warning("workers still running %.0f s after the stop signal: killing them", self._stop_timeout)
                self._forward(signal.SIGKILL)
                await asyncio.wait(pending)
        finally:
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.warning("all workers stopped")
        return 0

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop every worker with ``sig``; a second call while stopping kills them."""
        assert self._stopping is not None
        if self._stopping.is_set():
            self._forward(signal.SIGKILL)
            return
        log.warning("received %s: stopping the workers", sig.name)
        self._signal = sig
        self._stopping.set()

    def _forward(self, sig: signal.Signals) -> None:
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)

    async def _keep(self, spec: WorkerSpec) -> None:
        """Run one worker until the supervisor stops, restarting it whenever it exits."""
        stopping = self._stopping
        assert stopping is not None
        delay = 0.0
        while not stopping.is_set():
            started = self._monotonic()
            process = await asyncio.create_subprocess_exec(*self._command, env=spec.env, preexec_fn=die_with_parent)
            self._processes[spec.index] = process
            log.warning("worker %d started (pid %d)", spec.index, process.pid)
            if stopping.is_set():  # stopped while it was starting
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(self._signal)
            code = await process.wait()
            if stopping.is_set():
                log.warning("worker %d (pid %d) exited with %s", spec.index, process.pid, code)
                return
            delay = restart_delay(delay, self._monotonic() - started)
            self.restarts += 1
            log.error(
                "worker %d (pid %d) died (exit %s) after %.1f s; restarting it in %.1f s",
                spec.index,
                process.pid,
                code,
                self._monotonic() - started,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)


def run_supervisor(settings: Settings, workers: int) -> int:
    """Run ``workers`` worker processes until SIGTERM/SIGINT (the migrations have been applied)."""
    specs = worker_specs(settings, workers, os.environ)
    if make_url(settings.resolved_database_url()).get_backend_name() == "sqlite":
        log.warning(
            "%d workers on one SQLite file: their writes take turns on its write lock (PostgreSQL scales)", workers
        )
    log.warning(
        "palaver supervising %d workers on http://%s:%d (gateway port %d)",
        workers,
        settings.host,
        settings.http_port,
        settings.gateway_port,
    )
    return asyncio.run(Supervisor(specs, command=worker_command()).run())
