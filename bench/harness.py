"""Shared harness for the WebSocket benchmarks in bench/: the C tools, server processes, the load
client, and CPU accounting on a shared machine.

Servers run pinned to one CPU and the load client (bench/loadclient/wsload.c) to another; every
child gets SIGTERM if the benchmark dies, so nothing outlives a run. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = BENCH_DIR / "build"
WSLOAD_SRC = BENCH_DIR / "loadclient" / "wsload.c"
WSLOAD_BIN = BUILD_DIR / "wsload"
C_ECHO_SRC = BENCH_DIR / "servers" / "c_echo.c"
C_ECHO_BIN = BUILD_DIR / "c_echo"
VENV_BIN = Path(sys.executable).parent

HOST = "127.0.0.1"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
QUIET_PCT = 10.0  # a run is "quiet" when other processes used at most this much of a core
# A request the gateway's `echo` method answers; also used to check a fresh gateway works.
ECHO_REQUEST_TEMPLATE = '{"type":"req","id":{id},"method":"echo","params":{"text":"hello world"}}'


# --------------------------------------------------------------------------- processes


def build_c(src: Path, binary: Path) -> Path:
    """Compile a C helper with ``cc -O2`` unless the binary is newer than its source. Compiles to a
    temporary name and renames, so benchmarks starting side by side never run a half-written binary."""
    if binary.exists() and binary.stat().st_mtime >= src.stat().st_mtime:
        return binary
    BUILD_DIR.mkdir(exist_ok=True)
    tmp = binary.with_name(f".{binary.name}.{os.getpid()}")
    cc = os.environ.get("CC", "cc")
    try:
        subprocess.run([cc, "-O2", "-Wall", "-o", str(tmp), str(src)], check=True)
        tmp.replace(binary)
    finally:
        tmp.unlink(missing_ok=True)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def child_setup(cpu: int | None) -> Callable[[], None]:
    """Runs in the child between fork and exec: pin it to ``cpu`` and make it get SIGTERM when this
    script dies, so no server outlives a killed benchmark."""

    def setup() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {HOST}:{port} after {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGINT, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Target:
    """A running server under test and what the load client has to send to it."""

    name: str
    pid: int
    port: int
    auth_frame: str | None = None
    expect: str | None = None
    origin: str | None = None
    path: str = "/"


# --------------------------------------------------------------------------- servers


@contextlib.contextmanager
def bare_server(name: str, command: list[str], cpu: int | None, log_dir: Path) -> Iterator[Target]:
    port = free_port()
    with (log_dir / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup(cpu),
        )
        try:
            wait_for_port(port, proc)
            yield Target(name=name, pid=proc.pid, port=port)
        finally:
            stop(proc)


def palaver_command(*args: str) -> list[str]:
    exe = VENV_BIN / "palaver"
    if exe.exists():
        return [str(exe), *args]
    return [sys.executable, "-m", "palaver.cli", *args]


@dataclass
class Palaver:
    """A running ``palaver serve``."""

    proc: subprocess.Popen[bytes]
    http_port: int
    gateway_port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.http_port}"


def palaver_env(data_dir: Path, http_port: int, gateway_port: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmark server: this one's, minus any database/broker settings (SQLite in
    ``data_dir`` and the memory broker unless ``settings`` name others), plus ``settings``
    (``PALAVER_`` + the upper-cased key)."""
    env = {
        **os.environ,
        "PALAVER_DATA_DIR": str(data_dir),
        "PALAVER_HOST": HOST,
        "PALAVER_HTTP_PORT": str(http_port),
        "PALAVER_GATEWAY_PORT": str(gateway_port),
    }
    for name in ("PALAVER_DATABASE_URL", "PALAVER_REDIS_URL", "PALAVER_BROKER"):
        env.pop(name, None)
    env.update({f"PALAVER_{key.upper()}": value for key, value in settings.items()})
    return env


