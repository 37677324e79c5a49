"""Control events: which payloads on a user topic change topics, and which topics they may name."""

from __future__ import annotations

import json

import pytest

from palaver.adapters.gateway.control import MAX_CONTROL_TOPICS, TopicChange, TopicControl, check_prefixes

CONTROL = TopicControl(("channel:", "roulette:"))


def event(name: str, data: object, **extra: object) -> bytes:
    return json.dumps({"type": "event", "topic": "user:1", "event": name, "data": data, **extra}).encode()


def test_join_and_leave() -> None:
    assert CONTROL.parse(event("gateway.join", {"topics": ["channel:5"]})) == TopicChange(True, ("channel:5",))
    assert CONTROL.parse(event("gateway.leave", {"topics": ["channel:5", "roulette:x"]})) == TopicChange(
        False, ("channel:5", "roulette:x")
    )


def test_compact_encoding_and_duplicates() -> None:
    payload = b'{"type":"event","topic":"user:1","event":"gateway.join","data":{"topics":["channel:1","channel:1"]}}'
    assert CONTROL.parse(payload) == TopicChange(True, ("channel:1",))


@pytest.mark.parametrize(
    "payload",
    [
        event("update", {"text": "nothing to see"}),
        event("update", {"text": 'say "gateway.join" and "gateway.leave"'}),  # the needle, but not the event
        event("gateway.other", {"topics": ["channel:5"]}),
        b'not json "gateway.join"',
        b'["gateway.join"]',
    ],
)
def test_ordinary_payloads_are_not_control_events(payload: bytes) -> None:
    assert CONTROL.parse(payload) is None


def test_topics_outside_the_allow_list_are_dropped() -> None:
    topics = ["user:2", "session:3", "channel:7", "chan", "x" * 300, "channel:" + "9" * 300]
    assert CONTROL.parse(event("gateway.join", {"topics": topics})) == TopicChange(True, ("channel:7",))


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"topics": "channel:5"},
        {"topics": [5]},
        None,
        {"topics": ["channel:1"] * (MAX_CONTROL_TOPICS + 1)},
    ],
)
def test_malformed_control_events_are_consumed_and_change_nothing(data: object) -> None:
    assert CONTROL.parse(event("gateway.leave", data)) == TopicChange(False, ())


def test_without_prefixes_nothing_is_joinable() -> None:
    assert TopicControl().parse(event("gateway.join", {"topics": ["channel:5"]})) == TopicChange(True, ())


@pytest.mark.parametrize("prefix", ["", "u", "user:", "user:1", "session:", "s", "sess"])
def test_prefixes_that_reach_private_topics_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="joinable"):
        check_prefixes((prefix,))
    with pytest.raises(ValueError, match="joinable"):
        TopicControl(("channel:", prefix))


def test_harmless_prefixes_are_accepted() -> None:
    assert check_prefixes(("channel:", "roulette:")) == ("channel:", "roulette:")
