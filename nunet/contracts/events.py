"""Events contracts and payments append to the node's log: both parties' logs hold them.

Every event names its contract and the log owner's `role` in it. The ones that carry a signed
document keep its exact bytes (`contract`, `note`, `voucher`, `dispute`, `termination`), so the
log alone lets an auditor re-check every signature; the decoded fields beside them (seq,
amount, ...) are for projections and must agree with the document (the audit checks that too).
Payment state (`nunet.contracts.state`) is the fold of these events.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from nunet.contracts.documents import Signed, SignedContract
from nunet.eventlog import Event

Role = Literal["requester", "provider"]


class ContractProposed(Event, frozen=True, kw_only=True):
    """The requester signed terms and sent them to the provider (requester's log)."""

    TYPE: ClassVar[str] = "contract.proposed"
    contract_id: str
    role: Role
    contract: SignedContract  # the requester's signature only
    counterparty: str  # DID
    deployment: str
    node: str
    counterparty_address: str = ""  # the counterparty's transport address


class ContractAccepted(Event, frozen=True, kw_only=True):
    """Both parties signed (the provider's log when it signs, the requester's when it hears)."""

    TYPE: ClassVar[str] = "contract.accepted"
    contract_id: str
    role: Role
    contract: SignedContract  # both signatures
    counterparty: str
    deployment: str
    node: str
    counterparty_address: str = ""  # the counterparty's transport address, to reach it


class ContractRefused(Event, frozen=True, kw_only=True):
    """The provider would not sign: the contract ends here (both logs)."""

    TYPE: ClassVar[str] = "contract.refused"
    contract_id: str
    role: Role
    counterparty: str
    deployment: str
    node: str
    reason: str


class ContractActivated(Event, frozen=True, kw_only=True):
    """The contract's work started running (as this party saw it); from now it is charged."""

    TYPE: ClassVar[str] = "contract.activated"
    contract_id: str
    role: Role
    at: float


class ContractDisputed(Event, frozen=True, kw_only=True):
    """The requester refused a debit note as charging for work not done (both logs)."""

    TYPE: ClassVar[str] = "contract.disputed"
    contract_id: str
    role: Role
    note_seq: int
    dispute: Signed  # the requester's DebitDispute
    reason: str


class ContractResolved(Event, frozen=True, kw_only=True):
    """A note after a dispute was paid in full: the contract is active again."""

    TYPE: ClassVar[str] = "contract.resolved"
    contract_id: str
    role: Role
    note_seq: int


class ContractTerminated(Event, frozen=True, kw_only=True):
    """The contract ended early. `termination` is the signed notice when there is one (the
    party that ends it signs it); `paid` is the latest voucher's amount at the end: what was
    earned and paid so far stays so."""

    TYPE: ClassVar[str] = "contract.terminated"
    contract_id: str
    role: Role
    by: str  # DID of the party that ended it
    reason: str
    effective_at: float
    termination: Signed | None = None
    paid: int = 0


class ContractSettled(Event, frozen=True, kw_only=True):
    """The work ended and the final voucher was redeemed: `amount` is the total paid."""

    TYPE: ClassVar[str] = "contract.settled"
    contract_id: str
    role: Role
    amount: int
    voucher_seq: int
    ledger: str  # the ledger's name ("local", ...)
    reference: str  # the ledger's receipt for the redemption


class DebitNoteIssued(Event, frozen=True, kw_only=True):
    """The provider charged for usage so far (provider's log)."""

    TYPE: ClassVar[str] = "payment.debit_note_issued"
    contract_id: str
    role: Role
    seq: int
    amount: int  # cumulative
    final: bool
    note: Signed


class DebitNoteReceived(Event, frozen=True, kw_only=True):
    """The requester received a valid debit note (requester's log)."""

    TYPE: ClassVar[str] = "payment.debit_note_received"
    contract_id: str
    role: Role
    seq: int
    amount: int
    final: bool
    note: Signed


class DebitNoteRejected(Event, frozen=True, kw_only=True):
    """A debit note that was not the provider's, not for this contract, or out of order."""

    TYPE: ClassVar[str] = "payment.debit_note_rejected"
    contract_id: str
    role: Role
    sender: str  # DID of who sent it
    reason: str
    note: Signed | None = None


class VoucherIssued(Event, frozen=True, kw_only=True):
    """The requester promised `amount` in total (requester's log)."""

    TYPE: ClassVar[str] = "payment.voucher_issued"
    contract_id: str
    role: Role
    seq: int
    amount: int  # cumulative
    note_seq: int
    voucher: Signed


class VoucherAccepted(Event, frozen=True, kw_only=True):
    """The provider verified a voucher and keeps it as the latest (provider's log)."""

    TYPE: ClassVar[str] = "payment.voucher_accepted"
    contract_id: str
    role: Role
    seq: int
    amount: int
    note_seq: int
    voucher: Signed


class VoucherRejected(Event, frozen=True, kw_only=True):
    """A voucher the provider would not keep, and why (the latest kept one stands)."""

    TYPE: ClassVar[str] = "payment.voucher_rejected"
    contract_id: str
    role: Role
    sender: str
    reason: str
    voucher: Signed | None = None


class PaymentOverdue(Event, frozen=True, kw_only=True):
    """No voucher covered debit note `note_seq` within the grace period (provider's log)."""

    TYPE: ClassVar[str] = "payment.overdue"
    contract_id: str
    role: Role
    note_seq: int
    owed: int  # the note's amount minus the latest voucher's
    due_at: float


EVENTS: tuple[type[Event], ...] = (
    ContractProposed,
    ContractAccepted,
    ContractRefused,
    ContractActivated,
    ContractDisputed,
    ContractResolved,
    ContractTerminated,
    ContractSettled,
    DebitNoteIssued,
    DebitNoteReceived,
    DebitNoteRejected,
    VoucherIssued,
    VoucherAccepted,
    VoucherRejected,
    PaymentOverdue,
)
