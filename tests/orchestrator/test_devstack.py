"""Orchestration across real processes on real NATS: a devstack (a hub and three nodes, each a
`nunet run` process with its own nats-server), the three nodes onboarded through the CLI, and
ensembles deployed, followed and inspected through the CLI on the hub, which orchestrates
(it offers nothing itself, so every allocation runs on a member). Containers run on this
machine's Docker engine.

One stack serves the module: the tests run in file order, and the two that kill a node come
last (the first leaves two members alive, which is what the second needs). Every process and every container of the stack is removed at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from nunet.api import find_api
from nunet.cli.context import local_actor
from nunet.devstack import DevStack, RunningNode, StackPlan
from nunet.node.config import OrchestratorConfig
from nunet.orchestrator.behaviors import DEPLOYMENTS_ACTOR_ID, STATUS_BEHAVIOR
from tests.orchestrator.devstack_cli import CliRun, containers_of, nunet, remove_containers_of
from tests.support.processes import processes_under
from tests.support.swarm import peer_states

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

WAIT = 60.0
# A machine is lost after 6 missed heartbeats of 0.5 s: 3 s of silence (not less: on a busy
# machine a live node's heartbeat can be late by a second or two).
ORCHESTRATION = OrchestratorConfig(
    bid_timeout_seconds=1.0, heartbeat_seconds=0.5, missed_heartbeats=6
)
# Each member offers one core; every ensemble node below asks for 0.75 of one, so no machine
# can host two of them and a three-node ensemble needs all three members.
ONBOARD = (
    "onboard",
    "--cpu",
    "1",
    "--ram",
    "256MiB",
    "--disk",
    "256MiB",
    "--no-gpu",
    "--price",
    "cpu=3600,per_job=1",
)

PAID = """
version: nunet/v1
name: paid
allocations:
  job:
    resources: {cpu: 0.25, ram: 32MiB}
    execution:
      image: nunet-test/busybox:1
      command: echo paid for
nodes:
  n1:
    allocations: [job]
contract:
  currency: NTX
  budget: 50
  payment_interval: 2s
  grace_period: 30s
"""

THREE_MACHINES = """
version: nunet/v1
name: three-machines
allocations:
  fetch:
    resources: {cpu: 0.25, ram: 32MiB}
    execution:
      image: nunet-test/busybox:1
      command: echo fetched 3 records
  count:
    resources: {cpu: 0.5, ram: 32MiB}
    depends_on: [fetch]
    inputs: [{source: "inline:text,3", target: /in/n}]
    outputs: [{path: /out, destination: "nunet://results/three/count/"}]
    execution:
      image: nunet-test/busybox:1
      command: echo "counted $(seq 1 $(cat /in/n) | wc -l) records" | tee /out/count.txt
  left:
    resources: {cpu: 0.75, ram: 32MiB}
    outputs: [{path: /out, destination: "nunet://results/three/left/"}]
    execution:
      image: nunet-test/busybox:1
      command: echo left says hi | tee /out/hi.txt
  right:
    resources: {cpu: 0.75, ram: 32MiB}
    execution:
      image: nunet-test/busybox:1
      command: echo right says hi
nodes:
  a:
    allocations: [fetch, count]
  b:
    allocations: [left]
  c:
    allocations: [right]
"""

# Long enough to be killed mid-run; run again from the start on the machine that replaces it.
LONG_TASK = """
version: nunet/v1
name: outlives-its-machine
allocations:
  worker:
    resources: {cpu: 0.75, ram: 32MiB}
    restart: on-failure
    execution:
      image: nunet-test/busybox:1
      command: echo working; sleep 6; echo done
nodes:
  solo:
    allocations: [worker]
"""

# The same task on a machine with a standby machine committed beside it. It needs both members
# the kill test left alive, so it also proves that the machine it moved its node to was released.
STANDBY_TASK = """
version: nunet/v1
name: has-a-standby
allocations:
  worker:
    resources: {cpu: 0.75, ram: 32MiB}
    restart: on-failure
    execution:
      image: nunet-test/busybox:1
      command: echo working; sleep 6; echo done
