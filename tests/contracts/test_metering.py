"""The meter: executor usage per allocation and run as the contract's cumulative usage."""

from __future__ import annotations

import math
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import ContractError, Metered, Reserved
from nunet.contracts.metering import MAX_RUN_SECONDS, MIB, Meter, MeterState

GIB = 1024 * MIB
RESERVED = Reserved(cpu=2.0, ram=3 * GIB + MIB // 2, disk=10 * GIB, gpus=2)


def test_a_meter_that_saw_nothing_meters_nothing() -> None:
    assert Meter(RESERVED).metered() == Metered()


def test_one_run_is_metered_in_whole_milliseconds_rounded_down() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 1, cpu_seconds=1.2345, wall_seconds=2.0009)
    assert meter.metered() == Metered(
        cpu_ms=1234,
        wall_ms=2000,
        gpu_ms=2 * 2000,
        ram_mib_ms=3 * 1024 * 2000,  # whole MiB reserved: the half MiB is not charged
        disk_mib_ms=10 * 1024 * 2000,
        runs=1,
    )


def test_within_a_run_a_smaller_late_sample_changes_nothing() -> None:
    meter = Meter(RESERVED)
    assert meter.observe("a", 1, cpu_seconds=5.0, wall_seconds=10.0)
    assert not meter.observe("a", 1, cpu_seconds=4.0, wall_seconds=9.0)
    assert meter.metered().cpu_ms == 5000
    assert meter.metered().wall_ms == 10000


def test_within_a_run_each_quantity_keeps_its_largest_sample() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 1, cpu_seconds=5.0, wall_seconds=1.0)
    assert meter.observe("a", 1, cpu_seconds=1.0, wall_seconds=8.0)
    assert (meter.metered().cpu_ms, meter.metered().wall_ms) == (5000, 8000)


def test_a_restart_adds_the_new_runs_usage_to_the_old_ones() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 1, cpu_seconds=3.0, wall_seconds=4.0)
    meter.observe("a", 2, cpu_seconds=1.0, wall_seconds=2.0)  # restarted at zero
    usage = meter.metered()
    assert (usage.cpu_ms, usage.wall_ms, usage.runs) == (4000, 6000, 2)


def test_a_late_report_of_an_earlier_run_is_ignored() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 1, cpu_seconds=3.0, wall_seconds=4.0)
    meter.observe("a", 2, cpu_seconds=1.0, wall_seconds=2.0)
    assert not meter.observe("a", 1, cpu_seconds=9.0, wall_seconds=9.0)
    assert meter.metered().cpu_ms == 4000


def test_a_run_first_heard_of_after_a_later_one_is_ignored() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 3, cpu_seconds=1.0, wall_seconds=1.0)
    assert not meter.observe("a", 2, cpu_seconds=1.0, wall_seconds=1.0)
    assert meter.metered().runs == 1


def test_run_zero_is_work_not_started_and_is_ignored() -> None:
    meter = Meter(RESERVED)
    assert not meter.observe("a", 0, cpu_seconds=1.0, wall_seconds=1.0)
    assert meter.metered() == Metered()


def test_cpu_is_summed_over_allocations_and_wall_is_the_longest_allocation() -> None:
    meter = Meter(RESERVED)
    meter.observe("a", 1, cpu_seconds=1.0, wall_seconds=10.0)
    meter.observe("b", 1, cpu_seconds=2.0, wall_seconds=4.0)
    meter.observe("b", 2, cpu_seconds=3.0, wall_seconds=7.0)  # b: 11 s over two runs
    usage = meter.metered()
    assert usage.cpu_ms == 6000
    assert usage.wall_ms == 11000
    assert usage.gpu_ms == 2 * 11000
    assert usage.runs == 3


def test_a_reservation_of_nothing_charges_nothing_but_cpu_and_wall() -> None:
    meter = Meter(Reserved())
    meter.observe("a", 1, cpu_seconds=1.0, wall_seconds=1.0)
    assert meter.metered() == Metered(cpu_ms=1000, wall_ms=1000, runs=1)


@pytest.mark.parametrize("field", ["cpu_seconds", "wall_seconds"])
@pytest.mark.parametrize("value", [-0.001, math.nan, math.inf, -math.inf, MAX_RUN_SECONDS * 2])
def test_a_report_that_is_not_a_usage_is_refused_naming_the_field(field: str, value: float) -> None:
    meter = Meter(RESERVED)
    sample = {"cpu_seconds": 1.0, "wall_seconds": 1.0, field: value}
    with pytest.raises(ContractError, match=f"allocation 'a': {field}"):
        meter.observe("a", 1, **sample)
    assert meter.metered() == Metered()


def test_a_negative_run_number_is_refused() -> None:
    with pytest.raises(ContractError, match="run -1 is not a run number"):
        Meter(RESERVED).observe("a", -1, cpu_seconds=1.0, wall_seconds=1.0)


@pytest.mark.parametrize("allocation", ["", "x" * 257])
def test_an_allocation_name_out_of_bounds_is_refused(allocation: str) -> None:
    with pytest.raises(ContractError, match="the name must be 1 to 256 long"):
        Meter(RESERVED).observe(allocation, 1, cpu_seconds=1.0, wall_seconds=1.0)


# -- properties --------------------------------------------------------------------------------
observations = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(min_value=0, max_value=4),
        st.floats(min_value=0, max_value=1e6),
        st.floats(min_value=0, max_value=1e6),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(observations)
def test_metered_never_goes_back_whatever_order_the_reports_come_in(
    seen: list[tuple[str, int, float, float]],
) -> None:
    meter = Meter(RESERVED)
    before = meter.metered()
    for allocation, run, cpu, wall in seen:
        changed = meter.observe(allocation, run, cpu, wall)
        after = meter.metered()
        assert after.covers(before)
        if not changed:
            assert after == before
        before = after


@settings(max_examples=100, deadline=None)
@given(observations, st.randoms(use_true_random=False))
def test_interleaving_the_allocations_reports_does_not_change_the_usage(
    seen: list[tuple[str, int, float, float]], rnd: random.Random
) -> None:
    # Each allocation's own reports keep their order; how the allocations interleave is free.
    by_allocation: dict[str, list[tuple[str, int, float, float]]] = {}
    for report in seen:
        by_allocation.setdefault(report[0], []).append(report)
    queues = list(by_allocation.values())
    shuffled: list[tuple[str, int, float, float]] = []
    while queues:
        queue = rnd.choice(queues)
        shuffled.append(queue.pop(0))
        queues = [q for q in queues if q]
    one, other = Meter(RESERVED), Meter(RESERVED)
    for report in seen:
        one.observe(*report)
    for report in shuffled:
        other.observe(*report)
    assert one.metered() == other.metered()


@settings(max_examples=100, deadline=None)
@given(observations, observations, st.sampled_from(["msgpack", "json"]))
def test_a_restored_meter_goes_on_as_the_saved_one_would(
    first: list[tuple[str, int, float, float]],
    then: list[tuple[str, int, float, float]],
    codec: str,
) -> None:
    meter = Meter(RESERVED)
    for report in first:
        meter.observe(*report)
    if codec == "msgpack":
        state = msgspec.msgpack.decode(msgspec.msgpack.encode(meter.state), type=MeterState)
    else:
        state = msgspec.json.decode(msgspec.json.encode(meter.state), type=MeterState)
    restored = Meter.from_state(RESERVED, state)
    assert restored.metered() == meter.metered()
    assert restored.state == meter.state
    for report in then:
        assert restored.observe(*report) == meter.observe(*report)
    assert restored.metered() == meter.metered()
