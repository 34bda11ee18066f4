"""Which machine hosts each ensemble node: the best-scoring choice among the bids that honours
the ensemble's edges (RTT at most, bandwidth at least, measured between the machines), pinned
peers and the machines' capacity, plus standby machines for failover.

Rules
-----
- Each node takes one of its own candidates (the machines that bid for it, best first); a
  node pinned to a peer takes that peer or nothing.
- Two nodes on one machine need that machine's free resources to cover both requirements
  together (cpu, ram, disk, distinct GPUs); a machine whose free resources are not known hosts
  one node. Co-located nodes meet every edge between them (loopback).
- An edge between machines needs the measured RTT (either direction) at most `max_rtt` and the
  measured bandwidth at least `min_bandwidth`; an unknown measurement violates a constraint
  that exists (and is said so in the reasons).
- The result maximises the sum of the primaries' scores: a depth-first search over nodes (most
  constrained first), candidates in rank order, pruning a branch when an edge or a capacity
  fails or when even the best remaining scores cannot beat the best assignment found. It stops
  after `max_steps` candidates tried; then it returns the best found so far with
  `exhausted=True`, or `Unassignable` saying the budget ran out.
- Standbys are chosen after the primaries, per node in order, from its remaining candidates in
  rank order: never a primary machine, meeting the node's edges to the other primaries, and
  within capacity with any other node it already stands by for. Fewer than asked is not a
  failure; `standby_missing` says how many are short.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from nunet.capability.gpus import assign_gpus
from nunet.capability.model import Requirement, Resources
from nunet.capability.units import format_bandwidth
from nunet.errors import NunetError

Rtt = Callable[[str, str], float | None]  # seconds between two machines; None: unknown
Bandwidth = Callable[[str, str], int | None]  # bits per second; None: unknown
_EPSILON = 1e-9


class AssignmentError(NunetError):
    """A placement problem that is malformed (not one that has no solution: `Unassignable`)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    did: str
    score: float


@dataclass(frozen=True, slots=True)
class EdgeConstraint:
    a: str
    b: str
    max_rtt: float = 0.0  # seconds; 0: no constraint
    min_bandwidth: int = 0  # bits per second; 0: no constraint


@dataclass(frozen=True, slots=True)
class Placement:
    """What to place: ensemble nodes, each one's ranked candidates and requirement."""

    candidates: Mapping[str, Sequence[Candidate]]  # node -> bids, best first
    requirements: Mapping[str, Requirement] = field(default_factory=dict)  # node -> its sum
    free: Mapping[str, Resources] = field(default_factory=dict)  # did -> free resources
    edges: Sequence[EdgeConstraint] = ()
    pinned: Mapping[str, str] = field(default_factory=dict)  # node -> the DID it must use
    redundancy: Mapping[str, int] = field(default_factory=dict)  # node -> standbys wanted


@dataclass(frozen=True, slots=True)
class Assignment:
    primary: dict[str, str]
    standby: dict[str, tuple[str, ...]]
    score: float
    steps: int
    exhausted: bool = False  # the step budget ran out: the best found, maybe not the best
    standby_missing: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reason:
    subject: str  # a node, or an edge "a <-> b"
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Unassignable:
    reasons: tuple[Reason, ...]
    steps: int = 0
    exhausted: bool = False

    def __str__(self) -> str:
        return "; ".join(str(reason) for reason in self.reasons)


def assign(
    placement: Placement, rtt: Rtt, bandwidth: Bandwidth, *, max_steps: int = 100_000
) -> Assignment | Unassignable:
    """The best assignment of every node to a machine, or why there is none."""
    _check(placement, max_steps)
    links = _Links(rtt, bandwidth)
    search = _Search(placement, links, max_steps)
    search.run()
    if search.best is None:
        reasons = _explain(placement, links, search.exhausted)
        if search.exhausted:
            reasons = (
                *reasons,
                Reason("search", f"stopped after {max_steps} steps without an assignment"),
            )
        return Unassignable(reasons, search.steps, search.exhausted)
    primary = dict(search.best)
    standby, missing = _standbys(placement, links, primary)
    return Assignment(
        primary=primary,
        standby=standby,
        score=search.best_score,
        steps=search.steps,
        exhausted=search.exhausted,
        standby_missing=missing,
    )


def fits_together(free: Resources, needs: Sequence[Requirement]) -> bool:
    """Whether one machine with `free` resources can host every requirement at once."""
    return (
        sum(n.cpu for n in needs) <= free.cpu + _EPSILON
        and sum(n.ram for n in needs) <= free.ram
        and sum(n.disk for n in needs) <= free.disk
        and assign_gpus([g for n in needs for g in n.gpus], free.gpus) is not None
    )


