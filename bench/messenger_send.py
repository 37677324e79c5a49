"""Messenger send throughput in one process (no network): group commit — one transaction for a batch
of sends, written with one statement per table — against one transaction per send, in the same run.

    .venv/bin/python bench/messenger_send.py [--messages 8000] [--senders 100] [--postgres]

Prints, per mode, messages per second, latency percentiles (call → committed) and the CPU time of
the whole process per message (all threads: the steadier figure on a shared machine), and the ratio
between the modes. With ``--postgres`` the same runs go to a throw-away PostgreSQL database too.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from palaver.adapters.broker.memory import MemoryBroker
from palaver.adapters.storage.migrate import upgrade_async
from palaver.adapters.storage.sql_storage import SqlStorage
from palaver.adapters.views.memory import MemoryViewLedger
from palaver.clock import SystemClock
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.sessions import Principal
from palaver.ids import SnowflakeIds
from palaver.services.messenger import Messenger, MessengerPolicy

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Outcome:
    rate: float
    p50: float
    p99: float
    cpu_us: float  # process CPU time per message (all threads)


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            await upgrade_async(url)
            yield url
        return
    import asyncpg

    name = f"palaver_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        await upgrade_async(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(*, backend: str = "sqlite", batch: bool, messages: int, senders: int, group: int = 0) -> Outcome:
    """``senders`` users each send ``messages // senders`` messages to a private chat of their own
    (``group`` > 0: all to one basic group of that many members)."""
    async with database(backend) as url:
        storage = SqlStorage.from_url(url)
        broker = MemoryBroker()
        await broker.start()
        clock = SystemClock()
        ids = SnowflakeIds(clock)
        policy = MessengerPolicy(batch_writes=batch)
        messenger = Messenger(
            storage=storage, broker=broker, clock=clock, ids=ids, policy=policy, views=MemoryViewLedger(clock)
        )
        people = []
        async with storage.transaction() as tx:
            for i in range(max(2 * senders, group)):
                user = User(ids.next_id(), AccountKind.GUEST, Role.USER, f"u{i}", None, created_at=clock.now())
                await tx.users.insert(user, username_canonical=None)
                people.append(Principal(user.id, 0, Role.USER))
        if group:
            chat = await messenger.chats.create_group(people[0], "g", [p.user_id for p in people[1:group]])
            chats = [chat] * senders
        else:
            chats = [
                await messenger.chats.open_private(people[2 * i], people[2 * i + 1].user_id) for i in range(senders)
            ]
        latencies: list[float] = []

        async def sender(index: int) -> None:
            for _ in range(messages // senders):
                started = time.perf_counter()
                who = people[index] if group else people[2 * index]
                await messenger.messages.send(who, chats[index].id, "hello, this is a benchmark")
                latencies.append(time.perf_counter() - started)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(sender(i) for i in range(senders)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await messenger.close()
        await broker.close()
        await storage.close()
    latencies.sort()
    n = len(latencies)
    return Outcome(n / elapsed, latencies[n // 2], latencies[int(n * 0.99)], cpu / n * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--group", type=int, default=100, help="members of the group of the group run (default 100)")
    parser.add_argument("--postgres", action="store_true", help="also run on a throw-away PostgreSQL database")
    args = parser.parse_args()
    for backend in ("sqlite", "postgres") if args.postgres else ("sqlite",):
        # One transaction per send cannot take many concurrent writers on SQLite (lock waits time out):
        # its baseline runs with a single sender.
        base_senders = 1 if backend == "sqlite" else args.senders
        base = asyncio.run(run(backend=backend, batch=False, messages=args.messages // 4, senders=base_senders))
        batched = asyncio.run(run(backend=backend, batch=True, messages=args.messages, senders=args.senders))
        grouped = asyncio.run(
            run(backend=backend, batch=True, messages=args.messages // 10, senders=args.senders, group=args.group)
        )
        rows = (
            (f"one tx per send, {base_senders} sender(s)", base, "msg/s", 1),
            (f"group commit, {args.senders} senders", batched, "msg/s", 1),
            (f"group commit, {args.group}-member group", grouped, "deliveries/s", args.group),
        )
        for name, r, unit, fan in rows:
            per = "delivery" if fan > 1 else "message"
            print(
                f"{backend:8} {name:34} {r.rate * fan:8.0f} {unit:12}  p50 {r.p50 * 1000:6.1f} ms"
                f"   p99 {r.p99 * 1000:6.1f} ms   {r.cpu_us / fan:6.1f} µs CPU per {per}"
            )
        print(
            f"{backend:8} group commit / baseline: {batched.rate / base.rate:.1f}x msg/s,"
            f" {base.cpu_us / batched.cpu_us:.1f}x less CPU per message"
        )


if __name__ == "__main__":
    main()
