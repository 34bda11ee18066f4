"""One allocation's lifecycle as its orchestrator sees it: placement steps, then the provider's
reports (`nunet.allocation.protocol.AllocationState`), restarts, and the loss of its machine.

Rules
-----
- An allocation is `pending` until its node's machine commits, `committed` until the machine
  creates it (`allocated`); a revert (the round failed, or the node is placed again) sends it
  back to `pending`.
- Reports may skip a step the orchestrator never saw (a state change reported between two
  reports), so from `allocated` and `starting` every later report state is accepted.
- A restart starts it again (`starting`) from `running` or any ended state
  (`exited`, `failed`, `stopped`); `released` (its machine cleaned it up) is final.
- `lost`: its machine went away while it was placed; rescheduling makes it `pending` again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from nunet.orchestrator.lifecycle import IllegalTransition


class AllocationPhase(enum.StrEnum):
    PENDING = "pending"
    COMMITTED = "committed"
    ALLOCATED = "allocated"
    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"
    FAILED = "failed"
    STOPPED = "stopped"
    RELEASED = "released"
    LOST = "lost"


class AllocationInput(enum.StrEnum):
    COMMITTED = "committed"  # its node's machine reserved the resources
    REVERTED = "reverted"  # that reservation was undone before it ran
    ALLOCATED = "allocated"  # the machine created its actor (reported `allocated`)
    STARTING = "starting"  # reported states from here on
    RUNNING = "running"
    EXITED = "exited"
    FAILED = "failed"
    STOPPED = "stopped"
    RELEASED = "released"
    LOST = "lost"  # its machine went away
    RESCHEDULED = "rescheduled"  # its node is being placed on another machine


_A = AllocationPhase
_I = AllocationInput
_ENDED = (_A.EXITED, _A.FAILED, _A.STOPPED)
_PLACED = (_A.COMMITTED, _A.ALLOCATED, _A.STARTING, _A.RUNNING, *_ENDED)

ALLOCATION_TRANSITIONS: Mapping[tuple[AllocationPhase, AllocationInput], AllocationPhase] = {
    (_A.PENDING, _I.COMMITTED): _A.COMMITTED,
    (_A.COMMITTED, _I.ALLOCATED): _A.ALLOCATED,
    (_A.COMMITTED, _I.REVERTED): _A.PENDING,
    (_A.ALLOCATED, _I.REVERTED): _A.PENDING,
    # reports
    **{
        (_A.ALLOCATED, event): AllocationPhase(event.value)
        for event in (_I.STARTING, _I.RUNNING, _I.EXITED, _I.FAILED, _I.STOPPED, _I.RELEASED)
    },
    **{
        (_A.STARTING, event): AllocationPhase(event.value)
        for event in (_I.RUNNING, _I.EXITED, _I.FAILED, _I.STOPPED, _I.RELEASED)
    },
    **{
        (_A.RUNNING, event): AllocationPhase(event.value)
        for event in (_I.STARTING, _I.EXITED, _I.FAILED, _I.STOPPED, _I.RELEASED)
    },
    **{
        (ended, event): AllocationPhase(event.value)
        for ended in _ENDED
        for event in (_I.STARTING, _I.RELEASED)
    },
    # the machine went away
    **{(placed, _I.LOST): _A.LOST for placed in _PLACED},
    (_A.LOST, _I.RESCHEDULED): _A.PENDING,
}

ALLOCATION_TERMINAL: frozenset[AllocationPhase] = frozenset({_A.RELEASED})


def next_allocation_state(state: AllocationPhase, event: AllocationInput) -> AllocationPhase:
    """The allocation's state after `event`; IllegalTransition if `state` does not accept it."""
    try:
        return ALLOCATION_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event, "allocation") from None
