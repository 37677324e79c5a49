"""Idle connections: memory per connection and heartbeat CPU (issue #7, item 3).

``palaver serve --workers W`` (default 4 processes sharing the gateway port with SO_REUSEPORT, the
Redis broker under a key prefix of its own, a throw-away PostgreSQL database — or SQLite with
``--database sqlite``), all pinned to one CPU, holds N (default 50,000) authenticated gateway
connections, one user each (users and sessions cloned with SQL, see ``_channel_world.py``), made
by the C load client (``wsload -l``: ``--procs`` processes — a process may hold 20,000 open files —
connecting from ``--sources`` loopback addresses — one has ~28,000 ephemeral ports) on another CPU.
Every connection sends the gateway's ``{"type":"ping"}`` every ``--heartbeat`` seconds, which is
also the server's heartbeat setting (``PALAVER_GATEWAY_HEARTBEAT_SECONDS``; it closes connections
silent for twice that), and is answered with a pong.

Reported: connections made and still open at the end, connect time, the RSS of every worker
before and after (Δ ÷ connections = memory per connection; goal ≤ 20 KB), the workers' CPU while the
machine only exchanges heartbeats (minus their CPU with no connections, measured the same way),
the heartbeats per second, the CPU per heartbeat, and that CPU scaled to the default heartbeat
interval (25 s). The client's own CPU shows whether it limited anything.

    .venv/bin/python bench/connections.py                                 # 50,000 connections, 4 workers
    .venv/bin/python bench/connections.py --conns 10000 --workers 2 --procs 1 --sources 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _channel_world import CLONE_ID_OFFSET, clone_users, guest, write_auth_file
from harness import (
    Target,
    WsloadRun,
    add_machine_options,
    busy_seconds,
    cpu_seconds,
    palaver_process,
    pg_database,
    pinning,
    rss_bytes,
    run_header,
    wait_until_quiet,
)

GOAL_BYTES = 20 * 1000
DEFAULT_HEARTBEAT = 25.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def workers_of(pid: int) -> list[int]:
    """The worker processes of a ``palaver serve --workers`` supervisor (itself if it has none)."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(c) for c in (task / "children").read_text().split()]
    return children or [pid]


def sample(pids: list[int]) -> tuple[float, float]:
    return sum(cpu_seconds(p) for p in pids), busy_seconds()


def cpu_pct(before: tuple[float, float], after: tuple[float, float], seconds: float) -> tuple[float, float]:
    """(the workers' CPU, the machine's busy time) over the interval, % of one core."""
    return 100 * (after[0] - before[0]) / seconds, 100 * (after[1] - before[1]) / seconds


