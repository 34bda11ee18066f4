"""Two real nodes on one in-memory network: a provider (onboarding ledger, matching, the Docker
executor on this machine's engine, the provider actor) and an orchestrator played by a test
actor that bids, commits, allocates and collects the reports it is sent.

Everything is real but the network (in memory: the transport contract is tested against NATS
in tests/network) and the machine the onboarding actor detects (a fixed one, so the ledger's
numbers are known)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from nunet.actor import Actor, Handle, Message, behavior
from nunet.allocation import (
    ALLOCATE_BEHAVIOR,
    COMMIT_BEHAVIOR,
    PROVIDER_ACTOR_ID,
    REPORT_BEHAVIOR,
    REVERT_BEHAVIOR,
    Allocate,
    Allocated,
    AllocationOrder,
    Commit,
    Committed,
    OnboardingReservations,
    ProviderActor,
    Report,
    Revert,
    Reverted,
    allocation_actor_id,
)
from nunet.capability.model import Requirement, Resources
from nunet.db import SQLiteDocumentStore
from nunet.eventlog import Event
from nunet.executor.docker import DockerEngine, DockerExecutor
from nunet.identity import KeyPair
from nunet.matching import MATCHING_ACTOR_ID, MatchingActor
from nunet.network import InMemoryNetwork
from nunet.onboarding import ONBOARD_BEHAVIOR, ONBOARDING_ACTOR_ID, OnboardingActor, offering_of
from tests.onboarding.harness import FakeBenchmark, Machines
from tests.onboarding.machines import machine
from tests.support.actors import NodeUnderTest, running_node

WAIT = 20.0
MiB = 1 << 20
SHARE = {"cpu": 2, "ram": "1GiB", "disk": "1GiB", "gpus": "none"}


class User(Actor):
    """The provider's user (the node's key: no capability needed)."""

    kind = "user"


class Orchestrator(Actor):
    """Stands in for an orchestrator: asks the provider, and keeps every report it is sent."""

    kind = "test-orchestrator"

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[Report] = []
        self._arrived = asyncio.Condition()

    @behavior(REPORT_BEHAVIOR, public=True)
    async def on_report(self, message: Message) -> None:
        report = msgspec.convert(message.payload, Report, strict=False)
        async with self._arrived:
            self.reports.append(report)
            self._arrived.notify_all()

    async def report_where(
        self, where: Callable[[Report], bool], *, timeout: float = WAIT
    ) -> Report:
        """The first report so far matching `where`, waiting for one to arrive."""
        async with asyncio.timeout(timeout), self._arrived:
            while True:
                for report in self.reports:
                    if where(report):
                        return report
                await self._arrived.wait()

    def states(self, allocation: str) -> list[tuple[str, int]]:
        """(state, run) of each state report of `allocation`, in arrival order, repeats merged."""
        seen: list[tuple[str, int]] = []
        for report in self.reports:
            if report.kind == "state" and report.allocation == allocation:
                entry = (report.state, report.run)
                if not seen or seen[-1] != entry:
                    seen.append(entry)
        return seen


@dataclass
class Provider:
    node: NodeUnderTest
    onboarding: OnboardingActor
    matching: MatchingActor
    executor: DockerExecutor
    provider: ProviderActor
    work_dir: Path

    @property
    def handle(self) -> Handle:
        return self.node.system.handle_of(PROVIDER_ACTOR_ID)

    def free(self) -> Resources:
        return self.onboarding.ledger.free()


@dataclass
class Deployer:
    """The orchestrator's node and its helpers."""

    node: NodeUnderTest
    matching: MatchingActor
    orchestrator: Orchestrator
    provider: Provider
    count: int = 0
    stranger: Orchestrator = field(default_factory=Orchestrator)

    async def bid(self, requirement: Requirement) -> str:
        """A bid round answered by the provider: its request id."""
        result = await self.matching.bid_round(requirement, timeout=5.0, want=1)
        assert result.matched, result.why_not()
        return result.request.request_id

    def commit_for(
        self, request_id: str, requirement: Requirement, *, deployment: str = "dep1", **extra: Any
    ) -> Commit:
        return Commit(
            deployment=deployment,
            node="n1",
            request_id=request_id,
            requirement=requirement,
            orchestrator=self.orchestrator.handle,
            **extra,
        )

    async def ask(self, behavior_path: str, payload: Any, *, to: Handle | None = None) -> Any:
        return await self.orchestrator.invoke(
            to or self.provider.handle, behavior_path, payload, timeout=WAIT
        )

    async def commit(self, commit: Commit) -> Committed:
        return msgspec.convert(await self.ask(COMMIT_BEHAVIOR, commit), Committed)

    async def allocate(
        self, orders: list[AllocationOrder], *, deployment: str = "dep1", heartbeat: float = 0.2
    ) -> Allocated:
        ask = Allocate(
            deployment=deployment,
            node="n1",
            allocations=tuple(orders),
            heartbeat_seconds=heartbeat,
        )
        return msgspec.convert(await self.ask(ALLOCATE_BEHAVIOR, ask), Allocated)

    async def revert(self, *, deployment: str = "dep1") -> Reverted:
        answer = await self.ask(REVERT_BEHAVIOR, Revert(deployment=deployment, node="n1"))
        return msgspec.convert(answer, Reverted)

    async def deploy(self, orders: list[AllocationOrder], *, deployment: str = "dep1") -> Allocated:
        """Bid, commit what the orders need, allocate them."""
        requirement = Requirement(
            cpu=sum(o.cpu for o in orders),
            ram=sum(o.ram for o in orders),
            executors=("docker",),
        )
        request_id = await self.bid(requirement)
        await self.commit(self.commit_for(request_id, requirement, deployment=deployment))
        return await self.allocate(orders, deployment=deployment)


