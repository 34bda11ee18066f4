"""The unit rules: other systems' numbers become the ensemble's unit texts exactly."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability.units import parse_size
from nunet.ensemble import parse_duration
from nunet.translate import TranslateError
from nunet.translate.quantities import (
    cpu_count,
    docker_bytes,
    duration_text,
    go_duration,
    k8s_bytes,
    k8s_cpu,
    k8s_quantity,
    nanoseconds,
    nomad_cores,
    nomad_mib,
    size_text,
)


@pytest.mark.parametrize(
    ("text", "cores"),
    [("500m", 0.5), ("250m", 0.25), ("2", 2.0), ("0.1", 0.1), (1, 1.0), (1.5, 1.5), ("1k", 1000.0)],
)
def test_kubernetes_cpu_quantities_are_cores(text: object, cores: float) -> None:
    assert k8s_cpu(text, "cpu") == cores


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128Mi", 128 << 20),
        ("1Gi", 1 << 30),
        ("1G", 10**9),
        ("500M", 500 * 10**6),
        ("1e3", 1000),
        ("1.5Ki", 1536),
        ("100", 100),
        ("129m", 1),  # a fraction of a byte rounds up
        (4096, 4096),
    ],
)
def test_kubernetes_memory_quantities_are_bytes(text: object, size: int) -> None:
    assert k8s_bytes(text, "memory") == size


@pytest.mark.parametrize("bad", ["12 Mi", "1Zi", "-1", "lots", True, None, [1]])
def test_a_bad_kubernetes_quantity_names_its_path(bad: object) -> None:
    with pytest.raises(TranslateError, match=r"^limits\.memory: "):
        k8s_quantity(bad, "limits.memory")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 << 20),
        ("1g", 1 << 30),
        ("1G", 1 << 30),
        ("2gb", 2 << 30),
        ("1.5g", 3 << 29),
        ("1024k", 1 << 20),
        ("100b", 100),
        ("100", 100),
        (2048, 2048),
        ("1GiB", 1 << 30),
    ],
)
def test_docker_sizes_are_powers_of_1024(text: object, size: int) -> None:
    assert docker_bytes(text, "memory") == size


@pytest.mark.parametrize("bad", ["1x", "m", "-5m", 1.5, True])
def test_a_bad_docker_size_is_refused(bad: object) -> None:
    with pytest.raises(TranslateError, match=r"^deploy\.memory: .*512m"):
        docker_bytes(bad, "deploy.memory")


def test_compose_cpus_are_a_plain_count() -> None:
    assert cpu_count("0.5", "cpus") == 0.5
    assert cpu_count(2, "cpus") == 2.0
    with pytest.raises(TranslateError, match="cpus"):
        cpu_count("half", "cpus")


def test_nomad_units_are_1000_mhz_per_core_and_mb_as_mib() -> None:
    assert nomad_cores(500) == 0.5
    assert nomad_cores(2000) == 2.0
    assert nomad_mib(256) == 256 << 20


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("1m30s", 90),
        ("250ms", Fraction(1, 4)),
        ("1h", 3600),
        ("2h45m", 9900),
        ("1.5s", Fraction(3, 2)),
        ("0", 0),
        ("100us", Fraction(1, 10000)),
    ],
)
def test_go_durations_are_exact_seconds(text: str, seconds: Fraction) -> None:
    assert go_duration(text, "interval") == seconds


@pytest.mark.parametrize("bad", ["30", "1d", "s", "1m 30s", "", 30])
def test_a_bad_go_duration_is_refused(bad: object) -> None:
    with pytest.raises(TranslateError, match=r"^healthcheck\.interval: "):
        go_duration(bad, "healthcheck.interval")


def test_nomad_api_durations_are_nanoseconds() -> None:
    assert nanoseconds(15_000_000_000, "Delay") == 15
    with pytest.raises(TranslateError, match="Delay"):
        nanoseconds("15s", "Delay")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (30, "30s"),
        (90, "90s"),
        (120, "2m"),
        (3600, "1h"),
        (Fraction(1, 4), "250ms"),
        (Fraction(1, 10000), "1ms"),
    ],
)
def test_durations_are_written_as_the_ensemble_reads_them(seconds: Fraction, text: str) -> None:
    assert duration_text(seconds) == text


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=999))
def test_written_durations_read_back_to_the_same_seconds(whole: int, millis: int) -> None:
    seconds = Fraction(whole) + Fraction(millis, 1000)
    assert parse_duration(duration_text(seconds), "d") == pytest.approx(float(seconds))


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (128 << 20, "128MiB"),
        (10**9, "1GB"),
        (1536, 1536),
        (1 << 30, "1GiB"),
        (1000, "1KB"),
        (3 << 29, "1536MiB"),
    ],
)
def test_sizes_take_the_largest_exact_unit(size: int, text: object) -> None:
    assert size_text(size) == text


@given(st.integers(min_value=1, max_value=1 << 62))
def test_written_sizes_read_back_to_the_same_bytes(size: int) -> None:
    assert parse_size(size_text(size), "ram") == size
