"""Typed errors with stable machine-readable codes.

Domain and service code raise these; the edges (HTTP, gateway) map them to a status or an
error frame in exactly one place each (``adapters/http/errors.py``, ``adapters/gateway/connection.py``).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """The broad class of an error; each edge maps a kind to its own status."""

    INVALID = "invalid"  # the input is malformed or breaks a rule (HTTP 400/422)
    UNAUTHENTICATED = "unauthenticated"  # no valid credentials (HTTP 401)
    FORBIDDEN = "forbidden"  # authenticated, but not allowed (HTTP 403)
    NOT_FOUND = "not_found"  # HTTP 404
    CONFLICT = "conflict"  # clashes with existing state (HTTP 409)
    RATE_LIMITED = "rate_limited"  # HTTP 429
    TOO_LARGE = "too_large"  # HTTP 413
    UNAVAILABLE = "unavailable"  # a dependency is down (HTTP 503)


class PalaverError(Exception):
    """Base of every error Palaver reports to a client."""

    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class InvalidInput(PalaverError):
    kind = ErrorKind.INVALID
    code = "invalid_input"


class Unauthenticated(PalaverError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "unauthenticated"


class Forbidden(PalaverError):
    kind = ErrorKind.FORBIDDEN
    code = "forbidden"


class NotFound(PalaverError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class Conflict(PalaverError):
    kind = ErrorKind.CONFLICT
    code = "conflict"


class RateLimited(PalaverError):
    kind = ErrorKind.RATE_LIMITED
    code = "rate_limited"


class TooLarge(PalaverError):
    kind = ErrorKind.TOO_LARGE
    code = "too_large"


class Unavailable(PalaverError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"
