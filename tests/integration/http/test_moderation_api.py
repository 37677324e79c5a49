"""Trust & safety over HTTP, in-process: /api/v1/moderation (my ban, appeals) and the moderation
console /api/v1/admin — who may call what (every route × role), bad input (a typed 4xx with a code,
never a 500, nothing changed), and a moderator's day: reports, frames, bans, appeals, the audit log."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from palaver.adapters.gateway.router import RequestRouter
from palaver.adapters.gateway.routes_roulette import register_roulette_methods
from palaver.domain.accounts import Role
from palaver.domain.sessions import Principal
from palaver.errors import Forbidden
from palaver.ids import SnowflakeIds
from palaver.services.moderation import ModerationService
from palaver.services.roulette import RouletteService
from tests.integration.http.conftest import guest
from tests.integration.services.conftest import World

PASSWORD = "correct horse battery"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
_names = itertools.count(1)


@dataclass
class Person:
    headers: dict[str, str]
    principal: Principal

    @property
    def id(self) -> str:
        return str(self.principal.user_id)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return str(body["error"]["code"])


async def principal_of(world: World, headers: dict[str, str]) -> Principal:
    return await world.accounts.authenticate(headers["Authorization"].removeprefix("Bearer "))


async def a_guest(client: httpx.AsyncClient, world: World) -> Person:
    headers = await guest(client)
    return Person(headers, await principal_of(world, headers))


async def a_member(client: httpx.AsyncClient, world: World, role: Role) -> Person:
    username = f"staff{next(_names)}"
    created = await client.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['session_token']}"}
    if role is not Role.USER:
        await world.accounts.grant_role(None, username=username, role=role)
    return Person(headers, await principal_of(world, headers))


async def banned_by_reports(client: httpx.AsyncClient, world: World, moderation: ModerationService) -> Person:
    target = await a_guest(client, world)
    for _ in range(3):
        reporter = await a_guest(client, world)
        await moderation.report(
            reporter.principal, reported_user_id=target.principal.user_id, reason="spam", pair_id=None
        )
    return target


# --------------------------------------------------------------------------- who may call what

READS = ["/admin/reports", "/admin/frames", "/admin/bans", "/admin/appeals"]
WRITES: list[tuple[str, dict[str, Any] | None]] = [
    ("/admin/reports/1/dismiss", None),
    ("/admin/frames/1/dismiss", None),
    ("/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": 60}),
    ("/admin/bans/1/unban", {"note": ""}),
    ("/admin/bans/1/adjust", {"ends_at": None}),
    ("/admin/appeals/1/decide", {"decision": "accept", "note": ""}),
]
EVERY_ROUTE: list[tuple[str, str, dict[str, Any] | None]] = [
    *[("GET", path, None) for path in [*READS, "/admin/audit", "/admin/frames/1/image"]],
    *[("POST", path, body) for path, body in WRITES],
]


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ROUTE)
async def test_anonymous_and_plain_users_are_turned_away(
    client: httpx.AsyncClient, world: World, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for prefix in ("/api/v1", "/api"):  # the contract's spelling is served too
        anonymous = await client.request(method, prefix + path, json=body)
        assert anonymous.status_code == 401 and error_code(anonymous) == "unauthenticated"
        user = await a_guest(client, world)
        refused = await client.request(method, prefix + path, json=body, headers=user.headers)
        assert refused.status_code == 403 and error_code(refused) == "forbidden"
        garbage = await client.request(method, prefix + path, content=b"{", headers=user.headers)
        assert garbage.status_code == 403  # a plain user learns nothing, not even about their input
        registered = await a_member(client, world, Role.USER)
        assert (await client.request(method, prefix + path, json=body, headers=registered.headers)).status_code == 403


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.ADMIN])
async def test_staff_read_the_queues_and_only_admins_the_audit_log(
    client: httpx.AsyncClient, world: World, role: Role
) -> None:
    staff = await a_member(client, world, role)
    for path, key in zip(READS, ["reports", "frames", "bans", "appeals"], strict=True):
        for query in ("", "?state=all", "?limit=1", f"?before={2**62}"):
            listed = await client.get(f"/api/v1{path}{query}", headers=staff.headers)
            assert listed.status_code == 200, (path, query, listed.text)
            assert listed.json() == {key: []}
    audit = await client.get("/api/v1/admin/audit", headers=staff.headers)
    if role is Role.ADMIN:
        assert audit.status_code == 200 and audit.json() == {"entries": []}
    else:
        assert audit.status_code == 403 and error_code(audit) == "admin_only"


async def test_unknown_items_are_not_found_for_staff(client: httpx.AsyncClient, world: World) -> None:
    admin = await a_member(client, world, Role.ADMIN)
    for method, path, body in [*[("GET", "/admin/frames/1/image", None)], *[("POST", p, b) for p, b in WRITES]]:
        response = await client.request(method, "/api/v1" + path, json=body, headers=admin.headers)
        assert response.status_code == 404, (path, response.text)
        assert error_code(response).endswith("not_found"), path


# --------------------------------------------------------------------------- bad input


BAD: list[tuple[str, str, Any, int]] = [
    ("GET", "/admin/reports?state=closed", None, 422),
    ("GET", "/admin/reports?limit=0", None, 422),
    ("GET", "/admin/reports?limit=100000", None, 422),
    ("GET", "/admin/reports?before=-1", None, 422),
    ("GET", "/admin/reports?before=soon", None, 422),
    ("GET", "/admin/frames?state=active", None, 422),
    ("GET", "/admin/bans?state=open", None, 422),
    ("GET", "/admin/appeals?state=x", None, 422),
    ("GET", "/admin/audit?limit=-3", None, 422),
    ("GET", "/admin/frames/abc/image", None, 400),
    ("GET", f"/admin/frames/{'9' * 30}/image", None, 400),
    ("POST", "/admin/reports/abc/dismiss", None, 400),
    ("POST", "/admin/frames/-1/dismiss", None, 400),
    ("POST", "/admin/bans", {}, 422),
    ("POST", "/admin/bans", {"user_id": "x1", "reason_text": "x", "duration_seconds": 60}, 400),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": 0}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": -60}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": "1h"}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": 10**12}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x" * 501, "duration_seconds": 60}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "", "duration_seconds": 60}, 422),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "   ", "duration_seconds": 60}, 400),
    ("POST", "/admin/bans", {"user_id": "1", "reason_text": "x", "duration_seconds": 60, "why": 1}, 422),
    ("POST", "/admin/bans", {"user_id": 1, "reason_text": "x", "duration_seconds": 60}, 422),
    ("POST", "/admin/bans", b"{not json", 400),
    ("POST", "/admin/bans/x/unban", {}, 400),
    ("POST", "/admin/bans/1/unban", {"note": "x" * 501}, 422),
    ("POST", "/admin/bans/1/adjust", {}, 422),
    ("POST", "/admin/bans/1/adjust", {"ends_at": "tomorrow"}, 422),
    ("POST", "/admin/bans/1/adjust", b'{"ends_at": 1e400}', 422),
    ("POST", "/admin/bans/1/adjust", {"ends_at": -1}, 422),
    ("POST", "/admin/appeals/1/decide", {"decision": "maybe", "note": ""}, 422),
    ("POST", "/admin/appeals/1/decide", {"note": ""}, 422),
    ("POST", "/moderation/appeals", {"text": ""}, 422),
    ("POST", "/moderation/appeals", {"text": "x" * 2001}, 422),
    ("POST", "/moderation/appeals", {"text": 5}, 422),
    ("POST", "/moderation/appeals", {}, 422),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD)
async def test_bad_input_is_a_typed_client_error_and_changes_nothing(
    client: httpx.AsyncClient,
    world: World,
    moderation: ModerationService,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    admin = await a_member(client, world, Role.ADMIN)
    banned = await banned_by_reports(client, world, moderation)  # so that an appeal could be made
    who = banned if path.startswith("/moderation") else admin
    before = await moderation.list_bans(admin.principal, state="all")
    if isinstance(body, bytes):
        response = await client.request(
            method, "/api/v1" + path, content=body, headers={**who.headers, "Content-Type": "application/json"}
        )
    else:
        response = await client.request(method, "/api/v1" + path, json=body, headers=who.headers)
    assert response.status_code == status, response.text
    assert error_code(response)
    assert await moderation.list_bans(admin.principal, state="all") == before
    assert await moderation.list_appeals(admin.principal, state="all") == []


async def test_my_ban_and_appeals_without_a_ban(client: httpx.AsyncClient, world: World) -> None:
    someone = await a_guest(client, world)
    for prefix in ("/api/v1", "/api"):
        me = await client.get(f"{prefix}/moderation/me", headers=someone.headers)
        assert me.status_code == 200 and me.json() == {"ban": None}
    appeal = await client.post("/api/v1/moderation/appeals", json={"text": "why?"}, headers=someone.headers)
    assert appeal.status_code == 409 and error_code(appeal) == "no_active_ban"
    assert (await client.get("/api/v1/moderation/me")).status_code == 401
    assert (await client.post("/api/v1/moderation/appeals", json={"text": "hi"})).status_code == 401


# --------------------------------------------------------------------------- a moderator's day


@pytest.fixture
def roulette(world: World) -> RouletteService:
    return RouletteService(broker=world.broker, clock=world.clock, ids=SnowflakeIds(world.clock, node=3))


async def roulette_start(
    roulette: RouletteService, world: World, moderation: ModerationService, who: Person
) -> dict[str, Any]:
    """``roulette.start`` exactly as the gateway runs it (the ban check included)."""
    router = RequestRouter()
    register_roulette_methods(router, roulette, world.accounts, moderation)
    result = await router.resolve("roulette.start").handler(who.principal, {"languages": ["en"]})
    assert isinstance(result, dict)
    return result


async def test_an_appeal_accepted_lifts_the_ban_and_the_person_may_start_again(
    client: httpx.AsyncClient, world: World, moderation: ModerationService, roulette: RouletteService
) -> None:
    moderator = await a_member(client, world, Role.MODERATOR)
    target = await banned_by_reports(client, world, moderation)
    mine = (await client.get("/api/v1/moderation/me", headers=target.headers)).json()["ban"]
    assert (mine["user_id"], mine["reason"], mine["state"], mine["level"]) == (target.id, "reports", "active", 1)
    assert mine["appeal"] is None
    with pytest.raises(Forbidden) as refused:
        await roulette_start(roulette, world, moderation, target)
    assert refused.value.code == "banned"

    made = await client.post("/api/v1/moderation/appeals", json={"text": "It was a joke."}, headers=target.headers)
    assert made.status_code == 201, made.text
    appeal = made.json()
    assert (appeal["ban_id"], appeal["text"], appeal["state"], appeal["decided_at"]) == (
        mine["id"],
        "It was a joke.",
        "open",
        None,
    )
    again = await client.post("/api/v1/moderation/appeals", json={"text": "Please"}, headers=target.headers)
    assert again.status_code == 409 and error_code(again) == "appeal_exists"

    queue = (await client.get("/api/v1/admin/appeals", headers=moderator.headers)).json()["appeals"]
    assert [(a["id"], a["ban"]["id"], a["user"]["id"]) for a in queue] == [(appeal["id"], mine["id"], target.id)]
    bans = (await client.get("/api/v1/admin/bans", headers=moderator.headers)).json()["bans"]
    assert [(b["id"], b["user"]["id"]) for b in bans] == [(mine["id"], target.id)]
    reports = (await client.get("/api/v1/admin/reports?state=all", headers=moderator.headers)).json()["reports"]
    assert len(reports) == 3 and {r["reported"]["id"] for r in reports} == {target.id}

    decided = await client.post(
        f"/api/v1/admin/appeals/{appeal['id']}/decide",
        json={"decision": "accept", "note": "fair enough"},
        headers=moderator.headers,
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["state"], decided.json()["decision_note"]) == ("accepted", "fair enough")
    assert (await client.get("/api/v1/moderation/me", headers=target.headers)).json() == {"ban": None}
    assert (await client.get("/api/v1/admin/appeals", headers=moderator.headers)).json() == {"appeals": []}
    assert await roulette_start(roulette, world, moderation, target) == {"state": "searching"}


async def test_moderator_bans_adjusts_and_unbans_within_their_rights(
    client: httpx.AsyncClient, world: World, moderation: ModerationService, roulette: RouletteService
) -> None:
    moderator = await a_member(client, world, Role.MODERATOR)
    admin = await a_member(client, world, Role.ADMIN)
    target = await a_guest(client, world)
    ban_for = {"user_id": target.id, "reason_text": "rude in chat"}

    forever = await client.post(
        "/api/v1/admin/bans", json={**ban_for, "duration_seconds": None}, headers=moderator.headers
    )
    assert forever.status_code == 403 and error_code(forever) == "admin_only"
    of_admin = await client.post(
        "/api/v1/admin/bans",
        json={"user_id": admin.id, "reason_text": "x", "duration_seconds": 60},
        headers=moderator.headers,
    )
    assert of_admin.status_code == 403 and error_code(of_admin) == "forbidden"
    assert (await client.get("/api/v1/admin/bans?state=all", headers=admin.headers)).json() == {"bans": []}

    made = await client.post(
        "/api/v1/admin/bans", json={**ban_for, "duration_seconds": 3600}, headers=moderator.headers
    )
    assert made.status_code == 201, made.text
    ban = made.json()
    assert (ban["user_id"], ban["reason"], ban["reason_text"], ban["state"]) == (
        target.id,
        "moderator",
        "rude in chat",
        "active",
    )
    assert ban["ends_at"] - ban["starts_at"] == pytest.approx(3600)
    with pytest.raises(Forbidden):
        await roulette_start(roulette, world, moderation, target)

    shorter = ban["starts_at"] + 600
    adjusted = await client.post(
        f"/api/v1/admin/bans/{ban['id']}/adjust", json={"ends_at": shorter}, headers=moderator.headers
    )
    assert adjusted.status_code == 200 and adjusted.json()["ends_at"] == pytest.approx(shorter)
    indefinite = await client.post(
        f"/api/v1/admin/bans/{ban['id']}/adjust", json={"ends_at": None}, headers=moderator.headers
    )
    assert indefinite.status_code == 403 and error_code(indefinite) == "admin_only"
    by_admin = await client.post(
        f"/api/v1/admin/bans/{ban['id']}/adjust", json={"ends_at": None}, headers=admin.headers
    )
    assert by_admin.status_code == 200 and by_admin.json()["ends_at"] is None

    lifted = await client.post(f"/api/v1/admin/bans/{ban['id']}/unban", json={"note": "ok"}, headers=moderator.headers)
    assert lifted.status_code == 200 and lifted.json()["state"] == "lifted"
    assert await roulette_start(roulette, world, moderation, target) == {"state": "searching"}

    self_ban = await client.post(
        "/api/v1/admin/bans",
        json={"user_id": moderator.id, "reason_text": "x", "duration_seconds": 60},
        headers=admin.headers,
    )
    assert self_ban.status_code == 201
    own = await client.post(f"/api/v1/admin/bans/{self_ban.json()['id']}/unban", headers=moderator.headers)
    assert own.status_code == 403 and error_code(own) == "forbidden"

    audit = (await client.get("/api/v1/admin/audit", headers=admin.headers)).json()["entries"]
    actors = {entry["actor"]["id"] for entry in audit if entry["actor"] is not None}
    assert {moderator.id, admin.id} <= actors and len(audit) >= 5
    assert {"target_user_id", "action", "details", "created_at"} <= set(audit[0])


async def test_reports_and_flagged_frames_can_be_dismissed(
    client: httpx.AsyncClient, world: World, moderation: ModerationService
) -> None:
    moderator = await a_member(client, world, Role.MODERATOR)
    reporter, reported, flagged = [await a_guest(client, world) for _ in range(3)]
    await moderation.report(
        reporter.principal, reported_user_id=reported.principal.user_id, reason="other", note="weird", pair_id=None
    )
    reports = (await client.get("/api/v1/admin/reports", headers=moderator.headers)).json()["reports"]
    assert [(r["reporter"]["id"], r["reported"]["id"], r["note"], r["state"]) for r in reports] == [
        (reporter.id, reported.id, "weird", "open")
    ]
    dismissed = await client.post(f"/api/v1/admin/reports/{reports[0]['id']}/dismiss", headers=moderator.headers)
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    assert (await client.get("/api/v1/admin/reports", headers=moderator.headers)).json() == {"reports": []}

    await moderation.record_flagged_frame(principal=flagged.principal, pair_id=None, image=JPEG, score=0.97)
    frames = (await client.get("/api/v1/admin/frames", headers=moderator.headers)).json()["frames"]
    assert [(f["user"]["id"], f["score"], f["state"]) for f in frames] == [(flagged.id, pytest.approx(0.97), "open")]
    image = await client.get("/api/v1/admin/frames/{}/image".format(frames[0]["id"]), headers=moderator.headers)
    assert image.status_code == 200 and image.content == JPEG
    assert image.headers["content-type"] == "image/jpeg" and image.headers["cache-control"] == "no-store"
    assert (await client.get(frames[0]["image_url"], headers=moderator.headers)).content == JPEG
    dismissed = await client.post(f"/api/v1/admin/frames/{frames[0]['id']}/dismiss", headers=moderator.headers)
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"

    world.clock.advance(31 * 86400)  # past evidence retention
    assert await moderation.purge_evidence() == 1
    later = await a_member(client, world, Role.MODERATOR)  # sessions of a month ago have expired
    purged = await client.get(f"/api/v1/admin/frames/{frames[0]['id']}/image", headers=later.headers)
    assert purged.status_code == 404 and error_code(purged) == "evidence_purged"
