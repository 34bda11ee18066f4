"""Durations: the grammar, the refusals with their fix, and exact round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.ensemble import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("0s", 0.0),
        ("1m0.5s", 60.5),
        (" 10s ", 10.0),
        ("1h 30m", 5400.0),
        ("100us", 0.0001),
    ],
)
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text, "f") == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (30, "f: 30 is not a duration; write 30s"),
        (2.5, "f: 2.5 is not a duration; write 2.5s"),
        ("30", "f: 30 is not a duration; write 30s"),
        (
            "5 minutes",
            "f: '5 minutes' is not a duration; write it like 30s, 5m, 1h30m or 250ms (units d, h, m, s, ms, us)",
        ),
        ("-5s", "f: '-5s' is not a duration"),
        (
            "5m1h",
            "f: '5m1h' repeats or misorders its units; write the largest first, each once, like 1h30m",
        ),
        ("1s1s", "f: '1s1s' repeats or misorders its units"),
        (True, "f: True is not a duration"),
        (None, "f: None is not a duration"),
        ("99999d", "f: '99999d' is longer than ten years; use a shorter duration"),
    ],
)
def test_bad_durations_are_refused_with_the_fix(value: object, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(value, "f")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.25, "250ms"),
        (5400.0, "1h30m"),
        (90061.5, "1d1h1m1s500ms"),
        (1.0000001, "1.0000001s"),
    ],
)
def test_durations_are_written_in_the_shortest_usual_spelling(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.floats(min_value=0, max_value=86400 * 3650, allow_nan=False, allow_infinity=False))
def test_any_duration_round_trips_exactly(seconds: float) -> None:
    assert parse_duration(format_duration(seconds), "f") == seconds


def test_negative_seconds_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        format_duration(-1.0)