def _check(placement: Placement, max_steps: int) -> None:
    if max_steps < 1:
        raise AssignmentError(f"max_steps must be at least 1, not {max_steps}")
    nodes = set(placement.candidates)
    for edge in placement.edges:
        for end in (edge.a, edge.b):
            if end not in nodes:
                raise AssignmentError(f"edge {edge.a} <-> {edge.b} names {end!r}, not a node")
        if edge.a == edge.b:
            raise AssignmentError(f"edge {edge.a} <-> {edge.b} joins a node to itself")
    for what, mapping in (
        ("pinned", placement.pinned),
        ("redundancy", placement.redundancy),
        ("requirements", placement.requirements),
    ):
        strangers = sorted(set(mapping) - nodes)
        if strangers:
            raise AssignmentError(f"{what} names nodes with no candidates entry: {strangers}")
    negative = sorted(node for node, k in placement.redundancy.items() if k < 0)
    if negative:
        raise AssignmentError(f"redundancy cannot be negative (nodes {negative})")


class _Links:
    """Edge checks between machines, each measurement asked for once."""

    def __init__(self, rtt: Rtt, bandwidth: Bandwidth) -> None:
        self._rtt = rtt
        self._bandwidth = bandwidth
        self._rtts: dict[tuple[str, str], float | None] = {}
        self._bandwidths: dict[tuple[str, str], int | None] = {}

    def rtt(self, a: str, b: str) -> float | None:
        key = (a, b) if a <= b else (b, a)
        if key not in self._rtts:
            measured = self._rtt(a, b)
            self._rtts[key] = measured if measured is not None else self._rtt(b, a)
        return self._rtts[key]

    def bandwidth(self, a: str, b: str) -> int | None:
        key = (a, b) if a <= b else (b, a)
        if key not in self._bandwidths:
            measured = self._bandwidth(a, b)
            self._bandwidths[key] = measured if measured is not None else self._bandwidth(b, a)
        return self._bandwidths[key]

    def problem(self, edge: EdgeConstraint, did_a: str, did_b: str) -> str:
        """Why machines did_a and did_b cannot carry `edge`; "" if they can."""
        if did_a == did_b:
            return ""
        if edge.max_rtt > 0:
            measured = self.rtt(did_a, did_b)
            if measured is None:
                return f"RTT between {did_a} and {did_b} is unknown"
            if measured > edge.max_rtt:
                return (
                    f"RTT between {did_a} and {did_b} is {measured * 1000:g} ms "
                    f"> {edge.max_rtt * 1000:g} ms"
                )
        if edge.min_bandwidth > 0:
            speed = self.bandwidth(did_a, did_b)
            if speed is None:
                return f"bandwidth between {did_a} and {did_b} is unknown"
            if speed < edge.min_bandwidth:
                return (
                    f"bandwidth between {did_a} and {did_b} is {format_bandwidth(speed)} "
                    f"< {format_bandwidth(edge.min_bandwidth)}"
                )
        return ""


class _Search:
    def __init__(self, placement: Placement, links: _Links, max_steps: int) -> None:
        self.placement = placement
        self.links = links
        self.max_steps = max_steps
        degree = dict.fromkeys(placement.candidates, 0)
        for edge in placement.edges:
            degree[edge.a] += 1
            degree[edge.b] += 1
        self.order = sorted(
            placement.candidates,
            key=lambda n: (
                n not in placement.pinned,
                len(placement.candidates[n]),
                -degree[n],
                n,
            ),
        )
        self.options = {
            node: [
                c
                for c in sorted(placement.candidates[node], key=lambda c: -c.score)
                if node not in placement.pinned or c.did == placement.pinned[node]
            ]
            for node in self.order
        }
        # the best score each node can still add, for the bound
        self.ceiling = [max((c.score for c in self.options[n]), default=0.0) for n in self.order]
        self.remaining_best = [sum(self.ceiling[i:]) for i in range(len(self.order) + 1)]
        self.edges_to_earlier: dict[str, list[tuple[EdgeConstraint, str]]] = {
            n: [] for n in self.order
        }
        position = {node: i for i, node in enumerate(self.order)}
        for edge in placement.edges:
            later, earlier = (
                (edge.a, edge.b) if position[edge.a] > position[edge.b] else (edge.b, edge.a)
            )
            self.edges_to_earlier[later].append((edge, earlier))
        self.chosen: dict[str, str] = {}
        self.hosted: dict[str, list[str]] = {}  # did -> nodes on it so far
        self.best: dict[str, str] | None = None
        self.best_score = float("-inf")
        self.steps = 0
        self.exhausted = False

    def run(self) -> None:
        self.visit(0, 0.0)

    def visit(self, index: int, score: float) -> None:
        if index == len(self.order):
            if score > self.best_score + _EPSILON:
                self.best, self.best_score = dict(self.chosen), score
            return
        node = self.order[index]
        for candidate in self.options[node]:
            if self.best is not None and (
                score + candidate.score + self.remaining_best[index + 1]
                <= self.best_score + _EPSILON
            ):
                return  # ranked: no later candidate does better either
            if self.steps >= self.max_steps:
                self.exhausted = True
                return
            self.steps += 1
            if not self.allowed(node, candidate.did):
                continue
            self.chosen[node] = candidate.did
            self.hosted.setdefault(candidate.did, []).append(node)
            self.visit(index + 1, score + candidate.score)
            self.hosted[candidate.did].pop()
            del self.chosen[node]
            if self.exhausted:
                return

    def allowed(self, node: str, did: str) -> bool:
        for edge, other in self.edges_to_earlier[node]:
            ends = (did, self.chosen[other]) if edge.a == node else (self.chosen[other], did)
            if self.links.problem(edge, *ends):
                return False
        sharing = self.hosted.get(did, [])
        if not sharing:
            return True
        free = self.placement.free.get(did)
        if free is None:
            return False
        needs = [self.placement.requirements.get(n, Requirement()) for n in (*sharing, node)]
        return fits_together(free, needs)


