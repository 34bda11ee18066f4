"""An onboarding actor in a real actor system (in-memory transport, SQLite log and store), with
a machine and a benchmark the test controls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nunet.actor import Actor, Handle
from nunet.benchmark import BenchmarkReport
from nunet.capability.model import Benchmarks, Resources
from nunet.db import SQLiteDocumentStore
from nunet.hardware.machine import Machine
from nunet.identity import KeyPair
from nunet.network import InMemoryNetwork
from nunet.onboarding import ONBOARDING_ACTOR_ID, OnboardingActor
from tests.onboarding.machines import machine
from tests.support.actors import NodeUnderTest, running_node

WAIT = 10.0


class User(Actor):
    """Stands in for the node's user (same key as the node, so no capability is needed)."""

    kind = "user"


@dataclass
class FakeBenchmark:
    """Measures nothing real (the benchmark package tests the real one): answers a fixed report
    once `gate` is set, and records what it was asked to measure."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[tuple[Resources, Path, float]] = field(default_factory=list)
    rtts: list[Mapping[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(
        self,
        share: Resources,
        *,
        workdir: Path,
        budget_seconds: float = 30.0,
        rtt_probe: Callable[[], Awaitable[Mapping[str, float]]] | None = None,
    ) -> BenchmarkReport:
        self.calls.append((share, workdir, budget_seconds))
        if rtt_probe is not None:
            self.rtts.append(await rtt_probe())
        await self.gate.wait()
        return BenchmarkReport(
            benchmarks=Benchmarks(cpu_single=1000.0 * len(self.calls), cpu_multi=4000.0),
            rtt={},
            notes=("no GPU driver",),
        )


@dataclass
class Onboarding:
    node: NodeUnderTest
    actor: OnboardingActor
    user: User
    home: Path
    benchmark: FakeBenchmark

    @property
    def handle(self) -> Handle:
        return self.node.system.handle_of(ONBOARDING_ACTOR_ID)

    async def ask(self, behavior: str, payload: Any = None) -> Any:
        return await self.user.invoke(self.handle, behavior, payload, timeout=WAIT)


class Machines:
    """The machine `detect` reports; a test may change it between calls."""

    def __init__(self, current: Machine) -> None:
        self.current = current
        self.detected: list[Path] = []

    async def detect(self, home: Path) -> Machine:
        self.detected.append(home)
        return self.current


@asynccontextmanager
async def onboarding_node(
    home: Path,
    *,
    key: KeyPair,
    machines: Machines | None = None,
    benchmark: FakeBenchmark | None = None,
    executors: tuple[str, ...] = ("docker",),
    **options: Any,
) -> AsyncIterator[Onboarding]:
    """A node in `home` (same `key` → same log file) running only the onboarding actor."""
    machines = machines or Machines(machine())
    benchmark = benchmark or FakeBenchmark()
    await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        node = await stack.enter_async_context(running_node(InMemoryNetwork(), home, key=key))
        store = await SQLiteDocumentStore.open(home / "store.db")
        stack.push_async_callback(store.close)
        actor = OnboardingActor(
            home,
            store,
            detect=machines.detect,
            benchmark=benchmark,
            executors=lambda: executors,
            **options,
        )
        await node.system.spawn(actor, ONBOARDING_ACTOR_ID)
        user = User()
        await node.system.spawn(user, "user")
        yield Onboarding(node, actor, user, home, benchmark)
