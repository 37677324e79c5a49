"""The load-client process of bench/roulette.py: simulated Roulette users on picows connections.

One process holds a share of the users, each on its own gateway connection with its own guest
session, in one uvloop event loop. A user authenticates, calls ``roulette.start`` (text only, no
auto-next), and whenever it is paired it waits a random 0.5–5 s and calls ``roulette.next``. When
its partner leaves first (``roulette.partner_left``) it calls ``roulette.next`` itself to requeue.

Recorded per pairing, for the parent to aggregate: the pair id, this user's id, the arrival time of
the pairing (the ``roulette.matched`` event, or a ``paired`` reply if that came first), and the
wait — from sending ``start``/``next``, or from the ``partner_left`` arrival, to that arrival.
Also: echo round trips on random connections (a same-run baseline), the event loop's lag, the
process's own CPU over the measured window, frames received, errors and anomalies.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import ctypes
import os
import random
import resource
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import msgspec
from picows import WSListener, WSMsgType, ws_connect

HOST = "127.0.0.1"
CAUSE_START, CAUSE_NEXT, CAUSE_LEFT = 0, 1, 2
CAUSES = {CAUSE_START: "start", CAUSE_NEXT: "next", CAUSE_LEFT: "partner left"}
UNFINISHED = 8  # added to the cause of a wait still open when the run stopped (its wait is a lower bound)

_IDLE, _WAITING, _PAIRED = 0, 1, 2
_START = b'{"type":"req","id":%d,"method":"roulette.start","params":%s}'
_NEXT = b'{"type":"req","id":%d,"method":"roulette.next"}'
_ECHO = b'{"type":"req","id":%d,"method":"echo","params":{"text":"hello world"}}'
_STATS = b'{"type":"req","id":%d,"method":"roulette.stats"}'
_PING = b'{"type":"ping"}'

_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


class _Body(msgspec.Struct):
    pair_id: str | None = None
    state: str | None = None
    searching: int | None = None
    paired: int | None = None
    online: int | None = None


class _Frame(msgspec.Struct):
    type: str
    event: str | None = None
    id: int | None = None
    data: _Body | None = None
    result: _Body | None = None
    code: str | None = None
    message: str | None = None
    user_id: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


@dataclass
class StartPlan:
    """Times are ``time.monotonic_ns()`` values (one clock for every process on the machine)."""

    start_at: int  # users call roulette.start between start_at and start_at + ramp
    ramp: float
    min_next: float
    max_next: float
    start_params: bytes
    timeout: float = 300.0


@dataclass
class MeasurePlan:
    window: tuple[int, int]  # measured window [start, end)
    stop_at: int  # no more presses after this; the process reports
    probe_stats: bool  # this process samples roulette.stats


def client_main(tokens: list[str], port: int, sources: int, seed: int, cpu: int | None, pipe: Connection) -> None:
    """Entry point of a client process (multiprocessing, spawn)."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    import uvloop

    uvloop.run(Fleet(tokens, port, sources, seed, pipe).main())


