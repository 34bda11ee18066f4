"""Memory of an idle node: the resident set of its Python process plus its nats-server, averaged
over the members of a small devstack after they settled. Peer: a bare nats-server leaf in the
same topology. Ratio = peer / ours (higher is better; what we add on top of NATS shows in it)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

from nunet.devstack import DevStack, StackPlan
from tests.support.nats import leaf_mesh
from tests.support.processes import processes_under

MEMBERS = 3
SETTLE_SECONDS = 5.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def is_nats(pid: int) -> bool:
    return b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]


async def nunet_idle(directory: Path) -> tuple[float, float]:
    stack = DevStack(StackPlan(directory, MEMBERS, heartbeat_seconds=1.0))
    await stack.start()
    try:
        await asyncio.sleep(SETTLE_SECONDS)  # idle on purpose: heartbeats only
        python, nats = [], []
        for node in stack.nodes[1:]:
            for pid in processes_under(Path(node.home)):
                (nats if is_nats(pid) else python).append(rss_mib(pid))
        return sum(python) / len(python), sum(nats) / len(nats)
    finally:
        await stack.stop()


async def bare_idle(directory: Path) -> float:
    async with leaf_mesh(directory, MEMBERS) as mesh:
        await asyncio.sleep(SETTLE_SECONDS)
        return sum(rss_mib(leaf.process.pid) for leaf in mesh.leaves if leaf.process) / MEMBERS


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        python, nats = await nunet_idle(Path(tmp) / "nunet")
        bare = await bare_idle(Path(tmp) / "bare")
    print(f"idle node: python {python:.1f} MiB + its nats-server {nats:.1f} MiB")
    print(f"bare nats-server leaf: {bare:.1f} MiB")
    report(
        "idle_node_memory",
        python + nats,
        "MiB",
        "bare nats-server leaf",
        bare,
        higher_is_better=False,
    )


if __name__ == "__main__":
    asyncio.run(main())
