"""Two nodes on one machine, a hub and a member, each with its own embedded nats-server joined
by a TLS leaf link; plus raw nats-py clients on the same two servers, the peer we compare with."""

from __future__ import annotations

import asyncio
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
from nunet.actor import Actor, Handle, Message, behavior
from nunet.devstack.stack import free_port
from nunet.mesh import SwarmKey
from nunet.node import Node, parse_config
from tests.support.homes import PASSPHRASE, make_home

ECHO = "/public/bench/echo"
RAW_SUBJECT = "bench.echo"


class Echo(Actor):
    @behavior(ECHO, public=True)
    async def echo(self, message: Message) -> object:
        return message.payload


@dataclass
class Pair:
    hub: Node
    member: Node
    caller: Actor  # on the member
    echo: Handle  # on the hub
    raw_caller: Client  # on the member's server
    raw_echo: Client  # on the hub's server


async def _client(node: Node) -> Client:
    server = node.mesh.server
    assert server is not None
    return await nats.connect(server.client_url, token=node.mesh.token)


@asynccontextmanager
async def mesh_pair(directory: Path, *, replication: bool = True) -> AsyncIterator[Pair]:
    key = directory / "swarm.key"
    SwarmKey.generate().write(key)
    port = free_port()
    common = {
        "swarm_key_file": str(key),
        "heartbeat_seconds": 5.0,
        "replication": {"enabled": replication},
    }
    # A benchmark is a flood by design: lift the per-sender limits the nodes apply to each other.
    limits = {"per_sender_per_second": 1e9, "per_sender_burst": 1 << 30}
    hub = await Node.open(
        make_home(directory / "hub"),
        PASSPHRASE,
        parse_config({"rate_limits": limits, "mesh": {**common, "hub": {"port": port}}}),
    )
    member = await Node.open(
        make_home(directory / "member"),
        PASSPHRASE,
        parse_config(
            {
                "rate_limits": limits,
                "mesh": {**common, "bootstrap": [f"nats-leaf://127.0.0.1:{port}"]},
            }
        ),
    )
    echo = await hub.system.spawn(Echo(), "echo")
    caller = Actor()
    await member.system.spawn(caller, "caller")
    raw_echo = await _client(hub)
    raw_caller = await _client(member)

    async def respond(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(msg.data)

    await raw_echo.subscribe(RAW_SUBJECT, cb=respond)
    await raw_echo.flush()
    pair = Pair(hub, member, caller, echo, raw_caller, raw_echo)
    # Until the leaf link carries both kinds of traffic.
    for _ in range(200):
        try:
            await caller.invoke(echo, ECHO, 0, timeout=1)
            await raw_caller.request(RAW_SUBJECT, b"0", timeout=1)
            break
        except Exception:
            await asyncio.sleep(0.05)
    try:
        yield pair
    finally:
        await raw_caller.close()
        await raw_echo.close()
        await member.close()
        await hub.close()


def payload(size: int) -> bytes:
    return b"x" * size


async def nunet_call(pair: Pair, body: bytes) -> None:
    await pair.caller.invoke(pair.echo, ECHO, body, timeout=10)


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
