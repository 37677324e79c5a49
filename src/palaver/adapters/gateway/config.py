"""Gateway settings: limits and timeouts, validated once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Transport = Literal["uvloop", "aiofastnet"]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str
    port: int  # 0 = pick a free port
    allowed_origins: frozenset[str]  # browser origins allowed to connect; no Origin header is allowed
    max_frame_bytes: int = 64 * 1024
    max_send_buffer_bytes: int = 1024 * 1024
    rate_per_second: float = 50.0
    rate_burst: float = 100.0
    auth_timeout_seconds: float = 10.0
    heartbeat_seconds: float = 25.0
    max_in_flight: int = 32  # concurrent requests per connection
    max_bad_frames: int = 20  # consecutive bad frames before close 4000
    close_timeout_seconds: float = 2.0  # wait this long for the peer's close frame, then drop TCP
    read_buffer_bytes: int = 1024  # initial per-connection read buffer; grows up to the largest frame
    # TCP transport under picows: the event loop's own (uvloop: ~6 KB less per connection) or
    # aiofastnet's (a few % more fan-out throughput); see docs/benchmarks.md, "Channels at scale".
    transport: Transport = "uvloop"

    def __post_init__(self) -> None:
        if self.transport not in ("uvloop", "aiofastnet"):
            raise ValueError("transport is uvloop or aiofastnet")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be in 0..65535")
        positive = {
            "max_frame_bytes": self.max_frame_bytes,
            "max_send_buffer_bytes": self.max_send_buffer_bytes,
            "rate_per_second": self.rate_per_second,
            "rate_burst": self.rate_burst,
            "auth_timeout_seconds": self.auth_timeout_seconds,
            "heartbeat_seconds": self.heartbeat_seconds,
            "max_in_flight": self.max_in_flight,
            "max_bad_frames": self.max_bad_frames,
            "close_timeout_seconds": self.close_timeout_seconds,
            "read_buffer_bytes": self.read_buffer_bytes,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.rate_burst < 1:
            raise ValueError("rate_burst must be at least 1")

    @property
    def idle_timeout_seconds(self) -> float:
        """Close a connection when nothing has arrived for this long."""
        return 2 * self.heartbeat_seconds
