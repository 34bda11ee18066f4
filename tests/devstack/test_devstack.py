"""`nunet devstack` for real: separate processes on loopback, a swarm, a clean stop, no orphans."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nunet.api import find_api
from nunet.devstack import DevStack, StackPlan
from nunet.node import load_config
from tests.support.processes import processes_under

pytestmark = pytest.mark.slow

START_TIMEOUT = 90.0


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[dict[str, object]], Path]]:
    directory = tmp_path / "stack"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nunet",
            "-o",
            "json",
            "devstack",
            "--nodes",
            "2",
            "--dir",
            str(directory),
            "--heartbeat",
            "0.3",
            "--allocation-heartbeat",
            "0.5",
            "--missed-heartbeats",
            "6",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        text = ""
        deadline = time.monotonic() + START_TIMEOUT
        while not text.rstrip().endswith("]"):
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                _, err = process.communicate(timeout=30)
                raise AssertionError(f"devstack did not start:\n{text}\n{err}")
            text += line
        yield process, json.loads(text), directory
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes_under(directory):
            os.kill(pid, signal.SIGKILL)


def test_devstack_starts_a_swarm_and_sigterm_stops_every_process(
    stack: tuple[subprocess.Popen[str], list[dict[str, object]], Path],
) -> None:
    process, nodes, directory = stack
    assert [node["name"] for node in nodes] == ["hub", "node1", "node2"]
    dids = {str(node["did"]) for node in nodes}
    assert len(dids) == 3
    assert all(did.startswith("did:key:z6Mk") for did in dids)
    assert all(str(node["api"]).startswith("http://127.0.0.1:") for node in nodes)
    for node in nodes:
        config = load_config(Path(str(node["home"])) / "config.yaml")
        assert (config.orchestrator.heartbeat_seconds, config.orchestrator.missed_heartbeats) == (
            0.5,
            6,
        )

    def peers_seen_by_node1() -> set[str]:
        with find_api(directory / "node1") as client:
            rows = client.invoke(
                "/dms/node/peers/list",
                to={"did": str(nodes[1]["did"]), "actor": "peers", "node": str(nodes[1]["did"])},
            )
        return {row["did"] for row in rows if row["state"] == "up"}

    wait_until(lambda: peers_seen_by_node1() == dids - {str(nodes[1]["did"])}, 30, "peers up")
    running = processes_under(directory)
    assert len(running) >= 6  # three nodes and their three nats-servers

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert processes_under(directory) == []
    assert not (directory / "devstack.json").exists()


def test_a_node_that_dies_makes_the_devstack_stop_the_rest_and_fail(
    stack: tuple[subprocess.Popen[str], list[dict[str, object]], Path],
) -> None:
    process, nodes, directory = stack
    os.kill(int(str(nodes[2]["pid"])), signal.SIGKILL)
    assert process.wait(timeout=60) == 1
    _, err = process.communicate(timeout=5)
    assert "node2 exited" in err
    wait_until(lambda: processes_under(directory) == [], 15, "every process to end")


async def test_a_hub_port_taken_before_the_hub_binds_it_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        stack = DevStack(StackPlan(tmp_path / "stack", 1, hub_port=taken))
        try:
            nodes = await stack.start()
            assert [node.name for node in nodes] == ["hub", "node1"]
            assert stack.plan.hub_port != taken
        finally:
            await stack.stop()
    assert processes_under(tmp_path / "stack") == []
