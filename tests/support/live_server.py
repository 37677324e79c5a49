"""A real ``palaver serve`` process on free ports, for integration and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class LiveServer:
    http_url: str
    gateway_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


PORT_ATTEMPTS = 3  # free_port() only finds a port free now; another test may take it before we bind


@contextmanager
def live_server(
    data_dir: Path, *, extra_env: dict[str, str] | None = None, timeout: float = 30.0
) -> Iterator[LiveServer]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    for attempt in range(1, PORT_ATTEMPTS + 1):
        server = _start(data_dir, log_path, extra_env)
        try:
            _wait_ready(server, timeout, log_path)
            break
        except RuntimeError as exc:
            _stop(server.process)
            if attempt == PORT_ATTEMPTS or "Address already in use" not in str(exc):
                raise
    try:
        yield server
    finally:
        _stop(server.process)


def _start(data_dir: Path, log_path: Path, extra_env: dict[str, str] | None) -> LiveServer:
    http_port, gateway_port = free_port(), free_port()
    env = (
        os.environ
        | {
            "PALAVER_DATA_DIR": str(data_dir),
            "PALAVER_HOST": "127.0.0.1",
            "PALAVER_HTTP_PORT": str(http_port),
            "PALAVER_GATEWAY_PORT": str(gateway_port),
            "PALAVER_LOG_LEVEL": "warning",
        }
        | (extra_env or {})
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "palaver", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return LiveServer(
        http_url=f"http://127.0.0.1:{http_port}",
        gateway_url=f"ws://127.0.0.1:{gateway_port}",
        data_dir=data_dir,
        process=process,
        env=env,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(server: LiveServer, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"palaver serve exited with {server.process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{server.http_url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"palaver serve was not ready within {timeout} s:\n{log_path.read_text()}")
