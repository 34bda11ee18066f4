"""Errors of contracts and payments: each carries the `code` it is answered with."""

from __future__ import annotations

from nunet.errors import NunetError


class ContractError(NunetError):
    """Base of every contract or payment error."""

    code = "contract-error"


class IllegalTransition(ContractError):
    """A contract step out of order (activate what was terminated, settle what never ran, ...)."""

    code = "illegal-transition"


class ContractRefused(ContractError):
    """A proposed contract this provider will not sign: no contract, a price under its floor,
    a currency it does not take, terms it cannot keep."""

    code = "contract-refused"


class BadDocument(ContractError):
    """A signed contract document (terms, debit note, voucher, dispute, termination) that does
    not decode, is not signed by whom it names, or is not bound to the contract it claims."""

    code = "bad-document"


class VoucherRejected(ContractError):
    """A payment voucher the provider will not keep: it lowers the total, exceeds the budget,
    reuses a sequence number, is for another channel or contract, or is badly signed."""

    code = "voucher-rejected"


class NoteDisputed(ContractError):
    """A debit note the requester will not pay: it charges for work not done."""

    code = "note-disputed"


class UnknownContract(ContractError):
    """No contract by that id on this node."""

    code = "unknown-contract"


class LedgerError(ContractError):
    """The ledger could not redeem a voucher (it is not valid there, or the ledger is away)."""

    code = "ledger-error"
