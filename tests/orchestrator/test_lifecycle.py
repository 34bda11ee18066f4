"""The deployment and allocation lifecycles: every (state, input) pair against the tables."""

from __future__ import annotations

import itertools

import pytest

from nunet.errors import NunetError
from nunet.orchestrator.allocation_view import (
    ALLOCATION_TERMINAL,
    ALLOCATION_TRANSITIONS,
    AllocationInput,
    AllocationPhase,
    next_allocation_state,
)
from nunet.orchestrator.lifecycle import (
    LIVE,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Input,
    Phase,
    accepts,
    is_terminal,
    next_state,
)

P = Phase
I = Input  # noqa: E741

# The table written out again, independently of the module, one row per legal pair.
EXPECTED: dict[tuple[Phase, Input], Phase] = {
    (P.SUBMITTED, I.SEARCH_STARTED): P.MATCHING,
    (P.QUEUED, I.SEARCH_STARTED): P.MATCHING,
    (P.MATCHING, I.SEARCH_STARTED): P.MATCHING,
    (P.MATCHING, I.SEARCHED_NOTHING): P.QUEUED,
    (P.QUEUED, I.QUEUE_TIMEOUT): P.EXPIRED,
    (P.MATCHING, I.QUEUE_TIMEOUT): P.EXPIRED,
    (P.MATCHING, I.BIDS_FOUND): P.COMMITTING,
    (P.COMMITTING, I.COMMITTED): P.ALLOCATING,
    (P.COMMITTING, I.COMMIT_FAILED): P.MATCHING,
    (P.MATCHING, I.COMMIT_FAILED): P.MATCHING,
    (P.QUEUED, I.COMMIT_FAILED): P.QUEUED,
    (P.ALLOCATING, I.ALLOCATED): P.STARTING,
    (P.STARTING, I.ALL_RUNNING): P.RUNNING,
    (P.STARTING, I.ALL_TASKS_DONE): P.COMPLETING,
    (P.RUNNING, I.ALL_TASKS_DONE): P.COMPLETING,
    (P.COMPLETING, I.FINISHED): P.COMPLETED,
    (P.COMPLETING, I.TORN_DOWN): P.COMPLETING,
    (P.ALLOCATING, I.NODE_LOST): P.RESCHEDULING,
    (P.STARTING, I.NODE_LOST): P.RESCHEDULING,
    (P.RUNNING, I.NODE_LOST): P.RESCHEDULING,
    (P.RESCHEDULING, I.NODE_LOST): P.RESCHEDULING,
    (P.RESCHEDULING, I.SEARCH_STARTED): P.RESCHEDULING,
    (P.RESCHEDULING, I.SEARCHED_NOTHING): P.RESCHEDULING,
    (P.RESCHEDULING, I.BIDS_FOUND): P.RESCHEDULING,
    (P.RESCHEDULING, I.COMMITTED): P.RESCHEDULING,
    (P.RESCHEDULING, I.COMMIT_FAILED): P.RESCHEDULING,
    (P.RESCHEDULING, I.ALLOCATED): P.STARTING,
    (P.COMPLETING, I.NODE_LOST): P.COMPLETING,
    (P.SUBMITTED, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.QUEUED, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.MATCHING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.COMMITTING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.ALLOCATING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.STARTING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.RUNNING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.RESCHEDULING, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.COMPLETING, I.SHUTDOWN_REQUESTED): P.COMPLETING,
    (P.SHUTTING_DOWN, I.SHUTDOWN_REQUESTED): P.SHUTTING_DOWN,
    (P.SHUTTING_DOWN, I.COMMIT_FAILED): P.SHUTTING_DOWN,
    (P.SHUTTING_DOWN, I.NODE_LOST): P.SHUTTING_DOWN,
    (P.SHUTTING_DOWN, I.TORN_DOWN): P.SHUT_DOWN,
    **{(state, I.FAILURE): P.FAILED for state in LIVE},
}

ALL_PAIRS = list(itertools.product(Phase, Input))


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_follows_the_table(state: Phase, event: Input) -> None:
    expected = EXPECTED.get((state, event))
    if expected is None:
        assert not accepts(state, event)
        with pytest.raises(IllegalTransition) as caught:
            next_state(state, event)
        assert state.value in str(caught.value)
        assert event.value in str(caught.value)
        assert caught.value.state is state
        assert caught.value.input is event
        assert isinstance(caught.value, NunetError)
    else:
        assert accepts(state, event)
        assert next_state(state, event) is expected


def test_the_module_table_has_no_row_the_spec_lacks() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_accept_nothing(state: Phase) -> None:
    assert is_terminal(state)
    for event in Input:
        assert not accepts(state, event)


