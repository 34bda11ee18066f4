"""claim_of: whether a deployment still holds a node on a machine that asks after a restart."""

from __future__ import annotations

from nunet.orchestrator.deployments import claim_of
from nunet.orchestrator.events import (
    DeploymentFailed,
    DeploymentSubmitted,
    MatchingStarted,
    NodeCommitted,
    NodeLost,
    NodesMatched,
)
from nunet.orchestrator.state import DeploymentState

A, B, C = "did:key:a", "did:key:b", "did:key:c"


def placed() -> DeploymentState:
    state = DeploymentState.submitted(
        DeploymentSubmitted(
            deployment="d1",
            at=1.0,
            ensemble_name="e",
            ensemble={},
            requester="did:key:r",
            nodes={"n1": ["t"]},
            allocations={"t": "task"},
        )
    )
    state = state.apply(
        MatchingStarted(deployment="d1", at=2.0, request_id="", attempt=1, nodes=["n1"])
    )
    return state.apply(
        NodesMatched(deployment="d1", at=3.0, primary={"n1": A}, standby={"n1": [B]})
    )


def test_the_machine_holding_the_node_and_its_standby_are_claimed() -> None:
    state = placed()
    assert claim_of(state, "n1", A).claimed
    assert claim_of(state, "n1", B).claimed


def test_a_stranger_an_unknown_node_or_deployment_are_not_and_say_why() -> None:
    state = placed()
    stranger = claim_of(state, "n1", C)
    assert (stranger.claimed, stranger.why) == (False, f"node n1 is now on {A}")
    assert claim_of(state, "n9", A).why == "the deployment has no node n9"
    assert claim_of(None, "n1", A).why == "no such deployment here"


def test_nothing_is_claimed_once_the_deployment_ended() -> None:
    state = placed().apply(DeploymentFailed(deployment="d1", at=4.0, why="test"))
    answer = claim_of(state, "n1", A)
    assert (answer.claimed, answer.why) == (False, "the deployment is failed")


def test_a_lost_machine_is_not_claimed_once_its_node_moved() -> None:
    state = placed().apply(
        NodeCommitted(deployment="d1", at=4.0, node="n1", provider=A, reservation="d1/n1")
    )
    state = state.apply(NodeLost(deployment="d1", at=5.0, node="n1", provider=A, why="silent"))
    state = state.apply(NodesMatched(deployment="d1", at=6.0, primary={"n1": C}))
    assert not claim_of(state, "n1", A).claimed
    assert claim_of(state, "n1", C).claimed
