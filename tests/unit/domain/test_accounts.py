from __future__ import annotations

import pytest

from palaver.domain.accounts import Bio, DisplayName, Languages, Role, Username, can_grant_role, guest_display_name
from palaver.errors import InvalidInput


@pytest.mark.parametrize("name", ["abc", "Ada_Lovelace", "x" * 32, "a1_"])
def test_valid_usernames(name: str) -> None:
    assert Username(name).canonical == name.lower()


@pytest.mark.parametrize("name", ["ab", "1abc", "_abc", "a" * 33, "with space", "émile", "a-b", ""])
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Username(name)
    assert caught.value.code == "invalid_username"


@pytest.mark.parametrize("text", ["Ada", "عمر", "Zoë 🎉", "x" * 64])
def test_valid_display_names(text: str) -> None:
    assert DisplayName(text).value == text


@pytest.mark.parametrize("text", ["", " Ada", "Ada ", "x" * 65, "A\u0000da", "A\u202eda"])
def test_invalid_display_names(text: str) -> None:
    with pytest.raises(InvalidInput):
        DisplayName(text)


def test_bio_limit() -> None:
    assert Bio("line one\nline two").value.startswith("line")
    with pytest.raises(InvalidInput):
        Bio("x" * 141)


def test_languages() -> None:
    assert Languages(("en", "ar", "fil")).codes == ("en", "ar", "fil")
    for bad in (("EN",), ("en", "en"), ("english",), tuple(f"a{c}" for c in "bcdefghij")):
        with pytest.raises(InvalidInput):
            Languages(bad)


def test_role_order_and_granting() -> None:
    assert Role.ADMIN.at_least(Role.MODERATOR) and not Role.USER.at_least(Role.MODERATOR)
    assert can_grant_role(Role.ADMIN, Role.USER, Role.MODERATOR)
    assert can_grant_role(Role.ADMIN, Role.MODERATOR, Role.USER)
    assert not can_grant_role(Role.MODERATOR, Role.USER, Role.MODERATOR)
    assert not can_grant_role(Role.USER, Role.USER, Role.USER)


def test_guest_names_are_stable() -> None:
    assert guest_display_name(123456789) == guest_display_name(123456789) == "Guest 56789"
