"""Password strength policy. Pure: the hashing itself lives in ``adapters/security``."""

from __future__ import annotations

from palaver.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 256

# The most common passwords of public breach corpora that pass the length rule.
COMMON = frozenset({
    "1234567890", "123456789a", "qwertyuiop", "password12", "password123", "1q2w3e4r5t", "iloveyou12",
    "qwerty1234", "abc1234567", "passw0rd12", "letmein123", "welcome123", "0987654321", "1111111111",
    "asdfghjkl1", "zaq12wsxcde", "admin12345", "football12", "princess12", "sunshine12", "dragon1234",
    "monkey1234", "1qaz2wsx3edc", "qwertyuiop123", "password1234", "123123123123",
})


def check_password(password: str, *, username: str | None = None) -> None:
    """Raise ``InvalidInput(code="weak_password")`` unless the password is acceptable."""
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"A password has at most {MAX_LENGTH} characters.", code="invalid_password")
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"Use at least {MIN_LENGTH} characters.", code="weak_password")
    lowered = password.lower()
    if len(set(password)) < 4:
        raise InvalidInput("Use more different characters.", code="weak_password")
    if lowered in COMMON:
        raise InvalidInput("This password is too common.", code="weak_password")
    if username and username.lower() in lowered:
        raise InvalidInput("A password must not contain the username.", code="weak_password")
