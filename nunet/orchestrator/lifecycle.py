"""A deployment's lifecycle as one transition table: (state, input) -> next state.

The orchestrator moves a deployment only through `next_state`; anything the table does not
list is an `IllegalTransition` naming the state and the input. Terminal states accept nothing.

Rules
-----
- A deployment is searched for (`SEARCH_STARTED`: a bid round), queued while nothing fits
  (`SEARCHED_NOTHING`), retried from the queue, and expires when its queue timeout passes.
- `BIDS_FOUND` (an assignment of every ensemble node) starts the two-phase commit;
  `COMMITTED` means every primary node is committed, `ALLOCATED` every node allocated.
  A failed commit reverts the round and goes back to matching; a late commit failure of an
  abandoned round changes nothing.
- `ALL_RUNNING`: every allocation is up (services healthy); `ALL_TASKS_DONE`: a deployment
  without services has every task finished, so results are collected and everything is torn
  down (`COMPLETING`), then `FINISHED`.
- `NODE_LOST` once machines are committed sends the deployment to `RESCHEDULING`: the lost
  node is placed again (a standby takes over, or a new bid round) while the rest keeps running;
  `ALLOCATED` (every node allocated again) restarts the lost part (`STARTING`).
- `FAILURE` (an allocation failed beyond its supervisor's restarts at the root, no machine for
  a lost node, a start timeout, ...) fails the deployment from any live state.
- `SHUTDOWN_REQUESTED` tears everything down (`SHUTTING_DOWN`, then `TORN_DOWN`); a
  deployment already completing completes instead.

Self-loops are listed where an input can legitimately arrive again (a new bid round while
matching, a second node lost while rescheduling, a repeated shutdown request).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from nunet.errors import NunetError


class Phase(enum.StrEnum):
    """A deployment's lifecycle state (the value is what `nunet deployments` shows)."""

    SUBMITTED = "submitted"
    QUEUED = "queued"
    MATCHING = "matching"
    COMMITTING = "committing"
    ALLOCATING = "allocating"
    STARTING = "starting"
    RUNNING = "running"
    RESCHEDULING = "rescheduling"
    COMPLETING = "completing"
    SHUTTING_DOWN = "shutting_down"
    COMPLETED = "completed"
    FAILED = "failed"
    SHUT_DOWN = "shut_down"
    EXPIRED = "expired"


class Input(enum.StrEnum):
    """What happened to a deployment, as far as its lifecycle is concerned."""

    SEARCH_STARTED = "search_started"  # a bid round was broadcast
    SEARCHED_NOTHING = "searched_nothing"  # the round found no assignment
    QUEUE_TIMEOUT = "queue_timeout"  # waited for machines longer than allowed
    BIDS_FOUND = "bids_found"  # every ensemble node has a machine
    COMMITTED = "committed"  # every primary node's machine reserved it
    COMMIT_FAILED = "commit_failed"  # a machine refused or did not answer its commit
    ALLOCATED = "allocated"  # every node's allocations exist on its machine
    ALL_RUNNING = "all_running"  # every allocation is up
    ALL_TASKS_DONE = "all_tasks_done"  # no services, and every task has finished
    FINISHED = "finished"  # results collected, everything released
    NODE_LOST = "node_lost"  # a machine holding a node went away
    FAILURE = "failure"  # beyond recovery
    SHUTDOWN_REQUESTED = "shutdown_requested"
    TORN_DOWN = "torn_down"  # every machine released what it held


class LifecycleError(NunetError):
    """The orchestrator was driven in a way its lifecycle does not allow."""


class IllegalTransition(LifecycleError):
    """An input the current state does not accept."""

    def __init__(self, state: enum.StrEnum, event: enum.StrEnum, what: str = "deployment") -> None:
        self.state = state
        self.input = event
        super().__init__(f"a {what} that is {state.value} cannot take {event.value}")


TERMINAL: frozenset[Phase] = frozenset(
    {Phase.COMPLETED, Phase.FAILED, Phase.SHUT_DOWN, Phase.EXPIRED}
)
LIVE: frozenset[Phase] = frozenset(Phase) - TERMINAL

