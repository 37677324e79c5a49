"""SnapshotService: the decision pipeline with a classifier stub (the Classifier port), the real
ModerationService on SQLite and the real RouletteService."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from PIL import Image

from palaver.domain.accounts import Role
from palaver.domain.moderation import Ban
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden, InvalidInput, PalaverError, RateLimited, TooLarge, Unavailable
from palaver.ids import SnowflakeIds
from palaver.services.moderation import ModerationPolicy, ModerationService
from palaver.services.moderation.serialize import ban_json
from palaver.services.roulette import RouletteService
from palaver.services.snapshots import SnapshotPolicy, SnapshotService
from tests.integration.services.conftest import Recorder, World

MAX_BYTES = 4096


def jpeg(marker: str) -> bytes:
    """A small real JPEG carrying ``marker`` in a comment, so its bytes can be searched for on disk."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 150, 120)).save(buf, "JPEG", comment=marker.encode())
    return buf.getvalue()


@dataclass
class StubClassifier:
    """Returns the scores it is told to, and remembers what it was asked."""

    scores: list[float] = field(default_factory=list)
    error: PalaverError | None = None
    seen: list[bytes] = field(default_factory=list)

    async def score(self, jpeg: bytes) -> float:
        self.seen.append(jpeg)
        if self.error is not None:
            raise self.error
        return self.scores.pop(0)

    async def close(self) -> None:
        return None


@dataclass
class Env:
    world: World
    roulette: RouletteService
    moderation: ModerationService
    classifier: StubClassifier
    snapshots: SnapshotService
    received: Recorder
    data_dir: Path

    def events_to(self, p: Principal) -> list[tuple[str, dict[str, Any]]]:
        topic = f"session:{p.session_id}"
        frames = [msgspec.json.decode(m) for t, m in self.received.messages if t == topic]
        return [(f["event"], f["data"]) for f in frames]

    def files_containing(self, needle: bytes) -> list[Path]:
        return [p for p in self.data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


def build_env(world: World, tmp_path: Path, *, enabled: bool = True, expel: bool = True) -> Env:
    ids = SnowflakeIds(world.clock, node=7)
    roulette = RouletteService(broker=world.broker, clock=world.clock, ids=ids)

    async def on_ban(user_id: int, ban: Ban) -> None:
        await roulette.expel(user_id, ban_json(ban))

    moderation = ModerationService(
        storage=world.storage,
        broker=world.broker,
        clock=world.clock,
        ids=ids,
        policy=ModerationPolicy(),
        ip_hash_salt="salt",
        on_ban=on_ban if expel else None,
    )
    classifier = StubClassifier()
    snapshots = SnapshotService(
        classifier=classifier,
        moderation=moderation,
        roulette=roulette,
        clock=world.clock,
        policy=SnapshotPolicy(enabled=enabled, threshold=0.8, max_bytes=MAX_BYTES),
    )
    return Env(world, roulette, moderation, classifier, snapshots, Recorder(), tmp_path)


@pytest.fixture
def env(world: World, tmp_path: Path) -> Env:
    return build_env(world, tmp_path)


async def person(env: Env) -> Principal:
    signed = await env.world.accounts.continue_as_guest(device_token=None)
    principal = await env.world.accounts.authenticate(signed.session_token)
    await env.world.broker.subscribe(f"session:{principal.session_id}", env.received)
    return principal


async def admin(env: Env) -> Principal:
    signed = await env.world.accounts.register(username="admin_ann", password="correct horse battery")
    await env.world.accounts.grant_role(None, username="admin_ann", role=Role.ADMIN)
    return await env.world.accounts.authenticate(signed.session_token)


async def paired(env: Env) -> tuple[Principal, Principal, str]:
    a, b = await person(env), await person(env)
    for p in (a, b):
        await env.roulette.start(p, languages=["en"], interests=[], text_only=False, display_name="Someone")
    status = await env.roulette.status(a)
    assert status["state"] == "paired"
    return a, b, status["pair_id"]


async def test_below_the_threshold_nothing_is_kept(env: Env) -> None:
    a, _, pair_id = await paired(env)
    frame = jpeg("below-threshold-frame-7f3a")
    env.classifier.scores = [0.79]
    assert await env.snapshots.submit(a, pair_id=pair_id, image=frame) == {"action": "ok"}
    assert env.classifier.seen == [frame]
    assert await env.moderation.list_frames(await admin(env), state="all") == []
    assert env.files_containing(b"below-threshold-frame-7f3a") == []  # not in the database, WAL or anywhere
    assert (await env.roulette.status(a))["state"] == "paired"
    assert await env.moderation.current_ban(a) is None


async def test_at_the_threshold_the_pair_ends_and_the_sender_is_banned(env: Env) -> None:
    a, b, pair_id = await paired(env)
    frame = jpeg("flagged-frame-91c2")
    env.classifier.scores = [0.8]
    result = await env.snapshots.submit(a, pair_id=pair_id, image=frame)

    assert result["action"] == "banned"
    ban = result["ban"]
    assert ban["user_id"] == str(a.user_id)
    assert (ban["reason"], ban["level"], ban["state"]) == ("nudity_detected", 1, "active")
    assert ban["ends_at"] == pytest.approx(ban["starts_at"] + 600)
    # the pair ended: the partner was told and searches again; the sender is out of Roulette
    assert ("roulette.partner_left", {"pair_id": pair_id, "requeued": True}) in env.events_to(b)
    assert ("roulette.banned", {"ban": ban}) in env.events_to(a)
    assert (await env.roulette.status(a))["state"] == "stopped"
    assert (await env.roulette.status(b))["state"] == "searching"
    # the frame is kept as evidence, with its score
    staff = await admin(env)
    frames = await env.moderation.list_frames(staff, state="all")
    assert [(f["user"]["id"], f["score"], f["pair_id"]) for f in frames] == [(str(a.user_id), 0.8, pair_id)]
    assert await env.moderation.frame_image(staff, int(frames[0]["id"])) == frame
    assert env.files_containing(b"flagged-frame-91c2") != []  # (the search does find stored frames)
    assert (await env.moderation.current_ban(a)) is not None


async def test_a_later_flag_escalates(env: Env) -> None:
    a, _, pair_id = await paired(env)
    env.classifier.scores = [0.95]
    first = await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("one"))
    env.world.clock.advance(601)  # the first ban ran out
    c = await person(env)
    for p in (a, c):
        await env.roulette.start(p, languages=["en"], interests=[], text_only=False, display_name="Someone")
    pair_id = (await env.roulette.status(a))["pair_id"]
    env.classifier.scores = [0.99]
    second = await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("two"))
    assert (first["ban"]["level"], second["ban"]["level"]) == (1, 2)
    assert second["ban"]["ends_at"] == pytest.approx(second["ban"]["starts_at"] + 3600)


