"""Channel fan-out: one channel, N online subscribers on real gateway connections (issue #7, item 1).

Three servers, each pinned to one CPU, push the same frames to the same N (default 10,000) clients
of the C load client (``wsload -l``, listen mode, on another CPU):

* ``picows`` — ``bench/servers/bare_picows.py --fanout-bytes L``: bare picows sending one L-byte
  frame to every connection, round after round, as fast as it can. The ceiling.
* ``websockets`` — ``bench/servers/bare_websockets.py --fanout-bytes L``: the same with
  ``websockets.broadcast()``.
* ``gateway`` — ``palaver serve`` (SQLite, memory broker) where every client is a different user
  subscribed to one channel (rows cloned with SQL, see ``_channel_world.py``); the channel's owner
  posts through the gateway (``messages.send``) with ``--inflight`` posts outstanding, from a thread
  of this script on the client CPU. L is the size of the gateway's ``update`` event frame for such a
  post, measured first, so every server sends frames of the same size. The gateway runs on the
  event loop's own TCP transport (``PALAVER_GATEWAY_TRANSPORT=uvloop``, the default);
  ``gateway-aiofastnet`` is the same server on aiofastnet's transport, which bare picows uses.

Every frame carries a CLOCK_MONOTONIC timestamp in ``"text"`` (the post's send time; for the bare
servers the start of the round), so ``wsload -T text`` gives post → delivered latency. Reported:
deliveries/s, latency, server CPU, client CPU (wsload plus the poster), other load, deliveries per
server CPU-second, and ratios against bare picows measured in the same run (goal ≥ 0.8×).

    .venv/bin/python bench/fanout.py                     # 10,000 subscribers, 3 runs per server
    .venv/bin/python bench/fanout.py --subscribers 1000 --repeat 1 --seconds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _channel_world import CLONE_ID_OFFSET, Poster, clone_users, create_channel, guest, join, write_auth_file
from harness import (
    BENCH_DIR,
    QUIET_PCT,
    UNLIMITED_RATE,
    Target,
    WsloadRun,
    add_machine_options,
    auth_frame,
    bare_server,
    finish,
    palaver_process,
    pinning,
    round_robin,
    run_header,
)

GOAL_VS_PICOWS = 0.8
SERVERS = ("picows", "websockets", "gateway", "gateway-aiofastnet")
GATEWAY_TRANSPORTS = {"gateway": "uvloop", "gateway-aiofastnet": "aiofastnet"}  # PALAVER_GATEWAY_TRANSPORT


@dataclass
class Run:
    rate: float  # deliveries/s
    p50_ms: float
    p99_ms: float
    server_cpu: float  # % of one core
    client_cpu: float  # wsload + poster
    other: float
    conns: int
    posts_per_s: float | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def per_cpu_s(self) -> float:
        return self.rate / (self.server_cpu / 100) if self.server_cpu > 0 else 0.0


def from_wsload(r: dict[str, Any], poster_cpu: float = 0.0) -> Run:
    client = r["cpu_pct"] + poster_cpu
    other = max(0.0, r["machine_busy_pct"] - client - r["server_cpu_pct"]) if r["machine_busy_pct"] >= 0 else -1
    return Run(
        rate=r["rate"],
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        server_cpu=r["server_cpu_pct"],
        client_cpu=client,
        other=other,
        conns=int(r["conns"]),
    )


# --------------------------------------------------------------------------- the gateway's world


@dataclass
class GatewayWorld:
    data_dir: Path
    auth_file: Path
    owner_token: str
    chat_id: int


def build_world(data_dir: Path, log: Path, subscribers: int) -> GatewayWorld:
    """A channel and ``subscribers`` users in it, each with a session (server stopped afterwards)."""
    started = time.monotonic()
    with palaver_process(data_dir, None, log, log_level="warning") as server:
        channel = create_channel(server.origin, "Fan-out benchmark", "fanoutbench")
        template_token, template_id = guest(server.origin)
        join(server.origin, template_token, channel.chat_id)
    from palaver.config import Settings

    url = Settings(data_dir=data_dir).resolved_database_url()
    tokens = asyncio.run(
        clone_users(
            url,
            template_id,
            subscribers,
            first_id=template_id - CLONE_ID_OFFSET,
            channels=[channel.chat_id],
            sessions=subscribers,
        )
    )
    auth_file = write_auth_file(data_dir / "auth.txt", tokens)
    print(f"gateway world: {subscribers:,} subscribers in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return GatewayWorld(data_dir, auth_file, channel.owner_token, channel.chat_id)


def event_frame_size(gateway_port: int, origin: str, world: GatewayWorld) -> tuple[int, str]:
    """Post once as the owner and return the size (and text) of the ``update`` event it gets back."""
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{gateway_port}/", origin=origin, compression=None) as ws:  # type: ignore[arg-type]
        ws.send(auth_frame(world.owner_token))
        ws.recv(timeout=10)
        stamp = time.monotonic_ns()
        params = {"chat_id": str(world.chat_id), "text": str(stamp)}
        ws.send(json.dumps({"type": "req", "id": 1, "method": "messages.send", "params": params}))
        for _ in range(20):
            frame = ws.recv(timeout=10)
            assert isinstance(frame, str)
            if frame.startswith('{"type":"event"') and str(stamp) in frame:
                return len(frame.encode()), frame
    raise RuntimeError("the owner got no update event for its post")


# --------------------------------------------------------------------------- one run


def run_bare(target: Target, args: argparse.Namespace, client_cpu: int | None) -> Run:
    extra = ["-l", "-T", "text", "-a", '{"type":"hello"}', "-P", str(args.procs), "-s", str(args.sources)]
    with WsloadRun(
        target, args.subscribers, seconds=args.seconds, warmup=args.warmup, cpu=client_cpu, extra=extra
    ) as run:
        return from_wsload(run.result())


def run_gateway(target: Target, world: GatewayWorld, args: argparse.Namespace, client_cpu: int | None) -> Run:
    extra = ["-l", "-T", "text", "-A", str(world.auth_file), "-P", str(args.procs), "-s", str(args.sources)]
    with WsloadRun(
        target, args.subscribers, seconds=args.seconds, warmup=args.warmup, cpu=client_cpu, extra=extra
    ) as run:
        run.go.wait(timeout=120)
        go = time.monotonic_ns()
        window = go + int(args.warmup * 1e9)
        poster = Poster(
            target.port,
            target.origin or "",
            world.owner_token,
            world.chat_id,
            start_ns=go,
            window_ns=window,
            stop_ns=window + int(args.seconds * 1e9),
            inflight=args.inflight,
        )
        poster.start()
        result = run.result()
        poster.join(timeout=30)
    out = from_wsload(result, poster.cpu_pct)
    out.posts_per_s = poster.completed / args.seconds
    out.errors = poster.errors[:3]
    return out


# --------------------------------------------------------------------------- report


def chosen(runs: list[Run]) -> Run:
    """The median-rate quiet run, else the quietest."""
    quiet = sorted((r for r in runs if 0 <= r.other <= QUIET_PCT), key=lambda r: r.rate)
    if quiet:
        return quiet[len(quiet) // 2]
    return min(runs, key=lambda r: r.other if r.other >= 0 else 1e9)


def report(rows: dict[str, list[Run]], frame_bytes: int, args: argparse.Namespace, header: str) -> list[str]:
    lines = [
        header,
        f"{args.subscribers:,} subscribers, {frame_bytes}-byte frames, {args.warmup:g}s warm-up + {args.seconds:g}s,"
        f" {args.repeat} runs per server (median of the quiet ones), gateway posts with {args.inflight} in flight",
        "",
        "| server | deliveries/s | posts/s | p50 | p99 | server CPU | client CPU | other load | deliveries per"
        " server CPU-s | vs picows | vs picows per CPU-s | quiet runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = chosen(rows["picows"]) if rows.get("picows") else None
    for name, runs in rows.items():
        if not runs:
            continue
        r = chosen(runs)
        quiet = sum(1 for x in runs if 0 <= x.other <= QUIET_PCT)
        ratio = f"{r.rate / base.rate:.2f}×" if base and base.rate else "—"
        cpu_ratio = f"{r.per_cpu_s / base.per_cpu_s:.2f}×" if base and base.per_cpu_s else "—"
        posts = f"{r.posts_per_s:,.1f}" if r.posts_per_s is not None else "—"
        lines.append(
            f"| {name} | {r.rate:,.0f} | {posts} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.server_cpu:.0f}%"
            f" | {r.client_cpu:.0f}% | {r.other:.0f}% | {r.per_cpu_s:,.0f} | {ratio} | {cpu_ratio}"
            f" | {quiet} of {len(runs)} |"
        )
    lines.append("")
    for name in GATEWAY_TRANSPORTS:
        if not (base and rows.get(name)):
            continue
        g = chosen(rows[name])
        both_quiet = 0 <= g.other <= QUIET_PCT and 0 <= base.other <= QUIET_PCT
        value = g.rate / base.rate if both_quiet else g.per_cpu_s / base.per_cpu_s
        how = "deliveries/s" if both_quiet else "deliveries per server CPU-second (a run was not quiet)"
        verdict = "meets" if value >= GOAL_VS_PICOWS else "misses"
        lines.append(f"{name} / bare picows: {value:.2f}× by {how} — {verdict} the goal (≥ {GOAL_VS_PICOWS}×)")
    peak = max((r.client_cpu for runs in rows.values() for r in runs), default=0)
    lines.append(f"load client CPU peaked at {peak:.0f}% of its core (100% would mean the client limits the result)")
    for name, runs in rows.items():
        for r in runs:
            if r.conns < args.subscribers or r.errors:
                lines.append(f"warning: {name}: {r.conns:,} of {args.subscribers:,} connected; errors {r.errors}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000, help="online subscribers (default 10,000)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="subset of " + ",".join(SERVERS))
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per run (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server, round-robin (default 3)")
    parser.add_argument("--inflight", type=int, default=4, help="gateway: posts outstanding (default 4)")
    parser.add_argument("--procs", type=int, default=1, help="wsload processes (default 1)")
    parser.add_argument("--sources", type=int, default=1, help="wsload source addresses 127.0.0.1..S (default 1)")
    add_machine_options(parser)
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    args = parser.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    if any(s not in SERVERS for s in args.servers):
        parser.error(f"--servers: choose from {','.join(SERVERS)}")
    if not (1 <= args.subscribers <= 19_000 * args.procs and 0 < args.seconds <= 60 and 1 <= args.repeat <= 10):
        parser.error("need 1 <= --subscribers <= 19,000 × --procs, 0 < --seconds <= 60, 1 <= --repeat <= 10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server_cpu, client_cpu, args.nice = pinning(args.server_cpu, args.client_cpu, args.nice)
    header = run_header(args.nice)
    with tempfile.TemporaryDirectory(prefix="palaver-bench-fanout-") as tmp, contextlib.ExitStack() as stack:
        log_dir = Path(tmp)
        targets: dict[str, Target] = {}
        frame_bytes = 400
        world: GatewayWorld | None = None
        for name, transport in GATEWAY_TRANSPORTS.items():
            if name not in args.servers:
                continue
            if world is None:
                world = build_world(log_dir / "data", log_dir / "gateway.log", args.subscribers)
            server = stack.enter_context(
                palaver_process(
                    world.data_dir,
                    server_cpu,
                    log_dir / "gateway.log",
                    log_level="warning",
                    gateway_transport=transport,
                    **UNLIMITED_RATE,
                )
            )
            frame_bytes, sample = event_frame_size(server.gateway_port, server.origin, world)
            print(f"{name} update frame ({frame_bytes} bytes): {sample}", file=sys.stderr)
            targets[name] = Target(name, server.proc.pid, server.gateway_port, origin=server.origin)
        for name in ("picows", "websockets"):
            if name in args.servers:
                script = BENCH_DIR / "servers" / f"bare_{name}.py"
                command = [sys.executable, str(script), "--fanout-bytes", str(frame_bytes)]
                command += ["--fanout-clients", str(args.subscribers)]
                targets[name] = stack.enter_context(bare_server(name, command, server_cpu, log_dir))
        cells: dict[str, Callable[[], Run]] = {}
        for name in args.servers:  # the report lists the servers in this order
            target = targets[name]
            if name in GATEWAY_TRANSPORTS:
                assert world is not None
                cells[name] = functools.partial(run_gateway, target, world, args, client_cpu)
            else:
                cells[name] = functools.partial(run_bare, target, args, client_cpu)
        rows, failures = round_robin(cells, repeat=args.repeat, quiet_wait=args.quiet_wait)
        log = (log_dir / "gateway.log").read_text(errors="replace") if world else ""
        if "Traceback" in log:
            failures.append("the gateway logged errors:\n" + log[-3000:])
    return finish("\n".join(report(rows, frame_bytes, args, header)), rows, failures, args.json)


if __name__ == "__main__":
    sys.exit(main())
