"""Swarm formation: 20 nodes (a hub and 19 members, each a `nunet run` process with its own
nats-server) started on one machine, until every node's peer table shows all 19 others up.

Peer: the same topology of 20 bare nats-servers (a hub and 19 leaf servers), until the hub counts
19 leaf links: the floor of process start and leaf connection that our nodes build upon.
Ratio = peer / ours (higher is better).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

from nunet.api import find_api
from nunet.devstack import DevStack, StackPlan
from tests.support.nats import NatsProcess

NODES = 20
HEARTBEAT = 1.0


def up_peers(home: Path) -> int:
    with find_api(home) as client:
        me = client.invoke("/dms/node/peers/self")["did"]
        rows = client.invoke("/dms/node/peers/list", to={"did": me, "actor": "peers", "node": me})
    return sum(1 for row in rows if row["state"] == "up")


async def nunet_formation(directory: Path) -> float:
    stack = DevStack(StackPlan(directory, NODES - 1, heartbeat_seconds=HEARTBEAT))
    start = time.perf_counter()
    try:
        await stack.start(ready_timeout=300)
        ready = time.perf_counter() - start
        print(f"all {NODES} node processes ready (API up, mesh joined) after {ready:.2f}s")
        homes = [Path(node.home) for node in stack.nodes]
        pending = set(homes)
        while pending:
            counts = await asyncio.gather(*(asyncio.to_thread(up_peers, h) for h in pending))
            pending = {h for h, n in zip(pending, counts, strict=True) if n < NODES - 1}
            if pending:
                await asyncio.sleep(0.1)
        return time.perf_counter() - start
    finally:
        await stack.stop()


async def bare_formation(directory: Path) -> float:
    start = time.perf_counter()
    hub = NatsProcess("hub", directory / "hub", jetstream_domain="swarm", leaf_listen=True)
    leaves = [
        NatsProcess(f"leaf{i}", directory / f"leaf{i}", jetstream_domain=f"leaf{i}")
        for i in range(NODES - 1)
    ]
    try:
        await hub.start()
        for leaf in leaves:
            leaf.remotes = [hub.leaf_url]
        await asyncio.gather(*(leaf.start() for leaf in leaves))
        await hub.wait_for_leaves(NODES - 1, timeout=300)
        return time.perf_counter() - start
    finally:
        await asyncio.gather(*(p.stop() for p in [*leaves, hub]))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare = await bare_formation(Path(tmp) / "bare")
        ours = await nunet_formation(Path(tmp) / "nunet")
    print(f"{NODES} nunet nodes (heartbeat {HEARTBEAT:g}s) all see each other after {ours:.2f}s")
    print(f"{NODES} bare nats-servers (hub + leaves) all linked after {bare:.2f}s")
    report(
        "swarm_formation_20", ours, "s", "bare nats-server leaf mesh", bare, higher_is_better=False
    )


if __name__ == "__main__":
    asyncio.run(main())
