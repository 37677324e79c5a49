"""Bare `websockets` echo server (asyncio implementation on uvloop): a second baseline.

Echoes every message back. websockets answers pings itself. Compression off.
Run: python bench/servers/bare_websockets.py --port 9002
"""

from __future__ import annotations

import argparse

import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main(host: str, port: int) -> None:
    async with serve(echo, host, port, compression=None, backlog=4096, ping_interval=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
