"""Assigning ensemble nodes to bidders: explicit cases and a brute-force oracle (Hypothesis)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.capability.model import Gpu, GpuNeed, Requirement, Resources
from nunet.orchestrator.assign import (
    Assignment,
    AssignmentError,
    Candidate,
    EdgeConstraint,
    Placement,
    Unassignable,
    assign,
    fits_together,
)

GIB = 1 << 30
MBIT = 1_000_000


def matrix(table: Mapping[tuple[str, str], float]):  # type: ignore[no-untyped-def]
    """A symmetric measurement lookup from one direction's entries; None when not measured."""

    def lookup(a: str, b: str) -> float | None:
        return table.get((a, b))

    return lookup


def unknown(a: str, b: str) -> None:
    return None


def ranked(*pairs: tuple[str, float]) -> list[Candidate]:
    return [Candidate(did, score) for did, score in pairs]


def test_without_edges_each_node_takes_its_best_bidder() -> None:
    placement = Placement(
        candidates={"a": ranked(("m1", 0.9), ("m2", 0.5)), "b": ranked(("m2", 0.8), ("m3", 0.1))}
    )
    result = assign(placement, unknown, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "m1", "b": "m2"}
    assert result.score == pytest.approx(1.7)
    assert not result.exhausted


def test_an_rtt_edge_forces_a_lesser_choice() -> None:
    placement = Placement(
        candidates={"a": ranked(("m1", 0.9), ("m2", 0.6)), "b": ranked(("m3", 0.9))},
        edges=[EdgeConstraint("a", "b", max_rtt=0.050)],
    )
    rtt = matrix({("m1", "m3"): 0.120, ("m3", "m2"): 0.020})  # m2-m3 measured from m3's side
    result = assign(placement, rtt, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "m2", "b": "m3"}


def test_an_edge_no_pair_can_meet_is_explained() -> None:
    placement = Placement(
        candidates={"a": ranked(("m1", 0.9)), "b": ranked(("m2", 0.9), ("m3", 0.5))},
        edges=[EdgeConstraint("a", "b", max_rtt=0.010, min_bandwidth=100 * MBIT)],
    )
    result = assign(placement, matrix({("m1", "m2"): 0.5}), unknown)
    assert isinstance(result, Unassignable)
    (reason,) = result.reasons
    assert reason.subject == "a <-> b"
    assert "2 pairs, 1 with an unknown measurement" in reason.problem
    assert "RTT between m1 and m2 is 500 ms > 10 ms" in reason.problem
    assert "RTT between m1 and m3 is unknown" in reason.problem


def test_bandwidth_is_checked_at_least() -> None:
    placement = Placement(
        candidates={"a": ranked(("m1", 0.9)), "b": ranked(("m2", 0.9), ("m3", 0.1))},
        edges=[EdgeConstraint("a", "b", min_bandwidth=100 * MBIT)],
    )
    speeds = matrix({("m1", "m2"): 50 * MBIT, ("m1", "m3"): 100 * MBIT})
    result = assign(placement, unknown, speeds)  # type: ignore[arg-type]
    assert isinstance(result, Assignment)
    assert result.primary["b"] == "m3"


def test_a_pinned_node_takes_its_peer_even_when_others_rank_higher() -> None:
    placement = Placement(candidates={"a": ranked(("m1", 0.9), ("m2", 0.2))}, pinned={"a": "m2"})
    result = assign(placement, unknown, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "m2"}


def test_a_pinned_peer_that_did_not_bid_is_explained() -> None:
    placement = Placement(candidates={"a": ranked(("m1", 0.9)), "b": []}, pinned={"a": "m9"})
    result = assign(placement, unknown, unknown)
    assert isinstance(result, Unassignable)
    assert [str(r) for r in result.reasons] == [
        "a: pinned to m9, which did not bid",
        "b: no machine bid for it",
    ]


