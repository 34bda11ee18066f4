"""A contract's lifecycle, as a pure transition table (no I/O); both parties keep one.

| state \\ input | ACCEPT | ACTIVATE | DISPUTE | RESOLVE | SETTLE | TERMINATE |
|---|---|---|---|---|---|---|
| proposed | accepted | · | · | · | · | terminated |
| accepted | ↺ | active | · | · | · | terminated |
| active | · | ↺ | disputed | · | settled | terminated |
| disputed | · | ↺ | ↺ | active | settled | terminated |
| settled | · | · | · | · | ↺ | · |
| terminated | · | · | · | · | · | ↺ |

ACCEPT: the provider signed. ACTIVATE: the work started (again, after a restart: a stay).
DISPUTE: the requester refused a debit note as charging for work not done; RESOLVE: a later
note it paid in full. SETTLE: the work ended and its final note was paid (what a dispute left
unpaid stays unpaid). TERMINATE: either party ended it early — refused, released before it ran,
vouchers stopped past the grace period, budget spent, asked by a user, counterparty gone.
Settled and terminated are final; a voucher kept before the end is still redeemed after it.
"""

from __future__ import annotations

import enum
from typing import Literal, get_args

from nunet.contracts.errors import IllegalTransition

ContractStatus = Literal["proposed", "accepted", "active", "disputed", "settled", "terminated"]


class Input(enum.Enum):
    ACCEPT = "accept"
    ACTIVATE = "activate"
    DISPUTE = "dispute"
    RESOLVE = "resolve"
    SETTLE = "settle"
    TERMINATE = "terminate"


STATUSES: tuple[ContractStatus, ...] = get_args(ContractStatus)
FINAL: frozenset[ContractStatus] = frozenset(("settled", "terminated"))
RUNNING: frozenset[ContractStatus] = frozenset(("active", "disputed"))
"""The statuses in which work may run and be charged for."""

TRANSITIONS: dict[tuple[ContractStatus, Input], ContractStatus] = {
    ("proposed", Input.ACCEPT): "accepted",
    ("proposed", Input.TERMINATE): "terminated",
    ("accepted", Input.ACCEPT): "accepted",
    ("accepted", Input.ACTIVATE): "active",
    ("accepted", Input.TERMINATE): "terminated",
    ("active", Input.ACTIVATE): "active",
    ("active", Input.DISPUTE): "disputed",
    ("active", Input.SETTLE): "settled",
    ("active", Input.TERMINATE): "terminated",
    ("disputed", Input.ACTIVATE): "disputed",
    ("disputed", Input.DISPUTE): "disputed",
    ("disputed", Input.RESOLVE): "active",
    ("disputed", Input.SETTLE): "settled",
    ("disputed", Input.TERMINATE): "terminated",
    ("settled", Input.SETTLE): "settled",
    ("terminated", Input.TERMINATE): "terminated",
}


def next_status(status: ContractStatus, event: Input) -> ContractStatus:
    """The status after `event`; IllegalTransition if the table has no such move."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition(
            f"a contract that is {status} cannot take {event.value}" + _hint(status, event)
        ) from None


def _hint(status: ContractStatus, event: Input) -> str:
    if status in FINAL:
        return f"; it is {status}, which is final"
    if event is Input.SETTLE and status == "accepted":
        return "; its work never ran: terminate it instead"
    if event in (Input.ACTIVATE, Input.DISPUTE) and status == "proposed":
        return "; the provider has not accepted it"
    return ""
