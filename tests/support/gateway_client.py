"""A scripted, synchronous gateway client (docs/protocol.md) for tests that also drive a browser.

Playwright's sync API runs in the test's thread; these clients run there too (``websockets.sync``),
so a test reads top to bottom: a browser page and a few Python peers taking turns.
"""

from __future__ import annotations

import itertools
import json
import time
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect


class GatewayCallError(Exception):
    """The server answered a request with an ``err`` frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def new_guest(http_url: str) -> dict[str, Any]:
    """A fresh guest account (as a new device): ``{"session_token", "device_token", "user"}``."""
    response = httpx.post(f"{http_url}/api/v1/auth/guest", json={}, timeout=10.0)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class GatewayClient:
    """One authenticated connection; requests wait for their answer, events are kept in order."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._stack = ExitStack()
        self._socket: ClientConnection = self._stack.enter_context(connect(url, open_timeout=timeout))
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._socket.send(json.dumps({"type": "auth", "token": token}))
        ready = self._receive(time.monotonic() + timeout)
        if ready.get("type") != "ready":
            raise AssertionError(f"expected ready, got {ready}")
        self.ready = ready

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("nothing from the gateway in time")
        frame: dict[str, Any] = json.loads(self._socket.recv(timeout=remaining))
        return frame

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send a request; return its result or raise GatewayCallError. Events met meanwhile are kept."""
        request_id = next(self._ids)
        self._socket.send(json.dumps({"type": "req", "id": request_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self._timeout
        while True:
            frame = self._receive(deadline)
            if frame.get("type") == "event":
                self.events.append((frame["event"], frame.get("data") or {}))
            elif frame.get("id") == request_id and frame.get("type") == "res":
                return frame.get("result")
            elif frame.get("id") == request_id and frame.get("type") == "err":
                raise GatewayCallError(str(frame.get("code")), str(frame.get("message")))

    def wait_event(self, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        """The first event called `name` not yet taken (waiting for it if needed); it is removed."""
        deadline = time.monotonic() + (timeout if timeout is not None else self._timeout)
        while True:
            for index, (event, data) in enumerate(self.events):
                if event == name:
                    del self.events[index]
                    return data
            frame = self._receive(deadline)
            if frame.get("type") == "event":
                self.events.append((frame["event"], frame.get("data") or {}))
