"""Ports: the small interfaces services depend on. Adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar, runtime_checkable

from palaver.clock import Clock as Clock
from palaver.domain.accounts import AccountKind, Role, User
from palaver.domain.messenger.chats import Chat
from palaver.domain.messenger.invites import Invite, JoinRequest
from palaver.domain.messenger.members import Draft, Member
from palaver.domain.messenger.messages import Entity, Message
from palaver.domain.messenger.roles import AdminRights, MemberStatus
from palaver.domain.messenger.updates import StoredUpdate
from palaver.domain.moderation.appeals import Appeal, AppealState
from palaver.domain.moderation.audit import AuditEntry
from palaver.domain.moderation.bans import Ban
from palaver.domain.moderation.frames import FlaggedFrame
from palaver.domain.moderation.reports import Report
from palaver.domain.moderation.review import ReviewState
from palaver.domain.moderation.subjects import BanSubject
from palaver.domain.sessions import Device, Session
from palaver.ids import IdGenerator as IdGenerator

T = TypeVar("T")

# --------------------------------------------------------------------------- broker

MessageHandler = Callable[[str, bytes], None]
"""Called with (topic, payload) for each message on a subscribed topic. Must not block."""


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop delivering to this handler. Idempotent."""
        ...


class Broker(Protocol):
    """Publish/subscribe on topics. Delivery is at-most-once and live only: anything that must
    survive a restart is in the database, and clients catch up from there."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    async def subscribe(self, topic: str, handler: MessageHandler) -> Subscription: ...

    async def ping(self) -> bool:
        """True when the broker can deliver messages now."""
        ...


# --------------------------------------------------------------------------- storage


class UserRepository(Protocol):
    async def insert(self, user: User, *, username_canonical: str | None) -> None:
        """Raise ``Conflict(code="username_taken")`` if the canonical username exists."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None:
        """Case-insensitive lookup."""
        ...

    async def update(self, user: User) -> None:
        """Write every field of ``user``; raise ``Conflict(code="username_taken")`` on a clash."""
        ...

    async def set_role(self, user_id: int, role: Role) -> None: ...

    async def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        """The users that exist among ``user_ids``, by id."""
        ...

    async def count_by_kind(self, kind: AccountKind) -> int: ...


class SessionRepository(Protocol):
    async def insert(self, session: Session) -> None: ...

    async def get_by_token_hash(self, token_hash: bytes) -> Session | None: ...

    async def get(self, session_id: int) -> Session | None: ...

    async def list_active(self, user_id: int, now: float) -> list[Session]: ...

    async def revoke(self, session_id: int, now: float) -> bool:
        """Mark revoked; True if it was active."""
        ...

    async def revoke_all(self, user_id: int, now: float, *, except_id: int | None = None) -> list[int]:
        """Revoke every active session of a user; returns the ids revoked."""
        ...

    async def touch(self, session_id: int, now: float) -> None: ...

    async def set_ip_hash(self, session_id: int, ip_hash: bytes) -> None: ...

    async def ip_hashes(self, user_id: int, *, since: float) -> list[bytes]:
        """Distinct IP hashes of the user's sessions seen since ``since`` (revoked ones included)."""
        ...


class DeviceRepository(Protocol):
    async def insert(self, device: Device) -> None: ...

    async def get_by_token_hash(self, token_hash: bytes) -> Device | None: ...

    async def revoke_for_user(self, user_id: int, now: float) -> None: ...

    async def ids_for_user(self, user_id: int) -> list[int]:
        """Every device the user ever had, revoked ones included."""
        ...


# --------------------------------------------------------------------------- messenger storage


