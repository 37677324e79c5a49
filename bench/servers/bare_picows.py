"""Bare picows echo server: the ceiling for the gateway echo benchmark.

Echoes every text/binary frame back unchanged, answers pings. No JSON, no routing.
Run: python bench/servers/bare_picows.py --port 9001
"""

from __future__ import annotations

import argparse

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server


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


def listener_factory(_request: WSUpgradeRequest) -> EchoListener:
    return EchoListener()


async def main(host: str, port: int) -> None:
    server = await ws_create_server(listener_factory, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
