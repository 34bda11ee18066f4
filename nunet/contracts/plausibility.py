"""Whether a debit note charges for work not done, judged by what the requester itself saw.

The requester cannot measure the provider's machine, but it can bound what a note may claim:
no work before the work ran, no longer than it has been running by the requester's own clock,
no more CPU than the reservation allows in that time (nor, once the work has ended, than the
provider's own usage reports said), no more GPUs, RAM or disk than reserved, no more runs than
it saw start, and no more money than the note's usage costs. A note over a bound is disputed
when that changes what it costs: the requester pays what the note's usage costs with every
quantity clamped to its bound.
"""

from __future__ import annotations

import msgspec

from nunet.contracts.amount import format_amount
from nunet.contracts.documents import DebitNote
from nunet.contracts.metering import MIB
from nunet.contracts.terms import ContractTerms, Metered, charge

_MAX_REASON = 1024  # DebitDispute.reason's bound


class Observed(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the requester saw of a contract's work.

    `activated_at`: when its first allocation was reported running (None: it never ran);
    `ended_at`: when it saw the last of them end, their final usage reports in hand (None:
    still running); `runs`: the runs it saw start; `cpu_seconds`, `wall_seconds`: the largest
    cumulative usage the provider's allocation reports stated, summed over allocations and runs.
    """

    activated_at: float | None = None
    ended_at: float | None = None
    runs: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


def implausible(
    terms: ContractTerms,
    note: DebitNote,
    observed: Observed,
    now: float,
    *,
    slack_seconds: float = 5.0,
    slack_ratio: float = 0.05,
) -> tuple[str, int] | None:
    """Why `note` charges for work not done and the amount the requester accepts of it, or None
    when the note is plausible.

    `now` is the requester's clock (the one `observed` was taken on). `slack_seconds` absorbs
    the delay between the provider starting the work and the requester hearing of it;
    `slack_ratio` the difference between how the two measure CPU time.
    """
    if note.amount == 0:
        return None  # a note that charges nothing cannot charge for work not done
    claim = note.usage
    reserved = terms.reserved
    slack_ms = slack_seconds * 1000
    reasons: list[str] = []

    if observed.activated_at is None:
        reasons.append(
            f"charges {format_amount(note.amount, terms.currency)} for work that never ran"
        )
        wall_bound = 0
    else:
        end = observed.ended_at if observed.ended_at is not None else now
        elapsed_ms = max(0.0, end - observed.activated_at) * 1000
        wall_bound = int(elapsed_ms + slack_ms)
        if claim.wall_ms > wall_bound:
            reasons.append(
                f"wall_ms {claim.wall_ms} > {wall_bound}: the work has run {elapsed_ms:.0f} ms "
                f"(+{slack_ms:.0f} ms slack) since the requester saw it start"
            )
    # The quantities derived from wall time are judged against the note's own wall time (is
    # the note consistent with its reservation?) and accepted up to the plausible wall time.
    wall = min(claim.wall_ms, wall_bound)

    cpu_bound = int(reserved.cpu * wall * (1 + slack_ratio) + slack_ms)
    cpu_claimed_bound = int(reserved.cpu * claim.wall_ms * (1 + slack_ratio) + slack_ms)
    if claim.cpu_ms > cpu_claimed_bound:
        reasons.append(
            f"cpu_ms {claim.cpu_ms} > {cpu_claimed_bound}: {reserved.cpu:g} reserved cores for "
            f"wall_ms {claim.wall_ms} (+{slack_ratio:.0%}, +{slack_ms:.0f} ms slack)"
        )
    if observed.ended_at is not None:
        # While the work runs the reports lag (usage comes with an allocation's results); once
        # the requester has seen it end, the provider's own reports bound its CPU time.
        reported_bound = int(observed.cpu_seconds * 1000 * (1 + slack_ratio) + slack_ms)
        if claim.cpu_ms > reported_bound:
            reasons.append(
                f"cpu_ms {claim.cpu_ms} > {reported_bound}: the provider's allocations reported "
                f"{observed.cpu_seconds * 1000:.0f} ms (+{slack_ratio:.0%}, "
                f"+{slack_ms:.0f} ms slack)"
            )
        cpu_bound = min(cpu_bound, reported_bound)

    reserved_bounds = (
        ("gpu_ms", claim.gpu_ms, reserved.gpus, "GPUs"),
        ("ram_mib_ms", claim.ram_mib_ms, reserved.ram // MIB, "MiB of RAM"),
        ("disk_mib_ms", claim.disk_mib_ms, reserved.disk // MIB, "MiB of disk"),
    )
    for field, claimed, amount, what in reserved_bounds:
        if claimed > amount * claim.wall_ms:
            reasons.append(
                f"{field} {claimed} > {amount * claim.wall_ms}: {amount} reserved {what} "
                f"for wall_ms {claim.wall_ms}"
            )
    if claim.runs > observed.runs:
        reasons.append(f"runs {claim.runs} > {observed.runs}: the runs the requester saw start")

    cost = charge(terms.rates, claim)
    if note.amount > cost:
        reasons.append(
            f"amount {format_amount(note.amount, terms.currency)} > "
            f"{format_amount(cost, terms.currency)}: what its usage costs at the contract's rates"
        )
    if not reasons:
        return None

    bounded = Metered(
        cpu_ms=min(claim.cpu_ms, cpu_bound),
        wall_ms=wall,
        gpu_ms=min(claim.gpu_ms, reserved.gpus * wall),
        ram_mib_ms=min(claim.ram_mib_ms, reserved.ram // MIB * wall),
        disk_mib_ms=min(claim.disk_mib_ms, reserved.disk // MIB * wall),
        runs=min(claim.runs, observed.runs),
    )
    # Nothing ran: nothing is accepted, whatever the slack would let through.
    accepted = (
        0 if observed.activated_at is None else min(note.amount, charge(terms.rates, bounded))
    )
    if accepted >= note.amount:
        return None  # what is wrong costs nothing at these rates: the note charges no work not done
    reason = f"debit note {note.seq}: " + "; ".join(reasons)
    return _shortened(reason), accepted


def _shortened(reason: str) -> str:
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"
