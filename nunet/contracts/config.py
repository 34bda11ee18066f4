"""The node's `contracts` config: which ledger settles, what it signs as provider, what it
proposes as requester where an ensemble is silent."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nunet.contracts.policy import ContractPolicy, ProposalDefaults
from nunet.contracts.terms import Rates

Seconds = Annotated[float, msgspec.Meta(ge=0, le=365 * 86400)]
Interval = Annotated[float, msgspec.Meta(ge=1, le=86400)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]


class ContractsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # Settlement: "local" keeps balances in this node's event log (see docs/ledger-adapters.md).
    ledger: Literal["local"] = "local"
    # As provider: refuse commits without a contract; the least rates it signs (per hour, as
    # the capability price; none: the price it offers); the currencies it takes (none: its
    # price's); the payment intervals and grace periods it accepts.
    required: bool = True
    floor: Rates | None = None
    currencies: list[Currency] = []
    min_payment_interval: Interval = 1.0
    max_payment_interval: Interval = 3600.0
    max_grace_period: Seconds = 3600.0
    # As requester, where the ensemble's `contract` section says nothing.
    payment_interval: Interval = 60.0
    grace_period: Seconds = 120.0
    termination_notice: Seconds = 0.0

    def policy(self) -> ContractPolicy:
        return ContractPolicy(
            required=self.required,
            floor=self.floor,
            currencies=tuple(self.currencies),
            min_payment_interval=self.min_payment_interval,
            max_payment_interval=self.max_payment_interval,
            max_grace_period=self.max_grace_period,
        )

    def defaults(self) -> ProposalDefaults:
        return ProposalDefaults(
            payment_interval=self.payment_interval,
            grace_period=self.grace_period,
            termination_notice=self.termination_notice,
        )
