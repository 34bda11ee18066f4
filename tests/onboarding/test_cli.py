"""`nunet onboard | offboard | status | benchmark | hardware` through click's CliRunner against a
node's real local API over loopback TCP, on this machine's real hardware (what is asked is
small enough for any machine; what is refused is more than any machine has)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from nunet.api import ApiServer, create_app
from nunet.cli.context import CliContext, NunetGroup
from nunet.cli.onboarding import benchmark, hardware, offboard, onboard, status
from nunet.identity import KeyStore
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.node import Node, NodeConfig, parse_config
from nunet.onboarding import ONBOARDING_ACTOR_ID, OnboardingActor
from tests.support.homes import PASSPHRASE, make_home

TOKEN = "onboarding-test-token"


@click.group(cls=NunetGroup)
def nunet() -> None:
    """The commands under test, as `nunet.cli` registers them."""


for _command in (onboard, offboard, status, benchmark, hardware):
    nunet.add_command(_command)


def node_config() -> NodeConfig:
    raw: dict[str, object] = {"mesh": {"mode": "memory"}}
    if "onboarding" in NodeConfig.__struct_fields__:  # once the node wires onboarding in
        raw["onboarding"] = {"benchmark_on_onboard": False, "benchmark_budget_seconds": 1.0}
    return parse_config(raw)


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[Path]:
    home = make_home(tmp_path / "home")
    did = KeyStore(home / "keys", "").did("dms")
    node = await Node.open(
        home, PASSPHRASE, node_config(), transport=InMemoryTransport(InMemoryNetwork(), did)
    )
    try:
        if ONBOARDING_ACTOR_ID not in node.system.actor_ids():  # until node.py spawns it
            actor = OnboardingActor(
                home, node.store, benchmark_on_onboard=False, benchmark_budget_seconds=1.0
            )
            await node.system.spawn(actor, ONBOARDING_ACTOR_ID)
        server = ApiServer(
            create_app(node, token=TOKEN),
            host="127.0.0.1",
            port=0,
            socket_path=None,
            info_path=home / "api.json",
            token=TOKEN,
        )
        await server.start()
        try:
            yield home
        finally:
            await server.stop()
    finally:
        await node.close()


async def run(home: Path, *args: str) -> Result:
    # In a thread: the command's HTTP client blocks, and the node answers on this loop.
    context = CliContext(home, None, "table")
    return await asyncio.to_thread(CliRunner().invoke, nunet, list(args), obj=context)


async def json_of(home: Path, *args: str) -> dict[str, object]:
    result = await run(home, *args, "-o", "json")
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.output)
    return answer


async def test_onboard_resize_status_and_offboard(home: Path) -> None:
    idle = await run(home, "status")
    assert idle.exit_code == 0, idle.output
    assert idle.output.startswith("not onboarded")

    onboarded = await run(
        home,
        "onboard",
        "--cpu", "1",
        "--ram", "256MiB",
        "--disk", "64MiB",
        "--no-gpu",
        "--price", "cpu=0.1,ram=0.05,currency=NTX",
        "--location", "EU/DE/Berlin",
        "--label", "tier=gold",
        "--label", "zone=a",
    )  # fmt: skip
    assert onboarded.exit_code == 0, onboarded.output
    lines = onboarded.output.splitlines()
    assert lines[0].split() == ["RESOURCE", "ONBOARDED", "ALLOCATED", "FREE"]
    assert lines[1].split() == ["cpu", "1", "0", "1"]
    assert lines[2].split() == ["ram", "256MiB", "0B", "256MiB"]
    assert lines[3].split() == ["disk", "64MiB", "0B", "64MiB"]
    assert lines[4].split() == ["gpus", "-", "-", "-"]
    assert "price: cpu 0.1, ram 0.05, disk 0, gpu 0 NTX/h" in onboarded.output
    assert "location: EU/DE/Berlin" in onboarded.output
    assert "labels: tier=gold, zone=a" in onboarded.output
    assert "benchmark: none yet" in onboarded.output

    resized = await json_of(home, "onboard", "--cpu", "0.5")
    reservation = resized["reservation"]
    assert isinstance(reservation, dict)
    assert reservation["resources"]["cpu"] == 0.5
    assert reservation["resources"]["ram"] == 256 << 20  # kept

    summary = await run(home, "benchmark", "--budget", "1")
    assert summary.exit_code == 0, summary.output
    assert summary.output.startswith("benchmark: ")
    after = await json_of(home, "status")
    assert isinstance(after["benchmark"], dict)
    assert after["benchmark"]["measured_at"] > 0

    gone = await run(home, "offboard", "--reason", "done")
    assert gone.exit_code == 0, gone.output
    assert gone.output.startswith("not onboarded")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ("--cpu", "100000", "--ram", "1GiB", "--disk", "1GiB"),
            "exceeds-machine: cpu: 100000 cores",
        ),
        (("--cpu", "1", "--ram", "64PiB", "--disk", "1GiB"), "exceeds-machine: ram: 64PiB asked"),
        (("--cpu", "1", "--ram", "1GiB", "--disk", "64PiB"), "exceeds-machine: disk: 64PiB asked"),
        (("--cpu", "1", "--ram", "1GiB", "--disk", "1GiB", "--gpus", "99"), "no GPU with index 99"),
        (
            ("--cpu", "1", "--ram", "4G", "--disk", "1GiB"),
            "invalid-request: ram: '4G' is not a size",
        ),
        (("--cpu", "-1", "--ram", "1GiB", "--disk", "1GiB"), "invalid-request: cpu: '-1'"),
        (("--cpu", "1", "--gpus", "0", "--no-gpu"), "give --gpus or --no-gpu, not both"),
        ((), "say what to offer"),
    ],
)
async def test_bad_input_is_one_clear_line_and_changes_nothing(
    home: Path, args: tuple[str, ...], words: str
) -> None:
    result = await run(home, "onboard", *args)
    assert result.exit_code != 0
    assert words in result.output
    assert "Traceback" not in result.output
    after = await json_of(home, "status")
    assert after["onboarded"] is False


async def test_hardware_shows_what_the_node_detects(home: Path) -> None:
    table = await run(home, "hardware")
    assert table.exit_code == 0, table.output
    assert table.output.startswith("cpu: ")
    assert "ram: " in table.output
    machine = await json_of(home, "hardware")
    cpu = machine["cpu"]
    assert isinstance(cpu, dict)
    assert cpu["threads"] >= 1
    assert isinstance(machine["disk_free"], int)


async def test_benchmark_and_offboard_before_onboarding_say_so(home: Path) -> None:
    for command in ("benchmark", "offboard"):
        result = await run(home, command)
        assert result.exit_code == 1
        assert "not-onboarded" in result.output
        assert "Traceback" not in result.output


async def test_without_a_running_node_the_command_says_how_to_start_one(tmp_path: Path) -> None:
    result = await run(tmp_path / "idle", "status")
    assert result.exit_code == 1
    assert "nunet run" in result.output
