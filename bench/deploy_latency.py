"""Submit-to-running latency of a one-allocation ensemble on a 3-node devstack (a hub and three
onboarded members, each a `nunet run` process with its own nats-server), vs plain `docker run -d`
of the same image, command and limits, interleaved in the same run.

The ensemble: one service (`sleep 3600` in nunet-test/busybox:1, 0.1 CPU, 16 MiB) on one ensemble
node, submitted to the hub's `/dms/node/deployment/new` through its local API, as `nunet deploy`
does; the hub orchestrates (it offers nothing itself), so the service runs on a member.

"Running", precisely: the hub's `deployment.running` event, written when the orchestrator has
the provider's report that the allocation's container runs. Latency = that event's time minus
the moment the client sent its request (one machine, one wall clock): API, parsing, bid round,
placement, commit, allocate (the provider creates the container), start, and the report back.
The client learns it by polling the deployment's history every 20 ms, but the figure comes from
the event's own time, so the polling interval does not count. Each deployment is then shut down
(not timed) before the next. Peer: `docker run -d` returns once the container is started.

Where the time goes is read from each deployment's history (its events' times), as the median
of each step over the measured deployments.

Target: at most 150 ms added to `docker run -d`. Ratio = peer / ours (higher is better).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.executor.images
from _common import report
from _deploy_common import (
    NodeApi,
    Spread,
    docker_run,
    ensemble,
    machine_load,
    remove_peer_containers,
    remove_stack_containers,
    start_stack,
)

from nunet.orchestrator.behaviors import (
    HISTORY_BEHAVIOR,
    NEW_BEHAVIOR,
    SHUTDOWN_BEHAVIOR,
    TERMINAL_STATES,
)
from tests.executor.images import ensure_busybox_image

MEMBERS = 3
WARMUP = 3
DEPLOYMENTS = 20
COMMAND = "sleep 3600"
SERVICE = ensemble("latency", COMMAND, service=True)
POLL = 0.02
TARGET_ADDED_MS = 150.0

# The steps of a deployment, each ending at the first history entry of its type (and, for the
# allocation's reports, whose summary ends with its new state).
STEPS = (
    ("submit (API, parse, record)", "deployment.submitted", ""),
    ("bid round + placement", "deployment.matched", ""),
    ("commit (two-phase, phase one)", "deployment.committed", ""),
    ("allocate (provider: docker create)", "deployment.allocated", ""),
    ("start asked (supervisor -> provider)", "deployment.allocation_state", " starting"),
    ("container start (docker attach+start)", "deployment.allocation_state", " running"),
    ("report -> deployment.running", "deployment.running", ""),
)


@dataclass(frozen=True)
class Sample:
    seconds: float  # request sent -> deployment.running
    steps: dict[str, float]  # step -> seconds
    entries: list[dict[str, object]]


def deploy_once(api: NodeApi) -> Sample:
    sent = time.time()
    deployment = api.deployments(NEW_BEHAVIOR, {"ensemble": SERVICE, "source": "bench"})[
        "deployment"
    ]
    entries: list[dict[str, object]] = []
    shown = 0
    while True:
        history = api.deployments(HISTORY_BEHAVIOR, {"deployment": deployment, "after": shown})
        entries += history["entries"]
        shown = history["next"]
        if history["state"] == "running":
            break
        if history["state"] in TERMINAL_STATES:
            raise SystemExit(f"deployment {deployment} ended {history['state']}: {entries}")
        time.sleep(POLL)
    api.deployments(SHUTDOWN_BEHAVIOR, {"deployment": deployment})
    return Sample(running_at(entries) - sent, breakdown(sent, entries), entries)


def running_at(entries: list[dict[str, object]]) -> float:
    return first_at(entries, "deployment.running")


def first_at(entries: list[dict[str, object]], kind: str, ending: str = "") -> float:
    for entry in entries:
        if entry["type"] == kind and str(entry["summary"]).endswith(ending):
            at = entry["at"]
            assert isinstance(at, float)
            return at
    raise SystemExit(f"no {kind} in the deployment's history: {entries}")


def breakdown(sent: float, entries: list[dict[str, object]]) -> dict[str, float]:
    steps = {}
    before = sent
    for name, kind, ending in STEPS:
        at = first_at(entries, kind, ending)
        steps[name] = at - before
        before = at
    return steps


async def main() -> None:
    ensure_busybox_image()
    with tempfile.TemporaryDirectory() as tmp:
        stack = await start_stack(Path(tmp), MEMBERS)
        try:
            api = NodeApi(Path(stack.nodes[0].home))  # the hub
            for _ in range(WARMUP):
                await asyncio.to_thread(deploy_once, api)
                await asyncio.to_thread(docker_run, COMMAND, detach=True)
            ours: list[Sample] = []
            theirs: list[float] = []
            for _ in range(DEPLOYMENTS):
                ours.append(await asyncio.to_thread(deploy_once, api))
                theirs.append(await asyncio.to_thread(docker_run, COMMAND, detach=True))
            api.close()
        finally:
            await stack.stop()
            remove_stack_containers(stack)
            remove_peer_containers()
    mine = Spread.of([s.seconds * 1e3 for s in ours])
    peer = Spread.of([t * 1e3 for t in theirs])
    added = Spread.of([(s.seconds - t) * 1e3 for s, t in zip(ours, theirs, strict=True)])
    print(
        f"{DEPLOYMENTS} one-service deployments on a {MEMBERS}-node devstack (after {WARMUP} "
        "warm-up), submit -> deployment.running:"
    )
    print(f"  ours:          p50 {mine.p50:7.1f} ms   p90 {mine.p90:7.1f} ms")
    print(f"  docker run -d: p50 {peer.p50:7.1f} ms   p90 {peer.p90:7.1f} ms")
    print(
        f"  ADDED by nunet: {mine.p50 - peer.p50:.1f} ms (p50 of ours - p50 of docker run; "
        f"pairwise p50 {added.p50:.1f}, p90 {added.p90:.1f}); target <= {TARGET_ADDED_MS:.0f} ms"
    )
    print("where the time goes (median of each step, from the deployments' histories):")
    for name, *_ in STEPS:
        step = statistics.median(s.steps[name] for s in ours) * 1e3
        print(f"  {name:<36} {step:7.1f} ms")
    print("one deployment's history:")
    sent_at = ours[len(ours) // 2]
    start = first_at(sent_at.entries, "deployment.submitted")
    for entry in sent_at.entries:
        at = entry["at"]
        assert isinstance(at, float)
        print(f"  +{(at - start) * 1e3:7.1f} ms  {entry['type']:<30} {str(entry['summary'])[:90]}")
    print(f"machine: {machine_load()}")
    report("deploy_latency", mine.p50, "ms", "docker run", peer.p50, higher_is_better=False)


if __name__ == "__main__":
    asyncio.run(main())
