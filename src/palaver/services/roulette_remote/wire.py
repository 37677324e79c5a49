"""What travels between a Roulette proxy and the owner: calls, outcomes, heartbeats (msgspec JSON),
and the table of methods a proxy may forward, built from ``RouletteService`` itself.

The table is every public method of the service class, looked up by name, so a method added to
``RouletteService`` later is forwarded without any change here. Arguments travel as JSON (a
``Principal`` as an object) and are converted back to each parameter's annotated type on the owner
(``msgspec.convert``), return values to the return type on the caller.
"""

from __future__ import annotations

import inspect
import logging
import typing
from dataclasses import dataclass
from typing import Any

import msgspec

from palaver.errors import ErrorKind, PalaverError

log = logging.getLogger(__name__)

RPC_TOPIC = "roulette:rpc"  # calls to the owner
OWNER_TOPIC = "roulette:owner"  # the owner's heartbeat: {"owner": <incarnation>}
PROXIES_TOPIC = "roulette:proxies"  # each proxy's heartbeat: {"origin": <incarnation>}
RESET_EVENT = "roulette.reset"  # to a session whose Roulette state the owner lost

OWNER_ONLY = frozenset({"run", "tick", "maybe_publish_stats", "check_invariants", "stats"})
"""Public methods that are never forwarded: the owner's own loop, and what a proxy answers itself."""


class Call(msgspec.Struct):  # unknown fields are ignored: processes of two versions during an upgrade
    id: int
    reply_to: str  # the caller's reply topic
    origin: str  # the caller's incarnation (its sessions are dropped if it falls silent)
    method: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    notify: bool = False  # no reply wanted


class Failure(msgspec.Struct):
    type: str  # the PalaverError subclass name; "" for anything else (an internal error)
    kind: str = ErrorKind.INVALID.value
    code: str = ""
    message: str = ""
    retry_after: float | None = None
    extra: dict[str, Any] = {}  # other attributes of the error, when JSON can carry them


class Outcome(msgspec.Struct):
    id: int
    owner: str  # the owner's incarnation
    result: Any = None
    error: Failure | None = None


class Beat(msgspec.Struct):
    owner: str = ""
    origin: str = ""


encoder = msgspec.json.Encoder()
call_decoder = msgspec.json.Decoder(Call)
outcome_decoder = msgspec.json.Decoder(Outcome)
_beat_decoder = msgspec.json.Decoder(Beat)


def decode_beat(payload: bytes) -> Beat | None:
    """A heartbeat from the owner or a proxy; None (logged) when malformed."""
    try:
        return _beat_decoder.decode(payload)
    except msgspec.DecodeError:
        log.warning("roulette: malformed heartbeat dropped")
        return None


@dataclass(frozen=True, slots=True)
class RemoteMethod:
    """One forwardable method: its signature and the types to convert arguments and result to."""

    name: str
    signature: inspect.Signature  # without ``self``
    hints: dict[str, Any]
    is_async: bool

    def convert_arguments(self, args: list[Any], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        """Bind decoded JSON to the signature and convert each value to its annotated type;
        ``TypeError``/``msgspec.ValidationError`` when they do not fit."""
        bound = self.signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            param = self.signature.parameters[name]
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            bound.arguments[name] = msgspec.convert(value, self.hints.get(name, Any))
        return bound

    def convert_result(self, value: Any) -> Any:
        return msgspec.convert(value, self.hints.get("return", Any))


def method_table(cls: type) -> dict[str, RemoteMethod]:
    """Every public method of ``cls`` a proxy forwards: coroutine methods (call and wait for the
    reply) and plain methods that return None (sent, not awaited), minus ``OWNER_ONLY``."""
    table: dict[str, RemoteMethod] = {}
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in OWNER_ONLY:
            continue
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # an annotation that cannot be resolved at run time: pass values as they are
            log.warning("roulette_remote: cannot resolve the annotations of %s.%s", cls.__name__, name)
            hints = {}
        is_async = inspect.iscoroutinefunction(fn)
        if not is_async and hints.get("return") is not type(None):
            continue  # a plain method with a result cannot be answered without waiting
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())[1:]  # drop self
        table[name] = RemoteMethod(name, signature.replace(parameters=params), hints, is_async)
    return table


def _error_classes() -> dict[str, type[PalaverError]]:
    found: dict[str, type[PalaverError]] = {"PalaverError": PalaverError}
    todo: list[type[PalaverError]] = [PalaverError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.setdefault(sub.__name__, sub)
            todo.append(sub)
    return found


_KNOWN = frozenset({"message", "code", "retry_after", "kind"})


def failure_of(exc: BaseException) -> Failure:
    """How the owner reports an exception raised by the service."""
    if not isinstance(exc, PalaverError):
        return Failure(type="", message=type(exc).__name__)
    extra: dict[str, Any] = {}
    for key, value in vars(exc).items():
        if key in _KNOWN or key.startswith("_"):
            continue
        try:
            encoder.encode(value)
        except (TypeError, msgspec.EncodeError):
            continue
        extra[key] = value
    return Failure(
        type=type(exc).__name__,
        kind=exc.kind.value,
        code=exc.code,
        message=exc.message,
        retry_after=exc.retry_after,
        extra=msgspec.json.decode(encoder.encode(extra)),
    )


class RouletteOwnerError(RuntimeError):
    """The owner failed with something other than a ``PalaverError`` (a bug): an internal error here too."""


def error_of(failure: Failure) -> Exception:
    """The exception to raise in the caller: the same class, code, message and retry_after."""
    if not failure.type:
        return RouletteOwnerError(f"the Roulette owner failed ({failure.message})")
    cls = _error_classes().get(failure.type)
    error: PalaverError
    if cls is None:
        error = PalaverError(failure.message, code=failure.code, retry_after=failure.retry_after)
        error.kind = ErrorKind(failure.kind) if failure.kind in ErrorKind._value2member_map_ else ErrorKind.INVALID
    else:
        try:
            error = cls(failure.message, code=failure.code, retry_after=failure.retry_after)
        except TypeError:  # a subclass with its own constructor: fill in the base fields
            error = cls.__new__(cls)
            Exception.__init__(error, failure.message)
            error.message, error.code, error.retry_after = failure.message, failure.code, failure.retry_after
    for key, value in failure.extra.items():
        setattr(error, key, value)
    return error
