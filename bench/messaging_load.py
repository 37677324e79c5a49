"""The load-client processes of bench/messaging.py: each runs one asyncio loop (uvloop) with picows
gateway connections (and keep-alive HTTP connections when sends go over HTTP), takes commands from
the orchestrator over a pipe, and reports what it saw in each scenario's measured window.

Sends are stamped with their (scheduled) send time, ``time.monotonic_ns`` — one clock for every
process — and the sender's index: ``"<ns> <index>"`` is the message text. A receiver parses those
out of the ``update`` event frame without decoding the JSON and records send → delivery latency.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import json
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from picows import WSListener, WSMsgType, ws_connect

HOST = "127.0.0.1"
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


@dataclass
class Scenario:
    name: str
    loop: str  # "closed" or "open"
    group: bool
    rate: float = 0.0  # open loop: msg/s over all processes
    inflight: int = 1  # closed loop: per sender


@dataclass
class ConnSpec:
    index: int
    token: str
    chat_id: str  # the private chat with the partner
    group_chat: str | None  # the group, for its members


@dataclass
class Tally:
    """What one client process saw in one scenario's measured window."""

    sent: int = 0
    acked: int = 0
    errors: int = 0
    rate_limited: int = 0
    delivered: int = 0  # updates from others received in the window
    latencies_us: array.array[int] = field(default_factory=lambda: array.array("q"))
    error_samples: list[str] = field(default_factory=list)