def task(name: str, image: str, script: str, **fields: Any) -> AllocationOrder:
    sizes: dict[str, Any] = {"cpu": 0.5, "ram": 64 * MiB}
    return AllocationOrder(name=name, image=image, command=("sh", "-c", script), **(sizes | fields))


@asynccontextmanager
async def provider_node(
    network: InMemoryNetwork,
    home: Path,
    key: KeyPair,
    *,
    share: dict[str, Any] | None = None,
    gpus: bool = False,
) -> AsyncIterator[Provider]:
    """A provider node in `home` (the same `key` and home: the same log, as after a restart)."""
    await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        node = await stack.enter_async_context(running_node(network, home, key=key))
        system = node.system
        store = await SQLiteDocumentStore.open(home / "store.db")
        stack.push_async_callback(store.close)
        onboarding = OnboardingActor(
            home,
            store,
            detect=Machines(machine() if gpus else machine(gpus=())).detect,
            benchmark=FakeBenchmark(),
            executors=lambda: ("docker",),
            benchmark_on_onboard=False,
        )
        await system.spawn(onboarding, ONBOARDING_ACTOR_ID)
        if not onboarding.ledger.onboarded:
            user = User()
            await system.spawn(user, "user")
            await user.invoke(
                system.handle_of(ONBOARDING_ACTOR_ID), ONBOARD_BEHAVIOR, share or SHARE
            )
        matching = MatchingActor(offering=lambda: offering_of(system))
        await system.spawn(matching, MATCHING_ACTOR_ID)

        def record(event: Event) -> None:
            node.log.append_nowait(event, actor="executor")

        executor = DockerExecutor(record, node_id=key.did, log_dir=home / "executions")
        stack.push_async_callback(executor.close)
        await executor.recover()
        work_dir = home / "allocations"
        provider = ProviderActor(
            executors={"docker": executor},
            issued_bid=matching.issued_bid,
            reservations=OnboardingReservations(system),
            work_dir=work_dir,
        )
        await system.spawn(provider, PROVIDER_ACTOR_ID)
        yield Provider(node, onboarding, matching, executor, provider, work_dir)


@asynccontextmanager
async def orchestrator_node(
    network: InMemoryNetwork, home: Path, provider: Provider
) -> AsyncIterator[Deployer]:
    async with running_node(network, home) as node:
        matching = MatchingActor(offering=lambda: None)
        await node.system.spawn(matching, MATCHING_ACTOR_ID)
        orchestrator = Orchestrator()
        await node.system.spawn(orchestrator, "orchestrator/dep1")
        deployer = Deployer(node, matching, orchestrator, provider)
        # Another identity on the same node: not the orchestrator that committed.
        await node.system.spawn(deployer.stranger, "stranger", key=KeyPair.generate())
        yield deployer


async def containers_of(node_did: str) -> list[dict[str, Any]]:
    engine = DockerEngine()
    try:
        return list(await engine.containers({"nunet.node": node_did}))
    finally:
        await engine.close()


async def remove_containers_of(node_did: str) -> None:
    engine = DockerEngine()
    try:
        for container in await engine.containers({"nunet.node": node_did}):
            await engine.remove(container["Id"])
    finally:
        await engine.close()


def allocation_handle(provider: Provider, name: str, deployment: str = "dep1") -> Handle:
    return provider.node.system.handle_of(allocation_actor_id(deployment, name))


async def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
