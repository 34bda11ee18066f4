"""The work-not-done check: every rule on its own, the amount accepted, and honest notes pass."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import ContractTerms, DebitNote, Metered, Rates, Reserved, charge
from nunet.contracts.metering import MIB, Meter
from nunet.contracts.plausibility import Observed, implausible

GIB = 1024 * MIB
RESERVED = Reserved(cpu=2.0, ram=GIB, disk=2 * GIB, gpus=1)
TERMS = ContractTerms(
    contract_id="c" * 32,
    channel="d" * 32,
    requester="did:key:requester",
    provider="did:key:provider",
    deployment="dep",
    node="node-1",
    rates=Rates(cpu=1.0, ram=0.5, disk=0.1, gpu=2.0, wall=0.3, per_job=0.01),
    reserved=RESERVED,
    proposed_at=0.0,
)
START = 1000.0


def metered(wall_s: float, cpu_s: float, runs: int = 1) -> Metered:
    """What an honest meter says of `runs` equal runs lasting `wall_s` in all."""
    meter = Meter(RESERVED)
    for run in range(1, runs + 1):
        meter.observe("a", run, cpu_s / runs, wall_s / runs)
    return meter.metered()


def note_for(usage: Metered, amount: int | None = None, seq: int = 1) -> DebitNote:
    return DebitNote(
        contract_id=TERMS.contract_id,
        channel=TERMS.channel,
        seq=seq,
        usage=usage,
        amount=charge(TERMS.rates, usage) if amount is None else amount,
        issued_at=START,
    )


def running(runs: int = 1, **fields: float) -> Observed:
    return Observed(activated_at=START, runs=runs, **fields)


def bounded(usage: Metered, **fields: int) -> int:
    """The charge of `usage` with the named quantities replaced (what is accepted)."""
    return charge(TERMS.rates, msgspec.structs.replace(usage, **fields))


def test_an_honest_note_is_plausible() -> None:
    usage = metered(wall_s=60, cpu_s=100)
    assert implausible(TERMS, note_for(usage), running(), now=START + 60) is None


def test_a_note_for_work_that_never_ran_is_disputed_and_nothing_accepted() -> None:
    verdict = implausible(TERMS, note_for(metered(60, 10)), Observed(), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert "for work that never ran" in reason
    assert reason.startswith("debit note 1: ")
    assert accepted == 0


def test_a_note_that_charges_nothing_is_never_disputed() -> None:
    note = note_for(metered(60, 500, runs=3), amount=0)
    assert implausible(TERMS, note, Observed(), now=START) is None


def test_wall_time_longer_than_the_work_has_run_is_disputed() -> None:
    usage = metered(wall_s=100, cpu_s=10)
    verdict = implausible(TERMS, note_for(usage), running(), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert "wall_ms 100000 > 65000" in reason
    # The quantities derived from the wall time are consistent with it: not named.
    assert "cpu_ms" not in reason
    assert "gpu_ms" not in reason
    wall = 65000
    assert accepted == bounded(
        usage, wall_ms=wall, gpu_ms=wall, ram_mib_ms=1024 * wall, disk_mib_ms=2048 * wall
    )


def test_wall_time_within_the_slack_is_plausible() -> None:
    usage = metered(wall_s=64.9, cpu_s=10)
    assert implausible(TERMS, note_for(usage), running(), now=START + 60) is None


def test_wall_time_is_bounded_by_when_the_work_ended_not_by_now() -> None:
    usage = metered(wall_s=60, cpu_s=10)
    ended = Observed(activated_at=START, ended_at=START + 30, runs=1, cpu_seconds=10)
    verdict = implausible(TERMS, note_for(usage), ended, now=START + 3600)
    assert verdict is not None
    assert "wall_ms 60000 > 35000" in verdict[0]


def test_cpu_time_beyond_the_reserved_cores_is_disputed() -> None:
    usage = metered(wall_s=60, cpu_s=200)
    verdict = implausible(TERMS, note_for(usage), running(), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert "cpu_ms 200000 > 131000" in reason  # 2 cores x 60 s x 1.05 + 5 s
    assert accepted == bounded(usage, cpu_ms=131000)


def test_cpu_time_beyond_what_the_providers_reports_said_is_disputed_once_the_work_ended() -> None:
    usage = metered(wall_s=60, cpu_s=100)
    ended = Observed(activated_at=START, ended_at=START + 60, runs=1, cpu_seconds=50)
    verdict = implausible(TERMS, note_for(usage), ended, now=START + 61)
    assert verdict is not None
    reason, accepted = verdict
    assert "cpu_ms 100000 > 57500: the provider's allocations reported 50000 ms" in reason
    assert accepted == bounded(usage, cpu_ms=57500)


def test_cpu_time_ahead_of_the_reports_is_not_disputed_while_the_work_runs() -> None:
    # Usage reports come with an allocation's results: while it runs they lag behind.
    usage = metered(wall_s=60, cpu_s=100)
    verdict = implausible(TERMS, note_for(usage), running(cpu_seconds=0), now=START + 60)
    assert verdict is None


@pytest.mark.parametrize(
    ("field", "per_ms"), [("gpu_ms", 1), ("ram_mib_ms", 1024), ("disk_mib_ms", 2048)]
)
def test_more_than_the_reservation_for_the_wall_time_is_disputed(field: str, per_ms: int) -> None:
    usage = metered(wall_s=60, cpu_s=10)
    claim = msgspec.structs.replace(usage, **{field: 2 * per_ms * 60000})
    verdict = implausible(TERMS, note_for(claim), running(), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert f"{field} {2 * per_ms * 60000} > {per_ms * 60000}" in reason
    assert accepted == charge(TERMS.rates, usage)


def test_more_runs_than_the_requester_saw_start_is_disputed() -> None:
    usage = metered(wall_s=60, cpu_s=10, runs=3)
    verdict = implausible(TERMS, note_for(usage), running(runs=2), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert "runs 3 > 2" in reason
    assert accepted == bounded(usage, runs=2)


def test_a_claim_over_a_bound_that_costs_nothing_more_is_not_disputed() -> None:
    # One MiB-millisecond more than reserved is worth less than a micro-unit.
    usage = metered(wall_s=60, cpu_s=10)
    claim = msgspec.structs.replace(usage, ram_mib_ms=usage.ram_mib_ms + 1)
    assert charge(TERMS.rates, claim) == charge(TERMS.rates, usage)
    assert implausible(TERMS, note_for(claim), running(), now=START + 60) is None


def test_an_amount_above_what_the_usage_costs_is_disputed() -> None:
    usage = metered(wall_s=60, cpu_s=10)
    cost = charge(TERMS.rates, usage)
    verdict = implausible(TERMS, note_for(usage, amount=cost + 1), running(), now=START + 60)
    assert verdict is not None
    reason, accepted = verdict
    assert "what its usage costs at the contract's rates" in reason
    assert accepted == cost


def test_every_broken_rule_is_named_in_one_bounded_reason() -> None:
    claim = Metered(
        cpu_ms=10**12, wall_ms=10**9, gpu_ms=10**12, ram_mib_ms=10**15, disk_mib_ms=10**15, runs=9
    )
    verdict = implausible(TERMS, note_for(claim, amount=10**15), running(), now=START + 1)
    assert verdict is not None
    reason, accepted = verdict
    for quantity in ("wall_ms", "cpu_ms", "gpu_ms", "ram_mib_ms", "disk_mib_ms", "runs", "amount"):
        assert quantity in reason
    assert len(reason) <= 1024
    assert accepted == bounded(
        claim, cpu_ms=int(2 * 6000 * 1.05 + 5000), wall_ms=6000, gpu_ms=6000,
        ram_mib_ms=1024 * 6000, disk_mib_ms=2048 * 6000, runs=1,
    )  # fmt: skip


# -- properties --------------------------------------------------------------------------------
claims = st.builds(
    Metered,
    cpu_ms=st.integers(0, 10**9),
    wall_ms=st.integers(0, 10**9),
    gpu_ms=st.integers(0, 10**9),
    ram_mib_ms=st.integers(0, 10**12),
    disk_mib_ms=st.integers(0, 10**12),
    runs=st.integers(0, 20),
)
seen = st.builds(
    Observed,
    activated_at=st.none() | st.floats(0, 2 * START),
    ended_at=st.none() | st.floats(0, 3 * START),
    runs=st.integers(0, 20),
    cpu_seconds=st.floats(0, 1e6),
    wall_seconds=st.floats(0, 1e6),
)


@settings(max_examples=300, deadline=None)
@given(claims, st.integers(0, 10**12), seen, st.floats(0, 3 * START))
def test_the_accepted_amount_is_never_above_the_note_and_a_dispute_always_has_a_reason(
    claim: Metered, amount: int, observed: Observed, now: float
) -> None:
    verdict = implausible(TERMS, note_for(claim, amount=amount), observed, now)
    if verdict is not None:
        reason, accepted = verdict
        assert 0 <= accepted <= amount
        assert reason
        assert len(reason) <= 1024


# An allocation's runs: (cpu share of its reserved cores in [0, 1], wall seconds) per run.
allocation_runs = st.lists(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 3600)), min_size=1, max_size=3),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(allocation_runs, st.booleans(), st.floats(0, 30))
def test_a_note_from_an_honest_meter_is_always_plausible(
    allocations: list[list[tuple[float, float]]], ended: bool, heard_late: float
) -> None:
    # The reserved cores are shared by the allocations; each uses at most its share.
    share = RESERVED.cpu / len(allocations)
    meter = Meter(RESERVED)
    cpu_seconds = 0.0
    for index, runs in enumerate(allocations):
        for run, (load, wall) in enumerate(runs, start=1):
            meter.observe(f"alloc-{index}", run, load * share * wall, wall)
            cpu_seconds += load * share * wall
    usage = meter.metered()
    longest = max(sum(wall for _, wall in runs) for runs in allocations)
    # The requester hears of the start up to a few seconds late (within the slack).
    activated = START + min(heard_late, 4.9)
    end = START + longest
    observed = Observed(
        activated_at=activated,
        ended_at=end if ended else None,
        runs=usage.runs,
        cpu_seconds=cpu_seconds if ended else 0.0,
    )
    assert implausible(TERMS, note_for(usage), observed, now=end) is None