class ChatRepository(Protocol):
    async def insert(self, chat: Chat) -> None:
        """Raise ``Conflict(code="username_taken")``, or ``Conflict(code="chat_exists")`` for a
        private chat that exists."""
        ...

    async def get(self, chat_id: int) -> Chat | None: ...

    async def get_with_member(self, chat_id: int, user_id: int) -> tuple[Chat | None, Member | None]:
        """The chat and the user's membership (None when they never were a member), in one query."""
        ...

    async def prefetch(self, keys: list[tuple[int, int]]) -> None:
        """Load ``(chat_id, user_id)`` pairs for ``get_with_member`` in one query, and lock those chat
        rows in id order where rows are locked (a group commit calls it before its writes)."""
        ...

    async def get_private(self, key: str) -> Chat | None: ...

    async def get_by_username(self, username: str) -> Chat | None: ...

    async def update_info(self, chat: Chat) -> None:
        """Write title, about, username, signatures and kind; ``Conflict(username_taken)``."""
        ...

    async def allocate(self, chat_id: int, *, messages: int, pts: int, date: float | None) -> tuple[int, int]:
        """Advance the message counter and the channel box atomically; the new (last_msg_id, pts)."""
        ...

    async def set_pinned(self, chat_id: int, msg_id: int) -> None: ...

    async def add_members(self, chat_id: int, delta: int) -> None: ...

    async def search_public(self, terms: tuple[str, ...], *, limit: int) -> list[Chat]: ...


class MemberRepository(Protocol):
    async def get(self, chat_id: int, user_id: int) -> Member | None: ...

    async def get_many(self, chat_id: int, user_ids: list[int]) -> dict[int, Member]: ...

    async def put(self, member: Member) -> None:
        """Insert, or replace the role part of an existing membership (own dialog state survives)."""
        ...

    async def set_role(
        self,
        chat_id: int,
        user_id: int,
        status: MemberStatus,
        *,
        rights: AdminRights = ...,
        promoted_by: int | None = None,
        until: float | None = None,
    ) -> None: ...

    async def active_user_ids(self, chat_id: int) -> list[int]: ...

    async def list_members(
        self, chat_id: int, *, statuses: tuple[MemberStatus, ...], after_user_id: int, limit: int
    ) -> list[Member]: ...

    async def set_read_inbox(self, chat_id: int, user_id: int, max_id: int) -> None: ...

    async def raise_read_outbox(self, chat_id: int, reader_id: int, max_id: int) -> list[int]: ...

    async def set_draft(self, chat_id: int, user_id: int, draft: Draft | None) -> None: ...

    async def set_pinned_rank(self, chat_id: int, user_id: int, rank: int) -> None: ...

    async def pinned_ranks(self, user_id: int) -> list[int]: ...

    async def dialogs(
        self, user_id: int, *, pinned: bool, before: tuple[float, int] | None, limit: int
    ) -> list[tuple[Chat, Member]]: ...

    async def channel_ids(self, user_id: int) -> list[int]: ...


