"""A real coturn (``turnserver``) on loopback, for tests of TURN credentials and relayed calls.

Each instance has its own listening port (UDP and TCP, same number), its own relay port range, its
own secret and its own files in a private directory, so pytest-xdist workers never share one.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
REALM = "palaver.test"
# Relay ports come from below Linux's ephemeral range (32768–60999), so they never collide with the
# ports the kernel hands out; each instance takes a random block of RELAY_BLOCK ports.
RELAY_LOW, RELAY_HIGH, RELAY_BLOCK = 10_000, 32_000, 100
STUN_MAGIC_COOKIE = 0x2112A442


class PortTaken(RuntimeError):
    pass


@dataclass(frozen=True)
class Coturn:
    host: str
    port: int
    secret: str
    realm: str
    relay_ports: tuple[int, int]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def stun_urls(self) -> list[str]:
        return [f"stun:{self.host}:{self.port}"]

    @property
    def turn_urls(self) -> list[str]:
        return [
            f"turn:{self.host}:{self.port}?transport=udp",
            f"turn:{self.host}:{self.port}?transport=tcp",
        ]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def turnserver_path() -> str:
    path = shutil.which("turnserver") or "/usr/bin/turnserver"
    if not os.access(path, os.X_OK):
        raise RuntimeError("turnserver (coturn) is not installed: run scripts/install-system-deps.sh")
    return path


def free_udp_tcp_port(host: str = HOST) -> int:
    """A port that is free for both UDP and TCP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def _command(port: int, secret: str, relay: tuple[int, int], directory: Path) -> list[str]:
    return [
        turnserver_path(),
        "-n",  # no configuration file: only these options
        f"--listening-ip={HOST}",
        f"--relay-ip={HOST}",
        f"--listening-port={port}",
        f"--min-port={relay[0]}",
        f"--max-port={relay[1]}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--fingerprint",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--no-rfc5780",
        "--no-software-attribute",
        "--allow-loopback-peers",  # everything here is 127.0.0.1; coturn refuses loopback peers otherwise
        "--no-multicast-peers",
        "--relay-threads=1",
        f"--userdb={directory / 'turndb'}",
        f"--pidfile={directory / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
    ]


def _stun_binding_answers(address: tuple[str, int], timeout: float) -> bool:
    """True when a STUN Binding request over UDP gets a success response."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", 0x0001, 0, STUN_MAGIC_COOKIE) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, address)
            data, _ = sock.recvfrom(2048)
        except OSError:  # timeout, or ICMP port unreachable while coturn starts
            return False
    return len(data) >= 20 and data[0:2] == b"\x01\x01" and data[8:20] == transaction


def _tcp_accepts(address: tuple[str, int], timeout: float) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def _wait_ready(server: Coturn, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"turnserver exited with {server.process.returncode}:\n{server.log()}")
        if "Cannot bind" in server.log():  # someone took the port meanwhile; coturn would retry forever
            raise PortTaken(f"turnserver could not bind {server.address}")
        if _stun_binding_answers(server.address, 0.2) and _tcp_accepts(server.address, 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"turnserver did not answer on {server.address} within {timeout} s:\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(directory: Path, secret: str, timeout: float) -> Coturn:
    port = free_udp_tcp_port()
    low = random.randrange(RELAY_LOW, RELAY_HIGH - RELAY_BLOCK)
    relay = (low, low + RELAY_BLOCK - 1)
    log_path = directory / f"turnserver-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _command(port, secret, relay, directory),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
        )
    server = Coturn(HOST, port, secret, REALM, relay, log_path, process)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        _stop(process)
        raise
    return server


@contextmanager
def coturn(*, secret: str | None = None, timeout: float = 15.0, attempts: int = 3) -> Iterator[Coturn]:
    """Start ``turnserver`` on a free loopback port with ``use-auth-secret``; stop it at the end.

    Another process may take the free port before coturn binds it; then a new port is tried.
    """
    secret = secret or secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="palaver-coturn-") as name:
        directory = Path(name)
        for attempt in range(1, attempts + 1):
            try:
                server = _start(directory, secret, timeout)
            except PortTaken:
                if attempt == attempts:
                    raise
            else:
                break
        try:
            yield server
        finally:
            _stop(server.process)
