"""Redis pub/sub broker: live fan-out between the processes and nodes of one deployment.

One broker instance holds two links to Redis:

* a client for ``PUBLISH`` (an ordinary pooled ``redis.asyncio.Redis``), and
* ONE pub/sub connection shared by every local subscription. A topic is ``SUBSCRIBE``d when its
  first local handler appears and ``UNSUBSCRIBE``d when its last one goes. A single reader task
  reads that connection and calls the local handlers with the payload bytes exactly as received.

Replies to ``SUBSCRIBE``/``UNSUBSCRIBE`` arrive in the order the commands were sent, one per
channel, so each channel counts the replies it still expects (``inflight``); once that count drops
to zero the channel's state on the server is the last command sent for it. ``subscribe()`` returns
only when Redis has confirmed the subscription, so a publish right after it is delivered.

If the pub/sub connection drops (or stays silent through a PING), the reader reconnects with
exponential backoff and jitter and subscribes every topic that still has handlers in one command;
``ping()`` is False from the drop until Redis has confirmed all of them. Messages published in
between are lost: delivery is at-most-once and live only (see ``palaver.ports.Broker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import random
import re
from typing import Any

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from palaver.errors import Unavailable
from palaver.ports import MessageHandler

log = logging.getLogger(__name__)

_LINK_ERRORS = (RedisError, OSError)
PUBLISH_CONNECTIONS = 64  # pooled connections for PUBLISH; more concurrent publishes wait for one


class _State(enum.Enum):
    NEW = "new"  # constructed, start() not called yet
    SYNCING = "syncing"  # connected; waiting for Redis to confirm the resubscription batch
    UP = "up"  # connected and every topic with handlers is confirmed
    DOWN = "down"  # pub/sub connection lost; the reader is reconnecting
    CLOSED = "closed"


class RedisSubscription:
    """One handler on one topic of a :class:`RedisBroker`."""

    __slots__ = ("_broker", "_channel", "handler", "open")

    def __init__(self, broker: RedisBroker, channel: _Channel, handler: MessageHandler) -> None:
        self._broker = broker
        self._channel = channel
        self.handler = handler
        self.open = True

    async def close(self) -> None:
        if self.open:
            self.open = False
            await self._broker._unsubscribe(self, self._channel)


class _Channel:
    """Local state of one Redis channel: its handlers and what the server has confirmed."""

    __slots__ = ("_snapshot", "active", "inflight", "key", "ready", "subs", "topic")

    def __init__(self, key: bytes, topic: str) -> None:
        self.key = key
        self.topic = topic
        self.subs: dict[RedisSubscription, None] = {}  # insertion-ordered set
        self._snapshot: tuple[RedisSubscription, ...] | None = ()
        self.active = False  # the last command sent for it on this connection was SUBSCRIBE
        self.inflight = 0  # SUBSCRIBE/UNSUBSCRIBE replies still expected on this connection
        self.ready = asyncio.Event()  # set while Redis has confirmed the subscription

    def add(self, sub: RedisSubscription) -> None:
        self.subs[sub] = None
        self._snapshot = None

    def discard(self, sub: RedisSubscription) -> None:
        self.subs.pop(sub, None)
        self._snapshot = None

    def handlers(self) -> tuple[RedisSubscription, ...]:
        """The subscriptions as a tuple, rebuilt only after a change (cheap per message)."""
        snap = self._snapshot
        if snap is None:
            snap = self._snapshot = tuple(self.subs)
        return snap

    def sent(self, subscribe: bool) -> None:
        """Record that a SUBSCRIBE (True) or UNSUBSCRIBE (False) for it was sent."""
        self.active = subscribe
        self.inflight += 1
        self.ready.clear()

    def reset(self) -> None:
        """The connection is gone, and the server-side subscription with it."""
        self.active = False
        self.inflight = 0
        self.ready.clear()


class RedisBroker:
    """Publish/subscribe over Redis; channel name = ``prefix + topic``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "palaver:",
        subscribe_timeout: float = 10.0,
        min_backoff: float = 0.05,
        max_backoff: float = 5.0,
        health_check_interval: float = 30.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._subscribe_timeout = subscribe_timeout
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._health_check_interval = health_check_interval
        # CLIENT SETNAME refuses spaces and newlines.
        self.client_name = re.sub(r"\s", "_", f"{prefix}pubsub")
        self._state = _State.NEW
        self._channels: dict[bytes, _Channel] = {}
        self._client: Redis | None = None
        self._pool: ConnectionPool | None = None
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Future[None]] = set()  # shielded writes still in progress
        self._resync = 0  # replies to the post-connect SUBSCRIBE batch still expected
        self._received = 0  # replies read on the pub/sub connection (for the watchdog)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect both links; raise ``Unavailable`` if Redis cannot be reached now."""
        if self._state is _State.CLOSED:
            raise RuntimeError("broker is closed")
        if self._state is not _State.NEW:
            return
        # A blocking pool: a burst of concurrent publishes waits for a free connection instead of failing.
        self._client = Redis.from_pool(
            BlockingConnectionPool.from_url(
                self._url,
                retry=Retry(NoBackoff(), 1),
                socket_connect_timeout=5.0,
                max_connections=PUBLISH_CONNECTIONS,
                timeout=5.0,
            )
        )
        options: dict[str, Any] = {"socket_connect_timeout": 5.0, **parse_url(self._url)}
        # Pub/sub messages are plain arrays in RESP2 (push frames in RESP3), whatever the URL says.
        options.update(client_name=self.client_name, socket_keepalive=True, protocol=2)
        self._pool = ConnectionPool(**options)
        self._conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await self._connect()
        except _LINK_ERRORS as exc:
            await self._release()
            raise Unavailable("cannot reach the Redis broker", code="broker_unavailable") from exc
        self._reader = asyncio.create_task(self._run(), name="palaver.redis-broker.reader")
        if self._health_check_interval > 0:
            self._watchdog = asyncio.create_task(self._watch(), name="palaver.redis-broker.watchdog")

    async def close(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        for task in (self._watchdog, self._reader):
            if task is not None:
                task.cancel()
        for task in (self._watchdog, self._reader):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._watchdog = self._reader = None
        for channel in self._channels.values():
            for sub in channel.subs:
                sub.open = False
            channel.ready.set()  # wake subscribe() calls still waiting; they see CLOSED and raise
        self._channels.clear()
        await self._release()
        if self._writes:  # they fail fast on the closed connection, and handle that themselves
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _release(self) -> None:
        conn, client, pool = self._conn, self._client, self._pool
        self._conn = self._client = self._pool = None
        if conn is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                await conn.disconnect()
        if client is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                await client.aclose()
        if pool is not None:
            with contextlib.suppress(*_LINK_ERRORS):
                await pool.disconnect()

    async def ping(self) -> bool:
        if self._state is not _State.UP or self._client is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), timeout=2.0))
        except (*_LINK_ERRORS, TimeoutError):
            return False

    # ------------------------------------------------------------------ publish / subscribe

    async def publish(self, topic: str, payload: bytes) -> None:
        client = self._running_client()
        try:
            await client.publish(self._prefix + topic, payload)
        except _LINK_ERRORS as exc:
            raise Unavailable("the Redis broker is unavailable", code="broker_unavailable") from exc

    async def subscribe(self, topic: str, handler: MessageHandler) -> RedisSubscription:
        self._running_client()
        key = (self._prefix + topic).encode()
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel(key, topic)
        sub = RedisSubscription(self, channel, handler)
        channel.add(sub)
        try:
            if not channel.active and self._can_send():
                channel.sent(subscribe=True)
                await self._send(b"SUBSCRIBE", key)
            if not channel.ready.is_set():
                # While the connection is down this waits for the reconnect to resubscribe.
                await asyncio.wait_for(channel.ready.wait(), self._subscribe_timeout)
        except TimeoutError:
            await sub.close()
            raise Unavailable("the Redis broker did not confirm the subscription", code="broker_unavailable") from None
        except BaseException:
            await sub.close()
            raise
        if self._state is _State.CLOSED:
            raise RuntimeError("broker is closed")
        return sub

    async def _unsubscribe(self, sub: RedisSubscription, channel: _Channel) -> None:
        channel.discard(sub)
        if channel.subs or self._state is _State.CLOSED:
            return
        if channel.active and self._can_send():
            channel.sent(subscribe=False)
            await self._send(b"UNSUBSCRIBE", channel.key)
        elif channel.inflight == 0 and not channel.active:
            self._forget(channel)

    def _forget(self, channel: _Channel) -> None:
        if self._channels.get(channel.key) is channel:
            del self._channels[channel.key]

    def _running_client(self) -> Redis:
        if self._state is _State.CLOSED:
            raise RuntimeError("broker is closed")
        if self._client is None:
            raise RuntimeError("broker is not started")
        return self._client

    # ------------------------------------------------------------------ the pub/sub connection

    def _can_send(self) -> bool:
        conn = self._conn
        return self._state in (_State.SYNCING, _State.UP) and conn is not None and conn.is_connected

    async def _send(self, *args: bytes) -> None:
        """Write one command on the pub/sub connection.

        Shielded: redis-py drops the connection when a write is cancelled halfway, and one
        cancelled caller must not take every other subscription down with it. The shielded
        writes run in the order they were issued, which keeps the reply accounting right.
        """
        task = asyncio.ensure_future(self._write(args))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        await asyncio.shield(task)

    async def _write(self, args: tuple[bytes, ...]) -> None:
        conn = self._conn
        if conn is None or not conn.is_connected:
            return  # the reconnect resubscribes whatever still has handlers
        try:
            await conn.send_packed_command(conn.pack_command(*args), check_health=False)
        except _LINK_ERRORS as exc:
            # The reader hits the same broken connection, reconnects and resubscribes.
            log.debug("redis broker: sending %s failed: %s", args[0].decode(), exc)

    async def _connect(self) -> None:
        """Open the pub/sub connection and subscribe every topic that has handlers."""
        conn = self._conn
        assert conn is not None
        await conn.connect()  # type: ignore[no-untyped-call]
        if self._state is _State.CLOSED:
            return
        wanted = []
        for key, channel in list(self._channels.items()):
            channel.reset()
            if channel.subs:
                channel.sent(subscribe=True)
                wanted.append(key)
            else:
                self._forget(channel)
        self._resync = len(wanted)
        self._state = _State.SYNCING if wanted else _State.UP
        if wanted:
            # Issued before any later SUBSCRIBE, so the first len(wanted) replies are for it.
            await self._send(b"SUBSCRIBE", *wanted)

    def _link_lost(self) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.DOWN
        self._resync = 0
        for channel in list(self._channels.values()):
            channel.reset()
            if not channel.subs:
                self._forget(channel)

    async def _run(self) -> None:
        """The reader: dispatch messages; on a lost connection reconnect with backoff."""
        conn = self._conn
        assert conn is not None
        while True:
            try:
                await self._read(conn)
            except _LINK_ERRORS as exc:
                log.warning("redis broker: pub/sub connection lost (%s); reconnecting", exc)
            except Exception:
                log.exception("redis broker: unexpected error on the pub/sub connection; reconnecting")
            self._link_lost()
            with contextlib.suppress(*_LINK_ERRORS):
                await conn.disconnect(nowait=True)
            delay = self._min_backoff
            while True:
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, self._max_backoff)
                try:
                    await self._connect()
                    break
                except _LINK_ERRORS as exc:
                    log.warning("redis broker: reconnect failed (%s)", exc)
                except Exception:  # the reader must outlive anything; keep trying
                    log.exception("redis broker: unexpected error while reconnecting")
                with contextlib.suppress(*_LINK_ERRORS):
                    await conn.disconnect(nowait=True)
            log.info("redis broker: pub/sub connection restored")

    async def _read(self, conn: AbstractConnection) -> None:
        channels = self._channels
        read = conn.read_response
        while True:
            reply: Any = await read(disable_decoding=True, timeout=math.inf)
            self._received += 1
            kind = reply[0]
            if kind == b"message":
                channel = channels.get(reply[1])
                if channel is not None:
                    self._deliver(channel, reply[2])
            elif kind == b"subscribe" or kind == b"unsubscribe":
                self._acknowledged(reply[1])
            # anything else ("pong" from the watchdog) only proves the connection is alive

    def _acknowledged(self, key: bytes) -> None:
        if self._resync:
            self._resync -= 1
            if self._resync == 0 and self._state is _State.SYNCING:
                self._state = _State.UP
        channel = self._channels.get(key)
        if channel is None or channel.inflight == 0:
            return
        channel.inflight -= 1
        if channel.inflight == 0:
            if channel.active:
                channel.ready.set()
            elif not channel.subs:
                self._forget(channel)

    def _deliver(self, channel: _Channel, payload: bytes) -> None:
        topic = channel.topic
        for sub in channel.handlers():
            if not sub.open:  # closed by an earlier handler of this same delivery
                continue
            try:
                sub.handler(topic, payload)
            except Exception:
                log.exception("broker handler failed on topic %r", topic)

    async def _watch(self) -> None:
        """Detect a silently dead connection: PING after a quiet interval, drop it if no answer."""
        interval = self._health_check_interval
        while True:
            seen = self._received
            await asyncio.sleep(interval)
            if self._received != seen or not self._can_send():
                continue
            await self._send(b"PING")
            await asyncio.sleep(interval)
            conn = self._conn
            if self._received == seen and self._can_send() and conn is not None:
                log.warning("redis broker: no answer to PING in %.0f s; dropping the connection", interval)
                with contextlib.suppress(*_LINK_ERRORS):
                    await conn.disconnect(nowait=True)
