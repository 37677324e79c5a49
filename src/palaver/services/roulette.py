"""Roulette use cases: start, next, stop, block, signalling and text chat between pair members.

A thin async shell around the pure :class:`~palaver.domain.roulette.Matcher`. Every state change
happens synchronously inside one method call, with no ``await`` in between; the events it produces go
into an outbox first, and are then published in order by whichever call holds the publish lock. So
however calls interleave, nobody is ever in two pairs and events reach the broker in the order the
state changed. A failed publish is logged and never undoes or corrupts a state change (the broker is
at-most-once anyway).

All Roulette state lives in this one object (one process); a multi-node owner can take its place
behind the same methods later. Chat text is relayed, never stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from palaver.domain.accounts import DisplayName
from palaver.domain.links import contains_link
from palaver.domain.ratelimit import KeyedLimiter
from palaver.domain.roulette import (
    Ended,
    Formed,
    Matcher,
    MatchPolicy,
    Pair,
    ParticipantState,
    Profile,
    Step,
    normalise_interests,
    normalise_languages,
)
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, RateLimited, TooLarge
from palaver.ports import Broker, Clock, IdGenerator
from palaver.services.events import Event, publish_all, session_topic

log = logging.getLogger(__name__)

STATS_TOPIC = "roulette:stats"
SignalKind = Literal["offer", "answer", "candidate", "bye"]
SIGNAL_KINDS: frozenset[str] = frozenset({"offer", "answer", "candidate", "bye"})

_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class RoulettePolicy:
    match: MatchPolicy = field(default_factory=MatchPolicy)
    max_chat_chars: int = 1000
    chat_rate: float = 5.0  # messages per second per sender (user) ...
    chat_burst: float = 10.0  # ... after a burst of this many
    max_signal_bytes: int = 16 * 1024  # serialized JSON payload
    signal_rate: float = 50.0  # signalling messages per second per session (ICE trickles in bursts)
    signal_burst: float = 200.0
    stats_interval: float = 1.0  # seconds between two roulette.stats events, at least
    tick_interval: float = 0.25  # seconds between two ticks in run()
    max_rate_limit_keys: int = 100_000
    max_sessions_per_user: int = 4  # one person's sessions in Roulette at once (tabs, devices)


@dataclass(slots=True)
class _Member:
    """Per-session data the matcher does not need."""

    user_id: int
    display_name: str
    last_pair: Pair | None = None  # the pair this session most recently left, for a late block
    may_send_links: bool = True  # False for brand-new guests (see palaver.domain.links)


def _not_in_pair() -> Forbidden:
    return Forbidden("Not a member of that pair (or it has ended).", code="not_in_pair")


def _has_control_chars(text: str) -> bool:
    """Control characters other than newline and tab (format characters such as emoji tags are fine)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


