"""A node opens the executors its machine offers, and carries on without those it does not."""

from __future__ import annotations

from pathlib import Path

from nunet.executor.docker import DockerExecutor
from nunet.executor.microvm import MicroVMExecutor
from nunet.node import Node, parse_config
from tests.support.homes import PASSPHRASE, make_home


async def test_a_node_runs_work_with_docker_and_microvms_when_its_machine_offers_them(
    tmp_path: Path,
) -> None:
    config = parse_config({"mesh": {"mode": "memory"}})
    async with await Node.open(make_home(tmp_path / "home"), PASSPHRASE, config) as node:
        assert isinstance(node.executors["docker"], DockerExecutor)
        assert isinstance(node.executors["qemu"], MicroVMExecutor)
        status = await node.invoke_as_user(
            "/dms/node/onboarding/status", to=node.system.handle_of("onboarding")
        )
        assert status["executors"] == ["docker", "qemu"]  # what the node offers, as opened


async def test_a_node_without_a_guest_kernel_opens_without_the_microvm_executor(
    tmp_path: Path,
) -> None:
    config = parse_config(
        {"mesh": {"mode": "memory"}, "executors": {"microvm": {"kernel_dir": str(tmp_path)}}}
    )
    async with await Node.open(make_home(tmp_path / "home"), PASSPHRASE, config) as node:
        assert "qemu" not in node.executors
        assert "docker" in node.executors


async def test_a_node_without_an_engine_opens_without_the_docker_executor(tmp_path: Path) -> None:
    config = parse_config(
        {"mesh": {"mode": "memory"}, "executors": {"docker": {"socket": str(tmp_path / "none")}}}
    )
    async with await Node.open(make_home(tmp_path / "home"), PASSPHRASE, config) as node:
        assert "docker" not in node.executors
        status = await node.invoke_as_user("/public/status")
        assert status["did"] == node.did
