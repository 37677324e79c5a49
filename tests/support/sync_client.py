"""A messenger client over the gateway that keeps its state by the pts rule (docs/protocol.md).

It applies live box updates (``local + pts_count == pts`` apply, ``>`` ignore, ``<`` gap →
difference), reconnects when its connection drops — to whichever worker the kernel picks — and
catches up with ``updates.difference`` / ``chats.difference``. Its state is the messages it knows
per chat and the pts of each box, to compare with a fresh load.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

Json = dict[str, Any]
REQUEST_TIMEOUT = 10.0
RECONNECT_SECONDS = 20.0  # give up reconnecting after this long


class Disconnected(Exception):
    """The connection dropped before the answer came (the request may or may not have run)."""


class RequestFailed(Exception):
    def __init__(self, frame: Json) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = str(frame.get("code"))


@dataclass
class BoxState:
    pts: int = 0


@dataclass
class SyncClient:
    gateway_url: str
    token: str
    user_id: str
    channels: list[str]  # channel/supergroup chat ids whose boxes this client follows
    messages: dict[str, dict[int, str]] = field(default_factory=dict)  # chat id → msg id → text
    common: BoxState = field(default_factory=BoxState)
    channel_boxes: dict[str, BoxState] = field(default_factory=dict)
    reconnects: int = 0
    failure: str | None = None  # why the client gave up reconnecting, if it did
    gaps: int = 0
    on_connected: Callable[[ClientConnection], None] | None = None
    _ws: ClientConnection | None = None
    _pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    _events: asyncio.Queue[Json] = field(default_factory=asyncio.Queue)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _reader: asyncio.Task[None] | None = None
    _applier: asyncio.Task[None] | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one sync at a time
    _closing: bool = False

    def __post_init__(self) -> None:
        for chat_id in self.channels:
            self.channel_boxes[chat_id] = BoxState()

    # ------------------------------------------------------------------ connection

    async def start(self) -> None:
        await self._connect()
        self._applier = asyncio.create_task(self._apply_events())
        await self.sync()

    async def _connect(self) -> None:
        ws = await connect(self.gateway_url, open_timeout=5, ping_interval=None)
        await ws.send(json.dumps({"type": "auth", "token": self.token}))
        ready = json.loads(await asyncio.wait_for(ws.recv(), REQUEST_TIMEOUT))
        if ready.get("type") != "ready":
            await ws.close()
            raise ConnectionError(f"not ready: {ready}")
        self._ws = ws
        if self.on_connected is not None:
            self.on_connected(ws)
        self._reader = asyncio.create_task(self._read(ws))
        self._connected.set()

    async def reconnect_to(self, attempt: Callable[[], Any]) -> None:
        """Close and connect again until ``attempt()`` is true for the new connection (used to
        place a client on a given worker)."""
        for _ in range(60):
            if attempt():
                return
            await self._drop()
            await self._connect()
        raise RuntimeError("could not place the client on the wanted worker")

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        self._connected.clear()
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def close(self) -> None:
        self._closing = True
        await self._drop()
        if self._applier is not None:
            self._applier.cancel()
            await asyncio.gather(self._applier, return_exceptions=True)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind in ("res", "err"):
                    future = self._pending.pop(frame.get("id"), None)
                    if future is not None and not future.done():
                        if kind == "res":
                            future.set_result(frame.get("result"))
                        else:
                            future.set_exception(RequestFailed(frame))
                elif kind == "event" and frame.get("event") == "update":
                    self._events.put_nowait(frame["data"])
        except ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(Disconnected())
            self._pending.clear()
            if self._ws is ws:
                self._ws = None
                self._connected.clear()
                if not self._closing:
                    asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        """The connection dropped: connect again (any worker), then catch up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONNECT_SECONDS
        while not self._closing:
            try:
                await self._connect()
            except (OSError, WebSocketException, TimeoutError):  # e.g. accepted by a dying worker
                if loop.time() > deadline:
                    self.failure = "could not reconnect"
                    return
                await asyncio.sleep(0.05)  # a real client backs off before trying again
                continue
            self.reconnects += 1
            with contextlib.suppress(Disconnected, TimeoutError):  # dropped again: that starts another recovery
                await self.sync()
            return

    async def request(self, method: str, params: Json) -> Any:
        await asyncio.wait_for(self._connected.wait(), RECONNECT_SECONDS)
        ws = self._ws
        if ws is None:
            raise Disconnected()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send(json.dumps({"type": "req", "id": request_id, "method": method, "params": params}))
        except ConnectionClosed:
            self._pending.pop(request_id, None)
            raise Disconnected() from None
        return await asyncio.wait_for(future, REQUEST_TIMEOUT)

    # ------------------------------------------------------------------ state

    def _apply_one(self, box: BoxState, pts: int, pts_count: int, update: Json) -> bool:
        """The pts rule; False on a gap."""
        if box.pts + pts_count < pts:
            return False
        if box.pts + pts_count == pts:
            if update.get("type") == "new_message":
                message = update["message"]
                self.messages.setdefault(message["chat_id"], {})[int(message["id"])] = message["text"]
            box.pts = pts
        return True

    def _box(self, name: str) -> BoxState | None:
        if name == "common":
            return self.common
        return self.channel_boxes.get(name.removeprefix("channel:"))

    async def _apply_events(self) -> None:
        while True:
            data = await self._events.get()
            box = self._box(data["box"])
            if box is None:
                continue
            async with self._lock:
                if not self._apply_one(box, data["pts"], data["pts_count"], data["update"]):
                    self.gaps += 1
                    await self._catch_up_safely(data["box"])

    async def _catch_up_safely(self, name: str) -> None:
        with contextlib.suppress(Disconnected, TimeoutError):  # the reconnect catches up
            await self._catch_up(name)

    async def _catch_up(self, name: str) -> None:
        box = self._box(name)
        assert box is not None
        while True:
            if name == "common":
                result = await self.request("updates.difference", {"pts": box.pts, "limit": 100})
            else:
                chat_id = name.removeprefix("channel:")
                result = await self.request("chats.difference", {"chat_id": chat_id, "pts": box.pts, "limit": 100})
            assert result["kind"] in ("empty", "slice"), result
            for item in result["updates"]:
                assert self._apply_one(box, item["pts"], item["pts_count"], item["update"]), (name, box.pts, item)
            box.pts = max(box.pts, result["pts"])
            if result["kind"] == "empty" or result["final"]:
                return

    async def sync(self) -> None:
        """Catch up every box (start-up, after reconnecting, after being idle)."""
        async with self._lock:
            await self._catch_up("common")
            for chat_id in self.channels:
                await self._catch_up(f"channel:{chat_id}")

    async def sync_until_done(self) -> None:
        """Catch up, retrying while the connection is being re-established."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONNECT_SECONDS
        while True:
            try:
                await self.sync()
                return
            except (Disconnected, TimeoutError):
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.05)
