"""The gateway's JSON frames: msgspec Structs, one decoder for every client frame, reused encoders.

Client frames are a tagged union on ``"type"``, so decoding is a single call. Server frames are
encoded by one shared encoder; the constant ones are pre-encoded bytes.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from palaver.adapters.gateway.codes import ErrorCode

# --------------------------------------------------------------------------- client → server


class AuthFrame(msgspec.Struct, tag_field="type", tag="auth", frozen=True, gc=False):
    token: str


class PingFrame(msgspec.Struct, tag_field="type", tag="ping", frozen=True, gc=False):
    pass


class RequestFrame(msgspec.Struct, tag_field="type", tag="req", frozen=True, gc=False):
    id: int
    method: str
    params: dict[str, Any] = {}


ClientFrame = AuthFrame | PingFrame | RequestFrame
CLIENT_FRAME_TYPES: Final = frozenset({"auth", "ping", "req"})


class _Envelope(msgspec.Struct, gc=False):
    """Lenient view of a frame that failed validation: enough to tell why and to echo its id."""

    type: Any = None
    id: Any = None


class FrameError(Exception):
    """A text frame the gateway cannot accept; ``request_id`` is echoed when the client sent one."""

    def __init__(self, code: ErrorCode, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class FrameDecoder:
    """Decodes client frames; raises ``FrameError`` with a stable code."""

    __slots__ = ("_decode", "_decode_envelope")

    def __init__(self) -> None:
        decoder: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)
        self._decode = decoder.decode
        self._decode_envelope = msgspec.json.Decoder(_Envelope).decode

    def decode(self, data: bytes | bytearray | memoryview) -> ClientFrame:
        try:
            return self._decode(data)
        except msgspec.ValidationError as exc:
            raise self._classify(data, str(exc)) from None
        except msgspec.DecodeError:
            raise FrameError(ErrorCode.MALFORMED_FRAME, "The frame is not valid JSON.") from None

    def _classify(self, data: bytes | bytearray | memoryview, detail: str) -> FrameError:
        try:
            envelope = self._decode_envelope(data)
        except msgspec.DecodeError:
            return FrameError(ErrorCode.INVALID_FRAME, "A frame is a JSON object.")
        if envelope.type not in CLIENT_FRAME_TYPES:
            return FrameError(ErrorCode.UNKNOWN_FRAME_TYPE, f"Unknown frame type: {repr(envelope.type)[:64]}.")
        request_id = envelope.id if type(envelope.id) is int else None
        return FrameError(ErrorCode.INVALID_FRAME, detail, request_id)


# --------------------------------------------------------------------------- server → client


class ReadyFrame(msgspec.Struct, tag_field="type", tag="ready", frozen=True, gc=False):
    user_id: str
    session_id: str
    heartbeat: float


class ResultFrame(msgspec.Struct, tag_field="type", tag="res", frozen=True, gc=False):
    id: int
    result: Any


class ErrorFrame(msgspec.Struct, tag_field="type", tag="err", frozen=True, gc=False, omit_defaults=True):
    code: str
    message: str
    id: int | None = None
    retry_after: float | None = None


class _EventHeader(msgspec.Struct, gc=False):
    event: Any = None


PONG: Final = b'{"type":"pong"}'
SESSION_REVOKED_EVENT: Final = "session.revoked"
_REVOKED_NEEDLE: Final = b'"session.revoked"'


class FrameEncoder:
    """Encodes server frames with one reused msgspec encoder."""

    __slots__ = ("_encode", "_event_header")

    def __init__(self) -> None:
        self._encode = msgspec.json.Encoder().encode
        self._event_header = msgspec.json.Decoder(_EventHeader).decode

    def ready(self, user_id: int, session_id: int, heartbeat: float) -> bytes:
        return self._encode(ReadyFrame(str(user_id), str(session_id), heartbeat))

    def result(self, request_id: int, result: object) -> bytes:
        """Raises ``TypeError``/``msgspec.EncodeError`` when ``result`` is not JSON-able."""
        return self._encode(ResultFrame(request_id, result))

    def error(self, code: str, message: str, request_id: int | None = None, retry_after: float | None = None) -> bytes:
        return self._encode(ErrorFrame(code, message, request_id, retry_after))

    def is_session_revoked(self, payload: bytes) -> bool:
        """True when an event payload is ``{"event": "session.revoked", ...}``. Cheap for other payloads."""
        if _REVOKED_NEEDLE not in payload:
            return False
        try:
            event: object = self._event_header(payload).event
        except msgspec.DecodeError:
            return False
        return event == SESSION_REVOKED_EVENT
