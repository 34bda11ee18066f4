"""Search for real: a devstack (a hub and two nodes, each a `nunet run` process with its own
nats-server), onboarded and searched through the CLI, bids crossing the embedded mesh."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nunet.devstack import DevStack, StackPlan
from tests.support.swarm import peer_states, wait_until

pytestmark = pytest.mark.slow

WAIT = 60.0


def nunet(stack: DevStack, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUNET_HOME": str(home)}
    env.pop("NUNET_PASSPHRASE", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "nunet",
            "--passphrase-file",
            str(stack.plan.passphrase_file),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[DevStack, list[Path]]]:
    stack = DevStack(StackPlan(tmp_path / "stack", 2, heartbeat_seconds=0.3))
    await stack.start(ready_timeout=WAIT)
    try:
        homes = [Path(node.home) for node in stack.nodes]

        async def everyone_up() -> bool:
            states = await asyncio.gather(*(asyncio.to_thread(peer_states, h) for h in homes))
            return all(list(s.values()).count("up") == 2 for s in states)

        await wait_until(everyone_up, "every node to see the two others up", timeout=WAIT)
        yield stack, homes
    finally:
        await stack.stop()


def search(stack: DevStack, home: Path, requirement: str) -> tuple[int, Any]:
    done = nunet(stack, home, "-o", "json", "search", "--require", requirement, "--timeout", "10")
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else done.stderr


async def test_nodes_onboarded_through_the_cli_are_found_ranked_and_explained(
    stack: tuple[DevStack, list[Path]],
) -> None:
    devstack, (hub, node1, node2) = stack
    onboard = ["onboard", "--cpu", "1", "--ram", "128MiB", "--disk", "64MiB", "--no-gpu"]
    done = nunet(devstack, node1, *onboard, "--price", "cpu=0.5", "--location", "EU/DE")
    assert done.returncode == 0, done.stderr
    done = nunet(devstack, node2, *onboard, "--price", "cpu=0.1", "--location", "EU/FR")
    assert done.returncode == 0, done.stderr
    dids = {
        home: json.loads(nunet(devstack, home, "-o", "json", "peers", "self").stdout)["did"]
        for home in (hub, node1, node2)
    }

    status, answer = await asyncio.to_thread(search, devstack, hub, "cpu=0.5,ram=64MiB")
    assert status == 0, answer
    assert [c["did"] for c in answer["candidates"]] == [dids[node2], dids[node1]]  # cheaper first
    assert answer["excluded"] == {"onboarded": 1}  # the hub offers nothing

    status, answer = await asyncio.to_thread(
        search, devstack, node1, "cpu=0.5,reject-location=EU/FR"
    )
    assert [c["did"] for c in answer["candidates"]] == [dids[node1]]
    assert answer["excluded"] == {"onboarded": 1, "location": 1}

    # The hub's capability index hears of both from their replicated logs, without a bid round.
    async def indexed() -> bool:
        done = await asyncio.to_thread(
            nunet, devstack, hub, "-o", "json", "search", "--index", "-r", "cpu=0.5,ram=64MiB"
        )
        answer = json.loads(done.stdout)
        return len(answer["candidates"]) == 2

    await wait_until(indexed, "the hub's index to list both onboarded nodes", timeout=WAIT)
    done = await asyncio.to_thread(
        nunet, devstack, hub, "-o", "json", "search", "--index", "-r", "cpu=0.5,location=EU/FR"
    )
    answer = json.loads(done.stdout)
    assert [c["did"] for c in answer["candidates"]] == [dids[node2]]
    assert answer["excluded"] == {"location": 1}
    assert answer["considered"] == 2

    done = await asyncio.to_thread(
        nunet, devstack, hub, "search", "--require", "cpu=64,ram=64MiB", "--timeout", "10"
    )
    assert done.returncode == 3
    assert "no node can serve this: 3 node(s) declined (onboarded: 1, cpu: 2)" in done.stdout


async def test_a_bad_requirement_on_the_command_line_names_the_field(
    stack: tuple[DevStack, list[Path]],
) -> None:
    devstack, (hub, _, _) = stack
    done = await asyncio.to_thread(nunet, devstack, hub, "search", "--require", "ram=4G")
    assert done.returncode == 1
    assert "ram" in done.stderr
    assert "4GiB" in done.stderr
    assert "Traceback" not in done.stderr
