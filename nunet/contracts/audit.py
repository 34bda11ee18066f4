"""The audit of two parties' logs: are the contracts between them consistent, paid and signed?

`PaymentAudit` is the pure core: fed the records of both logs (interleaved by time, so what one
log holds waits only briefly for the other to show it), it checks

1. each log's hash chain and signed checkpoints (`ChainVerifier`); the log's owner is the DID
   that signs its checkpoints, and its payment events must say it is that party;
2. every signed document the events carry (contract, debit note, voucher, dispute,
   termination, redeemed voucher) and that the event's fields say what the document says;
3. per contract in each log: notes numbered 1, 2, 3… with amounts and usage that never go
   back, vouchers with growing seqs and amounts within the budget, each answering a note the
   log holds, lifecycle steps in an order `next_status` allows;
4. across the two logs: the same terms, the same document bytes on both sides (a voucher
   accepted was issued, one issued was received, a note received was issued, disputes,
   terminations and settlements in both), the settled amount equal to the last voucher's and
   to the provider's ledger redemption;
5. every debit note covered by a voucher at least as large, or disputed, or (overdue, then
   terminated) listed as outstanding debt.

It keeps per contract and log a few numbers and the last voucher, plus the documents one log
has shown and the other not yet; a document seen in both logs is verified once. `audit_logs`
is the shell that reads two `EventLog`s through it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from nunet.contracts.documents import (
    DebitDispute,
    DebitNote,
    PaymentVoucher,
    Signed,
    SignedContract,
    Termination,
    open_contract,
    open_signed,
)
from nunet.contracts.errors import BadDocument, IllegalTransition
from nunet.contracts.events import (
    EVENTS,
    ContractAccepted,
    ContractActivated,
    ContractDisputed,
    ContractProposed,
    ContractRefused,
    ContractResolved,
    ContractSettled,
    ContractTerminated,
    DebitNoteIssued,
    DebitNoteReceived,
    DebitNoteRejected,
    PaymentOverdue,
    Role,
    VoucherAccepted,
    VoucherIssued,
    VoucherRejected,
)
from nunet.contracts.lifecycle import FINAL, ContractStatus, Input, next_status
from nunet.contracts.local_ledger import LedgerRedeemed, local_reference
from nunet.contracts.terms import ContractTerms, Metered
from nunet.eventlog import Event, EventLog, EventRecord, LogCheckpoint
from nunet.eventlog.errors import CorruptLog
from nunet.eventlog.verify import ChainVerifier, CheckpointClaim, TrustedHead

LAG = 1_000
"""How many more things one log may have shown than the other before `audit_logs` reads the
other whatever the records' timestamps say: with the two nodes' clocks apart, what waits in
memory stays about this much."""

_SALVAGE_SPAN = 1000  # records read one by one after a page of a log fails to read

MAX_FINDINGS = 10_000
"""Findings kept in the report; past that they are only counted (a log rewritten wholesale
would otherwise fill memory with one finding per record)."""

Check = Literal[
    "chain",  # the hash chain or a signed checkpoint
    "owner",  # who the log belongs to
    "event",  # a payment event that cannot be read
    "document",  # a signed document that does not verify or is not bound to its contract
    "fields",  # an event's fields differ from its document's
    "sequence",  # seqs, amounts or usage out of order
    "budget",  # a voucher over the contract's budget
    "lifecycle",  # a step the contract's lifecycle does not allow
    "cross-log",  # the two logs disagree
    "settlement",  # a settlement that is not the last voucher or the ledger's redemption
    "coverage",  # a debit note neither paid nor disputed
]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong: in which log, at which record (0: the log as a whole), about which
    contract ("" when none), what kind of check failed and how."""

    log: str
    seq: int
    contract: str
    check: Check
    message: str

    def __str__(self) -> str:
        where = self.log + (f" seq {self.seq}" if self.seq else "")
        about = f" contract {self.contract}" if self.contract else ""
        return f"{where}{about}: {self.check}: {self.message}"


class LogSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    owner: str  # "" when no checkpoint says
    records: int
    payment_events: int
    head_seq: int
    head_hash: str  # hex
    checkpoints: int  # valid ones
    last_checkpoint_seq: int


class ContractSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A contract as the audit found it. Amounts are micro-units of `currency`: `noted` the
    provider's last debit note (the requester's when the provider's log is not audited),
    `paid` the highest voucher the provider holds (or the requester issued), `settled` what
    the settlement says, `outstanding` what overdue notes left unpaid at termination,
    `awaiting` what notes of a contract still running wait to be paid."""

    contract_id: str
    requester: str
    provider: str
    currency: str
    budget: int | None
    status: dict[str, str]  # log name -> status there ("" when the log does not hold it)
    notes: int
    vouchers: int
    disputes: int
    noted: int
    paid: int
    settled: int | None
    outstanding: int
    awaiting: int


class AuditCounts(msgspec.Struct, kw_only=True):
    contracts: int = 0  # between the two logs' owners
    other_contracts: int = 0  # with a third party: checked within their log only
    notes: int = 0  # distinct debit notes
    vouchers: int = 0  # distinct vouchers
    disputes: int = 0
    settled: int = 0  # contracts
    terminated: int = 0  # contracts
    documents: int = 0  # signed documents read in events, both logs
    signatures_verified: int = 0  # documents verified (each distinct one once)
    in_flight: int = 0  # shown by one log, not yet by the other, on a contract running there
    waiting_peak: int = 0  # the most shown by one log and waiting for the other at a time
    paid: int = 0  # sum of ContractSummary.paid
    settled_amount: int = 0
    outstanding: int = 0
    awaiting: int = 0


class AuditReport(msgspec.Struct, kw_only=True):
    logs: list[LogSummary]
    contracts: list[ContractSummary]
    counts: AuditCounts
    findings: list[Finding]
    findings_total: int

    @property
    def ok(self) -> bool:
        return self.findings_total == 0


@dataclass(frozen=True)
class AuditedLog:
    """One log given to the audit: what to call it, its owner (the DID its checkpoints are
    signed by; None when it has none, then its contract events name it), a head to trust."""

    name: str
    owner: str | None = None
    trusted: TrustedHead | None = None


# -- per contract and log --------------------------------------------------------------------
class _View:
    """One contract as one log holds it: the few numbers the checks need, nothing per event
    except the notes not yet covered by a voucher (a short queue in an honest log)."""

    __slots__ = (
        "contract_id",
        "digest",
        "disputes",
        "final_note",
        "last_voucher",
        "note_amount",
        "note_seq",
        "overdue",
        "provider",
        "redeemed",
        "requester",
        "role",
        "settled",
        "settled_at",
        "status",
        "terms",
        "uncovered",
        "usage",
        "voucher_amount",
        "voucher_seq",
    )

    def __init__(self, contract_id: str, role: Role, requester: str, provider: str) -> None:
        self.contract_id = contract_id
        self.role = role
        self.requester = requester
        self.provider = provider
        self.terms: ContractTerms | None = None
        self.digest = b""
        self.status: ContractStatus = "proposed"
        self.note_seq = 0
        self.note_amount = 0
        self.usage = Metered()
        self.final_note = False
        self.voucher_seq = 0
        self.voucher_amount = 0
        self.last_voucher: Signed | None = None
        self.disputes: set[int] = set()
        self.overdue = 0  # the first note reported overdue (0: none)
        # Notes of the provider's log no voucher covers yet: (seq, amount, issued after the
        # contract was terminated, when no overdue can be said of it any more; its record).
        self.uncovered: deque[tuple[int, int, bool, int]] = deque()
        self.settled: tuple[int, int, str, str] | None = None  # amount, voucher seq, ledger, ref
        self.settled_at = 0  # the settlement's record
        self.redeemed: tuple[int, int, str] | None = None  # amount, voucher seq, reference


class _Log:
    __slots__ = ("attested", "learning", "name", "owner", "payment_events", "verifier", "views")

    def __init__(self, audited: AuditedLog) -> None:
        self.name = audited.name
        self.owner = audited.owner
        self.attested = audited.owner is not None  # a checkpoint names the owner
        self.learning = not self.attested  # the owner is learnt from the checkpoints read
        self.verifier = ChainVerifier(trusted=audited.trusted, signer=audited.owner)
        self.views: dict[str, _View] = {}
        self.payment_events = 0


class _Sighting:
    """Something one log showed that the other has not yet: compared when it does."""

    __slots__ = ("document", "error", "seq", "side", "terms", "value")

    def __init__(
        self,
        side: int,
        seq: int,
        value: object,
        document: object = None,
        error: str | None = None,
        terms: bytes = b"",
    ) -> None:
        self.side = side
        self.seq = seq
        self.value = value
        self.document = document
        self.error = error
        self.terms = terms


# What kind of cross-log item a key names: (kind, contract id, seq).
_Key = tuple[str, str, int]
_DOCUMENT_CLASS: dict[str, type[Any]] = {
    "note": DebitNote,
    "voucher": PaymentVoucher,
    "dispute": DebitDispute,
    "termination": Termination,
}
_RECEIVED_BY: dict[str, Role] = {
    "note": "requester",
    "voucher": "provider",
    "dispute": "provider",
    "settled": "requester",
    "accepted": "requester",
}
"""Cross-log items the log of this role can only show after the other party issued them."""


def _span(first: int, last: int) -> str:
    return f"note {first} is" if first == last else f"notes {first}..{last} are"


def _describe(key: _Key) -> str:
    kind, _, number = key
    return {
        "note": f"debit note {number}",
        "voucher": f"voucher {number}",
        "dispute": f"the dispute of debit note {number}",
        "termination": "the signed termination",
        "terms": "the contract's terms",
        "accepted": "the contract's acceptance",
        "refused": "the refusal",
        "terminated": "the termination",
        "settled": "the settlement",
    }.get(kind, f"{kind} {number}")


_ROLE_OF: dict[type, Role] = {
    ContractProposed: "requester",
    DebitNoteIssued: "provider",
    DebitNoteReceived: "requester",
    DebitNoteRejected: "requester",
    VoucherIssued: "requester",
    VoucherAccepted: "provider",
    VoucherRejected: "provider",
    PaymentOverdue: "provider",
}
_EVENT_CLASSES: tuple[type[Event], ...] = (*EVENTS, LedgerRedeemed)


class PaymentAudit:
    """Feed each log's records in seq order (the two logs interleaved as they come);
    resolve the checkpoint claims `deferred` names; `finish()` says what is wrong."""

    def __init__(self, a: AuditedLog, b: AuditedLog) -> None:
        self._logs = (_Log(a), _Log(b))
        self._pending: dict[_Key, _Sighting] = {}
        self._waiting = [0, 0]  # sightings in _pending, per side that showed them
        self._peak = 0
        self._findings: list[Finding] = []
        self._findings_total = 0
        self._documents = 0
        self._verified = 0
        self._notes = 0
        self._vouchers = 0
        self._decoders = {
            cls.TYPE: (cls.VERSION, msgspec.msgpack.Decoder(cls)) for cls in _EVENT_CLASSES
        }
        self._checkpoint_decoder = msgspec.msgpack.Decoder(LogCheckpoint)
        self._handlers: dict[type, Callable[[int, int, Any], None]] = {
            ContractProposed: self._proposed,
            ContractAccepted: self._accepted,
            ContractRefused: self._refused,
            ContractActivated: self._activated,
            ContractDisputed: self._disputed,
            ContractResolved: self._resolved,
            ContractTerminated: self._terminated,
            ContractSettled: self._settled,
            DebitNoteIssued: self._note,
            DebitNoteReceived: self._note,
            DebitNoteRejected: self._rejected_note,
            VoucherIssued: self._voucher,
            VoucherAccepted: self._voucher,
            VoucherRejected: self._rejected_voucher,
            PaymentOverdue: self._overdue,
        }

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, side: int, record: EventRecord) -> None:
        log = self._logs[side]
        log.verifier.feed(record)
        entry = self._decoders.get(record.type)
        if entry is None:
            if log.learning and record.type == LogCheckpoint.TYPE:
                self._checkpoint_signer(side, record)
            return
        log.payment_events += 1
        version, decoder = entry
        if record.version != version:
            self._find(
                side,
                record.seq,
                "",
                "event",
                f"{record.type} v{record.version} is "
                f"unknown to this audit (it reads v{version}); upgrade nunet to audit it",
            )
            return
        try:
            event = decoder.decode(record.payload)
        except (msgspec.DecodeError, TypeError) as exc:
            self._find(side, record.seq, "", "event", f"{record.type} cannot be read: {exc}")
            return
        if type(event) is LedgerRedeemed:
            self._redeemed(side, record, event)  # its reference is the record's own
        else:
            self._handlers[type(event)](side, record.seq, event)

    def _checkpoint_signer(self, side: int, record: EventRecord) -> None:
        """A log given without its owner is the first checkpoint signer's; every later
        checkpoint must be signed by the same key (the chain verifier checks the signatures)."""
        log = self._logs[side]
        try:
            signer = self._checkpoint_decoder.decode(record.payload).signer
        except (msgspec.DecodeError, TypeError):
            return  # the chain verifier names it
        if not log.attested:
            if log.owner is not None and log.owner != signer:
                self._find(
                    side,
                    record.seq,
                    "",
                    "owner",
                    f"the log's checkpoints are signed by {signer}, but its contract events "
                    f"say it is {log.owner}'s",
                )
            log.owner, log.attested = signer, True
        elif signer != log.owner:
            self._find(
                side,
                record.seq,
                "",
                "chain",
                f"checkpoint signed by {signer}, not by {log.owner}, who signed the log's first",
            )

    def read_failed(self, side: int, error: Exception) -> None:
        """Log `side` cannot be read past the last record fed."""
        self._logs[side].verifier.read_failed(error)

    def unreadable(self, side: int, first: int, last: int, error: Exception) -> None:
        """Records first..last of log `side` exist (or may) but cannot be read."""
        self._logs[side].verifier.unreadable(first, last, error)

    def deferred(self, side: int) -> list[CheckpointClaim]:
        """Checkpoint claims about records too far back to check from memory: read each
        record back and `resolve` it."""
        return list(self._logs[side].verifier.deferred)

    def resolve(self, side: int, claim: CheckpointClaim, record: EventRecord | None) -> None:
        self._logs[side].verifier.resolve(claim, record)

    # -- the contract's own events ---------------------------------------------------------
    def _proposed(self, side: int, seq: int, event: ContractProposed) -> None:
        cid = event.contract_id
        if cid in self._logs[side].views:
            self._find(side, seq, cid, "lifecycle", "the contract is proposed a second time")
            return
        self._role(side, seq, cid, event.role, ContractProposed)
        terms = self._open_contract(side, seq, cid, event.contract, accepted=False)
        if terms is None:
            return
        view = self._new_view(side, seq, event.role, terms, event.contract)
        self._contract_fields(side, seq, view, event)

    def _accepted(self, side: int, seq: int, event: ContractAccepted) -> None:
        cid = event.contract_id
        key = ("accepted", cid, 0)
        other = self._pending.get(key)
        if (
            other is not None
            and other.side != side
            and other.value == event.contract
            and isinstance(other.document, ContractTerms)
        ):
            self._documents += 1  # the very contract the other log holds, verified there
            terms: ContractTerms | None = other.document
        else:
            terms = self._open_contract(side, seq, cid, event.contract, accepted=True)
        if terms is None:
            return
        view = self._logs[side].views.get(cid)
        if view is None:
            view = self._new_view(side, seq, event.role, terms, event.contract)
        elif view.terms is not None and view.digest != event.contract.digest:
            self._find(
                side,
                seq,
                cid,
                "document",
                "the accepted contract's terms differ from the proposed ones",
            )
        self._event_role(side, seq, view, event.role)
        self._contract_fields(side, seq, view, event)
        self._step(side, seq, view, Input.ACCEPT)
        self._cross(key, side, seq, event.contract, "the accepted contract", document=terms)

    def _refused(self, side: int, seq: int, event: ContractRefused) -> None:
        cid = event.contract_id
        log = self._logs[side]
        view = log.views.get(cid)
        if view is None:  # the provider's log: refused is all it holds of the contract
            me = log.owner or ""
            parties = (me, event.counterparty)
            view = _View(
                cid, event.role, *(parties if event.role == "requester" else parties[::-1])
            )
            log.views[cid] = view
        self._event_role(side, seq, view, event.role)
        self._step(side, seq, view, Input.TERMINATE)
        self._cross(("refused", cid, 0), side, seq, True, "the refusal")

    def _activated(self, side: int, seq: int, event: ContractActivated) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is not None:
            self._step(side, seq, view, Input.ACTIVATE)

    def _disputed(self, side: int, seq: int, event: ContractDisputed) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        key = ("dispute", view.contract_id, event.note_seq)
        dispute = self._document(side, seq, view, key, event.dispute, "dispute")
        if isinstance(dispute, DebitDispute):
            self._fields(
                side,
                seq,
                view,
                "dispute",
                (
                    ("note_seq", event.note_seq, dispute.note_seq),
                    ("reason", event.reason, dispute.reason),
                ),
            )
        if event.note_seq > view.note_seq:
            self._find(
                side,
                seq,
                view.contract_id,
                "sequence",
                f"dispute of debit note {event.note_seq}, which this log has not "
                f"shown (its last note is {view.note_seq})",
            )
        view.disputes.add(event.note_seq)
        self._step(side, seq, view, Input.DISPUTE)

    def _resolved(self, side: int, seq: int, event: ContractResolved) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is not None:
            self._step(side, seq, view, Input.RESOLVE)

    def _terminated(self, side: int, seq: int, event: ContractTerminated) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        if event.by not in (view.requester, view.provider):
            self._find(
                side,
                seq,
                view.contract_id,
                "fields",
                f"terminated by {event.by}, who is not a party to the contract",
            )
        signed = event.termination
        if signed is not None:
            key = ("termination", view.contract_id, 0)
            termination = self._document(side, seq, view, key, signed, "termination")
            if isinstance(termination, Termination):
                self._fields(
                    side,
                    seq,
                    view,
                    "termination",
                    (
                        ("by", event.by, termination.by),
                        ("effective_at", event.effective_at, termination.effective_at),
                        ("reason", event.reason, termination.reason),
                    ),
                )
        self._step(side, seq, view, Input.TERMINATE)
        self._cross(("terminated", view.contract_id, 0), side, seq, event.by, "who ended it")

    def _settled(self, side: int, seq: int, event: ContractSettled) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        cid = view.contract_id
        if event.voucher_seq != view.voucher_seq or event.amount != view.voucher_amount:
            self._find(
                side,
                seq,
                cid,
                "settlement",
                f"settled {event.amount} by voucher {event.voucher_seq}, but this log's "
                f"last voucher is seq {view.voucher_seq} for {view.voucher_amount}",
            )
        view.settled = (event.amount, event.voucher_seq, event.ledger, event.reference)
        view.settled_at = seq
        self._step(side, seq, view, Input.SETTLE)
        value = (event.amount, event.voucher_seq, event.ledger, event.reference)
        self._cross(
            ("settled", cid, 0),
            side,
            seq,
            value,
            "the settlement (amount, voucher, ledger, reference)",
        )

    # -- payments --------------------------------------------------------------------------
    def _note(self, side: int, seq: int, event: DebitNoteIssued | DebitNoteReceived) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        self._role(side, seq, view.contract_id, event.role, type(event))
        self._paying(side, seq, view, "debit note")
        key = ("note", view.contract_id, event.seq)
        note = self._document(side, seq, view, key, event.note, "note")
        if not isinstance(note, DebitNote):
            return
        cid = view.contract_id
        self._fields(
            side,
            seq,
            view,
            "debit note",
            (
                ("seq", event.seq, note.seq),
                ("amount", event.amount, note.amount),
                ("final", event.final, note.final),
            ),
        )
        if note.seq != view.note_seq + 1:
            expected = view.note_seq + 1
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"debit note seq {note.seq} where seq {expected} comes next"
                + (f": {_span(expected, note.seq - 1)} missing" if note.seq > expected else ""),
            )
        if note.amount < view.note_amount:
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"debit note {note.seq} charges {note.amount}, less than the "
                f"{view.note_amount} already charged (amounts are cumulative)",
            )
        if not note.usage.covers(view.usage):
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"debit note {note.seq} meters less usage than the note before it",
            )
        if view.final_note:
            self._find(
                side, seq, cid, "sequence", f"debit note {note.seq} comes after the final note"
            )
        view.note_seq = max(view.note_seq, note.seq)
        view.note_amount = max(view.note_amount, note.amount)
        view.usage = note.usage
        view.final_note = view.final_note or note.final
        if isinstance(event, DebitNoteIssued) and note.amount > view.voucher_amount:
            view.uncovered.append((note.seq, note.amount, view.status == "terminated", seq))

    def _voucher(self, side: int, seq: int, event: VoucherIssued | VoucherAccepted) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        self._role(side, seq, view.contract_id, event.role, type(event))
        self._paying(side, seq, view, "voucher")
        key = ("voucher", view.contract_id, event.seq)
        voucher = self._document(side, seq, view, key, event.voucher, "voucher")
        if not isinstance(voucher, PaymentVoucher):
            return
        cid = view.contract_id
        self._fields(
            side,
            seq,
            view,
            "voucher",
            (
                ("seq", event.seq, voucher.seq),
                ("amount", event.amount, voucher.amount),
                ("note_seq", event.note_seq, voucher.note_seq),
            ),
        )
        if voucher.seq <= view.voucher_seq:
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"voucher seq {voucher.seq} after seq {view.voucher_seq}: seqs must grow",
            )
        if voucher.amount < view.voucher_amount:
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"voucher {voucher.seq} promises {voucher.amount}, less than the "
                f"{view.voucher_amount} already promised (amounts are cumulative)",
            )
        budget = view.terms.budget if view.terms is not None else None
        if budget is not None and voucher.amount > budget:
            self._find(
                side,
                seq,
                cid,
                "budget",
                f"voucher {voucher.seq} promises {voucher.amount}, over the contract's "
                f"budget of {budget}",
            )
        if voucher.note_seq > view.note_seq:
            self._find(
                side,
                seq,
                cid,
                "sequence",
                f"voucher {voucher.seq} answers debit note {voucher.note_seq}, which "
                f"this log has not shown (its last note is {view.note_seq})",
            )
        if voucher.seq > view.voucher_seq:
            view.voucher_seq = voucher.seq
            view.last_voucher = event.voucher
        view.voucher_amount = max(view.voucher_amount, voucher.amount)
        uncovered = view.uncovered
        while uncovered and uncovered[0][1] <= view.voucher_amount:
            uncovered.popleft()

    def _rejected_note(self, side: int, seq: int, event: DebitNoteRejected) -> None:
        self._role(side, seq, event.contract_id, event.role, DebitNoteRejected)

    def _rejected_voucher(self, side: int, seq: int, event: VoucherRejected) -> None:
        """A voucher the provider would not keep still counts as received: the requester's
        issuing it is checked (budget, order) in the requester's log."""
        self._role(side, seq, event.contract_id, event.role, VoucherRejected)
        if event.voucher is None:
            return
        try:
            voucher = msgspec.msgpack.decode(event.voucher.body, type=PaymentVoucher)
        except msgspec.MsgspecError:
            return
        key = ("voucher", voucher.contract_id, voucher.seq)
        other = self._pending.get(key)
        if other is not None and other.side != side and other.value == event.voucher:
            self._matched(key, other)

    def _overdue(self, side: int, seq: int, event: PaymentOverdue) -> None:
        view = self._view(side, seq, event.contract_id, event.role)
        if view is None:
            return
        self._role(side, seq, view.contract_id, event.role, PaymentOverdue)
        if event.note_seq > view.note_seq:
            self._find(
                side,
                seq,
                view.contract_id,
                "sequence",
                f"debit note {event.note_seq} is said to be overdue, but this log has "
                f"not issued it (its last note is {view.note_seq})",
            )
        elif not view.overdue:
            view.overdue = event.note_seq

    def _redeemed(self, side: int, record: EventRecord, event: LedgerRedeemed) -> None:
        seq = record.seq
        log = self._logs[side]
        view = log.views.get(event.contract_id)
        if view is None or view.terms is None:
            self._find(
                side,
                seq,
                event.contract_id,
                "lifecycle",
                "a redemption for a contract this log never accepted",
            )
            return
        cid = view.contract_id
        terms = view.terms
        if view.role != "provider":
            self._find(
                side, seq, cid, "owner", "a redemption belongs in the provider's (payee's) log"
            )
        if event.voucher == view.last_voucher:
            self._documents += 1  # the provider's latest voucher, verified when it came
            voucher: object = _decode_voucher(event.voucher)
        else:
            voucher = self._open(event.voucher, PaymentVoucher, terms, side, seq, cid)
        if not isinstance(voucher, PaymentVoucher):
            return
        self._fields(
            side,
            seq,
            view,
            "redemption",
            (
                ("voucher_seq", event.voucher_seq, voucher.seq),
                ("amount", event.amount, voucher.amount),
                ("channel", event.channel, voucher.channel),
            ),
        )
        parties = (("payer", event.payer, terms.requester), ("payee", event.payee, terms.provider))
        for name, said, party in parties:
            if said != party:
                self._find(
                    side,
                    seq,
                    cid,
                    "settlement",
                    f"the redemption's {name} is {said}, not the contract's {party}",
                )
        if event.currency != terms.currency:
            self._find(
                side,
                seq,
                cid,
                "settlement",
                f"redeemed in {event.currency}, but the contract is in {terms.currency}",
            )
        if voucher.seq > view.voucher_seq:
            self._find(
                side,
                seq,
                cid,
                "settlement",
                f"redeemed voucher {voucher.seq}, which this log never accepted",
            )
        if event.credited > event.amount:
            self._find(
                side,
                seq,
                cid,
                "settlement",
                f"the redemption credits {event.credited}, more than the {event.amount} "
                "redeemed on the channel in all",
            )
        view.redeemed = (event.amount, event.voucher_seq, local_reference(record))

    # -- shared steps ----------------------------------------------------------------------
    def _new_view(
        self, side: int, seq: int, role: Role, terms: ContractTerms, contract: SignedContract
    ) -> _View:
        log = self._logs[side]
        view = _View(terms.contract_id, role, terms.requester, terms.provider)
        view.terms = terms
        view.digest = contract.digest
        log.views[terms.contract_id] = view
        party = terms.requester if role == "requester" else terms.provider
        if log.owner is None:
            log.owner = party  # no checkpoint named it: its first contract does
        elif party != log.owner:
            self._find(
                side,
                seq,
                terms.contract_id,
                "owner",
                f"the log says it is the {role} of the contract ({party}), but its "
                f"checkpoints are signed by {log.owner}",
            )
        self._cross(
            ("terms", terms.contract_id, 0), side, seq, contract.digest, "the contract's terms"
        )
        return view

    def _view(self, side: int, seq: int, contract_id: str, role: Role) -> _View | None:
        view = self._logs[side].views.get(contract_id)
        if view is None:
            self._find(
                side,
                seq,
                contract_id,
                "lifecycle",
                "an event of a contract this log never proposed or accepted",
            )
            return None
        self._event_role(side, seq, view, role)
        return view

    def _event_role(self, side: int, seq: int, view: _View, role: Role) -> None:
        if role != view.role:
            self._find(
                side,
                seq,
                view.contract_id,
                "owner",
                f"the event says the log is the {role}, but it is the {view.role}",
            )

    def _role(self, side: int, seq: int, cid: str, role: Role, cls: type) -> None:
        expected = _ROLE_OF.get(cls)
        if expected is not None and role != expected:
            self._find(
                side,
                seq,
                cid,
                "owner",
                f"{getattr(cls, 'TYPE', cls.__name__)} belongs in the {expected}'s log, this one says it is "
                f"the {role}",
            )

    def _paying(self, side: int, seq: int, view: _View, what: str) -> None:
        if view.status == "proposed" or view.status == "settled":
            reason = (
                "the provider has not accepted it"
                if view.status == "proposed"
                else "which is final"
            )
            self._find(
                side,
                seq,
                view.contract_id,
                "lifecycle",
                f"a {what} of a contract that is {view.status}: {reason}",
            )

    def _step(self, side: int, seq: int, view: _View, step: Input) -> None:
        try:
            view.status = next_status(view.status, step)
        except IllegalTransition as exc:
            self._find(side, seq, view.contract_id, "lifecycle", str(exc))

    def _contract_fields(
        self, side: int, seq: int, view: _View, event: ContractProposed | ContractAccepted
    ) -> None:
        terms = view.terms
        if terms is None:
            return
        counterparty = terms.provider if view.role == "requester" else terms.requester
        self._fields(
            side,
            seq,
            view,
            "contract",
            (
                ("contract_id", event.contract_id, terms.contract_id),
                ("counterparty", event.counterparty, counterparty),
                ("deployment", event.deployment, terms.deployment),
                ("node", event.node, terms.node),
            ),
        )

    def _fields(
        self, side: int, seq: int, view: _View, what: str, pairs: tuple[tuple[str, Any, Any], ...]
    ) -> None:
        for name, said, signed in pairs:
            if said != signed:
                self._find(
                    side,
                    seq,
                    view.contract_id,
                    "fields",
                    f"the event's {name} is {said!r}, but the signed {what} says {signed!r}",
                )

    def _open_contract(
        self, side: int, seq: int, cid: str, contract: SignedContract, *, accepted: bool
    ) -> ContractTerms | None:
        self._documents += 1
        self._verified += 1
        try:
            return open_contract(contract, accepted=accepted)
        except BadDocument as exc:
            self._find(side, seq, cid, "document", str(exc))
            return None

    def _document(
        self, side: int, seq: int, view: _View, key: _Key, signed: Signed, kind: str
    ) -> object:
        """The document `signed` after verifying it (or reusing the verdict on the very same
        bytes the other log showed), compared with what the other log holds under `key`."""
        self._documents += 1
        other = self._pending.get(key)
        if (
            other is not None
            and other.side != side
            and other.value == signed
            and other.terms == view.digest
        ):
            self._matched(key, other)  # the same bytes under the same terms: the same verdict
            if other.error is not None:
                self._find(side, seq, view.contract_id, "document", other.error)
            return other.document
        if view.terms is None:
            self._find(
                side,
                seq,
                view.contract_id,
                "document",
                f"a {kind} of a contract whose terms this log does not hold",
            )
            return None
        error = None
        try:
            self._verified += 1
            document: object = open_signed(signed, _DOCUMENT_CLASS[kind], view.terms)
        except BadDocument as exc:
            document, error = None, str(exc)
            self._find(side, seq, view.contract_id, "document", error)
        if kind == "note":
            self._notes += 1
        elif kind == "voucher":
            self._vouchers += 1
        if other is not None and other.side != side:
            self._matched(key, other)
            if other.value != signed:
                self._differs(side, seq, view.contract_id, other, _describe(key))
        elif other is None:
            self._wait(key, _Sighting(side, seq, signed, document, error, view.digest))
        return document

    def _open(
        self, signed: Signed, cls: type[Any], terms: ContractTerms, side: int, seq: int, cid: str
    ) -> object:
        self._documents += 1
        self._verified += 1
        try:
            return open_signed(signed, cls, terms)
        except BadDocument as exc:
            self._find(side, seq, cid, "document", str(exc))
            return None

    def _cross(
        self, key: _Key, side: int, seq: int, value: object, what: str, document: object = None
    ) -> None:
        """Compare `value` with what the other log holds under `key`, or keep it until then."""
        other = self._pending.get(key)
        if other is None:
            self._wait(key, _Sighting(side, seq, value, document))
        elif other.side != side:
            self._matched(key, other)
            if other.value != value:
                self._differs(side, seq, key[1], other, what)

    def _wait(self, key: _Key, sighting: _Sighting) -> None:
        self._pending[key] = sighting
        self._waiting[sighting.side] += 1
        self._peak = max(self._peak, len(self._pending))

    def _matched(self, key: _Key, sighting: _Sighting) -> None:
        del self._pending[key]
        self._waiting[sighting.side] -= 1

    def waiting(self, side: int) -> int:
        """How many things log `side` showed that the other log has not shown yet: the
        reader feeds the other log while this runs ahead (see `audit_logs`)."""
        return self._waiting[side]

    def _differs(self, side: int, seq: int, cid: str, other: _Sighting, what: str) -> None:
        other_log = self._logs[other.side].name
        self._find(
            side,
            seq,
            cid,
            "cross-log",
            f"{what} differs from what log {other_log} holds at seq {other.seq}",
        )

    def _find(self, side: int, seq: int, contract: str, check: Check, message: str) -> None:
        self._findings_total += 1
        if len(self._findings) < MAX_FINDINGS:
            self._findings.append(
                Finding(
                    log=self._logs[side].name,
                    seq=seq,
                    contract=contract,
                    check=check,
                    message=message,
                )
            )

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> AuditReport:
        logs = []
        for side, log in enumerate(self._logs):
            report = log.verifier.finish()
            for problem in report.problems:
                self._find(side, problem.seq, "", "chain", problem.reason)
            if not log.attested or report.checkpoints == 0:
                self._find(
                    side,
                    0,
                    "",
                    "owner",
                    "no valid checkpoint signs this log: who wrote it cannot be known",
                )
            logs.append(
                LogSummary(
                    name=log.name,
                    owner=log.owner or "",
                    records=report.records,
                    payment_events=log.payment_events,
                    head_seq=report.head_seq,
                    head_hash=report.head_hash.hex(),
                    checkpoints=report.checkpoints,
                    last_checkpoint_seq=report.last_checkpoint_seq,
                )
            )
        counts = AuditCounts(
            waiting_peak=self._peak,
            documents=self._documents,
            signatures_verified=self._verified,
            notes=self._notes,
            vouchers=self._vouchers,
        )
        self._unmatched(counts)
        contracts = self._contracts(counts)
        findings = sorted(self._findings, key=lambda f: (f.log, f.seq, f.contract))
        return AuditReport(
            logs=logs,
            contracts=contracts,
            counts=counts,
            findings=findings,
            findings_total=self._findings_total,
        )

    def _unmatched(self, counts: AuditCounts) -> None:
        """What one log showed and the other never did: a finding, or in flight when the
        log that should show it still runs the contract (the copy was taken mid-exchange)."""
        for (kind, cid, number), sighting in self._pending.items():
            side = sighting.side
            other_side = 1 - side
            mine = self._logs[side].views.get(cid)
            theirs = self._logs[other_side].views.get(cid)
            if mine is None or not self._shared(side, mine):
                continue
            my_role = mine.role
            other_name = self._logs[other_side].name
            running = theirs is None or theirs.status not in FINAL
            if kind in ("terms", "termination"):
                continue  # compared when both hold one; presence is judged by its event
            if kind == "note" and my_role == "provider":
                continue  # a note not received is judged by coverage
            if _RECEIVED_BY.get(kind) == my_role:
                self._find(
                    side,
                    sighting.seq,
                    cid,
                    "cross-log",
                    f"{_describe((kind, cid, number))} is shown here, but log "
                    f"{other_name} never issued it",
                )
            elif running:
                counts.in_flight += 1
            else:
                what = _describe((kind, cid, number))
                status = theirs.status if theirs is not None else "absent"
                self._find(
                    side,
                    sighting.seq,
                    cid,
                    "cross-log",
                    f"{what} is missing from log {other_name}, where the contract is {status}",
                )

    def _shared(self, side: int, view: _View) -> bool:
        """Whether the contract is between the two logs' owners (else: checked within its
        log only)."""
        other = self._logs[1 - side].owner
        counterparty = view.provider if view.role == "requester" else view.requester
        return other is None or counterparty == other

    def _contracts(self, counts: AuditCounts) -> list[ContractSummary]:
        names = [log.name for log in self._logs]
        ids = dict.fromkeys([*self._logs[0].views, *self._logs[1].views])
        rows = []
        for cid in ids:
            views = [log.views.get(cid) for log in self._logs]
            held = [v for v in views if v is not None]
            first = held[0]
            provider_view = next((v for v in held if v.role == "provider"), None)
            requester_view = next((v for v in held if v.role == "requester"), None)
            source = provider_view or first
            terms = next((v.terms for v in held if v.terms is not None), None)
            shared = len(held) == 2 or self._shared(views.index(first), first)
            if shared:
                counts.contracts += 1
            else:
                counts.other_contracts += 1
            disputes = set().union(*(v.disputes for v in held))
            outstanding, awaiting = self._coverage(views, provider_view, disputes)
            settled = next((v.settled[0] for v in held if v.settled is not None), None)
            if any(v.status == "settled" for v in held):
                counts.settled += 1
            elif any(v.status == "terminated" for v in held):
                counts.terminated += 1
            counts.disputes += len(disputes)
            row = ContractSummary(
                contract_id=cid,
                requester=first.requester,
                provider=first.provider,
                currency=terms.currency if terms is not None else "",
                budget=terms.budget if terms is not None else None,
                status={
                    n: (v.status if v is not None else "")
                    for n, v in zip(names, views, strict=True)
                },
                notes=source.note_seq,
                vouchers=(provider_view or requester_view or first).voucher_seq,
                disputes=len(disputes),
                noted=source.note_amount,
                paid=source.voucher_amount,
                settled=settled,
                outstanding=outstanding,
                awaiting=awaiting,
            )
            rows.append(row)
            counts.paid += row.paid
            counts.settled_amount += row.settled or 0
            counts.outstanding += outstanding
            counts.awaiting += awaiting
            self._settlement(views, provider_view)
        return rows

    def _coverage(
        self, views: list[_View | None], provider: _View | None, disputes: set[int]
    ) -> tuple[int, int]:
        """(outstanding, awaiting) of the contract; a finding for each note neither covered
        nor disputed on a contract that ended without it being overdue."""
        if provider is None:
            return 0, 0
        side = views.index(provider)
        outstanding = awaiting = 0
        for note_seq, amount, after_end, at in provider.uncovered:
            if amount <= provider.voucher_amount or note_seq in disputes:
                continue
            owed = amount - provider.voucher_amount
            overdue = after_end or 0 < provider.overdue <= note_seq
            if overdue and provider.status == "terminated":
                outstanding = max(outstanding, owed)
            elif provider.status not in FINAL:
                awaiting = max(awaiting, owed)
            else:
                self._find(
                    side,
                    at,
                    provider.contract_id,
                    "coverage",
                    f"debit note {note_seq} for {amount} was neither covered by a voucher "
                    f"(the provider holds vouchers up to {provider.voucher_amount}) nor "
                    "disputed",
                )
        return outstanding, awaiting

    def _settlement(self, views: list[_View | None], provider: _View | None) -> None:
        """The provider's settlement is what its ledger redeemed."""
        if provider is None or provider.settled is None or provider.redeemed is None:
            return
        side = views.index(provider)
        amount, voucher_seq, _, reference = provider.settled
        if (amount, voucher_seq, reference) != provider.redeemed:
            r_amount, r_seq, r_reference = provider.redeemed
            self._find(
                side,
                provider.settled_at,
                provider.contract_id,
                "settlement",
                f"settled {amount} by voucher {voucher_seq} (reference {reference}), but "
                f"the ledger redeemed {r_amount} by voucher {r_seq} (reference "
                f"{r_reference})",
            )