nodes:
  solo:
    allocations: [worker]
    redundancy: 1
"""

# Three faults at three paths, plus a node that names an allocation nobody defined.
BROKEN = """
version: nunet/v1
name: broken
allocations:
  web:
    resources: {cpu: 0.5, ram: 4 GB}
    execution:
      command: echo no image
    restart: sometimes
nodes:
  n1:
    allocations: [web, ghost]
"""

# What each task's provider reports, in order (its `allocated` report may come before or after
# the provider's answer to allocate, and is only recorded when it comes first).
LIFE_OF_A_TASK = ("starting", "running", "exited", "released")


@dataclass
class Swarm:
    stack: DevStack
    hub: Path
    members: list[RunningNode]
    directory: Path
    killed: list[RunningNode] = field(default_factory=list)  # by the tests, in order

    async def cli(self, *args: str, timeout: float = WAIT) -> CliRun:
        """`nunet ARGS` against the hub, the orchestrating node."""
        return await nunet(self.stack, self.hub, *args, timeout=timeout)

    def member(self, did: str) -> RunningNode:
        return next(node for node in self.members if node.did == did)


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def swarm(
    tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> AsyncIterator[Swarm]:
    directory = tmp_path_factory.mktemp("orchestration") / "stack"
    stack = DevStack(StackPlan(directory, 3, heartbeat_seconds=0.3, orchestrator=ORCHESTRATION))
    dids: list[str] = []
    left_behind: list[int] = []
    try:
        nodes = await stack.start(ready_timeout=WAIT)
        dids = [node.did for node in nodes]
        hub, members = nodes[0], nodes[1:]
        swarm = Swarm(stack, Path(hub.home), members, directory)

        async def connected() -> bool:
            seen = await asyncio.to_thread(peer_states, Path(hub.home))
            return all(seen.get(m.did) == "up" for m in members)

        await wait_until(connected, "the hub to see its three members up", WAIT)
        onboarded = await asyncio.gather(*(nunet(stack, Path(m.home), *ONBOARD) for m in members))
        for done in onboarded:
            assert done.returncode == 0, done.explain()
        yield swarm
    finally:
        try:
            await stack.stop()
        finally:
            left_behind = processes_under(directory)
            for pid in left_behind:
                os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(remove_containers_of, dids)
    # Reached only when the module ran: a clean stop leaves no node and no nats-server behind.
    assert left_behind == [], f"processes left after the devstack stopped: {left_behind}"
    assert not [did for did in dids if containers_of(did)]


async def settled_status(swarm: Swarm, deployment: str, timeout: float = WAIT) -> Any:
    """`nunet deployments status ID -o json`, polled until the deployment has ended."""
    status: Any = None

    async def ended() -> bool:
        nonlocal status
        status = (await swarm.cli("-o", "json", "deployments", "status", deployment)).json()
        return status["state"] in ("completed", "failed", "expired", "shut_down")

    try:
        await wait_until(ended, f"deployment {deployment} to end", timeout)
    except AssertionError:
        history = await swarm.cli("deployments", "history", deployment)
        raise AssertionError(f"still {status}\n{history.stdout}") from None
    return status


async def kill_the_worker_machine(swarm: Swarm, deployment: str) -> RunningNode:
    """SIGKILL the node process whose machine runs the deployment's `worker`, once it runs
    (its provider DID from the status, the process from the devstack)."""
    worker: dict[str, Any] = {}

    async def working() -> bool:  # through the API: a CLI round trip may outlast the task
        nonlocal worker
        status = await asyncio.to_thread(deployment_status, swarm.hub, deployment)
        worker = status["allocations"]["worker"]
        assert status["state"] not in ("completed", "failed", "expired"), status
        return bool(worker["state"] == "running")

    await wait_until(working, "the worker to run", WAIT)
    victim = swarm.member(worker["provider"])
    assert containers_of(victim.did), "the worker runs in a container of its provider"
    os.kill(victim.pid, signal.SIGKILL)
    swarm.killed.append(victim)
    return victim


def deployment_status(home: Path, deployment: str) -> Any:
    """The deployment's status from the node's API, as `nunet deployments status` asks it."""
    with find_api(home) as client:
        return client.invoke(
            STATUS_BEHAVIOR,
            {"deployment": deployment},
            to=local_actor(client, DEPLOYMENTS_ACTOR_ID),
        )


async def history_entries(swarm: Swarm, deployment: str) -> list[dict[str, Any]]:
    """`nunet deployments history ID -o json`: every entry (at, type, summary), in order."""
    entries: list[dict[str, Any]] = (
        await swarm.cli("-o", "json", "deployments", "history", deployment)
    ).json()
    return entries


async def test_a_bad_ensemble_is_refused_with_every_problem_and_its_path(
    swarm: Swarm, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    done = await swarm.cli("deploy", "-f", str(broken))
    assert done.returncode != 0, done.explain()
    said = done.stdout + done.stderr
    assert "Traceback" not in said, said
    problems = [line.removeprefix("Error: invalid-ensemble: ") for line in said.splitlines()]
    for problem in (
        "allocations.web.execution.image: missing",
        "allocations.web.resources.ram: '4 GB' is ambiguous",
        "allocations.web.restart: 'sometimes' is not a restart",
        "nodes.n1.allocations[1]: unknown allocation 'ghost'",
    ):
        assert any(line.startswith(problem) for line in problems), f"{problem!r} not in:\n{said}"
    assert "use 4GiB" in said  # the fix, not only the fault

    unknown = await swarm.cli("deployments", "status", "nope")
    assert unknown.returncode != 0, unknown.explain()
    said = unknown.stdout + unknown.stderr
    assert "Traceback" not in said, said
    assert "no deployment 'nope' on this node" in said
    listed = (await swarm.cli("-o", "json", "deployments", "list")).json()
    assert listed == []  # nothing was deployed by either


async def test_an_ensemble_across_three_machines_completes_and_is_followed_through_the_cli(
    swarm: Swarm, tmp_path: Path
) -> None:
    ensemble = tmp_path / "three.yaml"
    ensemble.write_text(THREE_MACHINES)
    followed = await swarm.cli("deploy", "-f", str(ensemble), "--follow", "--timeout", "2m")
    assert followed.returncode == 0, followed.explain()
    lines = followed.stdout.splitlines()
    assert lines[0].startswith("deployment ")
    assert lines[0].endswith("(three-machines) submitted")
    deployment = lines[0].split()[1]
    progress = "\n".join(lines)
    for step in ("ensemble three-machines: 3 node(s), 4 allocation(s)", "matched ", "completed"):
        assert step in progress, progress
    assert f"deployment {deployment}: completed" in progress

    status = (await swarm.cli("-o", "json", "deployments", "status", deployment)).json()
    assert status["state"] == "completed"
    providers = {name: view["provider"] for name, view in status["allocations"].items()}
    assert providers["fetch"] == providers["count"]  # one ensemble node, one machine
    assert {providers["fetch"], providers["left"], providers["right"]} == {
        m.did for m in swarm.members
    }
    assert {name: r["exit_code"] for name, r in status["results"].items()} == {
        "fetch": 0,
        "count": 0,
        "left": 0,
        "right": 0,
    }

    logs = await swarm.cli("deployments", "logs", deployment)
    assert logs.returncode == 0, logs.explain()
    assert sorted(logs.stdout.splitlines()) == [
        "count | counted 3 records",
        "fetch | fetched 3 records",
        "left | left says hi",
        "right | right says hi",
    ]

    # Outputs went to the swarm's object store (the hubs' JetStream) from two machines; the
    # hub's CLI fetches them from there, each checked against its recorded checksum.
    downloaded = tmp_path / "results"
    fetched = await swarm.cli("deployments", "results", deployment, "--download", str(downloaded))
    assert fetched.returncode == 0, fetched.explain()
    assert (downloaded / "count" / "out" / "count.txt").read_text() == "counted 3 records\n"
    assert (downloaded / "left" / "out" / "hi.txt").read_text() == "left says hi\n"
    results = (await swarm.cli("-o", "json", "deployments", "results", deployment)).json()
    assert sorted(results["allocations"]) == ["count", "left"]

    history = await swarm.cli("deployments", "history", deployment)
    assert history.returncode == 0, history.explain()
    for did in providers.values():
        assert f"{did} committed node" in history.stdout
        assert f"{did} allocated" in history.stdout
    entries = await history_entries(swarm, deployment)
    types = [entry["type"] for entry in entries]
    assert types[0] == "deployment.submitted"
    assert types[-1] == "deployment.completed"
    course = [
        "deployment.matching",
        "deployment.matched",
        "deployment.committed",
        "deployment.allocated",
        "deployment.running",
        "deployment.tasks_done",
        "deployment.result",
        "deployment.torn_down",
    ]
    assert _in_order(types, course), history.stdout
    for name in ("fetch", "count", "left", "right"):
        reports = [
            entry["summary"].split(",")[0].split(":")[0]
            for entry in entries
            if entry["type"] == "deployment.allocation_state"
            and entry["summary"].startswith(f"{name} ")
            and entry["summary"] != f"{name} allocated"
        ]
        assert reports == [f"{name} {s}" for s in LIFE_OF_A_TASK], history.stdout

    for did in providers.values():  # torn down: every machine removed what it ran
        assert f"{did} reverted node" in history.stdout
        assert containers_of(did) == []

    listed = (await swarm.cli("-o", "json", "deployments", "list")).json()
    assert {row["deployment"]: row["state"] for row in listed}[deployment] == "completed"


async def test_a_deployment_is_paid_for_and_both_logs_pass_the_audit_through_the_cli(
    swarm: Swarm, tmp_path: Path
) -> None:
    ensemble = tmp_path / "paid.yaml"
    ensemble.write_text(PAID)
    followed = await swarm.cli("deploy", "-f", str(ensemble), "--follow", "--timeout", "2m")
    assert followed.returncode == 0, followed.explain()
    deployment = followed.stdout.splitlines()[0].split()[1]
    status = (await swarm.cli("-o", "json", "deployments", "status", deployment)).json()
    provider = swarm.member(status["allocations"]["job"]["provider"])

    async def listed(home: Path) -> list[dict[str, Any]]:
        run = await nunet(
            swarm.stack, home, "-o", "json", "contracts", "list", "--deployment", deployment
        )
        return list(run.json())

    async def both_settled() -> bool:
        rows = await listed(swarm.hub) + await listed(Path(provider.home))
        return len(rows) == 2 and all(row["status"] == "settled" for row in rows)

    await wait_until(both_settled, "the contract settled on both sides", WAIT)
    mine, theirs = (await listed(swarm.hub))[0], (await listed(Path(provider.home)))[0]
    assert mine["contract_id"] == theirs["contract_id"]
    assert (mine["role"], theirs["role"]) == ("requester", "provider")
    assert mine["paid_micro"] == theirs["paid_micro"] >= 1_000_000  # the per-job price at least

    shown = (await swarm.cli("-o", "json", "contracts", "show", mine["contract_id"][:8])).json()
    assert shown["terms"]["budget_micro"] == 50_000_000  # the ensemble's budget, one node
    payments = (await swarm.cli("-o", "json", "payments", "show", mine["contract_id"])).json()
    assert payments, payments
    exported = tmp_path / "payments.csv"
    done = await swarm.cli("payments", "export", "--format", "csv", "--output", str(exported))
    assert done.returncode == 0, done.explain()
    rows = list(csv.DictReader(exported.read_text().splitlines()))
    kinds = {row["kind"] for row in rows if row["contract_id"] == mine["contract_id"]}
    assert {"voucher", "settlement"} <= kinds, kinds

    hub_log = swarm.hub / "log" / "events.db"
    provider_log = Path(provider.home) / "log" / "events.db"
    audited = await swarm.cli("audit", str(hub_log), str(provider_log))
    assert audited.returncode == 0, audited.explain()
    assert "consistent" in audited.stdout


def _in_order(types: list[str], course: list[str]) -> bool:
    """Whether each step of `course` happens, the first of each after the first of the last."""
    firsts = [types.index(step) for step in course if step in types]
    return len(firsts) == len(course) and firsts == sorted(firsts)


async def test_a_machine_killed_mid_task_is_replaced_and_the_deployment_completes(
    swarm: Swarm, tmp_path: Path
) -> None:
    ensemble = tmp_path / "long.yaml"
    ensemble.write_text(LONG_TASK)
    deployment = (await swarm.cli("-o", "json", "deploy", "-f", str(ensemble))).json()["deployment"]
    victim = await kill_the_worker_machine(swarm, deployment)

    status = await settled_status(swarm, deployment)
    history = await swarm.cli("deployments", "history", deployment)
    assert status["state"] == "completed", history.stdout
    moved_to = status["allocations"]["worker"]["provider"]
    assert moved_to != victim.did
    assert moved_to in {m.did for m in swarm.members}
    assert status["results"]["worker"]["exit_code"] == 0

    entries = await history_entries(swarm, deployment)
    types = [entry["type"] for entry in entries]
    lost = types.index("deployment.node_lost")
    rescheduled = types.index("deployment.rescheduled")
    assert lost < rescheduled < types.index("deployment.completed"), history.stdout
    assert victim.did in entries[lost]["summary"]
    assert f"node solo moved {victim.did} → {moved_to}" == entries[rescheduled]["summary"]
    assert f"{moved_to} allocated worker of solo" in history.stdout
    # The new machine is the node's now: torn down with the deployment, nothing left running.
    assert f"{moved_to} reverted node solo" in history.stdout
    assert containers_of(moved_to) == []

    logs = await swarm.cli("deployments", "logs", deployment)
    assert logs.returncode == 0, logs.explain()
    assert logs.stdout.splitlines()[-1] == "worker | done"


async def test_a_lost_machine_with_a_standby_hands_its_node_to_the_standby(
    swarm: Swarm, tmp_path: Path
) -> None:
    ensemble = tmp_path / "standby.yaml"
    ensemble.write_text(STANDBY_TASK)
    deployment = (await swarm.cli("-o", "json", "deploy", "-f", str(ensemble))).json()["deployment"]
    victim = await kill_the_worker_machine(swarm, deployment)

    status = await settled_status(swarm, deployment)
    history = await swarm.cli("deployments", "history", deployment)
    assert status["state"] == "completed", history.stdout
    standby = status["allocations"]["worker"]["provider"]
    assert standby not in (victim.did, None)
    assert f"standby {standby} committed node solo" in history.stdout
    entries = await history_entries(swarm, deployment)
    types = [entry["type"] for entry in entries]
    lost = types.index("deployment.node_lost")
    rescheduled = types.index("deployment.rescheduled")
    assert lost < rescheduled < types.index("deployment.completed"), history.stdout
    assert "deployment.matching" not in types[lost:]  # no new bid round: the standby was ready
    assert entries[rescheduled]["summary"] == (
        f"node solo moved {victim.did} → {standby} (standby)"
    )
    assert f"{standby} reverted node solo" in history.stdout  # released at teardown
    assert containers_of(standby) == []
    assert status["results"]["worker"]["exit_code"] == 0


async def test_a_killed_machine_that_comes_back_keeps_nothing_of_the_node_it_lost(
    swarm: Swarm,
) -> None:
    if not swarm.killed:
        pytest.fail("needs a machine killed by the tests before it")
    victim = swarm.killed[0]
    process = swarm.stack.process(victim.name)
    await process.start()
    await process.wait_ready(WAIT)
    # The provider recovers from its log: the worker's container ended while it was down, so
    # the executor removes it; the commitment of the node that moved away must not keep its
    # share reserved.
    assert containers_of(victim.did) == []

    async def share_free() -> bool:
        status = (await nunet(swarm.stack, Path(victim.home), "-o", "json", "status")).json()
        return bool(status["free"]["cpu"] == 1.0)

    await wait_until(share_free, "the returned machine's share to be free again", 10)
