"""The connection state machine, driven with a manual clock: no sockets, no sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.adapters.gateway.codes import CloseCode, ErrorCode
from palaver.adapters.gateway.config import GatewayConfig
from palaver.adapters.gateway.connection import (
    Abort,
    Authenticate,
    Close,
    ConnectionState,
    Dispatch,
    GatewayConnection,
    Send,
)
from palaver.adapters.gateway.frames import FrameDecoder, FrameEncoder
from palaver.clock import ManualClock
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden, NotFound, RateLimited, Unauthenticated, Unavailable

ConnectionFactory = Callable[..., GatewayConnection]


def make_config() -> GatewayConfig:
    return GatewayConfig(host="127.0.0.1", port=0, allowed_origins=frozenset())


def sent(action: object) -> dict[str, object]:
    assert isinstance(action, Send), action
    decoded = json.loads(action.data)
    assert isinstance(decoded, dict)
    return decoded


def req(request_id: int, method: str = "echo", params: object = None) -> bytes:
    frame: dict[str, object] = {"type": "req", "id": request_id, "method": method}
    if params is not None:
        frame["params"] = params
    return json.dumps(frame).encode()


# --------------------------------------------------------------------------- authentication


def test_auth_must_come_first(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = new_connection()
    action = conn.receive_text(b'{"type":"auth","token":"secret"}', clock.monotonic())
    assert action == Authenticate(token="secret")
    assert conn.state is ConnectionState.AUTHENTICATING


@pytest.mark.parametrize("first", [b'{"type":"ping"}', req(1), b"not json", b'{"type":"nope"}', b"[]"])
def test_any_other_first_frame_closes_4000(new_connection: ConnectionFactory, clock: ManualClock, first: bytes) -> None:
    conn = new_connection()
    action = conn.receive_text(first, clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.PROTOCOL_ERROR
    assert conn.state is ConnectionState.CLOSING


def test_binary_first_frame_closes_4000(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    action = new_connection().receive_binary(clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.PROTOCOL_ERROR


def test_frames_while_authenticating_close_4000(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = new_connection()
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    action = conn.receive_text(b'{"type":"ping"}', clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.PROTOCOL_ERROR


def test_ready_frame_carries_ids_as_strings(
    new_connection: ConnectionFactory, clock: ManualClock, principal: Principal
) -> None:
    conn = new_connection(heartbeat_seconds=12.5)
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    ready = conn.authenticated(principal, clock.monotonic())
    assert ready is not None
    assert json.loads(ready) == {
        "type": "ready",
        "user_id": str(principal.user_id),
        "session_id": str(principal.session_id),
        "heartbeat": 12.5,
    }
    assert conn.state is ConnectionState.READY
    assert conn.principal == principal


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (Unauthenticated("Bad token."), CloseCode.UNAUTHENTICATED),
        (Unavailable("Database down."), CloseCode.TRY_AGAIN_LATER),
        (RuntimeError("bug"), CloseCode.INTERNAL_ERROR),
    ],
)
def test_failed_authentication_closes(
    new_connection: ConnectionFactory, clock: ManualClock, error: Exception, code: CloseCode
) -> None:
    conn = new_connection()
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    action = conn.authentication_failed(error, clock.monotonic())
    assert action is not None
    assert action.code is code
    assert conn.close_code is code


def test_bad_token_reason_is_the_error_message(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = new_connection()
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    action = conn.authentication_failed(Unauthenticated("Bad token."), clock.monotonic())
    assert action == Close(CloseCode.UNAUTHENTICATED, "Bad token.")


def test_authentication_result_after_close_is_ignored(
    new_connection: ConnectionFactory, clock: ManualClock, principal: Principal
) -> None:
    conn = new_connection()
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    conn.close(CloseCode.GOING_AWAY, "bye", clock.monotonic())
    assert conn.authenticated(principal, clock.monotonic()) is None
    assert conn.authentication_failed(Unauthenticated("x"), clock.monotonic()) is None
    assert conn.state is ConnectionState.CLOSING


def test_auth_timeout(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = new_connection(auth_timeout_seconds=10.0)
    clock.advance(9.9)
    assert conn.check_timers(clock.monotonic()) is None
    clock.advance(0.1)
    action = conn.check_timers(clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.AUTH_TIMEOUT


def test_auth_timeout_covers_a_slow_authenticator(new_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = new_connection(auth_timeout_seconds=10.0)
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    clock.advance(10.0)
    action = conn.check_timers(clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.AUTH_TIMEOUT


# --------------------------------------------------------------------------- requests


def test_request_is_dispatched_and_its_result_encoded(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection()
    action = conn.receive_text(req(7, "echo", {"text": "hi"}), clock.monotonic())
    assert isinstance(action, Dispatch)
    assert (action.id, action.method, action.params) == (7, "echo", {"text": "hi"})
    assert conn.in_flight == 1
    reply = conn.request_completed(7, {"text": "hi"})
    assert json.loads(reply) == {"type": "res", "id": 7, "result": {"text": "hi"}}
    assert conn.in_flight == 0


def test_params_default_to_an_empty_object(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    action = ready_connection().receive_text(req(1, "whoami"), clock.monotonic())
    assert isinstance(action, Dispatch)
    assert action.params == {}


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (NotFound("No such chat."), "not_found", "No such chat."),
        (Forbidden("Not yours.", code="not_owner"), "not_owner", "Not yours."),
        (KeyError("secret detail"), "internal_error", "Internal error."),
    ],
)
def test_request_errors_map_to_stable_codes(
    ready_connection: ConnectionFactory, clock: ManualClock, error: Exception, code: str, message: str
) -> None:
    conn = ready_connection()
    conn.receive_text(req(3), clock.monotonic())
    reply = json.loads(conn.request_failed(3, error))
    assert reply == {"type": "err", "id": 3, "code": code, "message": message}
    assert conn.in_flight == 0
    assert conn.state is ConnectionState.READY


def test_retry_after_of_an_error_is_passed_on(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection()
    conn.receive_text(req(3), clock.monotonic())
    reply = json.loads(conn.request_failed(3, RateLimited("Later.", retry_after=2.5)))
    assert reply["retry_after"] == 2.5


def test_unencodable_result_becomes_internal_error(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection()
    conn.receive_text(req(4), clock.monotonic())
    reply = json.loads(conn.request_completed(4, object()))
    assert reply == {"type": "err", "id": 4, "code": "internal_error", "message": "Internal error."}


def test_in_flight_requests_are_bounded(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(max_in_flight=2)
    assert isinstance(conn.receive_text(req(1), clock.monotonic()), Dispatch)
    assert isinstance(conn.receive_text(req(2), clock.monotonic()), Dispatch)
    refused = sent(conn.receive_text(req(3), clock.monotonic()))
    assert refused["code"] == ErrorCode.TOO_MANY_REQUESTS
    assert refused["id"] == 3
    conn.request_completed(1, None)
    assert isinstance(conn.receive_text(req(4), clock.monotonic()), Dispatch)


# --------------------------------------------------------------------------- bad frames


def test_ping_gets_pong(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    assert sent(ready_connection().receive_text(b'{"type":"ping"}', clock.monotonic())) == {"type": "pong"}


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        (b"{not json", ErrorCode.MALFORMED_FRAME, None),
        (b"\xff\xfe", ErrorCode.MALFORMED_FRAME, None),
        (b'{"type":"subscribe"}', ErrorCode.UNKNOWN_FRAME_TYPE, None),
        (b'{"id":1}', ErrorCode.UNKNOWN_FRAME_TYPE, None),
        (b"[1,2]", ErrorCode.INVALID_FRAME, None),
        (b'{"type":"req","id":"1","method":"echo"}', ErrorCode.INVALID_FRAME, None),
        (b'{"type":"req","id":5,"method":"echo","params":[1]}', ErrorCode.INVALID_FRAME, 5),
        (b'{"type":"req","id":6}', ErrorCode.INVALID_FRAME, 6),
        (b'{"type":"auth","token":"again"}', ErrorCode.INVALID_FRAME, None),
    ],
)
def test_bad_frames_get_an_error_and_the_connection_stays(
    ready_connection: ConnectionFactory, clock: ManualClock, frame: bytes, code: ErrorCode, request_id: int | None
) -> None:
    conn = ready_connection()
    reply = sent(conn.receive_text(frame, clock.monotonic()))
    assert reply["type"] == "err"
    assert reply["code"] == code
    assert reply.get("id") == request_id
    assert conn.state is ConnectionState.READY


def test_binary_frames_are_unsupported(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    reply = sent(ready_connection().receive_binary(clock.monotonic()))
    assert reply["code"] == ErrorCode.UNSUPPORTED_DATA


def test_twenty_bad_frames_in_a_row_close_4000(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection()
    for _ in range(19):
        assert isinstance(conn.receive_text(b"junk", clock.monotonic()), Send)
    action = conn.receive_text(b"junk", clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.PROTOCOL_ERROR


def test_a_good_frame_resets_the_bad_frame_run(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection()
    for _ in range(3):
        for _ in range(19):
            conn.receive_text(b"junk", clock.monotonic())
        conn.receive_text(b'{"type":"ping"}', clock.monotonic())
    assert conn.state is ConnectionState.READY


# --------------------------------------------------------------------------- rate limit


def test_rate_limit_errors_then_closes_4008(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(rate_per_second=1.0, rate_burst=5.0)
    now = clock.monotonic()
    for i in range(5):
        assert isinstance(conn.receive_text(req(i), now), Dispatch)
    limited = sent(conn.receive_text(req(99), now))
    assert limited["code"] == ErrorCode.RATE_LIMITED
    assert limited["id"] == 99
    assert limited["retry_after"] == pytest.approx(1.0)
    for _ in range(8):  # 9 dropped frames so far; the 10th (2 × burst) closes
        assert isinstance(conn.receive_text(b'{"type":"ping"}', now), Send)
    action = conn.receive_text(b'{"type":"ping"}', now)
    assert isinstance(action, Close)
    assert action.code is CloseCode.RATE_LIMITED


def test_rate_limit_refills_with_time(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(rate_per_second=2.0, rate_burst=2.0)
    conn.receive_text(b'{"type":"ping"}', clock.monotonic())
    conn.receive_text(b'{"type":"ping"}', clock.monotonic())
    assert sent(conn.receive_text(b'{"type":"ping"}', clock.monotonic()))["code"] == ErrorCode.RATE_LIMITED
    clock.advance(0.5)
    assert sent(conn.receive_text(b'{"type":"ping"}', clock.monotonic())) == {"type": "pong"}


def test_binary_frames_count_against_the_rate_limit(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(rate_per_second=1.0, rate_burst=1.0)
    conn.receive_binary(clock.monotonic())
    assert sent(conn.receive_binary(clock.monotonic()))["code"] == ErrorCode.RATE_LIMITED


# --------------------------------------------------------------------------- heartbeat and closing


def test_heartbeat_timeout_after_two_intervals_of_silence(
    ready_connection: ConnectionFactory, clock: ManualClock
) -> None:
    conn = ready_connection(heartbeat_seconds=25.0)
    clock.advance(30.0)
    conn.receive_text(b'{"type":"ping"}', clock.monotonic())
    clock.advance(49.0)
    assert conn.check_timers(clock.monotonic()) is None
    clock.advance(1.0)
    action = conn.check_timers(clock.monotonic())
    assert isinstance(action, Close)
    assert action.code is CloseCode.HEARTBEAT_TIMEOUT


def test_websocket_pings_count_as_activity(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(heartbeat_seconds=10.0)
    for _ in range(5):
        clock.advance(15.0)
        conn.note_activity(clock.monotonic())
        assert conn.check_timers(clock.monotonic()) is None


def test_close_is_idempotent_and_later_frames_are_ignored(
    ready_connection: ConnectionFactory, clock: ManualClock
) -> None:
    conn = ready_connection()
    first = conn.close(CloseCode.SESSION_REVOKED, "Session revoked.", clock.monotonic())
    assert first == Close(CloseCode.SESSION_REVOKED, "Session revoked.")
    assert conn.close(CloseCode.GOING_AWAY, "again", clock.monotonic()) is None
    assert conn.receive_text(req(1), clock.monotonic()) is None
    assert conn.receive_binary(clock.monotonic()) is None
    assert conn.close_code is CloseCode.SESSION_REVOKED


def test_unanswered_close_is_aborted(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    conn = ready_connection(close_timeout_seconds=2.0)
    conn.close(CloseCode.GOING_AWAY, "bye", clock.monotonic())
    clock.advance(1.9)
    assert conn.check_timers(clock.monotonic()) is None
    clock.advance(0.1)
    assert isinstance(conn.check_timers(clock.monotonic()), Abort)
    conn.closed()
    assert conn.state is ConnectionState.CLOSED
    assert conn.check_timers(clock.monotonic()) is None


def test_close_reason_fits_a_control_frame(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    action = ready_connection().close(CloseCode.PROTOCOL_ERROR, "é" * 200, clock.monotonic())
    assert action is not None
    assert len(action.reason.encode()) <= 123


def test_connection_is_independent_of_msgspec_buffers(ready_connection: ConnectionFactory, clock: ManualClock) -> None:
    """The binding passes a memoryview over picows' read buffer: decoded frames must not keep it."""
    conn = ready_connection()
    buffer = bytearray(req(1, "echo", {"text": "hi"}))
    action = conn.receive_text(memoryview(buffer), clock.monotonic())
    buffer[:] = b" " * len(buffer)
    assert isinstance(action, Dispatch)
    assert msgspec.json.encode(action.params) == b'{"text":"hi"}'


def test_a_connection_starts_awaiting_auth(new_connection: ConnectionFactory) -> None:
    conn: GatewayConnection = new_connection()
    assert conn.state is ConnectionState.AWAITING_AUTH
    assert conn.principal is None


@given(frames=st.lists(st.binary(max_size=64) | st.sampled_from([b'{"type":"ping"}', req(1)]), max_size=40))
def test_arbitrary_frames_never_raise(frames: list[bytes]) -> None:
    clock = ManualClock()
    conn = GatewayConnection(make_config(), FrameDecoder(), FrameEncoder(), clock.monotonic())
    conn.receive_text(b'{"type":"auth","token":"t"}', clock.monotonic())
    conn.authenticated(Principal(1, 2, Role.USER), clock.monotonic())
    for frame in frames:
        action = conn.receive_text(frame, clock.monotonic())
        assert action is None or isinstance(action, Send | Dispatch | Close)
        if isinstance(action, Dispatch):
            conn.request_completed(action.id, None)
    assert conn.in_flight == 0