class MessageRepository(Protocol):
    async def insert(self, items: list[Message], *, random_id: int | None = None) -> None:
        """``random_id``: the sender's idempotency key of the one message inserted (a send)."""
        ...

    async def get_sent(self, sender_id: int, random_id: int) -> Message | None:
        """The message ``sender_id`` sent with ``random_id`` (stored, or inserted earlier in this
        transaction), if any."""
        ...

    async def prefetch_sent(self, keys: list[tuple[int, int]]) -> None:
        """Look up ``(sender_id, random_id)`` pairs for ``get_sent`` in one query (a group commit
        calls it before its writes)."""
        ...

    async def get(self, chat_id: int, msg_id: int, *, lock: bool = False) -> Message | None:
        """``lock``: keep the row locked until commit (every change to a message locks it first)."""
        ...

    async def get_many(self, chat_id: int, ids: Iterable[int], *, lock: bool = False) -> list[Message]: ...

    async def get_by_keys(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Message]: ...

    async def edit(self, message: Message, *, text: str, entities: tuple[Entity, ...], edit_date: float) -> None: ...

    async def delete(self, chat_id: int, ids: Iterable[int]) -> list[int]: ...

    async def history(
        self, chat_id: int, *, viewer_id: int | None, min_id: int, offset_id: int, older: bool, limit: int
    ) -> list[Message]: ...

    async def count_unread(self, chat_id: int, user_id: int, after_id: int) -> int: ...

    async def hide(self, user_id: int, chat_id: int, ids: Iterable[int]) -> None: ...

    async def hidden_among(self, user_id: int, keys: Iterable[tuple[int, int]]) -> set[tuple[int, int]]: ...

    async def set_reaction(
        self, chat_id: int, msg_id: int, user_id: int, emoji: str | None, date: float
    ) -> tuple[tuple[str, int], ...]: ...

    async def my_reactions(self, user_id: int, chat_id: int, ids: Iterable[int]) -> dict[int, str]: ...

    async def add_views(self, counts: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
        """Add view counts to messages; returns each existing message's total after the addition."""
        ...

    async def search(
        self,
        terms: tuple[str, ...],
        *,
        viewer_id: int | None,
        chat_id: int | None,
        min_id: int,
        before_uid: int | None,
        limit: int,
    ) -> list[Message]: ...


class UpdateRepository(Protocol):
    """Update boxes: ``allocate_*`` advance the counters atomically; ``insert_*`` store the updates."""

    async def ensure_common_boxes(self, user_ids: list[int]) -> None: ...

    async def common_state(self, user_id: int) -> tuple[int, int]:
        """(pts, floor_pts): the box counter and the pts up to which updates were pruned."""
        ...

    async def allocate_common(self, counts: dict[int, int]) -> dict[int, int]: ...

    async def insert_common(self, items: list[StoredUpdate]) -> None: ...

    async def insert_channel(self, items: list[StoredUpdate]) -> None: ...

    async def common_after(self, user_id: int, pts: int, *, limit: int) -> list[StoredUpdate]: ...

    async def channel_after(self, chat_id: int, pts: int, *, limit: int) -> list[StoredUpdate]: ...


class InviteRepository(Protocol):
    async def insert(self, invite: Invite) -> None: ...

    async def get(self, invite_id: int) -> Invite | None: ...

    async def get_by_code(self, code: str) -> Invite | None: ...

    async def list_for_chat(self, chat_id: int) -> list[Invite]: ...

    async def revoke(self, invite_id: int, now: float) -> bool: ...

    async def count_use(self, invite_id: int) -> bool:
        """Count one use unless the usage limit is reached (atomically); False if it was."""
        ...

    async def add_request(self, request: JoinRequest) -> bool: ...

    async def get_request(self, chat_id: int, user_id: int) -> JoinRequest | None: ...

    async def list_requests(self, chat_id: int, *, limit: int) -> list[JoinRequest]: ...

    async def delete_request(self, chat_id: int, user_id: int) -> bool: ...

    async def count_requests(self, chat_id: int) -> int: ...


# --------------------------------------------------------------------------- trust & safety storage


class ReportRepository(Protocol):
    async def insert(self, report: Report) -> None: ...

    async def get(self, report_id: int) -> Report | None: ...

    async def against(self, reported_id: int, *, since: float) -> list[Report]:
        """Reports of ``reported_id`` made at or after ``since``, oldest first."""
        ...

    async def list(self, *, state: ReviewState | None, limit: int, before: int | None) -> list[Report]:
        """Newest first; ``state=None`` for every state; ``before``: only ids below it."""
        ...

    async def set_state(self, report_ids: Iterable[int], state: ReviewState) -> None: ...


class BanRepository(Protocol):
    async def lock_user(self, user_id: int) -> None:
        """Serialise ban decisions about one person until the transaction ends."""
        ...

    async def insert(self, ban: Ban, subjects: list[BanSubject]) -> None: ...

    async def get(self, ban_id: int) -> Ban | None: ...

    async def subjects(self, ban_id: int) -> list[BanSubject]: ...

    async def for_user(self, user_id: int) -> list[Ban]:
        """Every ban of the account, oldest first."""
        ...

    async def in_force_for(self, subjects: list[BanSubject], now: float) -> list[Ban]:
        """Bans neither lifted nor run out at ``now`` that apply to any of ``subjects``."""
        ...

    async def list(self, *, state: str, now: float, limit: int, before: int | None) -> list[Ban]:
        """``state``: "active", "review" or "all"; newest first."""
        ...

    async def lift(self, ban_id: int, *, at: float, by: int | None, note: str) -> None: ...

    async def set_ends_at(self, ban_id: int, ends_at: float | None) -> None: ...


class AppealRepository(Protocol):
    async def insert(self, appeal: Appeal) -> None:
        """``Conflict(code="appeal_exists")`` when the ban has an open appeal already."""
        ...

    async def get(self, appeal_id: int) -> Appeal | None: ...

    async def latest_for_bans(self, ban_ids: Iterable[int]) -> dict[int, Appeal]: ...

    async def list(self, *, state: AppealState | None, limit: int, before: int | None) -> list[Appeal]: ...

    async def decide(self, appeal: Appeal) -> bool:
        """Write the decision of an open appeal; False if it was decided already."""
        ...


class FlaggedFrameRepository(Protocol):
    async def insert(self, frame: FlaggedFrame, image: bytes) -> None: ...

    async def get(self, frame_id: int) -> FlaggedFrame | None: ...

    async def image(self, frame_id: int) -> bytes | None: ...

    async def list(self, *, state: ReviewState | None, limit: int, before: int | None) -> list[FlaggedFrame]: ...

    async def set_state(self, frame_id: int, state: ReviewState) -> None: ...

    async def purge(self, *, flagged_before: float, now: float) -> int:
        """Delete the images of frames flagged before ``flagged_before`` (rows stay); how many."""
        ...

    async def count_with_images(self) -> int: ...


class AuditRepository(Protocol):
    async def insert(self, entry: AuditEntry) -> None: ...

    async def list(self, *, limit: int, before: int | None) -> list[AuditEntry]: ...


class RouletteBlockRepository(Protocol):
    async def add(self, user_id: int, other_user_id: int, *, now: float) -> None:
        """Idempotent."""
        ...

    async def all(self) -> list[tuple[int, int]]: ...


class Transaction(Protocol):
    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def devices(self) -> DeviceRepository: ...

    @property
    def chats(self) -> ChatRepository: ...

    @property
    def members(self) -> MemberRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def updates(self) -> UpdateRepository: ...

    @property
    def invites(self) -> InviteRepository: ...

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def bans(self) -> BanRepository: ...

    @property
    def appeals(self) -> AppealRepository: ...

    @property
    def flagged_frames(self) -> FlaggedFrameRepository: ...

    @property
    def audit_log(self) -> AuditRepository: ...

    @property
    def roulette_blocks(self) -> RouletteBlockRepository: ...

    def savepoint(self) -> AbstractAsyncContextManager[object, None]:
        """A nested unit of work: rolled back alone when its block raises (group commit uses it)."""
        ...


class Storage(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction, None]:
        """A unit of work: commits when the block ends normally, rolls back on an exception."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Transaction, None]:
        """A unit of work that only reads: one consistent snapshot that never waits for, nor holds
        up, writers (on SQLite it takes no write lock). Do not write in it."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


@runtime_checkable
class BatchStorage(Protocol):
    """A storage that can run a batch of writes cheaply (group commit)."""

    async def run_batch(self, work: Callable[[Transaction], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` in one transaction (committed when it returns, rolled back when it raises).
        ``work`` may await nothing but its transaction: it may run on a writer thread."""
        ...


# --------------------------------------------------------------------------- channel views


class ViewLedger(Protocol):
    """Who has viewed which channel post, shared by every process that counts views: behind "a
    view is counted once per viewer per post". A post's viewer set lives for the ledger's window
    (from the post's first recorded view); see docs/operations.md, "Channel views"."""

    async def first_views(self, keys: list[tuple[int, int, int]]) -> list[bool]:
        """For each ``(chat_id, msg_id, user_id)``: True when it is seen for the first time (and now
        recorded), False when it was seen before. Atomic across processes: of concurrent calls
        with the same key exactly one gets True; a key repeated within ``keys`` is True at most once."""
        ...

    async def close(self) -> None: ...




class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


# --------------------------------------------------------------------------- trust & safety


class Classifier(Protocol):
    """Scores Roulette snapshot frames for nudity, off the event loop."""

    async def score(self, jpeg: bytes) -> float:
        """Nudity probability in [0, 1]. ``InvalidInput(code="invalid_image")`` for undecodable bytes;
        ``Unavailable`` when the classifier is busy or down."""
        ...

    async def close(self) -> None: ...