class User(WSListener):  # type: ignore[misc]
    """One simulated person on one connection."""

    def __init__(self, fleet: Fleet, index: int, token: str) -> None:
        super().__init__()
        self.fleet = fleet
        self.index = index
        self.token = token
        self.uid = 0
        self.transport: Any = None
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.state = _IDLE
        self.pair = 0  # current pair id (when paired)
        self.left_pair = 0  # the pair this user left last (a late "paired" reply for it is ignored)
        self.since = 0  # when the current wait started (ns)
        self.cause = CAUSE_START
        self.timer: asyncio.TimerHandle | None = None
        self.req = 0
        self.last_send = 0
        self.echo_sent: dict[int, int] = {}
        self.start_req = -1  # id of the roulette.start request until it is answered
        self.open = False

    # ------------------------------------------------------------------ sending

    def send(self, template: bytes, *args: Any) -> int:
        self.req += 1
        if self.transport is not None and self.open:
            self.transport.send(WSMsgType.TEXT, template % (self.req, *args))
            self.last_send = time.monotonic_ns()
        return self.req

    def start(self) -> None:
        if not self.open or self.state != _IDLE:
            return
        self.state, self.since, self.cause = _WAITING, time.monotonic_ns(), CAUSE_START
        self.start_req = self.send(_START, self.fleet.plan_start_params)

    def press_next(self) -> None:
        """The user's timer fired while paired: leave and search again."""
        self.timer = None
        if self.state != _PAIRED or not self.fleet.running:
            return
        self.left_pair = self.pair
        self.state, self.since, self.cause = _WAITING, time.monotonic_ns(), CAUSE_NEXT
        self.send(_NEXT)

    # ------------------------------------------------------------------ receiving

    def on_ws_connected(self, transport: Any) -> None:
        self.transport = transport
        self.open = True
        self.transport.send(WSMsgType.TEXT, b'{"type":"auth","token":"%s"}' % self.token.encode())
        self.last_send = time.monotonic_ns()

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.disconnect()
            return
        now = time.monotonic_ns()
        fleet = self.fleet
        fleet.frames += 1
        try:
            f = _decode(frame.get_payload_as_bytes())
        except msgspec.DecodeError:
            fleet.note_error("undecodable frame")
            return
        kind = f.type
        if kind == "event":
            data = f.data
            if data is None or data.pair_id is None:
                return
            if f.event == "roulette.matched":
                self.on_matched(int(data.pair_id), now)
            elif f.event == "roulette.partner_left":
                self.on_partner_left(int(data.pair_id), now)
        elif kind == "res":
            if f.id == self.start_req:
                self.start_req = -1
                fleet.on_started()
            result = f.result
            sent = self.echo_sent.pop(f.id or 0, None)
            if sent is not None:
                fleet.on_echo(sent, now)
            elif result is not None:
                if result.state == "paired" and result.pair_id is not None:
                    self.on_matched(int(result.pair_id), now)
                elif result.searching is not None:
                    fleet.on_stats(now, result)
        elif kind == "err":
            self.echo_sent.pop(f.id or 0, None)
            fleet.note_error(f"{f.code}: {f.message}")
            if f.id == self.start_req:  # roulette.start failed: try again in a second, as an app would
                self.start_req = -1
                fleet.start_errors += 1
                if self.state == _WAITING and self.cause == CAUSE_START:
                    self.state = _IDLE
                    asyncio.get_running_loop().call_later(1.0, self.start)
        elif kind == "ready":
            self.uid = int(f.user_id or 0)
            if not self.ready.done():
                self.ready.set_result(True)

    def on_matched(self, pair_id: int, now: int) -> None:
        if self.state == _WAITING:
            if pair_id == self.left_pair:
                return  # a late "paired" reply for the pair this user already left
            self.state, self.pair = _PAIRED, pair_id
            self.fleet.record(pair_id, self.uid, now, now - self.since, self.cause)
            if self.fleet.running:
                delay = self.fleet.rng.uniform(self.fleet.min_next, self.fleet.max_next)
                self.timer = asyncio.get_running_loop().call_later(delay, self.press_next)
        elif self.state == _PAIRED and pair_id != self.pair:
            self.fleet.anomalies["matched while paired"] += 1  # would mean one person in two pairs
        elif self.state == _IDLE:
            self.fleet.anomalies["matched while idle"] += 1

    def on_partner_left(self, pair_id: int, now: int) -> None:
        if self.state != _PAIRED or pair_id != self.pair:
            return  # this user had already left that pair itself (both pressed Next at once)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.left_pair = pair_id
        if not self.fleet.running:
            self.state = _IDLE
            return
        self.state, self.since, self.cause = _WAITING, now, CAUSE_LEFT
        self.send(_NEXT)

    def on_ws_disconnected(self, transport: Any) -> None:
        self.open = False
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))
        elif self.fleet.running:
            self.fleet.anomalies["connections dropped"] += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        if self.transport is not None and self.open:
            self.transport.send_close()
            self.transport.disconnect()


