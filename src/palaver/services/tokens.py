"""Bearer tokens: 256 random bits, shown once, stored only as a SHA-256 hash.

SHA-256 (not a slow hash) is right here: a token has 256 bits of entropy, so it cannot be guessed
offline, and lookups must be fast on every request.
"""

from __future__ import annotations

import hashlib
import secrets

SESSION_PREFIX = "pvs_"
DEVICE_PREFIX = "pvd_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
