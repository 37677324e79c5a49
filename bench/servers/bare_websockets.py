"""Bare `websockets` server (asyncio implementation on uvloop): a second baseline.

Echo mode (default): echoes every message back. Fan-out mode (``--fanout-bytes N``): answers each
connection's first message with ``{"type":"ready"}``, then ``websockets.broadcast()`` sends one
N-byte frame to all of them, round after round, as fast as it can (the same frames as
``bare_picows.py --fanout-bytes``; ``broadcast`` skips a connection whose send buffer is full).
websockets answers pings itself. Compression off.

Run: python bench/servers/bare_websockets.py --port 9002 [--fanout-bytes 400 --fanout-clients 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop
from bare_picows import READY, fanout_frame
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed


async def echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


class Fanout:
    def __init__(self, size: int, start_after: int) -> None:
        self.size = size
        self.start_after = start_after
        self.clients: set[ServerConnection] = set()
        self.enough = asyncio.Event()  # set once start_after connections are in

    async def handler(self, ws: ServerConnection) -> None:
        try:
            await ws.recv()
            await ws.send(READY.decode())
            self.clients.add(ws)
            if len(self.clients) >= self.start_after:
                self.enough.set()
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(ws)

    async def pump(self) -> None:
        while True:
            if not self.clients:  # idle until start_after connections are in again
                self.enough.clear()
                await self.enough.wait()
            broadcast(self.clients, fanout_frame(self.size, time.monotonic_ns()).decode())
            await asyncio.sleep(0)


async def main(host: str, port: int, fanout_bytes: int, fanout_clients: int) -> None:
    fanout = Fanout(fanout_bytes, fanout_clients) if fanout_bytes else None
    handler = fanout.handler if fanout else echo
    pump = asyncio.create_task(fanout.pump()) if fanout else None
    async with serve(handler, host, port, compression=None, backlog=4096, ping_interval=None) as server:
        await server.serve_forever()
    if pump is not None:
        pump.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fanout-bytes", type=int, default=0, help="fan-out mode: push frames of this size")
    parser.add_argument("--fanout-clients", type=int, default=1, help="fan-out mode: start once this many are in")
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port, args.fanout_bytes, args.fanout_clients))
