"""The execution lifecycle as a pure state machine: every executor drives one per execution, and
every transition is an event in the node's log.

    PENDING --prepared--> PREPARED --started--> RUNNING --exited--> EXITED
       |                     |                    |---failed----> FAILED
       |                     |                    |---timed_out-> TIMED_OUT
       |                     |                    '---cancelled-> CANCELLED
       '--failed--> FAILED   '--failed/cancelled--> FAILED / CANCELLED
    any finished state --cleaned--> CLEANED;   PENDING/PREPARED --cleaned--> CLEANED

A finished state is one of EXITED, FAILED, TIMED_OUT, CANCELLED: `wait` returns on it. Anything
not in the table is an `IllegalTransition` naming the state and the input.
"""

from __future__ import annotations

import enum

from nunet.executor.errors import IllegalTransition


class State(enum.Enum):
    PENDING = "pending"
    PREPARED = "prepared"
    RUNNING = "running"
    EXITED = "exited"  # the command ended by itself, whatever its exit code
    FAILED = "failed"  # could not be prepared or started, or the backend lost it
    TIMED_OUT = "timed_out"  # stopped at the execution timeout
    CANCELLED = "cancelled"  # stopped on request
    CLEANED = "cleaned"  # nothing of it is left on the machine


class Input(enum.Enum):
    PREPARED = "prepared"
    STARTED = "started"
    EXITED = "exited"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    CLEANED = "cleaned"


FINISHED = frozenset((State.EXITED, State.FAILED, State.TIMED_OUT, State.CANCELLED))

TRANSITIONS: dict[tuple[State, Input], State] = {
    (State.PENDING, Input.PREPARED): State.PREPARED,
    (State.PENDING, Input.FAILED): State.FAILED,
    (State.PENDING, Input.CANCELLED): State.CANCELLED,
    (State.PENDING, Input.CLEANED): State.CLEANED,
    (State.PREPARED, Input.STARTED): State.RUNNING,
    (State.PREPARED, Input.FAILED): State.FAILED,
    (State.PREPARED, Input.CANCELLED): State.CANCELLED,
    (State.PREPARED, Input.CLEANED): State.CLEANED,
    (State.RUNNING, Input.EXITED): State.EXITED,
    (State.RUNNING, Input.FAILED): State.FAILED,
    (State.RUNNING, Input.TIMED_OUT): State.TIMED_OUT,
    (State.RUNNING, Input.CANCELLED): State.CANCELLED,
    **{(state, Input.CLEANED): State.CLEANED for state in FINISHED},
}


def next_state(state: State, event: Input) -> State:
    """The state after `event`; IllegalTransition if the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(
            f"an execution that is {state.value} cannot be {event.value}"
        ) from None
