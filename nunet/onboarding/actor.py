"""The onboarding actor: the thin shell around the resource ledger.

At start it rebuilds the ledger from the node's own log (the events are the persistence),
detects the machine and loads the latest benchmark; it answers the `/dms/node/onboarding/*`,
`/dms/node/resources/*`, `/dms/node/hardware`, `/dms/node/capability` and
`/dms/node/benchmark/run` behaviors, appends every change (and every refusal) to the log, and
announces the node's capability whenever it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Message, behavior
from nunet.benchmark import BenchmarkReport, BenchmarkStore, run_benchmarks
from nunet.capability.model import Capability, Resources
from nunet.db import DocumentStore
from nunet.errors import NunetError
from nunet.eventlog import Catalogue, Event
from nunet.hardware import detect_machine
from nunet.hardware.machine import Machine
from nunet.onboarding.behaviors import (
    ALLOCATE_BEHAVIOR,
    BENCHMARK_BEHAVIOR,
    CAPABILITY_BEHAVIOR,
    HARDWARE_BEHAVIOR,
    MAX_BENCHMARK_SECONDS,
    OFFBOARD_BEHAVIOR,
    ONBOARD_BEHAVIOR,
    RELEASE_BEHAVIOR,
    STATUS_BEHAVIOR,
)
from nunet.onboarding.errors import BenchmarkBusy, DetectionFailed, NotOnboarded, OnboardingError
from nunet.onboarding.events import (
    EVENTS,
    AllocationRefused,
    BenchmarkCompleted,
    CapabilityAnnounced,
    OnboardingRefused,
    Reservation,
)
from nunet.onboarding.ledger import LEDGER_EVENTS, ResourceLedger
from nunet.onboarding.offer import DEFAULT_STORAGE, capability_of, detect_executors
from nunet.onboarding.request import allocation_request_from_user, share_request_from_user
from nunet.onboarding.share import DEFAULT_RAM_HEADROOM, drift
from nunet.onboarding.status import benchmark_summary, machine_summary, plain
from nunet.onboarding.view import ResourceView
from nunet.peers import PEERS_ACTOR_ID, PresenceActor

log = structlog.get_logger("nunet.onboarding")

BENCHMARK_DIRECTORY = "benchmark"  # under the node's home: the benchmark's scratch files

MachineDetector = Callable[[Path], Awaitable[Machine]]
BenchmarkRunner = Callable[..., Awaitable[BenchmarkReport]]


class OffboardRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    force: bool = False
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class ReleaseRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    allocation: str


class BenchmarkRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    budget_seconds: Annotated[float, msgspec.Meta(gt=0, le=MAX_BENCHMARK_SECONDS)] | None = None


class OnboardingActor(Actor):
    """Onboarding, the resource manager and benchmarking of one node.

    `detect(home)` gives the machine (re-detected at start, at every onboard and for
    `/dms/node/hardware`); `benchmark(share, workdir=, budget_seconds=, rtt_probe=)` measures
    the reserved share; `executors()` lists the executors present. The first onboarding also
    starts a benchmark in the background when `benchmark_on_onboard` and none is stored yet.
    """

    kind = "onboarding"
    # A benchmark takes seconds to minutes: it runs beside the mailbox, so status, allocations
    # and releases are answered meanwhile.
    beside_mailbox = frozenset((BENCHMARK_BEHAVIOR,))

    def __init__(
        self,
        home: Path,
        store: DocumentStore,
        *,
        detect: MachineDetector = detect_machine,
        benchmark: BenchmarkRunner = run_benchmarks,
        executors: Callable[[], tuple[str, ...]] = detect_executors,
        storage: Sequence[str] = DEFAULT_STORAGE,
        benchmark_budget_seconds: float = 30.0,
        benchmark_on_onboard: bool = True,
        ram_headroom: int = DEFAULT_RAM_HEADROOM,
    ) -> None:
        super().__init__()
        if not 0 < benchmark_budget_seconds <= MAX_BENCHMARK_SECONDS:
            raise ValueError(
                f"benchmark_budget_seconds must be within (0, {MAX_BENCHMARK_SECONDS:g}], "
                f"not {benchmark_budget_seconds}"
            )
        if ram_headroom < 0:
            raise ValueError(f"ram_headroom cannot be negative: {ram_headroom}")
        self._home = home
        self._benchmarks = BenchmarkStore(store)
        self._detect = detect
        self._benchmark = benchmark
        self._find_executors = executors
        self._storage = tuple(storage)
        self._budget = benchmark_budget_seconds
        self._benchmark_on_onboard = benchmark_on_onboard
        self._ledger = ResourceLedger(ram_headroom=ram_headroom)
        self._machine: Machine | None = None
        self._executors: tuple[str, ...] = ()
        self._report: BenchmarkReport | None = None
        self._warnings: list[str] = []
        self._running_benchmark: asyncio.Task[Any] | None = None
        self._catalogue = Catalogue(*EVENTS)

    # -- in-process readers --------------------------------------------------------------------
    @property
    def ledger(self) -> ResourceLedger:
        """The ledger (read it; only this actor changes it)."""
        return self._ledger

    @property
    def view(self) -> ResourceView:
        """A read-only view for other actors of this node (the matching actor)."""
        return ResourceView(lambda: self._ledger, self.capability)

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            raise NotOnboarded("the machine has not been detected yet (the actor is starting)")
        return self._machine

    def capability(self) -> Capability | None:
        """What this node offers now; None while it is not onboarded."""
        reservation = self._ledger.reservation
        if reservation is None or self._machine is None:
            return None
        return capability_of(
            self._machine,
            reservation,
            benchmarks=self._report.benchmarks if self._report is not None else None,
            executors=self._executors,
            storage=self._storage,
        )

    # -- lifecycle -----------------------------------------------------------------------------
    async def on_start(self) -> None:
        self._machine = await self._detect(self._home)
        self._executors = self._find_executors()
        await self._replay()
        try:
            self._report = await self._benchmarks.latest()
        except NunetError as exc:  # a bad stored report: measure again rather than not start
            log.warning("stored benchmark not loaded", error=str(exc))
        reservation = self._ledger.reservation
        if reservation is not None:
            self._warnings = drift(reservation, self._machine)
            for warning in self._warnings:
                log.warning("reservation no longer fits the machine", problem=warning)
            await self._announce()

    # -- onboarding ----------------------------------------------------------------------------
    @behavior(ONBOARD_BEHAVIOR)
    async def onboard(self, message: Message) -> dict[str, Any]:
        """Onboard (or resize) the share in `message.payload` (user units); answers the status."""
        try:
            request = share_request_from_user(message.payload)
            machine = await self._detect_now()  # free disk and RAM change: fresh facts
            trial = self._ledger.copy()
            events = trial.onboard(request, machine)
        except OnboardingError as exc:
            raise self._refuse("onboard", exc) from None
        if events:
            first = not self._ledger.onboarded
            await self._commit(trial, events)
            self._warnings = drift(self._reservation(), machine)
            await self._announce()
            if first and self._benchmark_on_onboard and self._report is None:
                self._start_benchmark(self._budget)
        return self.status_report()

    @behavior(OFFBOARD_BEHAVIOR, payload_type=OffboardRequest | None)
    async def offboard(self, message: Message) -> dict[str, Any]:
        request = message.payload or OffboardRequest()
        try:
            trial = self._ledger.copy()
            events = trial.offboard(force=request.force, reason=request.reason)
        except OnboardingError as exc:
            raise self._refuse("offboard", exc) from None
        await self._commit(trial, events)
        self._warnings = []
        return self.status_report()

    @behavior(STATUS_BEHAVIOR)
    async def status(self, message: Message) -> dict[str, Any]:
        return self.status_report()

    @behavior(HARDWARE_BEHAVIOR)
    async def hardware(self, message: Message) -> dict[str, Any]:
        try:
            machine = await self._detect_now()
        except DetectionFailed as exc:
            raise BehaviorFailed(str(exc), code=exc.code) from None
        result: dict[str, Any] = plain(machine)
        return result

    @behavior(CAPABILITY_BEHAVIOR)
    async def current_capability(self, message: Message) -> dict[str, Any]:
        capability = self.capability()
        if capability is None:
            raise BehaviorFailed(
                "this node is not onboarded, so it offers nothing; run `nunet onboard` first",
                code=NotOnboarded.code,
            )
        return {
            "capability": plain(capability),
            "free": plain(self._ledger.free()),
        }

    # -- the resource manager ------------------------------------------------------------------
    @behavior(ALLOCATE_BEHAVIOR)
    async def allocate(self, message: Message) -> dict[str, Any]:
        claimed = _allocation_of(message.payload)
        try:
            request = allocation_request_from_user(message.payload)
            trial = self._ledger.copy()
            if request.gpu_needs:
                events = trial.allocate_for(
                    request.allocation,
                    cpu=request.cpu,
                    ram=request.ram,
                    disk=request.disk,
                    gpu_needs=request.gpu_needs,
                )
            else:
                events = trial.allocate_devices(
                    request.allocation,
                    cpu=request.cpu,
                    ram=request.ram,
                    disk=request.disk,
                    gpus=request.gpus,
                )
        except OnboardingError as exc:
            raise self._refuse("allocate", exc, allocation=claimed) from None
        await self._commit(trial, events)
        held = trial.allocations[request.allocation]
        return {
            "allocation": request.allocation,
            "resources": plain(held),
            "free": plain(trial.free()),
        }

    @behavior(RELEASE_BEHAVIOR, payload_type=ReleaseRequest)
    async def release(self, message: Message) -> dict[str, Any]:
        allocation = message.payload.allocation
        try:
            trial = self._ledger.copy()
            events = trial.release(allocation)
        except OnboardingError as exc:
            raise self._refuse("release", exc, allocation=allocation) from None
        await self._commit(trial, events)
        return {"allocation": allocation, "free": plain(trial.free())}

    # -- benchmarking --------------------------------------------------------------------------
    @behavior(BENCHMARK_BEHAVIOR, payload_type=BenchmarkRequest | None)
    async def run_benchmark(self, message: Message) -> dict[str, Any]:
        """Benchmark the reserved share now; answers the summary once stored and announced."""
        request = message.payload or BenchmarkRequest()
        try:
            task = self._start_benchmark(request.budget_seconds or self._budget)
        except OnboardingError as exc:
            raise self._refuse("benchmark", exc) from None
        try:
            report: BenchmarkReport = await asyncio.shield(task)
        except NunetError as exc:
            raise BehaviorFailed(f"benchmark: {exc}", code="benchmark-failed") from None
        return benchmark_summary(report)

    def _start_benchmark(self, budget: float) -> asyncio.Task[BenchmarkReport]:
        reservation = self._ledger.reservation
        if reservation is None:
            raise NotOnboarded("benchmark: this node is not onboarded; onboard a share first")
        if self._running_benchmark is not None and not self._running_benchmark.done():
            raise BenchmarkBusy("benchmark: a run is under way; wait for it to finish")
        task = self._spawn(self._measure(reservation.resources, budget), name="benchmark")
        self._running_benchmark = task
        return task

    async def _measure(self, share: Resources, budget: float) -> BenchmarkReport:
        workdir = self._home / BENCHMARK_DIRECTORY
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
        log.info("benchmark started", budget_seconds=budget)
        report = await self._benchmark(
            share, workdir=workdir, budget_seconds=budget, rtt_probe=self._peer_rtts
        )
        await self._benchmarks.save(report)
        await self.system.event_log.append(
            BenchmarkCompleted(
                benchmarks=report.benchmarks, rtt=dict(report.rtt), notes=list(report.notes)
            ),
            actor=str(self.handle),
        )
        self._report = report
        if self._ledger.onboarded:
            await self._announce()
        log.info("benchmark completed", duration=report.benchmarks.duration)
        return report

    async def _peer_rtts(self) -> dict[str, float]:
        """Smoothed RTTs the presence actor has measured to the peers it knows (none alone)."""
        peers = self.system.actor(PEERS_ACTOR_ID)
        if not isinstance(peers, PresenceActor):
            return {}
        return {
            record.did: record.rtt_smoothed
            for record in peers.table.records()
            if record.rtt_smoothed is not None
        }

    # -- answers -------------------------------------------------------------------------------
    def status_report(self) -> dict[str, Any]:
        """Onboarded?, the reservation, allocated, free, allocations, machine and benchmark."""
        reservation = self._ledger.reservation
        running = self._running_benchmark is not None and not self._running_benchmark.done()
        return {
            "onboarded": reservation is not None,
            "reservation": plain(reservation) if reservation is not None else None,
            "allocated": plain(self._ledger.allocated()),
            "free": plain(self._ledger.free()),
            "allocations": {name: plain(held) for name, held in self._ledger.allocations.items()},
            "machine": machine_summary(self._machine) if self._machine is not None else None,
            "executors": list(self._executors),
            "benchmark": benchmark_summary(self._report) if self._report is not None else None,
            "benchmark_running": running,
            "warnings": list(self._warnings),
        }

    # -- plumbing ------------------------------------------------------------------------------
    async def _replay(self) -> None:
        """Rebuild the ledger from this node's log: its own events are the source of truth."""
        ledger = ResourceLedger(ram_headroom=self._ledger.ram_headroom)
        types = [kind.TYPE for kind in LEDGER_EVENTS]
        async for record in self.system.event_log.read(types=types):
            ledger.apply(self._catalogue.decode(record))
        self._ledger = ledger

    async def _detect_now(self) -> Machine:
        try:
            self._machine = await self._detect(self._home)
        except NunetError as exc:
            raise DetectionFailed(f"the machine could not be detected: {exc}") from None
        return self._machine

    async def _commit(self, trial: ResourceLedger, events: list[Event]) -> None:
        """Make the events durable, then the state they describe current."""
        if events:
            await self.system.event_log.append_many(events, actor=str(self.handle))
        self._ledger = trial
        for event in events:
            log.info(event.TYPE, **_log_fields(event))

    async def _announce(self) -> None:
        capability = self.capability()
        if capability is None:
            return
        await self.system.event_log.append(
            CapabilityAnnounced(capability=capability, free=self._ledger.free()),
            actor=str(self.handle),
        )

    def _refuse(
        self, operation: str, error: OnboardingError, *, allocation: str | None = None
    ) -> BehaviorFailed:
        """Log the refusal (an event and a structured log line); the error to answer with."""
        reason = str(error)
        event: Event
        if allocation is None:
            event = OnboardingRefused(operation=operation, code=error.code, reason=reason)
        else:
            event = AllocationRefused(
                operation=operation, allocation=allocation[:256], code=error.code, reason=reason
            )
        self.system.event_log.append_nowait(event, actor=str(self.handle))
        log.warning(event.TYPE, operation=operation, code=error.code, reason=reason)
        return BehaviorFailed(reason, code=error.code)

    def _reservation(self) -> Reservation:
        reservation = self._ledger.reservation
        assert reservation is not None  # called right after a successful onboard
        return reservation

    def _spawn(
        self, work: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = self.spawn_task(work, name=name)
        task.add_done_callback(_log_failure)
        return task


def _allocation_of(payload: object) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("allocation"), str):
        return str(payload["allocation"])[:256]
    return ""


def _log_fields(event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("allocation", "reason"):
        if hasattr(event, name):
            fields[name] = getattr(event, name)
    return fields


def _log_failure(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.warning("onboarding task failed", task=task.get_name(), error=repr(error))
