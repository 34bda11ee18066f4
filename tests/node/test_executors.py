"""A node opens the executors its machine offers, and carries on without those it does not."""

from __future__ import annotations

from pathlib import Path

from nunet.executor.docker import DockerExecutor
from nunet.node import Node, parse_config
from tests.support.homes import PASSPHRASE, make_home


async def test_a_node_runs_work_with_docker_when_the_engine_answers(tmp_path: Path) -> None:
    config = parse_config({"mesh": {"mode": "memory"}})
    async with await Node.open(make_home(tmp_path / "home"), PASSPHRASE, config) as node:
        assert isinstance(node.executors["docker"], DockerExecutor)


async def test_a_node_without_an_engine_opens_without_the_docker_executor(tmp_path: Path) -> None:
    config = parse_config(
        {"mesh": {"mode": "memory"}, "executors": {"docker": {"socket": str(tmp_path / "none")}}}
    )
    async with await Node.open(make_home(tmp_path / "home"), PASSPHRASE, config) as node:
        assert "docker" not in node.executors
        status = await node.invoke_as_user("/public/status")
        assert status["did"] == node.did
