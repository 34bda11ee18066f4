"""Address and topic names: validation and wildcard matching, NATS rules on printable ASCII."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.network import InvalidAddress, InvalidTopic
from nunet.network.subjects import (
    MAX_NAME_LENGTH,
    is_wildcard,
    topic_matches,
    validate_address,
    validate_pattern,
    validate_topic,
)


@pytest.mark.parametrize(
    "address", ["did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "a", "node-1_x"]
)
def test_one_token_is_an_address(address: str) -> None:
    assert validate_address(address) == address


@pytest.mark.parametrize("address", ["", "a.b", "a b", "*", ">", "a*", "\x00", "ü", "x" * 256])
def test_anything_else_is_not_an_address(address: str) -> None:
    with pytest.raises(InvalidAddress):
        validate_address(address)


def test_a_non_string_is_not_an_address() -> None:
    with pytest.raises(InvalidAddress):
        validate_address(b"bytes")  # type: ignore[arg-type]


def test_names_up_to_the_length_limit_are_accepted() -> None:
    assert validate_address("x" * MAX_NAME_LENGTH)
    assert validate_topic("x" * MAX_NAME_LENGTH)
    with pytest.raises(InvalidTopic):
        validate_topic("x" * (MAX_NAME_LENGTH + 1))


@pytest.mark.parametrize("topic", ["a", "a.b.c", "dms.node.did:key:z6Mk", "x-1.y_2"])
def test_literal_topics_are_valid_topics_and_patterns(topic: str) -> None:
    assert validate_topic(topic) == topic
    assert validate_pattern(topic) == topic
    assert not is_wildcard(topic)


@pytest.mark.parametrize("pattern", ["*", ">", "a.*", "a.>", "*.b.>", "*.*"])
def test_wildcards_are_valid_patterns_but_not_topics(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern
    assert is_wildcard(pattern)
    with pytest.raises(InvalidTopic):
        validate_topic(pattern)


@pytest.mark.parametrize(
    "pattern", ["", ".", "a.", ".a", "a..b", "a b", "a.>.b", "> .a", "a*", "a>b"]
)
def test_malformed_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(InvalidTopic):
        validate_pattern(pattern)


MATCHES = [
    ("a", "a", True),
    ("a", "b", False),
    ("a", "a.b", False),
    ("a.b", "a", False),
    ("*", "a", True),
    ("*", "a.b", False),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("*.b", "a.b", True),
    ("*.b", "a.c", False),
    (">", "a", True),
    (">", "a.b.c", True),
    ("a.>", "a", False),
    ("a.>", "a.b", True),
    ("a.>", "a.b.c", True),
    ("a.>", "b.c", False),
    ("*.>", "a", False),
    ("*.>", "a.b", True),
    ("a.*.c.>", "a.x.c.d.e", True),
    ("a.*.c.>", "a.x.y.d", False),
]


@pytest.mark.parametrize(("pattern", "topic", "expected"), MATCHES)
def test_pattern_matching_follows_nats_rules(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


tokens = st.text(alphabet="abc", min_size=1, max_size=2)
topics = st.lists(tokens, min_size=1, max_size=5).map(".".join)


@given(topics)
def test_a_literal_topic_matches_only_itself_and_wildcards_cover_it(topic: str) -> None:
    parts = topic.split(".")
    assert topic_matches(topic, topic)
    assert topic_matches(">", topic)
    assert topic_matches(".".join("*" for _ in parts), topic)
    assert topic_matches(".".join([*parts[:-1], ">"]), topic)


@given(topics, topics)
def test_literal_patterns_match_by_equality(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic) is (pattern == topic)
