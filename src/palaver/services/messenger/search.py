"""Search: within a chat, across my chats, and the directory of public channels and supergroups.
Membership is checked here: nobody finds messages of a chat they cannot read."""

from __future__ import annotations

from typing import Any

from palaver.domain.messenger.search import query_terms
from palaver.domain.sessions import Principal
from palaver.errors import InvalidInput
from palaver.services.messenger.access import readable
from palaver.services.messenger.deps import Deps
from palaver.services.messenger.history import MAX_HISTORY
from palaver.services.messenger.serialize import chat_json, message_json


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInput(f"A page has 1–{MAX_HISTORY} items.", code="invalid_limit")
    return limit


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise InvalidInput("The cursor is not valid.", code="invalid_cursor")
    return int(cursor)


class SearchService:
    def __init__(self, deps: Deps) -> None:
        self._d = deps

    async def messages(
        self,
        principal: Principal,
        query: str,
        *,
        chat_id: int | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Messages containing every word of ``query`` (as prefixes, accents and case ignored), newest
        first; in one chat, or in every chat I am a member of."""
        terms = query_terms(query)
        limit = _limit(limit)
        before = _cursor(cursor)
        user_id = principal.user_id
        async with self._d.storage.reading() as tx:
            if chat_id is not None:
                access = await readable(tx, chat_id, user_id, self._d.clock.now())
                found = await tx.messages.search(
                    terms,
                    viewer_id=user_id if access.is_active else None,
                    chat_id=chat_id,
                    min_id=access.min_id,
                    before_uid=before,
                    limit=limit,
                )
            else:
                found = await tx.messages.search(
                    terms, viewer_id=user_id, chat_id=None, min_id=0, before_uid=before, limit=limit
                )
        next_cursor = str(found[-1].uid) if len(found) == limit else None
        return {"messages": [message_json(m) for m in found], "next_cursor": next_cursor}

    async def directory(self, principal: Principal, query: str, *, limit: int = 20) -> dict[str, Any]:
        """Public channels and supergroups whose title or username has every word of ``query``."""
        terms = query_terms(query)
        limit = _limit(limit)
        async with self._d.storage.reading() as tx:
            found = await tx.chats.search_public(terms, limit=limit)
        return {"chats": [chat_json(c) for c in found]}
