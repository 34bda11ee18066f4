"""Placement: from the bid rounds' ranked bids to one machine per ensemble node (plus standbys),
honouring the ensemble's edges. The RTTs between candidates are measured by asking the
candidates themselves (`/dms/node/peers/rtt`); bandwidth is what their capabilities announce.
The choice itself is the pure `nunet.orchestrator.assign`."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from nunet.actor import Handle
from nunet.capability.model import Requirement
from nunet.ensemble import FlatEnsemble
from nunet.errors import NunetError
from nunet.matching.bid import BidTerms
from nunet.matching.ranking import Ranked
from nunet.orchestrator import assign as assignment
from nunet.peers import PEERS_ACTOR_ID

RttAsk = Callable[[Handle, list[str]], Awaitable[dict[str, float | None]]]
MEASURED_PER_NODE = 8  # the best candidates of each edge's ends whose RTTs are measured


@dataclasses.dataclass(frozen=True)
class Candidates:
    """One ensemble node's requirement and the bids for it, best first."""

    requirement: Requirement
    ranked: tuple[Ranked, ...]


@dataclasses.dataclass(frozen=True)
class Placement:
    """The chosen bid per node, the standbys' bids, and the assignment's total score."""

    bids: dict[str, BidTerms]
    standby_bids: dict[str, tuple[BidTerms, ...]]
    score: float


async def place(
    flat: FlatEnsemble,
    candidates: Mapping[str, Candidates],
    *,
    fixed: Mapping[str, str],
    rtt: RttAsk,
) -> Placement | str:
    """Assign every node in `candidates` (nodes in `fixed` keep their machine's DID); a string
    says why no assignment exists."""
    bids = {
        node: {ranked.bid.bidder: ranked.bid for ranked in found.ranked}
        for node, found in candidates.items()
    }
    measured = await _measure(flat, candidates, fixed, rtt)
    problem = assignment.Placement(
        candidates={
            **{
                node: tuple(
                    assignment.Candidate(did=r.bid.bidder, score=r.score) for r in found.ranked
                )
                for node, found in candidates.items()
            },
            **{node: (assignment.Candidate(did=did, score=0.0),) for node, did in fixed.items()},
        },
        requirements={node: found.requirement for node, found in candidates.items()}
        | {node: Requirement() for node in fixed},
        free={r.bid.bidder: r.bid.free for found in candidates.values() for r in found.ranked},
        edges=tuple(
            assignment.EdgeConstraint(
                a=e.between[0], b=e.between[1], max_rtt=e.rtt, min_bandwidth=e.bandwidth
            )
            for e in flat.edges
        ),
        pinned=dict(fixed),
        redundancy={node: flat.nodes[node].redundancy for node in candidates},
    )
    outcome = assignment.assign(
        problem,
        lambda a, b: measured.get((a, b), measured.get((b, a))),
        lambda a, b: _bandwidth(bids, a, b),
    )
    if isinstance(outcome, assignment.Unassignable):
        return str(outcome)
    return Placement(
        bids={node: bids[node][did] for node, did in outcome.primary.items() if node in bids},
        standby_bids={
            node: tuple(bids[node][did] for did in dids)
            for node, dids in outcome.standby.items()
            if node in bids
        },
        score=outcome.score,
    )


async def _measure(
    flat: FlatEnsemble,
    candidates: Mapping[str, Candidates],
    fixed: Mapping[str, str],
    rtt: RttAsk,
) -> dict[tuple[str, str], float]:
    """RTTs between the candidates at either end of every edge with an RTT bound."""
    where: dict[str, Handle] = {}
    ends: dict[str, set[str]] = {}
    for node, found in candidates.items():
        for ranked in found.ranked[:MEASURED_PER_NODE]:
            where[ranked.bid.bidder] = Handle(ranked.bid.bidder, PEERS_ACTOR_ID, ranked.bid.node)
        ends[node] = {r.bid.bidder for r in found.ranked[:MEASURED_PER_NODE]}
    for node, did in fixed.items():
        ends[node] = {did}
    wanted: dict[str, set[str]] = {}
    for edge in flat.edges:
        if not edge.rtt:
            continue
        a, b = edge.between
        for did in ends.get(a, set()):
            wanted.setdefault(did, set()).update(ends.get(b, set()) - {did})
        for did in ends.get(b, set()):
            wanted.setdefault(did, set()).update(ends.get(a, set()) - {did})

    async def ask(did: str, others: set[str]) -> dict[tuple[str, str], float]:
        handle = where.get(did)
        if handle is None or not others:
            return {}
        try:
            answer = await rtt(handle, sorted(others))
        except NunetError:
            return {}  # it did not answer: its edges stay unmeasured, so unmet
        return {(did, other): value for other, value in answer.items() if value is not None}

    measured: dict[tuple[str, str], float] = {}
    for part in await asyncio.gather(*(ask(did, others) for did, others in wanted.items())):
        measured.update(part)
    return measured


def _bandwidth(bids: Mapping[str, Mapping[str, BidTerms]], a: str, b: str) -> int | None:
    """What both machines announce they can carry (0 announced: unknown)."""
    announced = []
    for did in (a, b):
        bid = next((by_did[did] for by_did in bids.values() if did in by_did), None)
        if bid is None or not bid.capability.network.bandwidth:
            return None
        announced.append(bid.capability.network.bandwidth)
    return min(announced)