def client_main(
    specs: list[ConnSpec], gateway_port: int, http_port: int, via: str, cpu: int | None, pipe: Connection
) -> None:
    """A load-client process: one asyncio loop (uvloop), picows connections, commands from ``pipe``."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    import uvloop

    uvloop.run(LoadClient(specs, gateway_port, http_port, via, pipe).main())


class LoadClient:
    def __init__(self, specs: list[ConnSpec], gateway_port: int, http_port: int, via: str, pipe: Connection) -> None:
        self.specs = specs
        self.gateway_port = gateway_port
        self.http_port = http_port
        self.via = via
        self.pipe = pipe
        self.conns: list[Any] = []
        self.tally = Tally()
        self.window = (0, 0)  # measured window [start, end) in monotonic ns
        self.measure_until = 0  # open loop: deliveries of window messages are awaited until then
        self.scenario: Scenario | None = None
        self.http: HttpPool | None = None

    async def main(self) -> None:
        await self.connect_all()
        if self.via == "auto":
            self.via = await self.probe()
        if self.via == "http":
            self.http = HttpPool(self.http_port, size=min(64, len(self.specs)))
        keepalive = asyncio.create_task(self.keepalive())
        self.pipe.send({"ready": len(self.conns), "via": self.via})
        while True:
            command = await asyncio.to_thread(self.pipe.recv)
            if command["cmd"] == "quit":
                break
            result = await self.run(command)
            self.pipe.send(result)
        keepalive.cancel()
        for conn in self.conns:
            conn.close()

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(50)
        url = f"ws://{HOST}:{self.gateway_port}/"

        async def one(spec: ConnSpec) -> Any:
            async with gate:
                _, listener = await ws_connect(lambda: GatewayConn(self, spec), url, max_frame_size=1 << 20)
                await asyncio.wait_for(listener.ready, 30)
                return listener

        self.conns = list(await asyncio.gather(*(one(spec) for spec in self.specs)))

    async def keepalive(self) -> None:
        """The gateway closes connections silent for 2 × heartbeat (25 s by default)."""
        while True:
            await asyncio.sleep(10)
            for conn in self.conns:
                conn.send_raw(b'{"type":"ping"}')

    async def probe(self) -> str:
        reply = await self.conns[0].request("messages.send", {})
        return "http" if b"unknown_method" in reply else "gateway"

    # ------------------------------------------------------------------ a scenario

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        scenario: Scenario = command["scenario"]
        self.scenario = scenario
        self.tally = Tally()
        start, warmup, seconds, drain = command["start"], command["warmup"], command["seconds"], command["drain"]
        window_start = start + int(warmup * 1e9)
        window_end = window_start + int(seconds * 1e9)
        self.window = (window_start, window_end)
        self.measure_until = window_end + int(drain * 1e9)
        senders = [c for c in self.conns if c.spec.group_chat] if scenario.group else list(self.conns)
        await asyncio.sleep(max(0.0, (start - time.monotonic_ns()) / 1e9))
        cpu_task = asyncio.create_task(self.cpu_over_window(window_start, window_end))
        if senders:
            if scenario.loop == "closed":
                await asyncio.gather(
                    *(self.closed_sender(c, window_end) for c in senders for _ in range(scenario.inflight))
                )
            else:
                await self.open_sender(senders, command["rate_share"], start, window_end)
        cpu = await cpu_task
        await asyncio.sleep(max(0.0, (self.measure_until - time.monotonic_ns()) / 1e9))
        t = self.tally
        return {
            "sent": t.sent,
            "acked": t.acked,
            "errors": t.errors,
            "rate_limited": t.rate_limited,
            "error_samples": t.error_samples[:3],
            "delivered": t.delivered,
            "latencies": t.latencies_us.tobytes(),
            "cpu_s": cpu,
        }

    async def cpu_over_window(self, start: int, end: int) -> float:
        await asyncio.sleep(max(0.0, (start - time.monotonic_ns()) / 1e9))
        before = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(max(0.0, (end - time.monotonic_ns()) / 1e9))
        after = resource.getrusage(resource.RUSAGE_SELF)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    def chat_of(self, conn: GatewayConn) -> str:
        assert self.scenario is not None
        return (conn.spec.group_chat or "") if self.scenario.group else conn.spec.chat_id

    async def send(self, conn: GatewayConn, at_ns: int, *, wait: bool) -> str | None:
        """Send one message stamped ``at_ns``; with ``wait``, its error code once answered (None: ok)."""
        text = f"{at_ns} {conn.spec.index}"
        chat_id = self.chat_of(conn)
        in_window = self.window[0] <= at_ns < self.window[1]
        if in_window:
            self.tally.sent += 1
        if self.http is not None:
            task = self.http.post(f"/api/v1/chats/{chat_id}/messages", {"text": text}, conn.spec.token)
            if wait:
                return self.acked(await task, in_window)
            asyncio.ensure_future(task).add_done_callback(lambda f: self.acked(f.result(), in_window))
            return None
        reply = conn.request("messages.send", {"chat_id": chat_id, "text": text})
        if wait:
            return self.acked(await reply, in_window)
        reply.add_done_callback(lambda f: self.acked(f.result(), in_window))
        return None

    def acked(self, reply: bytes, in_window: bool) -> str | None:
        if reply.startswith(b'{"type":"res"') or reply.startswith(b"HTTP/1.1 2"):
            if in_window:
                self.tally.acked += 1
            return None
        code = "rate_limited" if b"rate_limited" in reply or reply.startswith(b"HTTP/1.1 429") else "error"
        if in_window:
            self.tally.acked += 1
            self.tally.errors += 1
            if code == "rate_limited":
                self.tally.rate_limited += 1
            if len(self.tally.error_samples) < 3:
                self.tally.error_samples.append(reply[:200].decode(errors="replace"))
        return code

    async def closed_sender(self, conn: GatewayConn, until: int) -> None:
        while (now := time.monotonic_ns()) < until:
            if await self.send(conn, now, wait=True) == "rate_limited":
                await asyncio.sleep(0.05)  # over the gateway's per-connection frame rate: back off

    async def open_sender(self, senders: list[GatewayConn], rate: float, start: int, until: int) -> None:
        """Sends at fixed times (``rate`` per second from ``start``), round-robin over ``senders``,
        each stamped with its scheduled time: a late send shows as latency (no coordinated omission)."""
        interval = 1e9 / rate
        n = 0
        while True:
            due = start + int(n * interval)
            if due >= until:
                return
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            await self.send(senders[n % len(senders)], due, wait=False)
            n += 1

    def on_delivery(self, conn: GatewayConn, sent_ns: int, sender: int, received_ns: int) -> None:
        if sender == conn.spec.index:
            return  # the sender's own copy of its message
        start, end = self.window
        if self.scenario is not None and self.scenario.loop == "open":
            if start <= sent_ns < end and received_ns < self.measure_until:
                self.tally.latencies_us.append((received_ns - sent_ns) // 1000)
            if start <= received_ns < end:
                self.tally.delivered += 1
        elif start <= received_ns < end:
            self.tally.delivered += 1
            self.tally.latencies_us.append((received_ns - sent_ns) // 1000)


class GatewayConn(WSListener):  # type: ignore[misc]
    """One user's gateway connection: authenticates, matches replies to requests, spots deliveries."""

    def __init__(self, client: LoadClient, spec: ConnSpec) -> None:
        super().__init__()
        self.client = client
        self.spec = spec
        self.transport: Any = None
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[bytes]] = {}

    def on_ws_connected(self, transport: Any) -> None:
        self.transport = transport
        self.send_raw(json.dumps({"type": "auth", "token": self.spec.token}).encode())

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.send(WSMsgType.TEXT, data)

    def request(self, method: str, params: dict[str, Any]) -> asyncio.Future[bytes]:
        self.next_id += 1
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        frame = {"type": "req", "id": self.next_id, "method": method, "params": params}
        self.send_raw(json.dumps(frame, separators=(",", ":")).encode())
        return future

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.disconnect()
            return
        data = frame.get_payload_as_bytes()
        if data.startswith(b'{"type":"event"'):
            at = data.find(b'"text":"')
            if at < 0:
                return
            at += 8
            space = data.index(b" ", at)
            quote = data.index(b'"', space)
            self.client.on_delivery(self, int(data[at:space]), int(data[space + 1 : quote]), time.monotonic_ns())
        elif data.startswith(b'{"type":"res"') or data.startswith(b'{"type":"err"'):
            at = data.find(b'"id":')
            if at < 0:
                return
            end = at + 5
            while end < len(data) and data[end : end + 1].isdigit():
                end += 1
            future = self.waiting.pop(int(data[at + 5 : end]), None)
            if future is not None and not future.done():
                future.set_result(data)
        elif data.startswith(b'{"type":"ready"') and not self.ready.done():
            self.ready.set_result(True)

    def on_ws_disconnected(self, transport: Any) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))
        for future in self.waiting.values():
            if not future.done():
                future.set_result(b'{"type":"err","code":"disconnected"}')
        self.waiting.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.send_close()
            self.transport.disconnect()


class _HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time (enough for a fixed JSON POST)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.reply: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.reply is None:
            return
        head = self.buffer[:head_end].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) if at >= 0 else 0
        total = head_end + 4 + length
        if len(self.buffer) >= total:
            reply, self.buffer = self.buffer[:total], self.buffer[total:]
            future, self.reply = self.reply, None
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(b"HTTP/1.1 599 connection lost\r\n\r\n")


class HttpPool:
    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        self.free: asyncio.Queue[_HttpConn] | None = None

    async def _fill(self) -> asyncio.Queue[_HttpConn]:
        free: asyncio.Queue[_HttpConn] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for _ in range(self.size):
            _, conn = await loop.create_connection(_HttpConn, HOST, self.port)
            free.put_nowait(conn)
        return free

    async def post(self, path: str, body: dict[str, Any], token: str) -> bytes:
        if self.free is None:
            self.free = await self._fill()
        conn = await self.free.get()
        try:
            payload = json.dumps(body).encode()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode() + payload
            conn.reply = asyncio.get_running_loop().create_future()
            assert conn.transport is not None
            conn.transport.write(request)
            return await conn.reply
        finally:
            self.free.put_nowait(conn)
