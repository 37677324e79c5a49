"""WebRTC helpers for tests: what a browser page's RTCPeerConnection has decoded and which route it
took, and a scripted Roulette participant played by aiortc."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

import httpx
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp
from playwright.sync_api import Page
from websockets.asyncio.client import ClientConnection

# The Roulette page exposes its live RTCPeerConnection as window.__palaver.roulette.pc. These scripts
# (for page.evaluate) read its stats: the video frames decoded, and the selected ICE candidate pair.
FRAMES_DECODED_JS = """
async () => {
  const pc = window.__palaver?.roulette?.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  let frames = 0;
  report.forEach((stat) => {
    if (stat.type === "inbound-rtp" && stat.kind === "video") frames = Math.max(frames, stat.framesDecoded ?? 0);
  });
  return frames;
}
"""

SELECTED_PAIR_JS = """
async () => {
  const pc = window.__palaver?.roulette?.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  let pairId = null;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId;
  });
  if (!pairId) {
    report.forEach((stat) => {
      if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pairId = stat.id;
    });
  }
  const pair = pairId ? report.get(pairId) : null;
  if (!pair) return null;
  const local = report.get(pair.localCandidateId);
  const remote = report.get(pair.remoteCandidateId);
  return {
    local: local?.candidateType ?? null,
    remote: remote?.candidateType ?? null,
    localAddress: local?.address ?? null,
    remoteAddress: remote?.address ?? null,
    protocol: local?.protocol ?? null,
  };
}
"""


def frames_decoded(page: Page) -> int:
    """Video frames the page's current call has decoded (0 without a call)."""
    value = page.evaluate(FRAMES_DECODED_JS)
    return int(value or 0)


def wait_frames_decoded(page: Page, *, minimum: int = 1, timeout: float = 20.0) -> int:
    """Poll until the page's call has decoded at least `minimum` video frames; the count."""
    deadline = time.monotonic() + timeout
    frames = 0
    while time.monotonic() < deadline:
        frames = frames_decoded(page)
        if frames >= minimum:
            return frames
        page.wait_for_timeout(200)
    raise AssertionError(f"the page decoded {frames} video frames in {timeout} s, wanted {minimum}")


def selected_candidate_pair(page: Page) -> dict[str, Any] | None:
    """The candidate types (host, srflx, prflx, relay) of the call's selected ICE pair."""
    value = page.evaluate(SELECTED_PAIR_JS)
    assert value is None or isinstance(value, dict)
    return value


# ---- a scripted Roulette participant: a guest on the gateway with an aiortc peer connection ----------


class GatewayError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class GatewayClient:
    """A minimal gateway client (docs/protocol.md) on ``websockets``: requests and per-name event queues."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str) -> GatewayClient:
        socket = await websockets.connect(url)
        await socket.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await socket.recv())
        assert ready["type"] == "ready", ready
        return cls(socket)

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        request_id = self._next_id
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._socket.send(json.dumps({"type": "req", "id": request_id, "method": method, "params": params or {}}))
        return await future

    async def event(self, name: str) -> dict[str, Any]:
        """The next event called `name` (wrap in ``asyncio.timeout``)."""
        return await self._events[name].get()

    async def close(self) -> None:
        self._reader.cancel()
        await self._socket.close()

    async def _read(self) -> None:
        async for text in self._socket:
            frame = json.loads(text)
            if frame["type"] == "event":
                self._events[frame["event"]].put_nowait(frame["data"])
            elif frame["type"] in ("res", "err") and frame.get("id") in self._pending:
                future = self._pending.pop(frame["id"])
                if frame["type"] == "res":
                    future.set_result(frame["result"])
                else:
                    future.set_exception(GatewayError(frame["code"], frame.get("message", "")))


async def guest_token(http_url: str) -> str:
    async with httpx.AsyncClient(base_url=http_url) as client:
        response = await client.post("/api/v1/auth/guest", json={})
        response.raise_for_status()
        token: str = response.json()["session_token"]
        return token


async def rtc_configuration(http_url: str, token: str, *, relay: bool) -> RTCConfiguration:
    """The ICE servers the server hands this user, as aiortc's configuration."""
    async with httpx.AsyncClient(base_url=http_url) as client:
        response = await client.get("/api/v1/roulette/ice-servers", headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
    servers = [
        RTCIceServer(urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential"))
        for entry in response.json()["ice_servers"]
    ]
    policy = RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def browser_candidate(payload: dict[str, Any]) -> RTCIceCandidate:
    """A candidate the browser trickled (``RTCIceCandidate.toJSON()``), for aiortc (which does not trickle)."""
    line: str = payload["candidate"]
    candidate = candidate_from_sdp(line.split(":", 1)[1] if line.startswith("candidate:") else line)
    candidate.sdpMid = payload.get("sdpMid")
    candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
    return candidate


class AiortcRoulettePeer:
    """A Roulette participant played by aiortc: it joins the queue, does the signalling for the role
    the server assigns, sends aiortc's test-pattern video and counts the video frames it receives."""

    def __init__(self, gateway: GatewayClient, configuration: RTCConfiguration) -> None:
        self.gateway = gateway
        self.pc = RTCPeerConnection(configuration)
        self.pair_id: str | None = None
        self.role: str | None = None
        self.frames_received = 0
        self._frame_seen = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    async def start(self) -> dict[str, Any]:
        """Join the queue and wait for a partner; then do our part of the signalling."""
        reply = await self.gateway.request(
            "roulette.start", {"languages": [], "interests": [], "text_only": False, "auto_next": False}
        )
        matched = reply if reply["state"] == "paired" else await self.gateway.event("roulette.matched")
        self.pair_id, self.role = matched["pair_id"], matched["role"]
        self._tasks.append(asyncio.create_task(self._signalling()))
        if self.role == "offerer":
            self.pc.addTrack(VideoStreamTrack())
            await self.pc.setLocalDescription(await self.pc.createOffer())  # gathers every candidate
            await self._signal("offer", {"type": "offer", "sdp": self.pc.localDescription.sdp})
        return dict(matched)

    async def first_frame(self) -> int:
        """Wait until a video frame from the partner has been decoded (wrap in ``asyncio.timeout``)."""
        await self._frame_seen.wait()
        return self.frames_received

    def selected_pair_types(self) -> tuple[str, str]:
        """(local, remote) candidate types of the nominated ICE pair."""
        transport = self.pc.getTransceivers()[0].receiver.transport.transport
        pair = transport._connection._nominated[1]  # aiortc exposes no selected-pair API
        return pair.local_candidate.type, pair.remote_candidate.type

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        await self.gateway.close()

    async def _signal(self, kind: str, payload: dict[str, Any]) -> None:
        await self.gateway.request("roulette.signal", {"pair_id": self.pair_id, "kind": kind, "payload": payload})

    async def _signalling(self) -> None:
        while True:
            signal = await self.gateway.event("roulette.signal")
            if signal["pair_id"] != self.pair_id:
                continue
            kind, payload = signal["kind"], signal["payload"]
            if kind == "offer" and self.role == "answerer":
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type="offer"))
                self.pc.addTrack(VideoStreamTrack())
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self._signal("answer", {"type": "answer", "sdp": self.pc.localDescription.sdp})
            elif kind == "answer" and self.role == "offerer":
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type="answer"))
            elif kind == "candidate" and payload.get("candidate"):
                await self.pc.addIceCandidate(browser_candidate(payload))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.create_task(self._count_frames(track)))

    async def _count_frames(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            self.frames_received += 1
            self._frame_seen.set()
