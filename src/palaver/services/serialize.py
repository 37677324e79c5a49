"""JSON shapes shared by the HTTP API, gateway replies and events. 64-bit ids travel as strings."""

from __future__ import annotations

from typing import Any

from palaver.domain.accounts import User
from palaver.domain.sessions import Session


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "kind": user.kind.value,
        "role": user.role.value,
        "display_name": user.display_name,
        "username": user.username,
        "bio": user.bio,
        "languages": list(user.languages),
        "created_at": user.created_at,
    }


def public_user_json(user: User) -> dict[str, Any]:
    data = user_json(user)
    del data["role"]
    return data


def session_json(session: Session, *, current_session_id: int) -> dict[str, Any]:
    return {
        "id": str(session.id),
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "user_agent": session.user_agent,
        "current": session.id == current_session_id,
    }