class Fleet:
    """All users of one client process."""

    def __init__(self, tokens: list[str], port: int, sources: int, seed: int, pipe: Connection) -> None:
        self.tokens = tokens
        self.port = port
        self.sources = sources
        self.pipe = pipe
        self.rng = random.Random(seed)
        self.users: list[User] = []
        self.running = False
        self.min_next, self.max_next = 0.5, 5.0
        self.plan_start_params = b"{}"
        self.window = (0, 0)
        self.frames = 0
        self.started = 0  # users whose roulette.start was answered
        self.start_errors = 0  # roulette.start calls answered with an error (retried)
        self.all_started = asyncio.Event()
        self.errors = 0
        self.error_samples: list[str] = []
        self.anomalies = {"matched while paired": 0, "matched while idle": 0, "connections dropped": 0}
        # one row per pairing seen by this process's users
        self.rec_pair = array.array("q")
        self.rec_uid = array.array("q")
        self.rec_at = array.array("q")
        self.rec_wait = array.array("q")
        self.rec_cause = array.array("b")
        self.echo_at = array.array("q")
        self.echo_rtt = array.array("q")
        self.lag = array.array("q")  # event-loop lag samples inside the window (ns)
        self.stats: list[tuple[int, int, int, int]] = []  # (at, online, searching, paired)

    # ------------------------------------------------------------------ callbacks from users

    def record(self, pair_id: int, uid: int, at: int, wait: int, cause: int) -> None:
        self.rec_pair.append(pair_id)
        self.rec_uid.append(uid)
        self.rec_at.append(at)
        self.rec_wait.append(wait)
        self.rec_cause.append(cause)

    def on_started(self) -> None:
        self.started += 1
        if self.started >= len(self.users):
            self.all_started.set()

    def on_echo(self, sent: int, now: int) -> None:
        self.echo_at.append(sent)
        self.echo_rtt.append(now - sent)

    def on_stats(self, now: int, result: _Body) -> None:
        self.stats.append((now, result.online or 0, result.searching or 0, result.paired or 0))

    def note_error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:200])

    # ------------------------------------------------------------------ phases

    async def main(self) -> None:
        connected, failed, first_failure = await self.connect_all()
        self.pipe.send({"connected": connected, "failed": failed, "failure": first_failure})
        keepalive = asyncio.create_task(self.keepalive())
        while True:
            command = await asyncio.to_thread(self.pipe.recv)
            if command["cmd"] == "quit":
                break
            if command["cmd"] == "start":
                self.pipe.send(await self.begin(command["plan"]))
            else:
                self.pipe.send(await self.measure(command["plan"]))
        keepalive.cancel()
        for user in self.users:
            user.close()
        await asyncio.sleep(0.2)

    async def connect_all(self) -> tuple[int, int, str]:
        gate = asyncio.Semaphore(64)
        url = f"ws://{HOST}:{self.port}/"
        failures: list[str] = []

        async def one(index: int, token: str) -> User | None:
            kwargs: dict[str, Any] = {}
            if self.sources > 1:
                kwargs["local_addr"] = (f"127.0.0.{1 + index % self.sources}", 0)
            for attempt in range(3):
                async with gate:
                    try:
                        _, user = await ws_connect(
                            lambda: User(self, index, token), url, websocket_handshake_timeout=30, **kwargs
                        )
                        await asyncio.wait_for(user.ready, 30)
                        return user  # type: ignore[no-any-return]
                    except Exception as exc:
                        if attempt == 2:
                            failures.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)
            return None

        found = await asyncio.gather(*(one(i, t) for i, t in enumerate(self.tokens)))
        self.users = [u for u in found if u is not None]
        return len(self.users), len(failures), failures[0] if failures else ""

    async def keepalive(self) -> None:
        """The gateway drops connections silent for 2 × heartbeat (25 s by default)."""
        while True:
            await asyncio.sleep(5)
            old = time.monotonic_ns() - 10_000_000_000
            for user in self.users:
                if user.open and user.last_send < old:
                    user.transport.send(WSMsgType.TEXT, _PING)
                    user.last_send = time.monotonic_ns()

    async def begin(self, plan: StartPlan) -> dict[str, Any]:
        """Every user calls roulette.start (spread over the ramp) and then plays on by itself; returns
        once every start has been answered."""
        loop = asyncio.get_running_loop()
        self.min_next, self.max_next = plan.min_next, plan.max_next
        self.plan_start_params = plan.start_params
        self.running = True
        now = time.monotonic_ns()
        for user in self.users:
            loop.call_later(max(0.0, (plan.start_at - now) / 1e9) + self.rng.uniform(0, plan.ramp), user.start)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_started.wait(), plan.timeout)
        return {"started": self.started, "start_errors": self.start_errors, "at": time.monotonic_ns()}

    async def measure(self, plan: MeasurePlan) -> dict[str, Any]:
        self.window = plan.window
        probes = [
            asyncio.create_task(self.lag_probe()),
            asyncio.create_task(self.echo_probe()),
        ]
        if plan.probe_stats and self.users:
            probes.append(asyncio.create_task(self.stats_probe()))
        await sleep_until(plan.window[0])
        before, frames_before = resource.getrusage(resource.RUSAGE_SELF), self.frames
        await sleep_until(plan.window[1])
        after, frames_after = resource.getrusage(resource.RUSAGE_SELF), self.frames
        await sleep_until(plan.stop_at)
        self.running = False
        stopped = time.monotonic_ns()
        for probe in probes:
            probe.cancel()
        for user in self.users:
            if user.state == _WAITING:
                self.record(0, user.uid, stopped, stopped - user.since, user.cause + UNFINISHED)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {
            "cpu_s": cpu,
            "frames": frames_after - frames_before,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "anomalies": self.anomalies,
            "pair": self.rec_pair.tobytes(),
            "uid": self.rec_uid.tobytes(),
            "at": self.rec_at.tobytes(),
            "wait": self.rec_wait.tobytes(),
            "cause": self.rec_cause.tobytes(),
            "echo_at": self.echo_at.tobytes(),
            "echo_rtt": self.echo_rtt.tobytes(),
            "lag": self.lag.tobytes(),
            "stats": self.stats,
        }

    async def lag_probe(self) -> None:
        """How late the loop runs a 5 ms timer: time a frame may sit unread in this client."""
        start, end = self.window
        while True:
            before = time.monotonic_ns()
            await asyncio.sleep(0.005)
            after = time.monotonic_ns()
            if start <= before < end:
                self.lag.append(max(0, after - before - 5_000_000))

    async def echo_probe(self) -> None:
        """About 50 echo round trips a second on random connections: the gateway's plain request
        latency under the very same load, to compare time-to-pair with."""
        while True:
            await asyncio.sleep(0.02)
            user = self.users[self.rng.randrange(len(self.users))]
            if user.open:
                sent = time.monotonic_ns()
                user.echo_sent[user.send(_ECHO)] = sent

    async def stats_probe(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            user = self.users[0]
            if user.open:
                user.send(_STATS)


async def sleep_until(at_ns: int) -> None:
    await asyncio.sleep(max(0.0, (at_ns - time.monotonic_ns()) / 1e9))
