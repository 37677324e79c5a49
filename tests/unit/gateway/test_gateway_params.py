"""Params validation: bad client input becomes ``invalid_params`` with a readable message."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from pydantic import BaseModel, ConfigDict, Field

from palaver.adapters.gateway.params import InvalidParams, convert, validate
from palaver.errors import ErrorKind


class Point(msgspec.Struct, forbid_unknown_fields=True):
    x: int
    label: Annotated[str, msgspec.Meta(max_length=3)] = ""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=3)
    count: int = Field(default=1, ge=1)


def test_convert() -> None:
    assert convert({"x": 1}, Point) == Point(1)
    for bad in ({}, {"x": "1"}, {"x": 1, "y": 2}, {"x": 1, "label": "long"}):
        with pytest.raises(InvalidParams) as failed:
            convert(bad, Point)
        assert failed.value.code == "invalid_params" and failed.value.kind is ErrorKind.INVALID
        assert failed.value.message.startswith("Invalid params: ")


def test_validate() -> None:
    assert validate({"text": "abc"}, Model) == Model(text="abc")
    with pytest.raises(InvalidParams) as failed:
        validate({"text": 5, "count": 0, "extra": 1, "more": 2}, Model)
    message = failed.value.message
    assert message.startswith("Invalid params: text: ") and "count: " in message
    assert message.count(";") == 2  # the first three problems only
