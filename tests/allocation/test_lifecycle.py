"""The allocation lifecycle: every input in every state, against the table its module documents."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.allocation import lifecycle
from nunet.allocation.errors import IllegalTransition
from nunet.allocation.lifecycle import ENDED, STATES, TRANSITIONS, Input, next_state


def documented_table() -> dict[tuple[str, Input], str]:
    """The table in the module's docstring, read cell by cell (`↺`: stays, `·`: illegal)."""
    lines = [line for line in (lifecycle.__doc__ or "").splitlines() if line.startswith("| ")]
    header, *rows = lines
    inputs = [Input[name.strip()] for name in header.strip("| ").split("|")[1:]]
    table: dict[tuple[str, Input], str] = {}
    for row in rows:
        state, *cells = (cell.strip() for cell in row.strip("| ").split("|"))
        for event, cell in zip(inputs, cells, strict=True):
            if cell == "↺":
                table[(state, event)] = state
            elif cell != "·":
                table[(state, event)] = cell
    return table


def test_the_documented_table_lists_every_state_and_input() -> None:
    lines = [line for line in (lifecycle.__doc__ or "").splitlines() if line.startswith("| ")]
    assert [row.strip("| ").split("|")[0].strip() for row in lines[1:]] == list(STATES)
    assert len(lines[0].strip("| ").split("|")) - 1 == len(Input)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(STATES, Input)))
def test_every_input_in_every_state_does_what_the_table_says(state: str, event: Input) -> None:
    expected = documented_table().get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition) as caught:
            next_state(state, event)  # type: ignore[arg-type]
        assert state in str(caught.value)
        assert event.value in str(caught.value)
    else:
        assert next_state(state, event) == expected  # type: ignore[arg-type]


def test_the_code_table_is_the_documented_one() -> None:
    assert dict(TRANSITIONS) == documented_table()


def test_released_is_final_and_every_other_state_can_be_released() -> None:
    for event in Input:
        with pytest.raises(IllegalTransition, match="deploy it again"):
            next_state("released", event)
    for state in STATES:
        if state != "released":
            assert next_state(state, Input.RELEASE) == "released"


def test_the_refusals_say_what_to_do_instead() -> None:
    with pytest.raises(IllegalTransition, match="use restart"):
        next_state("exited", Input.START)
    with pytest.raises(IllegalTransition, match="wait until it is running or has failed"):
        next_state("starting", Input.RESTART)


@given(st.lists(st.sampled_from(list(Input)), max_size=40))
def test_any_sequence_of_inputs_stays_within_the_states(events: list[Input]) -> None:
    """A random walk: every move lands on a state, nothing leaves released, and an ended
    allocation only restarts, stays, or is released."""
    state = "allocated"
    for event in events:
        try:
            after = next_state(state, event)  # type: ignore[arg-type]
        except IllegalTransition:
            continue
        assert after in STATES
        if state in ENDED:
            assert after in (state, "starting", "released")
        state = after
