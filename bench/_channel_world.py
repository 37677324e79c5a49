"""Channels with many subscribers, made fast, for bench/fanout.py, bench/audience.py and
bench/connections.py.

The API makes one of each kind of row (an owner, a channel, one subscriber who joined it through
``POST /chats/{id}/join``); with the server stopped, :func:`clone_users` then copies the subscriber
— its ``users`` row, its ``user_boxes`` row, its membership of the channel, and a session with a
fresh token for as many clones as need to connect — N times with plain SQL: one
``INSERT … SELECT`` over a recursive CTE per table, so a million subscribers take seconds, not the
hours a million sign-ups would. The copies are exactly what the API made, apart from ids and tokens.
Works on SQLite and PostgreSQL (the same SQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import HOST, auth_frame, http_json
from palaver.services.tokens import SESSION_PREFIX, hash_token

# Clone ids count up from (first template id - CLONE_ID_OFFSET): snowflake ids of about 17 minutes
# before the template was made, which no server of a fresh database has handed out.
CLONE_ID_OFFSET = 1 << 42


@dataclass(frozen=True)
class Channel:
    chat_id: int
    owner_token: str
    owner_id: int


def guest(origin: str) -> tuple[str, int]:
    """A new guest account: (session token, user id)."""
    reply = http_json(f"{origin}/api/v1/auth/guest", {})
    token, user = reply["session_token"], reply["user"]
    assert isinstance(token, str) and isinstance(user, dict)
    return token, int(user["id"])


def create_channel(origin: str, title: str, username: str) -> Channel:
    """A public channel owned by a new guest."""
    token, user_id = guest(origin)
    body: dict[str, object] = {"title": title, "kind": "channel", "username": username}
    chat = http_json(f"{origin}/api/v1/chats/channels", body, token)["chat"]
    assert isinstance(chat, dict)
    return Channel(int(chat["id"]), token, user_id)


def join(origin: str, token: str, chat_id: int) -> None:
    http_json(f"{origin}/api/v1/chats/{chat_id}/join", {}, token)


# A recursive CTE seq(n) of 1..:count (SQLite and PostgreSQL).
SEQ = "WITH RECURSIVE seq(n) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n < :count) "


async def clone_users(
    database_url: str,
    template_user: int,
    count: int,
    *,
    first_id: int,
    channels: Sequence[int] = (),
    sessions: int = 0,
) -> list[str]:
    """Copy ``template_user`` ``count`` times, with ids ``first_id + 1 ..``: its users and user_boxes
    rows, its membership of each of ``channels`` (member counts raised to match) and, for the first
    ``sessions`` clones, a session like its own with a fresh token. Returns those tokens."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from palaver.adapters.storage.tables import sessions as sessions_table
    from palaver.adapters.storage.tables import users
    from palaver.adapters.storage.tables_messenger import chat_members, user_boxes

    engine = create_async_engine(database_url)
    tokens: list[str] = []
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                await conn.exec_driver_sql("PRAGMA synchronous=OFF")

            async def copy(table_name: str, columns: list[str], key: str, where: str, **params: int) -> None:
                """Insert one row per n, ``key`` = :base + n, other columns as in the template row."""
                listed = ", ".join(columns)
                picked = ", ".join(":base + seq.n" if c == key else f"t.{c}" for c in columns)
                # the names come from the schema, the values are bound parameters
                sql = f"{SEQ}INSERT INTO {table_name} ({listed}) SELECT {picked} FROM seq, {table_name} t WHERE {where}"  # noqa: S608
                await conn.execute(text(sql), {"count": count, "base": first_id, **params})

            await copy("users", [c.name for c in users.c], "id", "t.id = :tid", tid=template_user)
            boxes = (
                await conn.execute(text("SELECT count(*) FROM user_boxes WHERE user_id = :tid"), {"tid": template_user})
            ).scalar()
            if boxes:
                await copy(
                    "user_boxes", [c.name for c in user_boxes.c], "user_id", "t.user_id = :tid", tid=template_user
                )
            for chat_id in channels:
                where = "t.chat_id = :chat AND t.user_id = :tid"
                await copy(
                    "chat_members", [c.name for c in chat_members.c], "user_id", where, chat=chat_id, tid=template_user
                )
                await conn.execute(
                    text("UPDATE chats SET member_count = member_count + :count WHERE id = :chat"),
                    {"count": count, "chat": chat_id},
                )
            if sessions:
                row = (
                    (await conn.execute(text("SELECT * FROM sessions WHERE user_id = :tid"), {"tid": template_user}))
                    .mappings()
                    .first()
                )
                assert row is not None, "the template user has no session"
                rows = []
                for n in range(1, sessions + 1):
                    token = SESSION_PREFIX + secrets.token_urlsafe(32)
                    tokens.append(token)
                    rows.append(
                        {**row, "id": first_id + count + n, "user_id": first_id + n, "token_hash": hash_token(token)}
                    )
                columns = [c.name for c in sessions_table.c]
                sql = f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"  # noqa: S608
                for start in range(0, len(rows), 10_000):
                    await conn.execute(text(sql), rows[start : start + 10_000])
    finally:
        await engine.dispose()
    return tokens


