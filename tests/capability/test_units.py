"""Units at the user boundary: every accepted spelling, every refused one, and the message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import (
    CapabilityError,
    UnitError,
    describe_size,
    format_bandwidth,
    format_size,
    parse_bandwidth,
    parse_clock,
    parse_count,
    parse_size,
)
from nunet.errors import NunetError

KIB, MIB, GIB, TIB = 1 << 10, 1 << 20, 1 << 30, 1 << 40


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4GiB", 4 * GIB),
        ("512MiB", 512 * MIB),
        ("1.5TiB", 3 * TIB // 2),
        ("1.5KiB", 1536),
        ("4 GiB", 4 * GIB),
        (" 8gIB ", 8 * GIB),  # the prefix may be any case; the final B must be a capital
        ("4GB", 4 * 10**9),
        ("1.5TB", 15 * 10**11),
        ("1kB", 1000),
        ("1KB", 1000),
        ("10B", 10),
        ("1048576", 1 << 20),
        (1048576, 1 << 20),
        (0, 0),
        ("0", 0),
        (2.0, 2),
        (".5KiB", 512),
        ("2PiB", 2 << 50),
    ],
)
def test_sizes_in_unambiguous_units_become_bytes(text: object, size: int | None) -> None:
    if size is None:
        with pytest.raises(UnitError, match="bandwidth unit"):
            parse_size(text, "ram")
    else:
        assert parse_size(text, "ram") == size


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("4G", "use a unit like 4GiB"),
        ("24 G", "use a unit like 24GiB"),
        ("512M", "use a unit like 512MiB"),
        ("4Gb", "that is a bandwidth unit (bits)"),
        ("4gb", "that is a bandwidth unit (bits)"),
        ("100Mbit/s", "that is a bandwidth unit (bits)"),
        ("1Gbps", "that is a bandwidth unit (bits)"),
        ("4 gigabytes", "is not a size"),
        ("four", "is not a size"),
        ("", "is not a size"),
        ("-4GiB", "is not a size"),
        (-4, "negative"),
        (float("nan"), "is not a size"),
        (float("inf"), "is not a size"),
        (True, "is not a size"),
        (None, "is not a size"),
        ([4], "is not a size"),
        ("1.5B", "whole number"),
        ("0.3B", "whole number"),
        ("99999PiB", "too large"),
    ],
)
def test_a_bad_size_names_the_field_and_the_fix(text: object, says: str) -> None:
    with pytest.raises(UnitError) as caught:
        parse_size(text, "requirement.gpus[1].vram")
    message = str(caught.value)
    assert message.startswith("requirement.gpus[1].vram: ")
    assert says in message


def test_unit_errors_are_capability_errors_and_value_errors() -> None:
    with pytest.raises(UnitError) as caught:
        parse_size("4G", "ram")
    assert isinstance(caught.value, CapabilityError)
    assert isinstance(caught.value, NunetError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("100Mbit/s", 10**8),
        ("1Gbit/s", 10**9),
        ("1Gbps", 10**9),
        ("2.5Gbit/s", 25 * 10**8),
        ("10kbit/s", 10**4),
        ("1Tbps", 10**12),
        ("300bit/s", 300),
        ("300", 300),
        (300, 300),
        ("100 mbps", 10**8),
    ],
)
def test_bandwidths_become_bits_per_second(text: object, bits: int) -> None:
    assert parse_bandwidth(text, "bandwidth") == bits


@pytest.mark.parametrize("text", ["100MB/s", "1G", "fast", "1Gbit", "-1", "1Gbit/h"])
def test_a_bad_bandwidth_names_the_field(text: str) -> None:
    with pytest.raises(UnitError, match=r"^network\.bandwidth: .*bandwidth"):
        parse_bandwidth(text, "network.bandwidth")


@pytest.mark.parametrize(
    ("text", "mhz"), [("3.2GHz", 3200), ("2400MHz", 2400), ("2400", 2400), (1800, 1800)]
)
def test_clocks_become_mhz(text: object, mhz: int) -> None:
    assert parse_clock(text, "clock") == mhz


@pytest.mark.parametrize("text", ["3.2G", "3.2 GHZZ", "fast", "3.2Gbit/s"])
def test_a_bad_clock_names_the_field(text: str) -> None:
    with pytest.raises(UnitError, match=r"^cpu\.clock_mhz: "):
        parse_clock(text, "cpu.clock_mhz")


@pytest.mark.parametrize(("text", "count"), [("0.5", 0.5), (2, 2.0), ("8", 8.0), (1.5, 1.5)])
def test_counts_may_be_fractional(text: object, count: float) -> None:
    assert parse_count(text, "cpu") == count


@pytest.mark.parametrize("text", ["-1", "x", True, None, "inf", "nan", [1]])
def test_a_bad_count_names_the_field(text: object) -> None:
    with pytest.raises(UnitError, match=r"^requirement\.cpu: "):
        parse_count(text, "requirement.cpu")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (4 * GIB, "4GiB"),
        (1536, "1.5KiB"),
        (1000, "1000B"),
        (0, "0B"),
        (512 * MIB, "512MiB"),
        (3 * TIB // 2, "1.5TiB"),
        (KIB + 1, "1025B"),
    ],
)
def test_sizes_format_as_their_shortest_exact_binary_spelling(size: int, text: str) -> None:
    assert format_size(size) == text


@given(st.integers(0, 1 << 60))
def test_every_formatted_size_parses_back_to_the_same_bytes(size: int) -> None:
    assert parse_size(format_size(size), "size") == size


@given(st.integers(0, 10**15))
def test_a_formatted_bandwidth_parses_back_within_one_percent(bits: int) -> None:
    back = parse_bandwidth(format_bandwidth(bits), "bandwidth")
    assert abs(back - bits) <= bits / 100


@pytest.mark.parametrize(
    ("size", "described"),
    [
        (24684096 * 1024, "~23.5GiB"),  # a machine's RAM as /proc/meminfo counts it
        (256 << 20, "256MiB"),  # exact sizes read as format_size writes them
        (1536, "1.5KiB"),
        (999, "999B"),
        (3 << 40, "3TiB"),
    ],
)
def test_sizes_are_described_for_people_exactly_when_exact_and_marked_when_rounded(
    size: int, described: str
) -> None:
    assert describe_size(size) == described
