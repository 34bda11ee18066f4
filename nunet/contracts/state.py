"""Payment state: the fold of a node's contract, payment and ledger events into one record per
contract — its status, the signed contract, its notes, vouchers, disputes and end.

The contracts actor keeps it live (applying `evolve` to each record it appends) and rebuilds
its channels from it after a restart; `nunet contracts|payments` read it through
`nunet.contracts.views`. A fold never raises on what a log holds: a step out of order, a
total that goes back or a record about a contract this log never opened is kept as an
`Anomaly` and otherwise ignored, so a replay always ends (the audit says what is wrong).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from nunet.contracts import events as ev
from nunet.contracts.documents import DebitDispute, Signed, SignedContract, contract_terms
from nunet.contracts.errors import BadDocument, IllegalTransition
from nunet.contracts.lifecycle import ContractStatus, Input, next_status
from nunet.eventlog import EventRecord, Projection

Role = Literal["requester", "provider"]
RejectedKind = Literal["debit-note", "voucher"]

KEEP_REJECTIONS = 5
"""How many rejection reasons a record keeps (the count covers them all; the log has each)."""
KEEP_ANOMALIES = 32
LEDGER_REDEEMED = "ledger.redeemed"
"""The local ledger's event (`nunet.contracts.local_ledger`), read here by its type only."""


class NoteEntry(msgspec.Struct, kw_only=True):
    """A debit note: issued (provider) or received (requester). `amount` is cumulative."""

    seq: int
    amount: int
    final: bool
    at: float  # seconds since the epoch, from the record's timestamp
    position: int  # the record's seq in the log
    note: Signed


class VoucherEntry(msgspec.Struct, kw_only=True):
    """A voucher: issued (requester) or accepted (provider). `amount` is cumulative."""

    seq: int
    amount: int
    note_seq: int
    at: float
    position: int


class DisputeEntry(msgspec.Struct, kw_only=True):
    """The requester refused note `note_seq` (which charged `noted`) past `accepted`."""

    note_seq: int
    reason: str
    accepted: int
    noted: int
    at: float
    position: int
    resolved_at: float | None = None

    @property
    def refused(self) -> int:
        return max(0, self.noted - self.accepted)


class Rejection(msgspec.Struct, kw_only=True):
    kind: RejectedKind
    sender: str
    reason: str
    at: float
    position: int


class Rejections(msgspec.Struct, kw_only=True):
    """Notes (requester) or vouchers (provider) refused as invalid: all counted, the last kept."""

    count: int = 0
    last: list[Rejection] = msgspec.field(default_factory=list)


class OverdueEntry(msgspec.Struct, kw_only=True):
    """No voucher covered note `note_seq` by `due_at`; `owed` was still unpaid."""

    note_seq: int
    owed: int
    due_at: float
    at: float
    position: int


class TerminationEntry(msgspec.Struct, kw_only=True):
    """How the contract ended early. `by_us`: this node ended it (`by` is "" when this node
    refused a proposal, whose DID the refusal does not name); `refused`: the provider would
    not sign."""

    by: str
    by_us: bool
    reason: str
    effective_at: float
    paid: int
    refused: bool
    at: float
    position: int
    termination: Signed | None = None


class Settlement(msgspec.Struct, kw_only=True):
    """The final voucher (`voucher_seq`) redeemed on `ledger`: `amount` paid in all."""

    amount: int
    voucher_seq: int
    ledger: str
    reference: str
    at: float
    position: int


class Redemption(msgspec.Struct, kw_only=True):
    """A voucher redeemed on the local ledger: `amount` redeemed in all, `credited` by this one."""

    amount: int
    credited: int
    voucher_seq: int
    reference: str
    at: float
    position: int


class Anomaly(msgspec.Struct, kw_only=True):
    """A record the fold could not apply, and why (it was otherwise ignored)."""

    position: int
    type: str
    contract_id: str
    what: str
    at: float