def test_two_nodes_share_a_machine_only_if_it_has_room_for_both() -> None:
    need = Requirement(cpu=2, ram=2 * GIB)
    candidates = {"a": ranked(("big", 0.9), ("m2", 0.1)), "b": ranked(("big", 0.9), ("m3", 0.1))}
    roomy = Placement(
        candidates=candidates,
        requirements={"a": need, "b": need},
        free={"big": Resources(cpu=4, ram=4 * GIB)},
    )
    result = assign(roomy, unknown, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "big", "b": "big"}
    tight = Placement(
        candidates=candidates,
        requirements={"a": need, "b": need},
        free={"big": Resources(cpu=3, ram=4 * GIB)},
    )
    result = assign(tight, unknown, unknown)
    assert isinstance(result, Assignment)
    assert sorted(result.primary.values()) in (["big", "m3"], ["big", "m2"])
    unknown_room = Placement(candidates=candidates, requirements={"a": need, "b": need})
    result = assign(unknown_room, unknown, unknown)
    assert isinstance(result, Assignment)
    assert len(set(result.primary.values())) == 2


def test_co_located_nodes_meet_the_edge_between_them() -> None:
    placement = Placement(
        candidates={"a": ranked(("big", 0.9)), "b": ranked(("big", 0.9))},
        free={"big": Resources(cpu=8, ram=8 * GIB)},
        edges=[EdgeConstraint("a", "b", max_rtt=0.001, min_bandwidth=10**9)],
    )
    result = assign(placement, unknown, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "big", "b": "big"}


def test_gpus_must_be_distinct_devices_when_sharing() -> None:
    card = Gpu(index=0, vendor="nvidia", model="H100", vram=80 * GIB)
    need = Requirement(gpus=(GpuNeed(vram=40 * GIB),))
    assert fits_together(Resources(gpus=(card,)), [need])
    assert not fits_together(Resources(gpus=(card,)), [need, need])
    two = Resources(gpus=(card, Gpu(index=1, vendor="nvidia", model="H100", vram=80 * GIB)))
    assert fits_together(two, [need, need])


def test_standbys_come_from_the_remaining_candidates_and_honour_edges() -> None:
    placement = Placement(
        candidates={
            "a": ranked(("m1", 0.9), ("m2", 0.8), ("m3", 0.7), ("m4", 0.6)),
            "b": ranked(("m5", 0.9), ("m2", 0.1)),
        },
        edges=[EdgeConstraint("a", "b", max_rtt=0.050)],
        redundancy={"a": 2, "b": 1},
    )
    near = 0.010
    rtt = matrix({("m1", "m5"): near, ("m3", "m5"): near, ("m4", "m5"): near, ("m2", "m5"): 0.2})
    result = assign(placement, rtt, unknown)
    assert isinstance(result, Assignment)
    assert result.primary == {"a": "m1", "b": "m5"}
    assert result.standby == {"a": ("m3", "m4"), "b": ()}  # m2 is too far from b's m5
    assert result.standby_missing == {"b": 1}  # m2 is too far from a's m1 (unknown)


def test_the_step_budget_is_reported() -> None:
    nodes = {f"n{i}": ranked(*((f"m{j}", 1.0 - j / 10) for j in range(6))) for i in range(6)}
    edges = [EdgeConstraint(f"n{i}", f"n{i + 1}", max_rtt=0.01) for i in range(5)]
    # no pair of distinct machines is close: only an impossible chain of co-locations
    result = assign(Placement(candidates=nodes, edges=edges), unknown, unknown, max_steps=20)
    assert isinstance(result, Unassignable)
    assert result.exhausted
    assert result.steps == 20
    assert "stopped after 20 steps" in str(result)
    assert [r.subject for r in result.reasons] == ["search"]  # no claim it is impossible


def test_a_budget_that_runs_out_after_a_first_assignment_returns_it_marked_exhausted() -> None:
    placement = Placement(
        candidates={"a": ranked(("m1", 0.9), ("m2", 0.8)), "b": ranked(("m3", 0.9), ("m4", 0.1))},
        edges=[EdgeConstraint("a", "b", max_rtt=0.05)],
    )
    rtt = matrix({("m1", "m3"): 0.5, ("m1", "m4"): 0.01, ("m2", "m3"): 0.01})
    first = assign(placement, rtt, unknown, max_steps=3)
    assert isinstance(first, Assignment)
    assert (first.primary, first.exhausted) == ({"a": "m1", "b": "m4"}, True)
    best = assign(placement, rtt, unknown)
    assert isinstance(best, Assignment)
    assert (best.primary, best.exhausted, best.steps) == ({"a": "m2", "b": "m3"}, False, 5)


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        (Placement(candidates={"a": []}, edges=[EdgeConstraint("a", "z")]), "names 'z'"),
        (Placement(candidates={"a": []}, edges=[EdgeConstraint("a", "a")]), "to itself"),
        (Placement(candidates={"a": []}, pinned={"q": "m"}), "pinned names nodes"),
        (Placement(candidates={"a": []}, redundancy={"a": -1}), "cannot be negative"),
    ],
)
def test_a_malformed_problem_is_refused(placement: Placement, message: str) -> None:
    with pytest.raises(AssignmentError, match=message):
        assign(placement, unknown, unknown)


