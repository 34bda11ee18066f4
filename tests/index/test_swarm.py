"""Two real nodes on their embedded NATS mesh: an index following the swarm log converges to
what their logs say, and one rebuilt by replaying the stream from its start agrees with it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from nunet.capability import Capability, CpuInfo, Gpu, GpuNeed, Location, Requirement, Resources
from nunet.eventlog import open_sqlite_log
from nunet.index import CapabilityIndex, IndexEntry, SwarmIndexer
from nunet.mesh import SWARM_DOMAIN
from nunet.onboarding.events import Allocated, CapabilityAnnounced
from nunet.replication import SwarmLogReader, ensure_swarm_stream
from tests.replication.streams import publish_raw
from tests.support.nats import leaf_mesh
from tests.support.swarm import WAIT, connect, hub_and_member

GIB = 1 << 30
A100 = Gpu(index=0, vendor="nvidia", model="A100", vram=80 * GIB, compute_capability="8.0")


async def test_an_index_following_the_swarm_log_converges_and_a_replay_agrees(
    tmp_path: Path,
) -> None:
    gpu_box = Capability(
        resources=Resources(cpu=32.0, ram=256 * GIB, gpus=(A100,)),
        cpu=CpuInfo(architecture="x86_64"),
        executors=("docker",),
        location=Location(continent="EU", country="DE"),
    )
    small = Capability(resources=Resources(cpu=4.0, ram=8 * GIB), executors=("docker",))
    # slow heartbeats: no peer is declared down while the test runs on a loaded machine
    async with hub_and_member(tmp_path, heartbeat=5.0) as (hub, member):
        nc = await connect(member.layout.home)
        try:
            live = SwarmIndexer(SwarmLogReader(nc, SWARM_DOMAIN), CapabilityIndex())
            following = asyncio.create_task(live.run())
            try:
                announced = await hub.log.append(
                    CapabilityAnnounced(capability=gpu_box, free=gpu_box.resources)
                )
                await member.log.append(CapabilityAnnounced(capability=small, free=small.resources))
                allocated = await member.log.append(
                    Allocated(
                        allocation="job-1",
                        resources=Resources(cpu=3.0, ram=6 * GIB),
                        free=Resources(cpu=1.0, ram=2 * GIB),
                    )
                )
                async with asyncio.timeout(WAIT):
                    await live.wait_for(hub.did, announced.seq)
                    await live.wait_for(member.did, allocated.seq)
            finally:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
            assert live.index.entries() == {
                hub.did: IndexEntry(
                    did=hub.did, capability=gpu_box, free=gpu_box.resources, up=True
                ),
                member.did: IndexEntry(
                    did=member.did,
                    capability=small,
                    free=Resources(cpu=1.0, ram=2 * GIB),
                    up=True,
                ),
            }
            answer = live.index.query(Requirement(cpu=2.0, gpus=(GpuNeed(vram=40 * GIB),)))
            assert [c.did for c in answer.candidates] == [hub.did]
            assert answer.candidates[0].gpus == (A100,)
            assert answer.excluded == {"cpu": 1}

            rebuilt = await SwarmIndexer(
                SwarmLogReader(nc, SWARM_DOMAIN), CapabilityIndex()
            ).catch_up()
            assert rebuilt.snapshot() == live.index.snapshot()
            for requirement in (Requirement(), Requirement(executors=("docker",), ram=GIB)):
                assert rebuilt.query(requirement) == live.index.query(requirement)
            assert (live.skipped, list(live.chain_problems)) == (0, [])
        finally:
            await nc.close()


async def test_following_waits_for_a_swarm_stream_that_does_not_exist_yet(tmp_path: Path) -> None:
    node = "did:key:z6MkLateNode"
    capability = Capability(resources=Resources(cpu=2.0))
    log = await open_sqlite_log(tmp_path / "events.db")
    try:
        record = await log.append(
            CapabilityAnnounced(capability=capability, free=Resources(cpu=2.0))
        )
    finally:
        await log.close()
    async with leaf_mesh(tmp_path / "nats", leaves=1) as mesh:
        nc = await nats.connect(mesh.leaves[0].url)
        try:
            indexer = SwarmIndexer(SwarmLogReader(nc, "hub"), CapabilityIndex())
            following = asyncio.create_task(indexer.run())
            try:
                async with asyncio.timeout(WAIT):
                    while indexer.interruptions == 0:  # told there is no stream: retrying
                        await asyncio.sleep(0.05)
                js = nc.jetstream(domain="hub")
                await ensure_swarm_stream(js)
                await publish_raw(js, node, record)
                async with asyncio.timeout(WAIT):
                    await indexer.wait_for(node, record.seq)
            finally:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
        finally:
            await nc.close()
    assert indexer.index.entries()[node].capability == capability
    assert indexer.applied == 1
