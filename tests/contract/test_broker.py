"""The Broker contract: every backend passes the same suite.

Redis runs at 127.0.0.1:6379; each test uses its own channel prefix, so tests are isolated from
each other and from anything else on that server. Pub/sub creates no keys, so nothing is deleted.

Proving that something was *not* delivered never sleeps: a "barrier" message is published after
it, on a topic the same subscriber side listens to, and messages from one publisher reach one
subscriber in publish order, so once the barrier has arrived the other message would have too.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from palaver.adapters.broker import MemoryBroker, RedisBroker, make_broker
from palaver.ports import Broker, Subscription

REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 10.0


class Inbox:
    """A handler that records what it gets and lets a test wait for a number of messages."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []
        self._want = 0
        self._enough = asyncio.Event()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.append((topic, payload))
        if len(self.items) >= self._want:
            self._enough.set()

    @property
    def payloads(self) -> list[bytes]:
        return [payload for _, payload in self.items]

    async def wait_for(self, count: int, within: float = TIMEOUT) -> None:
        """Return once ``count`` messages have arrived; fail after ``within`` seconds."""
        self._want = count
        if len(self.items) < count:
            self._enough.clear()
            await asyncio.wait_for(self._enough.wait(), within)


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = TIMEOUT) -> None:
    """Poll an async predicate (a state with no event to wait on) until it holds; fail after
    ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.01)


def unique_prefix() -> str:
    return f"test:{uuid4().hex}:"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    b = make_broker(request.param, redis_url=REDIS_URL, prefix=unique_prefix())
    await b.start()
    try:
        yield b
    finally:
        await b.close()


async def barrier(broker: Broker, inbox: Inbox, count: int) -> None:
    """Publish a marker that ``inbox`` (subscribed to "barrier") receives as its ``count``-th message."""
    await broker.publish("barrier", b"barrier")
    await inbox.wait_for(count)


# ---------------------------------------------------------------------------- the contract


async def test_publish_subscribe_roundtrip(broker: Broker) -> None:
    inbox = Inbox()
    await broker.subscribe("room.1", inbox)
    await broker.publish("room.1", b"hello")  # right after subscribe(): it must already be live
    await inbox.wait_for(1)
    assert inbox.items == [("room.1", b"hello")]


async def test_topics_are_isolated(broker: Broker) -> None:
    a, b = Inbox(), Inbox()
    await broker.subscribe("a", a)
    await broker.subscribe("b", b)
    await broker.subscribe("barrier", b)
    await broker.publish("a", b"for a")
    await broker.publish("unheard", b"nobody listens")
    await barrier(broker, b, 1)
    await a.wait_for(1)
    assert a.items == [("a", b"for a")]
    assert b.items == [("barrier", b"barrier")]


async def test_topic_names_are_exact_not_patterns(broker: Broker) -> None:
    inbox = Inbox()
    await broker.subscribe("user.*", inbox)
    await broker.subscribe("barrier", inbox)
    await broker.publish("user.1", b"x")
    await barrier(broker, inbox, 1)
    assert inbox.payloads == [b"barrier"]


async def test_several_handlers_on_one_topic_each_get_every_message(broker: Broker) -> None:
    inboxes = [Inbox() for _ in range(3)]
    for inbox in inboxes:
        await broker.subscribe("t", inbox)
    await broker.publish("t", b"1")
    await broker.publish("t", b"2")
    for inbox in inboxes:
        await inbox.wait_for(2)
        assert inbox.items == [("t", b"1"), ("t", b"2")]


async def test_same_handler_subscribed_twice_gets_each_message_twice(broker: Broker) -> None:
    inbox = Inbox()
    first = await broker.subscribe("t", inbox)
    await broker.subscribe("t", inbox)
    await broker.publish("t", b"x")
    await inbox.wait_for(2)
    assert inbox.payloads == [b"x", b"x"]
    await first.close()
    await broker.publish("t", b"y")
    await inbox.wait_for(3)
    assert inbox.payloads == [b"x", b"x", b"y"]


async def test_order_is_preserved_for_1000_messages(broker: Broker) -> None:
    inbox = Inbox()
    await broker.subscribe("seq", inbox)
    sent = [i.to_bytes(4, "big") for i in range(1000)]
    for payload in sent:
        await broker.publish("seq", payload)
    await inbox.wait_for(1000)
    assert inbox.payloads == sent


async def test_a_burst_of_concurrent_publishes_all_arrive(broker: Broker) -> None:
    """More publishes at once than a connection pool holds: they wait for a connection, none fails."""
    inbox = Inbox()
    await broker.subscribe("burst", inbox)
    sent = {i.to_bytes(4, "big") for i in range(500)}
    await asyncio.gather(*(broker.publish("burst", payload) for payload in sent))
    await inbox.wait_for(500)
    assert set(inbox.payloads) == sent


async def test_unsubscribe_stops_delivery_and_others_continue(broker: Broker) -> None:
    leaving, staying = Inbox(), Inbox()
    sub = await broker.subscribe("t", leaving)
    await broker.subscribe("t", staying)
    await broker.publish("t", b"1")
    await staying.wait_for(1)
    await leaving.wait_for(1)

    await sub.close()
    await broker.publish("t", b"2")
    await staying.wait_for(2)  # delivered to "staying" from the same message "leaving" would get
    assert staying.payloads == [b"1", b"2"]
    assert leaving.payloads == [b"1"]


async def test_unsubscribing_the_last_handler_stops_delivery(broker: Broker) -> None:
    inbox, marker = Inbox(), Inbox()
    sub = await broker.subscribe("t", inbox)
    await broker.subscribe("barrier", marker)
    await sub.close()
    await broker.publish("t", b"after close")
    await barrier(broker, marker, 1)
    assert inbox.items == []


async def test_resubscribing_after_unsubscribe_works(broker: Broker) -> None:
    inbox = Inbox()
    for _ in range(5):
        sub = await broker.subscribe("t", inbox)
        await sub.close()
    await broker.subscribe("t", inbox)
    await broker.publish("t", b"x")
    await inbox.wait_for(1)
    assert inbox.payloads == [b"x"]


async def test_concurrent_subscribe_and_unsubscribe_churn(broker: Broker) -> None:
    """Interleaved SUBSCRIBE/UNSUBSCRIBE of one topic leave exactly the open handlers live."""
    noise = Inbox()

    async def churn() -> None:
        for _ in range(10):
            sub = await broker.subscribe("t", noise)
            await sub.close()

    keeper = Inbox()
    subscribed = broker.subscribe("t", keeper)
    await asyncio.gather(churn(), churn(), churn(), subscribed)
    await broker.publish("t", b"x")
    await keeper.wait_for(1)
    assert keeper.payloads == [b"x"]
    assert noise.items == []


async def test_subscription_close_is_idempotent(broker: Broker) -> None:
    inbox = Inbox()
    sub = await broker.subscribe("t", inbox)
    await sub.close()
    await sub.close()


async def test_broker_close_is_idempotent(broker: Broker) -> None:
    sub = await broker.subscribe("t", Inbox())
    await broker.close()
    await broker.close()
    await sub.close()  # closing a subscription of a closed broker is harmless
    assert await broker.ping() is False


async def test_closed_broker_refuses_publish_and_subscribe(broker: Broker) -> None:
    await broker.close()
    with pytest.raises(RuntimeError):
        await broker.publish("t", b"x")
    with pytest.raises(RuntimeError):
        await broker.subscribe("t", Inbox())


async def test_handler_exception_does_not_break_delivery(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    def explode(topic: str, payload: bytes) -> None:
        raise ValueError("handler bug")

    inbox = Inbox()
    await broker.subscribe("t", explode)  # first, so the others come after it
    await broker.subscribe("t", inbox)
    with caplog.at_level(logging.ERROR):
        await broker.publish("t", b"1")
        await broker.publish("t", b"2")
        await inbox.wait_for(2)
    assert inbox.payloads == [b"1", b"2"]
    assert any("handler failed" in record.getMessage() for record in caplog.records)
    assert await broker.ping()


async def test_closing_subscriptions_from_inside_a_handler_is_safe(broker: Broker) -> None:
    closing: list[asyncio.Task[None]] = []
    subs: list[Subscription] = []
    inbox, marker = Inbox(), Inbox()

    def close_all(topic: str, payload: bytes) -> None:
        inbox(topic, payload)
        if not closing:
            closing.extend(asyncio.get_running_loop().create_task(s.close()) for s in subs)

    subs.append(await broker.subscribe("t", close_all))
    subs.append(await broker.subscribe("t", Inbox()))
    await broker.subscribe("barrier", marker)
    for i in range(50):
        await broker.publish("t", str(i).encode())
    await inbox.wait_for(1)
    await asyncio.gather(*closing)
    received = len(inbox.items)
    await broker.publish("t", b"after")
    await barrier(broker, marker, 1)
    assert len(inbox.items) == received
    assert b"after" not in inbox.payloads


async def test_large_payload(broker: Broker) -> None:
    inbox = Inbox()
    await broker.subscribe("big", inbox)
    payload = os.urandom(1 << 20)
    await broker.publish("big", payload)
    await inbox.wait_for(1)
    assert inbox.payloads == [payload]


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00", bytes(range(256)), b"\r\n*3\r\n$7\r\nmessage\r\n", "héllo ✓".encode(), b"\xff\xfe\x80"],
    ids=["empty", "nul", "all-bytes", "resp-lookalike", "utf8", "invalid-utf8"],
)
async def test_binary_payload_is_preserved_exactly(broker: Broker, payload: bytes) -> None:
    inbox = Inbox()
    await broker.subscribe("bin", inbox)
    await broker.publish("bin", payload)
    await inbox.wait_for(1)
    [(topic, got)] = inbox.items
    assert type(got) is bytes
    assert got == payload
    assert topic == "bin"


async def test_unicode_topic(broker: Broker) -> None:
    inbox = Inbox()
    await broker.subscribe("chat.Ωmega", inbox)
    await broker.publish("chat.Ωmega", b"x")
    await inbox.wait_for(1)
    assert inbox.items == [("chat.Ωmega", b"x")]


async def test_ping(broker: Broker) -> None:
    assert await broker.ping() is True
    await broker.close()
    assert await broker.ping() is False


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_not_started_broker(kind: str) -> None:
    b = make_broker(kind, redis_url=REDIS_URL, prefix=unique_prefix())  # type: ignore[arg-type]
    assert await b.ping() is False
    with pytest.raises(RuntimeError):
        await b.publish("t", b"x")
    await b.close()


# ---------------------------------------------------------------------------- factory


def test_make_broker_kinds() -> None:
    assert isinstance(make_broker("memory", redis_url=None, prefix="p:"), MemoryBroker)
    assert isinstance(make_broker("redis", redis_url=REDIS_URL, prefix="p:"), RedisBroker)
    with pytest.raises(ValueError, match="redis_url"):
        make_broker("redis", redis_url=None, prefix="p:")


# ---------------------------------------------------------------------------- Redis only


@pytest.fixture
async def redis_admin() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


async def pubsub_client_ids(admin: aioredis.Redis, name: str) -> list[int]:
    clients = await admin.client_list(_type="pubsub")
    return [int(c["id"]) for c in clients if c.get("name") == name]


async def kill_client(admin: aioredis.Redis, client_id: int) -> int:
    """CLIENT KILL ID: drops exactly that connection (our own), nobody else's."""
    killed: int = await admin.execute_command("CLIENT", "KILL", "ID", client_id)  # type: ignore[no-untyped-call]
    return killed


