"""Two nodes on one machine, each its own process with its own embedded nats-server, joined by
a TLS leaf link: the hub (bench/_mesh_hub.py) and a member (this process). The peer we compare
with is raw nats-py between the same two servers: a client here, a responder in the hub process.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.aio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mesh_common import ECHO, ECHO_ACTOR, RAW_SUBJECT, node_config

from nunet.actor import Actor, Handle
from nunet.devstack.stack import free_port
from nunet.mesh import SwarmKey
from nunet.node import Node
from tests.support.homes import PASSPHRASE, make_home

HUB = Path(__file__).resolve().parent / "_mesh_hub.py"


@dataclass
class Pair:
    member: Node
    caller: Actor  # on the member
    echo: Handle  # on the hub
    raw_caller: Client  # on the member's server
    hub_client: Client  # on the hub's server (to read the swarm stream where it lives)
    hub_did: str


@asynccontextmanager
async def mesh_pair(directory: Path, *, replication: bool = True) -> AsyncIterator[Pair]:
    key = directory / "swarm.key"
    SwarmKey.generate().write(key)
    port = free_port()
    hub = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HUB),
        str(directory),
        str(port),
        "1" if replication else "0",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert hub.stdout is not None
        ready = json.loads(await asyncio.wait_for(hub.stdout.readline(), 60))
        member = await Node.open(
            make_home(directory / "member"),
            PASSPHRASE,
            node_config(key, replication, {"bootstrap": [f"nats-leaf://127.0.0.1:{port}"]}),
        )
        try:
            caller = Actor()
            await member.system.spawn(caller, "caller")
            server = member.mesh.server
            assert server is not None
            raw_caller = await nats.connect(server.client_url, token=member.mesh.token)
            hub_client = await nats.connect(ready["client_url"], token=ready["token"])
            echo = Handle(ready["did"], ECHO_ACTOR, ready["did"])
            pair = Pair(member, caller, echo, raw_caller, hub_client, ready["did"])
            await _until_linked(pair)
            try:
                yield pair
            finally:
                await raw_caller.close()
                await hub_client.close()
        finally:
            await member.close()
    finally:
        if hub.stdin is not None:
            hub.stdin.close()
        await asyncio.wait_for(hub.wait(), 30)


async def _until_linked(pair: Pair) -> None:
    """Until the leaf link carries both kinds of traffic."""
    for _ in range(400):
        try:
            await nunet_call(pair, b"0", timeout=1)
            await pair.raw_caller.request(RAW_SUBJECT, b"0", timeout=1)
            return
        except Exception:
            await asyncio.sleep(0.05)
    raise RuntimeError("the hub and the member never linked")


def payload(size: int) -> bytes:
    return b"x" * size


async def nunet_call(pair: Pair, body: bytes, timeout: float = 10) -> None:
    await pair.caller.invoke(pair.echo, ECHO, body, timeout=timeout)


async def raw_call(pair: Pair, body: bytes) -> None:
    await pair.raw_caller.request(RAW_SUBJECT, body, timeout=10)


Call = Callable[[Pair, bytes], Awaitable[None]]


async def latencies(pair: Pair, call: Call, rounds: int, body: bytes) -> list[float]:
    for _ in range(200):
        await call(pair, body)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call(pair, body)
        samples.append(time.perf_counter() - start)
    return samples


async def pipelined_rate(pair: Pair, call: Call, total: int, in_flight: int, body: bytes) -> float:
    """Round trips per second with `in_flight` requests outstanding at all times."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call(pair, body)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return total / (time.perf_counter() - start)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)
