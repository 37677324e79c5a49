"""Chats, invite links and search folding."""

from __future__ import annotations

import pytest

from palaver.domain.messenger.chats import ChatKind, check_chat_username, check_title, private_key, private_members
from palaver.domain.messenger.invites import Invite, InviteTerms
from palaver.domain.messenger.search import fold, index_text, query_terms
from palaver.errors import Forbidden, InvalidInput


def test_kinds_and_limits() -> None:
    assert ChatKind.GROUP.member_limit == 200
    assert ChatKind.SUPERGROUP.member_limit == 200_000
    assert ChatKind.CHANNEL.member_limit is None
    assert ChatKind.CHANNEL.has_channel_box and not ChatKind.GROUP.has_channel_box


def test_titles_and_usernames() -> None:
    assert check_title("Café") == "Café"
    for bad in ("", " x", "a\nb", "x" * 129):
        with pytest.raises(InvalidInput):
            check_title(bad)
    assert check_chat_username(ChatKind.CHANNEL, "news_de") == "news_de"
    with pytest.raises(InvalidInput):
        check_chat_username(ChatKind.GROUP, "news_de")


def test_private_keys() -> None:
    assert private_key(5, 3) == private_key(3, 5) == "3:5"
    assert private_members("3:5") == (3, 5)
    assert private_members("4:4") == (4,)


def test_invite_terms_and_usability() -> None:
    InviteTerms(expire_at=200.0, usage_limit=3).check(now=100.0)
    for bad in (
        InviteTerms(expire_at=50.0),
        InviteTerms(usage_limit=0),
        InviteTerms(requires_approval=True, usage_limit=2),
        InviteTerms(title="x" * 40),
    ):
        with pytest.raises(InvalidInput):
            bad.check(now=100.0)
    base = Invite(id=1, chat_id=2, code="c", creator_id=3, created_at=0.0)
    base.check_usable(10.0)
    cases = {
        "invite_revoked": Invite(1, 2, "c", 3, 0.0, revoked_at=5.0),
        "invite_expired": Invite(1, 2, "c", 3, 0.0, expire_at=10.0),
        "invite_used_up": Invite(1, 2, "c", 3, 0.0, usage_limit=2, usage_count=2),
    }
    for code, invite in cases.items():
        with pytest.raises(Forbidden) as caught:
            invite.check_usable(10.0)
        assert caught.value.code == code


def test_folding_for_four_languages() -> None:
    assert fold("Élève") == "eleve"
    assert fold("Straße") == "strasse"
    assert fold("MÜLLER") == "muller"
    assert fold("كَتَبَ") == "كتب"  # harakat removed
    assert fold("كـــتب") == "كتب"  # tatweel removed
    assert query_terms("  Grüße, my_friend!") == ("grusse", "my", "friend")
    assert index_text("Café", None, "news") == "cafe news"
    with pytest.raises(InvalidInput):
        query_terms("!!!")
    with pytest.raises(InvalidInput):
        query_terms("x" * 300)
