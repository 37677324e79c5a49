"""Validating request params into typed values: a bad client input is ``invalid_params``, never an
internal error. Handlers validate with msgspec Structs or (to share the HTTP API's models) pydantic."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
import pydantic

from palaver.adapters.gateway.codes import ErrorCode
from palaver.errors import ErrorKind, PalaverError

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

MAX_PROBLEMS = 3


class InvalidParams(PalaverError):
    kind = ErrorKind.INVALID
    code = ErrorCode.INVALID_PARAMS.value


def convert(params: dict[str, Any], type_: type[T]) -> T:
    """``params`` as a msgspec type (usually a Struct), or ``InvalidParams``."""
    try:
        return msgspec.convert(params, type_)
    except msgspec.ValidationError as exc:
        raise InvalidParams(f"Invalid params: {exc}") from None


def validate(params: dict[str, Any], model: type[M]) -> M:
    """``params`` as a pydantic model, or ``InvalidParams`` naming the first few problems."""
    try:
        return model.model_validate(params)
    except pydantic.ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]
        ]
        raise InvalidParams(f"Invalid params: {'; '.join(problems)}.") from None