def write_auth_file(path: Path, tokens: Sequence[str]) -> Path:
    """One gateway auth frame per line, for ``wsload -A``."""
    path.write_text("".join(auth_frame(t) + "\n" for t in tokens))
    return path


# --------------------------------------------------------------------------- the poster


class Poster(threading.Thread):
    """A channel owner posting through the gateway (``messages.send``) from a thread of its own: closed
    loop with ``inflight`` posts outstanding, or open loop at ``rate`` posts/s. Every post's text is
    its send time (``time.monotonic_ns``; in open loop its *scheduled* time, so a late post shows as
    latency), which ``wsload -T text`` turns into post → delivered latency at each subscriber.
    Posts from ``start_ns`` until ``stop_ns``; ``completed`` counts the replies inside
    [``window_ns``, ``stop_ns``)."""

    def __init__(
        self,
        gateway_port: int,
        origin: str,
        token: str,
        chat_id: int,
        *,
        start_ns: int,
        window_ns: int,
        stop_ns: int,
        inflight: int = 1,
        rate: float | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.url = f"ws://{HOST}:{gateway_port}/"
        self.origin = origin
        self.token = token
        self.chat_id = str(chat_id)
        self.start_ns, self.window_ns, self.stop_ns = start_ns, window_ns, stop_ns
        self.inflight = inflight
        self.rate = rate
        self.sent = 0
        self.completed = 0  # replies inside the window
        self.errors: list[str] = []
        self.cpu_pct = 0.0  # of one core, over its whole run

    def run(self) -> None:
        wall, cpu = time.monotonic(), time.thread_time()
        try:
            asyncio.run(self._main())
        except Exception as exc:
            self.errors.append(repr(exc))
        self.cpu_pct = 100 * (time.thread_time() - cpu) / max(1e-9, time.monotonic() - wall)

    async def _main(self) -> None:
        from websockets.asyncio.client import connect

        async with connect(self.url, origin=self.origin, compression=None, max_size=None) as ws:  # type: ignore[arg-type]
            await ws.send(auth_frame(self.token))
            while json.loads(await ws.recv()).get("type") != "ready":
                pass
            self._drained = asyncio.Event()  # set when no post is outstanding
            slots = asyncio.Semaphore(self.inflight if self.rate is None else 1 << 30)
            outstanding: set[int] = set()
            reader = asyncio.create_task(self._read(ws, slots, outstanding))
            await asyncio.sleep(max(0.0, (self.start_ns - time.monotonic_ns()) / 1e9))
            next_ns = self.start_ns
            while (now := time.monotonic_ns()) < self.stop_ns and not reader.done():
                if self.rate is None:
                    await slots.acquire()
                    stamp = time.monotonic_ns()
                else:
                    if next_ns > now:
                        await asyncio.sleep((next_ns - now) / 1e9)
                    stamp, next_ns = next_ns, next_ns + int(1e9 / self.rate)
                self.sent += 1
                outstanding.add(self.sent)
                await ws.send(
                    f'{{"type":"req","id":{self.sent},"method":"messages.send",'
                    f'"params":{{"chat_id":"{self.chat_id}","text":"{stamp}"}}}}'
                )
            if outstanding:
                self._drained.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self._drained.wait()
            reader.cancel()

    async def _read(self, ws: Any, slots: asyncio.Semaphore, outstanding: set[int]) -> None:
        async for raw in ws:
            if not raw.startswith(('{"type":"res"', '{"type":"err"')):
                continue  # the owner's own copy of its posts, and other events
            reply = json.loads(raw)
            outstanding.discard(reply.get("id"))
            if not outstanding:
                self._drained.set()
            if reply["type"] == "err":
                self.errors.append(str(reply)[:300])
            elif self.window_ns <= time.monotonic_ns() < self.stop_ns:
                self.completed += 1
            slots.release()