class ContractRecord(msgspec.Struct, kw_only=True):
    """One contract as this node's log tells it: who, what was signed, where it stands.

    `contract` is the latest signed contract (the accepted one once accepted); None only for
    a proposal this node refused as provider, whose terms the refusal does not carry. The
    terms' `channel`, `currency`, `budget`, `payment_interval` and `grace_period` are decoded
    beside it. Timestamps are seconds since the epoch (None: not yet); `proposed_at` on the
    provider's side, which never logs the proposal, is the terms' own.
    """

    contract_id: str
    role: Role
    counterparty: str
    deployment: str
    node: str
    counterparty_address: str = ""  # how to reach the counterparty (from the contract events)
    status: ContractStatus = "proposed"
    contract: SignedContract | None = None
    channel: str = ""
    currency: str = ""
    budget: int | None = None
    payment_interval: float = 0.0
    grace_period: float = 0.0
    opened: int = 0  # the log position of its first record
    proposed_at: float | None = None
    accepted_at: float | None = None
    activated_at: float | None = None
    ended_at: float | None = None
    notes: list[NoteEntry] = msgspec.field(default_factory=list)
    vouchers: list[VoucherEntry] = msgspec.field(default_factory=list)
    latest_voucher: Signed | None = None
    disputes: list[DisputeEntry] = msgspec.field(default_factory=list)
    rejections: Rejections = msgspec.field(default_factory=Rejections)
    overdue: list[OverdueEntry] = msgspec.field(default_factory=list)
    termination: TerminationEntry | None = None
    settlement: Settlement | None = None
    redemptions: list[Redemption] = msgspec.field(default_factory=list)
    anomalies: list[Anomaly] = msgspec.field(default_factory=list)
    anomaly_count: int = 0

    @property
    def noted(self) -> int:
        """What the provider has charged in all (the latest note)."""
        return self.notes[-1].amount if self.notes else 0

    @property
    def paid(self) -> int:
        """What the requester has promised in all (the latest voucher, or the settlement)."""
        voucher = self.vouchers[-1].amount if self.vouchers else 0
        return max(voucher, self.settlement.amount if self.settlement else 0)

    @property
    def unpaid(self) -> int:
        return max(0, self.noted - self.paid)

    @property
    def disputed(self) -> int:
        """The part of what is unpaid that the requester refused in a dispute not resolved."""
        if not self.disputes or self.disputes[-1].resolved_at is not None:
            return 0
        return min(self.unpaid, self.disputes[-1].refused)

    @property
    def owed(self) -> int:
        """Charged, not paid and not disputed: what the requester still owes."""
        return self.unpaid - self.disputed

    @property
    def redeemed(self) -> int:
        return self.redemptions[-1].amount if self.redemptions else 0

    @property
    def earned(self) -> int:
        """As provider: what was paid to this node."""
        return self.paid if self.role == "provider" else 0

    @property
    def spent(self) -> int:
        """As requester: what this node paid."""
        return self.paid if self.role == "requester" else 0


class PaymentState(msgspec.Struct, kw_only=True):
    """Every contract this node's log knows, by contract id; `orphans`: records about a
    contract the log never opened (the last few; `orphan_count` counts them all)."""

    contracts: dict[str, ContractRecord] = msgspec.field(default_factory=dict)
    orphans: list[Anomaly] = msgspec.field(default_factory=list)
    orphan_count: int = 0


class _Redeemed(msgspec.Struct, kw_only=True):
    """The fields of `ledger.redeemed` this fold reads (the event has more)."""

    contract_id: str
    amount: int
    credited: int = 0
    voucher_seq: int = 0
    reference: str = ""


class _At(msgspec.Struct, frozen=True):
    """Where a record sits: its log position, type and time in seconds."""

    position: int
    type: str
    at: float
    hash: bytes


_Handler = Callable[[PaymentState, Any, _At], None]


