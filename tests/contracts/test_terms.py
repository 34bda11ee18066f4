"""Terms, usage and money: charges in whole micro-units that only grow with usage."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import (
    MICRO,
    ContractTerms,
    Metered,
    Rates,
    charge,
    format_amount,
    to_micro,
)
from nunet.contracts.amount import MAX_AMOUNT

HOUR_MS = 3_600_000
GIB_MIB = 1024

rates = st.builds(
    Rates,
    cpu=st.floats(0, 1e6),
    ram=st.floats(0, 1e6),
    disk=st.floats(0, 1e6),
    gpu=st.floats(0, 1e6),
    wall=st.floats(0, 1e6),
    per_job=st.floats(0, 1e6),
)
quantity = st.integers(0, 10**12)
usages = st.builds(
    Metered,
    cpu_ms=quantity,
    wall_ms=quantity,
    gpu_ms=quantity,
    ram_mib_ms=quantity,
    disk_mib_ms=quantity,
    runs=st.integers(0, 10**4),
)


# -- charge ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "used"),
    [
        (Rates(cpu=1.0), Metered(cpu_ms=HOUR_MS)),
        (Rates(wall=1.0), Metered(wall_ms=HOUR_MS)),
        (Rates(gpu=1.0), Metered(gpu_ms=HOUR_MS)),
        (Rates(ram=1.0), Metered(ram_mib_ms=GIB_MIB * HOUR_MS)),
        (Rates(disk=1.0), Metered(disk_mib_ms=GIB_MIB * HOUR_MS)),
        (Rates(per_job=1.0), Metered(runs=1)),
    ],
)
def test_one_unit_of_each_resource_at_one_per_hour_costs_one(rate: Rates, used: Metered) -> None:
    assert charge(rate, used) == MICRO


def test_the_charge_sums_every_resource() -> None:
    every = Rates(cpu=1.0, wall=2.0, gpu=3.0, ram=4.0, disk=5.0, per_job=0.5)
    used = Metered(
        cpu_ms=HOUR_MS,
        wall_ms=HOUR_MS,
        gpu_ms=HOUR_MS,
        ram_mib_ms=GIB_MIB * HOUR_MS,
        disk_mib_ms=GIB_MIB * HOUR_MS,
        runs=2,
    )
    assert charge(every, used) == (1 + 2 + 3 + 4 + 5 + 2 * 0.5) * MICRO


def test_a_charge_is_rounded_down_to_a_whole_micro_unit() -> None:
    # One CPU-millisecond at 1 per hour is 0.28 micro-units: nothing yet.
    assert charge(Rates(cpu=1.0), Metered(cpu_ms=1)) == 0
    assert charge(Rates(cpu=1.0), Metered(cpu_ms=7)) == 1  # 1.94


def test_per_job_is_charged_once_per_run_whatever_the_time() -> None:
    job = Rates(per_job=0.25)
    assert charge(job, Metered(wall_ms=HOUR_MS)) == 0
    assert charge(job, Metered(runs=3)) == 750_000
    assert charge(job, Metered(runs=3, wall_ms=HOUR_MS, cpu_ms=HOUR_MS)) == 750_000


def test_nothing_used_costs_nothing() -> None:
    assert charge(Rates(cpu=9.0, per_job=9.0), Metered()) == 0


@settings(max_examples=300, deadline=None)
@given(rates, usages, usages)
def test_a_charge_is_a_whole_number_that_never_falls_as_usage_grows(
    rate: Rates, used: Metered, more: Metered
) -> None:
    before, after = charge(rate, used), charge(rate, used + more)
    assert isinstance(before, int)
    assert 0 <= before <= after


@settings(max_examples=100, deadline=None)
@given(rates, usages)
def test_both_parties_compute_the_same_charge_from_the_same_encoded_usage(
    rate: Rates, used: Metered
) -> None:
    wire = msgspec.msgpack.encode((rate, used))
    their_rates, their_usage = msgspec.msgpack.decode(wire, type=tuple[Rates, Metered])
    assert charge(their_rates, their_usage) == charge(rate, used)


# -- rates -------------------------------------------------------------------------------------
def test_rates_below_a_floor_name_each_resource_under_it() -> None:
    offered = Rates(cpu=0.1, ram=2.0, gpu=0.5, per_job=0.0)
    floor = Rates(cpu=0.5, ram=1.0, gpu=0.5, per_job=0.01)
    assert offered.below(floor) == ["cpu 0.1 < 0.5", "per_job 0 < 0.01"]


@given(rates)
def test_rates_are_never_below_themselves_or_a_zero_floor(rate: Rates) -> None:
    assert rate.below(rate) == []
    assert rate.below(Rates()) == []


# -- usage -------------------------------------------------------------------------------------
def test_usage_adds_quantity_by_quantity() -> None:
    one = Metered(cpu_ms=1, wall_ms=2, gpu_ms=3, ram_mib_ms=4, disk_mib_ms=5, runs=6)
    two = Metered(cpu_ms=10, wall_ms=20, gpu_ms=30, ram_mib_ms=40, disk_mib_ms=50, runs=60)
    assert one + two == Metered(
        cpu_ms=11, wall_ms=22, gpu_ms=33, ram_mib_ms=44, disk_mib_ms=55, runs=66
    )


@pytest.mark.parametrize("field", Metered.__struct_fields__)
def test_usage_lower_in_any_one_quantity_does_not_cover(field: str) -> None:
    base = Metered(cpu_ms=5, wall_ms=5, gpu_ms=5, ram_mib_ms=5, disk_mib_ms=5, runs=5)
    lower = msgspec.structs.replace(base, **{field: 4})
    assert base.covers(lower)
    assert not lower.covers(base)


@given(usages, usages)
def test_usage_plus_more_covers_the_usage_and_covering_both_ways_is_equality(
    used: Metered, more: Metered
) -> None:
    assert (used + more).covers(used)
    assert used.covers(used)
    if used.covers(more) and more.covers(used):
        assert used == more


# -- terms -------------------------------------------------------------------------------------
TERMS_FIELDS = {
    "contract_id": "c" * 32,
    "channel": "d" * 32,
    "requester": "did:key:r",
    "provider": "did:key:p",
    "deployment": "dep",
    "node": "node-1",
    "proposed_at": 0.0,
}


def test_terms_decode_with_their_defaults() -> None:
    terms = msgspec.json.decode(msgspec.json.encode(TERMS_FIELDS), type=ContractTerms)
    assert (terms.currency, terms.budget, terms.rates) == ("NTX", None, Rates())


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("contract_id", "C" * 32, "$.contract_id"),
        ("channel", "d" * 31, "$.channel"),
        ("currency", "ntx", "$.currency"),
        ("budget", -1, "$.budget"),
        ("payment_interval", 0.5, "$.payment_interval"),
        ("rates", {"cpu": -1.0}, "$.rates.cpu"),
        ("reserved", {"allocations": 0}, "$.reserved.allocations"),
        ("deployment", "Bad Name", "$.deployment"),
        ("surprise", 1, "surprise"),
    ],
)
def test_terms_out_of_bounds_do_not_decode_naming_the_field(
    field: str, value: object, path: str
) -> None:
    wire = msgspec.json.encode({**TERMS_FIELDS, field: value})
    with pytest.raises(msgspec.ValidationError, match=path.replace("$", r"\$")):
        msgspec.json.decode(wire, type=ContractTerms)


# -- amounts -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "micro"),
    [
        ("1", MICRO),
        ("1.5", 1_500_000),
        (0.1, 100_000),
        (Decimal("0.000001"), 1),
        ("0.0000005", 0),  # half to even
        ("0.0000015", 2),
        ("0", 0),
    ],
)
def test_an_amount_in_units_becomes_whole_micro_units(
    value: float | str | Decimal, micro: int
) -> None:
    assert to_micro(value) == micro


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("abc", "is not an amount"),
        ("", "is not an amount"),
        ("-1", "is not an amount"),
        (-0.5, "is not an amount"),
        ("nan", "is not an amount"),
        (float("inf"), "is not an amount"),
        (Decimal("-Infinity"), "is not an amount"),
        ("1e30", "is too large an amount"),
    ],
)
def test_an_amount_that_is_not_one_is_refused_naming_it(
    value: float | str | Decimal, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        to_micro(value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("micro", "currency", "text"),
    [
        (0, "", "0.000000"),
        (1, "", "0.000001"),
        (1_234_567, "NTX", "1.234567 NTX"),
        (-1_500_000, "", "-1.500000"),
    ],
)
def test_an_amount_is_shown_with_six_places(micro: int, currency: str, text: str) -> None:
    assert format_amount(micro, currency) == text


@given(st.integers(0, MAX_AMOUNT))
def test_a_shown_amount_reads_back_as_itself(micro: int) -> None:
    assert to_micro(format_amount(micro)) == micro
