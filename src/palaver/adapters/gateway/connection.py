"""One client connection as a sans-io state machine.

The binding feeds it what arrived (text, binary, WebSocket pings) with the current monotonic time and
executes the actions it returns; it never reads a clock or touches a socket itself::

    AWAITING_AUTH --auth frame--> AUTHENTICATING --authenticated()--> READY
          \\                           \\                              |
           `------- close(...) --------`-----------------------------`--> CLOSING --closed()--> CLOSED

Actions: ``Authenticate`` (check this token), ``Dispatch`` (run this request), ``Send`` (these bytes),
``Close`` (send a close frame with this code), ``Abort`` (drop the TCP connection now).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Final

import msgspec

from palaver.adapters.gateway.codes import CloseCode, ErrorCode
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.frames import (
    PONG,
    AuthFrame,
    FrameDecoder,
    FrameEncoder,
    FrameError,
    PingFrame,
    RequestFrame,
)
from palaver.domain.ratelimit import TokenBucket
from palaver.domain.sessions import Principal
from palaver.errors import PalaverError, Unauthenticated

logger = logging.getLogger(__name__)

MAX_CLOSE_REASON_BYTES: Final = 123  # RFC 6455 §5.5: control frame payload ≤ 125, minus the code


class ConnectionState(Enum):
    AWAITING_AUTH = "awaiting_auth"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    CLOSING = "closing"
    CLOSED = "closed"


Authenticate = AuthFrame
"""Action: authenticate ``.token``, then call ``authenticated()`` or ``authentication_failed()``."""

Dispatch = RequestFrame
"""Action: run ``.method`` with ``.params``, then call ``request_completed()`` or ``request_failed()``."""


class Send(msgspec.Struct, frozen=True, gc=False):
    data: bytes


class Close(msgspec.Struct, frozen=True, gc=False):
    code: CloseCode
    reason: str


class Abort(msgspec.Struct, frozen=True, gc=False):
    """The peer did not answer our close frame in time: drop the connection."""


Action = Authenticate | Dispatch | Send | Close | Abort

_SEND_PONG: Final = Send(PONG)
_ABORT: Final = Abort()


def _truncate_reason(reason: str) -> str:
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class GatewayConnection:
    """Protocol state of one connection; pure apart from logging."""

    __slots__ = (
        "_bad_run",
        "_bucket",
        "_config",
        "_decode",
        "_encoder",
        "_limited_run",
        "close_code",
        "closing_since",
        "in_flight",
        "last_received",
        "opened_at",
        "principal",
        "state",
    )

    def __init__(self, config: GatewayConfig, decoder: FrameDecoder, encoder: FrameEncoder, now: float) -> None:
        self._config = config
        self._decode = decoder.decode
        self._encoder = encoder
        self._bucket = TokenBucket.full(config.rate_per_second, config.rate_burst, now)
        self._bad_run = 0  # consecutive bad frames
        self._limited_run = 0  # consecutive frames dropped by the rate limit
        self.state = ConnectionState.AWAITING_AUTH
        self.principal: Principal | None = None
        self.in_flight = 0
        self.opened_at = now
        self.last_received = now
        self.closing_since = 0.0
        self.close_code: CloseCode | None = None  # the code we sent, once we sent one

    # ------------------------------------------------------------------ input from the peer

    def receive_text(self, data: bytes | bytearray | memoryview, now: float) -> Action | None:
        self.last_received = now
        if self.state is not ConnectionState.READY:
            return self._receive_before_ready(data, now)
        if not self._bucket.take(now):
            return self._rate_limited(data, now)
        self._limited_run = 0
        try:
            frame = self._decode(data)
        except FrameError as exc:
            return self._bad_frame(exc, now)
        self._bad_run = 0
        if type(frame) is RequestFrame:
            if self.in_flight >= self._config.max_in_flight:
                message = f"At most {self._config.max_in_flight} requests may be in flight."
                return Send(self._encoder.error(ErrorCode.TOO_MANY_REQUESTS, message, frame.id))
            self.in_flight += 1
            return frame
        if type(frame) is PingFrame:
            return _SEND_PONG
        return self._bad_frame(FrameError(ErrorCode.INVALID_FRAME, "Already authenticated."), now)

    def receive_binary(self, now: float) -> Action | None:
        self.last_received = now
        if self.state is not ConnectionState.READY:
            return self._receive_before_ready(b"", now)
        if not self._bucket.take(now):
            return self._rate_limited(b"", now)
        self._limited_run = 0
        error = FrameError(ErrorCode.UNSUPPORTED_DATA, "Frames are JSON text; binary frames are not supported.")
        return self._bad_frame(error, now)

    def note_activity(self, now: float) -> None:
        """A WebSocket ping or pong arrived: the peer is alive."""
        self.last_received = now

    def _receive_before_ready(self, data: bytes | bytearray | memoryview, now: float) -> Action | None:
        if self.state is ConnectionState.AWAITING_AUTH:
            try:
                frame = self._decode(data) if data else None
            except FrameError:
                frame = None
            if type(frame) is AuthFrame:
                self.state = ConnectionState.AUTHENTICATING
                return frame
            return self.close(CloseCode.PROTOCOL_ERROR, "The first frame must be auth.", now)
        if self.state is ConnectionState.AUTHENTICATING:
            return self.close(CloseCode.PROTOCOL_ERROR, "Wait for ready before sending more frames.", now)
        return None  # CLOSING or CLOSED: ignore

    def _bad_frame(self, exc: FrameError, now: float) -> Action | None:
        self._bad_run += 1
        if self._bad_run >= self._config.max_bad_frames:
            return self.close(CloseCode.PROTOCOL_ERROR, f"{self._bad_run} bad frames in a row.", now)
        return Send(self._encoder.error(exc.code, exc.message, exc.request_id))

    def _rate_limited(self, data: bytes | bytearray | memoryview, now: float) -> Action | None:
        self._limited_run += 1
        if self._limited_run >= 2 * self._config.rate_burst:
            return self.close(CloseCode.RATE_LIMITED, "Rate limit exceeded.", now)
        request_id: int | None = None
        if data:
            try:
                frame = self._decode(data)
                if type(frame) is RequestFrame:
                    request_id = frame.id
            except FrameError as exc:
                request_id = exc.request_id
        retry_after = round(self._bucket.retry_after(), 3)
        return Send(self._encoder.error(ErrorCode.RATE_LIMITED, "Slow down.", request_id, retry_after))

    # ------------------------------------------------------------------ results of actions

    def authenticated(self, principal: Principal, now: float) -> bytes | None:
        """The token was good: the ``ready`` frame to send (None if the connection closed meanwhile)."""
        if self.state is not ConnectionState.AUTHENTICATING:
            return None
        self.state = ConnectionState.READY
        self.principal = principal
        self.last_received = now
        self._bucket = TokenBucket.full(self._config.rate_per_second, self._config.rate_burst, now)
        return self._encoder.ready(principal.user_id, principal.session_id, self._config.heartbeat_seconds)

    def authentication_failed(self, exc: BaseException, now: float) -> Close | None:
        if self.state is not ConnectionState.AUTHENTICATING:
            return None
        if isinstance(exc, Unauthenticated):
            return self.close(CloseCode.UNAUTHENTICATED, exc.message, now)
        if isinstance(exc, PalaverError):
            return self.close(CloseCode.TRY_AGAIN_LATER, exc.message, now)
        return self.close(CloseCode.INTERNAL_ERROR, "Internal error.", now)

    def request_completed(self, request_id: int, result: object) -> bytes:
        """The ``res`` frame for a finished request (an ``err`` one if the result is not JSON-able)."""
        self.in_flight -= 1
        try:
            return self._encoder.result(request_id, result)
        except (TypeError, msgspec.EncodeError):
            logger.exception("gateway: request %s returned a result that is not JSON-able", request_id)
            return self._encoder.error(ErrorCode.INTERNAL_ERROR, "Internal error.", request_id)

    def request_failed(self, request_id: int, exc: BaseException) -> bytes:
        """The ``err`` frame for a failed request: a ``PalaverError`` keeps its code and message."""
        self.in_flight -= 1
        if isinstance(exc, PalaverError):
            return self._encoder.error(exc.code, exc.message, request_id, exc.retry_after)
        return self._encoder.error(ErrorCode.INTERNAL_ERROR, "Internal error.", request_id)

    # ------------------------------------------------------------------ closing and time

    def close(self, code: CloseCode, reason: str, now: float) -> Close | None:
        """Start closing; None when already closing or closed."""
        if self.state is ConnectionState.CLOSING or self.state is ConnectionState.CLOSED:
            return None
        self.state = ConnectionState.CLOSING
        self.close_code = code
        self.closing_since = now
        return Close(code, _truncate_reason(reason))

    def closed(self) -> None:
        """The TCP connection is gone."""
        self.state = ConnectionState.CLOSED

    def check_timers(self, now: float) -> Close | Abort | None:
        """Called periodically: auth timeout, heartbeat timeout, close handshake timeout."""
        state = self.state
        if state is ConnectionState.READY:
            if now - self.last_received >= self._config.idle_timeout_seconds:
                return self.close(CloseCode.HEARTBEAT_TIMEOUT, "Heartbeat timeout.", now)
        elif state is ConnectionState.AWAITING_AUTH or state is ConnectionState.AUTHENTICATING:
            if now - self.opened_at >= self._config.auth_timeout_seconds:
                return self.close(CloseCode.AUTH_TIMEOUT, "Authentication timeout.", now)
        elif state is ConnectionState.CLOSING and now - self.closing_since >= self._config.close_timeout_seconds:
            return _ABORT
        return None
