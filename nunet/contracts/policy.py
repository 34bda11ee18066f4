"""Who proposes what, and what a provider signs: pure rules, no I/O.

The requester's terms come from the ensemble's `contract` section and the provider's bid: the
rates are the price the provider offered (a requester proposes what was bid, never less), the
budget is the ensemble's split evenly across its nodes. The provider reviews a proposal
against its `ContractPolicy`: it must be addressed to it by the orchestrator that sends the
commit, for the node being committed, in a currency it takes, at rates at or above its floor
(by default the price it offers), with a payment interval and grace period within its bounds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated

import msgspec

from nunet.capability.model import Price, Requirement
from nunet.contracts.amount import to_micro
from nunet.contracts.errors import ContractRefused
from nunet.contracts.terms import ContractTerms, Rates, Reserved

Seconds = Annotated[float, msgspec.Meta(ge=0, le=365 * 86400)]


class ContractPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a provider signs (the node's `contracts` config)."""

    required: bool = True  # refuse a commit that carries no contract
    floor: Rates | None = None  # None: the rates of the price this node offers
    currencies: tuple[str, ...] = ()  # empty: only the currency of the price it offers
    min_payment_interval: Annotated[float, msgspec.Meta(ge=1)] = 1.0
    max_payment_interval: Annotated[float, msgspec.Meta(ge=1)] = 3600.0
    max_grace_period: Seconds = 3600.0


class ProposalDefaults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a requester proposes where the ensemble's `contract` section is silent."""

    payment_interval: Annotated[float, msgspec.Meta(ge=1, le=86400)] = 60.0
    grace_period: Seconds = 120.0
    termination_notice: Seconds = 0.0


def rates_of(price: Price) -> Rates:
    """A capability price (per core-, GiB-, GPU-hour and per job) as contract rates."""
    return Rates(
        cpu=price.cpu, ram=price.ram, disk=price.disk, gpu=price.gpu, per_job=price.per_job
    )


def reserved_of(requirement: Requirement, allocations: int) -> Reserved:
    return Reserved(
        cpu=requirement.cpu,
        ram=requirement.ram,
        disk=requirement.disk,
        gpus=len(requirement.gpus),
        allocations=max(1, allocations),
    )


def new_id() -> str:
    return os.urandom(16).hex()


def terms_for(
    *,
    requester: str,
    provider: str,
    deployment: str,
    node: str,
    price: Price,
    requirement: Requirement,
    allocations: int,
    nodes: int,
    now: float,
    budget: float | None = None,
    payment_interval: float | None = None,
    grace_period: float | None = None,
    termination_notice: float | None = None,
    defaults: ProposalDefaults = ProposalDefaults(),
    ids: Callable[[], str] = new_id,
) -> ContractTerms:
    """The terms a requester proposes to `provider` for ensemble node `node` (`budget`, the
    ensemble's total in currency units, is split evenly across its `nodes`)."""
    return ContractTerms(
        contract_id=ids(),
        channel=ids(),
        requester=requester,
        provider=provider,
        deployment=deployment,
        node=node,
        currency=price.currency.upper(),
        rates=rates_of(price),
        budget=None if budget is None else to_micro(budget) // max(1, nodes),
        payment_interval=payment_interval or defaults.payment_interval,
        grace_period=defaults.grace_period if grace_period is None else grace_period,
        termination_notice=(
            defaults.termination_notice if termination_notice is None else termination_notice
        ),
        reserved=reserved_of(requirement, allocations),
        proposed_at=now,
    )


def review(
    terms: ContractTerms,
    policy: ContractPolicy,
    *,
    provider: str,
    sender: str,
    deployment: str,
    node: str,
    requirement: Requirement,
    offered: Price,
) -> None:
    """Raise ContractRefused naming every term this provider will not sign."""
    where = f"contract {terms.contract_id}"
    if terms.provider != provider:
        raise ContractRefused(f"{where} is addressed to {terms.provider}, not this node")
    if terms.requester != sender:
        raise ContractRefused(
            f"{where} names requester {terms.requester} but was sent by {sender}: "
            "only the orchestrator that commits may propose"
        )
    if (terms.deployment, terms.node) != (deployment, node):
        raise ContractRefused(
            f"{where} is for {terms.deployment}/{terms.node}, not the commit's {deployment}/{node}"
        )
    problems = []
    currencies = policy.currencies or (offered.currency.upper(),)
    if terms.currency not in currencies:
        problems.append(f"currency {terms.currency} (this node takes {', '.join(currencies)})")
    floor = policy.floor if policy.floor is not None else rates_of(offered)
    low = terms.rates.below(floor)
    if low:
        problems.append("rates under this node's floor: " + ", ".join(low))
    if not policy.min_payment_interval <= terms.payment_interval <= policy.max_payment_interval:
        problems.append(
            f"payment_interval {terms.payment_interval:g} s (this node takes "
            f"{policy.min_payment_interval:g}..{policy.max_payment_interval:g} s)"
        )
    if terms.grace_period > policy.max_grace_period:
        problems.append(
            f"grace_period {terms.grace_period:g} s (at most {policy.max_grace_period:g} s)"
        )
    wanted = reserved_of(requirement, terms.reserved.allocations)
    if terms.reserved != wanted:
        problems.append(
            f"reserved {_resources(terms.reserved)} is not what the commit asks, "
            f"{_resources(wanted)}"
        )
    if problems:
        raise ContractRefused(f"{where}: " + "; ".join(problems))


def _resources(reserved: Reserved) -> str:
    return f"(cpu {reserved.cpu:g}, ram {reserved.ram}, disk {reserved.disk}, gpus {reserved.gpus})"
