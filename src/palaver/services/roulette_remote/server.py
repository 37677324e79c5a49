"""The Roulette owner's side: answer calls from proxies in other processes with the one real
``RouletteService``, heartbeat, and drop the sessions of proxies that have fallen silent.

Calls are run in tasks started in arrival order; ``RouletteService`` changes its state before its
first ``await``, so calls take effect in the order they arrived (one proxy's calls arrive in the
order it sent them: the broker keeps one publisher's order).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import msgspec

from palaver.domain.sessions import Principal
from palaver.errors import PalaverError
from palaver.ports import Broker, Clock, Subscription
from palaver.services.roulette import RouletteService
from palaver.services.roulette_remote.wire import (
    OWNER_TOPIC,
    PROXIES_TOPIC,
    RPC_TOPIC,
    Beat,
    Call,
    Outcome,
    RemoteMethod,
    call_decoder,
    decode_beat,
    encoder,
    failure_of,
    method_table,
)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
PROXY_LAPSE_SECONDS = 10.0  # a proxy silent this long is gone: its sessions leave Roulette


class RouletteRpcServer:
    """Serves ``service`` on ``roulette:rpc``; replies go to each call's ``reply_to`` topic."""

    def __init__(
        self,
        service: RouletteService,
        *,
        broker: Broker,
        clock: Clock,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        proxy_lapse_seconds: float = PROXY_LAPSE_SECONDS,
    ) -> None:
        self._service = service
        self._broker = broker
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._lapse = proxy_lapse_seconds
        self._methods: dict[str, RemoteMethod] = method_table(type(service))
        self.incarnation = secrets.token_hex(8)  # new at every start of the process
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._heard: dict[str, float] = {}  # proxy origin -> monotonic time last heard from
        self._origin_of: dict[int, str] = {}  # session -> the proxy that started it

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen for calls and heartbeats, and announce this owner (proxies that knew another one
        tell their sessions ``roulette.reset``)."""
        if self._subscriptions:
            return
        self._subscriptions = [
            await self._broker.subscribe(RPC_TOPIC, self._on_call),
            await self._broker.subscribe(PROXIES_TOPIC, self._on_beat),
        ]
        await self.heartbeat()

    async def close(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for sub in subscriptions:
            await sub.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Start, then heartbeat and sweep forever (a background task the app starts and cancels)."""
        await self.start()
        try:
            while True:
                await asyncio.sleep(self._heartbeat_seconds)
                try:
                    await self.heartbeat()
                    await self.sweep()
                except Exception:
                    log.exception("roulette owner heartbeat failed")
        finally:
            await self.close()

    async def heartbeat(self) -> None:
        await self._broker.publish(OWNER_TOPIC, encoder.encode(Beat(owner=self.incarnation)))

    async def sweep(self) -> list[int]:
        """Take the sessions of proxies not heard from for ``proxy_lapse_seconds`` out of Roulette
        (their partners are told as usual). The sessions taken out."""
        now = self._clock.monotonic()
        gone = {origin for origin, at in self._heard.items() if now - at >= self._lapse}
        if not gone:
            return []
        for origin in gone:
            del self._heard[origin]
        sessions = sorted(s for s, origin in self._origin_of.items() if origin in gone)
        for session in sessions:
            del self._origin_of[session]
            log.warning("roulette: session %d leaves with its silent process", session)
            await self._service.disconnect(session)
        return sessions

    # ------------------------------------------------------------------ calls

    def _on_beat(self, topic: str, payload: bytes) -> None:
        beat = decode_beat(payload)
        if beat is not None and beat.origin:
            self._heard[beat.origin] = self._clock.monotonic()

    def _on_call(self, topic: str, payload: bytes) -> None:
        try:
            call = call_decoder.decode(payload)
        except msgspec.DecodeError:
            log.warning("roulette owner: malformed call dropped")
            return
        self._heard[call.origin] = self._clock.monotonic()
        task = asyncio.create_task(self._serve(call), name=f"roulette-rpc-{call.method}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, call: Call) -> None:
        outcome = Outcome(id=call.id, owner=self.incarnation)
        method = self._methods.get(call.method)
        try:
            if method is None:
                raise LookupError(f"no forwardable Roulette method {call.method!r}")
            bound = method.convert_arguments(call.args, call.kwargs)
            self._track(call, method, bound.arguments)
            result = getattr(self._service, method.name)(*bound.args, **bound.kwargs)
            if method.is_async:
                result = await result
            outcome.result = result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, PalaverError):
                log.exception("roulette owner: %s failed", call.method)
            outcome.error = failure_of(exc)
        if call.notify:
            return
        try:
            payload = encoder.encode(outcome)
        except (TypeError, msgspec.EncodeError) as exc:
            log.exception("roulette owner: cannot encode the result of %s", call.method)
            payload = encoder.encode(Outcome(id=call.id, owner=self.incarnation, error=failure_of(exc)))
        try:
            await self._broker.publish(call.reply_to, payload)
        except Exception:
            log.exception("roulette owner: replying to %s failed", call.reply_to)

    def _track(self, call: Call, method: RemoteMethod, arguments: dict[str, Any]) -> None:
        """Remember which proxy each session came through (for ``sweep``)."""
        principal = arguments.get("principal")
        session = principal.session_id if isinstance(principal, Principal) else arguments.get("session_id")
        if not isinstance(session, int):
            return
        if method.name == "start":
            self._origin_of[session] = call.origin
        elif method.name in ("stop", "disconnect") and self._origin_of.get(session) == call.origin:
            del self._origin_of[session]
