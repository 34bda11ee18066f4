"""Sustained deployment throughput with many small tasks, and how it scales with the swarm: for
swarms of 5, 10 and 20 nodes (one devstack each: a hub and 4, 9, 19 onboarded members, each a
`nunet run` process with its own nats-server), the hub is sent one-task ensembles (`true` in
nunet-test/busybox:1, 0.1 CPU, 16 MiB) through its local API, at most INFLIGHT at a time, until
COUNT have completed: bid round, placement, commit, allocate, start, the task's exit, its logs
collected, its reservation released, `deployment.completed` recorded.

Deployments per second = completed / (the last one's `completed` time - the first request's
send time). A poller lists the hub's deployments every 50 ms; a worker submits its next
deployment once the poller saw its last one end (so each slot idles up to 50 ms per deployment,
which counts against us). A few deployments first warm the stack up (not counted).

Peer, measured in the same run with the 10-node swarm up: `docker run --rm` of the same image,
command and limits, INFLIGHT at a time, COUNT runs: the same work without a swarm (no bid, no
reservation, no supervision, no log collection). Ratio = ours / peer (higher is better).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.executor.images
from _common import report
from _deploy_common import (
    NodeApi,
    docker_run,
    ensemble,
    machine_load,
    remove_peer_containers,
    remove_stack_containers,
    stack_cpu_seconds,
    start_stack,
)

from nunet.orchestrator.behaviors import (
    HISTORY_BEHAVIOR,
    LIST_BEHAVIOR,
    NEW_BEHAVIOR,
    TERMINAL_STATES,
)
from tests.executor.images import ensure_busybox_image

# Swarm size (hub + members) -> deployments measured; fewer for 20 nodes, whose stack alone
# takes about a minute to start on 2 cores.
SIZES = {5: 24, 10: 24, 20: 16}
HEADLINE = 10
INFLIGHT = 8
WARMUP = 4
COMMAND = "true"
TASK = ensemble("throughput", COMMAND, service=False)
POLL = 0.05
IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class Cpu:
    idle_cores: float  # the idle stack's CPU use, in cores
    seconds_per_deployment: float  # CPU seconds the whole stack spent per deployment
    beyond_idle: float  # the same, less what the stack would have used idle meanwhile


# Milestones of a task's deployment, in order: (label, history entry type, summary ending).
MILESTONES = (
    ("bid round + placement", "deployment.matched", ""),
    ("commit", "deployment.committed", ""),
    ("allocate (docker create)", "deployment.allocated", ""),
    ("start asked", "deployment.allocation_state", " starting"),
    ("container start", "deployment.allocation_state", " running"),
    ("task exits, reported", "deployment.allocation_state", " exited, exit 0"),
    ("tasks_done recorded", "deployment.tasks_done", ""),
    ("logs collected", "deployment.result", ""),
    ("reservation released", "deployment.reverted", ""),
    ("completed recorded", "deployment.completed", ""),
)
UNUSUAL = ("deployment.commit_failed", "deployment.queued", "deployment.matching")


@dataclass(frozen=True)
class Rate:
    per_second: float
    completed: int
    failed: list[str]
    durations: list[float]  # submitted -> ended, seconds, per deployment
    ids: list[str]


class Ended:
    """The hub's deployments that ended, from one poller listing them all every POLL seconds."""

    def __init__(self, api: NodeApi) -> None:
        self._api = api
        self.rows: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Condition()

    async def poll(self) -> None:
        while True:
            rows = await asyncio.to_thread(self._api.deployments, LIST_BEHAVIOR)
            fresh = {
                r["deployment"]: r
                for r in rows
                if r["state"] in TERMINAL_STATES and r["deployment"] not in self.rows
            }
            if fresh:
                self.rows.update(fresh)
                async with self.changed:
                    self.changed.notify_all()
            await asyncio.sleep(POLL)

    async def wait(self, deployment: str) -> dict[str, Any]:
        async with self.changed:
            await self.changed.wait_for(lambda: deployment in self.rows)
        return self.rows[deployment]


async def deploy_many(hub: Path, count: int, inflight: int) -> Rate:
    poller_api = NodeApi(hub)
    ended = Ended(poller_api)
    poller = asyncio.create_task(ended.poll())
    apis: asyncio.Queue[NodeApi] = asyncio.Queue()
    for _ in range(inflight):
        apis.put_nowait(await asyncio.to_thread(NodeApi, hub))
    slots = asyncio.Semaphore(inflight)

    async def one() -> dict[str, Any]:
        async with slots:
            api = await apis.get()
            try:
                answer = await asyncio.to_thread(
                    api.deployments, NEW_BEHAVIOR, {"ensemble": TASK, "source": "bench"}
                )
            finally:
                apis.put_nowait(api)
            return await asyncio.wait_for(ended.wait(answer["deployment"]), 120)

    try:
        began = time.time()
        rows = await asyncio.gather(*(one() for _ in range(count)))
    finally:
        poller.cancel()
        poller_api.close()
        while not apis.empty():
            apis.get_nowait().close()
    finished = max(r["updated_at"] for r in rows)
    failed = [
        f"{r['deployment']}: {r['state']} {r['why']}" for r in rows if r["state"] != "completed"
    ]
    return Rate(
        per_second=(count - len(failed)) / (finished - began),
        completed=count - len(failed),
        failed=failed,
        durations=[r["updated_at"] - r["submitted_at"] for r in rows],
        ids=[r["deployment"] for r in rows],
    )


