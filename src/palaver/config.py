"""Configuration from ``PALAVER_*`` environment variables (pydantic-settings).

Secrets that are not given are generated on first run and kept in ``<data_dir>/secrets.json``
(mode 0600), never in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_NAMES = ("session_secret", "turn_secret", "ip_hash_salt")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PALAVER_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite file under data_dir
    redis_url: str | None = None  # set to use the Redis broker
    broker: Literal["auto", "memory", "redis"] = "auto"
    redis_prefix: str = "palaver:"

    host: str = "127.0.0.1"
    http_port: int = 8000
    gateway_port: int = 8001
    public_url: str = ""  # e.g. https://chat.example.org; default http://host:http_port
    gateway_url: str = ""  # e.g. wss://chat.example.org/ws; default ws://host:gateway_port
    allowed_origins: list[str] = Field(default_factory=list)  # default: origin of public_url

    session_ttl_days: int = 30
    login_attempts_per_window: int = 5
    login_window_seconds: float = 300.0
    login_attempts_per_ip: int = 30

    gateway_max_frame_bytes: int = 64 * 1024
    gateway_max_send_buffer_bytes: int = 1024 * 1024
    gateway_rate_per_second: float = 50.0
    gateway_rate_burst: float = 100.0
    gateway_auth_timeout_seconds: float = 10.0
    gateway_heartbeat_seconds: float = 25.0
    gateway_transport: Literal["uvloop", "aiofastnet"] = "uvloop"  # TCP transport under picows

    stun_urls: list[str] = Field(default_factory=list)  # JSON list of stun:/stuns: urls
    turn_urls: list[str] = Field(default_factory=list)  # JSON list of turn:/turns: urls (coturn, use-auth-secret)
    turn_ttl_seconds: int = 3600  # lifetime of a TURN credential

    messenger_group_commit: bool = True  # commit concurrent messenger writes together (see docs/benchmarks.md)

    # Trust & safety (Roulette): reports, bans, snapshot classification, evidence
    report_threshold: int = 3  # reports from this many distinct people ...
    report_window_seconds: float = 300.0  # ... within this window ban the reported person automatically
    ban_ladder_seconds: list[float] = Field(default_factory=lambda: [600.0, 3600.0, 86400.0])  # then review
    snapshot_interval_seconds: float = 20.0  # clients send a frame of their own camera this often
    snapshot_max_bytes: int = 256 * 1024
    classifier: Literal["onnx", "off"] = "onnx"
    classifier_threshold: float = 0.8  # nudity score at or above which a frame is acted on
    classifier_workers: int = 1  # processes classifying frames off the event loop
    evidence_retention_days: float = 30.0  # flagged frames are deleted after this
    new_guest_link_block_seconds: float = 86400.0  # guests younger than this may not send links in chat

    # Several processes on one machine (palaver serve --workers N, SO_REUSEPORT, Redis broker)
    workers: int = 1
    worker_index: int = 0  # set by the supervisor for each worker process
    # Which process holds the Roulette state: auto = alone with one worker, else owner in worker 0 and
    # remote (forwarding over the broker) in the others; owner/remote for several nodes
    roulette_role: Literal["auto", "single", "owner", "remote"] = "auto"

    session_secret: str | None = None
    turn_secret: str | None = None
    ip_hash_salt: str | None = None

    node_id: int = 0
    log_level: str = "info"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'palaver.db').resolve()}"

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.http_port}").rstrip("/")

    def resolved_gateway_url(self) -> str:
        return (self.gateway_url or f"ws://{self.host}:{self.gateway_port}").rstrip("/")

    def resolved_origins(self) -> frozenset[str]:
        if self.allowed_origins:
            return frozenset(o.rstrip("/") for o in self.allowed_origins)
        public = urlsplit(self.resolved_public_url())
        origins = {f"{public.scheme}://{public.netloc}"}
        if public.hostname in ("127.0.0.1", "localhost"):
            port = f":{public.port}" if public.port else ""
            origins |= {f"{public.scheme}://127.0.0.1{port}", f"{public.scheme}://localhost{port}"}
        return frozenset(origins)

    def resolved_broker(self) -> Literal["memory", "redis"]:
        if self.broker == "auto":
            return "redis" if self.redis_url else "memory"
        return self.broker


@dataclass(frozen=True, slots=True)
class Secrets:
    session_secret: str
    turn_secret: str
    ip_hash_salt: str


def load_secrets(settings: Settings) -> Secrets:
    """Secrets from the environment, else from ``secrets.json`` in the data dir, else generated there."""
    path = settings.data_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    values: dict[str, str] = {}
    changed = False
    for name in SECRET_NAMES:
        given = getattr(settings, name)
        if given:
            values[name] = given
        elif name in stored:
            values[name] = stored[name]
        else:
            values[name] = stored[name] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(stored, f)
        tmp.replace(path)
    return Secrets(**values)
