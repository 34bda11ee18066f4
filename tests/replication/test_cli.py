"""`nunet events tail --node/--swarm` against a real server, reached through a mesh.json."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import pytest
from click.testing import CliRunner, Result

from nunet.cli.context import CliContext
from nunet.cli.events import events
from nunet.eventlog import EventRecord, open_sqlite_log
from nunet.mesh import MeshAccess, write_mesh_access
from nunet.replication import ensure_swarm_stream
from tests.eventlog.samples import pings
from tests.replication.conftest import DOMAIN, NODE_A, NODE_B
from tests.replication.streams import publish_raw
from tests.support.nats import NatsProcess


def run(home: Path, *args: str, output: str = "json") -> Result:
    return CliRunner().invoke(events, list(args), obj=CliContext(home, None, output))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsProcess]:
    process = NatsProcess("single", tmp_path / "nats", jetstream_domain=DOMAIN)
    asyncio.run(process.start())
    try:
        yield process
    finally:
        asyncio.run(process.stop())


@pytest.fixture
def home(tmp_path: Path, server: NatsProcess) -> Path:
    """A node home whose mesh.json points at the server, with node A's and B's logs replicated."""
    home = tmp_path / "home"
    home.mkdir()
    write_mesh_access(
        home / "mesh.json",
        MeshAccess(client_url=server.url, token=None, did=NODE_A, swarm_domain=DOMAIN),
    )
    asyncio.run(_replicate(tmp_path, server.url))
    return home


async def _replicate(directory: Path, url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(domain=DOMAIN)
    await ensure_swarm_stream(js)
    for node, count in ((NODE_A, 5), (NODE_B, 3)):
        log = await open_sqlite_log(directory / f"{node[-5:]}.db")
        records = await log.append_many(pings(count), actor="/dms/node")
        await log.close()
        for record in records:
            await publish_raw(js, node, record)
    await nc.close()


async def _publish(url: str, node: str, record: EventRecord) -> None:
    nc = await nats.connect(url)
    await publish_raw(nc.jetstream(domain=DOMAIN), node, record)
    await nc.close()


def test_tail_node_prints_that_nodes_replicated_records(home: Path) -> None:
    result = run(home, "tail", "--node", NODE_A)
    assert result.exit_code == 0, result.output
    lines = [msgspec.json.decode(line) for line in result.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0]["actor"] == "/dms/node"
    assert lines[0]["payload_hex"] == "81a16e00"  # the same view as a local tail


def test_tail_node_reports_a_tampered_record_on_stderr_and_skips_it(
    home: Path, server: NatsProcess
) -> None:
    forged = EventRecord(6, 0, "test.pinged", 1, "/forger", b"\x80", b"\x00" * 32, b"\x01" * 32)
    asyncio.run(_publish(server.url, NODE_A, forged))
    result = run(home, "tail", "--node", NODE_A, output="text")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 5
    assert "/forger" not in result.stdout
    assert f"refused: {NODE_A} seq 6: tampered" in result.stderr


def test_tail_swarm_prefixes_each_line_with_a_short_node_id(home: Path) -> None:
    result = run(home, "tail", "--swarm", "--from", "2", output="text")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 + 2
    assert sum(line.startswith(f"{NODE_A[-8:]}  ") for line in lines) == 4
    assert sum(line.startswith(f"{NODE_B[-8:]}  ") for line in lines) == 2
    as_json = run(home, "tail", "--swarm", "--type", "test.pinged", "--count", "7")
    nodes = [msgspec.json.decode(line)["node"] for line in as_json.stdout.splitlines()]
    assert sorted(nodes) == [NODE_A] * 5 + [NODE_B] * 2


def test_tail_node_follow_reads_through_the_stream_and_stops_at_count(home: Path) -> None:
    result = run(home, "tail", "--node", NODE_B, "--follow", "--count", "3")
    assert [msgspec.json.decode(line)["seq"] for line in result.stdout.splitlines()] == [1, 2, 3]


def test_tail_replicated_without_mesh_json_says_the_node_is_not_running(tmp_path: Path) -> None:
    result = run(tmp_path, "tail", "--swarm")
    assert result.exit_code == 1
    assert "mesh.json does not exist" in result.stderr


def test_tail_node_and_swarm_together_is_a_usage_error(home: Path) -> None:
    result = run(home, "tail", "--swarm", "--node", NODE_A)
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr


def test_tail_node_against_a_server_that_is_gone_is_a_clear_error(
    home: Path, server: NatsProcess
) -> None:
    asyncio.run(server.stop())
    result = run(home, "tail", "--node", NODE_A)
    assert result.exit_code == 1
    assert "cannot connect to the node's NATS server" in result.stderr
