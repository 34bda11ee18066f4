"""An allocation's lifecycle on its provider, as a pure transition table (no I/O).

The allocation actor feeds it what was asked (START, STOP, RESTART, RELEASE) and what its
executor reported (STARTED, START_FAILED, EXITED, FAILED, STOPPED); a move the table lacks is an
`IllegalTransition` naming the state and the input. `↺` marks a stay (an asked stop of what has
already ended changes nothing), `·` an illegal move.

| state \\ input | START | STARTED | START_FAILED | EXITED | FAILED | STOP | STOPPED | RESTART | RELEASE |
|---|---|---|---|---|---|---|---|---|---|
| allocated | starting | · | · | · | failed | stopped | · | starting | released |
| starting | · | running | failed | · | failed | stopped | · | · | released |
| running | · | · | · | exited | failed | stopped | stopped | starting | released |
| exited | · | · | · | · | · | ↺ | · | starting | released |
| failed | · | · | · | · | · | ↺ | · | starting | released |
| stopped | · | · | · | · | · | ↺ | ↺ | starting | released |
| released | · | · | · | · | · | · | · | · | · |

RESTART never comes from the allocation itself: the orchestrator decides. A restart while
starting is refused (wait until it runs or has failed). STOPPED is the executor saying the
execution was cancelled; once stopped on request, its late word changes nothing.
"""

from __future__ import annotations

import enum
from typing import get_args

from nunet.allocation.errors import IllegalTransition
from nunet.allocation.protocol import AllocationState


class Input(enum.Enum):
    START = "start"  # asked: start it
    STARTED = "started"  # the executor started it
    START_FAILED = "start_failed"  # it could not be (re)prepared or started, or not in time
    EXITED = "exited"  # its command ended by itself (any exit code)
    FAILED = "failed"  # crashed, OOM, timed out, or the executor lost it
    STOP = "stop"  # asked: stop it
    STOPPED = "stopped"  # the executor reports it cancelled
    RESTART = "restart"  # asked: run it again (a new run)
    RELEASE = "release"  # asked: clean it up and give its resources back


STATES: tuple[AllocationState, ...] = get_args(AllocationState)
ENDED: frozenset[AllocationState] = frozenset(("exited", "failed", "stopped"))
"""The states in which nothing runs but the allocation (its logs, its exit) is still kept."""

TRANSITIONS: dict[tuple[AllocationState, Input], AllocationState] = {
    ("allocated", Input.START): "starting",
    ("allocated", Input.FAILED): "failed",
    ("allocated", Input.STOP): "stopped",
    ("allocated", Input.RESTART): "starting",
    ("starting", Input.STARTED): "running",
    ("starting", Input.START_FAILED): "failed",
    ("starting", Input.FAILED): "failed",
    ("starting", Input.STOP): "stopped",
    ("running", Input.EXITED): "exited",
    ("running", Input.FAILED): "failed",
    ("running", Input.STOP): "stopped",
    ("running", Input.STOPPED): "stopped",
    ("running", Input.RESTART): "starting",
    **{(state, Input.STOP): state for state in ENDED},
    **{(state, Input.RESTART): "starting" for state in ENDED},
    ("stopped", Input.STOPPED): "stopped",
    **{(state, Input.RELEASE): "released" for state in STATES if state != "released"},
}


def next_state(state: AllocationState, event: Input) -> AllocationState:
    """The state after `event`; IllegalTransition if the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(
            f"an allocation that is {state} cannot take {event.value}" + _hint(state, event)
        ) from None


def _hint(state: AllocationState, event: Input) -> str:
    if state == "released":
        return "; it was released: deploy it again"
    if event is Input.RESTART and state == "starting":
        return "; wait until it is running or has failed"
    if event is Input.START and state != "allocated":
        return "; use restart to run it again"
    return ""
