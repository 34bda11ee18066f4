"""Deployments with data: inputs fetched from a real S3-protocol server (moto, on loopback) and
inline literals, mounted read-only; outputs uploaded back to it when the task ends, recorded
with sizes and checksums and answered by the results behavior; bad inputs failing the
deployment with the input named in its history."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from nunet.allocation.events import InputFetched, OutputPublished
from nunet.eventlog import Catalogue
from nunet.node import Node
from nunet.orchestrator.behaviors import RESULTS_BEHAVIOR
from tests.orchestrator.swarm import SMALL, Swarm, ask, deploy, history_of, settled
from tests.storage.s3_server import REGION, MotoServer

NUMBERS = b"1\n2\n3\n"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        s3 = server.client("s3")
        for bucket in ("nunet-in", "nunet-out"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="nunet-in", Key="data/numbers.txt", Body=NUMBERS)
        s3.put_object(Bucket="nunet-in", Key="set/a.txt", Body=b"A")
        s3.put_object(Bucket="nunet-in", Key="set/b.txt", Body=b"B")
        yield server
    finally:
        server.stop()


@pytest.fixture
async def swarm(tmp_path: Path, busybox_image: str, moto: MotoServer) -> AsyncIterator[Swarm]:
    storage = {
        "s3": {
            "endpoint": moto.url,
            "region": REGION,
            "access_key": "tests",
            "secret_key": "tests",
            "addressing_style": "path",
        },
        "attempts": 2,
        "retry_seconds": 0.05,
    }
    async with AsyncExitStack() as exits:
        yield Swarm(tmp_path, exits, {"storage": storage})


@pytest.fixture
async def pair(swarm: Swarm) -> tuple[Node, Node]:
    """An orchestrating node and one onboarded provider, meshed."""
    hub = await swarm.open("hub")
    (provider,) = await swarm.providers("p1")
    await swarm.mesh(hub, provider)
    return hub, provider


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def ensemble(inputs: str, outputs: str, command: str) -> str:
    return f"""
version: nunet/v1
name: data
allocations:
  job:
    {SMALL}
    inputs: {inputs}
    outputs: {outputs}
    execution:
      image: nunet-test/busybox:1
      command: {command}
nodes:
  n: {{allocations: [job]}}
