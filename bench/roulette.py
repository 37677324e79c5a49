"""Roulette over the real gateway: simulated users (no media) pressing Next after a random 0.5–5 s.

Starts ``palaver serve`` (one process, fresh data dir, pinned to CPU 0, gateway rate limit raised
so it never triggers), creates one guest account per user through ``POST /api/v1/auth/guest``
(concurrently, before measuring; the time it took is printed), and connects every user on its own
gateway connection from several client processes (uvloop + picows, bench/_roulette_client.py),
pinned to CPU 1. Each user calls ``roulette.start`` {languages ["en"], text only, no auto-next}
(spread over ``--ramp`` seconds); once paired it waits a random 0.5–5 s and calls ``roulette.next``;
when the partner leaves first (``roulette.partner_left``) it calls ``roulette.next`` itself. The
window opens ``--warmup`` seconds after every ``roulette.start`` has been answered and lasts
``--seconds``. Printed:

- pairs/s: pairs whose first ``roulette.matched`` arrived in the window, each pair counted once
  (both members report the pair id; that also tells who met whom);
- time-to-pair p50/p99/max over the waits that began in the window, measured by the client from
  sending ``start``/``next`` (or from the arrival of ``partner_left``) to the first ``paired``
  answer or ``roulette.matched`` event. It includes two network trips and the client's own delay,
  so it is an upper bound on the server-side time (the server exposes no such measurement); it also
  includes the wait for a partner to enter the queue, which no server can avoid. Waits still open
  when the run stops count with their length so far. Beside it: the echo round trip on random
  connections under the same load (a same-run baseline) and the client's event-loop lag;
- repeats: pairs whose two users had already been paired earlier in the run (the matcher's
  window is 10 minutes, longer than a run, so every one counts);
- CPU over the window: the server's, the clients' (sum over processes, % of the one core they
  share; ≥ 90% = saturated), what other processes took of each core, the busiest of them;
- the server's garbage-collector pauses over 10 ms (``--gc-probe``, on by default: a
  ``sitecustomize`` module on the server's PYTHONPATH that logs them; the server's code is unchanged);
- a per-second timeline: pairs, time-to-pair and echo p99, server CPU, others on its core, GC.

Goals: time-to-pair p99 ≤ 20 ms, ≥ 1,000 pairs/s on one process, 0 repeats.

    .venv/bin/python bench/roulette.py                        # 10,000 users, 30 s (setup ≈ 2–3 min)
    .venv/bin/python bench/roulette.py --users 1000 --seconds 30
    .venv/bin/python bench/roulette.py --nice -10 --json /tmp/roulette.json
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _roulette_client import CAUSES, UNFINISHED, MeasurePlan, StartPlan, client_main
from harness import busy_seconds, cpu_seconds, gateway_server, machine, pinning, wait_until_quiet

GOAL_P99_MS = 20.0
GOAL_PAIRS_PER_S = 1000.0
START_PARAMS = b'{"languages":["en"],"interests":[],"text_only":true,"auto_next":false}'


def core_busy_seconds(cpu: int | None) -> float:
    """CPU-seconds one CPU spent busy since boot (its ``cpuN`` line of /proc/stat); 0 when unknown."""
    if cpu is None:
        return 0.0
    prefix = f"cpu{cpu} "
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(prefix):
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in line.split()[1:9])
            return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def runqueue_seconds(pid: int) -> float:
    """Time the main thread of ``pid`` spent runnable but waiting for a CPU (/proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class CpuSample:
    at: int  # monotonic ns
    server: float  # the server's CPU-seconds so far
    machine: float  # busy CPU-seconds of the whole machine
    server_core: float  # busy CPU-seconds of the server's CPU (whoever used it)
    client_core: float
    server_waited: float  # seconds the server's main thread was runnable but waited for a CPU (schedstat)


def process_cpu() -> dict[int, tuple[str, float, int]]:
    """Every process's (name, CPU-seconds so far, nice), from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / tick, int(fields[16]))
    return out


def busiest_others(
    before: dict[int, tuple[str, float, int]], after: dict[int, tuple[str, float, int]], mine: set[int], seconds: float
) -> list[str]:
    """The processes other than the benchmark's that used the most CPU during the window."""
    used = []
    for pid, (name, cpu, nice) in after.items():
        if pid in mine:
            continue
        delta = cpu - (before[pid][1] if pid in before else 0.0)  # started in the window: all of it
        if delta > 0.01 * seconds:
            used.append((delta, f"{name} (pid {pid}, nice {nice}) {100 * delta / seconds:.0f}%"))
    return [text for _, text in sorted(used, reverse=True)[:4]]


def sample_cpu(
    pid: int, window: tuple[int, int], server_cpu: int | None, client_cpu: int | None
) -> tuple[list[CpuSample], dict[int, tuple[str, float, int]], dict[int, tuple[str, float, int]]]:
    """Every 0.5 s through the window: who used the CPUs (for the overall figures and the timeline);
    and every process's CPU at the start and the end of the window."""
    samples: list[CpuSample] = []
    procs_before: dict[int, tuple[str, float, int]] = {}
    at = window[0]
    while True:
        time.sleep(max(0.0, (at - time.monotonic_ns()) / 1e9))
        now = time.monotonic_ns()
        samples.append(
            CpuSample(
                now,
                cpu_seconds(pid),
                busy_seconds(),
                core_busy_seconds(server_cpu),
                core_busy_seconds(client_cpu),
                runqueue_seconds(pid),
            )
        )
        if not procs_before:
            procs_before = process_cpu()
        if at >= window[1]:
            return samples, procs_before, process_cpu()
        at = min(window[1], at + 500_000_000)


def percentile_ms(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return float("nan")
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6


def unpack(raw: bytes, typecode: str = "q") -> array.array[int]:
    values: array.array[int] = array.array(typecode)
    values.frombytes(raw)
    return values


# --------------------------------------------------------------------------- setup


async def create_guests(base: str, count: int, concurrency: int) -> list[str]:
    """One guest account and session per user (POST /api/v1/auth/guest has no rate limit)."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> str:
            for attempt in range(5):
                try:
                    async with gate:
                        response = await http.post("/api/v1/auth/guest", json={})
                    break
                except httpx.TransportError:  # e.g. a keep-alive connection the server just closed
                    if attempt == 4:
                        raise
                    await asyncio.sleep(0.2)
            if response.status_code != 200:
                raise RuntimeError(f"POST /api/v1/auth/guest: {response.status_code} {response.text[:300]}")
            token: str = response.json()["session_token"]
            return token

        return list(await asyncio.gather(*(one() for _ in range(count))))


class ClientFleet:
    """The client processes, each holding a share of the users' connections."""

    def __init__(self, tokens: list[str], port: int, args: argparse.Namespace, cpu: int | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.procs: list[Any] = []
        self.pipes: list[Connection] = []
        for p in range(args.clients):
            parent_end, child_end = context.Pipe()
            proc = context.Process(
                target=client_main,
                args=(tokens[p :: args.clients], port, args.sources, args.seed * 1000 + p, cpu, child_end),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
            self.pipes.append(parent_end)
        hello = [pipe.recv() for pipe in self.pipes]
        self.connected = sum(h["connected"] for h in hello)
        self.failed = sum(h["failed"] for h in hello)
        self.failure = next((h["failure"] for h in hello if h["failure"]), "")

    def phase(self, cmd: str, plans: list[StartPlan] | list[MeasurePlan]) -> list[dict[str, Any]]:
        for pipe, plan in zip(self.pipes, plans, strict=True):
            pipe.send({"cmd": cmd, "plan": plan})
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send({"cmd": "quit"})
        for proc in self.procs:
            proc.join(timeout=15)
            if proc.is_alive():
                proc.terminate()


# --------------------------------------------------------------------------- analysis


@dataclass
class Report:
    users: int
    connected: int
    failed: int
    seconds: float
    setup_guests_s: float
    setup_connect_s: float
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_busy: float = 0.0
    server_core_other: float = 0.0  # % of the server's core that other processes used
    server_waited: float = 0.0  # % of the window the server's main thread was runnable but not running
    client_core_other: float = 0.0
    samples: list[CpuSample] = field(default_factory=list)
    wait_starts: list[tuple[int, int]] = field(default_factory=list)  # (began, wait) ns
    echo_starts: list[tuple[int, int]] = field(default_factory=list)
    pair_times: list[int] = field(default_factory=list)
    window: tuple[int, int] = (0, 0)
    setup_server_cpu: float = 0.0
    started: int = 0  # users whose roulette.start was answered
    start_errors: int = 0  # roulette.start answered with an error (and retried)
    starts_s: float = 0.0  # from the first start sent to the last one answered
    gc: list[tuple[int, int, float, float]] = field(default_factory=list)  # server GC pauses > 10 ms
    others: list[str] = field(default_factory=list)  # the busiest other processes in the window
    pairs_in_window: int = 0
    pairs_total: int = 0
    complete_pairs: int = 0
    half_seen: int = 0
    repeats: int = 0
    repeats_in_window: int = 0
    bad_pairs: int = 0
    waits: list[int] = field(default_factory=list)  # ns, waits that started in the window
    unfinished: int = 0
    waits_by_cause: dict[str, list[int]] = field(default_factory=dict)
    echo: list[int] = field(default_factory=list)
    lag: list[int] = field(default_factory=list)
    frames: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    anomalies: dict[str, int] = field(default_factory=dict)
    searching: list[int] = field(default_factory=list)
    online: list[int] = field(default_factory=list)

    @property
    def other_load(self) -> float:
        return max(0.0, self.machine_busy - self.server_cpu - self.client_cpu)

    @property
    def pairs_per_s(self) -> float:
        return self.pairs_in_window / self.seconds

    @property
    def repeat_share(self) -> float:
        return self.repeats / self.complete_pairs if self.complete_pairs else 0.0

    @property
    def saturated(self) -> bool:
        """The client limits the result: the core its processes share is (nearly) full."""
        return self.client_cpu >= 90.0


def analyse(results: list[dict[str, Any]], window: tuple[int, int], report: Report) -> None:
    start, end = window
    first_at: dict[int, int] = {}
    members: dict[int, list[int]] = defaultdict(list)
    by_cause: dict[str, list[int]] = defaultdict(list)
    for r in results:
        pairs, uids, ats, waits = unpack(r["pair"]), unpack(r["uid"]), unpack(r["at"]), unpack(r["wait"])
        causes = unpack(r["cause"], "b")
        for pair_id, uid, at, wait, cause in zip(pairs, uids, ats, waits, causes, strict=True):
            began = at - wait
            if start <= began < end:
                report.waits.append(wait)
                report.wait_starts.append((began, wait))
                by_cause[CAUSES[cause % UNFINISHED]].append(wait)
                if cause >= UNFINISHED:
                    report.unfinished += 1
            if cause >= UNFINISHED:
                continue
            members[pair_id].append(uid)
            if pair_id not in first_at or at < first_at[pair_id]:
                first_at[pair_id] = at
        echo_at, echo_rtt = unpack(r["echo_at"]), unpack(r["echo_rtt"])
        for at, rtt in zip(echo_at, echo_rtt, strict=True):
            if start <= at < end:
                report.echo.append(rtt)
                report.echo_starts.append((at, rtt))
        report.lag.extend(unpack(r["lag"]))
        report.frames += r["frames"]
        report.errors += r["errors"]
        report.error_samples.extend(r["error_samples"])
        for name, n in r["anomalies"].items():
            report.anomalies[name] = report.anomalies.get(name, 0) + n
        for at, online, searching, _paired in r["stats"]:
            if start <= at < end:
                report.searching.append(searching)
                report.online.append(online)
    report.waits.sort()
    report.waits_by_cause = {cause: sorted(v) for cause, v in sorted(by_cause.items())}
    report.echo.sort()
    report.lag.sort()
    report.pairs_total = len(first_at)
    report.pairs_in_window = sum(1 for at in first_at.values() if start <= at < end)
    report.pair_times = sorted(at for at in first_at.values() if start <= at < end)
    # A repeat: the same two people paired again (a later pair id for an unordered user pair).
    seen: dict[tuple[int, int], int] = {}
    for pair_id in sorted(first_at, key=first_at.__getitem__):
        uids = members[pair_id]
        if len(uids) == 1:
            report.half_seen += int(first_at[pair_id] < end)  # the partner's report missed the cut-off
            continue
        if len(uids) != 2 or uids[0] == uids[1]:
            report.bad_pairs += 1  # three reports of one pair, or a person paired with themself
            continue
        report.complete_pairs += 1
        key = (min(uids), max(uids))
        if key in seen:
            report.repeats += 1
            report.repeats_in_window += int(start <= first_at[pair_id] < end)
        seen[key] = pair_id


# --------------------------------------------------------------------------- output


def fmt_ms(value: float) -> str:
    return "—" if value != value else (f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms")


def render(r: Report) -> str:
    eff = r.pairs_per_s / (r.server_cpu / 100) if r.server_cpu > 0 else float("nan")
    lines = [
        "| users | connected | pairs/s | time-to-pair p50 | p99 | max | repeats | server CPU"
        " | pairs per server CPU-s | client CPU (4 procs, 1 core) | client loop lag p99"
        " | other load on server / client core"
        " | client saturated |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {r.users:,} | {r.connected:,} | {r.pairs_per_s:,.0f} | {fmt_ms(percentile_ms(r.waits, 0.5))}"
        f" | {fmt_ms(percentile_ms(r.waits, 0.99))} | {fmt_ms(percentile_ms(r.waits, 1.0))}"
        f" | {r.repeats} of {r.complete_pairs:,} ({100 * r.repeat_share:.2f}%)"
        f" | {r.server_cpu:.0f}% | {eff:,.0f} | {r.client_cpu:.0f}% | {fmt_ms(percentile_ms(r.lag, 0.99))}"
        f" | {r.server_core_other:.0f}% / {r.client_core_other:.0f}%"
        f" | {'YES' if r.saturated else 'no'} |",
    ]
    return "\n".join(lines)


def render_details(r: Report) -> str:
    lines = [
        "| time-to-pair, wait started by | waits | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|",
    ]
    for cause, waits in r.waits_by_cause.items():
        lines.append(
            f"| {cause} | {len(waits):,} | {fmt_ms(percentile_ms(waits, 0.5))} | {fmt_ms(percentile_ms(waits, 0.99))}"
            f" | {fmt_ms(percentile_ms(waits, 1.0))} |"
        )
    lines.append(
        f"| (baseline) echo round trip, same connections | {len(r.echo):,} | {fmt_ms(percentile_ms(r.echo, 0.5))}"
        f" | {fmt_ms(percentile_ms(r.echo, 0.99))} | {fmt_ms(percentile_ms(r.echo, 1.0))} |"
    )
    lines.append(
        f"| (client) event-loop lag, 5 ms timer | {len(r.lag):,} | {fmt_ms(percentile_ms(r.lag, 0.5))}"
        f" | {fmt_ms(percentile_ms(r.lag, 0.99))} | {fmt_ms(percentile_ms(r.lag, 1.0))} |"
    )
    return "\n".join(lines)


def render_timeline(r: Report, start: int, step_s: float = 1.0) -> str:
    """Per second of the window: pairs, time-to-pair and echo p99, and who used the server's core."""
    step = int(step_s * 1e9)
    slots = max(1, round(r.seconds / step_s))
    pairs = [0] * slots
    waits: list[list[int]] = [[] for _ in range(slots)]
    echo: list[list[int]] = [[] for _ in range(slots)]
    for at in r.pair_times:
        pairs[min(slots - 1, (at - start) // step)] += 1
    for began, wait in r.wait_starts:
        waits[min(slots - 1, (began - start) // step)].append(wait)
    for at, rtt in r.echo_starts:
        echo[min(slots - 1, (at - start) // step)].append(rtt)
    gc_ms = [0.0] * slots
    for at, _gen, wall, _cpu in r.gc:
        gc_ms[min(slots - 1, max(0, (at - int(wall * 1e9) - start) // step))] += wall * 1000
    lines = [
        "| second | pairs | time-to-pair p99 | echo p99 | server CPU | others on the server's core"
        " | server waited for its core | server GC pauses |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in range(slots):
        t0, t1 = start + i * step, start + (i + 1) * step
        inside = [s for s in r.samples if t0 <= s.at <= t1]
        cpu = other = waited = "?"
        if len(inside) >= 2:
            a, b = inside[0], inside[-1]
            dt = (b.at - a.at) / 1e9
            server = (b.server - a.server) / dt * 100
            cpu = f"{server:.0f}%"
            other = f"{max(0.0, (b.server_core - a.server_core) / dt * 100 - server):.0f}%"
            waited = f"{(b.server_waited - a.server_waited) / dt * 100:.0f}%"
        lines.append(
            f"| {i + 1} | {pairs[i]:,} | {fmt_ms(percentile_ms(sorted(waits[i]), 0.99))}"
            f" | {fmt_ms(percentile_ms(sorted(echo[i]), 0.99))} | {cpu} | {other} | {waited}"
            f" | {f'{gc_ms[i]:,.0f} ms' if gc_ms[i] else ''} |"
        )
    return "\n".join(lines)


def offered_pairs_per_s(users: int, min_next: float, max_next: float) -> float:
    """At most the users can make: a pair lasts until the first of its two members presses Next,
    E[min of two U(a, b)] = a + (b - a) / 3 seconds, and at most users / 2 pairs exist at once."""
    return users / 2 / (min_next + (max_next - min_next) / 3)


def verdict(r: Report, offered: float) -> list[str]:
    p99 = percentile_ms(r.waits, 0.99)
    out = [
        f"time-to-pair p99 {p99:.2f} ms (client-measured, an upper bound) — "
        + ("meets" if p99 <= GOAL_P99_MS else "MISSES")
        + f" the goal (≤ {GOAL_P99_MS:.0f} ms)",
        f"{r.pairs_per_s:,.0f} pairs/s on one server process — "
        + ("meets" if r.pairs_per_s >= GOAL_PAIRS_PER_S else "MISSES")
        + f" the goal (≥ {GOAL_PAIRS_PER_S:,.0f}; these users offer at most ≈ {offered:,.0f} pairs/s)",
        f"{r.repeats} repeated pairs of {r.complete_pairs:,} — "
        + ("meets" if r.repeats == 0 else "MISSES")
        + " the goal (0)",
    ]
    if r.server_cpu > 0:
        out.append(
            f"server CPU {r.server_cpu:.0f}% of its core: ≈ {r.pairs_per_s / (r.server_cpu / 100):,.0f} pairs per"
            " server CPU-second (the load offered by the users, not the server, sets pairs/s while it is below 100%)"
        )
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000, help="simulated users (default 10,000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds (default 30)")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds from the last roulette.start answered to the window (3)"
    )
    parser.add_argument("--ramp", type=float, default=2.0, help="users start spread over this many seconds (2)")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds after the window for waits to finish (2)")
    parser.add_argument("--min-next", type=float, default=0.5, help="shortest time paired before Next (0.5 s)")
    parser.add_argument("--max-next", type=float, default=5.0, help="longest time paired before Next (5 s)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--sources", type=int, default=1, help="loopback source addresses 127.0.0.1..N (1)")
    parser.add_argument("--setup-concurrency", type=int, default=32, help="guest sign-ups in flight (32)")
    parser.add_argument("--quiet-wait", type=float, default=10.0, help="wait up to S s for an idle machine (10)")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU to pin the server to (default 0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU to pin the clients to (default 1)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the server and the clients at this nice value, e.g. -10 on a shared machine (needs root)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    parser.add_argument(
        "--gc-probe",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log the server's garbage-collector pauses over 10 ms (a sitecustomize on its PYTHONPATH; default on)",
    )
    parser.add_argument("--server-log", type=Path, help="keep the server's log in this file")
    parser.add_argument("--raw", type=Path, help="also pickle every client's raw records to this file")
    args = parser.parse_args(argv)
    if not (2 <= args.users <= 18_000 and 1 <= args.clients <= 16 and 0 < args.seconds <= 600):
        parser.error("--users in [2, 18000] (open-file limit), --clients in [1, 16], --seconds in (0, 600]")
    if not 0 < args.min_next <= args.max_next:
        parser.error("need 0 < --min-next <= --max-next")
    return args


# The server's garbage-collector pauses, seen from inside it without touching its code: a
# sitecustomize module on PYTHONPATH that only acts in `palaver serve` and logs every collection
# that took more than 10 ms (wall time, and the CPU time of the collecting thread).
GC_PROBE = """
import gc, sys, time
if "serve" in sys.argv[1:2]:
    _begun = [0.0, 0.0]

    def _palaver_bench_gc(phase, info):
        if phase == "start":
            _begun[0], _begun[1] = time.perf_counter(), time.thread_time()
            return
        wall, cpu = time.perf_counter() - _begun[0], time.thread_time() - _begun[1]
        if wall > 0.01:
            sys.stderr.write(
                "palaver-bench-gc %.6f %d %.6f %.6f\\n" % (time.monotonic(), info["generation"], wall, cpu)
            )
            sys.stderr.flush()

    gc.callbacks.append(_palaver_bench_gc)
"""


def install_gc_probe(directory: Path) -> None:
    (directory / "sitecustomize.py").write_text(GC_PROBE)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), os.environ.get("PYTHONPATH")) if p)


def gc_pauses(log: Path) -> list[tuple[int, int, float, float]]:
    """(monotonic ns at the end, generation, wall s, CPU s) of the server's slow collections so far."""
    out = []
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("palaver-bench-gc "):
                _, at, gen, wall, cpu = line.split()
                out.append((int(float(at) * 1e9), int(gen), float(wall), float(cpu)))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server_cpu, client_cpu, args.nice = pinning(args.server_cpu, args.client_cpu, args.nice)
    command = " ".join(["bench/roulette.py", *(argv if argv is not None else sys.argv[1:])])
    args.machine = machine()  # before this script pins itself to the client CPU
    print(f"machine: {args.machine}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="palaver-bench-logs-") as tmp:
        log_dir = Path(tmp)
        log = log_dir / "gateway.log"
        saved_path = os.environ.get("PYTHONPATH")
        if args.gc_probe:
            install_gc_probe(log_dir)
        try:
            with gateway_server(server_cpu, log_dir) as target:
                return run(args, target.pid, target.port, target.origin or "", log, client_cpu, command)
        except Exception:
            if log.exists():
                print("--- server log tail ---\n" + log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            if saved_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved_path
            if args.server_log and log.exists():
                shutil.copyfile(log, args.server_log)


def run(
    args: argparse.Namespace,
    server_pid: int,
    port: int,
    origin: str,
    log: Path,
    client_cpu: int | None,
    command: str,
) -> int:
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})  # this script, and the client processes it spawns
    t, cpu = time.monotonic(), cpu_seconds(server_pid)
    tokens = asyncio.run(create_guests(origin, args.users, args.setup_concurrency))
    guests_s = time.monotonic() - t
    setup_cpu = (cpu_seconds(server_pid) - cpu) / guests_s * 100
    print(
        f"created {len(tokens):,} guests in {guests_s:.1f} s ({len(tokens) / guests_s:,.0f}/s,"
        f" server CPU {setup_cpu:.0f}%)",
        file=sys.stderr,
    )
    t = time.monotonic()
    fleet = ClientFleet(tokens, port, args, client_cpu)
    connect_s = time.monotonic() - t
    print(
        f"connected {fleet.connected:,} users in {connect_s:.1f} s ({fleet.failed} failed {fleet.failure})",
        file=sys.stderr,
    )
    report = Report(args.users, fleet.connected, fleet.failed, args.seconds, guests_s, connect_s)
    report.setup_server_cpu = setup_cpu
    try:
        if args.quiet_wait > 0:
            busy = wait_until_quiet(args.quiet_wait)
            print(f"machine busy before the run: {100 * busy:.0f}% of a core", file=sys.stderr)
        start_at = time.monotonic_ns() + 500_000_000
        start_plan = StartPlan(start_at, args.ramp, args.min_next, args.max_next, START_PARAMS)
        started = fleet.phase("start", [start_plan] * args.clients)
        report.started = sum(s["started"] for s in started)
        report.start_errors = sum(s["start_errors"] for s in started)
        report.starts_s = (max(s["at"] for s in started) - start_at) / 1e9
        print(f"{report.started:,} roulette.start answered within {report.starts_s:.1f} s", file=sys.stderr)
        window_start = time.monotonic_ns() + int(args.warmup * 1e9)
        window = (window_start, window_start + int(args.seconds * 1e9))
        stop_at = window[1] + int(args.drain * 1e9)
        plans = [MeasurePlan(window, stop_at, i == 0) for i in range(args.clients)]
        results: list[dict[str, Any]] = []
        runner = threading.Thread(target=lambda: results.extend(fleet.phase("measure", plans)))
        runner.start()
        samples, procs_before, procs_after = sample_cpu(server_pid, window, args.server_cpu, args.client_cpu)
        runner.join()
        mine = {os.getpid(), server_pid, *(p.pid for p in fleet.procs)}
        report.others = busiest_others(procs_before, procs_after, mine, args.seconds)
    finally:
        fleet.close()
    first, last = samples[0], samples[-1]
    elapsed = (last.at - first.at) / 1e9
    report.server_cpu = (last.server - first.server) / elapsed * 100
    report.machine_busy = (last.machine - first.machine) / elapsed * 100
    report.server_core_other = max(0.0, (last.server_core - first.server_core) / elapsed * 100 - report.server_cpu)
    report.client_cpu = sum(r["cpu_s"] for r in results) / args.seconds * 100
    report.client_core_other = max(0.0, (last.client_core - first.client_core) / elapsed * 100 - report.client_cpu)
    report.server_waited = (last.server_waited - first.server_waited) / elapsed * 100
    report.samples = samples
    report.window = window
    report.gc = [g for g in gc_pauses(log) if window[0] <= g[0] - int(g[2] * 1e9) < window[1]]
    analyse(results, window, report)
    if args.raw:
        with args.raw.open("wb") as f:
            pickle.dump({"window": window, "results": results, "gc": report.gc}, f)
    print_report(args, report, command)
    return 0 if report.connected == args.users and not report.bad_pairs else 1


def print_report(args: argparse.Namespace, r: Report, command: str) -> None:
    sys.stderr.flush()
    print()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} — {args.machine}; python {sys.version.split()[0]}")
    print(f"command: .venv/bin/python {command}")
    print(
        f"setup: {r.users:,} guest accounts in {r.setup_guests_s:.1f} s (server CPU {r.setup_server_cpu:.0f}%),"
        f" {r.connected:,} connections authenticated in {r.setup_connect_s:.1f} s ({r.failed} failed),"
        f" {r.started:,} roulette.start answered within {r.starts_s:.1f} s (ramp {args.ramp:g} s,"
        f" {r.start_errors} failed and retried);"
        f" {args.clients} client processes; warm-up {args.warmup:g} s, measured {args.seconds:g} s;"
        f" Next after U({args.min_next:g}, {args.max_next:g}) s; nice {args.nice}"
    )
    print()
    print(render(r).replace("(4 procs", f"({args.clients} procs"))
    print()
    print(render_details(r))
    print()
    searching = sum(r.searching) / len(r.searching) if r.searching else float("nan")
    print(
        f"pairs formed in the window: {r.pairs_in_window:,} ({r.pairs_total:,} in the whole run, "
        f"{r.complete_pairs:,} seen by both members); waits started in the window: {len(r.waits):,} "
        f"({r.unfinished} still open at the end, counted with their length so far)"
    )
    if r.pairs_per_s > 0:
        print(
            f"floor set by the number of users (estimate): a user who finds nobody acceptable waits for another pair"
            f" to end, about Exp({r.pairs_per_s:,.0f}/s): p99 ≈ ln(100) / {r.pairs_per_s:,.0f}"
            f" = {4.6 / r.pairs_per_s * 1000:.1f} ms, whatever the server's speed"
        )
    print(
        f"queue (roulette.stats every 0.5 s): {searching:,.1f} searching on average, max "
        f"{max(r.searching, default=0):,}; online {max(r.online, default=0):,}"
    )
    print(
        f"client: {r.frames / r.seconds:,.0f} frames/s received, CPU {r.client_cpu:.0f}% of its core "
        f"(saturated: {'YES' if r.saturated else 'no'} — ≥ 90%)"
    )
    print(f"repeats in the window: {r.repeats_in_window}; one-sided pairs at the cut-off: {r.half_seen}")
    problems = {k: v for k, v in r.anomalies.items() if v}
    if r.bad_pairs:
        problems["pairs with other than two distinct members"] = r.bad_pairs
    if problems or r.errors:
        print(f"anomalies: {problems}; errors: {r.errors} {r.error_samples[:3]}")
    else:
        print("anomalies: none (no one in two pairs, no dropped connection, no error reply)")
    print()
    print(f"the server's main thread waited for its core (runnable, not running) {r.server_waited:.0f}% of the window")
    print(
        "busiest other processes in the window (% of one core): "
        + (", ".join(r.others) if r.others else "none above 1%")
        + " — processes that ended within the window are not seen"
    )
    if args.gc_probe:
        total = sum(g[2] for g in r.gc)
        worst = max(r.gc, key=lambda g: g[2], default=None)
        print(
            f"server GC pauses > 10 ms in the window: {len(r.gc)}, {total:.2f} s in all"
            + (
                f"; longest {worst[2] * 1000:,.0f} ms (generation {worst[1]},"
                f" {worst[3] * 1000:,.0f} ms of it on the CPU)"
                if worst
                else ""
            )
        )
    print()
    print(
        "timeline (the server's core: its own CPU, what other processes took of it, and how long the server"
        " waited for it — counted when it next ran, so a long wait shows a second late):"
    )
    print()
    print(render_timeline(r, r.window[0]))
    print()
    for line in verdict(r, offered_pairs_per_s(r.users, args.min_next, args.max_next)):
        print(line)
    if args.json:
        summary = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": args.machine,
            "command": command,
            "users": r.users,
            "connected": r.connected,
            "setup_guests_s": r.setup_guests_s,
            "setup_connect_s": r.setup_connect_s,
            "pairs_per_s": r.pairs_per_s,
            "time_to_pair_ms": {q: percentile_ms(r.waits, v) for q, v in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))},
            "echo_ms": {q: percentile_ms(r.echo, v) for q, v in (("p50", 0.5), ("p99", 0.99))},
            "loop_lag_ms": {q: percentile_ms(r.lag, v) for q, v in (("p50", 0.5), ("p99", 0.99))},
            "repeats": r.repeats,
            "complete_pairs": r.complete_pairs,
            "server_cpu_pct": r.server_cpu,
            "client_cpu_pct": r.client_cpu,
            "other_load_pct": r.other_load,
            "other_on_server_core_pct": r.server_core_other,
            "other_on_client_core_pct": r.client_core_other,
            "server_waited_for_cpu_pct": r.server_waited,
            "anomalies": r.anomalies,
            "errors": r.errors,
        }
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    sys.exit(main())
