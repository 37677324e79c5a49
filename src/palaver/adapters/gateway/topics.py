"""Names of the topics every connection joins on its own: its user's and its session's."""

from __future__ import annotations

from typing import Final

USER_TOPIC_PREFIX: Final = "user:"
SESSION_TOPIC_PREFIX: Final = "session:"


def user_topic(user_id: int) -> str:
    """Every connection of a user joins this topic; control events on it change the user's topics."""
    return f"{USER_TOPIC_PREFIX}{user_id}"


def session_topic(session_id: int) -> str:
    """Every connection of a session joins this topic; a ``session.revoked`` event on it closes them."""
    return f"{SESSION_TOPIC_PREFIX}{session_id}"
