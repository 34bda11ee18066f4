"""Deploying ensembles across whole nodes: placement, two-phase commit, start order,
supervision, results and teardown, against the real Docker engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from nunet.orchestrator.behaviors import HISTORY_BEHAVIOR, LOGS_BEHAVIOR
from tests.orchestrator.swarm import Swarm, ask, deploy, settled

HELLO = """
version: nunet/v1
name: hello
allocations:
  hello:
    execution:
      image: nunet-test/busybox:1
      command: echo hello from nunet
    resources: {cpu: 0.25, ram: 64MiB}
nodes:
  n1:
    allocations: [hello]
"""


@pytest.fixture
async def swarm(tmp_path: Path, busybox_image: str) -> AsyncIterator[Swarm]:
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits)


async def test_a_one_task_ensemble_runs_to_completion_and_its_output_is_kept(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await swarm.mesh(a, b)
    await swarm.onboard(b)
    deployment = await deploy(a, HELLO)
    status = await settled(a, deployment)
    assert status["state"] == "completed", status
    hello = status["allocations"]["hello"]
    assert hello["provider"] == b.did
    assert (hello["state"], hello["exit_code"]) == ("released", 0)  # ended, then torn down
    assert status["results"]["hello"] == {"state": "exited", "exit_code": 0, "log_lines": 1}
    logs = await ask(a, LOGS_BEHAVIOR, {"deployment": deployment})
    assert [line[2] for line in logs["logs"]["hello"]] == ["hello from nunet"]
    history = await ask(a, HISTORY_BEHAVIOR, {"deployment": deployment})
    types = [entry["type"] for entry in history["entries"]]
    assert types[0] == "deployment.submitted"
    assert types[-1] == "deployment.completed"
    assert "deployment.torn_down" in types
