"""One contract between two real keys, told as the events either party's log holds.

`Story` signs real documents (`propose`, `accept`, `sign`) and builds the contract, payment
and ledger events for the requester's or the provider's side; `sealed` turns events into
EventRecords for pure folds, without a log.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from nunet.contracts import (
    ContractTerms,
    DebitDispute,
    DebitNote,
    Metered,
    PaymentVoucher,
    Rates,
    Termination,
    accept,
    propose,
    sign,
)
from nunet.contracts import events as ev
from nunet.contracts.events import Role
from nunet.contracts.local_ledger import LedgerRedeemed
from nunet.eventlog import Event, EventRecord
from nunet.eventlog.event import EventEncoder
from nunet.identity import KeyPair


class Story:
    """A contract `requester` -> `provider`, with the documents and events of its life."""

    def __init__(
        self,
        *,
        requester: KeyPair | None = None,
        provider: KeyPair | None = None,
        deployment: str = "dep-1",
        node: str = "node-1",
        currency: str = "NTX",
        budget: int | None = 10_000_000,
        contract_id: str | None = None,
    ) -> None:
        self.requester = requester or KeyPair.generate()
        self.provider = provider or KeyPair.generate()
        self.terms = ContractTerms(
            contract_id=contract_id or secrets.token_hex(16),
            channel=secrets.token_hex(16),
            requester=self.requester.did,
            provider=self.provider.did,
            deployment=deployment,
            node=node,
            currency=currency,
            rates=Rates(cpu=1.5, wall=0.5),
            budget=budget,
            payment_interval=30.0,
            grace_period=90.0,
            termination_notice=5.0,
            proposed_at=1_700_000_000.0,
        )
        self.proposal = propose(self.terms, self.requester)
        self.contract = accept(self.proposal, self.provider)

    @property
    def id(self) -> str:
        return self.terms.contract_id

    def counterparty(self, role: Role) -> KeyPair:
        return self.provider if role == "requester" else self.requester

    # -- lifecycle -------------------------------------------------------------------------------
    def proposed(self) -> ev.ContractProposed:
        return ev.ContractProposed(
            contract_id=self.id,
            role="requester",
            contract=self.proposal,
            counterparty=self.provider.did,
            deployment=self.terms.deployment,
            node=self.terms.node,
            counterparty_address="nats://provider",
        )

    def accepted(self, role: Role) -> ev.ContractAccepted:
        return ev.ContractAccepted(
            contract_id=self.id,
            role=role,
            contract=self.contract,
            counterparty=self.counterparty(role).did,
            deployment=self.terms.deployment,
            node=self.terms.node,
            counterparty_address=f"nats://{'provider' if role == 'requester' else 'requester'}",
        )

    def refused(self, role: Role, reason: str = "price under my floor") -> ev.ContractRefused:
        return ev.ContractRefused(
            contract_id=self.id,
            role=role,
            counterparty=self.counterparty(role).did,
            deployment=self.terms.deployment,
            node=self.terms.node,
            reason=reason,
        )

    def activated(self, role: Role) -> ev.ContractActivated:
        return ev.ContractActivated(contract_id=self.id, role=role, at=1_700_000_010.0)

    def disputed(
        self, role: Role, note_seq: int, accepted: int, reason: str = "work not done"
    ) -> ev.ContractDisputed:
        dispute = DebitDispute(
            contract_id=self.id,
            channel=self.terms.channel,
            note_seq=note_seq,
            reason=reason,
            accepted=accepted,
            issued_at=1_700_000_100.0,
        )
        return ev.ContractDisputed(
            contract_id=self.id,
            role=role,
            note_seq=note_seq,
            dispute=sign(dispute, self.requester),
            reason=reason,
        )

    def resolved(self, role: Role, note_seq: int) -> ev.ContractResolved:
        return ev.ContractResolved(contract_id=self.id, role=role, note_seq=note_seq)

    def terminated(
        self, role: Role, *, by: KeyPair, reason: str = "asked by a user", paid: int = 0
    ) -> ev.ContractTerminated:
        termination = Termination(
            contract_id=self.id,
            by=by.did,
            reason=reason,
            issued_at=1_700_000_200.0,
            effective_at=1_700_000_205.0,
        )
        return ev.ContractTerminated(
            contract_id=self.id,
            role=role,
            by=by.did,
            reason=reason,
            effective_at=termination.effective_at,
            termination=sign(termination, by),
            paid=paid,
        )

    def settled(self, role: Role, amount: int, voucher_seq: int) -> ev.ContractSettled:
        return ev.ContractSettled(
            contract_id=self.id,
            role=role,
            amount=amount,
            voucher_seq=voucher_seq,
            ledger="local",
            reference=f"local:{voucher_seq}:abcdef0123456789",
        )

    # -- payments --------------------------------------------------------------------------------
    def note(
        self, role: Role, seq: int, amount: int, *, final: bool = False
    ) -> ev.DebitNoteIssued | ev.DebitNoteReceived:
        note = DebitNote(
            contract_id=self.id,
            channel=self.terms.channel,
            seq=seq,
            usage=Metered(cpu_ms=seq * 1000, wall_ms=seq * 1000, runs=1),
            amount=amount,
            issued_at=1_700_000_000.0 + seq,
            final=final,
        )
        cls = ev.DebitNoteIssued if role == "provider" else ev.DebitNoteReceived
        return cls(
            contract_id=self.id,
            role=role,
            seq=seq,
            amount=amount,
            final=final,
            note=sign(note, self.provider),
        )

    def voucher(
        self, role: Role, seq: int, amount: int, *, note_seq: int = 0
    ) -> ev.VoucherIssued | ev.VoucherAccepted:
        voucher = PaymentVoucher(
            contract_id=self.id,
            channel=self.terms.channel,
            seq=seq,
            amount=amount,
            note_seq=note_seq,
            issued_at=1_700_000_000.0 + seq,
        )
        cls = ev.VoucherIssued if role == "requester" else ev.VoucherAccepted
        return cls(
            contract_id=self.id,
            role=role,
            seq=seq,
            amount=amount,
            note_seq=note_seq,
            voucher=sign(voucher, self.requester),
        )

    def note_rejected(self, reason: str) -> ev.DebitNoteRejected:
        return ev.DebitNoteRejected(
            contract_id=self.id, role="requester", sender=self.provider.did, reason=reason
        )

    def voucher_rejected(self, reason: str) -> ev.VoucherRejected:
        return ev.VoucherRejected(
            contract_id=self.id, role="provider", sender=self.requester.did, reason=reason
        )

    def overdue(self, note_seq: int, owed: int) -> ev.PaymentOverdue:
        return ev.PaymentOverdue(
            contract_id=self.id,
            role="provider",
            note_seq=note_seq,
            owed=owed,
            due_at=1_700_000_300.0,
        )

    def redeemed(self, voucher_seq: int, amount: int, credited: int) -> LedgerRedeemed:
        voucher = self.voucher("provider", voucher_seq, amount)
        return LedgerRedeemed(
            contract_id=self.id,
            channel=self.terms.channel,
            payer=self.requester.did,
            payee=self.provider.did,
            currency=self.terms.currency,
            amount=amount,
            credited=credited,
            voucher_seq=voucher_seq,
            voucher=voucher.voucher,
        )

    # -- whole lives -----------------------------------------------------------------------------
    def paid_in_full(self, role: Role, notes: int = 3, step: int = 1_000_000) -> list[Event]:
        """Accepted, activated, `notes` notes each paid in full, the last final, settled."""
        life: list[Event] = [self.proposed()] if role == "requester" else []
        life += [self.accepted(role), self.activated(role)]
        for seq in range(1, notes + 1):
            life.append(self.note(role, seq, seq * step, final=seq == notes))
            life.append(self.voucher(role, seq, seq * step, note_seq=seq))
        life.append(self.settled(role, notes * step, notes))
        return life


def sealed(events: Iterable[Event], *, start: int = 1) -> list[EventRecord]:
    """`events` as consecutive records (one second apart), as a log would seal them."""
    encoder = EventEncoder()
    records = []
    for seq, event in enumerate(events, start):
        kind, version, actor, payload = encoder.encode(event, "/dms/actor/contracts")
        records.append(
            EventRecord(
                seq=seq,
                timestamp=(1_700_000_000 + seq) * 1_000_000_000,
                type=kind,
                version=version,
                actor=actor,
                payload=payload,
                prev_hash=b"\0" * 32,
                hash=seq.to_bytes(32, "big"),
            )
        )
    return records
