"""A deployment with a sub-ensemble (two levels) and nested supervisors, in the shape of
docs/examples/nested.yaml: qualified names end to end, a nested supervisor restarting its
subtree, escalating to its parent past its intensity, and the parent restarting that subtree."""

from __future__ import annotations

from nunet.orchestrator.behaviors import SHUTDOWN_BEHAVIOR
from nunet.orchestrator.events import AllocationsRestarted, SupervisorEscalated
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    ask,
    containers_of,
    crash,
    deploy,
    events,
    free,
    swarm,
    wait_until,
)

__all__ = ["swarm"]

LOOP = '"while true; do sleep 1; done"'
NESTED = f"""
version: nunet/v1
name: pipeline
allocations:
  ingest: {{type: service, execution: {{image: nunet-test/busybox:1, command: {LOOP}}}, {SMALL}}}
  cache: {{type: service, execution: {{image: nunet-test/busybox:1, command: {LOOP}}}, {SMALL}}}
  report:
    depends_on: [ingest, analytics.worker]
    execution: {{image: nunet-test/busybox:1, command: [echo, report done]}}
    {SMALL}
nodes:
  edge: {{allocations: [ingest, cache]}}
  office: {{allocations: [report]}}
edges:
  - {{between: [edge, analytics.compute], rtt: 80ms}}
supervisor:
  strategy: one-for-one
  children:
    - supervisor:
        strategy: all-for-one
        intensity: {{restarts: 1, period: 60s}}
        children: [ingest, cache]
    - ensemble: analytics
    - report
ensembles:
  analytics:
    allocations:
      worker: {{type: service, execution: {{image: nunet-test/busybox:1, command: {LOOP}}}, {SMALL}}}
      sink:
        depends_on: [worker]
        execution: {{image: nunet-test/busybox:1, command: [echo, sunk]}}
        {SMALL}
    nodes:
      compute: {{allocations: [worker, sink]}}
    supervisor:
      strategy: rest-for-one
      children: [worker, sink, {{ensemble: archive}}]
    ensembles:
      archive:
        allocations:
          store:
            execution: {{image: nunet-test/busybox:1, command: [echo, stored]}}
            {SMALL}
        nodes:
          vault: {{allocations: [store]}}
"""
ALLOCATIONS = {
    "ingest": "edge",
    "cache": "edge",
    "report": "office",
    "analytics.worker": "analytics.compute",
    "analytics.sink": "analytics.compute",
    "analytics.archive.store": "analytics.archive.vault",
}


def restarted(run: int, *names: str):  # type: ignore[no-untyped-def]
    """A status test: every one of `names` is running its `run`th time."""
    return lambda s: all(
        (s["allocations"][n]["state"], s["allocations"][n]["run"]) == ("running", run)
        for n in names
    )


async def test_a_nested_supervisor_restarts_its_subtree_then_escalates_to_its_parent(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    providers = await swarm.providers("p1", "p2", cpu=1.0)
    before = {node.did: free(node) for node in providers}
    deployment = await deploy(hub, NESTED)
    tasks = ("report", "analytics.sink", "analytics.archive.store")
    status = await wait_until(
        hub,
        deployment,
        lambda s: (
            s["state"] == "running" and all(s["allocations"][t]["exit_code"] == 0 for t in tasks)
        ),
        "running with every task done",
    )
    assert {name: view["node"] for name, view in status["allocations"].items()} == ALLOCATIONS
    assert set(status["nodes"]) == set(ALLOCATIONS.values())

    await crash(deployment, "ingest")  # all-for-one under s0: both restart
    await wait_until(hub, deployment, restarted(2, "ingest", "cache"), "s0 restarted")
    await crash(deployment, "ingest")  # past s0's intensity: it escalates, the root restarts it
    status = await wait_until(hub, deployment, restarted(3, "ingest", "cache"), "s0 restarted")
    assert status["state"] == "running", status
    assert status["allocations"]["analytics.worker"]["run"] == 1

    restarts = [
        (e.supervisor, sorted(e.allocations), e.strategy)
        for e in await events(hub, AllocationsRestarted, deployment)
    ]
    assert restarts == [
        ("s0", ["cache", "ingest"], "all-for-one"),
        ("", ["cache", "ingest"], "one-for-one"),
    ]
    (escalation,) = await events(hub, SupervisorEscalated, deployment)
    assert escalation.supervisor == "s0"
    assert "ingest" in escalation.why

    await crash(deployment, "analytics.worker")  # rest-for-one inside the sub-ensemble
    status = await wait_until(hub, deployment, restarted(2, "analytics.worker"), "worker back")
    last = (await events(hub, AllocationsRestarted, deployment))[-1]
    assert (last.supervisor, last.allocations[0], last.strategy) == (
        "analytics",
        "analytics.worker",
        "rest-for-one",
    )

    final = await ask(hub, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    assert final["state"] == "shut_down", final
    assert {node.did: free(node) for node in providers} == before
    for node in providers:
        assert await containers_of(node) == []
