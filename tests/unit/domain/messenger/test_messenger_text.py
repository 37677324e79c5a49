"""Message text and entity validation (UTF-16 offsets, nesting rules), edit window, reactions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.domain.messenger.messages import (
    EDIT_WINDOW_SECONDS,
    MAX_TEXT,
    Entity,
    EntityType,
    MessageText,
    check_edit_window,
    check_ids,
    check_reaction,
    parse_entities,
    utf16_length,
)
from palaver.errors import Forbidden, InvalidInput

E = EntityType


def ent(kind: EntityType, offset: int, length: int, **extra: str) -> Entity:
    return Entity(kind, offset, length, **extra)


def test_plain_text_and_limits() -> None:
    assert MessageText("hello").text == "hello"
    assert MessageText("x" * MAX_TEXT).text
    with pytest.raises(InvalidInput) as long:
        MessageText("x" * (MAX_TEXT + 1))
    assert long.value.code == "message_too_long"
    for empty in ("", "   ", "\n\t"):
        with pytest.raises(InvalidInput) as caught:
            MessageText(empty)
        assert caught.value.code == "message_empty"
    with pytest.raises(InvalidInput):
        MessageText("bell\x07")
    assert MessageText("two\nlines\tand tab").text


def test_offsets_count_utf16_code_units() -> None:
    text = "😀 bold"  # the emoji is two UTF-16 code units
    assert utf16_length(text) == 7
    MessageText(text, (ent(E.BOLD, 3, 4),))
    with pytest.raises(InvalidInput):
        MessageText(text, (ent(E.BOLD, 3, 5),))  # past the end
    with pytest.raises(InvalidInput):
        MessageText(text, (ent(E.BOLD, 1, 2),))  # splits the emoji


def test_arabic_and_accents() -> None:
    MessageText("مرحبا بالعالم", (ent(E.ITALIC, 0, 5),))
    MessageText("Grüße, élève", (ent(E.BOLD, 0, 5), ent(E.ITALIC, 7, 5)))


def test_nesting_rules() -> None:
    text = "abcdefghij"
    MessageText(text, (ent(E.BOLD, 0, 10), ent(E.ITALIC, 2, 3)))  # nested
    MessageText(text, (ent(E.BOLD, 0, 5), ent(E.ITALIC, 0, 5)))  # same range, different types
    MessageText(text, (ent(E.BOLD, 0, 5), ent(E.CODE, 5, 5)))  # adjacent
    bad = [
        (ent(E.BOLD, 0, 5), ent(E.ITALIC, 3, 5)),  # partial overlap
        (ent(E.BOLD, 0, 5), ent(E.BOLD, 1, 2)),  # same type nested
        (ent(E.CODE, 0, 5), ent(E.BOLD, 1, 2)),  # inside code
        (ent(E.BOLD, 0, 8), ent(E.PRE, 1, 2)),  # pre inside something
        (ent(E.TEXT_LINK, 0, 8, url="https://a.example"), ent(E.TEXT_LINK, 1, 2, url="https://b.example")),
    ]
    for entities in bad:
        with pytest.raises(InvalidInput) as caught:
            MessageText(text, entities)
        assert caught.value.code == "invalid_entities"


def test_links_mentions_and_pre_language() -> None:
    MessageText("see here", (ent(E.TEXT_LINK, 4, 4, url="https://palaver.example/x"),))
    MessageText("go https://a.example/p?q=1 now", (ent(E.URL, 3, 23),))
    MessageText("hi @ada_l", (ent(E.MENTION, 3, 6),))
    MessageText("code", (ent(E.PRE, 0, 4, language="python"),))
    for entities in [
        (ent(E.TEXT_LINK, 0, 4),),  # no url
        (ent(E.TEXT_LINK, 0, 4, url="javascript:alert(1)"),),
        (ent(E.URL, 0, 4),),  # not a url
        (ent(E.MENTION, 0, 4),),  # not @name
        (ent(E.BOLD, 0, 4, url="https://a.example"),),
        (ent(E.BOLD, 0, 4, language="c"),),
    ]:
        with pytest.raises(InvalidInput):
            MessageText("code", entities)


def test_parse_entities_from_json() -> None:
    parsed = parse_entities([{"type": "bold", "offset": 0, "length": 2}])
    assert parsed == (Entity(E.BOLD, 0, 2),)
    for raw in (
        {"type": "blink", "offset": 0, "length": 1},
        {"type": "bold"},
        {"type": "bold", "offset": "0", "length": 1},
    ):
        with pytest.raises(InvalidInput):
            parse_entities([raw])  # type: ignore[list-item]


def test_entities_sorted_outer_first() -> None:
    text = MessageText("abcdef", (ent(E.ITALIC, 1, 2), ent(E.BOLD, 0, 6)))
    assert [e.type for e in text.entities] == [E.BOLD, E.ITALIC]


@given(
    st.lists(st.tuples(st.sampled_from([E.BOLD, E.ITALIC, E.CODE]), st.integers(0, 12), st.integers(1, 12)), max_size=6)
)
def test_validation_never_crashes(raw: list[tuple[EntityType, int, int]]) -> None:
    try:
        result = MessageText("hello world!", tuple(Entity(k, o, n) for k, o, n in raw))
    except InvalidInput:
        return
    for entity in result.entities:
        assert entity.offset >= 0 and entity.end <= 12


def test_edit_window() -> None:
    check_edit_window(0.0, EDIT_WINDOW_SECONDS)
    with pytest.raises(Forbidden) as late:
        check_edit_window(0.0, EDIT_WINDOW_SECONDS + 1)
    assert late.value.code == "edit_window_expired"


def test_reactions_and_ids() -> None:
    assert check_reaction("👍") == "👍"
    with pytest.raises(InvalidInput):
        check_reaction("🦄")
    assert check_ids([3, 1, 3]) == (1, 3)
    for bad in ([], [0], list(range(1, 102))):
        with pytest.raises(InvalidInput):
            check_ids(bad)
