"""A multi-allocation ensemble on three machines: depends_on honoured, a health-checked service
reaching healthy, a task's logs kept after it ended, and a shutdown that releases everything."""

from __future__ import annotations

from nunet.orchestrator.behaviors import LOGS_BEHAVIOR, SHUTDOWN_BEHAVIOR
from nunet.orchestrator.events import AllocationStateChanged
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    ask,
    containers_of,
    deploy,
    events,
    free,
    swarm,
    wait_until,
)

__all__ = ["swarm"]

TRIO = """
version: nunet/v1
name: trio
allocations:
  db:
    type: service
    execution:
      image: nunet-test/busybox:1
      command: "sleep 1; touch /tmp/ready; while true; do sleep 1; done"
    {small}
    healthcheck: {{exec: "test -f /tmp/ready", interval: 200ms, retries: 100}}
  migrate:
    depends_on: [db]
    execution: {{image: nunet-test/busybox:1, command: echo migrated}}
    {small}
  report:
    depends_on: [migrate]
    execution: {{image: nunet-test/busybox:1, command: echo reported}}
    {small}
nodes:
  store: {{allocations: [db], peer: "{p1}"}}
  batch: {{allocations: [migrate], peer: "{p2}"}}
  office: {{allocations: [report], peer: "{p3}"}}
"""


async def test_three_machines_start_in_dependency_order_and_shut_down_clean(swarm: Swarm) -> None:
    hub = await swarm.open("hub")
    providers = await swarm.providers("p1", "p2", "p3")
    before = {node.did: free(node) for node in providers}
    ensemble = TRIO.format(small=SMALL, **{f"p{i}": n.did for i, n in enumerate(providers, 1)})
    deployment = await deploy(hub, ensemble)

    status = await wait_until(
        hub,
        deployment,
        lambda s: s["state"] == "running" and s["allocations"]["report"]["exit_code"] == 0,
        "running with report done",
    )
    assert {name: view["provider"] for name, view in status["nodes"].items()} == {
        "store": providers[0].did,
        "batch": providers[1].did,
        "office": providers[2].did,
    }
    assert status["allocations"]["db"]["healthy"] is True
    assert status["allocations"]["db"]["state"] == "running"

    changes = await events(hub, AllocationStateChanged, deployment)
    healthy_at = min(e.at for e in changes if e.allocation == "db" and e.healthy)
    started_at = {
        name: min(e.at for e in changes if e.allocation == name and e.state != "allocated")
        for name in ("migrate", "report")
    }
    migrate_up_at = min(
        e.at for e in changes if e.allocation == "migrate" and e.state in ("running", "exited")
    )
    assert healthy_at <= started_at["migrate"], "migrate started before db was healthy"
    assert migrate_up_at <= started_at["report"], "report started before migrate was running"
    assert any(
        e.allocation == "db" and e.state == "running" and not e.healthy and e.at < healthy_at
        for e in changes
    ), "db was never seen running before its health check passed"

    logs = await ask(hub, LOGS_BEHAVIOR, {"deployment": deployment, "allocation": "migrate"})
    assert [line[2] for line in logs["logs"]["migrate"]] == ["migrated"]

    final = await ask(hub, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    assert final["state"] == "shut_down", final
    assert {view["state"] for view in final["allocations"].values()} == {"released"}
    assert {node.did: free(node) for node in providers} == before
    for node in providers:
        assert await containers_of(node) == []
    logs = await ask(hub, LOGS_BEHAVIOR, {"deployment": deployment, "allocation": "report"})
    assert [line[2] for line in logs["logs"]["report"]] == ["reported"]
