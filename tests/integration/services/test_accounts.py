"""Account use cases on a real SQLite database and the in-memory broker, with a manual clock."""

from __future__ import annotations

import json

import pytest

from palaver.domain.accounts import AccountKind, Bio, DisplayName, Languages, ProfileChange, Role, Username
from palaver.domain.sessions import Principal
from palaver.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from tests.integration.services.conftest import Recorder, World

PASSWORD = "correct horse battery"


async def test_guest_gets_session_and_device_and_comes_back_as_the_same_guest(world: World) -> None:
    first = await world.accounts.continue_as_guest(device_token=None, user_agent="phone")
    assert first.user.kind is AccountKind.GUEST
    assert first.user.display_name.startswith("Guest ")
    assert first.device_token and first.session_token.startswith("pvs_")
    again = await world.accounts.continue_as_guest(device_token=first.device_token)
    assert again.user.id == first.user.id
    assert again.session_token != first.session_token
    principal = await world.accounts.authenticate(again.session_token)
    assert principal.user_id == first.user.id


async def test_unknown_device_token_makes_a_new_guest(world: World) -> None:
    first = await world.accounts.continue_as_guest(device_token=None)
    other = await world.accounts.continue_as_guest(device_token="pvd_forged")
    assert other.user.id != first.user.id
    assert await world.accounts.count_guests() == 2


async def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    signed = await world.accounts.continue_as_guest(device_token=None)
    async with world.storage.engine.connect() as conn:
        rows = [
            row
            for table in ("sessions", "devices")
            for row in (await conn.exec_driver_sql(f"SELECT * FROM {table}")).all()  # noqa: S608
        ]
    dump = "\n".join(str(row) for row in rows)
    assert len(rows) == 2
    assert signed.session_token not in dump
    assert signed.session_token[4:] not in dump
    assert signed.device_token is not None and signed.device_token[4:] not in dump


async def test_register_login_and_authenticate(world: World) -> None:
    registered = await world.accounts.register(username="Ada", password=PASSWORD, display_name="Ada L.")
    assert registered.user.username == "Ada" and registered.user.display_name == "Ada L."
    assert registered.user.password_hash and registered.user.password_hash.startswith("$argon2id$")
    signed = await world.accounts.login(username="ADA", password=PASSWORD, ip="10.0.0.1")
    assert signed.user.id == registered.user.id
    principal = await world.accounts.authenticate(signed.session_token)
    assert principal == Principal(user_id=registered.user.id, session_id=signed.session.id, role=Role.USER)


async def test_register_rejects_taken_names_ignoring_case_and_weak_passwords(world: World) -> None:
    await world.accounts.register(username="Grace", password=PASSWORD)
    with pytest.raises(Conflict) as taken:
        await world.accounts.register(username="grace", password=PASSWORD)
    assert taken.value.code == "username_taken"
    for weak in ("short", "aaaaaaaaaaaa", "password123", "my-HOPPER-pass"):
        with pytest.raises(InvalidInput) as caught:
            await world.accounts.register(username="Hopper", password=weak)
        assert caught.value.code == "weak_password"
    with pytest.raises(InvalidInput) as bad_name:
        await world.accounts.register(username="no spaces", password=PASSWORD)
    assert bad_name.value.code == "invalid_username"
    assert await world.accounts.count_guests() == 0


async def test_wrong_password_and_unknown_user_look_the_same(world: World) -> None:
    await world.accounts.register(username="Linus", password=PASSWORD)
    with pytest.raises(Unauthenticated) as wrong:
        await world.accounts.login(username="Linus", password="not the password")
    with pytest.raises(Unauthenticated) as unknown:
        await world.accounts.login(username="Nobody", password="not the password")
    assert wrong.value.code == unknown.value.code == "invalid_credentials"
    assert wrong.value.message == unknown.value.message


async def test_login_attempts_are_rate_limited_per_username(world: World) -> None:
    await world.accounts.register(username="Ken", password=PASSWORD)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await world.accounts.login(username="Ken", password="guess guess guess")
    with pytest.raises(RateLimited) as limited:
        await world.accounts.login(username="ken", password=PASSWORD)
    assert limited.value.retry_after and limited.value.retry_after > 0
    world.clock.advance(60)
    signed = await world.accounts.login(username="Ken", password=PASSWORD)
    assert signed.user.username == "Ken"


async def test_sessions_expire(world: World) -> None:
    signed = await world.accounts.continue_as_guest(device_token=None)
    world.clock.advance(3599)
    await world.accounts.authenticate(signed.session_token)
    world.clock.advance(2)
    with pytest.raises(Unauthenticated):
        await world.accounts.authenticate(signed.session_token)


async def test_bad_tokens_are_refused(world: World) -> None:
    for token in ("", "pvs_", "pvs_nope", "x" * 1000, "Bearer pvs_x"):
        with pytest.raises(Unauthenticated):
            await world.accounts.authenticate(token)


