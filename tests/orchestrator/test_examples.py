"""The main job's sample ensemble (docs/examples/pipeline.yaml) deployed on four whole nodes:
one orchestrating, three providers of half a core each, so each ensemble node has its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from nunet.onboarding import ONBOARDING_ACTOR_ID
from nunet.onboarding.behaviors import STATUS_BEHAVIOR as ONBOARDING_STATUS
from nunet.orchestrator.behaviors import (
    HISTORY_BEHAVIOR,
    LOGS_BEHAVIOR,
    SHUTDOWN_BEHAVIOR,
    STATUS_BEHAVIOR,
)
from tests.orchestrator.swarm import WAIT, Swarm, ask, deploy, settled

PIPELINE = Path(__file__).parents[2] / "docs" / "examples" / "pipeline.yaml"


@pytest.fixture
async def swarm(tmp_path: Path, busybox_image: str) -> AsyncIterator[Swarm]:
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits)


async def test_the_sample_pipeline_runs_on_three_machines_and_shuts_down_clean(
    swarm: Swarm,
) -> None:
    hub = await swarm.open("hub")
    providers = [await swarm.open(f"node{i}") for i in (1, 2, 3)]
    await swarm.mesh(hub, *providers)
    for node in providers:
        await swarm.onboard(node, cpu=0.5)
    deployment = await deploy(hub, PIPELINE.read_text(), source=PIPELINE.name)

    status = await settled(hub, deployment, "running")
    assert status["state"] == "running", status
    placed = {name: view["provider"] for name, view in status["nodes"].items()}
    assert sorted(placed.values()) == sorted(node.did for node in providers)

    tasks = ("generate", "digest", "report")
    async with asyncio.timeout(WAIT):
        while True:
            status = await ask(hub, STATUS_BEHAVIOR, {"deployment": deployment})
            if all(status["allocations"][t]["exit_code"] is not None for t in tasks):
                break
            await asyncio.sleep(0.1)
    assert [status["allocations"][t]["exit_code"] for t in tasks] == [0, 0, 0], (
        status["allocations"]["generate"],
        await ask(hub, HISTORY_BEHAVIOR, {"deployment": deployment}),
    )
    assert status["allocations"]["status-page"]["healthy"] is True
    logs = (await ask(hub, LOGS_BEHAVIOR, {"deployment": deployment}))["logs"]
    assert [line[2] for line in logs["generate"]][-1].startswith("200000 numbers, md5 ")
    assert [line[2] for line in logs["digest"]] == ["sum of 1..1000 is 500500"]
    (report,) = (line[2] for line in logs["report"])
    assert report.startswith("hello from the swarm at ")

    final = await ask(hub, SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    assert final["state"] == "shut_down", final
    assert {view["state"] for view in final["allocations"].values()} == {"released"}
    for node in providers:  # every reservation released, nothing left on the engine
        ledger = await node.invoke_as_user(
            ONBOARDING_STATUS, to=node.system.handle_of(ONBOARDING_ACTOR_ID), timeout=WAIT
        )
        assert ledger["allocations"] == {}, (node.did, ledger["allocations"])