async def flush_redis(prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def build(data_dir: Path, log: Path, conns: int, settings: dict[str, str]) -> Path:
    """``conns`` users with a session each; returns the file of their auth frames."""
    from palaver.config import Settings

    with palaver_process(data_dir, None, log, **settings) as server:
        _, template_id = guest(server.origin)
    url = settings.get("database_url") or Settings(data_dir=data_dir).resolved_database_url()
    started = time.monotonic()
    tokens = asyncio.run(clone_users(url, template_id, conns, first_id=template_id - CLONE_ID_OFFSET, sessions=conns))
    print(f"{conns:,} users and sessions in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return write_auth_file(data_dir / "auth.txt", tokens)


def measure(args: argparse.Namespace, data_dir: Path, log: Path, settings: dict[str, str]) -> dict[str, object]:
    server_cpu, client_cpu, args.nice = pinning(args.server_cpu, args.client_cpu, args.nice)
    auth_file = build(data_dir, log, args.conns, settings)
    serve_args = ["--workers", str(args.workers)] if args.workers > 1 else []
    out: dict[str, object] = {"conns_wanted": args.conns, "workers": args.workers, "heartbeat_s": args.heartbeat}
    with palaver_process(data_dir, server_cpu, log, args=serve_args, stop_timeout=30, **settings) as server:
        time.sleep(3)  # every worker up and idle
        pids = workers_of(server.proc.pid)
        if len(pids) != args.workers and args.workers > 1:
            raise RuntimeError(f"expected {args.workers} workers, found {pids}")
        if args.quiet_wait > 0:
            wait_until_quiet(args.quiet_wait)
        rss_before = [rss_bytes(p) for p in pids]
        first = sample(pids)
        time.sleep(args.seconds)
        idle_cpu, idle_busy = cpu_pct(first, sample(pids), args.seconds)
        target = Target("gateway", server.proc.pid, server.gateway_port, origin=server.origin)
        extra = ["-l", "-A", str(auth_file), "-H", str(args.heartbeat), "-m", '{"type":"ping"}']
        extra += ["-P", str(args.procs), "-s", str(args.sources), "-n", str(args.handshakes)]
        with WsloadRun(
            target,
            args.conns,
            seconds=args.seconds,
            warmup=args.settle,
            cpu=client_cpu,
            extra=extra,
            connect_timeout=args.connect_timeout,
        ) as run:
            started = time.monotonic()
            run.go.wait(timeout=args.connect_timeout + 30)
            connect_s = time.monotonic() - started
            time.sleep(args.settle)
            before = sample(pids)
            time.sleep(args.seconds)
            after = sample(pids)
            rss_after = [rss_bytes(p) for p in pids]
            result = run.result()
    hb_cpu, busy = cpu_pct(before, after, args.seconds)
    open_at_end = int(result["open_at_end"])
    heartbeats = result["rate"]  # pongs received per second = pings answered
    per_heartbeat_us = (hb_cpu - idle_cpu) / 100 / heartbeats * 1e6 if heartbeats else float("nan")
    out |= {
        "workers_pids": len(pids),
        "conns_ready": int(result["conns"]),
        "open_at_end": open_at_end,
        "failed": int(result["failed"]),
        "closed_by_server": int(result["closed_by_server"]),
        "connect_s": round(connect_s, 1),
        "rss_before_mb": [round(r / 2**20, 1) for r in rss_before],
        "rss_after_mb": [round(r / 2**20, 1) for r in rss_after],
        "bytes_per_conn": (sum(rss_after) - sum(rss_before)) / max(1, open_at_end),
        "idle_cpu_pct": round(idle_cpu, 2),
        "idle_other_pct": round(max(0.0, idle_busy - idle_cpu), 1),
        "heartbeat_cpu_pct": round(hb_cpu, 2),
        "heartbeats_per_s": round(heartbeats, 1),
        "per_heartbeat_us": round(per_heartbeat_us, 1),
        "client_cpu_pct": result["cpu_pct"],
        "other_pct": round(max(0.0, busy - hb_cpu - result["cpu_pct"]), 1),
    }
    return out


def report(r: dict[str, object], args: argparse.Namespace, header: str) -> str:
    per_conn = float(r["bytes_per_conn"])  # type: ignore[arg-type]
    hb = float(r["heartbeat_cpu_pct"]) - float(r["idle_cpu_pct"])  # type: ignore[arg-type]
    scaled = hb * args.heartbeat / DEFAULT_HEARTBEAT
    lines = [
        header,
        f"{args.workers} worker(s) on one CPU, {args.database}, heartbeat every {args.heartbeat:g}s; wsload"
        f" {args.procs} process(es) from {args.sources} source address(es); {args.seconds:g}s windows",
        "",
        "| connections (open at end) | connect time | RSS before → after (all workers) | memory per connection |"
        " workers' CPU, no connections | workers' CPU, heartbeats | heartbeats/s | CPU per heartbeat |"
        " at a 25 s heartbeat | client CPU | other load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['conns_ready']:,} ({r['open_at_end']:,}) | {r['connect_s']} s |"
        f" {sum(r['rss_before_mb']):.0f} → {sum(r['rss_after_mb']):.0f} MiB |"  # type: ignore[arg-type]
        f" {per_conn / 1024:.1f} KiB ({per_conn / 1000:.1f} KB) | {r['idle_cpu_pct']}% | {r['heartbeat_cpu_pct']}% |"
        f" {r['heartbeats_per_s']:,} | {r['per_heartbeat_us']} µs | {scaled:.2f}% | {r['client_cpu_pct']}% |"
        f" {r['other_pct']}% |",
        "",
        f"per worker RSS before {r['rss_before_mb']} MiB, after {r['rss_after_mb']} MiB",
        f"memory per connection {per_conn / 1000:.1f} KB — {'meets' if per_conn <= GOAL_BYTES else 'misses'}"
        f" the goal (≤ 20 KB)",
    ]
    if r["open_at_end"] != args.conns or r["failed"] or r["closed_by_server"]:
        lines.append(
            f"warning: {r['conns_ready']:,} made, {r['open_at_end']:,} open at the end of {args.conns:,};"
            f" {r['failed']} failed, {r['closed_by_server']} closed by the server"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conns", type=int, default=50_000, help="connections (default 50,000)")
    parser.add_argument("--workers", type=int, default=4, help="server processes (default 4)")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--procs", type=int, default=4, help="wsload processes (default 4)")
    parser.add_argument("--sources", type=int, default=4, help="wsload source addresses (default 4)")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="heartbeat interval, s (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window, s (default 20)")
    parser.add_argument("--settle", type=float, default=10.0, help="wait after connecting, s (default 10)")
    parser.add_argument(
        "--handshakes", type=int, default=32, help="handshakes in flight per wsload process (32): more only queue"
    )
    parser.add_argument("--connect-timeout", type=float, default=420.0, help="connect phase limit, s (420)")
    add_machine_options(parser)
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.conns > 19_000 * args.procs or args.conns > 28_000 * args.sources:
        parser.error("need --conns <= 19,000 × --procs (open files) and <= 28,000 × --sources (ports)")
    if not (1 <= args.workers <= 16 and 0 < args.heartbeat <= 60 and 0 < args.seconds <= 120):
        parser.error("need 1 <= --workers <= 16, 0 < --heartbeat <= 60, 0 < --seconds <= 120")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    prefix = f"palaver-bench-{uuid.uuid4().hex[:8]}:"
    settings = {
        "log_level": "warning",
        "gateway_heartbeat_seconds": str(args.heartbeat),
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
    }
    with tempfile.TemporaryDirectory(prefix="palaver-bench-conns-") as tmp, contextlib.ExitStack() as stack:
        if args.database == "postgres":
            database = stack.enter_context(pg_database())
            settings["database_url"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
        stack.callback(lambda: asyncio.run(flush_redis(prefix)))
        log = Path(tmp) / "server.log"
        try:
            result = measure(args, Path(tmp) / "data", log, settings)
        finally:
            text = log.read_text(errors="replace") if log.exists() else ""
            if "Traceback" in text or "ERROR" in text:
                print("--- server log tail ---\n" + text[-3000:], file=sys.stderr)
    header = run_header(args.nice)
    print(json.dumps(result), file=sys.stderr)
    print(report(result, args, header))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["open_at_end"] == args.conns else 1


if __name__ == "__main__":
    sys.exit(main())
