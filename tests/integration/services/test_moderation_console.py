"""The moderation console: every action for every role (user, moderator, admin), its audit entry,
and the rules about one's own case, admins, and bad input (typed errors that change nothing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from palaver.domain.accounts import Role
from palaver.domain.moderation import Ban
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound, PalaverError
from palaver.services.moderation import ModerationService
from palaver.services.moderation.serialize import ban_json
from tests.integration.services import test_moderation as base
from tests.integration.services.test_moderation import World

world = base.world


@dataclass
class Case:
    """A person with a ban (from a flagged frame), a report against them and an open appeal."""

    target: Principal
    ban: Ban
    report_id: int
    frame_id: int
    appeal_id: int


async def a_case(w: World, admin: Principal) -> Case:
    target = await w.guest()
    await w.moderation.report(await w.guest(), reported_user_id=target.user_id, reason="spam", pair_id="3")
    ban = await w.flag(target)
    appeal = await w.moderation.appeal(target, text="Not me.")
    reports = await w.moderation.list_reports(admin, state="all")
    frames = await w.moderation.list_frames(admin, state="all")
    report_id = next(int(r["id"]) for r in reports if r["reported"]["id"] == str(target.user_id))
    frame_id = next(int(f["id"]) for f in frames if f["user"]["id"] == str(target.user_id))
    return Case(target, ban, report_id, frame_id, appeal.id)


Action = Callable[[ModerationService, Principal, Case], Awaitable[Any]]
ACTIONS: dict[str, tuple[Action, str | None]] = {  # the action, and the audit entry it writes
    "list_reports": (lambda m, p, c: m.list_reports(p, state="all"), None),
    "list_frames": (lambda m, p, c: m.list_frames(p), None),
    "frame_image": (lambda m, p, c: m.frame_image(p, c.frame_id), None),
    "list_bans": (lambda m, p, c: m.list_bans(p, state="all"), None),
    "list_appeals": (lambda m, p, c: m.list_appeals(p), None),
    "audit": (lambda m, p, c: m.audit(p), None),
    "dismiss_report": (lambda m, p, c: m.dismiss_report(p, c.report_id), "report.dismiss"),
    "dismiss_frame": (lambda m, p, c: m.dismiss_frame(p, c.frame_id), "frame.dismiss"),
    "unban": (lambda m, p, c: m.unban(p, c.ban.id, note="ok"), "ban.lift"),
    "adjust": (lambda m, p, c: m.adjust(p, c.ban.id, ends_at=c.ban.starts_at + 60), "ban.adjust"),
    "adjust_indefinitely": (lambda m, p, c: m.adjust(p, c.ban.id, ends_at=None), "ban.adjust"),
    "decide_appeal": (lambda m, p, c: m.decide_appeal(p, c.appeal_id, decision="reject", note="no"), "appeal.reject"),
}
EXPECTED = {  # role -> actions that fail, with their code; the others succeed
    Role.USER: dict.fromkeys([*ACTIONS, "ban", "ban_indefinitely"], "forbidden"),
    Role.MODERATOR: {"audit": "admin_only", "adjust_indefinitely": "admin_only", "ban_indefinitely": "admin_only"},
    Role.ADMIN: {},
}


async def outcome(call: Awaitable[Any]) -> str:
    try:
        await call
    except PalaverError as exc:
        return exc.code
    return "ok"


async def audit_actions(w: World, admin: Principal) -> list[tuple[str, str | None]]:
    return [(e["action"], e["actor"]["id"] if e["actor"] else None) for e in await w.moderation.audit(admin, limit=200)]


@pytest.mark.parametrize("role", [Role.USER, Role.MODERATOR, Role.ADMIN])
async def test_authorization_matrix(world: World, role: Role) -> None:
    admin = await world.staff("the_admin", Role.ADMIN)
    actor = admin if role is Role.ADMIN else await world.staff(f"actor_{role.value}", role)
    expected = EXPECTED[role]
    for name, (action, audited) in ACTIONS.items():
        case = await a_case(world, admin)
        before = await audit_actions(world, admin)
        got = await outcome(action(world.moderation, actor, case))
        assert got == expected.get(name, "ok"), name
        after = await audit_actions(world, admin)
        if got == "ok" and audited:
            assert after[0] == (audited, str(actor.user_id)), name  # written with the change
            assert len(after) == len(before) + 1
        else:
            assert after == before, name  # refused or read-only: nothing written
    for name, duration in (("ban", 3600), ("ban_indefinitely", None)):
        target = await world.guest()
        got = await outcome(
            world.moderation.ban(actor, user_id=target.user_id, reason_text="abuse", duration_seconds=duration)
        )
        assert got == expected.get(name, "ok"), name
        banned = await world.moderation.current_ban(target)
        assert (banned is not None) == (got == "ok")
        if banned is not None:
            assert (banned.created_by, banned.reason.value) == (actor.user_id, "moderator")
            assert banned.ends_at == (None if duration is None else world.clock.now() + duration)
            assert world.banned[-1] == (target.user_id, banned)


async def test_automatic_bans_are_audited_as_the_system(world: World) -> None:
    admin = await world.staff("the_admin", Role.ADMIN)
    ban = await world.reported_by(await world.guest(), 3)
    assert ban is not None
    [entry] = await world.moderation.audit(admin)
    assert (entry["actor"], entry["action"], entry["target_id"]) == (None, "ban.auto", str(ban.id))
    assert entry["details"]["level"] == 1 and len(entry["details"]["report_ids"]) == 3
    reports = await world.moderation.list_reports(admin, state="actioned")
    assert len(reports) == 3 and await world.moderation.list_reports(admin) == []


async def test_moderators_never_act_on_their_own_case_or_against_admins(world: World) -> None:
    admin = await world.staff("the_admin", Role.ADMIN)
    moderator = await world.staff("the_mod", Role.MODERATOR)
    own = await world.flag(moderator)
    appeal = await world.moderation.appeal(moderator, text="Let me go.")
    for call in (
        world.moderation.unban(moderator, own.id),
        world.moderation.adjust(moderator, own.id, ends_at=own.starts_at + 1),
        world.moderation.decide_appeal(moderator, appeal.id, decision="accept"),
        world.moderation.ban(moderator, user_id=admin.user_id, reason_text="x", duration_seconds=60),
    ):
        assert await outcome(call) == "forbidden"
    assert (await world.moderation.current_ban(moderator)) is not None
    lifted = await world.moderation.unban(admin, own.id, note="fine")
    assert lifted.appeal is not None and lifted.appeal.state.value == "accepted"  # the open appeal is closed
    admin_ban = await world.flag(admin)
    assert await outcome(world.moderation.unban(moderator, admin_ban.id)) == "forbidden"
    assert await outcome(world.moderation.unban(admin, admin_ban.id)) == "ok"  # admins may lift their own


async def test_accepting_an_appeal_lifts_the_ban(world: World) -> None:
    moderator = await world.staff("the_mod", Role.MODERATOR)
    target = await world.guest()
    ban = await world.flag(target)
    appeal = await world.moderation.appeal(target, text="It was a poster.")
    [listed] = await world.moderation.list_appeals(moderator)
    assert listed["ban"]["id"] == str(ban.id) and listed["user"]["id"] == str(target.user_id)
    assert listed["ban"]["appeal"]["id"] == str(appeal.id)
    decided = await world.moderation.decide_appeal(moderator, appeal.id, decision="accept", note="Sorry.")
    assert (decided["state"], decided["decision_note"]) == ("accepted", "Sorry.")
    assert await world.moderation.current_ban(target) is None
    [shown] = await world.moderation.list_bans(moderator, state="all")
    assert shown["state"] == "lifted" and shown["appeal"]["state"] == "accepted"
    with pytest.raises(Conflict) as again:
        await world.moderation.decide_appeal(moderator, appeal.id, decision="reject")
    assert again.value.code == "appeal_decided"
    assert (await world.flag(target)).level == 1  # the lifted ban does not escalate


async def test_console_lists(world: World) -> None:
    admin = await world.staff("the_admin", Role.ADMIN)
    case = await a_case(world, admin)
    world.clock.advance(10)
    [report] = await world.moderation.list_reports(admin)
    name = f"Guest {case.target.user_id % 100000:05d}"
    assert report["reported"] == {"id": str(case.target.user_id), "display_name": name}
    assert (report["reason"], report["pair_id"], report["state"]) == ("spam", "3", "open")
    [frame] = await world.moderation.list_frames(admin)
    assert frame["image_url"] == f"/api/admin/frames/{case.frame_id}/image" and frame["pair_id"] == "7"
    [ban] = await world.moderation.list_bans(admin)
    assert (ban["state"], ban["level"], ban["user"]["id"]) == ("active", 1, str(case.target.user_id))
    assert await world.moderation.list_bans(admin, state="review") == []
    world.clock.advance(600)
    assert await world.moderation.list_bans(admin) == []
    [expired] = await world.moderation.list_bans(admin, state="all")
    assert expired["state"] == "expired"


async def test_bad_console_input_is_refused(world: World) -> None:
    admin = await world.staff("the_admin", Role.ADMIN)
    case = await a_case(world, admin)
    target = await world.guest()
    refusals: list[tuple[Awaitable[Any], type[PalaverError], str]] = [
        (world.moderation.list_reports(admin, state="closed"), InvalidInput, "invalid_state"),
        (world.moderation.list_bans(admin, state="open"), InvalidInput, "invalid_state"),
        (world.moderation.list_appeals(admin, limit=0), InvalidInput, "invalid_limit"),
        (world.moderation.audit(admin, limit=10_000), InvalidInput, "invalid_limit"),
        (world.moderation.frame_image(admin, 1), NotFound, "frame_not_found"),
        (world.moderation.dismiss_report(admin, 1), NotFound, "report_not_found"),
        (world.moderation.unban(admin, 1), NotFound, "ban_not_found"),
        (world.moderation.decide_appeal(admin, 1, decision="accept"), NotFound, "appeal_not_found"),
        (world.moderation.decide_appeal(admin, case.appeal_id, decision="maybe"), InvalidInput, "invalid_decision"),
        (world.moderation.ban(admin, user_id=1, reason_text="x", duration_seconds=60), NotFound, "user_not_found"),
        (world.moderation.ban(admin, user_id=target.user_id, reason_text=" ", duration_seconds=60), InvalidInput,
         "invalid_reason_text"),
        (world.moderation.ban(admin, user_id=target.user_id, reason_text="x", duration_seconds=0), InvalidInput,
         "invalid_duration"),
        (world.moderation.ban(admin, user_id=case.target.user_id, reason_text="x", duration_seconds=60), Conflict,
         "already_banned"),
        (world.moderation.adjust(admin, case.ban.id, ends_at=case.ban.starts_at - 1), InvalidInput,
         "invalid_ends_at"),
        (world.moderation.adjust(admin, case.ban.id, ends_at=float("inf")), InvalidInput, "invalid_ends_at"),
        (world.moderation.unban(admin, case.ban.id, note="x" * 501), InvalidInput, "invalid_note"),
        (world.moderation.ban(admin, user_id=admin.user_id, reason_text="me", duration_seconds=60), Forbidden,
         "forbidden"),
    ]
    for call, kind, code in refusals:
        with pytest.raises(kind) as err:
            await call
        assert err.value.code == code
    assert [e["action"] for e in await world.moderation.audit(admin)] == ["ban.auto"]
    await world.moderation.dismiss_report(admin, case.report_id)
    with pytest.raises(Conflict) as twice:
        await world.moderation.dismiss_report(admin, case.report_id)
    assert twice.value.code == "not_open"
    world.clock.advance(601)
    with pytest.raises(Conflict) as gone:
        await world.moderation.unban(admin, case.ban.id)
    assert gone.value.code == "ban_not_in_force"


async def test_adjusting_shortens_extends_and_ends_a_ban(world: World) -> None:
    moderator = await world.staff("the_mod", Role.MODERATOR)
    target = await world.guest()
    ban = await world.flag(target)
    world.clock.advance(60)
    longer = await world.moderation.adjust(moderator, ban.id, ends_at=ban.starts_at + 7200)
    assert ban_json(longer)["state"] == "active" and longer.ends_at == ban.starts_at + 7200
    ended = await world.moderation.adjust(moderator, ban.id, ends_at=world.clock.now())
    assert ban_json(ended)["state"] == "expired"  # the JSON tells the state when the service answered
    assert await world.moderation.current_ban(target) is None
    lifted_json = ban_json(await world.moderation.unban(moderator, (await world.flag(target)).id))
    assert lifted_json["state"] == "lifted"
    details = [e["details"] for e in await world.moderation.audit(await world.staff("an_admin", Role.ADMIN))]
    assert {"from": ban.starts_at + 7200, "to": world.clock.now()} in details
