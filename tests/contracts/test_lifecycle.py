"""The contract lifecycle: every input in every status, against the table its docstring shows."""

from __future__ import annotations

import pytest

from nunet.contracts import IllegalTransition, Input, lifecycle, next_status
from nunet.contracts.lifecycle import FINAL, RUNNING, STATUSES, TRANSITIONS


def documented_table() -> dict[tuple[str, Input], str]:
    """The moves the module docstring's table shows (`↺`: a stay, `·`: illegal)."""
    doc = lifecycle.__doc__
    assert doc is not None
    rows = [line for line in doc.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    inputs = [Input[name] for name in header[1:]]
    table: dict[tuple[str, Input], str] = {}
    for row in rows[2:]:  # past the header and its rule
        status, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        assert len(cells) == len(inputs), row
        for event, cell in zip(inputs, cells, strict=True):
            if cell != "·":
                table[(status, event)] = status if cell == "↺" else cell
    return table


def test_the_documented_table_names_every_status_and_every_input() -> None:
    table = documented_table()
    assert {status for status, _ in table} == set(STATUSES)
    assert {event for _, event in table} == set(Input)


def test_the_transition_table_is_the_documented_one() -> None:
    assert documented_table() == TRANSITIONS


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("event", list(Input))
def test_every_input_in_every_status_moves_as_the_table_says_or_is_illegal(
    status: lifecycle.ContractStatus, event: Input
) -> None:
    expected = documented_table().get((status, event))
    if expected is None:
        with pytest.raises(IllegalTransition, match=f"that is {status} cannot take {event.value}"):
            next_status(status, event)
    else:
        assert next_status(status, event) == expected


@pytest.mark.parametrize("status", sorted(FINAL))
@pytest.mark.parametrize("event", list(Input))
def test_a_final_status_only_ever_stays_and_says_it_is_final(
    status: lifecycle.ContractStatus, event: Input
) -> None:
    if (status, event) in TRANSITIONS:
        assert next_status(status, event) == status
    else:
        with pytest.raises(IllegalTransition, match=f"it is {status}, which is final"):
            next_status(status, event)


def test_settling_work_that_never_ran_says_to_terminate_it_instead() -> None:
    with pytest.raises(IllegalTransition, match="its work never ran: terminate it instead"):
        next_status("accepted", Input.SETTLE)


@pytest.mark.parametrize("event", [Input.ACTIVATE, Input.DISPUTE])
def test_running_a_proposal_says_the_provider_has_not_accepted_it(event: Input) -> None:
    with pytest.raises(IllegalTransition, match="the provider has not accepted it"):
        next_status("proposed", event)


def test_every_status_can_reach_a_final_one() -> None:
    for status in STATUSES:
        reached = {status}
        frontier = [status]
        while frontier:
            here = frontier.pop()
            for event in Input:
                there = TRANSITIONS.get((here, event))
                if there is not None and there not in reached:
                    reached.add(there)
                    frontier.append(there)
        assert reached & FINAL, status


def test_work_runs_only_in_statuses_reached_by_activation() -> None:
    activated = {TRANSITIONS[key] for key in TRANSITIONS if key[1] is Input.ACTIVATE}
    assert activated == RUNNING
