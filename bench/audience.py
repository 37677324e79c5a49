"""Audience size: does the size of a channel's audience change the cost of a post? (issue #7, item 2)

One ``palaver serve`` (SQLite, pinned to one CPU) with two public channels:

* ``A`` — ``--big`` (default 1,000,000) subscriber rows (users, user boxes, memberships, cloned with
  SQL: see ``_channel_world.py``), of whom ``--online`` (default 1,000) are connected;
* ``B`` — ``--online`` subscribers, all connected.

Each run connects the online subscribers of one channel (``wsload -l``, one user per connection,
on another CPU) and has that channel's owner post through the gateway at ``--rate`` posts/s (open
loop, each post's text is its scheduled CLOCK_MONOTONIC time), so ``wsload -T text`` measures post
→ delivered latency at every online subscriber. Runs alternate A, B, A, B … after waiting for an
idle machine; the report gives p50/p99 per channel (median over the quiet runs) and the ratio A/B.
Goal: within 20% — a post costs O(online subscribers), not O(all subscribers).

    .venv/bin/python bench/audience.py                    # 1,000,000 vs 1,000 subscribers, 1,000 online
    .venv/bin/python bench/audience.py --big 100000 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _channel_world import CLONE_ID_OFFSET, Channel, Poster, clone_users, create_channel, guest, join, write_auth_file
from harness import (
    QUIET_PCT,
    UNLIMITED_RATE,
    Target,
    WsloadRun,
    add_machine_options,
    finish,
    palaver_process,
    pinning,
    round_robin,
    run_header,
)

GOAL_RATIO = 1.2


@dataclass
class Audience:
    name: str
    channel: Channel
    rows: int  # subscriber rows
    auth_file: Path


@dataclass
class Run:
    channel: str
    p50_ms: float
    p99_ms: float
    deliveries: int
    expected: int
    posts: int
    server_cpu: float
    client_cpu: float
    other: float
    errors: list[str]


def build(data_dir: Path, log: Path, big: int, online: int) -> tuple[Audience, Audience]:
    with palaver_process(data_dir, None, log, log_level="warning") as server:
        channel_a = create_channel(server.origin, "Big audience", "audiencebig")
        channel_b = create_channel(server.origin, "Small audience", "audiencesmall")
        template_token, template_id = guest(server.origin)
        join(server.origin, template_token, channel_a.chat_id)
        join(server.origin, template_token, channel_b.chat_id)
    from palaver.config import Settings

    url = Settings(data_dir=data_dir).resolved_database_url()
    base = template_id - CLONE_ID_OFFSET
    started = time.monotonic()
    tokens_a = asyncio.run(
        clone_users(url, template_id, big - 1, first_id=base, channels=[channel_a.chat_id], sessions=online)
    )
    print(f"channel A: {big:,} subscriber rows in {time.monotonic() - started:.1f}s", file=sys.stderr)
    tokens_b = asyncio.run(
        clone_users(
            url, template_id, online - 1, first_id=base + 2 * big, channels=[channel_b.chat_id], sessions=online
        )
    )
    return (
        Audience("A", channel_a, big + 1, write_auth_file(data_dir / "auth-a.txt", tokens_a)),
        Audience("B", channel_b, online + 1, write_auth_file(data_dir / "auth-b.txt", tokens_b)),
    )


def run_one(target: Target, audience: Audience, args: argparse.Namespace, client_cpu: int | None) -> Run:
    extra = ["-l", "-T", "text", "-A", str(audience.auth_file)]
    with WsloadRun(target, args.online, seconds=args.seconds, warmup=args.warmup, cpu=client_cpu, extra=extra) as run:
        run.go.wait(timeout=120)
        go = time.monotonic_ns()
        window = go + int(args.warmup * 1e9)
        poster = Poster(
            target.port,
            target.origin or "",
            audience.channel.owner_token,
            audience.channel.chat_id,
            start_ns=go,
            window_ns=window,
            stop_ns=window + int(args.seconds * 1e9),
            rate=args.rate,
        )
        poster.start()
        r = run.result()
        poster.join(timeout=30)
    client = r["cpu_pct"] + poster.cpu_pct
    return Run(
        channel=audience.name,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        deliveries=int(r["msgs"]),
        expected=int(poster.completed * r["conns"]),
        posts=poster.completed,
        server_cpu=r["server_cpu_pct"],
        client_cpu=client,
        other=max(0.0, r["machine_busy_pct"] - client - r["server_cpu_pct"]),
        errors=poster.errors[:3],
    )


def summary(runs: list[Run]) -> tuple[float, float, list[Run]]:
    """Median p50 and p99 over the quiet runs (over all runs when none was quiet)."""
    quiet = [r for r in runs if r.other <= QUIET_PCT] or runs
    return statistics.median(r.p50_ms for r in quiet), statistics.median(r.p99_ms for r in quiet), quiet


def report(runs: dict[str, list[Run]], audiences: dict[str, Audience], args: argparse.Namespace, header: str) -> str:
    lines = [
        header,
        f"{args.online:,} online per channel, {args.rate:g} posts/s, {args.warmup:g}s warm-up + {args.seconds:g}s"
        f" per run, {args.repeat} runs per channel alternating",
        "",
        "| channel | subscriber rows | online | runs (quiet) | posts/run | deliveries/run | p50 | p99 | server CPU |"
        " client CPU | other load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stats = {}
    for name, found in runs.items():
        if not found:
            continue
        p50, p99, used = summary(found)
        quiet = [r for r in found if r.other <= QUIET_PCT]
        stats[name] = (p50, p99)
        mean = statistics.mean
        lines.append(
            f"| {name} | {audiences[name].rows:,} | {args.online:,} | {len(found)} ({len(quiet)}) |"
            f" {mean(r.posts for r in used):.0f} | {mean(r.deliveries for r in used):,.0f} | {p50:.2f} ms |"
            f" {p99:.2f} ms | {mean(r.server_cpu for r in used):.0f}% | {mean(r.client_cpu for r in used):.0f}% |"
            f" {mean(r.other for r in used):.0f}% |"
        )
    lines.append("")
    if len(stats) == 2:
        (a50, a99), (b50, b99) = stats["A"], stats["B"]
        ok = max(a50 / b50, a99 / b99) <= GOAL_RATIO and min(a50 / b50, a99 / b99) >= 1 / GOAL_RATIO
        lines.append(
            f"A / B latency: p50 {a50 / b50:.2f}×, p99 {a99 / b99:.2f}× — "
            f"{'meets' if ok else 'misses'} the goal (within 20%)"
        )
    for found in runs.values():
        for r in found:
            if r.deliveries < 0.99 * r.expected or r.errors:
                lines.append(f"warning: {r.channel}: {r.deliveries:,} of ~{r.expected:,} deliveries; errors {r.errors}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=1_000_000, help="subscriber rows of channel A (1,000,000)")
    parser.add_argument("--online", type=int, default=1000, help="online subscribers per channel (1,000)")
    parser.add_argument("--rate", type=float, default=20.0, help="posts/s (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per run (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per channel (default 3)")
    add_machine_options(parser)
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    args = parser.parse_args(argv)
    if not (2 <= args.online <= 19_000 and args.online < args.big <= 5_000_000):
        parser.error("need 2 <= --online <= 19,000 and --online < --big <= 5,000,000")
    if not (0 < args.rate <= 1000 and 0 < args.seconds <= 60 and 1 <= args.repeat <= 10):
        parser.error("need 0 < --rate <= 1000, 0 < --seconds <= 60, 1 <= --repeat <= 10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server_cpu, client_cpu, args.nice = pinning(args.server_cpu, args.client_cpu, args.nice)
    header = run_header(args.nice)
    with tempfile.TemporaryDirectory(prefix="palaver-bench-audience-") as tmp, contextlib.ExitStack() as stack:
        log = Path(tmp) / "server.log"
        data_dir = Path(tmp) / "data"
        started = time.monotonic()
        big, small = build(data_dir, log, args.big, args.online)
        print(f"set-up: {time.monotonic() - started:.1f}s", file=sys.stderr)
        server = stack.enter_context(palaver_process(data_dir, server_cpu, log, log_level="warning", **UNLIMITED_RATE))
        target = Target("gateway", server.proc.pid, server.gateway_port, origin=server.origin)
        audiences = {"A": big, "B": small}
        runs, failures = round_robin(
            {
                name: functools.partial(run_one, target, audience, args, client_cpu)
                for name, audience in audiences.items()
            },
            repeat=args.repeat,
            quiet_wait=args.quiet_wait,
        )
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            failures.append("the server logged errors:\n" + text[-3000:])
    return finish(report(runs, audiences, args, header), runs, failures, args.json)


if __name__ == "__main__":
    sys.exit(main())
