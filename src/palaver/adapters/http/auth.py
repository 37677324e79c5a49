"""Bearer-token authentication as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from palaver.domain.sessions import Principal
from palaver.errors import Unauthenticated
from palaver.services.accounts import AccountService


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send 'Authorization: Bearer <session token>'.", code="unauthenticated")
    return token.strip()


def accounts(request: Request) -> AccountService:
    service: AccountService = request.app.state.accounts
    return service


async def current_principal(
    request: Request, token: Annotated[str, Depends(bearer_token)]
) -> Principal:
    principal = await accounts(request).authenticate(token)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Accounts = Annotated[AccountService, Depends(accounts)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")