def test_terminal_states_are_the_ones_the_deployments_actor_treats_as_ended() -> None:
    from nunet.orchestrator.behaviors import TERMINAL_STATES

    assert {state.value for state in TERMINAL} == TERMINAL_STATES


def _reachable() -> set[Phase]:
    seen = {Phase.SUBMITTED}
    frontier = [Phase.SUBMITTED]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_state_is_reachable_from_submitted() -> None:
    assert _reachable() == set(Phase)


@pytest.mark.parametrize("state", sorted(LIVE))
def test_every_live_state_can_end(state: Phase) -> None:
    # a terminal state is reachable from every live one (no deployment is stuck for ever)
    seen = {state}
    frontier = [state]
    while frontier:
        current = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen & TERMINAL


def test_the_happy_path_of_a_batch_job() -> None:
    state = Phase.SUBMITTED
    for event in (
        I.SEARCH_STARTED,
        I.SEARCHED_NOTHING,
        I.SEARCH_STARTED,
        I.BIDS_FOUND,
        I.COMMITTED,
        I.ALLOCATED,
        I.ALL_RUNNING,
        I.ALL_TASKS_DONE,
        I.TORN_DOWN,
        I.FINISHED,
    ):
        state = next_state(state, event)
    assert state is Phase.COMPLETED


def test_a_lost_node_is_rescheduled_and_the_deployment_runs_again() -> None:
    state = Phase.RUNNING
    for event in (I.NODE_LOST, I.SEARCH_STARTED, I.BIDS_FOUND, I.COMMITTED, I.ALLOCATED):
        state = next_state(state, event)
    assert state is Phase.STARTING
    assert next_state(state, I.ALL_RUNNING) is Phase.RUNNING


# --- the allocation view ---

A = AllocationPhase
AI = AllocationInput
_REPORTS_AFTER_ALLOCATED = (AI.STARTING, AI.RUNNING, AI.EXITED, AI.FAILED, AI.STOPPED, AI.RELEASED)

ALLOCATION_EXPECTED: dict[tuple[AllocationPhase, AllocationInput], AllocationPhase] = {
    (A.PENDING, AI.COMMITTED): A.COMMITTED,
    (A.COMMITTED, AI.ALLOCATED): A.ALLOCATED,
    (A.COMMITTED, AI.REVERTED): A.PENDING,
    (A.ALLOCATED, AI.REVERTED): A.PENDING,
    **{(A.ALLOCATED, e): AllocationPhase(e.value) for e in _REPORTS_AFTER_ALLOCATED},
    **{(A.STARTING, e): AllocationPhase(e.value) for e in _REPORTS_AFTER_ALLOCATED[1:]},
    (A.RUNNING, AI.STARTING): A.STARTING,
    (A.RUNNING, AI.EXITED): A.EXITED,
    (A.RUNNING, AI.FAILED): A.FAILED,
    (A.RUNNING, AI.STOPPED): A.STOPPED,
    (A.RUNNING, AI.RELEASED): A.RELEASED,
    **{(s, AI.STARTING): A.STARTING for s in (A.EXITED, A.FAILED, A.STOPPED)},
    **{(s, AI.RELEASED): A.RELEASED for s in (A.EXITED, A.FAILED, A.STOPPED)},
    **{
        (s, AI.LOST): A.LOST
        for s in (A.COMMITTED, A.ALLOCATED, A.STARTING, A.RUNNING, A.EXITED, A.FAILED, A.STOPPED)
    },
    (A.LOST, AI.RESCHEDULED): A.PENDING,
}


@pytest.mark.parametrize(
    ("state", "event"),
    list(itertools.product(AllocationPhase, AllocationInput)),
    ids=lambda v: str(v),
)
def test_every_allocation_pair_follows_the_table(
    state: AllocationPhase, event: AllocationInput
) -> None:
    expected = ALLOCATION_EXPECTED.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as caught:
            next_allocation_state(state, event)
        assert "allocation" in str(caught.value)
        assert state.value in str(caught.value)
        assert event.value in str(caught.value)
    else:
        assert next_allocation_state(state, event) is expected


def test_the_allocation_table_has_no_row_the_spec_lacks() -> None:
    assert dict(ALLOCATION_TRANSITIONS) == ALLOCATION_EXPECTED


def test_a_released_allocation_accepts_nothing() -> None:
    assert {A.RELEASED} == ALLOCATION_TERMINAL
    assert not [key for key in ALLOCATION_TRANSITIONS if key[0] is A.RELEASED]


def test_a_failed_allocation_is_started_again_by_a_restart() -> None:
    state = A.PENDING
    for event in (AI.COMMITTED, AI.ALLOCATED, AI.STARTING, AI.RUNNING, AI.FAILED, AI.STARTING):
        state = next_allocation_state(state, event)
    assert state is A.STARTING