def where_time_goes(hub: Path, deployments: list[str]) -> list[str]:
    """Median time between milestones over the deployments' histories, and the unusual events."""
    api = NodeApi(hub)
    steps: dict[str, list[float]] = {label: [] for label, *_ in MILESTONES}
    unusual = dict.fromkeys(UNUSUAL, 0)
    examples: dict[str, str] = {}
    try:
        for deployment in deployments:
            entries = api.deployments(HISTORY_BEHAVIOR, {"deployment": deployment})["entries"]
            before = entries[0]["at"]
            for label, kind, ending in MILESTONES:
                at = next(
                    (
                        e["at"]
                        for e in entries
                        if e["type"] == kind and str(e["summary"]).endswith(ending)
                    ),
                    None,
                )
                if at is not None:
                    steps[label].append(at - before)
                    before = at
            for entry in entries:
                if entry["type"] in unusual:
                    unusual[entry["type"]] += 1
                    if entry["type"] != "deployment.matching":
                        examples.setdefault(entry["type"], str(entry["summary"])[:300])
    finally:
        api.close()
    lines = [
        f"    {label:<26} p50 {statistics.median(v) * 1e3:7.1f} ms  max {max(v) * 1e3:7.1f} ms"
        for label, v in steps.items()
        if v
    ]
    lines.append(
        "    events per deployment: "
        + ", ".join(f"{k.split('.')[1]} {v / len(deployments):.2f}" for k, v in unusual.items())
    )
    lines += [f"    e.g. {kind}: {summary}" for kind, summary in examples.items()]
    return lines


async def docker_rate(count: int, inflight: int) -> float:
    slots = asyncio.Semaphore(inflight)

    async def one() -> None:
        async with slots:
            await asyncio.to_thread(docker_run, COMMAND, detach=False)

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - began)


async def measure(
    size: int, count: int, *, with_peer: bool
) -> tuple[Rate, float | None, float, Cpu, list[str]]:
    """Ours at this swarm size; the peer too for the headline size; the stack's start time."""
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        stack = await start_stack(Path(tmp), size - 1)
        started = time.perf_counter() - began
        try:
            hub = Path(stack.nodes[0].home)
            await deploy_many(hub, WARMUP, INFLIGHT)
            await asyncio.to_thread(docker_run, COMMAND, detach=False)
            idle_from, idle_began = stack_cpu_seconds(stack), time.perf_counter()
            await asyncio.sleep(IDLE_SECONDS)
            idle = (stack_cpu_seconds(stack) - idle_from) / (time.perf_counter() - idle_began)
            busy_from, busy_began = stack_cpu_seconds(stack), time.perf_counter()
            ours = await deploy_many(hub, count, INFLIGHT)
            busy = stack_cpu_seconds(stack) - busy_from
            idle_share = idle * (time.perf_counter() - busy_began)
            cpu = Cpu(idle, busy / count, max(0.0, busy - idle_share) / count)
            peer = await docker_rate(count, INFLIGHT) if with_peer else None
            steps = await asyncio.to_thread(where_time_goes, hub, ours.ids)
        finally:
            await stack.stop()
            remove_stack_containers(stack)
            remove_peer_containers()
    return ours, peer, started, cpu, steps


async def main() -> None:
    ensure_busybox_image()
    rates: dict[int, Rate] = {}
    peer_rate = 0.0
    sizes = {int(a): SIZES.get(int(a), 30) for a in sys.argv[1:]} or SIZES
    headline = HEADLINE if HEADLINE in sizes else next(iter(sizes))
    for size, count in sizes.items():
        ours, peer, started, cpu, steps = await measure(size, count, with_peer=size == headline)
        rates[size] = ours
        if peer is not None:
            peer_rate = peer
        durations = sorted(ours.durations)
        print(
            f"{size:>2} nodes: {ours.per_second:5.2f} deployments/s ({ours.completed}/{count} "
            f"completed, {INFLIGHT} in flight; each submitted -> completed p50 "
            f"{statistics.median(durations) * 1e3:.0f} ms, max {durations[-1] * 1e3:.0f} ms; "
            f"stack started in {started:.0f} s)",
            flush=True,
        )
        print(
            f"  the stack's processes: {cpu.idle_cores:.2f} cores when idle, "
            f"{cpu.seconds_per_deployment * 1e3:.0f} ms of CPU per deployment "
            f"({cpu.beyond_idle * 1e3:.0f} ms beyond its idle use)"
        )
        for failure in ours.failed[:5]:
            print(f"   not completed: {failure}")
        print("  where the time goes (from submitted, step by step):")
        print("\n".join(steps), flush=True)
    print(f"docker run --rm, {INFLIGHT} at a time: {peer_rate:.2f} runs/s")
    print(f"machine: {machine_load()}")
    print(
        "scaling: "
        + ", ".join(f"{size} nodes {rate.per_second:.2f}/s" for size, rate in rates.items())
        + f" (counts {', '.join(f'{s}: {c}' for s, c in SIZES.items())})"
    )
    report(
        "deploy_throughput",
        rates[headline].per_second,
        "deployments/s",
        "docker run (same concurrency)",
        peer_rate,
    )


if __name__ == "__main__":
    asyncio.run(main())