def _decode_voucher(signed: Signed) -> PaymentVoucher | None:
    """A voucher already verified under the same terms, decoded again without its signature."""
    try:
        return msgspec.msgpack.decode(signed.body, type=PaymentVoucher)
    except msgspec.MsgspecError:
        return None


# -- the shell: two EventLogs read through the core ----------------------------------------
async def log_owner(log: EventLog) -> str | None:
    """The DID that signed the log's first checkpoint; None when it has none or the store
    cannot say (the audit then learns it as it reads)."""
    decoder = msgspec.msgpack.Decoder(LogCheckpoint)
    try:
        async for record in log.read(types={LogCheckpoint.TYPE}):
            try:
                return decoder.decode(record.payload).signer
            except (msgspec.MsgspecError, TypeError):
                continue
    except CorruptLog:
        return None
    return None


async def audit_logs(
    a: EventLog,
    b: EventLog,
    *,
    names: tuple[str, str] = ("A", "B"),
    trusted: tuple[TrustedHead | None, TrustedHead | None] = (None, None),
    owners: tuple[str | None, str | None] | None = None,
    lag: int = LAG,
) -> AuditReport:
    """Audit two logs together; never raises for bad data (what is wrong goes in the report).

    `owners`: each log's owner when the caller knows it (else its first checkpoint's signer).
    The logs are read side by side, the one whose next record is older first, so that what
    one log shows is soon matched by the other; and whatever the two nodes' clocks say, a log
    is not read on while it has shown `lag` more things than the other has yet to match.
    """
    if owners is None:
        owners = (await log_owner(a), await log_owner(b))
    audit = PaymentAudit(
        AuditedLog(names[0], owners[0], trusted[0]), AuditedLog(names[1], owners[1], trusted[1])
    )
    readers = (_Reader(a, audit, 0), _Reader(b, audit, 1))
    for reader in readers:
        await reader.advance()
    while True:
        first, second = readers[0].record, readers[1].record
        if first is None or second is None:
            if first is None and second is None:
                break
            side = 0 if second is None else 1
        else:
            ahead = audit.waiting(0) - audit.waiting(1)
            if ahead > lag:
                side = 1
            elif -ahead > lag:
                side = 0
            else:
                side = 0 if first.timestamp <= second.timestamp else 1
        record = first if side == 0 else second
        assert record is not None  # the side chosen has a record
        audit.feed(side, record)
        await readers[side].advance()
    for side, log in enumerate((a, b)):
        for claim in audit.deferred(side):
            try:
                record = await log.get(claim.seq)
            except CorruptLog:
                record = None
            audit.resolve(side, claim, record)
    return audit.finish()


