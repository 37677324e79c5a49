"""Bare picows server: the ceiling for the gateway benchmarks.

Echo mode (default): echoes every text/binary frame back unchanged, answers pings. No JSON, no
routing. Fan-out mode (``--fanout-bytes N``): answers each connection's first text frame with
``{"type":"ready"}`` and then pushes one N-byte text frame to every such connection, round after
round, as fast as it can (the bare equivalent of a channel post delivered to every subscriber); a
round starts when ``--fanout-clients`` connections are in, pauses while any send buffer is full,
and carries its start time (``time.monotonic_ns``) in the field ``"text"`` (see
:func:`fanout_frame`), for ``wsload -l -T text``.

Run: python bench/servers/bare_picows.py --port 9001 [--fanout-bytes 400 --fanout-clients 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

READY = b'{"type":"ready"}'


def fanout_frame(size: int, now_ns: int) -> bytes:
    """A JSON text frame of exactly ``size`` bytes (at least 48) carrying ``now_ns``."""
    head = b'{"type":"event","text":"%d","pad":"' % now_ns
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


class EchoListener(WSListener):  # type: ignore[misc]
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is WSMsgType.TEXT or msg_type is WSMsgType.BINARY:
            transport.send(msg_type, frame.get_payload_as_memoryview())
        elif msg_type is WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


class Fanout:
    """The connections that asked for frames, and the pump that sends them."""

    def __init__(self, size: int, start_after: int) -> None:
        self.size = size
        self.start_after = start_after
        self.clients: set[WSTransport] = set()
        self.paused = 0
        self.writable = asyncio.Event()
        self.writable.set()
        self.enough = asyncio.Event()  # set once start_after connections are in

    def join(self, transport: WSTransport) -> None:
        self.clients.add(transport)
        if len(self.clients) >= self.start_after:
            self.enough.set()

    async def pump(self) -> None:
        text = WSMsgType.TEXT
        while True:
            if not self.clients:  # idle until start_after connections are in again
                self.enough.clear()
                await self.enough.wait()
            if self.paused:
                await self.writable.wait()
            frame = fanout_frame(self.size, time.monotonic_ns())
            for transport in tuple(self.clients):
                transport.send(text, frame)
            await asyncio.sleep(0)  # let the loop flush and read


class FanoutListener(EchoListener):
    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self.transport: WSTransport | None = None
        self.is_paused = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        transport.underlying_transport.set_write_buffer_limits(high=1024 * 1024)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            if transport not in self.fanout.clients:
                transport.send(WSMsgType.TEXT, READY)
                self.fanout.join(transport)
            return
        super().on_ws_frame(transport, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.fanout.clients.discard(transport)
        if self.is_paused:
            self.resume_writing()

    def pause_writing(self) -> None:
        if not self.is_paused:
            self.is_paused = True
            self.fanout.paused += 1
            self.fanout.writable.clear()

    def resume_writing(self) -> None:
        if self.is_paused:
            self.is_paused = False
            self.fanout.paused -= 1
            if not self.fanout.paused:
                self.fanout.writable.set()


async def main(host: str, port: int, fanout_bytes: int, fanout_clients: int) -> None:
    if fanout_bytes:
        fanout = Fanout(fanout_bytes, fanout_clients)

        def listener_factory(_request: WSUpgradeRequest) -> WSListener:
            return FanoutListener(fanout)

        pump = asyncio.create_task(fanout.pump())
    else:

        def listener_factory(_request: WSUpgradeRequest) -> WSListener:
            return EchoListener()

    server = await ws_create_server(listener_factory, host, port, backlog=4096)
    async with server:
        await server.serve_forever()
    if fanout_bytes:
        pump.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fanout-bytes", type=int, default=0, help="fan-out mode: push frames of this size")
    parser.add_argument("--fanout-clients", type=int, default=1, help="fan-out mode: start once this many are in")
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port, args.fanout_bytes, args.fanout_clients))
