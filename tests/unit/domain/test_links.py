"""contains_link: what counts as a link in Roulette chat, and what must not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.links import TLDS, contains_link, normalise

LINKS = [
    "http://example",
    "https://example.org/path?q=1",
    "HTTPS://EXAMPLE.ORG",
    "look: hTTp://x",
    "ftp://files.example",
    "www.example",
    "go to WWW.something now",
    "example.com",
    "visit example.com!",
    "example.com.",
    "(example.com)",
    "sub.domain.co.uk",
    "example.com/path",
    "t.me/somebody",
    "add me t.me/x",
    "discord.gg/abc",
    "bit.ly/3xyz",
    "mysite.xyz",
    "bob@mail.ru",
    "write to bob.smith@example.org",
    "1.2.3.4:8080",
    "10.0.0.1/admin",
    "пример.рф",
    "ищи пример.рф тут",
    "زوروا example.com الآن",
    "تعال إلى موقع.مصر",
    "example．com",  # full-width dot
    "example。com",  # ideographic full stop
    "example｡com",  # half-width ideographic full stop
    "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ",  # all full-width
    "exa\u200bmple.com",  # zero-width space inside
    "example\u200b.com",
    "Example.COM",
    "hello\nexample.net",
]

NOT_LINKS = [
    "",
    "hello there",
    "e.g. this one",
    "i.e. that one",
    "E.G.",
    "3.14",
    "pi is 3.14159",
    "a.b",
    "a.m. or p.m.?",
    "U.S.A.",
    "version 1.2.3",
    "v2.0.1-beta",
    "1.2.3.4",
    "main.py",
    "README.md",
    "run.sh",
    "ok.so what",
    "this.is fine",
    "hello.how are you",
    "end of sentence.Next one",
    "example.comma",
    "wwwhat",
    "www",
    "www.",
    "http",
    "https: no",
    "مرحبا.كيف حالك",
    "مرحبا، كيف حالك؟ أنا من مصر",
    "السلام عليكم. أنا بخير",
    "Привет. Как дела?",
    "12.30 at the café",
    "Mr.Smith",
    "😀.😀",
    "dot com",
]


@pytest.mark.parametrize("text", LINKS)
def test_links_are_found(text: str) -> None:
    assert contains_link(text)


@pytest.mark.parametrize("text", NOT_LINKS)
def test_ordinary_text_is_not_a_link(text: str) -> None:
    assert not contains_link(text)


def test_normalise_folds_dots_case_and_invisible_characters() -> None:
    assert normalise("ＡＢ\u200b。Cd") == "ab.cd"


def test_every_tld_is_recognised_after_a_label() -> None:
    missed = [tld for tld in TLDS if not contains_link(f"see name.{tld} now")]
    assert missed == []


@given(st.text(alphabet=st.characters(blacklist_characters=".:/@。．｡﹒․")))
def test_text_without_dots_or_slashes_is_never_a_link(text: str) -> None:
    # a compatibility character may fold to a dot (e.g. "⒈" → "1."), so the check is after folding
    if not any(ch in normalise(text) for ch in ".:/"):
        assert not contains_link(text)


@given(st.text(min_size=0, max_size=40))
def test_adding_a_url_always_makes_a_link(text: str) -> None:
    assert contains_link(f"{text} https://example.org")
