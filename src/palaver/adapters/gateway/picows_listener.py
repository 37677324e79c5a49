"""The picows binding of one connection: feeds frames to ``GatewayConnection`` and executes its actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from types import CoroutineType

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from palaver.adapters.gateway.codes import CloseCode
from palaver.adapters.gateway.connection import (
    Abort,
    Action,
    Authenticate,
    Close,
    ConnectionState,
    Dispatch,
    GatewayConnection,
    Send,
)
from palaver.adapters.gateway.context import GatewayContext
from palaver.adapters.gateway.control import TopicChange
from palaver.adapters.gateway.router import Handler
from palaver.adapters.gateway.stepping import resume
from palaver.adapters.gateway.subscriptions import ConnectionTopics, client_subscription
from palaver.adapters.gateway.topics import session_topic, user_topic
from palaver.domain.sessions import Principal
from palaver.errors import PalaverError

logger = logging.getLogger("palaver.gateway")

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_PING = WSMsgType.PING
_PONG = WSMsgType.PONG
_CLOSE = WSMsgType.CLOSE
_UNECHOABLE_CLOSE_CODES = frozenset({1005, 1006, 1015})


def _ignore(payload: bytes) -> None:
    pass


class ConnectionListener(WSListener):
    """One WebSocket connection; also the ``Sink`` the hub pushes topic payloads to."""

    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx
        self._stats = ctx.stats
        self._monotonic = ctx.monotonic
        self._router = ctx.router
        self._lookup = ctx.router.lookup
        self._conn = GatewayConnection(ctx.config, ctx.decoder, ctx.encoder, ctx.monotonic())
        self._transport: WSTransport | None = None
        self._send: Callable[[bytes], None] = _ignore
        self._pending: list[bytes] = []  # topic payloads that arrive before ready is sent
        self.push: Callable[[bytes], None] = self._pending.append
        self._topics = ConnectionTopics(ctx.hub, self, ctx.spawn)
        self._fragments: bytearray | None = None  # a fragmented text message being reassembled
        self._fragmented_size = -1  # size of the fragmented message so far; -1 when none
        self._peer_close_code: int | None = None

    @property
    def state(self) -> ConnectionState:
        return self._conn.state

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        ctx = self._ctx
        self._transport = transport
        self._send = partial(transport.send, _TEXT)
        transport.underlying_transport.set_write_buffer_limits(high=ctx.config.max_send_buffer_bytes)
        ctx.connections.add(self)
        ctx.watched.add(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self._stats.frames_received += 1
        if frame.msg_type is _TEXT and frame.fin and self._fragmented_size < 0:
            action = self._conn.receive_text(frame.get_payload_as_memoryview(), self._monotonic())
            if type(action) is Dispatch:  # the hot path
                self._dispatch(action)
                return
        else:
            action = self._receive_other(transport, frame)
        if action is not None:
            self._execute(action)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        ctx = self._ctx
        conn = self._conn
        conn.closed()
        self._stats.count_close(self._final_close_code(transport))
        ctx.connections.discard(self)
        ctx.watched.discard(self)
        if not ctx.connections:
            ctx.all_disconnected.set()
        self.push = _ignore
        self._send = _ignore
        self._topics.refresh()
        leaving = self._topics.close()
        if leaving is not None:
            ctx.spawn(leaving)
        principal = conn.principal  # set once the connection was ready
        if principal is not None and ctx.on_disconnect is not None:
            ctx.spawn(self._notify_disconnected(ctx.on_disconnect, principal))

    def _final_close_code(self, transport: WSTransport) -> int:
        """The code of the close frame we sent (ours or the echo of the peer's), else 1006."""
        handshake = transport.close_handshake
        if handshake is not None and handshake.sent is not None:
            return int(handshake.sent.code.value)
        if self._conn.close_code is not None:
            return int(self._conn.close_code)
        return int(self._peer_close_code or CloseCode.ABNORMAL)

    def pause_writing(self) -> None:
        """The send buffer passed ``max_send_buffer_bytes``: a slow reader; drop it."""
        self.close(CloseCode.SLOW_CONSUMER, "Slow consumer.")
        self._ctx.loop.call_soon(self._abort)

    def resume_writing(self) -> None:
        pass

    # ------------------------------------------------------------------ sink and timers

    def close(self, code: CloseCode, reason: str) -> None:
        action = self._conn.close(code, reason, self._monotonic())
        if action is not None:
            self._execute(action)

    def abort(self) -> None:
        """Drop the TCP connection now, without waiting for a close handshake."""
        self._abort()

    def check_timers(self, now: float) -> None:
        action = self._conn.check_timers(now)
        if action is not None:
            self._execute(action)

    def change_topics(self, change: TopicChange) -> None:
        self._topics.change(change)

    @property
    def topics(self) -> frozenset[str]:
        return self._topics.topics

    # ------------------------------------------------------------------ frames other than whole text

    def _receive_other(self, transport: WSTransport, frame: WSFrame) -> Action | None:
        conn = self._conn
        now = self._monotonic()
        msg_type = frame.msg_type
        if msg_type is _PING:
            transport.send_pong(frame.get_payload_as_bytes())
            conn.note_activity(now)
            return None
        if msg_type is _PONG:
            conn.note_activity(now)
            return None
        if msg_type is _CLOSE:
            self._receive_close(transport, frame)
            return None
        if msg_type is _CONTINUATION:
            if self._fragmented_size < 0:
                return conn.close(CloseCode.PROTOCOL_ERROR, "Unexpected continuation frame.", now)
            return self._continue_message(frame, now)
        if self._fragmented_size >= 0:
            return conn.close(CloseCode.PROTOCOL_ERROR, "A new message began inside a fragmented one.", now)
        if not frame.fin:
            self._fragmented_size = 0
            self._fragments = bytearray() if msg_type is _TEXT else None
            return self._continue_message(frame, now)
        if msg_type is _BINARY:
            return conn.receive_binary(now)
        return conn.receive_text(frame.get_payload_as_memoryview(), now)

    def _continue_message(self, frame: WSFrame, now: float) -> Action | None:
        self._fragmented_size += frame.payload_size
        if self._fragmented_size > self._ctx.config.max_frame_bytes:
            return self._conn.close(CloseCode.MESSAGE_TOO_BIG, "Message too big.", now)
        fragments = self._fragments
        if fragments is not None:
            fragments += frame.get_payload_as_memoryview()
        if not frame.fin:
            return None
        self._fragmented_size = -1
        self._fragments = None
        if fragments is None:
            return self._conn.receive_binary(now)
        return self._conn.receive_text(fragments, now)

    def _receive_close(self, transport: WSTransport, frame: WSFrame) -> None:
        code: int = frame.get_close_code().value
        self._peer_close_code = code if code else None
        if not transport.is_close_frame_sent:
            echo = code if 1000 <= code < 5000 and code not in _UNECHOABLE_CLOSE_CODES else 1000
            transport.send_close(WSCloseCode(echo), frame.get_close_message())
        transport.disconnect()

    # ------------------------------------------------------------------ actions

    def _execute(self, action: Action) -> None:
        if type(action) is Dispatch:
            self._dispatch(action)
        elif type(action) is Send:
            self._write(action.data)
        elif type(action) is Close:
            self._send_close(action)
        elif type(action) is Authenticate:
            self._ctx.spawn(self._authenticate(action.token))
        elif type(action) is Abort:
            self._abort()

    def _write(self, data: bytes) -> None:
        self._send(data)
        self._stats.frames_sent += 1

    def _send_close(self, action: Close) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.send_close(WSCloseCode(action.code), action.reason.encode())
        self._ctx.watched.add(self)  # the close handshake has a timeout

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.disconnect(graceful=False)

    # ------------------------------------------------------------------ requests

    def _dispatch(self, request: Dispatch) -> None:
        conn = self._conn
        principal = conn.principal
        assert principal is not None  # requests are dispatched only when READY
        request_id = request.id
        try:
            route = self._lookup(request.method)
            if route is None:
                builtin = self._builtin(request.method)
                if builtin is not None:
                    self._ctx.spawn(self._finish(request_id, request.method, builtin(principal, request.params)))
                    return
                route = self._router.resolve(request.method)  # raises UnknownMethod
            coro = route.handler(principal, request.params)
            if not route.inline or type(coro) is not CoroutineType:
                self._ctx.spawn(self._finish(request_id, request.method, coro))
                return
            yielded = coro.send(None)
        except StopIteration as done:
            self._write(conn.request_completed(request_id, done.value))
            return
        except (Exception, asyncio.CancelledError) as exc:
            self._fail(request_id, request.method, exc)
            return
        self._ctx.spawn(self._finish(request_id, request.method, resume(coro, yielded)))

    async def _finish(self, request_id: int, method: str, awaitable: Awaitable[object]) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            self._fail(request_id, method, exc)
            return
        self._write(self._conn.request_completed(request_id, result))

    def _fail(self, request_id: int, method: str, exc: BaseException) -> None:
        if not isinstance(exc, PalaverError):
            logger.error("gateway: request %r (id %s) failed", method[:64], request_id, exc_info=exc)
        self._write(self._conn.request_failed(request_id, exc))

    # ------------------------------------------------------------------ authentication and topics

    async def _authenticate(self, token: str) -> None:
        ctx = self._ctx
        conn = self._conn
        try:
            principal = await ctx.authenticator.authenticate(token)
        except Exception as exc:
            if not isinstance(exc, PalaverError):
                logger.exception("gateway: the authenticator failed")
            action = conn.authentication_failed(exc, self._monotonic())
            if action is not None:
                self._execute(action)
            return
        if conn.state is not ConnectionState.AUTHENTICATING:
            return
        topics_for = ctx.topics_for
        try:
            await self._topics.start(
                (user_topic(principal.user_id), session_topic(principal.session_id)),
                None if topics_for is None else partial(topics_for, principal),
            )
        except Exception:
            logger.exception("gateway: joining topics failed")
            self.close(CloseCode.TRY_AGAIN_LATER, "Event delivery is unavailable.")
            return
        if self._disconnected():  # while joining: close() has left or will leave every topic
            return
        ready = conn.authenticated(principal, self._monotonic())
        if ready is None:
            return
        ctx.watched.discard(self)
        self._write(ready)
        self.push = self._send
        self._topics.refresh()
        for payload in self._pending:
            self._send(payload)
        self._pending.clear()

    def _disconnected(self) -> bool:
        return self._conn.state is ConnectionState.CLOSED

    @staticmethod
    async def _notify_disconnected(hook: Callable[[Principal], Awaitable[None]], principal: Principal) -> None:
        try:
            await hook(principal)
        except Exception:
            logger.exception("gateway: the on_disconnect hook failed")

    # ------------------------------------------------------------------ methods of the gateway itself

    def _builtin(self, method: str) -> Handler | None:
        """Requests the gateway answers itself (only when the router has no such method)."""
        if method == "topics.subscribe":
            return self._subscribe
        if method == "topics.unsubscribe":
            return self._unsubscribe
        return None

    async def _subscribe(self, principal: Principal, params: dict[str, object]) -> object:
        return await client_subscription(self._topics, self._ctx.client_topics, params, join=True)

    async def _unsubscribe(self, principal: Principal, params: dict[str, object]) -> object:
        return await client_subscription(self._topics, self._ctx.client_topics, params, join=False)
