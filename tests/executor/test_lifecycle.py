"""The execution lifecycle: every input in every state, against the documented table."""

from __future__ import annotations

import itertools

import pytest

from nunet.executor import FINISHED, TRANSITIONS, IllegalTransition, Input, State, next_state

ALLOWED = {
    State.PENDING: {Input.PREPARED, Input.FAILED, Input.CANCELLED, Input.CLEANED},
    State.PREPARED: {Input.STARTED, Input.FAILED, Input.CANCELLED, Input.CLEANED},
    State.RUNNING: {Input.EXITED, Input.FAILED, Input.TIMED_OUT, Input.CANCELLED},
    State.EXITED: {Input.CLEANED},
    State.FAILED: {Input.CLEANED},
    State.TIMED_OUT: {Input.CLEANED},
    State.CANCELLED: {Input.CLEANED},
    State.CLEANED: set(),
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Input)))
def test_every_input_in_every_state_moves_as_documented_or_is_refused(
    state: State, event: Input
) -> None:
    if event in ALLOWED[state]:
        assert next_state(state, event) == TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition, match=f"{state.value} cannot be {event.value}"):
            next_state(state, event)


def test_a_run_ends_in_the_state_its_ending_names() -> None:
    ends = {
        Input.EXITED: State.EXITED,
        Input.FAILED: State.FAILED,
        Input.TIMED_OUT: State.TIMED_OUT,
        Input.CANCELLED: State.CANCELLED,
    }
    for ending, state in ends.items():
        running = next_state(next_state(State.PENDING, Input.PREPARED), Input.STARTED)
        assert next_state(running, ending) is state
        assert state in FINISHED
        assert next_state(state, Input.CLEANED) is State.CLEANED


def test_cleaned_is_final_and_only_finished_or_unstarted_executions_are_cleaned() -> None:
    assert all(next_state(s, Input.CLEANED) is State.CLEANED for s in FINISHED)
    with pytest.raises(IllegalTransition):
        next_state(State.RUNNING, Input.CLEANED)
    assert not any(state is State.CLEANED for state, _ in TRANSITIONS)
