"""Tokenomics: bilateral contracts, metered usage, signed debit notes and payment vouchers,
settlement on a pluggable ledger, the payment-state projection and the two-log audit."""

from nunet.contracts.amount import MICRO, Amount, format_amount, to_micro
from nunet.contracts.channel import Answer, ProviderChannel, RequesterChannel
from nunet.contracts.config import ContractsConfig
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
from nunet.contracts.ledger import Ledger, Receipt
from nunet.contracts.lifecycle import ContractStatus, Input, next_status
from nunet.contracts.local_ledger import LedgerProjection, LedgerRedeemed, LocalLedger
from nunet.contracts.metering import Meter, MeterState
from nunet.contracts.plausibility import Observed, implausible
from nunet.contracts.policy import ContractPolicy, ProposalDefaults, review, terms_for
from nunet.contracts.protocol import CONTRACTS_ACTOR_ID
from nunet.contracts.state import ContractRecord, PaymentState, PaymentStateProjection
from nunet.contracts.terms import ContractTerms, Metered, Rates, Reserved, charge

__all__ = [
    "CONTRACTS_ACTOR_ID",
    "MICRO",
    "Amount",
    "Answer",
    "BadDocument",
    "ContractError",
    "ContractPolicy",
    "ContractRecord",
    "ContractRefused",
    "ContractStatus",
    "ContractTerms",
    "ContractsConfig",
    "DebitDispute",
    "DebitNote",
    "IllegalTransition",
    "Input",
    "Ledger",
    "LedgerError",
    "LedgerProjection",
    "LedgerRedeemed",
    "LocalLedger",
    "Meter",
    "MeterState",
    "Metered",
    "NoteDisputed",
    "Observed",
    "PaymentState",
    "PaymentStateProjection",
    "PaymentVoucher",
    "ProposalDefaults",
    "ProviderChannel",
    "Rates",
    "Receipt",
    "RequesterChannel",
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
    "implausible",
    "next_status",
    "open_contract",
    "open_signed",
    "propose",
    "review",
    "sign",
    "terms_for",
    "to_micro",
]