"""


async def provider_events(node: Node, kind: type[Any]) -> list[Any]:
    catalogue = Catalogue(kind)
    return [catalogue.decode(r) async for r in node.log.read(types=[kind.TYPE])]


async def test_inputs_are_mounted_read_only_and_outputs_are_published(
    pair: tuple[Node, Node], moto: MotoServer
) -> None:
    hub, provider = pair
    inputs = (
        f"[{{source: s3://nunet-in/data/numbers.txt, target: /in/numbers.txt, "
        f"checksum: '{sha256(NUMBERS)}'}}, {{source: s3://nunet-in/set/, target: /in/set}}, "
        "{source: 'inline:text,hello', target: /in/greeting}]"
    )
    command = (
        "\"awk '{s += $1} END {print s}' /in/numbers.txt > /out/sum.txt"
        " && cat /in/set/a.txt /in/set/b.txt > /out/set.txt && cp /in/greeting /out/"
        " && { (echo x > /in/numbers.txt) 2>/dev/null && echo writable || echo read-only; }"
        ' > /out/mode.txt"'
    )
    deployment = await deploy(
        hub,
        ensemble(inputs, "[{path: /out, destination: 's3://nunet-out/runs/'}]", command),
    )

    status = await settled(hub, deployment, "completed")
    assert status["state"] == "completed", await history_of(hub, deployment)

    answer = await ask(hub, RESULTS_BEHAVIOR, {"deployment": deployment})
    (output,) = answer["allocations"]["job"]["outputs"]
    assert output["error"] == ""
    expected = {
        "sum.txt": b"6\n",
        "set.txt": b"AB",
        "greeting": b"hello",
        "mode.txt": b"read-only\n",
    }
    assert {o["location"]: (o["size"], o["checksum"]) for o in output["objects"]} == {
        f"s3://nunet-out/runs/{name}": (len(data), sha256(data)) for name, data in expected.items()
    }
    s3 = moto.client("s3")
    for name, data in expected.items():  # what the server holds is what was recorded
        body = s3.get_object(Bucket="nunet-out", Key=f"runs/{name}")["Body"].read()
        assert body == data, name

    fetched = await provider_events(provider, InputFetched)
    assert [(e.index, e.count, e.size) for e in fetched] == [(0, 1, 6), (1, 2, 2), (2, 1, 5)]
    (published,) = await provider_events(provider, OutputPublished)
    assert (published.count, published.size) == (4, sum(len(d) for d in expected.values()))
    lines = [summary for _, summary in await history_of(hub, deployment)]
    said = [line for line in lines if line.startswith("outputs of job (run 1): /out → s3://")]
    assert len(said) == 1, lines  # once, with the end it came with
    volumes = provider.layout.volumes / deployment
    async with asyncio.timeout(30):  # released after completion: nothing kept on the machine
        while await asyncio.to_thread(volumes.exists):
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("source", "checksum", "said"),
    [
        ("s3://nunet-in/data/numbers.txt", sha256(b"other"), f"expected {sha256(b'other')}"),
        ("s3://nunet-in/data/missing.txt", "", "no object 'data/missing.txt'"),
        ("s3://nunet-absent/data/numbers.txt", "", "bucket 'nunet-absent' does not exist"),
    ],
    ids=["checksum-mismatch", "missing-key", "missing-bucket"],
)
async def test_a_bad_input_fails_the_deployment_naming_the_input(
    pair: tuple[Node, Node], source: str, checksum: str, said: str
) -> None:
    hub, _ = pair
    wanted = f", checksum: '{checksum}'" if checksum else ""
    deployment = await deploy(
        hub,
        ensemble(
            f"[{{source: '{source}', target: /in/data{wanted}}}]",
            "[{path: /out, destination: 's3://nunet-out/never/'}]",
            "cat /in/data",
        ),
    )
    status = await settled(hub, deployment, "failed")
    assert status["state"] == "failed"
    error = status["allocations"]["job"]["error"]  # the release says why, quoting it
    assert f"input 0 ({source} -> /in/data): " in error, error
    assert said in error, error
    assert f"input 0 ({source} -> /in/data)" in status["why"], status["why"]
    lines = " ".join(summary for _, summary in await history_of(hub, deployment))
    assert f"input 0 ({source} -> /in/data)" in lines
    answer = await ask(hub, RESULTS_BEHAVIOR, {"deployment": deployment})
    assert answer["allocations"] == {}  # it never ran: nothing published


async def test_a_failed_task_publishes_only_outputs_marked_on_failure(
    pair: tuple[Node, Node], moto: MotoServer
) -> None:
    hub, _ = pair
    deployment = await deploy(
        hub,
        ensemble(
            "[]",
            "[{path: /out, destination: 's3://nunet-out/failed/out/'},"
            " {path: /logs, destination: 's3://nunet-out/failed/logs/', on_failure: true}]",
            '"echo partial > /out/result && echo broke > /logs/why && exit 3"',
        ),
    )
    status = await settled(hub, deployment, "failed")
    assert status["allocations"]["job"]["exit_code"] == 3
    answer = await ask(hub, RESULTS_BEHAVIOR, {"deployment": deployment})
    (logs,) = answer["allocations"]["job"]["outputs"]
    assert [o["location"] for o in logs["objects"]] == ["s3://nunet-out/failed/logs/why"]
    listed = moto.client("s3").list_objects_v2(Bucket="nunet-out", Prefix="failed/")
    assert [o["Key"] for o in listed.get("Contents", [])] == ["failed/logs/why"]


async def test_a_destination_this_node_cannot_reach_is_refused_at_allocation(
    pair: tuple[Node, Node],
) -> None:
    hub, _ = pair
    deployment = await deploy(
        hub,
        ensemble("[]", "[{path: /out, destination: 'nunet://results/x/'}]", "'true'"),
    )
    status = await settled(hub, deployment, "failed")
    assert status["state"] == "failed"
    assert "allocations.job.outputs[0].destination" in status["why"], status["why"]
    assert "this node has no store for nunet:" in status["why"], status["why"]
