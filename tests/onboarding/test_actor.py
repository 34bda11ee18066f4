"""The onboarding actor in a real actor system with a real SQLite log: behaviors, refusals
logged and answered clearly, persistence across restarts, benchmarks beside the mailbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from nunet.actor import RemoteError
from nunet.benchmark import BenchmarkStore
from nunet.capability.model import Location, Price
from nunet.db import SQLiteDocumentStore
from nunet.hardware import HardwareDetectionError
from nunet.hardware.machine import Machine
from nunet.identity import KeyPair
from nunet.onboarding import (
    ALLOCATE_BEHAVIOR,
    BENCHMARK_BEHAVIOR,
    CAPABILITY_BEHAVIOR,
    HARDWARE_BEHAVIOR,
    OFFBOARD_BEHAVIOR,
    ONBOARD_BEHAVIOR,
    RELEASE_BEHAVIOR,
    STATUS_BEHAVIOR,
    Allocated,
    AllocationRefused,
    BenchmarkCompleted,
    CapabilityAnnounced,
    Offboarded,
    Onboarded,
    OnboardingRefused,
    Released,
    Resized,
    offering_of,
)
from tests.onboarding.harness import WAIT, FakeBenchmark, Machines, Onboarding, onboarding_node
from tests.onboarding.machines import GiB, machine
from tests.support.actors import events_of, wait_for_event

SHARE = {
    "cpu": 4,
    "ram": "8GiB",
    "disk": "100GiB",
    "gpus": [1],
    "price": "cpu=0.1,gpu=2,currency=NTX",
    "location": "EU/DE/Berlin",
    "labels": ["tier=gold"],
}


@pytest.fixture
def key() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
async def onboarding(tmp_path: Path, key: KeyPair) -> Any:
    async with onboarding_node(tmp_path / "home", key=key, benchmark_on_onboard=False) as running:
        yield running


async def refused(onboarding: Onboarding, behavior: str, payload: Any) -> RemoteError:
    with pytest.raises(RemoteError) as error:
        await onboarding.ask(behavior, payload)
    return error.value


# -- onboarding ----------------------------------------------------------------------------------
async def test_onboarding_reserves_the_share_logs_it_and_announces_the_capability(
    onboarding: Onboarding,
) -> None:
    status = await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    assert status["onboarded"] is True
    assert status["reservation"]["resources"]["cpu"] == 4
    assert status["reservation"]["resources"]["ram"] == 8 * GiB
    assert [g["index"] for g in status["reservation"]["resources"]["gpus"]] == [1]
    assert status["free"] == status["reservation"]["resources"]
    assert status["machine"]["threads"] == 8
    assert status["executors"] == ["docker"]

    [onboarded] = await events_of(onboarding.node.log, Onboarded)
    assert onboarded.reservation.price == Price(cpu=0.1, gpu=2.0, currency="NTX")
    assert onboarded.reservation.location == Location(continent="EU", country="DE", city="Berlin")
    assert onboarded.reservation.labels == {"tier": "gold"}
    _, announced = await wait_for_event(onboarding.node.log, CapabilityAnnounced, timeout=WAIT)
    assert announced.capability.resources == onboarded.reservation.resources
    assert announced.capability.cpu == machine().cpu
    assert announced.capability.executors == ("docker",)
    assert announced.capability.storage == ("inline", "url", "nunet")
    assert announced.capability.price == onboarded.reservation.price

    answer = await onboarding.ask(CAPABILITY_BEHAVIOR)
    assert answer["capability"]["labels"] == {"tier": "gold"}
    assert answer["free"]["cpu"] == 4
    offered = offering_of(onboarding.node.system)
    assert offered is not None
    assert offered[0] == announced.capability
    assert onboarding.actor.view.onboarded


async def test_onboarding_again_resizes_without_offboarding(onboarding: Onboarding) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    status = await onboarding.ask(ONBOARD_BEHAVIOR, {"cpu": 6, "gpus": "none"})
    assert status["reservation"]["resources"]["cpu"] == 6
    assert status["reservation"]["resources"]["gpus"] == []
    assert status["reservation"]["labels"] == {"tier": "gold"}  # kept: not named
    [resized] = await events_of(onboarding.node.log, Resized)
    assert resized.previous.resources.cpu == 4
    assert len(await events_of(onboarding.node.log, CapabilityAnnounced)) == 2


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        ({**SHARE, "cpu": 9}, "exceeds-machine", "cpu: 9 cores asked but the machine has 8"),
        ({**SHARE, "ram": "16GiB"}, "exceeds-machine", "ram: 16GiB asked"),
        ({**SHARE, "disk": "1TiB"}, "exceeds-machine", "disk: 1TiB asked but only 200GiB"),
        ({**SHARE, "gpus": [3]}, "exceeds-machine", "gpus: the machine has no GPU with index 3"),
        ({**SHARE, "ram": "4G"}, "invalid-request", "ram: '4G' is not a size"),
        ({**SHARE, "cpu": -2}, "invalid-request", "cpu: -2"),
        ({**SHARE, "disk": "-5GiB"}, "invalid-request", "disk: '-5GiB' is not a size"),
        ({**SHARE, "cores": 2}, "invalid-request", "cores: unknown field"),
        ({**SHARE, "price": "cpu=lots"}, "invalid-request", "price.cpu"),
        ({"ram": "1GiB", "disk": "1GiB"}, "invalid-request", "cpu: required when onboarding"),
        ("lots", "invalid-request", "onboard: expected a mapping"),
    ],
)
async def test_bad_onboarding_input_is_refused_clearly_logged_and_changes_nothing(
    onboarding: Onboarding, payload: Any, code: str, words: str
) -> None:
    error = await refused(onboarding, ONBOARD_BEHAVIOR, payload)
    assert error.code == code
    assert words in error.remote_message
    _, logged = await wait_for_event(onboarding.node.log, OnboardingRefused, timeout=WAIT)
    assert (logged.operation, logged.code, logged.reason) == ("onboard", code, error.remote_message)
    status = await onboarding.ask(STATUS_BEHAVIOR)
    assert status["onboarded"] is False
    assert await events_of(onboarding.node.log, Onboarded) == []


async def test_a_refused_resize_keeps_the_reservation(onboarding: Onboarding) -> None:
    before = await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    error = await refused(onboarding, ONBOARD_BEHAVIOR, {"cpu": 100})
    assert error.code == "exceeds-machine"
    assert await onboarding.ask(STATUS_BEHAVIOR) == before


async def test_onboard_checks_the_machine_as_it_is_now(tmp_path: Path, key: KeyPair) -> None:
    machines = Machines(machine())
    async with onboarding_node(tmp_path / "h", key=key, machines=machines) as onboarding:
        machines.current = replace(machines.current, disk_free=10 * GiB)
        error = await refused(onboarding, ONBOARD_BEHAVIOR, SHARE)
        assert "disk: 100GiB asked but only 10GiB is free" in error.remote_message
        hardware = await onboarding.ask(HARDWARE_BEHAVIOR)
        assert hardware["disk_free"] == 10 * GiB
        assert hardware["gpus"][1]["model"] == "RTX 4090"


# -- offboarding ---------------------------------------------------------------------------------
async def test_offboarding_withdraws_the_share(onboarding: Onboarding) -> None:
    not_yet = await refused(onboarding, OFFBOARD_BEHAVIOR, {})
    assert not_yet.code == "not-onboarded"
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    status = await onboarding.ask(OFFBOARD_BEHAVIOR, {"reason": "maintenance"})
    assert status["onboarded"] is False
    [offboarded] = await events_of(onboarding.node.log, Offboarded)
    assert offboarded.reason == "maintenance"
    gone = await refused(onboarding, CAPABILITY_BEHAVIOR, None)
    assert gone.code == "not-onboarded"
    assert offering_of(onboarding.node.system) is None


async def test_offboarding_with_allocations_needs_force(onboarding: Onboarding) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    await onboarding.ask(ALLOCATE_BEHAVIOR, {"allocation": "job-1", "cpu": 1, "ram": "1GiB"})
    error = await refused(onboarding, OFFBOARD_BEHAVIOR, {})
    assert error.code == "allocations-running"
    assert "job-1" in error.remote_message
    status = await onboarding.ask(OFFBOARD_BEHAVIOR, {"force": True})
    assert status["onboarded"] is False
    [released] = await events_of(onboarding.node.log, Released)
    assert released.allocation == "job-1"


# -- the resource manager ------------------------------------------------------------------------
async def test_allocation_and_release_are_events_carrying_what_is_free(
    onboarding: Onboarding,
) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, {**SHARE, "gpus": [0, 1]})
    answer = await onboarding.ask(
        ALLOCATE_BEHAVIOR,
        {"allocation": "a", "cpu": 1.5, "ram": "2GiB", "disk": "10GiB", "gpus": [1]},
    )
    assert answer["free"]["cpu"] == 2.5
    assert [g["index"] for g in answer["free"]["gpus"]] == [0]
    [allocated] = await events_of(onboarding.node.log, Allocated)
    assert allocated.resources.gpus[0].model == "RTX 4090"
    assert allocated.free.ram == 6 * GiB

    chosen = await onboarding.ask(
        ALLOCATE_BEHAVIOR, {"allocation": "b", "gpu_needs": [{"vram": "8GiB"}]}
    )
    assert [g["index"] for g in chosen["resources"]["gpus"]] == [0]

    released = await onboarding.ask(RELEASE_BEHAVIOR, {"allocation": "a"})
    assert released["free"]["cpu"] == 4
    status = await onboarding.ask(STATUS_BEHAVIOR)
    assert list(status["allocations"]) == ["b"]
    assert len(await events_of(onboarding.node.log, CapabilityAnnounced)) == 1  # not per job


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (
            {"allocation": "a", "cpu": 5},
            "insufficient-resources",
            "cpu: 5 cores asked but 3 are free",
        ),
        ({"allocation": "a", "ram": "9GiB"}, "insufficient-resources", "ram: 9GiB asked but 7GiB"),
        ({"allocation": "a", "gpus": [0]}, "insufficient-resources", "device 0 is not in the"),
        ({"allocation": "first", "cpu": 1}, "duplicate-allocation", "'first' already holds"),
        ({"allocation": "a", "ram": "1G"}, "invalid-request", "ram: '1G' is not a size"),
        ({"allocation": "a", "memory": 1}, "invalid-request", "memory: unknown field"),
        ({"cpu": 1}, "invalid-request", "allocation: required"),
    ],
)
async def test_bad_allocations_are_refused_clearly_and_logged(
    onboarding: Onboarding, payload: dict[str, Any], code: str, words: str
) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    await onboarding.ask(ALLOCATE_BEHAVIOR, {"allocation": "first", "cpu": 1, "ram": "1GiB"})
    error = await refused(onboarding, ALLOCATE_BEHAVIOR, payload)
    assert error.code == code
    assert words in error.remote_message
    _, logged = await wait_for_event(onboarding.node.log, AllocationRefused, timeout=WAIT)
    assert (logged.operation, logged.code) == ("allocate", code)
    status = await onboarding.ask(STATUS_BEHAVIOR)
    assert list(status["allocations"]) == ["first"]


async def test_releasing_an_unknown_allocation_is_refused(onboarding: Onboarding) -> None:
    error = await refused(onboarding, RELEASE_BEHAVIOR, {"allocation": "ghost"})
    assert error.code == "unknown-allocation"
    _, logged = await wait_for_event(onboarding.node.log, AllocationRefused, timeout=WAIT)
    assert logged.allocation == "ghost"


async def test_allocating_before_onboarding_is_refused(onboarding: Onboarding) -> None:
    error = await refused(onboarding, ALLOCATE_BEHAVIOR, {"allocation": "a", "cpu": 1})
    assert error.code == "not-onboarded"


async def test_shrinking_below_what_is_allocated_is_refused(onboarding: Onboarding) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    await onboarding.ask(ALLOCATE_BEHAVIOR, {"allocation": "a", "cpu": 3})
    error = await refused(onboarding, ONBOARD_BEHAVIOR, {"cpu": 2})
    assert error.code == "allocations-running"
    assert "cpu: allocations hold 3 cores now; the new share has 2" in error.remote_message


# -- persistence ---------------------------------------------------------------------------------
async def test_the_state_survives_a_restart_by_replaying_the_log(
    tmp_path: Path, key: KeyPair
) -> None:
    home = tmp_path / "home"
    async with onboarding_node(home, key=key, benchmark_on_onboard=False) as first:
        await first.ask(ONBOARD_BEHAVIOR, SHARE)
        await first.ask(ALLOCATE_BEHAVIOR, {"allocation": "a", "cpu": 1, "ram": "1GiB"})
        await first.ask(ALLOCATE_BEHAVIOR, {"allocation": "b", "cpu": 2, "gpus": [1]})
        await first.ask(RELEASE_BEHAVIOR, {"allocation": "a"})
        await first.ask(BENCHMARK_BEHAVIOR, {"budget_seconds": 1})
        before = await first.ask(STATUS_BEHAVIOR)
        ledger_before = first.actor.ledger.copy()
    async with onboarding_node(home, key=key, benchmark_on_onboard=False) as second:
        after = await second.ask(STATUS_BEHAVIOR)
        assert after == before
        assert second.actor.ledger == ledger_before
        assert after["benchmark"]["cpu_single"] == 1000.0
        announced = await events_of(second.node.log, CapabilityAnnounced)
        assert announced[-1].capability.benchmarks.cpu_single == 1000.0  # announced at start
        assert announced[-1].free.cpu == 2


async def test_a_restart_reports_a_reservation_the_machine_no_longer_fits(
    tmp_path: Path, key: KeyPair
) -> None:
    home = tmp_path / "home"
    async with onboarding_node(home, key=key, benchmark_on_onboard=False) as first:
        await first.ask(ONBOARD_BEHAVIOR, SHARE)
    smaller = Machines(machine(threads=2, gpus=()))
    async with onboarding_node(home, key=key, machines=smaller) as second:
        status = await second.ask(STATUS_BEHAVIOR)
        assert status["onboarded"] is True
        assert any(w.startswith("cpu: 4 cores reserved") for w in status["warnings"])
        assert any("device 1 (RTX 4090) is no longer" in w for w in status["warnings"])


# -- benchmarks ----------------------------------------------------------------------------------
async def test_a_benchmark_is_stored_logged_and_announced(onboarding: Onboarding) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    summary = await onboarding.ask(BENCHMARK_BEHAVIOR, {"budget_seconds": 2})
    assert summary["cpu_single"] == 1000.0
    assert summary["notes"] == ["no GPU driver"]
    [(share, workdir, budget)] = onboarding.benchmark.calls
    assert share.cpu == 4
    assert workdir == onboarding.home / "benchmark"
    assert budget == 2
    assert onboarding.benchmark.rtts == [{}]  # no presence actor: no peer RTTs
    [completed] = await events_of(onboarding.node.log, BenchmarkCompleted)
    assert completed.benchmarks.cpu_multi == 4000.0
    announced = await events_of(onboarding.node.log, CapabilityAnnounced)
    assert announced[-1].capability.benchmarks == completed.benchmarks
    async with await SQLiteDocumentStore.open(onboarding.home / "store.db") as store:
        latest = await BenchmarkStore(store).latest()
    assert latest is not None
    assert latest.benchmarks == completed.benchmarks


async def test_status_answers_while_a_benchmark_runs_and_a_second_is_refused(
    onboarding: Onboarding,
) -> None:
    await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
    onboarding.benchmark.gate.clear()
    running = asyncio.ensure_future(onboarding.ask(BENCHMARK_BEHAVIOR, None))
    async with asyncio.timeout(WAIT):
        while not (await onboarding.ask(STATUS_BEHAVIOR))["benchmark_running"]:
            await asyncio.sleep(0)
    second = await refused(onboarding, BENCHMARK_BEHAVIOR, None)
    assert second.code == "benchmark-running"
    await onboarding.ask(ALLOCATE_BEHAVIOR, {"allocation": "meanwhile", "cpu": 1})
    onboarding.benchmark.gate.set()
    summary = await running
    assert summary["cpu_single"] == 1000.0
    assert (await onboarding.ask(STATUS_BEHAVIOR))["benchmark_running"] is False


async def test_benchmarking_needs_an_onboarded_share(onboarding: Onboarding) -> None:
    error = await refused(onboarding, BENCHMARK_BEHAVIOR, None)
    assert error.code == "not-onboarded"
    _, logged = await wait_for_event(onboarding.node.log, OnboardingRefused, timeout=WAIT)
    assert logged.operation == "benchmark"
    bad = await refused(onboarding, BENCHMARK_BEHAVIOR, {"budget_seconds": 0})
    assert bad.code == "invalid-payload"


async def test_the_first_onboarding_benchmarks_the_share_in_the_background(
    tmp_path: Path, key: KeyPair
) -> None:
    benchmark = FakeBenchmark()
    async with onboarding_node(
        tmp_path / "h", key=key, benchmark=benchmark, benchmark_budget_seconds=3.0
    ) as onboarding:
        await onboarding.ask(ONBOARD_BEHAVIOR, SHARE)
        _, completed = await wait_for_event(onboarding.node.log, BenchmarkCompleted, timeout=WAIT)
        assert completed.benchmarks.cpu_single == 1000.0
        assert benchmark.calls[0][2] == 3.0
        await onboarding.ask(ONBOARD_BEHAVIOR, {"cpu": 2})  # a resize does not re-run it
        assert len(benchmark.calls) == 1


async def test_a_machine_that_cannot_be_detected_is_a_clear_refusal(
    tmp_path: Path, key: KeyPair
) -> None:
    machines = Machines(machine())
    async with onboarding_node(tmp_path / "h", key=key, machines=machines) as onboarding:

        async def broken(home: Path) -> Machine:
            raise HardwareDetectionError(f"{home} cannot be read")

        onboarding.actor._detect = broken  # the disk went away after start
        error = await refused(onboarding, ONBOARD_BEHAVIOR, SHARE)
        assert error.code == "hardware-detection-failed"
        assert "cannot be read" in error.remote_message
        hardware = await refused(onboarding, HARDWARE_BEHAVIOR, None)
        assert hardware.code == "hardware-detection-failed"
        assert (await onboarding.ask(STATUS_BEHAVIOR))["onboarded"] is False
