"""Queueing: what no machine can hold waits with a reason naming the constraint, expires after
its queue timeout saying why, and is deployed once a machine that fits turns up."""

from __future__ import annotations

from nunet.orchestrator.events import DeploymentQueued
from tests.orchestrator.swarm import (
    SMALL,
    Swarm,
    deploy,
    events,
    settled,
    swarm,
    torn_down,
)

__all__ = ["swarm"]

TASK = """
version: nunet/v1
name: waiting
allocations:
  work:
    execution: {{image: nunet-test/busybox:1, command: echo done}}
    {resources}
nodes:
  n1: {{allocations: [work]}}
"""


async def test_what_no_machine_can_hold_queues_naming_the_constraint_then_expires(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    await swarm.providers("small")
    deployment = await deploy(
        hub, TASK.format(resources="resources: {cpu: 64, ram: 64MiB}"), queue_timeout=2.0
    )
    queued = await settled(hub, deployment, "queued")
    assert queued["state"] == "queued", queued
    assert "cpu" in queued["why"], queued["why"]

    status = await torn_down(hub, deployment)
    assert status["state"] == "expired", status
    assert "cpu" in status["why"], status["why"]
    waits = await events(hub, DeploymentQueued, deployment)
    assert waits, "it expired without ever queueing"
    assert all(w.retry_in <= 2.0 for w in waits)  # never waits past its deadline


async def test_a_queued_deployment_is_placed_once_a_machine_that_fits_is_onboarded(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    deployment = await deploy(hub, TASK.format(resources=SMALL))
    queued = await settled(hub, deployment, "queued")
    assert queued["state"] == "queued", queued
    assert queued["why"], queued

    (late,) = await swarm.providers("late")
    status = await settled(hub, deployment, "completed")
    assert status["state"] == "completed", status
    assert status["nodes"]["n1"]["provider"] == late.did
    assert status["results"]["work"]["exit_code"] == 0
