"""HTTP routes for accounts: guests, registration, login, sessions and profiles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from palaver.adapters.http.auth import Accounts, CurrentPrincipal, client_ip, user_agent
from palaver.domain.accounts import Bio, DisplayName, Languages, ProfileChange, Username
from palaver.ids import parse_id
from palaver.services.accounts import SignedIn
from palaver.services.serialize import public_user_json, session_json, user_json

router = APIRouter(prefix="/api/v1")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GuestIn(Strict):
    device_token: str | None = Field(default=None, max_length=128)


class RegisterIn(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    display_name: str | None = Field(default=None, max_length=256)


class LoginIn(Strict):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


class UpgradeIn(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class ProfileIn(Strict):
    display_name: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=64)
    bio: str | None = Field(default=None, max_length=1024)
    languages: list[str] | None = Field(default=None, max_length=32)


class PasswordIn(Strict):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


def _signed_in(result: SignedIn) -> dict[str, Any]:
    body: dict[str, Any] = {"session_token": result.session_token, "user": user_json(result.user)}
    if result.device_token is not None:
        body["device_token"] = result.device_token
    return body


@router.post("/auth/guest", tags=["auth"])
async def continue_as_guest(body: GuestIn, request: Request, accounts: Accounts) -> dict[str, Any]:
    """Sign in as a guest; with a device token from before, as the same guest."""
    result = await accounts.continue_as_guest(
        device_token=body.device_token, user_agent=user_agent(request), ip=client_ip(request)
    )
    return _signed_in(result)


@router.post("/auth/register", status_code=201, tags=["auth"])
async def register(body: RegisterIn, request: Request, accounts: Accounts) -> dict[str, Any]:
    result = await accounts.register(
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        user_agent=user_agent(request),
        ip=client_ip(request),
    )
    return _signed_in(result)


@router.post("/auth/login", tags=["auth"])
async def login(body: LoginIn, request: Request, accounts: Accounts) -> dict[str, Any]:
    result = await accounts.login(
        username=body.username, password=body.password, ip=client_ip(request), user_agent=user_agent(request)
    )
    return _signed_in(result)


@router.post("/auth/upgrade", tags=["auth"])
async def upgrade(
    body: UpgradeIn, request: Request, principal: CurrentPrincipal, accounts: Accounts
) -> dict[str, Any]:
    """Register the current guest account under a username, keeping everything it has."""
    user = await accounts.upgrade_guest(
        principal, username=body.username, password=body.password, ip=client_ip(request)
    )
    return {"user": user_json(user)}


@router.post("/auth/logout", status_code=204, tags=["auth"])
async def logout(principal: CurrentPrincipal, accounts: Accounts) -> Response:
    await accounts.logout(principal)
    return Response(status_code=204)


@router.get("/me", tags=["profile"])
async def me(principal: CurrentPrincipal, accounts: Accounts) -> dict[str, Any]:
    return user_json(await accounts.me(principal))


@router.patch("/me", tags=["profile"])
async def update_me(body: ProfileIn, principal: CurrentPrincipal, accounts: Accounts) -> dict[str, Any]:
    change = ProfileChange(
        display_name=DisplayName(body.display_name) if body.display_name is not None else None,
        username=Username(body.username) if body.username is not None else None,
        bio=Bio(body.bio) if body.bio is not None else None,
        languages=Languages(tuple(body.languages)) if body.languages is not None else None,
    )
    return user_json(await accounts.update_profile(principal, change))


@router.post("/me/password", status_code=204, tags=["profile"])
async def change_password(body: PasswordIn, principal: CurrentPrincipal, accounts: Accounts) -> Response:
    await accounts.change_password(
        principal, current_password=body.current_password, new_password=body.new_password
    )
    return Response(status_code=204)


@router.get("/sessions", tags=["sessions"])
async def list_sessions(principal: CurrentPrincipal, accounts: Accounts) -> dict[str, Any]:
    sessions = await accounts.list_sessions(principal)
    return {"sessions": [session_json(s, current_session_id=principal.session_id) for s in sessions]}


@router.delete("/sessions/{session_id}", status_code=204, tags=["sessions"])
async def revoke_session(session_id: str, principal: CurrentPrincipal, accounts: Accounts) -> Response:
    await accounts.revoke_session(principal, parse_id(session_id, "session"))
    return Response(status_code=204)


@router.get("/users/{username}", tags=["profile"])
async def public_profile(username: str, _: CurrentPrincipal, accounts: Accounts) -> dict[str, Any]:
    return public_user_json(await accounts.profile(username))