def test_a_zero_budget_is_refused() -> None:
    with pytest.raises(AssignmentError, match="max_steps"):
        assign(Placement(candidates={}), unknown, unknown, max_steps=0)


# --- against a brute-force oracle ---

MACHINES = ["m0", "m1", "m2", "m3"]
NODES = ["a", "b", "c"]


@st.composite
def problems(draw: st.DrawFn) -> tuple[Placement, dict[tuple[str, str], float]]:
    nodes = NODES[: draw(st.integers(1, 3))]
    candidates = {}
    for node in nodes:
        dids = draw(st.lists(st.sampled_from(MACHINES), unique=True, max_size=4))
        scores = draw(
            st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.9]), min_size=len(dids), max_size=len(dids))
        )
        candidates[node] = ranked(*sorted(zip(dids, scores, strict=True), key=lambda p: -p[1]))
    pairs = list(itertools.combinations(nodes, 2))
    edges = (
        [
            EdgeConstraint(a, b, max_rtt=draw(st.sampled_from([0.0, 0.02, 0.05])))
            for a, b in draw(st.lists(st.sampled_from(pairs), unique=True))
            if pairs
        ]
        if pairs
        else []
    )
    rtts = {
        (x, y): draw(st.sampled_from([0.01, 0.03, 0.1]))
        for x, y in itertools.combinations(MACHINES, 2)
        if draw(st.booleans())
    }
    requirements = {n: Requirement(cpu=draw(st.sampled_from([1.0, 2.0]))) for n in nodes}
    free = {
        m: Resources(cpu=draw(st.sampled_from([1.0, 2.0, 3.0, 4.0])))
        for m in MACHINES
        if draw(st.booleans())
    }
    pinned = {}
    if nodes and draw(st.booleans()):
        pinned[nodes[0]] = draw(st.sampled_from(MACHINES))
    placement = Placement(
        candidates=candidates, requirements=requirements, free=free, edges=edges, pinned=pinned
    )
    return placement, rtts


def _feasible(
    placement: Placement, rtts: dict[tuple[str, str], float], chosen: dict[str, str]
) -> bool:
    for node, did in placement.pinned.items():
        if chosen[node] != did:
            return False
    for edge in placement.edges:
        x, y = chosen[edge.a], chosen[edge.b]
        if x != y and edge.max_rtt > 0:
            measured = rtts.get((x, y), rtts.get((y, x)))
            if measured is None or measured > edge.max_rtt:
                return False
    by_machine: dict[str, list[str]] = {}
    for node, did in chosen.items():
        by_machine.setdefault(did, []).append(node)
    for did, hosted in by_machine.items():
        if len(hosted) > 1:
            free = placement.free.get(did)
            if free is None or not fits_together(free, [placement.requirements[n] for n in hosted]):
                return False
    return True


def _oracle(placement: Placement, rtts: dict[tuple[str, str], float]) -> float | None:
    nodes = list(placement.candidates)
    best: float | None = None
    for combo in itertools.product(*(placement.candidates[n] for n in nodes)):
        chosen = {n: c.did for n, c in zip(nodes, combo, strict=True)}
        if _feasible(placement, rtts, chosen):
            total = sum(c.score for c in combo)
            best = total if best is None or total > best else best
    return best


@settings(max_examples=300, deadline=None)
@given(problems())
def test_the_search_finds_the_best_feasible_assignment_whenever_one_exists(
    problem: tuple[Placement, dict[tuple[str, str], float]],
) -> None:
    placement, rtts = problem
    result = assign(placement, matrix(rtts), unknown)
    best = _oracle(placement, rtts)
    if best is None:
        assert isinstance(result, Unassignable)
        assert result.reasons
        assert not result.exhausted
    else:
        assert isinstance(result, Assignment)
        assert _feasible(placement, rtts, result.primary)
        assert result.score == pytest.approx(best)
        scores = {(n, c.did): c.score for n, cs in placement.candidates.items() for c in cs}
        assert result.score == pytest.approx(sum(scores[(n, d)] for n, d in result.primary.items()))
