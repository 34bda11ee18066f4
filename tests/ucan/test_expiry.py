from __future__ import annotations

import pytest

from nunet.ucan import CapabilityError, parse_expiry

from .conftest import NOW


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1w", 604800)],
)
def test_durations_count_from_now(text: str, seconds: int) -> None:
    assert parse_expiry(text, NOW) == NOW + seconds


def test_iso_times_are_absolute_and_default_to_utc() -> None:
    assert parse_expiry("2023-11-15T00:00:00Z", NOW) == 1_700_006_400
    assert parse_expiry("2023-11-15T00:00:00", NOW) == 1_700_006_400
    assert parse_expiry("2023-11-15T01:00:00+01:00", NOW) == 1_700_006_400


@pytest.mark.parametrize("bad", ["", "soon", "1y", "-1h", "0h", "1 h"])
def test_anything_else_is_an_error_listing_the_accepted_forms(bad: str) -> None:
    with pytest.raises(CapabilityError, match=r"duration|not in the future"):
        parse_expiry(bad, NOW)
