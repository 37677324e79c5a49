"""What a ban applies to: the account, the guest device(s) of the account, and salted hashes of the
IP addresses the account signed in from. Raw IP addresses are never stored."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum

MAX_VALUE = 128


class SubjectKind(StrEnum):
    ACCOUNT = "account"
    DEVICE = "device"
    IP = "ip"


@dataclass(frozen=True, slots=True, order=True)
class BanSubject:
    kind: SubjectKind
    value: str  # a decimal id (account, device) or the hex of an IP hash

    def __post_init__(self) -> None:
        if not 0 < len(self.value) <= MAX_VALUE:
            raise ValueError("a ban subject value has 1–128 characters")

    @classmethod
    def account(cls, user_id: int) -> BanSubject:
        return cls(SubjectKind.ACCOUNT, str(user_id))

    @classmethod
    def device(cls, device_id: int) -> BanSubject:
        return cls(SubjectKind.DEVICE, str(device_id))

    @classmethod
    def ip(cls, ip_hash: bytes) -> BanSubject:
        return cls(SubjectKind.IP, ip_hash.hex())


def hash_ip(salt: str, ip: str) -> bytes | None:
    """HMAC-SHA256(salt, ip): the same address always gives the same hash, which cannot be turned back
    into the address without the salt. None when the address is unknown."""
    if not ip:
        return None
    return hmac.new(salt.encode(), ip.strip().lower().encode(), hashlib.sha256).digest()


def subjects_of(
    user_id: int, *, device_ids: list[int] | tuple[int, ...] = (), ip_hashes: list[bytes] | tuple[bytes, ...] = ()
) -> tuple[BanSubject, ...]:
    """The subjects of a ban on ``user_id``, sorted and without repeats."""
    found = {BanSubject.account(user_id)}
    found |= {BanSubject.device(d) for d in device_ids}
    found |= {BanSubject.ip(h) for h in ip_hashes}
    return tuple(sorted(found))
