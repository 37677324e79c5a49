from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.clock import ManualClock
from palaver.errors import InvalidInput
from palaver.ids import MAX_ID, SnowflakeIds, id_timestamp, parse_id


def test_ids_increase_within_a_millisecond_and_carry_their_time() -> None:
    clock = ManualClock(start=1_750_000_000.0)
    ids = SnowflakeIds(clock, node=7)
    made = [ids.next_id() for _ in range(10_000)]  # more than 4096: spills into later milliseconds
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(0 < i <= MAX_ID for i in made)
    assert abs(id_timestamp(made[0]) - 1_750_000_000.0) < 0.001


@given(st.lists(st.floats(min_value=-5, max_value=5), max_size=100))
def test_ids_never_go_backwards_even_if_the_clock_does(steps: list[float]) -> None:
    clock = ManualClock(start=1_750_000_000.0)
    ids = SnowflakeIds(clock)
    last = ids.next_id()
    for step in steps:
        clock._now += step
        current = ids.next_id()
        assert current > last
        last = current


def test_nodes_do_not_collide() -> None:
    clock = ManualClock()
    a, b = SnowflakeIds(clock, node=1), SnowflakeIds(clock, node=2)
    assert {a.next_id() for _ in range(100)}.isdisjoint({b.next_id() for _ in range(100)})
    with pytest.raises(ValueError, match="node"):
        SnowflakeIds(clock, node=1024)


@pytest.mark.parametrize("text", ["", "-1", "abc", "1e5", "١٢٣", str(MAX_ID + 1), "9" * 25])
def test_parse_id_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_id(text, "session")


def test_parse_id_accepts() -> None:
    assert parse_id(str(MAX_ID)) == MAX_ID
