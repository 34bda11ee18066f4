"""The deployment events and the DeploymentState / Deployments projections folded from them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.actor import Handle
from nunet.allocation.protocol import Published, StoredObject
from nunet.eventlog import Catalogue, EventRecord
from nunet.orchestrator.allocation_view import AllocationPhase
from nunet.orchestrator.events import (
    EVENTS,
    AllocationResult,
    AllocationsRestarted,
    AllocationStateChanged,
    CommitFailed,
    DeploymentCompleted,
    DeploymentEvent,
    DeploymentExpired,
    DeploymentFailed,
    DeploymentQueued,
    DeploymentRunning,
    DeploymentSubmitted,
    DeploymentTornDown,
    MatchingStarted,
    NodeAllocated,
    NodeCommitted,
    NodeLost,
    NodeRescheduled,
    NodeReverted,
    NodesMatched,
    OutputsPublished,
    ShutdownRequested,
    SupervisorEscalated,
    TasksDone,
)
from nunet.orchestrator.lifecycle import IllegalTransition, LifecycleError, Phase
from nunet.orchestrator.state import Deployments, DeploymentState

DEP = "web-1"
ALICE, BOB, CAROL = "did:key:alice", "did:key:bob", "did:key:carol"


def submitted(deployment: str = DEP, at: float = 0.0) -> DeploymentSubmitted:
    return DeploymentSubmitted(
        deployment=deployment,
        at=at,
        ensemble_name="web-stack",
        ensemble={"version": "nunet/v1", "name": "web-stack"},
        requester="did:key:me",
        nodes={"n1": ["db"], "n2": ["web", "cache"]},
        allocations={"db": "task", "web": "task", "cache": "task"},
        queue_timeout=60.0,
    )


def handle(name: str, did: str) -> Handle:
    return Handle(did, f"alloc/{DEP}/{name}", f"nats://{did}")


def report(name: str, node: str, state: str, at: float, **extra: Any) -> AllocationStateChanged:
    return AllocationStateChanged(
        deployment=DEP, at=at, node=node, allocation=name, state=state, **extra
    )


def up_to_running() -> list[DeploymentEvent]:
    return [
        submitted(),
        MatchingStarted(deployment=DEP, at=1, request_id="r1", attempt=1, nodes=["n1", "n2"]),
        NodesMatched(
            deployment=DEP, at=2, primary={"n1": ALICE, "n2": BOB}, standby={"n2": [CAROL]}
        ),
        NodeCommitted(deployment=DEP, at=3, node="n1", provider=ALICE, reservation=f"{DEP}/n1"),
        NodeCommitted(
            deployment=DEP, at=3, node="n2", provider=CAROL, reservation="s", standby=True
        ),
        NodeCommitted(deployment=DEP, at=4, node="n2", provider=BOB, reservation=f"{DEP}/n2"),
        NodeAllocated(
            deployment=DEP, at=5, node="n1", provider=ALICE, allocations={"db": handle("db", ALICE)}
        ),
        NodeAllocated(
            deployment=DEP,
            at=6,
            node="n2",
            provider=BOB,
            allocations={"web": handle("web", BOB), "cache": handle("cache", BOB)},
        ),
        *(report(name, node, "starting", 7, run=1) for name, node in NAMES),
        *(report(name, node, "running", 8, run=1) for name, node in NAMES),
        DeploymentRunning(deployment=DEP, at=9),
    ]


NAMES = (("db", "n1"), ("web", "n2"), ("cache", "n2"))


# --- the events ---


def test_every_event_type_is_a_distinct_deployment_type() -> None:
    types = [cls.TYPE for cls in EVENTS]
    assert len(set(types)) == len(types)
    assert all(t.startswith("deployment.") for t in types)
    assert all(issubclass(cls, DeploymentEvent) for cls in EVENTS)


def test_every_event_round_trips_through_the_log_encoding() -> None:
    catalogue = Catalogue(*EVENTS)
    events = [*up_to_running(), *everything_else()]
    assert {type(e) for e in events} == set(EVENTS)
    for seq, event in enumerate(events, 1):
        record = EventRecord(seq, 0, event.TYPE, 1, "", msgspec.msgpack.encode(event), b"", b"")
        assert catalogue.decode(record) == event


PUBLISHED = OutputsPublished(
    deployment=DEP,
    at=10,
    node="n1",
    allocation="db",
    run=1,
    outputs=(
        Published(
            path="/out",
            destination="s3://results/db/",
            objects=(
                StoredObject(location="s3://results/db/a", size=3, checksum="sha256:00"),
                StoredObject(location="s3://results/db/b", size=2048, checksum="sha256:11"),
            ),
        ),
        Published(path="/logs", destination="nunet://logs/db/", error="output 1 (...): denied"),
    ),
)


def test_published_outputs_are_kept_per_allocation_and_said_in_the_history() -> None:
    state = DeploymentState.replay([*up_to_running(), PUBLISHED])
    assert state.published == {"db": PUBLISHED}
    assert state.history[-1].summary == (
        "outputs of db (run 1): /out → s3://results/db/ (2 objects, 2051B); "
        "/logs not published: output 1 (...): denied"
    )
    stranger = msgspec.structs.replace(PUBLISHED, allocation="nope")
    assert DeploymentState.replay([*up_to_running(), stranger]).anomalies == (
        "outputs of unknown allocation nope",
    )


def everything_else() -> list[DeploymentEvent]:
    return [
        DeploymentQueued(deployment=DEP, at=1, why="no machine fits", retry_in=5, attempt=1),
        DeploymentExpired(deployment=DEP, at=1, why="queued for 60 s"),
        CommitFailed(deployment=DEP, at=1, node="n1", provider=ALICE, reason="busy"),
        NodeReverted(deployment=DEP, at=1, node="n1", provider=ALICE, reason="round failed"),
        AllocationsRestarted(
            deployment=DEP, at=1, supervisor="", allocations=["db"], strategy="one-for-one", why="x"
        ),
        SupervisorEscalated(deployment=DEP, at=1, supervisor="0", why="too many restarts"),
        NodeLost(deployment=DEP, at=1, node="n1", provider=ALICE, why="missed heartbeats"),
        NodeRescheduled(deployment=DEP, at=1, node="n1", old_provider=ALICE, new_provider=CAROL),
        TasksDone(deployment=DEP, at=1),
        AllocationResult(
            deployment=DEP, at=1, node="n1", allocation="db", state="exited", exit_code=0
        ),
        PUBLISHED,
        DeploymentCompleted(deployment=DEP, at=1),
        DeploymentFailed(deployment=DEP, at=1, why="db failed beyond restarts"),
        ShutdownRequested(deployment=DEP, at=1, by="did:key:me"),
        DeploymentTornDown(deployment=DEP, at=1),
    ]


# --- one deployment ---


def test_a_batch_job_folds_from_submission_to_completion() -> None:
    events = [
        *up_to_running(),
        *(report(name, node, "exited", 10, run=1, exit_code=0) for name, node in NAMES),
        TasksDone(deployment=DEP, at=11),
        *(
            AllocationResult(
                deployment=DEP, at=12, node=node, allocation=name, state="exited", exit_code=0
            )
            for name, node in NAMES
        ),
        DeploymentTornDown(deployment=DEP, at=13),
        DeploymentCompleted(deployment=DEP, at=14),
    ]
    state = DeploymentState.replay(events)
    assert state.phase is Phase.COMPLETED
    assert state.torn_down
    assert set(state.results) == {"db", "web", "cache"}
    assert all(view.state is AllocationPhase.EXITED for view in state.allocations.values())
    assert state.allocations["web"].handle == handle("web", BOB)
    assert state.nodes["n2"].provider == BOB
    assert state.nodes["n2"].standby_reservations == {CAROL: "s"}
    assert len(state.history) == len(events)
    assert state.history[2].summary == f"matched n1 → {ALICE}, n2 → {BOB} (+1 standby)"
    assert state.updated_at == 14
    assert not state.anomalies


def test_each_step_moves_the_lifecycle_at_the_event_that_completes_it() -> None:
    phases = []
    state: DeploymentState | None = None
    for event in up_to_running():
        state = (
            DeploymentState.submitted(event)
            if isinstance(event, DeploymentSubmitted)
            else state.apply(event)  # type: ignore[union-attr]
        )
        phases.append(state.phase)
    assert phases == [
        Phase.SUBMITTED,
        Phase.MATCHING,
        Phase.COMMITTING,
        Phase.COMMITTING,  # n1 committed
        Phase.COMMITTING,  # n2's standby committed
        Phase.ALLOCATING,  # n2's primary: every node committed
        Phase.ALLOCATING,  # n1 allocated
        *[Phase.STARTING] * 7,  # n2 allocated, then reports: running is the orchestrator's call
        Phase.RUNNING,
    ]


def test_a_failed_commit_goes_back_to_matching_and_a_late_one_changes_nothing() -> None:
    events: list[DeploymentEvent] = [
        *up_to_running()[:4],
        CommitFailed(deployment=DEP, at=4, node="n2", provider=BOB, reason="no longer fits"),
    ]
    state = DeploymentState.replay(events)
    assert state.phase is Phase.MATCHING
    assert state.nodes["n2"].error == "no longer fits"
    state = state.apply(NodeReverted(deployment=DEP, at=5, node="n1", provider=ALICE))
    assert state.allocations["db"].state is AllocationPhase.PENDING
    assert not state.nodes["n1"].committed
    late = state.apply(CommitFailed(deployment=DEP, at=6, node="n1", provider=ALICE, reason="x"))
    assert late.phase is Phase.MATCHING
    again = late.apply(
        MatchingStarted(deployment=DEP, at=7, request_id="r2", attempt=2, nodes=["n1", "n2"])
    )
    assert again.phase is Phase.MATCHING
    assert again.attempts == 2


def test_a_lost_node_fails_over_to_its_committed_standby() -> None:
    state = DeploymentState.replay(up_to_running())
    state = state.apply(NodeLost(deployment=DEP, at=20, node="n2", provider=BOB, why="silent"))
    assert state.phase is Phase.RESCHEDULING
    assert state.allocations["web"].state is AllocationPhase.LOST
    assert state.allocations["db"].state is AllocationPhase.RUNNING
    state = state.apply(
        NodeRescheduled(
            deployment=DEP,
            at=21,
            node="n2",
            old_provider=BOB,
            new_provider=CAROL,
            from_standby=True,
        )
    )
    node = state.nodes["n2"]
    assert (node.provider, node.committed, node.reservation, node.standby) == (CAROL, True, "s", ())
    assert state.allocations["web"].state is AllocationPhase.COMMITTED
    state = state.apply(
        NodeAllocated(
            deployment=DEP,
            at=22,
            node="n2",
            provider=CAROL,
            allocations={"web": handle("web", CAROL), "cache": handle("cache", CAROL)},
        )
    )
    assert state.phase is Phase.STARTING
    assert state.allocations["cache"].handle == handle("cache", CAROL)
    assert state.history[-1].summary == f"{CAROL} allocated web, cache of n2"


def test_a_rematched_node_puts_its_allocations_back_to_pending() -> None:
    state = DeploymentState.replay(up_to_running())
    state = state.apply(NodeLost(deployment=DEP, at=20, node="n1", provider=ALICE, why="gone"))
    state = state.apply(
        MatchingStarted(deployment=DEP, at=21, request_id="r2", attempt=2, nodes=["n1"])
    )
    state = state.apply(NodesMatched(deployment=DEP, at=22, primary={"n1": CAROL}))
    assert state.phase is Phase.RESCHEDULING
    assert state.allocations["db"].state is AllocationPhase.PENDING
    assert state.nodes["n2"].provider == BOB  # untouched


def test_restarts_and_reports_update_the_allocation_view() -> None:
    state = DeploymentState.replay(up_to_running())
    state = state.apply(report("db", "n1", "failed", 10, run=1, exit_code=137, error="OOM"))
    state = state.apply(
        AllocationsRestarted(
            deployment=DEP,
            at=11,
            supervisor="",
            allocations=["db"],
            strategy="one-for-one",
            why="x",
        )
    )
    state = state.apply(report("db", "n1", "starting", 12, run=2))
    state = state.apply(report("db", "n1", "running", 13, run=2, healthy=True))
    view = state.allocations["db"]
    assert (view.state, view.run, view.restarts, view.healthy) == (
        AllocationPhase.RUNNING,
        2,
        1,
        True,
    )
    assert state.history[-4].summary == "db failed, exit 137: OOM"


def test_a_stale_report_is_kept_as_an_anomaly_and_changes_nothing() -> None:
    state = DeploymentState.replay(up_to_running())
    stale = state.apply(report("db", "n1", "allocated", 10))
    assert stale.allocations == state.allocations
    assert len(stale.anomalies) == 1
    assert "db" in stale.anomalies[0]
    unknown = state.apply(report("ghost", "n1", "running", 10))
    assert "unknown allocation ghost" in unknown.anomalies[-1]
    wrong_node = state.apply(report("db", "n2", "running", 10))
    assert "it is on n1" in wrong_node.anomalies[-1]


@pytest.mark.parametrize(
    "event",
    [
        DeploymentRunning(deployment=DEP, at=1),
        DeploymentCompleted(deployment=DEP, at=1),
        NodeLost(deployment=DEP, at=1, node="n1", provider=ALICE, why="x"),
        DeploymentExpired(deployment=DEP, at=1, why="x"),
    ],
    ids=lambda e: e.TYPE,
)
def test_a_decision_the_lifecycle_refuses_raises(event: DeploymentEvent) -> None:
    state = DeploymentState.submitted(submitted())
    with pytest.raises(IllegalTransition, match="submitted"):
        state.apply(event)


def test_a_terminal_deployment_refuses_decisions_but_records_teardown() -> None:
    state = DeploymentState.replay(
        [*up_to_running(), DeploymentFailed(deployment=DEP, at=10, why="db beyond restarts")]
    )
    assert state.phase is Phase.FAILED
    assert state.why == "db beyond restarts"
    with pytest.raises(IllegalTransition):
        state.apply(ShutdownRequested(deployment=DEP, at=11))
    torn = state.apply(DeploymentTornDown(deployment=DEP, at=11))
    assert torn.phase is Phase.FAILED
    assert torn.torn_down


def test_shutdown_ends_as_shut_down_after_teardown() -> None:
    state = DeploymentState.replay(up_to_running())
    state = state.apply(ShutdownRequested(deployment=DEP, at=10, by="did:key:me"))
    assert state.phase is Phase.SHUTTING_DOWN
    state = state.apply(ShutdownRequested(deployment=DEP, at=11))
    state = state.apply(DeploymentTornDown(deployment=DEP, at=12))
    assert state.phase is Phase.SHUT_DOWN


def test_queue_then_expire() -> None:
    state = DeploymentState.replay(
        [
            submitted(),
            MatchingStarted(deployment=DEP, at=1, request_id="r1", attempt=1, nodes=["n1"]),
            DeploymentQueued(deployment=DEP, at=2, why="no machine has a GPU", retry_in=5),
        ]
    )
    assert (state.phase, state.why, state.retry_in) == (Phase.QUEUED, "no machine has a GPU", 5)
    state = state.apply(DeploymentExpired(deployment=DEP, at=61, why="queued 60 s"))
    assert state.phase is Phase.EXPIRED


def test_replay_needs_the_submission_first() -> None:
    with pytest.raises(LifecycleError, match=r"start with deployment\.submitted"):
        DeploymentState.replay([DeploymentRunning(deployment=DEP, at=1)])
    with pytest.raises(LifecycleError, match="already submitted"):
        DeploymentState.replay([submitted(), submitted()])
    with pytest.raises(LifecycleError, match="is for deployment other"):
        DeploymentState.submitted(submitted()).apply(DeploymentRunning(deployment="other", at=1))


def test_a_submission_naming_an_allocation_without_a_type_is_refused() -> None:
    bad = msgspec.structs.replace(submitted(), allocations={"db": "task"})
    with pytest.raises(LifecycleError, match="cache, web"):
        DeploymentState.submitted(bad)


def test_the_state_round_trips_through_msgpack() -> None:
    state = DeploymentState.replay(up_to_running())
    encoded = msgspec.msgpack.encode(state)
    assert msgspec.msgpack.decode(encoded, type=DeploymentState) == state


# --- many deployments ---


def test_deployments_fold_interleaved_streams_and_keep_anomalies() -> None:
    other = [
        submitted("batch-2", at=0.5),
        MatchingStarted(deployment="batch-2", at=1, request_id="q", attempt=1, nodes=["n1"]),
    ]
    mine = up_to_running()
    interleaved = [mine[0], other[0], *mine[1:3], other[1], *mine[3:]]
    stray = DeploymentRunning(deployment="nobody", at=1)
    illegal = DeploymentCompleted(deployment="batch-2", at=2)
    projection = Deployments.replay([*interleaved, stray, illegal, submitted()])
    assert projection.get(DEP) == DeploymentState.replay(mine)
    assert projection.get("batch-2") == DeploymentState.replay(other)
    assert projection.in_phases(Phase.RUNNING) == [DEP]
    assert projection.in_phases(Phase.MATCHING, Phase.RUNNING) == [DEP, "batch-2"]
    assert [(a.deployment, a.type) for a in projection.anomalies] == [
        ("nobody", "deployment.running"),
        ("batch-2", "deployment.completed"),
        (DEP, "deployment.submitted"),
    ]


# --- properties ---

CHOICES = [
    lambda at: MatchingStarted(deployment=DEP, at=at, request_id="r", attempt=1, nodes=["n1"]),
    lambda at: DeploymentQueued(deployment=DEP, at=at, why="none", retry_in=1),
    lambda at: NodesMatched(deployment=DEP, at=at, primary={"n1": ALICE, "n2": BOB}),
    lambda at: NodesMatched(deployment=DEP, at=at, primary={"n2": CAROL}),
    lambda at: NodeCommitted(deployment=DEP, at=at, node="n1", provider=ALICE, reservation="a"),
    lambda at: NodeCommitted(deployment=DEP, at=at, node="n2", provider=BOB, reservation="b"),
    lambda at: NodeCommitted(deployment=DEP, at=at, node="n2", provider=CAROL, reservation="c"),
    lambda at: CommitFailed(deployment=DEP, at=at, node="n2", provider=BOB, reason="x"),
    lambda at: NodeReverted(deployment=DEP, at=at, node="n1", provider=ALICE),
    lambda at: NodeAllocated(
        deployment=DEP, at=at, node="n1", provider=ALICE, allocations={"db": handle("db", ALICE)}
    ),
    lambda at: NodeAllocated(
        deployment=DEP,
        at=at,
        node="n2",
        provider=BOB,
        allocations={"web": handle("web", BOB), "cache": handle("cache", BOB)},
    ),
    *(
        (lambda at, n=name, d=node, s=state: report(n, d, s, at, run=1))
        for name, node in NAMES
        for state in ("starting", "running", "exited", "failed", "released")
    ),
    lambda at: NodeLost(deployment=DEP, at=at, node="n2", provider=BOB, why="x"),
    lambda at: NodeRescheduled(
        deployment=DEP, at=at, node="n2", old_provider=BOB, new_provider=CAROL
    ),
    lambda at: DeploymentRunning(deployment=DEP, at=at),
    lambda at: TasksDone(deployment=DEP, at=at),
]
ENDINGS = [
    lambda at: DeploymentCompleted(deployment=DEP, at=at),
    lambda at: DeploymentFailed(deployment=DEP, at=at, why="x"),
    lambda at: ShutdownRequested(deployment=DEP, at=at),
    lambda at: DeploymentTornDown(deployment=DEP, at=at),
    lambda at: DeploymentExpired(deployment=DEP, at=at, why="x"),
]
WEIGHTED = CHOICES * 8 + ENDINGS  # endings are rare, so streams get far before one


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(range(len(WEIGHTED))), max_size=60))
def test_live_state_equals_the_replay_of_what_it_accepted(picks: list[int]) -> None:
    live = DeploymentState.submitted(submitted())
    accepted: list[DeploymentEvent] = [submitted()]
    for step, pick in enumerate(picks, 1):
        event = WEIGHTED[pick](float(step))
        try:
            live = live.apply(event)
        except IllegalTransition:
            continue
        accepted.append(event)
        # invariants after every step
        assert live.phase.value in {p.value for p in Phase}
        assert set(live.allocations) == {"db", "web", "cache"}
        assert len(live.history) == len(accepted)
    assert DeploymentState.replay(accepted) == live
    assert Deployments.replay(accepted).get(DEP) == live
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(live), type=DeploymentState) == live
