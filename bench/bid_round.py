"""A bid round over a 20-node devstack (a hub and 19 members, each a `nunet run` process with its
own nats-server), every node onboarded, the hub's capability index caught up: time from the
orchestrator's (the hub's) request to its ranked result
(the round as the orchestrating matching actor measures it, every node answering with a signed
bid: broadcast, 20 local decisions, 20 signed replies verified and re-checked, ranking).

Peer, measured in the same run over the same mesh: a bare NATS scatter/gather — one client on the
hub's server publishes a request, one plain nats-py responder on each node's own server answers,
the requester waits for all 20 replies. No signing, no decisions: the floor of the transport.
The NuNet DMS waits up to 5 s per bid round; the target here is well under 200 ms.
Ratio = peer / ours (higher is better).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

from nunet.api import find_api
from nunet.devstack import DevStack, StackPlan
from nunet.mesh import read_mesh_access
from nunet.node import NodeLayout

NODES = 20
ROUNDS = 30
HEARTBEAT = 1.0
SUBJECT = "bench.scatter"


def invoke(home: Path, behavior: str, payload: Any = None, actor: str = "node") -> Any:
    with find_api(home) as client:
        me = client.invoke("/dms/node/peers/self")
        to = {"did": me["did"], "actor": actor, "node": me["address"]}
        return client.invoke(behavior, payload, to=to, timeout=60.0)


def up_peers(home: Path) -> int:
    return sum(
        1 for row in invoke(home, "/dms/node/peers/list", actor="peers") if row["state"] == "up"
    )


async def connect(home: Path) -> Client:
    access = read_mesh_access(NodeLayout(home).mesh_access)
    return await nats.connect(access.client_url, token=access.token)


async def nunet_rounds(homes: list[Path]) -> list[float]:
    share = {"cpu": 0.5, "ram": "64MiB", "disk": "64MiB", "gpus": []}
    await asyncio.gather(
        *(
            asyncio.to_thread(invoke, h, "/dms/node/onboarding/onboard", share, "onboarding")
            for h in homes
        )
    )
    pending = set(homes)
    while pending:  # every node sees every other: the orchestrator knows whom to wait for
        counts = await asyncio.gather(*(asyncio.to_thread(up_peers, h) for h in pending))
        pending = {h for h, n in zip(pending, counts, strict=True) if n < NODES - 1}
        if pending:
            await asyncio.sleep(0.1)
    search = {"requirement": "cpu=0.25,ram=32MiB", "timeout": 5.0}
    orchestrator = homes[0]  # the hub, which also keeps the swarm's capability index
    # Steady state: the hub's index has caught up with the swarm log written since the start
    # (its catch-up would otherwise compete with the first rounds for the hub's CPU).
    indexed = {"requirement": "cpu=0.25", "limit": 100}
    while True:
        answer = await asyncio.to_thread(
            invoke, orchestrator, "/dms/node/index/query", indexed, "matching"
        )
        if answer["matched"] == NODES:
            break
        await asyncio.sleep(0.2)
    warm = await asyncio.to_thread(invoke, orchestrator, "/dms/node/search", search, "matching")
    if len(warm["candidates"]) != NODES:
        raise SystemExit(f"expected {NODES} bids, got {len(warm['candidates'])}: {warm}")
    elapsed = []
    for _ in range(ROUNDS):
        answer = await asyncio.to_thread(
            invoke, orchestrator, "/dms/node/search", search, "matching"
        )
        if len(answer["candidates"]) != NODES:
            raise SystemExit(f"a round missed bids: {answer['why'] or answer['rejected']}")
        elapsed.append(answer["elapsed_seconds"])
    return elapsed


async def bare_rounds(homes: list[Path]) -> list[float]:
    responders = [await connect(h) for h in homes]
    requester = await connect(homes[0])
    try:
        for client in responders:

            async def answer(msg: Any, client: Client = client) -> None:
                await client.publish(msg.reply, b"bid")

            await client.subscribe(SUBJECT, cb=answer)
            await client.flush()
        inbox = requester.new_inbox()
        replies: asyncio.Queue[bytes] = asyncio.Queue()

        async def collect(msg: Any) -> None:
            replies.put_nowait(msg.data)

        await requester.subscribe(inbox, cb=collect)

        async def one_round() -> float | None:
            while not replies.empty():
                replies.get_nowait()
            start = time.perf_counter()
            await requester.publish(SUBJECT, b"request", reply=inbox)
            try:
                for _ in range(NODES):
                    await asyncio.wait_for(replies.get(), 2.0)
            except TimeoutError:
                return None  # interest not yet propagated over every leaf link
            return time.perf_counter() - start

        deadline = time.monotonic() + 60
        while await one_round() is None:
            if time.monotonic() > deadline:
                raise SystemExit("the bare scatter/gather never reached every node")
        rounds = [await one_round() for _ in range(ROUNDS)]
        return [r for r in rounds if r is not None]
    finally:
        for client in [*responders, requester]:
            await client.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = DevStack(StackPlan(Path(tmp), NODES - 1, heartbeat_seconds=HEARTBEAT))
        try:
            await stack.start(ready_timeout=300)
            homes = [Path(node.home) for node in stack.nodes]
            ours = await nunet_rounds(homes)
            bare = await bare_rounds(homes)
        finally:
            await stack.stop()
    ours_ms = statistics.median(ours) * 1000
    bare_ms = statistics.median(bare) * 1000
    print(
        f"bid round over {NODES} nodes: p50 {ours_ms:.1f} ms, max {max(ours) * 1000:.1f} ms "
        f"({len(ours)} rounds, every node bidding)"
    )
    print(f"bare NATS scatter/gather to the same {NODES} servers: p50 {bare_ms:.1f} ms")
    print("NuNet DMS: up to 5000 ms per bid round; target: well under 200 ms")
    report(
        "bid_round_20", ours_ms, "ms", "bare NATS scatter/gather", bare_ms, higher_is_better=False
    )


if __name__ == "__main__":
    asyncio.run(main())
