"""The Roulette matcher: a waiting queue that pairs strangers. Pure state, time passed in.

Rules
- A participant is ``IDLE``, ``WAITING`` or ``PAIRED``; a pair has exactly two members, each in
  no other pair. Every state change happens inside one synchronous method call.
- Two waiting participants are *acceptable* to each other when they are both text-only or both
  not, are different people, have not met (been paired, in any of their sessions) within the last
  ``recent_window_seconds`` (counted from the end of that pair), have not blocked each other, and
  each accepts the other's language: a participant accepts anyone once their
  waiting time reaches the schedule's ``ANY`` step (or when they named no language), otherwise
  only partners who share a language with them.
- Whoever enters the queue (``join``, ``next``, or a partner requeued by auto-next) searches at
  once and takes the acceptable candidate with the best score, where the score is the
  candidate's waiting time plus a bounded bonus per common interest; ties go to the longer wait.
  Because the bonus is bounded, the longest waiter always wins eventually: nobody starves.
- A language rule changes when a tick notices the wait passed the schedule's step: ``tick(now)``
  relaxes those, then lets everyone whose options widened since their last search search again
  (the newly relaxed, those whose meeting with someone just left the window, and those whose
  search on entry ran out of ``max_scan``).

Invariant after every ``tick``: no two waiting participants are acceptable to each other. Between
ticks it holds too, except for options that widened with time alone.

Cost: waiting participants are listed by (text-only, language), and the relaxed ones separately, all
in waiting order, so a search reads only candidates whose language and mode it accepts, oldest
first, and stops once no later candidate can beat the best found (``waited + max_bonus <= best``).
The only candidates it reads and rejects are people the seeker is meeting, met within the window,
blocked, or other sessions of the seeker: the cost of a search is bounded by the seeker's own
exclusions (plus the bonus window), not by the length of the queue. Searches on entering the
queue also stop after ``max_scan`` candidates (completed on the next tick). Memory of meetings
expires with the window; the relaxation queue holds one small entry per listing until it is due.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter

from palaver.domain.roulette.criteria import MatchPolicy, Profile
from palaver.domain.roulette.pairs import Blocks, Pair, RecentMeetings
from palaver.errors import Conflict


class ParticipantState(StrEnum):
    IDLE = "idle"  # present, but neither waiting nor paired (partner left and auto-next is off)
    WAITING = "waiting"
    PAIRED = "paired"


@dataclass(frozen=True, slots=True)
class Formed:
    """A pair was formed; ``seeker`` is the member whose search found the other."""

    pair: Pair
    seeker: int


@dataclass(frozen=True, slots=True)
class Ended:
    """``actor`` ended ``pair`` (next, stop, block); ``partner`` is told, and was requeued or not."""

    pair: Pair
    actor: int
    partner: int
    partner_requeued: bool


Step = Formed | Ended


@dataclass(frozen=True, slots=True)
class MatcherCounts:
    online: int  # participants in any state
    waiting: int
    paired: int  # participants in a pair (twice the number of pairs)


class _Participant:
    __slots__ = ("id", "languages", "open", "pair", "person", "profile", "relaxed", "seq", "since", "state")

    def __init__(self, participant: int, profile: Profile) -> None:
        self.id = participant
        self.profile = profile
        self.person = profile.person
        self.languages = profile.languages
        self.state = ParticipantState.IDLE
        self.pair: Pair | None = None
        self.seq = 0  # order of entering the queue; increases with every entry
        self.since = 0.0  # when it last entered the queue
        self.open = False  # accepts anyone from the start (listed in _open, not by language)
        self.relaxed = False  # accepts anyone now (open, or waited past the schedule's ANY step)


_Bucket = dict[int, _Participant]  # participant id -> participant, in waiting order
_by_seq = attrgetter("seq")


class Matcher:
    def __init__(self, policy: MatchPolicy, *, new_pair_id: Callable[[], int], rng: random.Random) -> None:
        self.policy = policy
        self._new_pair_id = new_pair_id
        self._rng = rng
        self._relax_after = policy.relax_after
        self._now = float("-inf")
        self._seq = 0
        self._participants: dict[int, _Participant] = {}
        self._by_person: dict[int, set[int]] = {}
        self._pairs: dict[int, Pair] = {}
        self._waiting: _Bucket = {}
        # Waiting participants who still care about language, by text-only flag, then by language.
        self._by_language: dict[bool, dict[str, _Bucket]] = {False: {}, True: {}}
        # Waiting participants who accept anyone: from the start (no language), or after waiting.
        self._open: dict[bool, _Bucket] = {False: {}, True: {}}
        self._relaxed: dict[bool, _Bucket] = {False: {}, True: {}}
        self._pending_relax: deque[tuple[float, int, _Participant]] = deque()  # (due, seq, who)
        self._retry: dict[int, None] = {}  # participant ids to search again on the next tick
        self._recent = RecentMeetings(policy.recent_window_seconds)
        self._blocks = Blocks()

    # ------------------------------------------------------------------ commands

    def join(self, participant: int, profile: Profile, now: float) -> list[Step]:
        """Enter the queue and search at once. ``Conflict(already_started)`` if already present."""
        now = self._advance(now)
        if participant in self._participants:
            raise Conflict("Already in Roulette.", code="already_started")
        p = _Participant(participant, profile)
        self._participants[participant] = p
        self._by_person.setdefault(p.person, set()).add(participant)
        steps: list[Step] = []
        self._enqueue(p, now, steps)
        return steps

    def next(self, participant: int, now: float) -> list[Step]:
        """End the current pair, if any, and search again. A waiting participant keeps its place."""
        now = self._advance(now)
        p = self._get(participant)
        steps: list[Step] = []
        if p.state is ParticipantState.PAIRED:
            self._end_pair(p, now, steps)
            self._enqueue(p, now, steps)
        elif p.state is ParticipantState.IDLE:
            self._enqueue(p, now, steps)
        return steps

    def leave(self, participant: int, now: float) -> list[Step]:
        """Leave entirely (ending the pair, if any). Unknown participants: nothing happens."""
        now = self._advance(now)
        p = self._participants.get(participant)
        if p is None:
            return []
        steps: list[Step] = []
        if p.state is ParticipantState.PAIRED:
            self._end_pair(p, now, steps)
        elif p.state is ParticipantState.WAITING:
            self._unlist(p)
        del self._participants[participant]
        sessions = self._by_person[p.person]
        sessions.discard(participant)
        if not sessions:
            del self._by_person[p.person]
        self._retry.pop(participant, None)
        p.state = ParticipantState.IDLE
        return steps

    def block(self, person: int, other: int) -> None:
        """These two people are never paired again (either one blocked or reported the other)."""
        if person != other:
            self._blocks.add(person, other)

    def tick(self, now: float) -> list[Step]:
        """Relax those who waited long enough, then let everyone whose options widened search again."""
        now = self._advance(now)
        seekers: dict[int, _Participant] = {}
        pending = self._pending_relax
        while pending and pending[0][0] <= now:
            _, seq, p = pending.popleft()
            if p.state is ParticipantState.WAITING and p.seq == seq and not p.relaxed:
                p.relaxed = True
                self._relaxed[p.profile.text_only][p.id] = p  # in due order, hence in waiting order
                seekers[p.id] = p
        for participant in self._retry:
            p_retry = self._participants.get(participant)
            if p_retry is not None:
                seekers[participant] = p_retry
        self._retry.clear()
        steps: list[Step] = []
        for p in sorted(seekers.values(), key=_by_seq):
            if p.state is not ParticipantState.WAITING:
                continue  # paired by an earlier seeker of this tick
            partner = self._search(p, now, budget=len(self._waiting))  # complete, whatever it costs
            if partner is not None:
                self._unlist(p)
                self._unlist(partner)
                self._form(p, partner, now, steps)
        return steps

    # ------------------------------------------------------------------ queries

    def state_of(self, participant: int) -> ParticipantState | None:
        p = self._participants.get(participant)
        return None if p is None else p.state

    def pair_of(self, participant: int) -> Pair | None:
        p = self._participants.get(participant)
        return None if p is None else p.pair

    def profile_of(self, participant: int) -> Profile | None:
        p = self._participants.get(participant)
        return None if p is None else p.profile

    def waiting_since(self, participant: int) -> float | None:
        p = self._participants.get(participant)
        return p.since if p is not None and p.state is ParticipantState.WAITING else None

    def waiting(self) -> list[int]:
        """Waiting participant ids, longest wait first."""
        return list(self._waiting)

    def pairs(self) -> list[Pair]:
        return list(self._pairs.values())

    def counts(self) -> MatcherCounts:
        return MatcherCounts(len(self._participants), len(self._waiting), 2 * len(self._pairs))

    def met_recently(self, person: int, other: int) -> bool:
        """Meeting now or met within the window, as of the latest time this matcher was given."""
        return self._recent.met_recently(person, other)

    @property
    def remembered_meetings(self) -> int:
        return len(self._recent)

    def invariant_violations(self) -> list[str]:
        """Everything wrong with the internal state (empty when consistent). For tests and audits."""
        problems: list[str] = []
        in_pairs: dict[int, int] = {}
        for pair_id, pair in self._pairs.items():
            for member in pair.members:
                if member in in_pairs:
                    problems.append(f"{member} is in pairs {in_pairs[member]} and {pair_id}")
                in_pairs[member] = pair_id
                p = self._participants.get(member)
                if p is None or p.state is not ParticipantState.PAIRED or p.pair is not pair:
                    problems.append(f"{member} of pair {pair_id} does not point back to it")
        for pid, p in self._participants.items():
            if p.state is ParticipantState.PAIRED and (p.pair is None or pid not in in_pairs):
                problems.append(f"{pid} is PAIRED without a live pair")
            if p.state is not ParticipantState.PAIRED and p.pair is not None:
                problems.append(f"{pid} is {p.state} but holds a pair")
            if (p.state is ParticipantState.WAITING) != (pid in self._waiting):
                problems.append(f"{pid} is {p.state} but waiting-listed={pid in self._waiting}")
        problems.extend(self._listing_violations())
        return problems

    def _listing_violations(self) -> list[str]:
        problems: list[str] = []
        expected: dict[tuple[str, bool, str], set[int]] = {}
        for pid, p in self._waiting.items():
            t = p.profile.text_only
            if p.open:
                expected.setdefault(("open", t, ""), set()).add(pid)
            else:
                for lang in p.languages:
                    expected.setdefault(("lang", t, lang), set()).add(pid)
                if p.relaxed:
                    expected.setdefault(("relaxed", t, ""), set()).add(pid)
        actual: dict[tuple[str, bool, str], set[int]] = {}
        buckets: list[tuple[tuple[str, bool, str], _Bucket]] = [(("waiting", False, ""), self._waiting)]
        for t in (False, True):
            buckets += [(("lang", t, lang), b) for lang, b in self._by_language[t].items()]
            buckets += [(("open", t, ""), self._open[t]), (("relaxed", t, ""), self._relaxed[t])]
        for key, bucket in buckets:
            seqs = [p.seq for p in bucket.values()]
            if seqs != sorted(seqs):
                problems.append(f"bucket {key} is out of waiting order")
            if key[0] != "waiting" and bucket:
                actual[key] = set(bucket)
        if expected != actual:
            problems.append(f"listings {actual} differ from the waiting participants' {expected}")
        return problems

    # ------------------------------------------------------------------ internals

    def _advance(self, now: float) -> float:
        """Time never goes backwards here; forget meetings that left the window."""
        if now > self._now:
            self._now = now
        now = self._now
        for a, b in self._recent.expire(now):
            # They may meet again: if both wait, they search again on the next tick.
            waiting_a = self._waiting_sessions(a)
            if waiting_a:
                waiting_b = self._waiting_sessions(b)
                if waiting_b:
                    for participant in (*waiting_a, *waiting_b):
                        self._retry[participant] = None
        return now

    def _waiting_sessions(self, person: int) -> list[int]:
        return [
            participant
            for participant in self._by_person.get(person, ())
            if self._participants[participant].state is ParticipantState.WAITING
        ]

    def _get(self, participant: int) -> _Participant:
        p = self._participants.get(participant)
        if p is None:
            raise Conflict("Not in Roulette: start first.", code="not_started")
        return p

    def _enqueue(self, p: _Participant, now: float, steps: list[Step]) -> None:
        self._seq += 1
        p.seq = self._seq
        p.since = now
        p.pair = None
        p.state = ParticipantState.WAITING
        p.open = not p.languages or (self._relax_after is not None and self._relax_after <= 0)
        p.relaxed = p.open
        partner = self._search(p, now, budget=self.policy.max_scan)
        if partner is None:
            self._list(p)
        else:
            self._unlist(partner)
            self._form(p, partner, now, steps)

    def _list(self, p: _Participant) -> None:
        t = p.profile.text_only
        self._waiting[p.id] = p
        if p.open:
            self._open[t][p.id] = p
            return
        by_language = self._by_language[t]
        for lang in p.languages:
            bucket = by_language.get(lang)
            if bucket is None:
                bucket = by_language[lang] = {}
            bucket[p.id] = p
        if self._relax_after is not None:
            self._pending_relax.append((p.since + self._relax_after, p.seq, p))

    def _unlist(self, p: _Participant) -> None:
        t = p.profile.text_only
        del self._waiting[p.id]
        if p.open:
            del self._open[t][p.id]
            return
        by_language = self._by_language[t]
        for lang in p.languages:
            bucket = by_language[lang]
            del bucket[p.id]
            if not bucket:
                del by_language[lang]
        if p.relaxed:
            del self._relaxed[t][p.id]

    def _candidates(self, p: _Participant) -> Iterator[_Participant]:
        """Waiting participants whose language rules admit ``p`` and vice versa, in waiting order
        (a candidate listed under several of ``p``'s languages comes once per listing, adjacent)."""
        t = p.profile.text_only
        sources: list[_Bucket] = []
        if not p.open:
            by_language = self._by_language[t]
            for lang in p.languages:
                bucket = by_language.get(lang)
                if bucket:
                    sources.append(bucket)
        if p.relaxed:
            if self._open[t]:
                sources.append(self._open[t])
            if self._relaxed[t]:
                sources.append(self._relaxed[t])
        if not sources:
            return iter(())
        if len(sources) == 1:
            return iter(sources[0].values())
        streams: list[Iterable[_Participant]] = [bucket.values() for bucket in sources]
        return heapq.merge(*streams, key=_by_seq)

    def _search(self, p: _Participant, now: float, *, budget: int) -> _Participant | None:
        """The best acceptable waiting partner for ``p``, or None. A search that looks at more than
        ``budget`` candidates gives up and is repeated, without a budget, on the next tick."""
        policy = self.policy
        interests = p.profile.interests
        bonus = policy.interest_bonus_seconds
        bonus_cap = policy.max_bonus_interests
        max_bonus = policy.max_bonus if interests else 0.0
        person = p.person
        met = self._recent.of(person)
        blocked = self._blocks.of(person)
        best: _Participant | None = None
        best_score = float("-inf")
        last_seq = -1
        for c in self._candidates(p):
            if c.seq == last_seq or c is p:
                continue
            last_seq = c.seq
            waited = now - c.since
            if best is not None and waited + max_bonus <= best_score:
                break  # nobody further down (shorter wait) can beat the best
            budget -= 1
            if budget < 0:
                self._retry[p.id] = None
                break
            other = c.person
            if other == person or other in blocked or other in met:
                continue
            score = waited
            if max_bonus:
                common = len(interests & c.profile.interests)
                if common:
                    score += bonus * min(common, bonus_cap)
            if score > best_score:
                best, best_score = c, score
        return best

    def _form(self, seeker: _Participant, partner: _Participant, now: float, steps: list[Step]) -> None:
        first, second = (partner, seeker) if partner.seq < seeker.seq else (seeker, partner)
        pair = Pair(
            id=self._new_pair_id(),
            first=first.id,
            second=second.id,
            first_person=first.person,
            second_person=second.person,
            offerer=first.id if self._rng.random() < 0.5 else second.id,
            formed_at=now,
            common_interests=tuple(sorted(first.profile.interests & second.profile.interests)),
            text_only=first.profile.text_only,
        )
        self._pairs[pair.id] = pair
        # They are meeting from now on (so other sessions of the same two people do not pair
        # meanwhile) until ``recent_window_seconds`` after the pair ends.
        self._recent.begin(first.person, second.person)
        for member in (first, second):
            member.state = ParticipantState.PAIRED
            member.pair = pair
        steps.append(Formed(pair, seeker.id))

    def _end_pair(self, actor: _Participant, now: float, steps: list[Step]) -> None:
        pair = actor.pair
        assert pair is not None
        other = self._participants[pair.partner_of(actor.id)]
        del self._pairs[pair.id]
        for member in (actor, other):
            member.state = ParticipantState.IDLE
            member.pair = None
        self._recent.end(pair.first_person, pair.second_person, now)
        requeue = other.profile.auto_next
        steps.append(Ended(pair, actor.id, other.id, requeue))
        if requeue:
            self._enqueue(other, now, steps)