_P = Phase
_I = Input
_BEFORE_RUNNING = (
    _P.SUBMITTED,
    _P.QUEUED,
    _P.MATCHING,
    _P.COMMITTING,
    _P.ALLOCATING,
    _P.STARTING,
    _P.RUNNING,
    _P.RESCHEDULING,
)

TRANSITIONS: Mapping[tuple[Phase, Input], Phase] = {
    # search, queue, expire
    (_P.SUBMITTED, _I.SEARCH_STARTED): _P.MATCHING,
    (_P.QUEUED, _I.SEARCH_STARTED): _P.MATCHING,
    (_P.MATCHING, _I.SEARCH_STARTED): _P.MATCHING,  # a new round after a commit failed
    (_P.MATCHING, _I.SEARCHED_NOTHING): _P.QUEUED,
    (_P.QUEUED, _I.QUEUE_TIMEOUT): _P.EXPIRED,
    (_P.MATCHING, _I.QUEUE_TIMEOUT): _P.EXPIRED,
    # two-phase commit
    (_P.MATCHING, _I.BIDS_FOUND): _P.COMMITTING,
    (_P.COMMITTING, _I.COMMITTED): _P.ALLOCATING,
    (_P.COMMITTING, _I.COMMIT_FAILED): _P.MATCHING,
    (_P.MATCHING, _I.COMMIT_FAILED): _P.MATCHING,  # late failure of an abandoned round
    (_P.QUEUED, _I.COMMIT_FAILED): _P.QUEUED,
    (_P.ALLOCATING, _I.ALLOCATED): _P.STARTING,
    # run
    (_P.STARTING, _I.ALL_RUNNING): _P.RUNNING,
    (_P.STARTING, _I.ALL_TASKS_DONE): _P.COMPLETING,  # short tasks may end before the rest start
    (_P.RUNNING, _I.ALL_TASKS_DONE): _P.COMPLETING,
    (_P.COMPLETING, _I.FINISHED): _P.COMPLETED,
    (_P.COMPLETING, _I.TORN_DOWN): _P.COMPLETING,  # released; results may still be recorded
    # a machine lost: place its node again
    (_P.ALLOCATING, _I.NODE_LOST): _P.RESCHEDULING,
    (_P.STARTING, _I.NODE_LOST): _P.RESCHEDULING,
    (_P.RUNNING, _I.NODE_LOST): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.NODE_LOST): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.SEARCH_STARTED): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.SEARCHED_NOTHING): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.BIDS_FOUND): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.COMMITTED): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.COMMIT_FAILED): _P.RESCHEDULING,
    (_P.RESCHEDULING, _I.ALLOCATED): _P.STARTING,
    (_P.COMPLETING, _I.NODE_LOST): _P.COMPLETING,  # its results are lost; nothing to rerun
    # shut down
    **{(state, _I.SHUTDOWN_REQUESTED): _P.SHUTTING_DOWN for state in _BEFORE_RUNNING},
    (_P.COMPLETING, _I.SHUTDOWN_REQUESTED): _P.COMPLETING,  # already finishing
    (_P.SHUTTING_DOWN, _I.SHUTDOWN_REQUESTED): _P.SHUTTING_DOWN,
    (_P.SHUTTING_DOWN, _I.COMMIT_FAILED): _P.SHUTTING_DOWN,
    (_P.SHUTTING_DOWN, _I.NODE_LOST): _P.SHUTTING_DOWN,
    (_P.SHUTTING_DOWN, _I.TORN_DOWN): _P.SHUT_DOWN,
    # beyond recovery
    **{(state, _I.FAILURE): _P.FAILED for state in sorted(LIVE)},
}


def next_state(state: Phase, event: Input) -> Phase:
    """The state after `event`; IllegalTransition if `state` does not accept it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def accepts(state: Phase, event: Input) -> bool:
    return (state, event) in TRANSITIONS


def is_terminal(state: Phase) -> bool:
    return state in TERMINAL