@pytest.mark.parametrize(
    ("image", "error", "code"),
    [
        (jpeg("x") + b"\0" * MAX_BYTES, TooLarge, "too_large"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, InvalidInput, "unsupported_media_type"),
        (b"", InvalidInput, "unsupported_media_type"),
        (b"GIF89a", InvalidInput, "unsupported_media_type"),
    ],
    ids=["too-large", "png", "empty", "gif"],
)
async def test_bad_frames_are_refused_unscored(env: Env, image: bytes, error: type[PalaverError], code: str) -> None:
    a, _, pair_id = await paired(env)
    with pytest.raises(error) as caught:
        await env.snapshots.submit(a, pair_id=pair_id, image=image)
    assert caught.value.code == code
    assert env.classifier.seen == []


async def test_only_members_of_the_live_pair_may_send(env: Env) -> None:
    a, _, pair_id = await paired(env)
    outsider = await person(env)
    for who, pid in [(outsider, pair_id), (a, "12345"), (a, "")]:
        with pytest.raises(Forbidden) as caught:
            await env.snapshots.submit(who, pair_id=pid, image=jpeg("x"))
        assert caught.value.code == "not_in_pair"
    await env.roulette.next(a)  # the pair ended
    with pytest.raises(Forbidden) as caught:
        await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    assert caught.value.code == "not_in_pair"
    assert env.classifier.seen == []


async def test_one_frame_per_two_seconds_per_session(env: Env) -> None:
    a, b, pair_id = await paired(env)
    env.classifier.scores = [0.1, 0.1, 0.1]
    await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    await env.snapshots.submit(b, pair_id=pair_id, image=jpeg("x"))  # another session: its own budget
    env.world.clock.advance(1.9)
    with pytest.raises(RateLimited) as caught:
        await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    assert caught.value.code == "snapshot_rate_limited"
    assert caught.value.retry_after == pytest.approx(0.1)
    env.world.clock.advance(0.1)
    assert await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x")) == {"action": "ok"}
    assert len(env.classifier.seen) == 3


async def test_a_banned_sender_is_refused(world: World, tmp_path: Path) -> None:
    env = build_env(world, tmp_path, expel=False)  # (normally the ban would have ended the pair)
    a, _, pair_id = await paired(env)
    await env.moderation.ban(await admin(env), user_id=a.user_id, reason_text="test", duration_seconds=60)
    with pytest.raises(Forbidden) as caught:
        await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    assert caught.value.code == "banned"
    assert env.classifier.seen == []


async def test_classifier_errors_pass_through_and_change_nothing(env: Env) -> None:
    a, _, pair_id = await paired(env)
    env.classifier.error = InvalidInput("bad", code="invalid_image")
    with pytest.raises(InvalidInput) as caught:
        await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    assert caught.value.code == "invalid_image"
    env.world.clock.advance(2)
    env.classifier.error = Unavailable("busy", code="classifier_busy")
    with pytest.raises(Unavailable):
        await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x"))
    assert (await env.roulette.status(a))["state"] == "paired"
    assert await env.moderation.current_ban(a) is None


async def test_with_the_classifier_off_frames_are_not_scored(world: World, tmp_path: Path) -> None:
    env = build_env(world, tmp_path, enabled=False)
    a, _, pair_id = await paired(env)
    assert await env.snapshots.submit(a, pair_id=pair_id, image=jpeg("x")) == {"action": "ok"}
    assert env.classifier.seen == []
    config = env.snapshots.config()
    assert config == {"snapshot_interval_seconds": 20.0, "snapshot_max_bytes": MAX_BYTES, "classifier": False}


def test_policy_validation() -> None:
    for bad in [{"threshold": 0.0}, {"threshold": 1.5}, {"max_bytes": 0}, {"interval_seconds": 0}]:
        with pytest.raises(ValueError, match=r"threshold|positive"):
            SnapshotPolicy(**bad)  # type: ignore[arg-type]
