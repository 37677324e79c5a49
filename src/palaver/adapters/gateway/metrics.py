"""Gateway metrics: plain integer counters on the hot path, turned into Prometheus metrics at scrape.

A custom collector reads the counters when scraped, so counting a frame is one integer addition
rather than a locked ``Counter.inc()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class GatewayStats:
    """Counters the gateway bumps; ``frames_sent`` excludes topic fan-out, which the hub counts."""

    __slots__ = ("closes", "frames_received", "frames_sent")

    def __init__(self) -> None:
        self.frames_received = 0
        self.frames_sent = 0
        self.closes: dict[int, int] = {}

    def count_close(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1


class GatewayCollector(Collector):
    """Exposes ``palaver_gateway_*`` metrics from ``GatewayStats`` and live values."""

    def __init__(self, stats: GatewayStats, connections: Callable[[], int], fanned_out: Callable[[], int]) -> None:
        self._stats = stats
        self._connections = connections
        self._fanned_out = fanned_out

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        yield GaugeMetricFamily(
            "palaver_gateway_connections", "Open gateway WebSocket connections.", value=self._connections()
        )
        yield CounterMetricFamily(
            "palaver_gateway_frames_received", "Frames received from clients.", value=stats.frames_received
        )
        yield CounterMetricFamily(
            "palaver_gateway_frames_sent",
            "Frames sent to clients, topic fan-out included.",
            value=stats.frames_sent + self._fanned_out(),
        )
        closes = CounterMetricFamily(
            "palaver_gateway_closes", "Closed connections by WebSocket close code.", labels=["code"]
        )
        for code, count in sorted(stats.closes.items()):
            closes.add_metric([str(code)], count)
        yield closes


def register_metrics(
    registry: CollectorRegistry,
    stats: GatewayStats,
    connections: Callable[[], int],
    fanned_out: Callable[[], int],
) -> GatewayCollector:
    collector = GatewayCollector(stats, connections, fanned_out)
    registry.register(collector)
    return collector
