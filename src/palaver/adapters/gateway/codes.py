"""Stable numbers and strings the gateway puts on the wire: close codes and error codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class CloseCode(IntEnum):
    """WebSocket close codes the gateway sends (RFC 6455 §7.4 plus the 4000–4999 private range)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # the server is shutting down
    ABNORMAL = 1006  # never sent: recorded when the TCP connection dropped without a close frame
    INTERNAL_ERROR = 1011
    MESSAGE_TOO_BIG = 1009
    TRY_AGAIN_LATER = 1013  # the authenticator's dependencies are unavailable
    PROTOCOL_ERROR = 4000
    UNAUTHENTICATED = 4001
    AUTH_TIMEOUT = 4002
    SESSION_REVOKED = 4003
    RATE_LIMITED = 4008
    SLOW_CONSUMER = 4009
    HEARTBEAT_TIMEOUT = 4010


class ErrorCode(StrEnum):
    """``code`` of the gateway's own ``err`` frames (handlers add their ``PalaverError.code``s)."""

    MALFORMED_FRAME = "malformed_frame"  # not JSON
    UNKNOWN_FRAME_TYPE = "unknown_frame_type"
    INVALID_FRAME = "invalid_frame"  # JSON, known type, wrong fields
    UNSUPPORTED_DATA = "unsupported_data"  # a binary frame
    UNKNOWN_METHOD = "unknown_method"
    INVALID_PARAMS = "invalid_params"  # a request's params do not match the method's schema
    TOPIC_NOT_ALLOWED = "topic_not_allowed"  # topics.subscribe to a topic clients may not choose
    TOO_MANY_REQUESTS = "too_many_requests"  # too many requests in flight on this connection
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
