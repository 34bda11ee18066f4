"""Tokenomics: bilateral contracts, metered usage, signed debit notes and payment vouchers,
settlement on a pluggable ledger, the payment-state projection and the two-log audit."""

from nunet.contracts.amount import MICRO, Amount, format_amount, to_micro
from nunet.contracts.documents import (
    DebitDispute,
    DebitNote,
    PaymentVoucher,
    Signed,
    SignedContract,
    Termination,
    accept,
    contract_terms,
    open_contract,
    open_signed,
    propose,
    sign,
)
from nunet.contracts.errors import (
    BadDocument,
    ContractError,
    ContractRefused,
    IllegalTransition,
    LedgerError,
    NoteDisputed,
    UnknownContract,
    VoucherRejected,
)
from nunet.contracts.lifecycle import ContractStatus, Input, next_status
from nunet.contracts.protocol import CONTRACTS_ACTOR_ID
from nunet.contracts.terms import ContractTerms, Metered, Rates, Reserved, charge

__all__ = [
    "CONTRACTS_ACTOR_ID",
    "MICRO",
    "Amount",
    "BadDocument",
    "ContractError",
    "ContractRefused",
    "ContractStatus",
    "ContractTerms",
    "DebitDispute",
    "DebitNote",
    "IllegalTransition",
    "Input",
    "LedgerError",
    "Metered",
    "NoteDisputed",
    "PaymentVoucher",
    "Rates",
    "Reserved",
    "Signed",
    "SignedContract",
    "Termination",
    "UnknownContract",
    "VoucherRejected",
    "accept",
    "charge",
    "contract_terms",
    "format_amount",
    "next_status",
    "open_contract",
    "open_signed",
    "propose",
    "sign",
    "to_micro",
]
