from __future__ import annotations

import pytest

from palaver.domain.passwords import check_password
from palaver.errors import InvalidInput


@pytest.mark.parametrize("password", ["correct horse battery", "Tr0ub4dor&3x", "قلعة-الحمراء-1492"])
def test_strong_enough(password: str) -> None:
    check_password(password, username="ada")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "weak_password"),
        ("aaaaaaaaaaaaaa", "weak_password"),
        ("ababababababab", "weak_password"),
        ("password123", "weak_password"),
        ("PASSWORD123", "weak_password"),
        ("i-am-ada-lovelace", "weak_password"),
        ("x" * 257, "invalid_password"),
    ],
)
def test_rejected(password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password(password, username="Ada")
    assert caught.value.code == code