async def test_logout_and_revoke_publish_session_revoked_after_commit(world: World) -> None:
    a = await world.accounts.register(username="Dennis", password=PASSWORD)
    b = await world.accounts.login(username="Dennis", password=PASSWORD)
    recorder = Recorder()
    await world.broker.subscribe(f"session:{b.session.id}", recorder)
    pa = await world.accounts.authenticate(a.session_token)
    listed = await world.accounts.list_sessions(pa)
    assert {s.id for s in listed} == {a.session.id, b.session.id}
    await world.accounts.revoke_session(pa, b.session.id)
    assert [json.loads(p)["event"] for _, p in recorder.messages] == ["session.revoked"]
    with pytest.raises(Unauthenticated):
        await world.accounts.authenticate(b.session_token)
    await world.accounts.logout(pa)
    with pytest.raises(Unauthenticated):
        await world.accounts.authenticate(a.session_token)


async def test_cannot_revoke_someone_elses_session(world: World) -> None:
    mine = await world.accounts.continue_as_guest(device_token=None)
    theirs = await world.accounts.continue_as_guest(device_token=None)
    me = await world.accounts.authenticate(mine.session_token)
    with pytest.raises(NotFound):
        await world.accounts.revoke_session(me, theirs.session.id)
    await world.accounts.authenticate(theirs.session_token)


async def test_guest_upgrade_keeps_id_and_ends_device_login(world: World) -> None:
    guest = await world.accounts.continue_as_guest(device_token=None)
    principal = await world.accounts.authenticate(guest.session_token)
    upgraded = await world.accounts.upgrade_guest(principal, username="Barbara", password=PASSWORD)
    assert upgraded.id == guest.user.id and upgraded.kind is AccountKind.REGISTERED
    await world.accounts.authenticate(guest.session_token)  # the current session goes on
    signed = await world.accounts.login(username="barbara", password=PASSWORD)
    assert signed.user.id == guest.user.id
    again = await world.accounts.continue_as_guest(device_token=guest.device_token)
    assert again.user.id != guest.user.id
    with pytest.raises(Conflict) as already:
        await world.accounts.upgrade_guest(principal, username="Barbara2", password=PASSWORD)
    assert already.value.code == "already_registered"


async def test_profile_update_validates_publishes_and_keeps_usernames_unique(world: World) -> None:
    await world.accounts.register(username="Taken", password=PASSWORD)
    me = await world.accounts.register(username="Alan", password=PASSWORD)
    principal = await world.accounts.authenticate(me.session_token)
    recorder = Recorder()
    await world.broker.subscribe(f"user:{me.user.id}", recorder)
    change = ProfileChange(display_name=DisplayName("Alan T."), bio=Bio("Enigma"), languages=Languages(("en", "de")))
    updated = await world.accounts.update_profile(principal, change)
    assert (updated.display_name, updated.bio, updated.languages) == ("Alan T.", "Enigma", ("en", "de"))
    assert json.loads(recorder.messages[-1][1])["data"]["display_name"] == "Alan T."
    with pytest.raises(Conflict):
        await world.accounts.update_profile(principal, ProfileChange(username=Username("TAKEN")))
    assert (await world.accounts.me(principal)).username == "Alan"
    assert len(recorder.messages) == 1


async def test_guests_cannot_take_a_username_without_registering(world: World) -> None:
    guest = await world.accounts.continue_as_guest(device_token=None)
    principal = await world.accounts.authenticate(guest.session_token)
    with pytest.raises(Forbidden):
        await world.accounts.update_profile(principal, ProfileChange(username=Username("Sneaky")))


async def test_change_password_signs_out_other_sessions(world: World) -> None:
    a = await world.accounts.register(username="Margaret", password=PASSWORD)
    b = await world.accounts.login(username="Margaret", password=PASSWORD)
    pa = await world.accounts.authenticate(a.session_token)
    with pytest.raises(Unauthenticated):
        await world.accounts.change_password(pa, current_password="wrong one!!", new_password="another fine phrase")
    await world.accounts.change_password(pa, current_password=PASSWORD, new_password="another fine phrase")
    await world.accounts.authenticate(a.session_token)
    with pytest.raises(Unauthenticated):
        await world.accounts.authenticate(b.session_token)
    await world.accounts.login(username="Margaret", password="another fine phrase")


async def test_roles_are_granted_by_admins_or_the_operator_only(world: World) -> None:
    admin = await world.accounts.register(username="Root", password=PASSWORD)
    user = await world.accounts.register(username="Joe", password=PASSWORD)
    await world.accounts.grant_role(None, username="root", role=Role.ADMIN)
    joe = await world.accounts.authenticate(user.session_token)
    with pytest.raises(Forbidden):
        await world.accounts.grant_role(joe, username="Joe", role=Role.ADMIN)
    boss = await world.accounts.authenticate(admin.session_token)
    assert boss.role is Role.ADMIN
    granted = await world.accounts.grant_role(boss, username="joe", role=Role.MODERATOR)
    assert granted.role is Role.MODERATOR
    assert (await world.accounts.authenticate(user.session_token)).role is Role.MODERATOR
    with pytest.raises(NotFound):
        await world.accounts.grant_role(None, username="ghost", role=Role.ADMIN)
