"""Shared harness for the WebSocket benchmarks in bench/: the C tools, server processes, the load
client, and CPU accounting on a shared machine.

Servers run pinned to one CPU and the load client (bench/loadclient/wsload.c) to another; every
child gets SIGTERM if the benchmark dies, so nothing outlives a run. Loopback only.
"""

from __future__ import annotations

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
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = BENCH_DIR / "build"
WSLOAD_SRC = BENCH_DIR / "loadclient" / "wsload.c"
WSLOAD_BIN = BUILD_DIR / "wsload"
C_ECHO_SRC = BENCH_DIR / "servers" / "c_echo.c"
C_ECHO_BIN = BUILD_DIR / "c_echo"
VENV_BIN = Path(sys.executable).parent

HOST = "127.0.0.1"
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


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
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


def http_json(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
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


@contextlib.contextmanager
def gateway_server(cpu: int | None, log_dir: Path) -> Iterator[Target]:
    data_dir = Path(tempfile.mkdtemp(prefix="palaver-bench-"))
    http_port, gateway_port = free_port(), free_port()
    env = {
        **os.environ,
        "PALAVER_DATA_DIR": str(data_dir),
        "PALAVER_HOST": HOST,
        "PALAVER_HTTP_PORT": str(http_port),
        "PALAVER_GATEWAY_PORT": str(gateway_port),
        # The per-connection message rate limit is still evaluated on every frame, but set high
        # enough never to trigger: the benchmark measures the gateway's cost, not the limiter's policy.
        "PALAVER_GATEWAY_RATE_PER_SECOND": "1000000000",
        "PALAVER_GATEWAY_RATE_BURST": "1000000000",
    }
    env.pop("PALAVER_DATABASE_URL", None)
    env.pop("PALAVER_REDIS_URL", None)
    try:
        with (log_dir / "gateway.log").open("wb") as log:
            proc = subprocess.Popen(  # `palaver serve` applies the migrations before it listens
                palaver_command("serve"),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=child_setup(cpu),
            )
            try:
                wait_for_port(http_port, proc)
                wait_for_port(gateway_port, proc)
                origin = f"http://{HOST}:{http_port}"
                session = http_json(f"{origin}/api/v1/auth/guest", {})
                token = session.get("session_token")
                if not isinstance(token, str):
                    raise RuntimeError(f"no session_token in /api/v1/auth/guest reply: {session}")
                auth = json.dumps({"type": "auth", "token": token}, separators=(",", ":"))
                sample = check_gateway(gateway_port, origin, auth)
                print(f"gateway sample reply: {sample}", file=sys.stderr)
                yield Target(
                    name="gateway",
                    pid=proc.pid,
                    port=gateway_port,
                    auth_frame=auth,
                    expect='"type":"res"',
                    origin=origin,
                )
            finally:
                stop(proc)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- load client


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
    cmd += list(extra)
    timeout = seconds + warmup + 90  # wsload itself gives up 30 s after its own schedule
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=child_setup(cpu))
    if proc.stderr.strip():
        print(proc.stderr.strip(), file=sys.stderr)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"wsload failed ({proc.returncode}): {proc.stdout} {proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


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


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}"


def pick_cpus(server_cpu: int, client_cpu: int) -> tuple[int | None, int | None]:
    """The CPUs to pin to, or (None, None) with a warning when they are not two distinct usable CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if server_cpu not in cpus or client_cpu not in cpus or server_cpu == client_cpu:
        print(f"warning: cannot pin server/client to separate CPUs (have {cpus}); not pinning", file=sys.stderr)
        return None, None
    return server_cpu, client_cpu
