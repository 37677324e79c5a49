"""Messaging benchmark over the real gateway and HTTP API: one ``palaver serve``, SQLite and PostgreSQL.

For each backend it starts ``palaver serve`` (pinned to one CPU) on a fresh data dir (and, for
PostgreSQL, a throw-away database, dropped at the end), creates guest users and chats through the
HTTP API, connects one gateway connection per user (``auth`` frame), and runs:

* ``1to1-max``  — 1:1 messages, closed loop: every user keeps ``--inflight`` sends in flight to the
  private chat with its partner; the maximum sustained rate.
* ``1to1-rate`` — 1:1 messages, open loop at ``--rate`` msg/s spread over all users (sends are
  scheduled at fixed times whatever the server does, so queueing shows up as latency).
* ``group-max`` — a basic group of ``--group-size`` members, every member keeps ``--inflight`` sends
  in flight; counted in deliveries (one per other member per message).
* ``group-rate`` — the same group, open loop at ``--group-rate`` msg/s.

Sends go through the gateway method ``messages.send`` when the server has it, else through
``POST /api/v1/chats/{id}/messages`` on keep-alive HTTP connections (``--via`` forces one). Each
message's text carries its send time (``time.monotonic_ns``, the same clock in every process) and
the sender's index; latency is send → the receiver's ``update`` event. The load runs in several
client processes (uvloop + picows, ``bench/messaging_load.py``), pinned to another CPU than the
server; the table shows the CPU each side used over the measured window, and the PostgreSQL
backends' CPU separately.

    .venv/bin/python bench/messaging.py                       # SQLite and PostgreSQL, ~10 s per scenario
    .venv/bin/python bench/messaging.py --backends sqlite --scenarios 1to1-rate --rate 2000
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import multiprocessing
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness import (
    HOST,
    busy_seconds,
    cpu_seconds,
    machine,
    palaver_env,
    palaver_process,
    pg_backend_pids,
    pg_database,
    pinning,
    wait_until_quiet,
)
from messaging_load import ConnSpec, Scenario, client_main

SCENARIOS = ("1to1-max", "1to1-rate", "group-max", "group-rate")
GOALS = {"1to1 msg/s": 4000.0, "1to1 p99 ms at 1,000 msg/s": 20.0, "group deliveries/s": 30000.0}
SYNAPSE = (
    "Matrix Synapse 1.163 on this machine: 1:1 87–102 msg/s, delivery p99 ≈ 270 ms; "
    "group ≈ 1,100 deliveries/s, p99 2.7 s"
)


# --------------------------------------------------------------------------- the server


@dataclass
class Server:
    backend: str
    code: str  # "current", or "baseline" (the source tree of --baseline-src)
    proc: subprocess.Popen[bytes]
    http_port: int
    gateway_port: int
    log: Path
    database: str | None = None  # PostgreSQL: the throw-away database's name


@contextlib.contextmanager
def palaver_server(
    backend: str, cpu: int | None, log_dir: Path, *, code: str = "current", src: Path | None = None
) -> Iterator[Server]:
    """``palaver serve`` of this checkout, or with ``src``, of the ``palaver`` package in that directory
    (same virtualenv, same dependencies: a same-run baseline)."""
    data_dir = Path(tempfile.mkdtemp(prefix="palaver-bench-msg-"))
    env = palaver_env(data_dir, 0, 0, log_level="warning")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    log = log_dir / f"server-{backend}-{code}.log"
    try:
        with contextlib.ExitStack() as stack:
            database = stack.enter_context(pg_database()) if backend == "postgres" else None
            if database is not None:
                env["PALAVER_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
            server = stack.enter_context(palaver_process(data_dir, cpu, log, env=env, stop_timeout=15))
            yield Server(backend, code, server.proc, server.http_port, server.gateway_port, log, database)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- set-up over HTTP


@dataclass
class World:
    tokens: list[str]
    user_ids: list[str]
    pair_chats: list[str]  # by user index: the private chat with its partner (index ^ 1)
    group_chat: str
    group_size: int


async def build_world(base: str, users: int, group_size: int) -> World:
    import httpx

    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        gate = asyncio.Semaphore(32)

        async def post(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with gate:
                response = await http.post(path, json=body, headers=headers)
            if response.status_code >= 300:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
            result: dict[str, Any] = response.json()
            return result

        guests = await asyncio.gather(*(post("/api/v1/auth/guest", {}) for _ in range(users)))
        tokens = [g["session_token"] for g in guests]
        user_ids = [str(g["user"]["id"]) for g in guests]
        chats = await asyncio.gather(
            *(post("/api/v1/chats/private", {"user_id": user_ids[i + 1]}, tokens[i]) for i in range(0, users - 1, 2))
        )
        pair_chats = [str(chats[i // 2]["chat"]["id"]) for i in range(users - users % 2)]
        group = await post(
            "/api/v1/chats/groups",
            {"title": "Benchmark group", "member_ids": user_ids[1:group_size]},
            tokens[0],
        )
    return World(tokens, user_ids, pair_chats, str(group["chat"]["id"]), group_size)


# --------------------------------------------------------------------------- running scenarios (parent)


@dataclass
class Result:
    backend: str
    code: str
    scenario: str
    offered: str
    rate: float  # msg/s, or deliveries/s for group scenarios
    unit: str
    p50_ms: float
    p99_ms: float
    server_cpu: float  # % of one core
    client_cpu: float
    pg_cpu: float | None
    other_cpu: float
    sent: int
    errors: int
    rate_limited: int
    error_samples: list[str]
    samples: int
    via: str


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1000.0


class ClientFleet:
    """The load-client processes of one server, connected once and reused by every scenario."""

    def __init__(self, world: World, server: Server, args: argparse.Namespace, cpu: int | None) -> None:
        context = multiprocessing.get_context("spawn")
        users = len(world.tokens)
        specs = [
            ConnSpec(
                index=i,
                token=world.tokens[i],
                chat_id=world.pair_chats[i],
                group_chat=world.group_chat if i < world.group_size else None,
            )
            for i in range(users)
        ]
        self.procs: list[Any] = []
        self.pipes: list[Connection] = []
        self.senders_per_proc: list[tuple[int, int]] = []  # (1:1 senders, group senders)
        for p in range(args.clients):
            mine = specs[p :: args.clients]
            parent_end, child_end = context.Pipe()
            proc = context.Process(
                target=client_main,
                args=(mine, server.gateway_port, server.http_port, args.via, cpu, child_end),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
            self.pipes.append(parent_end)
            self.senders_per_proc.append((len(mine), sum(1 for s in mine if s.group_chat)))
        self.group_chat = world.group_chat
        hello = [pipe.recv() for pipe in self.pipes]
        self.via = hello[0]["via"]
        self.connected = sum(h["ready"] for h in hello)

    def run(self, scenario: Scenario, start: int, warmup: float, seconds: float, drain: float) -> list[dict[str, Any]]:
        totals = [s[1] if scenario.group else s[0] for s in self.senders_per_proc]
        for pipe, senders in zip(self.pipes, totals, strict=True):
            share = scenario.rate * senders / max(1, sum(totals))
            pipe.send(
                {
                    "cmd": "run",
                    "scenario": scenario,
                    "start": start,
                    "warmup": warmup,
                    "seconds": seconds,
                    "drain": drain,
                    "rate_share": share,
                }
            )
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send({"cmd": "quit"})
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


def scenario_list(args: argparse.Namespace) -> list[Scenario]:
    made = {
        "1to1-max": Scenario("1to1-max", "closed", group=False, inflight=args.inflight),
        "1to1-rate": Scenario("1to1-rate", "open", group=False, rate=args.rate),
        "group-max": Scenario("group-max", "closed", group=True, inflight=args.inflight),
        "group-rate": Scenario("group-rate", "open", group=True, rate=args.group_rate),
    }
    return [made[name] for name in args.scenarios]


def measure(server: Server, fleet: ClientFleet, scenario: Scenario, args: argparse.Namespace) -> Result:
    start = time.monotonic_ns() + int(0.5e9)
    window_start = start + int(args.warmup * 1e9)
    results: list[dict[str, Any]] = []
    pg_pids = asyncio.run(pg_backend_pids(server.database)) if server.database else []

    def sample() -> tuple[float, dict[int, float], float]:
        return cpu_seconds(server.proc.pid), {pid: cpu_seconds(pid) for pid in pg_pids}, busy_seconds()

    import threading

    runner = threading.Thread(
        target=lambda: results.extend(fleet.run(scenario, start, args.warmup, args.seconds, args.drain))
    )
    runner.start()
    time.sleep(max(0.0, (window_start - time.monotonic_ns()) / 1e9))
    before = sample()
    time.sleep(args.seconds)
    after = sample()
    runner.join()
    server_cpu = (after[0] - before[0]) / args.seconds * 100
    # PostgreSQL backends that exited during the window (pool churn) read as 0 at the end: left out
    pg_seconds = sum(max(0.0, after[1][pid] - before[1][pid]) for pid in pg_pids if after[1][pid] > 0)
    pg_cpu = pg_seconds / args.seconds * 100 if pg_pids else None
    client_cpu = sum(r["cpu_s"] for r in results) / args.seconds * 100
    machine_busy = (after[2] - before[2]) / args.seconds * 100
    other = max(0.0, machine_busy - server_cpu - client_cpu - (pg_cpu or 0.0))
    latencies: list[int] = []
    for r in results:
        values: array.array[int] = array.array("q")
        values.frombytes(r["latencies"])
        latencies.extend(values)
    latencies.sort()
    delivered = sum(r["delivered"] for r in results)
    sent = sum(r["sent"] for r in results)
    if scenario.group:
        unit = "deliveries/s"
        per_message = args.group_size - 1
        offered = (
            f"{scenario.rate:,.0f} msg/s ({scenario.rate * per_message:,.0f} deliv/s)"
            if scenario.loop == "open"
            else f"closed, {scenario.inflight}/sender"
        )
    else:
        unit = "msg/s"
        offered = f"{scenario.rate:,.0f} msg/s" if scenario.loop == "open" else f"closed, {scenario.inflight}/sender"
    return Result(
        backend=server.backend,
        code=server.code,
        scenario=scenario.name,
        offered=offered,
        rate=delivered / args.seconds,
        unit=unit,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        pg_cpu=pg_cpu,
        other_cpu=other,
        sent=sent,
        errors=sum(r["errors"] for r in results),
        rate_limited=sum(r["rate_limited"] for r in results),
        error_samples=[s for r in results for s in r["error_samples"]][:3],
        samples=len(latencies),
        via=fleet.via,
    )


def render(results: list[Result]) -> str:
    lines = [
        "| backend | scenario | offered load | achieved | p50 | p99 | server CPU | per server CPU-s | client CPU"
        " | PostgreSQL CPU | other load |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    compared = any(r.code != "current" for r in results)
    for r in results:
        pg = "—" if r.pg_cpu is None else f"{r.pg_cpu:.0f}%"
        notes = []
        if r.errors - r.rate_limited:
            notes.append(f"{r.errors - r.rate_limited} errors")
        if r.rate_limited:
            notes.append(f"{r.rate_limited} rate-limited")
        note = f" ({', '.join(notes)})" if notes else ""
        efficiency = f"{r.rate / (r.server_cpu / 100):,.0f}" if r.server_cpu > 0 else "?"
        backend = f"{r.backend} ({r.code})" if compared else r.backend
        lines.append(
            f"| {backend} | {r.scenario}{note} | {r.offered} | {r.rate:,.0f} {r.unit} | {r.p50_ms:.1f} ms"
            f" | {r.p99_ms:.1f} ms | {r.server_cpu:.0f}% | {efficiency} | {r.client_cpu:.0f}% | {pg}"
            f" | {r.other_cpu:.0f}% |"
        )
    return "\n".join(lines)


def verdict(results: list[Result]) -> list[str]:
    out = []
    by_key = {(r.backend, r.code, r.scenario): r for r in results}
    for r in results:
        base = by_key.get((r.backend, "baseline", r.scenario))
        if r.code == "current" and base is not None and base.rate > 0 and base.server_cpu > 0:
            ratio = (r.rate / r.server_cpu) / (base.rate / base.server_cpu)
            out.append(
                f"{r.backend} {r.scenario}: current / baseline {r.rate / base.rate:.2f}× {r.unit},"
                f" {ratio:.2f}× per server CPU-second; p99 {r.p99_ms:.1f} ms vs {base.p99_ms:.1f} ms"
            )
    results = [r for r in results if r.code == "current"]
    for backend in dict.fromkeys(r.backend for r in results):
        by = {r.scenario: r for r in results if r.backend == backend}
        if "1to1-max" in by:
            r = by["1to1-max"]
            ok = "meets" if r.rate >= GOALS["1to1 msg/s"] else "misses"
            out.append(f"{backend}: 1:1 max {r.rate:,.0f} msg/s — {ok} the goal (≥ {GOALS['1to1 msg/s']:,.0f})")
        if "1to1-rate" in by:
            r = by["1to1-rate"]
            ok = "meets" if r.p99_ms <= GOALS["1to1 p99 ms at 1,000 msg/s"] else "misses"
            out.append(f"{backend}: 1:1 p99 at {r.offered}: {r.p99_ms:.1f} ms — {ok} the goal (≤ 20 ms at 1,000 msg/s)")
        best = max((by[s].rate for s in ("group-max", "group-rate") if s in by), default=None)
        if best is not None:
            ok = "meets" if best >= GOALS["group deliveries/s"] else "misses"
            out.append(f"{backend}: group {best:,.0f} deliveries/s — {ok} the goal (≥ 30,000)")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of " + ",".join(SCENARIOS)
    )
    parser.add_argument("--users", type=int, default=1000, help="users, one gateway connection each (default 1000)")
    parser.add_argument("--group-size", type=int, default=100, help="members of the group (default 100)")
    parser.add_argument("--rate", type=float, default=1000.0, help="1to1-rate: offered msg/s (default 1000)")
    parser.add_argument("--group-rate", type=float, default=100.0, help="group-rate: offered msg/s (default 100)")
    parser.add_argument("--inflight", type=int, default=1, help="closed loop: sends in flight per sender (default 1)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per scenario (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before measuring (default 2)")
    parser.add_argument("--drain", type=float, default=1.0, help="open loop: wait this long for late deliveries")
    parser.add_argument("--clients", type=int, default=2, help="load-client processes (default 2)")
    parser.add_argument("--via", choices=("auto", "gateway", "http"), default="auto", help="how to send (default auto)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per scenario; the quietest is shown (default 2)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=5.0,
        help="before each run wait up to this many seconds for the machine to be idle (default 5; 0 = don't)",
    )
    parser.add_argument(
        "--nice", type=int, default=0, help="run server and clients at this nice value, e.g. -10 (needs root)"
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU to pin the server to (default 0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU to pin the load clients to (default 1)")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="also run a server from this source directory (e.g. `git archive HEAD src migrations | tar -x`), "
        "alternating with the current code: a same-run baseline",
    )
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also run a server from the source directory DIR, labelled NAME (repeatable; runs alternate)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    for item in args.code:
        if "=" not in item or not Path(item.partition("=")[2]).is_dir():
            parser.error(f"--code wants NAME=DIR with an existing DIR, not {item!r}")
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    for name in args.scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    for name in args.backends:
        if name not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {name!r}")
    if not (2 <= args.group_size <= 200 and args.group_size <= args.users and 2 <= args.users <= 10_000):
        parser.error("need 2 <= --group-size <= min(200, --users) and 2 <= --users <= 10000")
    if args.users % 2:
        parser.error("--users must be even (users are paired)")
    if not (0 < args.seconds <= 120 and 1 <= args.clients <= 32 and 1 <= args.inflight <= 16):
        parser.error("--seconds in (0, 120], --clients in [1, 32], --inflight in [1, 16]")
    if not 1 <= args.repeat <= 10:
        parser.error("--repeat in [1, 10]")
    return args


def run_backend(
    backend: str,
    codes: list[tuple[str, Path | None]],
    args: argparse.Namespace,
    log_dir: Path,
    server_cpu: int | None,
    client_cpu: int | None,
    failures: list[str],
) -> list[Result]:
    """Every scenario on one backend; with a baseline, both servers are up and runs alternate."""
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        targets: list[tuple[Server, ClientFleet]] = []
        for code, src in codes:
            server = stack.enter_context(palaver_server(backend, server_cpu, log_dir, code=code, src=src))
            started = time.monotonic()
            world = asyncio.run(build_world(f"http://{HOST}:{server.http_port}", args.users, args.group_size))
            fleet = ClientFleet(world, server, args, client_cpu)
            stack.callback(fleet.close)
            print(
                f"[{backend}/{code}] {args.users} users, {len(world.pair_chats) // 2} private chats, a "
                f"{args.group_size}-member group and {fleet.connected} gateway connections in "
                f"{time.monotonic() - started:.1f}s; sending via {fleet.via}",
                file=sys.stderr,
            )
            targets.append((server, fleet))
        for scenario in scenario_list(args):
            runs: dict[str, list[Result]] = {}
            for _ in range(args.repeat):
                for server, fleet in targets:  # alternate, so background load hits both alike
                    if args.quiet_wait > 0:
                        wait_until_quiet(args.quiet_wait, threshold=0.15)
                    result = measure(server, fleet, scenario, args)
                    runs.setdefault(server.code, []).append(result)
                    print(f"[{backend}/{server.code}] {json.dumps(result.__dict__)}", file=sys.stderr)
            results += [min(found, key=lambda r: r.other_cpu) for found in runs.values()]  # the quietest run
        for server, _ in targets:
            log = server.log.read_text(errors="replace")
            if "Traceback" in log:
                failures.append(f"{backend}/{server.code}: the server logged errors:\n{log[-3000:]}")
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server_cpu, client_cpu, args.nice = pinning(args.server_cpu, args.client_cpu, args.nice)
    results: list[Result] = []
    failures: list[str] = []
    codes: list[tuple[str, Path | None]] = [("current", None)]
    if args.baseline_src:
        codes.append(("baseline", args.baseline_src))
    for item in args.code:
        name, _, directory = item.partition("=")
        codes.append((name, Path(directory)))
    with tempfile.TemporaryDirectory(prefix="palaver-bench-msg-logs-") as tmp:
        for backend in args.backends:
            try:
                results += run_backend(backend, codes, args, Path(tmp), server_cpu, client_cpu, failures)
            except Exception as exc:
                failures.append(f"{backend}: {exc!r}")
                print(f"[{backend}] FAILED: {exc!r}", file=sys.stderr)
    print()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} — {machine()}; python {sys.version.split()[0]}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}")
    print(
        f"{args.users} users (one gateway connection each), {args.group_size}-member group; server on CPU "
        f"{server_cpu}, {args.clients} client processes on CPU {client_cpu}; {args.warmup:g}s warm-up + "
        f"{args.seconds:g}s measured per scenario, quietest of {args.repeat}; nice {args.nice}; "
        f"sends via {results[0].via if results else '?'}"
    )
    print()
    print(render(results))
    print()
    for line in verdict(results):
        print(line)
    print(f"reference: {SYNAPSE}")
    for failure in failures:
        print(f"FAILED {failure}")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
