"""``palaver serve --workers N`` as a real process tree, and which worker holds which connection.

The supervisor runs with PostgreSQL (a database of the test's own) and Redis (a key prefix of the
test's own). Worker processes are found as the supervisor's children; the worker serving a
TCP connection is found from ``/proc`` (the process holding the server side of that connection).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from tests.support.live_server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
NODE_BASE = 40  # workers get node ids 40, 41, …


@dataclass(frozen=True)
class Cluster:
    http_url: str
    gateway_url: str
    gateway_port: int
    process: subprocess.Popen[bytes]  # the supervisor
    log_path: Path
    workers: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> dict[int, int]:
        """Worker index → pid of the supervisor's running workers."""
        found: dict[int, int] = {}
        for pid in children(self.process.pid):
            index = environ_of(pid).get("PALAVER_WORKER_INDEX")
            if index is not None:
                found[int(index)] = pid
        return found

    def nodes_answering(self, tries: int = 40) -> set[int]:
        """Node ids of the workers that answered ``/healthz`` within ``tries`` requests (new
        connections each, so the kernel spreads them over the workers)."""
        nodes: set[int] = set()
        for _ in range(tries):
            try:
                response = httpx.get(f"{self.http_url}/healthz", timeout=2.0)
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                nodes.add(int(response.headers["x-palaver-node"]))
            if len(nodes) == self.workers:
                break
        return nodes

    def wait_all_workers(self, timeout: float = 30.0) -> dict[int, int]:
        """Wait until every worker runs and answers; returns index → pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the supervisor exited with {self.process.returncode}:\n{self.log()}")
            if "Address already in use" in self.log():
                raise PortTaken(self.log())
            pids = self.worker_pids()
            if len(pids) == self.workers and len(self.nodes_answering(8)) == self.workers:
                return pids
            time.sleep(0.1)
        raise RuntimeError(f"the workers did not all answer within {timeout} s:\n{self.log()}")


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (zombies left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _hex_endpoint(port: int) -> str:
    return f"0100007F:{port:04X}"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian)


def connection_owner(server_port: int, client_port: int, candidates: dict[int, int]) -> int | None:
    """The index (in ``candidates``: index → pid) of the worker holding the server side of the
    loopback TCP connection ``client_port`` → ``server_port``; None when none does."""
    local, remote = _hex_endpoint(server_port), _hex_endpoint(client_port)
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == local and parts[2] == remote:
            inodes.add(f"socket:[{parts[9]}]")
    for index, pid in candidates.items():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return index
            except OSError:
                continue
    return None


def _clear_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class PortTaken(RuntimeError):
    """Another test bound one of the ports free_port() found before the workers could."""


PORT_ATTEMPTS = 3


@contextmanager
def cluster(data_dir: Path, database_url: str, *, workers: int = 2, timeout: float = 30.0) -> Iterator[Cluster]:
    """``palaver serve --workers N`` on free ports (fresh ones if another test took them first);
    stopped with SIGTERM (then SIGKILL) afterwards."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            with _cluster(data_dir, database_url, workers=workers, timeout=timeout) as running:
                yield running
                return
        except PortTaken:
            if attempt == PORT_ATTEMPTS:
                raise


@contextmanager
def _cluster(data_dir: Path, database_url: str, *, workers: int, timeout: float) -> Iterator[Cluster]:
    http_port, gateway_port = free_port(), free_port()
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = os.environ | {
        "PALAVER_DATA_DIR": str(data_dir),
        "PALAVER_DATABASE_URL": database_url,
        "PALAVER_REDIS_URL": REDIS_URL,
        "PALAVER_REDIS_PREFIX": prefix,
        "PALAVER_NODE_ID": str(NODE_BASE),
        "PALAVER_HOST": "127.0.0.1",
        "PALAVER_HTTP_PORT": str(http_port),
        "PALAVER_GATEWAY_PORT": str(gateway_port),
        "PALAVER_LOG_LEVEL": "warning",
        "PALAVER_CLASSIFIER": "off",
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "supervisor.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "palaver", "serve", "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Cluster(
        http_url=f"http://127.0.0.1:{http_port}",
        gateway_url=f"ws://127.0.0.1:{gateway_port}",
        gateway_port=gateway_port,
        process=process,
        log_path=log_path,
        workers=workers,
    )
    try:
        running.wait_all_workers(timeout)
        yield running
    finally:
        pids = running.worker_pids().values()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in pids:  # normally gone already (stopped, or killed with the supervisor)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _clear_redis(prefix)
