"""Routing: method name → handler; unknown methods have a stable error code."""

from __future__ import annotations

import pytest

from palaver.adapters.gateway.router import RequestRouter, UnknownMethod
from palaver.domain.sessions import Principal
from palaver.errors import NotFound


async def echo(principal: Principal, params: dict[str, object]) -> object:
    return {"user": principal.user_id, **params}


async def missing(principal: Principal, params: dict[str, object]) -> object:
    raise NotFound("No such thing.", code="thing_not_found")


async def test_routes_to_the_registered_handler(principal: Principal) -> None:
    router = RequestRouter()
    router.register("echo", echo)
    route = router.resolve("echo")
    assert not route.inline  # inline is opt-in
    router.register("fast", echo, inline=True)
    assert router.resolve("fast").inline
    assert await route.handler(principal, {"a": 1}) == {"user": principal.user_id, "a": 1}
    assert router.lookup("echo") == route
    assert router.methods == frozenset({"echo", "fast"})


async def test_handler_errors_propagate_with_their_code(principal: Principal) -> None:
    router = RequestRouter()
    router.register("missing", missing, inline=False)
    route = router.resolve("missing")
    assert not route.inline
    with pytest.raises(NotFound) as caught:
        await route.handler(principal, {})
    assert caught.value.code == "thing_not_found"


def test_unknown_method() -> None:
    router = RequestRouter()
    assert router.lookup("nope") is None
    with pytest.raises(UnknownMethod) as caught:
        router.resolve("nope")
    assert caught.value.code == "unknown_method"


def test_a_method_registers_once() -> None:
    router = RequestRouter()
    router.register("echo", echo)
    with pytest.raises(ValueError, match="already registered"):
        router.register("echo", echo)
    with pytest.raises(ValueError, match="empty"):
        router.register("", echo)
