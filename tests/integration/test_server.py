"""A real ``palaver serve`` process: HTTP and the gateway in one process, as a person runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.live_server import LiveServer, live_server


def test_serves_landing_page_health_and_openapi(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.http_url}/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(f"{live_server.http_url}/roulette").text == page.text  # client-side route
    assert httpx.get(f"{live_server.http_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live_server.http_url}/readyz").json()["status"] == "ready"
    assert "/api/v1/me" in httpx.get(f"{live_server.http_url}/openapi.json").json()["paths"]
    config = httpx.get(f"{live_server.http_url}/api/v1/config").json()
    assert config["gateway_url"] == live_server.gateway_url
    assert (live_server.data_dir / "palaver.db").exists()
    assert (live_server.data_dir / "secrets.json").exists()


async def test_guest_talks_to_the_gateway_and_revoking_the_session_closes_it(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.http_url) as http:
        signed = (await http.post("/api/v1/auth/guest", json={})).json()
        auth = {"Authorization": f"Bearer {signed['session_token']}"}
        origin = live_server.http_url
        async with connect(live_server.gateway_url, origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "auth", "token": signed["session_token"]}))
            ready = json.loads(await ws.recv())
            assert ready["type"] == "ready" and ready["user_id"] == signed["user"]["id"]
            await ws.send(json.dumps({"type": "req", "id": 1, "method": "me"}))
            reply = json.loads(await ws.recv())
            assert reply == {"type": "res", "id": 1, "result": signed["user"]}
            await ws.send(json.dumps({"type": "req", "id": 2, "method": "echo", "params": {"x": "مرحبا"}}))
            assert json.loads(await ws.recv())["result"] == {"x": "مرحبا"}

            renamed = await http.patch("/api/v1/me", headers=auth, json={"display_name": "Zoë"})
            assert renamed.status_code == 200
            event = json.loads(await ws.recv())
            assert (event["type"], event["event"], event["data"]["display_name"]) == ("event", "user.updated", "Zoë")

            assert (await http.post("/api/v1/auth/logout", headers=auth)).status_code == 204
            revoked = json.loads(await ws.recv())
            assert revoked["event"] == "session.revoked"
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003


async def test_gateway_refuses_foreign_origins_and_bad_tokens(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(live_server.gateway_url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    async with connect(live_server.gateway_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "pvs_forged"}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


def test_cli_version_migrate_and_grant(live_server: LiveServer) -> None:
    env = live_server.env
    version = subprocess.run([sys.executable, "-m", "palaver", "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("palaver ")
    migrated = subprocess.run([sys.executable, "-m", "palaver", "migrate"], capture_output=True, text=True, env=env)
    assert migrated.returncode == 0, migrated.stderr
    created = httpx.post(
        f"{live_server.http_url}/api/v1/auth/register", json={"username": "root", "password": "a long passphrase"}
    )
    assert created.status_code == 201
    token = created.json()["session_token"]

    def grant(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "palaver", "admin", "grant", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env)

    assert grant("root", "emperor").returncode == 2
    missing = grant("nobody", "admin")
    assert missing.returncode == 1 and "user_not_found" in missing.stderr
    ok = grant("ROOT", "admin")
    assert ok.returncode == 0 and "root is now admin" in ok.stdout
    me = httpx.get(f"{live_server.http_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"


def test_sigterm_closes_the_node_and_exits_cleanly(tmp_path: Path) -> None:
    with live_server(tmp_path / "node") as server:
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0
    assert "palaver stopped" in (tmp_path / "node" / "server.log").read_text()