class RouletteService:
    def __init__(
        self,
        *,
        broker: Broker,
        clock: Clock,
        ids: IdGenerator,
        policy: RoulettePolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._broker = broker
        self._clock = clock
        self._policy = policy = policy or RoulettePolicy()
        self._matcher = Matcher(policy.match, new_pair_id=ids.next_id, rng=rng or random.Random())
        self._members: dict[int, _Member] = {}
        self._sessions_of_user: dict[int, set[int]] = {}
        self._chat_limits = KeyedLimiter(
            rate=policy.chat_rate, burst=policy.chat_burst, max_keys=policy.max_rate_limit_keys
        )
        self._signal_limits = KeyedLimiter(
            rate=policy.signal_rate, burst=policy.signal_burst, max_keys=policy.max_rate_limit_keys
        )
        self._outbox: deque[Event] = deque()
        self._publish_lock = asyncio.Lock()
        self._stats_published_at: float | None = None

    # ------------------------------------------------------------------ queue and pairs

    async def start(
        self,
        principal: Principal,
        *,
        languages: list[str],
        interests: list[str],
        text_only: bool,
        auto_next: bool = True,
        display_name: str,
        may_send_links: bool = True,
    ) -> dict[str, Any]:
        """Enter the queue; ``{"state": "searching"}`` or, if matched at once, ``{"state": "paired", ...}``.
        ``may_send_links=False``: chat messages containing a link are refused (``links_not_allowed``)."""
        profile = Profile(
            person=principal.user_id,
            languages=normalise_languages(languages),
            interests=normalise_interests(interests),
            text_only=bool(text_only),
            auto_next=bool(auto_next),
        )
        name = DisplayName(display_name).value
        session = principal.session_id
        now = self._clock.monotonic()
        state = self._matcher.state_of(session)
        if state in (ParticipantState.WAITING, ParticipantState.PAIRED):
            raise Conflict("Roulette is already started in this session.", code="already_started")
        sessions = self._sessions_of_user.get(principal.user_id, set())
        if state is None and len(sessions) >= self._policy.max_sessions_per_user:
            raise Conflict("Roulette is open in too many sessions.", code="too_many_sessions")
        if state is ParticipantState.IDLE:
            self._matcher.leave(session, now)  # idle: start again with the new criteria
        self._members[session] = _Member(user_id=principal.user_id, display_name=name, may_send_links=may_send_links)
        self._sessions_of_user.setdefault(principal.user_id, set()).add(session)
        steps = self._matcher.join(session, profile, now)
        return await self._commit(steps, reply_for=session)

    async def next(self, principal: Principal) -> dict[str, Any]:
        """Leave the current partner (who is told) and search again at once."""
        session = principal.session_id
        self._require_member(session)
        steps = self._matcher.next(session, self._clock.monotonic())
        return await self._commit(steps, reply_for=session)

    async def stop(self, principal: Principal) -> dict[str, Any]:
        """Leave Roulette entirely (the partner, if any, is told). Idempotent."""
        await self.disconnect(principal.session_id)
        return {"state": "stopped"}

    async def disconnect(self, session_id: int) -> None:
        """The session's connection closed: same as ``stop``. Idempotent."""
        steps = self._matcher.leave(session_id, self._clock.monotonic())
        self._stage(steps)
        member = self._members.pop(session_id, None)
        if member is not None:
            sessions = self._sessions_of_user[member.user_id]
            sessions.discard(session_id)
            if not sessions:
                del self._sessions_of_user[member.user_id]
        await self._flush()

    async def block(self, principal: Principal, *, pair_id: str) -> dict[str, Any]:
        """Never meet this pair's partner again (in this process). Works on the current pair —
        then the caller moves on as with ``next`` — or on the pair the caller left last."""
        _, reply = self._block_partner(principal, pair_id)
        return await self._send(reply)

    async def report_target(self, principal: Principal, *, pair_id: str) -> tuple[int, dict[str, Any]]:
        """Like ``block``, for a report: the partner's user id and the caller's reply after moving on.
        The report itself (and the persistent block) is the moderation service's business."""
        partner, reply = self._block_partner(principal, pair_id)
        return partner, await self._send(reply)

    def add_block(self, user_id: int, other_user_id: int) -> None:
        """Feed a block from elsewhere (a report, moderation, blocks loaded at start-up): these two
        people are never paired again by this process. Does not end a pair in progress."""
        self._matcher.block(user_id, other_user_id)

    async def load_blocks(self, pairs: list[tuple[int, int]]) -> None:
        """Feed persistent blocks (loaded from storage at start-up): those people never meet again."""
        for user_id, other_user_id in pairs:
            self._matcher.block(user_id, other_user_id)

    async def expel(self, user_id: int, ban_json: dict[str, Any]) -> None:
        """The user was banned: end their pairs (partners are told as usual), take every session of
        theirs out of Roulette and send ``roulette.banned`` {"ban": ban_json} to each of them."""
        now = self._clock.monotonic()
        for session in sorted(self._sessions_of_user.pop(user_id, set())):
            self._stage(self._matcher.leave(session, now))
            self._members.pop(session, None)
            self._outbox.append(Event(session_topic(session), "roulette.banned", {"ban": ban_json}))
        await self._flush()

    async def in_pair(self, session_id: int, pair_id: str) -> bool:
        """Is this session a member of the live pair ``pair_id`` right now?"""
        pair = self._matcher.pair_of(session_id)
        return pair is not None and str(pair.id) == pair_id

    async def status(self, principal: Principal) -> dict[str, Any]:
        """The caller's state now, shaped like the replies of ``start`` and ``next``."""
        return self._reply(principal.session_id)

    async def tick(self) -> None:
        """Relax criteria of long waiters and retry widened searches; call a few times per second."""
        steps = self._matcher.tick(self._clock.monotonic())
        self._stage(steps)
        await self._flush()

    async def run(self) -> None:
        """Tick and publish stats forever (a background task the app starts and cancels)."""
        while True:
            try:
                await self.tick()
                await self.maybe_publish_stats()
            except Exception:
                log.exception("roulette tick failed")
            await asyncio.sleep(self._policy.tick_interval)

    # ------------------------------------------------------------------ relays

    async def relay_signal(
        self, principal: Principal, *, pair_id: str, kind: SignalKind, payload: dict[str, Any]
    ) -> None:
        """Forward WebRTC signalling to the partner, only within a live pair."""
        pair = self._live_pair(principal.session_id, pair_id)
        if kind not in SIGNAL_KINDS:
            raise InvalidInput("Signal kind is offer, answer, candidate or bye.", code="invalid_signal_kind")
        if not isinstance(payload, dict):
            raise InvalidInput("A signal payload is a JSON object.", code="invalid_signal_payload")
        try:
            encoded = _json.encode(payload)
        except (TypeError, ValueError, msgspec.EncodeError) as exc:
            raise InvalidInput("A signal payload is a JSON object.", code="invalid_signal_payload") from exc
        if len(encoded) > self._policy.max_signal_bytes:
            raise TooLarge(
                f"A signal payload has at most {self._policy.max_signal_bytes} bytes.", code="signal_too_large"
            )
        key = str(principal.session_id)
        if not self._signal_limits.allow(key, self._clock.monotonic()):
            raise RateLimited(
                "Too many signalling messages.",
                code="signal_rate_limited",
                retry_after=self._signal_limits.retry_after(key),
            )
        data = {"pair_id": pair_id, "kind": kind, "payload": msgspec.Raw(encoded)}
        self._outbox.append(Event(session_topic(pair.partner_of(principal.session_id)), "roulette.signal", data))
        await self._flush()

    async def send_chat(self, principal: Principal, *, pair_id: str, text: str) -> None:
        """Relay a text message to the partner. Nothing is stored."""
        pair = self._live_pair(principal.session_id, pair_id)
        text = text.strip() if isinstance(text, str) else ""
        if not 1 <= len(text) <= self._policy.max_chat_chars or _has_control_chars(text):
            raise InvalidInput(
                f"A chat message has 1–{self._policy.max_chat_chars} characters.", code="invalid_chat_text"
            )
        if not self._members[principal.session_id].may_send_links and contains_link(text):
            raise Forbidden("New guest accounts cannot send links yet.", code="links_not_allowed")
        key = str(principal.user_id)
        if not self._chat_limits.allow(key, self._clock.monotonic()):
            raise RateLimited(
                "You are sending messages too fast.",
                code="chat_rate_limited",
                retry_after=self._chat_limits.retry_after(key),
            )
        data = {"pair_id": pair_id, "text": text, "from": "partner"}
        self._outbox.append(Event(session_topic(pair.partner_of(principal.session_id)), "roulette.chat", data))
        await self._flush()

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, int]:
        counts = self._matcher.counts()
        return {"online": counts.online, "searching": counts.waiting, "paired": counts.paired}

    async def maybe_publish_stats(self, now: float | None = None) -> bool:
        """Publish ``roulette.stats`` on ``roulette:stats`` unless done less than ``stats_interval``
        ago (``now`` is monotonic time; default: the clock's). True if published."""
        now = self._clock.monotonic() if now is None else now
        last = self._stats_published_at
        if last is not None and now - last < self._policy.stats_interval:
            return False
        self._stats_published_at = now
        self._outbox.append(Event(STATS_TOPIC, "roulette.stats", self.stats()))
        await self._flush()
        return True

    def check_invariants(self) -> list[str]:
        """Everything inconsistent in the state (empty when fine). For tests and audits."""
        problems = self._matcher.invariant_violations()
        members = set(self._members)
        participants = {s for s in members if self._matcher.state_of(s) is not None}
        if members != participants:
            problems.append(f"sessions without a participant: {sorted(members - participants)}")
        problems.extend(
            f"participant {m} has no member data"
            for pair in self._matcher.pairs()
            for m in pair.members
            if m not in self._members
        )
        problems.extend(f"waiting {w} has no member data" for w in self._matcher.waiting() if w not in self._members)
        by_user: dict[int, set[int]] = {}
        for session, member in self._members.items():
            by_user.setdefault(member.user_id, set()).add(session)
        if by_user != self._sessions_of_user:
            problems.append("sessions by user disagree with the members")
        return problems

    # ------------------------------------------------------------------ internals

    def _require_member(self, session: int) -> None:
        if self._matcher.state_of(session) is None:
            raise Conflict("Roulette is not started in this session.", code="not_started")

    def _block_partner(self, principal: Principal, pair_id: str) -> tuple[int, dict[str, Any]]:
        """Block the partner of the caller's current pair (then move on as with ``next``) or of the
        pair the caller left last: (the partner's user id, the caller's reply), events staged."""
        session = principal.session_id
        member = self._members.get(session)
        if member is None:
            raise _not_in_pair()
        current = self._matcher.pair_of(session)
        if current is not None and str(current.id) == pair_id:
            target = current
        elif member.last_pair is not None and str(member.last_pair.id) == pair_id:
            target = member.last_pair
        else:
            raise _not_in_pair()
        partner = target.person_of(target.partner_of(session))
        self._matcher.block(principal.user_id, partner)
        if target is current:
            self._stage(self._matcher.next(session, self._clock.monotonic()))
        return partner, self._reply(session)

    async def _send(self, reply: dict[str, Any]) -> dict[str, Any]:
        await self._flush()
        return reply

    def _live_pair(self, session: int, pair_id: str) -> Pair:
        pair = self._matcher.pair_of(session)
        if pair is None or not isinstance(pair_id, str) or str(pair.id) != pair_id:
            raise _not_in_pair()
        return pair

    async def _commit(self, steps: list[Step], *, reply_for: int) -> dict[str, Any]:
        """Stage the events of a state change, take the caller's reply at this very moment, then
        publish (other calls may change the state while we await)."""
        self._stage(steps)
        reply = self._reply(reply_for)
        await self._flush()
        return reply

    def _reply(self, session: int) -> dict[str, Any]:
        state = self._matcher.state_of(session)
        if state is ParticipantState.PAIRED:
            pair = self._matcher.pair_of(session)
            assert pair is not None
            return {"state": "paired", **self._match_json(pair, session)}
        if state is ParticipantState.WAITING:
            return {"state": "searching"}
        if state is ParticipantState.IDLE:
            return {"state": "idle"}
        return {"state": "stopped"}

    def _match_json(self, pair: Pair, session: int) -> dict[str, Any]:
        partner = pair.partner_of(session)
        profile = self._matcher.profile_of(partner)
        member = self._members[partner]
        return {
            "pair_id": str(pair.id),
            "role": pair.role_of(session).value,
            "partner": {
                "display_name": member.display_name,
                "languages": list(profile.languages) if profile else [],
                "common_interests": list(pair.common_interests),
            },
            "text_only": pair.text_only,
        }

    def _stage(self, steps: list[Step]) -> None:
        """Turn matcher steps into events in the outbox (synchronously, right after the change)."""
        for step in steps:
            if isinstance(step, Formed):
                for member in step.pair.members:
                    self._outbox.append(
                        Event(session_topic(member), "roulette.matched", self._match_json(step.pair, member))
                    )
            elif isinstance(step, Ended):
                for member in step.pair.members:
                    data = self._members.get(member)
                    if data is not None:
                        data.last_pair = step.pair
                self._outbox.append(
                    Event(
                        session_topic(step.partner),
                        "roulette.partner_left",
                        {"pair_id": str(step.pair.id), "requeued": step.partner_requeued},
                    )
                )

    async def _flush(self) -> None:
        """Publish the outbox in order. Whoever holds the lock drains events staged by others too."""
        async with self._publish_lock:
            while self._outbox:
                event = self._outbox.popleft()
                try:
                    await publish_all(self._broker, [event])
                except Exception:
                    log.exception("publishing %s to %s failed", event.name, event.topic)