_dispute_decoder = msgspec.msgpack.Decoder(DebitDispute)


class PaymentStateProjection(Projection[PaymentState]):
    """The fold of `PaymentState` from a node's contract, payment and ledger events."""

    name = "payments"
    types = frozenset({cls.TYPE for cls in ev.EVENTS} | {LEDGER_REDEEMED})

    def __init__(self) -> None:
        super().__init__(PaymentState)
        handlers: dict[type[Any], _Handler] = {
            ev.ContractProposed: _proposed,
            ev.ContractAccepted: _accepted,
            ev.ContractRefused: _refused,
            ev.ContractActivated: _activated,
            ev.ContractDisputed: _disputed,
            ev.ContractResolved: _resolved,
            ev.ContractTerminated: _terminated,
            ev.ContractSettled: _settled,
            ev.DebitNoteIssued: _note,
            ev.DebitNoteReceived: _note,
            ev.DebitNoteRejected: _rejected,
            ev.VoucherIssued: _voucher,
            ev.VoucherAccepted: _voucher,
            ev.VoucherRejected: _rejected,
            ev.PaymentOverdue: _overdue,
            _Redeemed: _redeemed,
        }
        self._folds: dict[str, tuple[msgspec.msgpack.Decoder[Any], _Handler]] = {
            (LEDGER_REDEEMED if cls is _Redeemed else cls.TYPE): (
                msgspec.msgpack.Decoder(cls),
                handler,
            )
            for cls, handler in handlers.items()
        }

    def initial(self) -> PaymentState:
        return PaymentState()

    def evolve(self, state: PaymentState, record: EventRecord) -> PaymentState:
        fold = self._folds.get(record.type)
        if fold is None:
            return state
        decoder, handler = fold
        at = _At(record.seq, record.type, record.timestamp / 1e9, record.hash)
        try:
            event = decoder.decode(record.payload)
        except msgspec.DecodeError as exc:
            _orphan(state, at, "", f"the payload does not decode: {exc}")
            return state
        handler(state, event, at)
        return state


# -- contract lifecycle --------------------------------------------------------------------------
def _proposed(state: PaymentState, event: ev.ContractProposed, at: _At) -> None:
    record = state.contracts.get(event.contract_id)
    if record is None:
        record = _open(state, event, at)
        record.proposed_at = at.at
        _take_contract(record, event.contract, at)
        return
    if _wrong_role(record, event.role, at):
        return
    if record.contract is None or record.contract.digest != event.contract.digest:
        _anomaly(record, at, "proposed again with other terms")


def _accepted(state: PaymentState, event: ev.ContractAccepted, at: _At) -> None:
    record = state.contracts.get(event.contract_id)
    if record is None:
        record = _open(state, event, at)
    elif _wrong_role(record, event.role, at):
        return
    if not _move(record, Input.ACCEPT, at):
        return
    record.counterparty_address = event.counterparty_address or record.counterparty_address
    if record.contract is not None and record.contract.digest != event.contract.digest:
        _anomaly(record, at, "the accepted terms are not the ones proposed; the accepted kept")
    _take_contract(record, event.contract, at)
    if record.proposed_at is None and record.contract is not None:
        record.proposed_at = _proposed_at(record.contract)
    if record.accepted_at is None:
        record.accepted_at = at.at


def _refused(state: PaymentState, event: ev.ContractRefused, at: _At) -> None:
    record = state.contracts.get(event.contract_id)
    if record is None:
        record = _open(state, event, at)
    elif _wrong_role(record, event.role, at):
        return
    if not _move(record, Input.TERMINATE, at) or record.termination is not None:
        return
    by_us = event.role == "provider"
    record.termination = TerminationEntry(
        by="" if by_us else event.counterparty,
        by_us=by_us,
        reason=event.reason,
        effective_at=at.at,
        paid=0,
        refused=True,
        at=at.at,
        position=at.position,
    )
    record.ended_at = at.at