@pytest.mark.redis
async def test_redis_two_instances_share_topics_by_prefix() -> None:
    prefix = unique_prefix()
    node_a, node_b = RedisBroker(REDIS_URL, prefix=prefix), RedisBroker(REDIS_URL, prefix=prefix)
    other = RedisBroker(REDIS_URL, prefix=unique_prefix())
    for b in (node_a, node_b, other):
        await b.start()
    try:
        inbox, stranger = Inbox(), Inbox()
        await node_a.subscribe("t", inbox)
        await other.subscribe("t", stranger)
        await other.subscribe("barrier", stranger)
        await node_b.publish("t", b"across nodes")
        await inbox.wait_for(1)
        assert inbox.items == [("t", b"across nodes")]
        await barrier(other, stranger, 1)
        assert stranger.payloads == [b"barrier"]  # a different prefix is a different namespace
    finally:
        for b in (node_a, node_b, other):
            await b.close()


@pytest.mark.redis
async def test_redis_uses_one_pubsub_connection_for_all_subscriptions(redis_admin: aioredis.Redis) -> None:
    b = RedisBroker(REDIS_URL, prefix=unique_prefix())
    await b.start()
    try:
        for i in range(20):
            await b.subscribe(f"t{i % 5}", Inbox())
        [client_id] = await pubsub_client_ids(redis_admin, b.client_name)
        [info] = [c for c in await redis_admin.client_list(_type="pubsub") if int(c["id"]) == client_id]
        assert info["sub"] == "5"  # one SUBSCRIBE per topic, not per handler
    finally:
        await b.close()
    assert await pubsub_client_ids(redis_admin, b.client_name) == []


