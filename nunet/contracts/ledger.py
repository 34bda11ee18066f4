"""Settlement: the Ledger interface a provider redeems payment vouchers on, and the checks
every ledger makes before it moves anything.

A voucher promises a cumulative amount on one channel, so redeeming is idempotent by nature:
the ledger pays the payee only what the voucher adds above what the channel already redeemed.
`LocalLedger` (nunet.contracts.local_ledger) keeps balances in the node's own event log; an
adapter for a payment-channel contract on a blockchain implements the same four methods (see
docs/ledger-adapters.md).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from nunet.contracts.documents import (
    PaymentVoucher,
    Signed,
    SignedContract,
    open_contract,
    open_signed,
)
from nunet.contracts.errors import BadDocument, LedgerError
from nunet.contracts.terms import ContractTerms


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    """What a ledger answers a redemption with: the channel's standing after it.

    `amount` is the total redeemed on `channel` so far, `voucher_seq` the seq of the voucher
    that brought it there, `reference` the ledger's id of that redemption (a log record, a
    transaction hash) and `at` when it happened (wall clock, seconds since the epoch).
    `credited` is what this call added: 0 when the voucher was not above what was already
    redeemed, in which case the other fields describe the earlier redemption that stands.
    `reference` is "" only when nothing was ever redeemed on the channel (a voucher of 0).
    """

    ledger: str
    reference: str
    contract_id: str
    channel: str
    payer: str  # the requester's DID
    payee: str  # the provider's DID
    currency: str
    amount: int
    credited: int
    voucher_seq: int
    at: float


@runtime_checkable
class Ledger(Protocol):
    """Where vouchers turn into balances. Every implementation guarantees:

    - Verification: `redeem` checks both signatures of the contract and the requester's
      signature of the voucher, that the voucher is for the contract's channel and within its
      budget, and refuses (LedgerError naming why) anything that fails; nothing moves then.
    - Monotonicity: what a channel redeemed never goes down. A voucher adds only the part of
      its amount above what the channel redeemed; a voucher with a higher amount but a seq not
      above the redeemed voucher's is refused (a requester does not sign two vouchers with one
      seq, nor a later one for less).
    - Idempotency: a voucher not above what the channel redeemed (the same one again, an
      older one) returns a receipt with `credited` 0 and changes nothing.
    - Conservation: each redemption credits the payee and debits the payer by the same amount
      in the contract's currency.
    - One contract per channel: once a channel redeemed for a contract, vouchers for another
      contract, payer, payee or currency on it are refused.
    - Durability: when `redeem` returns, the redemption survives a restart of the node (on a
      chain: the transaction is final to the adapter's stated depth).
    - Concurrency: concurrent redeems on one channel credit it exactly once in total.
    """

    name: str
    """The ledger's name, as `contract.settled` events and receipts state it ("local", ...)."""

    async def redeem(self, contract: SignedContract, voucher: Signed) -> Receipt:
        """Redeem `voucher` under `contract` (both signed); LedgerError when it is refused or
        the ledger cannot be reached."""
        ...

    async def redeemed(self, channel: str) -> int:
        """The total redeemed on `channel` (0 when nothing was)."""
        ...

    async def balance(self, account: str, currency: str) -> int:
        """`account`'s balance in `currency`, in micro-units; negative for a payer on a ledger
        without deposits (the local one)."""
        ...

    async def balances(self) -> dict[tuple[str, str], int]:
        """Every (account, currency) balance the ledger holds."""
        ...


class ChannelStanding(msgspec.Struct, frozen=True, kw_only=True):
    """What a ledger keeps of one channel: who it binds and the redemption that stands."""

    contract_id: str
    payer: str
    payee: str
    currency: str
    amount: int  # redeemed so far
    voucher_seq: int  # of the voucher that brought `amount`
    reference: str
    at: float


class CheckedVoucher(msgspec.Struct, frozen=True, kw_only=True):
    """A voucher whose contract and signatures verified: what a ledger may act on."""

    terms: ContractTerms
    voucher: PaymentVoucher


def check_voucher(contract: SignedContract, voucher: Signed) -> CheckedVoucher:
    """Verify the contract (both parties signed it) and the voucher (the requester's, for this
    contract's channel, within its budget); LedgerError naming what fails."""
    try:
        terms = open_contract(contract)
        document = open_signed(voucher, PaymentVoucher, terms)
    except BadDocument as exc:
        raise LedgerError(f"voucher not redeemable: {exc}") from None
    if terms.budget is not None and document.amount > terms.budget:
        raise LedgerError(
            f"voucher {document.seq} of contract {terms.contract_id} promises "
            f"{document.amount}, above the contract's budget of {terms.budget}"
        )
    return CheckedVoucher(terms=terms, voucher=document)


def credit_for(standing: ChannelStanding | None, checked: CheckedVoucher) -> int:
    """What redeeming `checked` adds on a channel that stands at `standing` (None: nothing
    redeemed yet): 0 for a voucher not above it. LedgerError when the channel is bound to
    another contract or party, or the voucher raises the amount without a higher seq."""
    terms, voucher = checked.terms, checked.voucher
    if standing is None:
        return voucher.amount
    bound = (standing.contract_id, standing.payer, standing.payee, standing.currency)
    claimed = (terms.contract_id, terms.requester, terms.provider, terms.currency)
    if bound != claimed:
        raise LedgerError(
            f"channel {voucher.channel} is bound to contract {standing.contract_id} "
            f"({standing.payer} -> {standing.payee}, {standing.currency}); it cannot redeem "
            f"for contract {terms.contract_id} ({terms.requester} -> {terms.provider}, "
            f"{terms.currency})"
        )
    if voucher.amount <= standing.amount:
        return 0
    if voucher.seq <= standing.voucher_seq:
        raise LedgerError(
            f"voucher {voucher.seq} on channel {voucher.channel} promises {voucher.amount}, "
            f"more than voucher {standing.voucher_seq} already redeemed ({standing.amount}) "
            "with a seq not above it; a later voucher must carry a higher seq"
        )
    return voucher.amount - standing.amount


def receipt_for(
    ledger: str, checked: CheckedVoucher, standing: ChannelStanding | None, *, credited: int = 0
) -> Receipt:
    """The receipt stating `checked`'s channel at `standing` (None: nothing redeemed on it
    yet), after a redemption that added `credited`."""
    terms = checked.terms
    if standing is None:
        return Receipt(
            ledger=ledger,
            reference="",
            contract_id=terms.contract_id,
            channel=terms.channel,
            payer=terms.requester,
            payee=terms.provider,
            currency=terms.currency,
            amount=0,
            credited=0,
            voucher_seq=0,
            at=0.0,
        )
    return Receipt(
        ledger=ledger,
        reference=standing.reference,
        contract_id=standing.contract_id,
        channel=terms.channel,
        payer=standing.payer,
        payee=standing.payee,
        currency=standing.currency,
        amount=standing.amount,
        credited=credited,
        voucher_seq=standing.voucher_seq,
        at=standing.at,
    )
