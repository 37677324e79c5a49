"""``RemoteRoulette``: the Roulette of a process that is not the owner. Every public method of
``RouletteService`` is forwarded by name to the owner over the broker; ``stats()`` is answered from
the last ``roulette.stats`` event heard.

The proxy remembers which of its sessions are in Roulette. When it learns that the owner is a new
incarnation (the owner restarted and lost its state), it sends each of them ``roulette.reset`` on
its ``session:<id>`` topic, and forgets them. A ``disconnect`` that could not reach the owner is
retried on every heartbeat until it does (or the owner turns out to be new).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from palaver.domain.sessions import Principal
from palaver.errors import Unavailable
from palaver.ports import Broker, Subscription
from palaver.services.events import Event, publish_all, session_topic
from palaver.services.roulette import STATS_TOPIC, RouletteService
from palaver.services.roulette_remote.wire import (
    OWNER_TOPIC,
    PROXIES_TOPIC,
    RESET_EVENT,
    RPC_TOPIC,
    Beat,
    Call,
    Outcome,
    RemoteMethod,
    decode_beat,
    encoder,
    error_of,
    method_table,
    outcome_decoder,
)

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 5.0
HEARTBEAT_SECONDS = 1.0

_TRACK_ADD = frozenset({"start"})
_TRACK_DROP = frozenset({"stop", "disconnect"})


def _unavailable() -> Unavailable:
    return Unavailable("Roulette is unavailable right now; try again shortly.", code="roulette_unavailable")


class RemoteRoulette:
    """Roulette through the owner process; same public methods as ``RouletteService``."""

    def __init__(
        self,
        *,
        broker: Broker,
        node: str = "0",
        service_class: type[RouletteService] = RouletteService,
        timeout_seconds: float = CALL_TIMEOUT_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._broker = broker
        self._timeout = timeout_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._methods: dict[str, RemoteMethod] = method_table(service_class)
        self.origin = f"{node}.{secrets.token_hex(6)}"  # this process, this time
        self._reply_topic = f"roulette:reply:{self.origin}"
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self._replies: Subscription | None = None
        self._listening = asyncio.Lock()
        self._subscriptions: list[Subscription] = []
        self._stats: dict[str, int] = {"online": 0, "searching": 0, "paired": 0}
        self.owner: str | None = None  # the owner incarnation last heard of
        self._in_roulette: set[int] = set()  # this process's sessions the owner holds
        self._undelivered: set[int] = set()  # sessions whose disconnect did not reach the owner
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._methods)

    def __getattr__(self, name: str) -> Any:
        method = self.__dict__.get("_methods", {}).get(name)
        if method is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        forward: Callable[..., Any] = self._call if method.is_async else self._notify
        return functools.partial(forward, method)

    # ------------------------------------------------------------------ what a proxy answers itself

    def stats(self) -> dict[str, int]:
        """The counts of the last ``roulette.stats`` event the owner published."""
        return dict(self._stats)

    async def run(self) -> None:
        """Follow ``roulette:stats`` and the owner's heartbeat; heartbeat; retry lost disconnects.
        A background task the app starts and cancels."""
        await self.follow_owner()
        try:
            while True:
                try:
                    await self.heartbeat()
                except Exception:
                    log.exception("roulette proxy heartbeat failed")
                await asyncio.sleep(self._heartbeat_seconds)
        finally:
            await self.unfollow_owner()

    async def follow_owner(self) -> None:
        """Subscribe to ``roulette:stats`` and the owner's heartbeat. (Names of the proxy's own methods
        must never be names of ``RouletteService`` methods, which they would hide.)"""
        if not self._subscriptions:
            self._subscriptions = [
                await self._broker.subscribe(STATS_TOPIC, self._on_stats),
                await self._broker.subscribe(OWNER_TOPIC, self._on_owner_beat),
            ]

    async def unfollow_owner(self) -> None:
        """Stop following stats and heartbeats (calls still work: the reply topic stays until the
        broker closes, so the gateway's last disconnects reach the owner)."""
        subscriptions, self._subscriptions = self._subscriptions, []
        for sub in subscriptions:
            await sub.close()

    async def heartbeat(self) -> None:
        """Tell the owner this process is alive; retry disconnects that did not reach it."""
        await self._broker.publish(PROXIES_TOPIC, encoder.encode(Beat(origin=self.origin)))
        for session in sorted(self._undelivered):
            try:
                await self._call(self._methods["disconnect"], session)
            except Unavailable:
                return

    # ------------------------------------------------------------------ forwarding

    async def _call(self, method: RemoteMethod, *args: Any, **kwargs: Any) -> Any:
        session = _session_of(method, args, kwargs)
        await self._listen()
        call_id = next(self._ids)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            payload = self._encode(call_id, method, args, kwargs, notify=False)
            await self._broker.publish(RPC_TOPIC, payload)
            outcome = await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            if session is not None and method.name == "disconnect":
                self._undelivered.add(session)
            elif session is not None and method.name in _TRACK_ADD:
                self._in_roulette.add(session)  # it may have reached the owner: reset it if the owner changes
            raise _unavailable() from None
        finally:
            self._pending.pop(call_id, None)
        self._observe_owner(outcome.owner, calling=session if method.name in _TRACK_ADD else None)
        if session is not None:
            if method.name in _TRACK_DROP:
                self._in_roulette.discard(session)
                self._undelivered.discard(session)
            elif method.name in _TRACK_ADD and outcome.error is None:
                self._in_roulette.add(session)
        if outcome.error is not None:
            raise error_of(outcome.error)
        return method.convert_result(outcome.result)

    def _notify(self, method: RemoteMethod, *args: Any, **kwargs: Any) -> None:
        """A plain method returning None (such as ``add_block``): sent to the owner, not awaited."""
        payload = self._encode(0, method, args, kwargs, notify=True)
        self._spawn(self._broker.publish(RPC_TOPIC, payload))

    def _encode(self, call_id: int, method: RemoteMethod, args: Any, kwargs: dict[str, Any], *, notify: bool) -> bytes:
        method.signature.bind(*args, **kwargs)  # a wrong call fails here, as it would locally
        call = Call(
            id=call_id,
            reply_to=self._reply_topic,
            origin=self.origin,
            method=method.name,
            args=list(args),
            kwargs=kwargs,
            notify=notify,
        )
        return encoder.encode(call)

    async def _listen(self) -> None:
        if self._replies is not None:
            return
        async with self._listening:
            if self._replies is None:
                self._replies = await self._broker.subscribe(self._reply_topic, self._on_reply)

    def _on_reply(self, topic: str, payload: bytes) -> None:
        try:
            outcome = outcome_decoder.decode(payload)
        except msgspec.DecodeError:
            log.warning("roulette proxy: malformed reply dropped")
            return
        future = self._pending.get(outcome.id)
        if future is not None and not future.done():
            future.set_result(outcome)

    # ------------------------------------------------------------------ stats and owner changes

    def _on_stats(self, topic: str, payload: bytes) -> None:
        try:
            frame = msgspec.json.decode(payload)
            data = frame["data"]
            self._stats = {key: int(data[key]) for key in ("online", "searching", "paired")}
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            log.warning("roulette proxy: malformed stats dropped")

    def _on_owner_beat(self, topic: str, payload: bytes) -> None:
        beat = decode_beat(payload)
        if beat is not None and beat.owner:
            self._observe_owner(beat.owner)

    def _observe_owner(self, owner: str, *, calling: int | None = None) -> None:
        """A new owner incarnation has lost every session this proxy had in Roulette: tell them
        (except ``calling``, whose own call the new owner is answering right now)."""
        previous, self.owner = self.owner, owner
        if previous is None or previous == owner:
            return
        lost = sorted(self._in_roulette - {calling} if calling is not None else self._in_roulette)
        self._in_roulette.clear()
        self._undelivered.clear()
        if lost:
            log.warning("roulette owner restarted: %d sessions of this process lose their state", len(lost))
            events = [Event(session_topic(s), RESET_EVENT, {"reason": "owner_restarted"}) for s in lost]
            self._spawn(publish_all(self._broker, events))

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("roulette proxy: sending failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for messages sent without waiting (notifications, resets). For tests and shutdown."""
        while self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._tasks))


def _session_of(method: RemoteMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    try:
        arguments = method.signature.bind(*args, **kwargs).arguments
    except TypeError:
        return None
    principal = arguments.get("principal")
    if isinstance(principal, Principal):
        return principal.session_id
    session = arguments.get("session_id")
    return session if isinstance(session, int) else None
