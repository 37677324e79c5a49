"""Frame codec: one decoder for the client union, stable error codes, compact server frames."""

from __future__ import annotations

import json

import pytest

from palaver.adapters.gateway.codes import ErrorCode
from palaver.adapters.gateway.frames import (
    PONG,
    AuthFrame,
    FrameDecoder,
    FrameEncoder,
    FrameError,
    PingFrame,
    RequestFrame,
)


@pytest.fixture
def decoder() -> FrameDecoder:
    return FrameDecoder()


@pytest.fixture
def encoder() -> FrameEncoder:
    return FrameEncoder()


def test_decodes_each_client_frame(decoder: FrameDecoder) -> None:
    assert decoder.decode(b'{"type":"auth","token":"abc"}') == AuthFrame(token="abc")
    assert decoder.decode(b'{"type":"ping"}') == PingFrame()
    assert decoder.decode(b'{"id":9,"type":"req","method":"m","params":{"a":[1]}}') == RequestFrame(
        id=9, method="m", params={"a": [1]}
    )


def test_unknown_fields_are_ignored(decoder: FrameDecoder) -> None:
    assert decoder.decode(b'{"type":"ping","nonce":1}') == PingFrame()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.MALFORMED_FRAME),
        (b'{"type":', ErrorCode.MALFORMED_FRAME),
        (b'{"type":"pong"}', ErrorCode.UNKNOWN_FRAME_TYPE),
        (b'{"type":7}', ErrorCode.UNKNOWN_FRAME_TYPE),
        (b'"ping"', ErrorCode.INVALID_FRAME),
        (b'{"type":"auth"}', ErrorCode.INVALID_FRAME),
        (b'{"type":"auth","token":1}', ErrorCode.INVALID_FRAME),
        (b'{"type":"req","id":1.5,"method":"m"}', ErrorCode.INVALID_FRAME),
        (b'{"type":"req","id":true,"method":"m"}', ErrorCode.INVALID_FRAME),
    ],
)
def test_decode_errors_have_stable_codes(decoder: FrameDecoder, data: bytes, code: ErrorCode) -> None:
    with pytest.raises(FrameError) as caught:
        decoder.decode(data)
    assert caught.value.code is code


def test_invalid_request_keeps_its_id(decoder: FrameDecoder) -> None:
    with pytest.raises(FrameError) as caught:
        decoder.decode(b'{"type":"req","id":42,"method":3}')
    assert caught.value.request_id == 42


def test_unknown_type_message_is_short(decoder: FrameDecoder) -> None:
    with pytest.raises(FrameError) as caught:
        decoder.decode(json.dumps({"type": "x" * 10_000}).encode())
    assert len(caught.value.message) < 200


def test_server_frames(encoder: FrameEncoder) -> None:
    assert json.loads(PONG) == {"type": "pong"}
    assert json.loads(encoder.ready(2**63 - 1, 5, 25.0)) == {
        "type": "ready",
        "user_id": "9223372036854775807",
        "session_id": "5",
        "heartbeat": 25.0,
    }
    assert json.loads(encoder.result(3, [1, "a"])) == {"type": "res", "id": 3, "result": [1, "a"]}
    assert json.loads(encoder.error("bad", "Bad.")) == {"type": "err", "code": "bad", "message": "Bad."}
    assert json.loads(encoder.error("bad", "Bad.", 4, 1.5)) == {
        "type": "err",
        "code": "bad",
        "message": "Bad.",
        "id": 4,
        "retry_after": 1.5,
    }


@pytest.mark.parametrize(
    ("payload", "revoked"),
    [
        (b'{"type":"event","topic":"session:1","event":"session.revoked","data":{}}', True),
        (b'{"type":"event","topic":"session:1","event":"session.touched","data":{}}', False),
        (b'{"type":"event","event":"chat.message","data":{"text":"\\"session.revoked\\""}}', False),
        (b'{"event":"session.revoked"', False),
        (b"not json", False),
    ],
)
def test_session_revoked_detection(encoder: FrameEncoder, payload: bytes, revoked: bool) -> None:
    assert encoder.is_session_revoked(payload) is revoked