def _activated(state: PaymentState, event: ev.ContractActivated, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None or not _move(record, Input.ACTIVATE, at):
        return
    if record.activated_at is None:
        record.activated_at = at.at


def _disputed(state: PaymentState, event: ev.ContractDisputed, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None or not _move(record, Input.DISPUTE, at):
        return
    accepted = 0
    try:
        accepted = _dispute_decoder.decode(event.dispute.body).accepted
    except msgspec.DecodeError as exc:
        _anomaly(record, at, f"the dispute document does not decode ({exc}); accepted taken as 0")
    noted = next((n.amount for n in reversed(record.notes) if n.seq == event.note_seq), None)
    record.disputes.append(
        DisputeEntry(
            note_seq=event.note_seq,
            reason=event.reason,
            accepted=accepted,
            noted=record.noted if noted is None else noted,
            at=at.at,
            position=at.position,
        )
    )


def _resolved(state: PaymentState, event: ev.ContractResolved, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None or not _move(record, Input.RESOLVE, at):
        return
    for dispute in reversed(record.disputes):
        if dispute.resolved_at is not None:
            break
        dispute.resolved_at = at.at


def _terminated(state: PaymentState, event: ev.ContractTerminated, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None or not _move(record, Input.TERMINATE, at):
        return
    if record.termination is not None:  # told again: the first notice stands
        return
    record.termination = TerminationEntry(
        by=event.by,
        by_us=event.by != record.counterparty,
        reason=event.reason,
        effective_at=event.effective_at,
        paid=event.paid,
        refused=False,
        at=at.at,
        position=at.position,
        termination=event.termination,
    )
    record.ended_at = at.at


def _settled(state: PaymentState, event: ev.ContractSettled, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None or not _move(record, Input.SETTLE, at):
        return
    if record.settlement is not None:
        return
    record.settlement = Settlement(
        amount=event.amount,
        voucher_seq=event.voucher_seq,
        ledger=event.ledger,
        reference=event.reference,
        at=at.at,
        position=at.position,
    )
    record.ended_at = at.at


# -- payments ------------------------------------------------------------------------------------
def _note(state: PaymentState, event: ev.DebitNoteIssued | ev.DebitNoteReceived, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None:
        return
    if record.notes:
        last = record.notes[-1]
        if event.seq <= last.seq:
            if not any(n.seq == event.seq and n.amount == event.amount for n in record.notes):
                _anomaly(record, at, f"debit note {event.seq} again, after note {last.seq}")
            return
        if event.amount < last.amount:
            _anomaly(record, at, f"debit note {event.seq} charges less than note {last.seq} did")
            return
    record.notes.append(
        NoteEntry(
            seq=event.seq,
            amount=event.amount,
            final=event.final,
            at=at.at,
            position=at.position,
            note=event.note,
        )
    )


def _voucher(state: PaymentState, event: ev.VoucherIssued | ev.VoucherAccepted, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None:
        return
    if record.vouchers:
        last = record.vouchers[-1]
        if event.seq <= last.seq:
            if not any(v.seq == event.seq and v.amount == event.amount for v in record.vouchers):
                _anomaly(record, at, f"voucher {event.seq} again, after voucher {last.seq}")
            return
        if event.amount < last.amount:
            _anomaly(record, at, f"voucher {event.seq} promises less than voucher {last.seq} did")
            return
    record.vouchers.append(
        VoucherEntry(
            seq=event.seq,
            amount=event.amount,
            note_seq=event.note_seq,
            at=at.at,
            position=at.position,
        )
    )
    record.latest_voucher = event.voucher


def _rejected(
    state: PaymentState, event: ev.DebitNoteRejected | ev.VoucherRejected, at: _At
) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None:
        return
    kind: RejectedKind = "debit-note" if isinstance(event, ev.DebitNoteRejected) else "voucher"
    record.rejections.count += 1
    record.rejections.last.append(
        Rejection(
            kind=kind, sender=event.sender, reason=event.reason, at=at.at, position=at.position
        )
    )
    del record.rejections.last[:-KEEP_REJECTIONS]


def _overdue(state: PaymentState, event: ev.PaymentOverdue, at: _At) -> None:
    record = _known(state, event.contract_id, event.role, at)
    if record is None:
        return
    record.overdue.append(
        OverdueEntry(
            note_seq=event.note_seq,
            owed=event.owed,
            due_at=event.due_at,
            at=at.at,
            position=at.position,
        )
    )


def _redeemed(state: PaymentState, event: _Redeemed, at: _At) -> None:
    record = state.contracts.get(event.contract_id)
    if record is None:
        _orphan(state, at, event.contract_id, "a redemption for a contract this log never opened")
        return
    if event.amount < record.redeemed:
        _anomaly(record, at, f"redeemed in all {event.amount}, less than {record.redeemed} before")
        return
    record.redemptions.append(
        Redemption(
            amount=event.amount,
            credited=event.credited,
            voucher_seq=event.voucher_seq,
            # The local ledger's receipt is the record itself (local_ledger.local_reference).
            reference=event.reference or f"local:{at.position}:{at.hash.hex()[:16]}",
            at=at.at,
            position=at.position,
        )
    )


# -- helpers -------------------------------------------------------------------------------------
def _open(
    state: PaymentState,
    event: ev.ContractProposed | ev.ContractAccepted | ev.ContractRefused,
    at: _At,
) -> ContractRecord:
    record = ContractRecord(
        contract_id=event.contract_id,
        role=event.role,
        counterparty=event.counterparty,
        deployment=event.deployment,
        node=event.node,
        counterparty_address=getattr(event, "counterparty_address", ""),
        opened=at.position,
    )
    state.contracts[event.contract_id] = record
    return record


def _take_contract(record: ContractRecord, contract: SignedContract, at: _At) -> None:
    record.contract = contract
    try:
        terms = contract_terms(contract)
    except BadDocument as exc:
        _anomaly(record, at, str(exc))
        return
    if terms.contract_id != record.contract_id:
        _anomaly(record, at, f"the signed terms are for contract {terms.contract_id}")
    record.channel = terms.channel
    record.currency = terms.currency
    record.budget = terms.budget
    record.payment_interval = terms.payment_interval
    record.grace_period = terms.grace_period


def _proposed_at(contract: SignedContract) -> float | None:
    try:
        return contract_terms(contract).proposed_at
    except BadDocument:
        return None


def _known(state: PaymentState, contract_id: str, role: str, at: _At) -> ContractRecord | None:
    record = state.contracts.get(contract_id)
    if record is None:
        _orphan(state, at, contract_id, "a contract this log never opened")
        return None
    if _wrong_role(record, role, at):
        return None
    return record


def _wrong_role(record: ContractRecord, role: str, at: _At) -> bool:
    if role == record.role:
        return False
    _anomaly(record, at, f"an event as {role} on a contract this node holds as {record.role}")
    return True


def _move(record: ContractRecord, step: Input, at: _At) -> bool:
    try:
        record.status = next_status(record.status, step)
    except IllegalTransition as exc:
        _anomaly(record, at, str(exc))
        return False
    return True


def _anomaly(record: ContractRecord, at: _At, what: str) -> None:
    record.anomaly_count += 1
    record.anomalies.append(
        Anomaly(
            position=at.position, type=at.type, contract_id=record.contract_id, what=what, at=at.at
        )
    )
    del record.anomalies[:-KEEP_ANOMALIES]


def _orphan(state: PaymentState, at: _At, contract_id: str, what: str) -> None:
    state.orphan_count += 1
    state.orphans.append(
        Anomaly(position=at.position, type=at.type, contract_id=contract_id, what=what, at=at.at)
    )
    del state.orphans[:-KEEP_ANOMALIES]