def _standbys(
    placement: Placement, links: _Links, primary: Mapping[str, str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    taken = set(primary.values())
    standing: dict[str, list[str]] = {}  # did -> nodes it stands by for
    standby: dict[str, tuple[str, ...]] = {}
    missing: dict[str, int] = {}
    for node in placement.candidates:
        wanted = placement.redundancy.get(node, 0)
        if wanted == 0:
            continue
        picked: list[str] = []
        for candidate in sorted(placement.candidates[node], key=lambda c: -c.score):
            if len(picked) == wanted:
                break
            did = candidate.did
            if did in taken or did in picked:
                continue
            if not _carries_edges(placement, links, primary, node, did):
                continue
            others = standing.get(did, [])
            if others:
                free = placement.free.get(did)
                needs = [placement.requirements.get(n, Requirement()) for n in (*others, node)]
                if free is None or not fits_together(free, needs):
                    continue
            picked.append(did)
            standing.setdefault(did, []).append(node)
        standby[node] = tuple(picked)
        if len(picked) < wanted:
            missing[node] = wanted - len(picked)
    return standby, missing


def _carries_edges(
    placement: Placement, links: _Links, primary: Mapping[str, str], node: str, did: str
) -> bool:
    for edge in placement.edges:
        if edge.a == node and links.problem(edge, did, primary[edge.b]):
            return False
        if edge.b == node and links.problem(edge, primary[edge.a], did):
            return False
    return True


def _explain(placement: Placement, links: _Links, exhausted: bool) -> tuple[Reason, ...]:
    """Why no assignment exists, as precisely as single nodes and single edges tell (after an
    exhausted search, only what those tell: the rest was not searched)."""
    reasons: list[Reason] = []
    for node, candidates in placement.candidates.items():
        pin = placement.pinned.get(node)
        if not candidates:
            reasons.append(Reason(node, "no machine bid for it"))
        elif pin is not None and all(c.did != pin for c in candidates):
            reasons.append(Reason(node, f"pinned to {pin}, which did not bid"))
    for edge in placement.edges:
        ends_a = _usable(placement, edge.a)
        ends_b = _usable(placement, edge.b)
        if not ends_a or not ends_b:
            continue
        problems = [links.problem(edge, a, b) for a in ends_a for b in ends_b]
        if all(problems):
            unknown = sum("unknown" in p for p in problems)
            shown = "; ".join(sorted(set(problems))[:3])
            more = f" (+{len(set(problems)) - 3} more)" if len(set(problems)) > 3 else ""
            reasons.append(
                Reason(
                    f"{edge.a} <-> {edge.b}",
                    f"no pair of candidates meets it ({len(problems)} pairs, {unknown} with an "
                    f"unknown measurement): {shown}{more}",
                )
            )
    if not reasons and not exhausted:
        reasons.append(
            Reason(
                "ensemble",
                "every node and every edge can be met alone, but no combination meets every "
                "edge and every shared machine's capacity together",
            )
        )
    return tuple(reasons)


def _usable(placement: Placement, node: str) -> list[str]:
    pin = placement.pinned.get(node)
    return [c.did for c in placement.candidates[node] if pin is None or c.did == pin]
