"""The resource ledger with no event loop: every operation in every state, and Hypothesis
histories checking the accounting and that replaying the events rebuilds the ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.capability.model import GpuNeed, Resources
from nunet.eventlog import Event
from nunet.onboarding.errors import (
    AllocationsRunning,
    DuplicateAllocation,
    ExceedsMachine,
    InsufficientResources,
    InvalidReservation,
    NotOnboarded,
    OnboardingError,
    UnknownAllocation,
)
from nunet.onboarding.events import Allocated, Offboarded, Onboarded, Released, Resized
from nunet.onboarding.ledger import CPU_EPSILON, LEDGER_EVENTS, ResourceLedger
from nunet.onboarding.share import ShareRequest
from tests.onboarding.machines import GiB, gpu, machine, share

BOX = machine()


def job(cpu: float = 1, ram: int = GiB, disk: int = GiB, gpus: tuple[int, ...] = ()) -> Resources:
    return Resources(cpu=cpu, ram=ram, disk=disk, gpus=tuple(gpu(i) for i in gpus))


# -- the four states ---------------------------------------------------------------------------
def not_onboarded() -> ResourceLedger:
    return ResourceLedger()


def idle() -> ResourceLedger:
    ledger = ResourceLedger()
    ledger.onboard(share(), BOX)
    return ledger


def busy() -> ResourceLedger:
    ledger = idle()
    ledger.allocate("a1", job(cpu=1.5, ram=2 * GiB, disk=10 * GiB, gpus=(0,)))
    return ledger


def after_offboard() -> ResourceLedger:
    ledger = idle()
    ledger.offboard(reason="maintenance")
    return ledger


STATES: dict[str, Callable[[], ResourceLedger]] = {
    "not onboarded": not_onboarded,
    "idle": idle,
    "busy": busy,
    "offboarded": after_offboard,
}


def replayed(events: list[Event], *, start: ResourceLedger | None = None) -> ResourceLedger:
    ledger = start.copy() if start is not None else ResourceLedger()
    for event in events:
        ledger.apply(event)
    return ledger


def refused_without_change(
    ledger: ResourceLedger, operation: Callable[[], object], error: type[OnboardingError]
) -> str:
    before = ledger.copy()
    with pytest.raises(error) as refused:
        operation()
    assert ledger == before, "a refused operation changed the ledger"
    return str(refused.value)


# -- onboard -----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["not onboarded", "offboarded"])
def test_onboarding_a_node_without_a_share_emits_onboarded(state: str) -> None:
    ledger = STATES[state]()
    events = ledger.onboard(share(cpu=2, gpus=(1,)), BOX)
    assert [type(e) for e in events] == [Onboarded]
    assert ledger.onboarded
    assert ledger.free() == Resources(cpu=2, ram=8 * GiB, disk=100 * GiB, gpus=(BOX.gpus[1],))
    assert ledger.allocated() == Resources()


@pytest.mark.parametrize("state", ["idle", "busy"])
def test_onboarding_again_resizes_and_keeps_allocations(state: str) -> None:
    ledger = STATES[state]()
    before = ledger.reservation
    allocations = dict(ledger.allocations)
    [event] = ledger.onboard(ShareRequest(cpu=6, ram=12 * GiB), BOX)
    assert isinstance(event, Resized)
    assert event.previous == before
    assert ledger.reservation == event.reservation
    assert ledger.reservation is not None
    assert ledger.reservation.resources.cpu == 6
    assert ledger.allocations == allocations


def test_an_unchanged_reservation_changes_nothing() -> None:
    ledger = idle()
    assert ledger.onboard(share(), BOX) == []


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (ShareRequest(cpu=1), "cpu: allocations hold 1.5 cores now; the new share has 1"),
        (ShareRequest(ram=GiB), "ram: allocations hold 2GiB now; the new share has 1GiB"),
        (ShareRequest(disk=5 * GiB), "disk: allocations hold 10GiB now; the new share has 5GiB"),
        (ShareRequest(gpus=(1,)), "gpus: device 0 is allocated to a1; the new share leaves it out"),
    ],
)
def test_shrinking_below_what_is_allocated_is_refused(request_: ShareRequest, words: str) -> None:
    ledger = busy()
    message = refused_without_change(
        ledger, lambda: ledger.onboard(request_, BOX), AllocationsRunning
    )
    assert words in message


@pytest.mark.parametrize("state", list(STATES))
def test_onboarding_more_than_the_machine_has_is_refused_in_every_state(state: str) -> None:
    ledger = STATES[state]()
    message = refused_without_change(
        ledger, lambda: ledger.onboard(share(cpu=64), BOX), ExceedsMachine
    )
    assert message.startswith("cpu: 64 cores asked")


# -- offboard ----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["not onboarded", "offboarded"])
def test_offboarding_without_a_share_is_refused(state: str) -> None:
    ledger = STATES[state]()
    message = refused_without_change(ledger, ledger.offboard, NotOnboarded)
    assert "not onboarded" in message


def test_offboarding_an_idle_node_emits_offboarded() -> None:
    ledger = idle()
    assert ledger.offboard(reason="bye") == [Offboarded(reason="bye")]
    assert not ledger.onboarded
    assert ledger.free() == Resources()


def test_offboarding_a_busy_node_is_refused_naming_the_allocations() -> None:
    ledger = busy()
    message = refused_without_change(ledger, ledger.offboard, AllocationsRunning)
    assert "1 allocation(s) still hold resources (a1)" in message
    assert "force" in message


def test_forced_offboarding_releases_every_allocation_first() -> None:
    ledger = busy()
    ledger.allocate("a2", job(cpu=1))
    events = ledger.offboard(force=True, reason="forced")
    assert [type(e) for e in events] == [Released, Released, Offboarded]
    assert [e.allocation for e in events if isinstance(e, Released)] == ["a1", "a2"]
    last = events[1]
    assert isinstance(last, Released)
    assert last.free.cpu == 4
    assert not ledger.onboarded
    assert ledger.allocations == {}


# -- allocate ----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["not onboarded", "offboarded"])
def test_allocating_without_a_share_is_refused(state: str) -> None:
    ledger = STATES[state]()
    refused_without_change(ledger, lambda: ledger.allocate("x", job()), NotOnboarded)
    refused_without_change(ledger, lambda: ledger.allocate_for("x", cpu=1), NotOnboarded)


@pytest.mark.parametrize("state", ["idle", "busy"])
def test_allocating_what_is_free_emits_allocated_with_what_remains(state: str) -> None:
    ledger = STATES[state]()
    free_before = ledger.free()
    [event] = ledger.allocate("new", job(cpu=2, ram=GiB, disk=GiB, gpus=(1,)))
    assert isinstance(event, Allocated)
    assert event.resources.gpus == (BOX.gpus[1],)  # the reserved device's own record
    assert event.free == ledger.free()
    assert ledger.free().cpu == pytest.approx(free_before.cpu - 2)
    assert ledger.free().ram == free_before.ram - GiB
    assert 1 not in {g.index for g in ledger.free().gpus}


@pytest.mark.parametrize(
    ("resources", "error", "words"),
    [
        (job(cpu=2.6), InsufficientResources, "cpu: 2.6 cores asked but 2.5 are free"),
        (job(ram=7 * GiB), InsufficientResources, "ram: 7GiB asked but 6GiB is free"),
        (job(disk=91 * GiB), InsufficientResources, "disk: 91GiB asked but 90GiB is free"),
        (job(gpus=(0,)), InsufficientResources, "gpus: device 0 is allocated to a1"),
        (
            job(gpus=(5,)),
            InsufficientResources,
            "device 5 is not in the onboarded share (onboarded: 0, 1)",
        ),
        (job(gpus=(1, 1)), InvalidReservation, "gpus: device 1 is asked for twice"),
        (job(cpu=-1), InvalidReservation, "cpu: -1 must be a finite number"),
        (job(ram=-1), InvalidReservation, "ram: -1 must be a whole number of bytes"),
    ],
)
def test_allocating_more_than_is_free_is_refused_naming_resource_and_numbers(
    resources: Resources, error: type[OnboardingError], words: str
) -> None:
    ledger = busy()
    message = refused_without_change(ledger, lambda: ledger.allocate("a2", resources), error)
    assert words in message


@pytest.mark.parametrize(
    ("allocation", "error", "words"),
    [
        ("a1", DuplicateAllocation, "'a1' already holds resources"),
        ("", InvalidReservation, "allocation: an allocation needs a non-empty id"),
        ("x" * 257, InvalidReservation, "at most 256"),
    ],
)
def test_allocation_ids_must_be_new_and_sensible(
    allocation: str, error: type[OnboardingError], words: str
) -> None:
    ledger = busy()
    message = refused_without_change(ledger, lambda: ledger.allocate(allocation, job()), error)
    assert words in message


def test_allocate_for_chooses_devices_that_meet_the_needs() -> None:
    ledger = idle()
    [event] = ledger.allocate_for(
        "big", cpu=1, ram=GiB, disk=GiB, gpu_needs=[GpuNeed(vram=20 * GiB)]
    )
    assert isinstance(event, Allocated)
    assert [g.index for g in event.resources.gpus] == [1]  # the only device with 24 GiB
    [small] = ledger.allocate_for("small", gpu_needs=[GpuNeed(vendor="nvidia")])
    assert isinstance(small, Allocated)
    assert [g.index for g in small.resources.gpus] == [0]


def test_allocate_for_refuses_needs_no_free_device_meets() -> None:
    ledger = busy()  # device 0 is held
    message = refused_without_change(
        ledger,
        lambda: ledger.allocate_for("x", gpu_needs=[GpuNeed(vram=8 * GiB)] * 2),
        InsufficientResources,
    )
    assert "gpus: 2 GPU(s) asked (≥ 8GiB; ≥ 8GiB)" in message
    assert "1: RTX 4090 24GiB" in message


def test_fractional_cores_add_up_to_the_share_exactly() -> None:
    ledger = ResourceLedger()
    ledger.onboard(share(cpu=0.3, gpus=()), BOX)
    for name in ("a", "b", "c"):
        ledger.allocate(name, job(cpu=0.1, ram=0, disk=0))
    assert ledger.free().cpu == 0.0
    assert ledger.allocated().cpu == 0.3
    refused_without_change(
        ledger, lambda: ledger.allocate("d", job(cpu=0.1, ram=0, disk=0)), InsufficientResources
    )


# -- release -----------------------------------------------------------------------------------
@pytest.mark.parametrize("state", list(STATES))
def test_releasing_an_unknown_allocation_is_refused(state: str) -> None:
    ledger = STATES[state]()
    message = refused_without_change(ledger, lambda: ledger.release("nope"), UnknownAllocation)
    assert "'nope' holds no resources" in message


def test_releasing_gives_everything_back() -> None:
    ledger = busy()
    [event] = ledger.release("a1")
    assert isinstance(event, Released)
    assert event.resources.gpus == (BOX.gpus[0],)
    assert event.free == ledger.free()
    assert ledger.reservation is not None
    assert ledger.free() == ledger.reservation.resources


# -- replay ------------------------------------------------------------------------------------
def test_apply_ignores_events_that_are_not_the_ledgers() -> None:
    ledger = busy()
    before = ledger.copy()

    class Other(Event, frozen=True, kw_only=True):
        TYPE = "other.thing"

    ledger.apply(Other())
    assert ledger == before
    assert {cls.TYPE for cls in LEDGER_EVENTS} == {
        "onboarding.onboarded",
        "onboarding.resized",
        "onboarding.offboarded",
        "resources.allocated",
        "resources.released",
    }


# -- Hypothesis: any history -------------------------------------------------------------------
_ids = st.sampled_from(["a", "b", "c", "d"])
_operations = st.one_of(
    st.tuples(
        st.just("onboard"),
        st.builds(
            ShareRequest,
            cpu=st.none() | st.sampled_from([0.5, 1, 2.5, 4, 8, 9]),
            ram=st.none() | st.sampled_from([GiB, 4 * GiB, 15 * GiB, 32 * GiB]),
            disk=st.none() | st.sampled_from([GiB, 50 * GiB, 300 * GiB]),
            gpus=st.none() | st.sampled_from([(), (0,), (1,), (0, 1), (2,)]),
        ),
    ),
    st.tuples(st.just("offboard"), st.booleans()),
    st.tuples(
        st.just("allocate"),
        _ids,
        st.builds(
            job,
            cpu=st.sampled_from([0, 0.1, 0.25, 1, 3]),
            ram=st.sampled_from([0, GiB // 2, 3 * GiB]),
            disk=st.sampled_from([0, 10 * GiB, 60 * GiB]),
            gpus=st.sampled_from([(), (0,), (1,), (0, 1)]),
        ),
    ),
    st.tuples(
        st.just("allocate_for"),
        _ids,
        st.lists(st.sampled_from([GpuNeed(), GpuNeed(vram=20 * GiB)]), max_size=2),
    ),
    st.tuples(st.just("release"), _ids),
)


def _run(ledger: ResourceLedger, operation: tuple[object, ...]) -> list[Event]:
    match operation:
        case ("onboard", ShareRequest() as request):
            return ledger.onboard(request, BOX)
        case ("offboard", bool() as force):
            return ledger.offboard(force=force)
        case ("allocate", str() as name, Resources() as resources):
            return ledger.allocate(name, resources)
        case ("allocate_for", str() as name, list() as needs):
            return ledger.allocate_for(name, cpu=0.5, gpu_needs=needs)
        case ("release", str() as name):
            return ledger.release(name)
    raise AssertionError(operation)


@settings(max_examples=300, deadline=None)
@given(st.lists(_operations, max_size=30))
def test_any_history_keeps_the_books_and_replays_to_the_same_ledger(
    operations: list[tuple[object, ...]],
) -> None:
    ledger = ResourceLedger()
    log: list[Event] = []
    for operation in operations:
        before = ledger.copy()
        try:
            events = _run(ledger, operation)
        except OnboardingError:
            assert ledger == before  # refused: nothing changed
            continue
        log += events
        assert replayed(events, start=before) == ledger  # each step's events are the step
        _check_books(ledger)
    assert replayed(log) == ledger


def _check_books(ledger: ResourceLedger) -> None:
    allocated, free = ledger.allocated(), ledger.free()
    if ledger.reservation is None:
        assert ledger.allocations == {}
        assert free == Resources()
        return
    share_ = ledger.reservation.resources
    assert allocated.cpu <= share_.cpu + CPU_EPSILON
    assert allocated.ram <= share_.ram
    assert allocated.disk <= share_.disk
    assert free.cpu == pytest.approx(share_.cpu - allocated.cpu, abs=CPU_EPSILON)
    assert free.ram == share_.ram - allocated.ram
    assert free.disk == share_.disk - allocated.disk
    held = [g.index for g in allocated.gpus]
    assert len(held) == len(set(held)), "a GPU device is allocated twice"
    assert set(held) <= {g.index for g in share_.gpus}
    assert sorted(held + [g.index for g in free.gpus]) == [g.index for g in share_.gpus]
