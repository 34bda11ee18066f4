"""Shared by the deployment benchmarks: a devstack whose members are onboarded and see each other,
the hub's local API (deployments submitted there, as `nunet deploy` does), one-allocation
ensembles, and the plain `docker run` of the same image and command they are measured against."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nunet.api import ApiClient, find_api
from nunet.devstack import DevStack, StackPlan

IMAGE = "nunet-test/busybox:1"
LABEL = f"nunet-bench={os.getpid()}"  # on the peer's containers: all removed at the end
CPU = 0.1
RAM = "16MiB"


class NodeApi:
    """One node's local API, with the handles of its actors resolved once (one per thread)."""

    def __init__(self, home: Path) -> None:
        self.client: ApiClient = find_api(home)
        me = self.client.invoke("/dms/node/peers/self")
        self._did, self._address = me["did"], me["address"]

    def call(self, actor: str, behavior: str, payload: Any = None, timeout: float = 60.0) -> Any:
        to = {"did": self._did, "actor": actor, "node": self._address}
        return self.client.invoke(behavior, payload, to=to, timeout=timeout)

    def deployments(self, behavior: str, payload: Any = None) -> Any:
        return self.call("deployments", behavior, payload)

    def close(self) -> None:
        self.client.close()


def ensemble(name: str, command: str, *, service: bool) -> str:
    """One allocation on one ensemble node."""
    kind = "service" if service else "task"
    return f"""
version: nunet/v1
name: {name}
allocations:
  main:
    type: {kind}
    resources: {{cpu: {CPU}, ram: {RAM}}}
    execution:
      image: {IMAGE}
      command: {json.dumps(command)}
nodes:
  n1:
    allocations: [main]
"""


def docker_run(command: str, *, detach: bool) -> float:
    """Seconds `docker run` of the same image, command and limits takes to return (with
    `detach`: once the container started; without: once it exited and was removed)."""
    argv = ["docker", "run", "--label", LABEL, "--network", "none"]
    argv += ["--cpus", str(CPU), "--memory", RAM.replace("MiB", "m")]
    argv += ["-d"] if detach else ["--rm"]
    argv += [IMAGE, "sh", "-c", command]
    began = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - began


def remove_containers_labelled(label: str) -> None:
    """Every container (any state) carrying `label` (`key=value`)."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if listed:
        subprocess.run(["docker", "rm", "-f", *listed], capture_output=True, check=False)


def remove_peer_containers() -> None:
    remove_containers_labelled(LABEL)


def remove_stack_containers(stack: DevStack) -> None:
    """Whatever the stack's providers left (a benchmark stopped half-way): each node labels its
    containers with its DID, so that no one else's are touched."""
    for node in stack.nodes:
        remove_containers_labelled(f"nunet.node={node.did}")


async def start_stack(directory: Path, members: int, *, ready_timeout: float = 300) -> DevStack:
    """A hub and `members` onboarded nodes, every node seeing every other one up (so that a bid
    round ends as soon as every live node answered, not at its timeout)."""
    stack = DevStack(StackPlan(directory, members, heartbeat_seconds=1.0))
    await stack.start(ready_timeout=ready_timeout)
    try:
        homes = [Path(node.home) for node in stack.nodes]
        share = {"cpu": 1, "ram": "1GiB", "disk": "1GiB", "gpus": []}

        def onboard(home: Path) -> None:
            api = NodeApi(home)
            try:
                api.call("onboarding", "/dms/node/onboarding/onboard", share)
            finally:
                api.close()

        await asyncio.gather(*(asyncio.to_thread(onboard, h) for h in homes[1:]))
        await wait_all_up(homes, members + 1)
        await wait_indexed(homes[0], members)
    except BaseException:
        await stack.stop()
        raise
    return stack


async def wait_all_up(homes: list[Path], nodes: int, timeout: float = 120) -> None:
    def up(home: Path) -> int:
        api = NodeApi(home)
        try:
            rows = api.call("peers", "/dms/node/peers/list")
        finally:
            api.close()
        return sum(1 for row in rows if row["state"] == "up")

    pending = set(homes)
    deadline = time.monotonic() + timeout
    while pending:
        counts = await asyncio.gather(*(asyncio.to_thread(up, h) for h in pending))
        pending = {h for h, n in zip(pending, counts, strict=True) if n < nodes - 1}
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} nodes do not see every peer up after {timeout} s")
        if pending:
            await asyncio.sleep(0.2)


async def wait_indexed(hub: Path, members: int, timeout: float = 120) -> None:
    """Until the hub's capability index has every member's offer: its catch-up with the swarm's
    logs since the start would otherwise compete with the first deployments for the CPU."""
    api = NodeApi(hub)
    ask = {"requirement": f"cpu={CPU}", "limit": 1000}
    deadline = time.monotonic() + timeout
    try:
        while (await asyncio.to_thread(api.call, "matching", "/dms/node/index/query", ask))[
            "matched"
        ] < members:
            if time.monotonic() > deadline:
                raise SystemExit(f"the hub's index lacks members' offers after {timeout} s")
            await asyncio.sleep(0.2)
    finally:
        api.close()


def stack_cpu_seconds(stack: DevStack) -> float:
    """CPU seconds the stack's processes (every node, its nats-server and log writer) have used
    so far, from /proc (Linux)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    ours = {node.pid for node in stack.nodes}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in ours} - ours
        grew = bool(children)
        ours |= children
    return sum(times.get(pid, 0.0) for pid in ours)


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


@dataclass(frozen=True)
class Spread:
    p50: float
    p90: float

    @classmethod
    def of(cls, samples: list[float]) -> Spread:
        ordered = sorted(samples)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        return cls(statistics.median(ordered), p90)