@pytest.mark.redis
async def test_redis_reconnects_and_resubscribes_after_the_connection_is_killed(
    redis_admin: aioredis.Redis,
) -> None:
    # A longer first backoff makes the disconnected window wide enough to observe.
    b = RedisBroker(REDIS_URL, prefix=unique_prefix(), min_backoff=0.5, max_backoff=1.0)
    await b.start()
    try:
        first, second, late = Inbox(), Inbox(), Inbox()
        await b.subscribe("one", first)
        await b.subscribe("two", second)
        await b.publish("one", b"before")
        await first.wait_for(1)

        [old_id] = await pubsub_client_ids(redis_admin, b.client_name)
        assert await kill_client(redis_admin, old_id) == 1

        async def is_down() -> bool:
            return not await b.ping()

        await wait_until(is_down)
        # Subscribing while disconnected waits for the reconnect to confirm it.
        late_sub = asyncio.create_task(b.subscribe("three", late))
        await wait_until(b.ping)

        [new_id] = await pubsub_client_ids(redis_admin, b.client_name)
        assert new_id != old_id
        await late_sub
        await b.publish("one", b"after")
        await b.publish("two", b"after")
        await b.publish("three", b"after")
        await first.wait_for(2)
        await second.wait_for(1)
        await late.wait_for(1)
        assert first.payloads == [b"before", b"after"]
        assert second.payloads == [b"after"]
        assert late.payloads == [b"after"]
    finally:
        await b.close()