@contextlib.contextmanager
def palaver_process(
    data_dir: Path,
    cpu: int | None,
    log: Path,
    *,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    stop_timeout: float = 10.0,
    **settings: str,
) -> Iterator[Palaver]:
    """``palaver serve`` on ``data_dir`` (which the caller owns), pinned to ``cpu``; stopped on exit.
    ``settings`` become ``PALAVER_*`` variables (see :func:`palaver_env`); ``env`` replaces the
    whole environment instead."""
    http_port, gateway_port = free_port(), free_port()
    environment = env if env is not None else palaver_env(data_dir, http_port, gateway_port, **settings)
    environment = {**environment, "PALAVER_HTTP_PORT": str(http_port), "PALAVER_GATEWAY_PORT": str(gateway_port)}
    with log.open("ab") as out:
        proc = subprocess.Popen(  # `palaver serve` applies the migrations before it listens
            palaver_command("serve", *args),
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup(cpu),
        )
        try:
            wait_for_port(http_port, proc)
            wait_for_port(gateway_port, proc)
            yield Palaver(proc, http_port, gateway_port, log)
        finally:
            stop(proc, stop_timeout)


def http_json(url: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    """POST ``body`` as JSON (with a bearer ``token``); the JSON reply."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
    return result


def check_gateway(port: int, origin: str, auth: str) -> str:
    """One authenticated echo over a plain Python client, so a protocol mismatch fails loudly."""
    from websockets.sync.client import connect

    with connect(f"ws://{HOST}:{port}/", origin=origin, open_timeout=10, compression=None) as ws:  # type: ignore[arg-type]
        ws.send(auth)
        ready = json.loads(ws.recv(timeout=10))
        if ready.get("type") != "ready":
            raise RuntimeError(f"gateway auth failed: {ready}")
        ws.send(ECHO_REQUEST_TEMPLATE.replace("{id}", "1"))
        for _ in range(10):
            reply = json.loads(ws.recv(timeout=10))
            if reply.get("type") == "res" and reply.get("id") == 1:
                break
        else:
            raise RuntimeError("no res frame for the echo request")
        if "result" not in reply:
            raise RuntimeError(f"gateway echo failed: {reply}")
        return json.dumps(reply, separators=(",", ":"))


# The per-connection message rate limit is still evaluated on every frame, but set high enough never
# to trigger: the benchmarks measure the gateway's cost, not the limiter's policy.
UNLIMITED_RATE = {"gateway_rate_per_second": "1000000000", "gateway_rate_burst": "1000000000"}


def auth_frame(token: str) -> str:
    return json.dumps({"type": "auth", "token": token}, separators=(",", ":"))


@contextlib.contextmanager
def gateway_server(cpu: int | None, log_dir: Path) -> Iterator[Target]:
    data_dir = Path(tempfile.mkdtemp(prefix="palaver-bench-"))
    try:
        with palaver_process(data_dir, cpu, log_dir / "gateway.log", **UNLIMITED_RATE) as server:
            origin = server.origin
            session = http_json(f"{origin}/api/v1/auth/guest", {})
            token = session.get("session_token")
            if not isinstance(token, str):
                raise RuntimeError(f"no session_token in /api/v1/auth/guest reply: {session}")
            auth = auth_frame(token)
            sample = check_gateway(server.gateway_port, origin, auth)
            print(f"gateway sample reply: {sample}", file=sys.stderr)
            yield Target(
                name="gateway",
                pid=server.proc.pid,
                port=server.gateway_port,
                auth_frame=auth,
                expect='"type":"res"',
                origin=origin,
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- PostgreSQL


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_backend_pids(database: str) -> list[int]:
    """The server processes of the PostgreSQL sessions on ``database``."""
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


@contextlib.contextmanager
def pg_database(prefix: str = "palaver_bench") -> Iterator[str]:
    """A throw-away PostgreSQL database (its name), dropped on exit."""
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{database}"'))
    try:
        yield database
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


# --------------------------------------------------------------------------- load client


def wsload_command(
    target: Target, conns: int, *, seconds: float, warmup: float, extra: Sequence[str] = ()
) -> list[str]:
    cmd = [
        str(build_c(WSLOAD_SRC, WSLOAD_BIN)),
        "-h", HOST,
        "-p", str(target.port),
        "-u", target.path,
        "-c", str(conns),
        "-d", str(seconds),
        "-w", str(warmup),
        "-S", str(target.pid),
    ]  # fmt: skip
    if target.auth_frame:
        cmd += ["-a", target.auth_frame]
    if target.expect:
        cmd += ["-e", target.expect]
    if target.origin:
        cmd += ["-O", target.origin]
    return [*cmd, *extra]


def run_wsload(
    target: Target,
    conns: int,
    *,
    seconds: float,
    warmup: float,
    cpu: int | None,
    extra: Sequence[str] = (),
) -> dict[str, float]:
    """Run the C load client once against ``target``; returns its JSON result line.
    ``extra`` holds further wsload options (``-k``, ``-m``, ``-l`` ...)."""
    with WsloadRun(target, conns, seconds=seconds, warmup=warmup, cpu=cpu, extra=extra) as run:
        return run.result()


class WsloadRun:
    """The C load client running in the background. ``go`` is set when every connection is made
    (the measured window starts ``warmup`` seconds later); ``result()`` waits for its JSON line."""

    def __init__(
        self,
        target: Target,
        conns: int,
        *,
        seconds: float,
        warmup: float,
        cpu: int | None,
        extra: Sequence[str] = (),
        connect_timeout: float = 60.0,
    ) -> None:
        cmd = wsload_command(target, conns, seconds=seconds, warmup=warmup, extra=["-C", str(connect_timeout), *extra])
        self.timeout = connect_timeout + seconds + warmup + 60  # wsload gives up 30 s after its own schedule
        self.go = threading.Event()
        self.ready = 0  # connections made, once ``go`` is set
        self._stderr: list[str] = []
        self._proc = subprocess.Popen(
            [str(build_c(WSLOAD_SRC, WSLOAD_BIN)), *cmd[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=child_setup(cpu),
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            if line.startswith("wsload: go "):
                self.ready = int(line.split()[2])
                self.go.set()
            else:
                self._stderr.append(line)
        self.go.set()  # it ended: nobody waits for a go that never comes

    def result(self) -> dict[str, float]:
        out, _ = self._proc.communicate(timeout=self.timeout)
        self._reader.join(timeout=5)
        errors = "".join(self._stderr).strip()
        if errors:
            print(errors, file=sys.stderr)
        if self._proc.returncode != 0 or not out.strip():
            raise RuntimeError(f"wsload failed ({self._proc.returncode}): {out} {errors[-2000:]}")
        result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
        return result

    def __enter__(self) -> WsloadRun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)


# --------------------------------------------------------------------------- CPU accounting


def other_load_pct(r: dict[str, float]) -> float:
    """CPU used by everything but the server and the client during the window (% of one core)."""
    if r.get("machine_busy_pct", -1) < 0 or r.get("server_cpu_pct", -1) < 0:
        return float("inf")  # unknown
    return max(0.0, r["machine_busy_pct"] - r["cpu_pct"] - r["server_cpu_pct"])


def other_load(r: dict[str, float]) -> str:
    value = other_load_pct(r)
    return "?" if value == float("inf") else f"{value:.0f}%"


def efficiency(r: dict[str, float]) -> float | None:
    """Round trips per CPU-second of the server: steadier than msg/s when other work shares the core."""
    if r.get("server_cpu_pct", -1) <= 0:
        return None
    return r["rate"] / (r["server_cpu_pct"] / 100.0)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat; 0 when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS of /proc/<pid>/status); 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def busy_seconds() -> float:
    """CPU-seconds all CPUs spent busy since boot (aggregate ``cpu`` line of /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(max_wait: float, threshold: float = 0.10) -> float:
    """Wait (at most ``max_wait`` s) until the machine is idle — less than ``threshold`` of one core busy
    over half a second — so a cell does not start in the middle of someone else's test run.
    Returns the busy fraction last seen."""
    deadline = time.monotonic() + max_wait
    while True:
        before = busy_seconds()
        time.sleep(0.5)
        busy = (busy_seconds() - before) / 0.5
        if busy < threshold or time.monotonic() >= deadline:
            return busy


R = TypeVar("R")


def round_robin(
    cells: Mapping[str, Callable[[], R]], *, repeat: int, quiet_wait: float
) -> tuple[dict[str, list[R]], list[str]]:
    """Run every cell ``repeat`` times, one round after another (so a burst of background load hits
    every cell, not one), each run after waiting for a quiet machine. A failed run is reported and
    skipped. Returns the runs per cell and the failures."""
    rows: dict[str, list[R]] = {name: [] for name in cells}
    failures: list[str] = []
    for round_no in range(repeat):
        for name, cell in cells.items():
            if quiet_wait > 0:
                wait_until_quiet(quiet_wait)
            try:
                run = cell()
            except Exception as exc:
                failures.append(f"{name}: {exc!r}")
                print(f"{name} FAILED: {exc!r}", file=sys.stderr)
                continue
            rows[name].append(run)
            print(f"[{round_no + 1}/{repeat}] {name}: {json.dumps(vars(run))}", file=sys.stderr)
    return rows, failures


def finish(report: str, rows: Mapping[str, Sequence[Any]], failures: Sequence[str], json_path: Path | None) -> int:
    """Print the report and the failures, write every run to ``json_path`` if given; the exit code."""
    print(report)
    for failure in failures:
        print(f"FAILED {failure}")
    if json_path:
        json_path.write_text(json.dumps({k: [vars(r) for r in v] for k, v in rows.items()}, indent=2))
    return 1 if failures else 0


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}"


def set_nice(nice: int) -> int:
    """Run this process (and so the servers and clients it starts) at ``nice``; returns the value
    in effect (0 when not allowed)."""
    if not nice:
        return 0
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        print(f"warning: not allowed to set nice {nice}; running at normal priority", file=sys.stderr)
        return 0
    return nice


def pinning(server_cpu: int, client_cpu: int, nice: int) -> tuple[int | None, int | None, int]:
    """The usual start of a benchmark: the CPUs to pin server and client to (see :func:`pick_cpus`)
    and the nice value in effect (see :func:`set_nice`)."""
    server, client = pick_cpus(server_cpu, client_cpu)
    return server, client, set_nice(nice)


def add_machine_options(parser: argparse.ArgumentParser, *, quiet_wait: float = 20.0, nice: int = -10) -> None:
    """The options every benchmark has: the quiet-run wait, nice value and the two CPUs."""
    parser.add_argument(
        "--quiet-wait", type=float, default=quiet_wait, help=f"wait up to S s for an idle machine ({quiet_wait:g})"
    )
    parser.add_argument("--nice", type=int, default=nice, help=f"nice of server and clients ({nice})")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU of the server (0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU of the load client (1)")


def run_header(nice: int) -> str:
    """When and where a benchmark ran, for the first line of its report."""
    return f"{time.strftime('%Y-%m-%d %H:%M')} — {machine()}; python {sys.version.split()[0]}; nice {nice}"


def pick_cpus(server_cpu: int, client_cpu: int) -> tuple[int | None, int | None]:
    """The CPUs to pin to, or (None, None) with a warning when they are not two distinct usable CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if server_cpu not in cpus or client_cpu not in cpus or server_cpu == client_cpu:
        print(f"warning: cannot pin server/client to separate CPUs (have {cpus}); not pinning", file=sys.stderr)
        return None, None
    return server_cpu, client_cpu
