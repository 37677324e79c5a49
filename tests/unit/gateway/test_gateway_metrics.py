from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from palaver.adapters.gateway.metrics import GatewayStats, register_metrics


def test_metrics_read_plain_counters_at_scrape() -> None:
    registry = CollectorRegistry()
    stats = GatewayStats()
    register_metrics(registry, stats, connections=lambda: 3, fanned_out=lambda: 10)
    stats.frames_received += 5
    stats.frames_sent += 2
    stats.count_close(4001)
    stats.count_close(4001)
    stats.count_close(1000)
    text = generate_latest(registry).decode()
    assert "palaver_gateway_connections 3.0" in text
    assert "palaver_gateway_frames_received_total 5.0" in text
    assert "palaver_gateway_frames_sent_total 12.0" in text
    assert 'palaver_gateway_closes_total{code="4001"} 2.0' in text
    assert 'palaver_gateway_closes_total{code="1000"} 1.0' in text