@pytest.mark.redis
async def test_redis_publish_while_disconnected_does_not_break_the_broker(redis_admin: aioredis.Redis) -> None:
    b = RedisBroker(REDIS_URL, prefix=unique_prefix())
    await b.start()
    try:
        inbox = Inbox()
        await b.subscribe("t", inbox)
        [old_id] = await pubsub_client_ids(redis_admin, b.client_name)
        await kill_client(redis_admin, old_id)
        await b.publish("t", b"maybe lost")  # at-most-once: may or may not arrive, must not raise

        async def reconnected() -> bool:
            ids = await pubsub_client_ids(redis_admin, b.client_name)
            return bool(ids) and ids != [old_id] and await b.ping()

        await wait_until(reconnected)
        await b.publish("t", b"after")
        await wait_until(lambda: _contains(inbox, b"after"))
    finally:
        await b.close()


async def _contains(inbox: Inbox, payload: bytes) -> bool:
    return payload in inbox.payloads


async def test_redis_unreachable_at_start_raises_unavailable() -> None:
    from palaver.errors import Unavailable

    b = RedisBroker("redis://127.0.0.1:1/0", prefix=unique_prefix())
    with pytest.raises(Unavailable):
        await b.start()
    assert await b.ping() is False
    await b.close()


class TcpProxy:
    """A loopback TCP proxy to Redis that a test can take down, bring back, or freeze."""

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Outage: refuse new connections and cut the open ones."""
        self._flowing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def freeze(self) -> None:
        """Keep every connection open but pass no bytes (a silently dead peer)."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            dst.close()
            self._writers.discard(dst)


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    p = TcpProxy()
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.mark.redis
async def test_redis_outage_then_recovery(proxy: TcpProxy, caplog: pytest.LogCaptureFixture) -> None:
    from palaver.errors import Unavailable

    b = RedisBroker(proxy.url, prefix=unique_prefix(), min_backoff=0.02, max_backoff=0.1, subscribe_timeout=0.3)
    await b.start()
    try:
        inbox = Inbox()
        await b.subscribe("t", inbox)
        with caplog.at_level(logging.WARNING, logger="palaver.adapters.broker.redis"):
            await proxy.stop()

            async def is_down() -> bool:
                return not await b.ping()

            await wait_until(is_down)
            with pytest.raises(Unavailable):
                await b.publish("t", b"into the void")
            with pytest.raises(Unavailable):  # cannot be confirmed before subscribe_timeout
                await b.subscribe("u", Inbox())

            async def failed_reconnects() -> bool:
                return sum("reconnect failed" in r.getMessage() for r in caplog.records) >= 3

            await wait_until(failed_reconnects)  # it keeps trying, with backoff
            await proxy.start()  # same port
            await wait_until(b.ping)

        await b.publish("t", b"back")
        await inbox.wait_for(1)
        assert inbox.payloads == [b"back"]
        late = Inbox()
        await b.subscribe("u", late)
        await b.publish("u", b"new topic")
        await late.wait_for(1)
    finally:
        await b.close()


@pytest.mark.redis
async def test_redis_silent_connection_is_detected_and_replaced(proxy: TcpProxy) -> None:
    b = RedisBroker(proxy.url, prefix=unique_prefix(), health_check_interval=0.2, min_backoff=0.02)
    await b.start()
    try:
        inbox = Inbox()
        await b.subscribe("t", inbox)
        connections = proxy.accepted  # pub/sub + publisher
        proxy.freeze()

        async def reconnect_attempted() -> bool:
            return proxy.accepted > connections

        await wait_until(reconnect_attempted)  # the watchdog's PING went unanswered
        proxy.thaw()
        await wait_until(b.ping)
        await b.publish("t", b"after")
        await inbox.wait_for(1)
        assert inbox.payloads == [b"after"]
    finally:
        await b.close()
