"""The orchestrating node restarts while a service runs elsewhere: its deployments actor
rebuilds the deployment from the log and re-attaches — the service is not started again, its
reports reach the new orchestrator (which still supervises it), and shutdown still releases
everything."""

from __future__ import annotations

from nunet.orchestrator.behaviors import SHUTDOWN_BEHAVIOR
from nunet.orchestrator.events import AllocationsRestarted, NodeLost
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    ask,
    containers_of,
    crash,
    deploy,
    events,
    free,
    settled,
    swarm,
    wait_until,
)

__all__ = ["swarm"]

SERVICE = f"""
version: nunet/v1
name: steady
allocations:
  api:
    type: service
    execution: {{image: nunet-test/busybox:1, command: "while true; do sleep 1; done"}}
    {SMALL}
nodes:
  n1: {{allocations: [api]}}
"""


def api_running(run: int):  # type: ignore[no-untyped-def]
    return lambda s: (
        (s["allocations"]["api"]["state"], s["allocations"]["api"]["run"])
        == (
            "running",
            run,
        )
    )


async def test_a_restarted_orchestrator_re_attaches_to_what_runs_and_can_still_release_it(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    (p1,) = await swarm.providers("p1")
    before = free(p1)
    deployment = await deploy(hub, SERVICE)
    status = await settled(hub, deployment, "running")
    assert status["state"] == "running", status

    await hub.close()
    hub = await swarm.open("hub")
    status = await settled(hub, deployment, "running")
    assert status["state"] == "running", status
    assert status["allocations"]["api"]["run"] == 1  # re-attached, not started again

    await crash(deployment, "api")  # its report reaches the new orchestrator, which restarts it
    status = await wait_until(hub, deployment, api_running(2), "api restarted")
    (restart,) = await events(hub, AllocationsRestarted, deployment)
    assert restart.allocations == ["api"]
    assert await events(hub, NodeLost, deployment) == []  # its heartbeats reach it too

    final = await ask(hub, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    assert final["state"] == "shut_down", final
    assert final["torn_down"], final
    assert free(p1) == before
    assert await containers_of(p1) == []
