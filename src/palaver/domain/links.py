"""Does a chat text contain a link? Pure; used to keep brand-new guests from pasting links into
Roulette's text chat (the spam bots' favourite move).

Counts as a link: ``http://`` and ``https://`` urls, ``www.`` hosts, bare domains ending in a
well-known top-level domain (``example.com``, ``t.me/x``, ``пример.рф``), e-mail addresses, and IPv4
addresses followed by a port or a path. Not links: ``e.g.``, ``3.14``, ``a.b``, version numbers,
ordinary sentences. Full-width and ideographic dots count as dots, letters are compared case-blind,
and invisible format characters (zero-width spaces) are ignored, so they cannot hide a domain.

The TLD list is short on purpose: TLDs that are also common words or file extensions (``is``, ``so``,
``no``, ``py``, ``md``, ``sh``) are left out, trading a rare missed link for no false alarms.
"""

from __future__ import annotations

import re
import unicodedata

from palaver.domain.accounts import User

_TLD_WORDS = """
    com net org info biz edu gov mil int xyz top site online club shop store live link click vip pro app dev
    io me co tv gg ly ai cc ws to fm tk ml ga cf gq su ru ua by kz uz az ge am de uk fr es it nl be ch eu
    pl cz sk hu ro bg gr pt ie dk se fi lt lv ee si hr rs tr ir il eg sa ae ma dz tn pk bd lk in cn jp kr
    tw hk sg my id ph vn th au nz ca us mx br ar cl pe ve za ng ke onion porn sex xxx cam chat fun
    space website tech today world life icu monster cyou buzz rest bar lol
    рф укр срб бел қаз мон مصر السعودية امارات ایران 中国 香港 台灣 한국
"""
TLDS = frozenset(_TLD_WORDS.split())

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": ".", "\ufe52": ".", "\u2024": "."})
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_TLD = "|".join(sorted((re.escape(t) for t in TLDS), key=len, reverse=True))
_PATTERN = re.compile(
    rf"""
      \b(?:https?|ftp)://                                    # a url
    | (?<![\w.])www\.[^\W_]                                   # a www. host
    | (?<![\w.-])(?:{_LABEL}\.)+(?:{_TLD})(?![\w-])            # a bare domain (e-mails included)
    | (?<![\w.])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?::\d{{1,5}}|/)  # an IPv4 address with a port or a path
    """,
    re.VERBOSE,
)


def normalise(text: str) -> str:
    """Compatibility-fold (full-width letters and dots), drop format characters, lower-case."""
    folded = unicodedata.normalize("NFKC", text).translate(_DOTS)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return visible.casefold()


def contains_link(text: str) -> bool:
    return _PATTERN.search(normalise(text)) is not None


def may_send_links(user: User, *, now: float, guest_block_seconds: float) -> bool:
    """Registered accounts may send links; guests only once their account is ``guest_block_seconds`` old."""
    return not (user.is_guest and now - user.created_at < guest_block_seconds)