class _Reader:
    """One log's records, one ahead. A stretch the store cannot deliver page by page is read
    one record at a time, as `verify_log` does, so damage hides no more than it must; what
    cannot be read at all is reported to the audit in its place."""

    def __init__(self, log: EventLog, audit: PaymentAudit, side: int) -> None:
        self._log = log
        self._audit = audit
        self._side = side
        self._records: AsyncIterator[EventRecord] | None = log.read()
        self._next = 1
        self._salvaged: deque[EventRecord | tuple[int, int, Exception]] = deque()
        self.record: EventRecord | None = None

    async def advance(self) -> None:
        while True:
            if self._salvaged:
                item = self._salvaged.popleft()
                if isinstance(item, EventRecord):
                    self._set(item)
                    return
                self._audit.unreadable(self._side, *item)
                continue
            if self._records is None:
                self.record = None
                return
            try:
                self._set(await anext(self._records))
                return
            except StopAsyncIteration:
                self._records = None
            except CorruptLog as exc:
                await self._salvage(exc)

    def _set(self, record: EventRecord) -> None:
        self.record = record
        self._next = record.seq + 1

    async def _salvage(self, error: Exception) -> None:
        start = self._next
        try:
            end = min(start + _SALVAGE_SPAN, (await self._log.head())[0] + 1)
        except CorruptLog:
            end = start + _SALVAGE_SPAN
        bad_from: int | None = None
        readable = 0
        for seq in range(start, end):
            try:
                record = await self._log.get(seq)
            except CorruptLog as exc:
                error, bad_from = exc, seq if bad_from is None else bad_from
                continue
            if bad_from is not None:
                self._salvaged.append((bad_from, seq - 1, error))
                bad_from = None
            if record is not None:
                readable += 1
                self._salvaged.append(record)
        if bad_from is not None:
            self._salvaged.append((bad_from, end - 1, error))
        if readable == 0 and bad_from is not None:
            self._audit.read_failed(self._side, error)
            self._salvaged.clear()
            self._records = None
        else:
            self._records = self._log.read(end)
