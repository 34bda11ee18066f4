"""Whole contracts between two real nodes, written into both parties' real logs; and the ways
a cheating party could rewrite its log afterwards.

`Flows` plays a requester and a provider with real keys: proposal, acceptance, activation,
debit notes with growing usage, the vouchers answering them, a dispute, then settlement (with
the local ledger's redemption), termination or an overdue note. Each party's events go to its
own `SQLiteEventLog` in the order its contracts actor appends them (`nunet.contracts.actor`),
and each log is checkpointed by its node key. `Outcome` says what a flow did, so tests assert
the audit's totals against it.

The rest edits a *copy* of a log file: `rewrite` re-chains the records after an edit (and, as
the log's owner could, re-signs its checkpoints); `tamper` runs raw SQL.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from nunet.contracts.documents import (
    DebitDispute,
    DebitNote,
    PaymentVoucher,
    Signed,
    Termination,
    accept,
    propose,
    sign,
)
from nunet.contracts.events import (
    ContractAccepted,
    ContractActivated,
    ContractDisputed,
    ContractProposed,
    ContractResolved,
    ContractSettled,
    ContractTerminated,
    DebitNoteIssued,
    DebitNoteReceived,
    PaymentOverdue,
    Role,
    VoucherAccepted,
    VoucherIssued,
)
from nunet.contracts.local_ledger import LOCAL, LedgerRedeemed, local_reference
from nunet.contracts.terms import ContractTerms, Metered, Rates, charge
from nunet.eventlog import Checkpointer, Event, EventRecord, LogCheckpoint, open_sqlite_log
from nunet.eventlog.chain import ZERO_HASH, record_hash
from nunet.eventlog.events import checkpoint_message
from nunet.eventlog.sqlite import SQLiteEventLog
from nunet.eventlog.sqlite_writer import COLUMNS
from nunet.identity import KeyPair

REQUESTER_KEY = KeyPair.from_seed(b"R" * 32)
PROVIDER_KEY = KeyPair.from_seed(b"P" * 32)
MALLORY_KEY = KeyPair.from_seed(b"M" * 32)

RATES = Rates(cpu=0.5, wall=0.1, ram=0.02, per_job=0.01)
STEP = Metered(cpu_ms=45_000, wall_ms=60_000, ram_mib_ms=2048 * 60_000)
"""The usage one payment interval adds."""

End = Literal["settle", "terminate", "overdue", "running"]
E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Plan:
    """One contract's course: `notes` debit notes; the requester disputes note `dispute`
    (paying in full the next one, which resolves it); then `end`:

    - settle: the last note is final, paid, redeemed on the provider's local ledger, settled;
    - terminate: the requester ends it after paying the last note; the provider's final note
      (the same usage) follows, then the provider redeems;
    - overdue: the requester never answers the last note: overdue, the provider terminates;
    - running: the contract is left active.
    """

    notes: int = 3
    dispute: int | None = None
    end: End = "settle"
    budget: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What a flow did: amounts in micro-units."""

    terms: ContractTerms
    notes: tuple[int, ...]  # each note's (cumulative) amount, in seq order
    vouchers: tuple[int, ...]  # each voucher's amount, in seq order
    disputed: tuple[int, ...]  # note seqs
    settled: int | None
    outstanding: int
    status: str

    @property
    def contract_id(self) -> str:
        return self.terms.contract_id

    @property
    def noted(self) -> int:
        return self.notes[-1] if self.notes else 0

    @property
    def paid(self) -> int:
        return self.vouchers[-1] if self.vouchers else 0


@dataclass
class Party:
    """One node: its key, its log, and the events it has yet to append."""

    key: KeyPair
    log: SQLiteEventLog
    path: Path
    queued: list[Event] = field(default_factory=list)

    @property
    def did(self) -> str:
        return self.key.did

    async def flush(self) -> None:
        """Append what is queued (in order, one batch), then checkpoint the log."""
        if self.queued:
            events, self.queued = self.queued, []
            await self.log.append_many(events, actor="/dms/node/contracts")
        await Checkpointer(self.log, self.key).checkpoint()


class Flows:
    """Contracts between `requester` and `provider`, numbered as they are run."""

    def __init__(self, requester: Party, provider: Party) -> None:
        self.requester = requester
        self.provider = provider
        self._contracts = 0
        self._now = 1_700_000_000.0

    @classmethod
    async def open(
        cls,
        directory: Path,
        *,
        requester: KeyPair = REQUESTER_KEY,
        provider: KeyPair = PROVIDER_KEY,
    ) -> Flows:
        """Logs `requester.db` and `provider.db` in `directory`."""
        parties = []
        for key, name in ((requester, "requester"), (provider, "provider")):
            path = directory / f"{name}.db"
            parties.append(Party(key, await open_sqlite_log(path), path))
        return cls(*parties)

    async def flush(self) -> None:
        await self.requester.flush()
        await self.provider.flush()

    async def close(self) -> None:
        await self.flush()
        await self.requester.log.close()
        await self.provider.log.close()

    def terms(self, budget: int | None = None) -> ContractTerms:
        """The next contract's terms."""
        self._contracts += 1
        n = self._contracts
        return ContractTerms(
            contract_id=sha256(f"contract {n}".encode()).hexdigest()[:32],
            channel=sha256(f"channel {n}".encode()).hexdigest()[:32],
            requester=self.requester.did,
            provider=self.provider.did,
            deployment=f"dep-{n}",
            node="worker",
            rates=RATES,
            budget=budget,
            proposed_at=self._tick(),
        )

    async def run(self, plan: Plan = Plan(), *, flush: bool = True) -> Outcome:
        """Play one contract to `plan.end`; with `flush`, both logs are written and
        checkpointed after it (otherwise at the caller's next `flush`)."""
        terms = self.terms(plan.budget)
        outcome = await _Contract(self, terms, plan).play()
        if flush:
            await self.flush()
        return outcome

    def _tick(self) -> float:
        self._now += 1.0
        return self._now


class _Contract:
    """One contract being played: both parties' view of its channel."""

    def __init__(self, flows: Flows, terms: ContractTerms, plan: Plan) -> None:
        self.flows = flows
        self.terms = terms
        self.plan = plan
        self.r = flows.requester
        self.p = flows.provider
        self.cid = terms.contract_id
        self.notes: list[int] = []
        self.vouchers: list[int] = []
        self.disputed: list[int] = []
        self.latest: Signed | None = None
        self.usage = Metered()
        self.status = "active"

    async def play(self) -> Outcome:
        self._open()
        last = self.plan.notes
        for seq in range(1, last + 1):
            final = seq == last and self.plan.end == "settle"
            if seq == last and self.plan.end == "overdue":
                self._unanswered(seq)
            else:
                self._note(seq, final=final)
        settled = None
        outstanding = 0
        if self.plan.end == "settle":
            settled = await self._settle()
        elif self.plan.end == "terminate":
            await self._terminate()
        elif self.plan.end == "overdue":
            outstanding = self.notes[-1] - self.paid
            await self._redeem()
        return Outcome(
            terms=self.terms,
            notes=tuple(self.notes),
            vouchers=tuple(self.vouchers),
            disputed=tuple(self.disputed),
            settled=settled,
            outstanding=outstanding,
            status=self.status,
        )

    @property
    def paid(self) -> int:
        return self.vouchers[-1] if self.vouchers else 0

    def _parties(self) -> tuple[tuple[Party, Role], tuple[Party, Role]]:
        return ((self.r, "requester"), (self.p, "provider"))

    def _open(self) -> None:
        terms = self.terms
        proposal = propose(terms, self.r.key)
        accepted = accept(proposal, self.p.key)
        where = {"deployment": terms.deployment, "node": terms.node}
        self.r.queued.append(
            ContractProposed(
                contract_id=self.cid,
                role="requester",
                contract=proposal,
                counterparty=self.p.did,
                **where,
            )
        )
        sides: tuple[tuple[Party, Role, Party], ...] = (
            (self.p, "provider", self.r),
            (self.r, "requester", self.p),
        )
        for party, role, other in sides:
            party.queued.append(
                ContractAccepted(
                    contract_id=self.cid,
                    role=role,
                    contract=accepted,
                    counterparty=other.did,
                    **where,
                )
            )
        at = self.flows._tick()
        self.p.queued.append(ContractActivated(contract_id=self.cid, role="provider", at=at))
        self.r.queued.append(ContractActivated(contract_id=self.cid, role="requester", at=at))

    def _issue(self, seq: int, *, final: bool) -> Signed:
        """The provider meters another interval and records the note."""
        self.usage = self.usage + STEP
        usage = self.usage + Metered(runs=1)
        note = DebitNote(
            contract_id=self.cid,
            channel=self.terms.channel,
            seq=seq,
            usage=usage,
            amount=charge(self.terms.rates, usage),
            issued_at=self.flows._tick(),
            final=final,
        )
        signed = sign(note, self.p.key)
        self.notes.append(note.amount)
        self.p.queued.append(
            DebitNoteIssued(
                contract_id=self.cid,
                role="provider",
                seq=seq,
                amount=note.amount,
                final=final,
                note=signed,
            )
        )
        return signed

    def _note(self, seq: int, *, final: bool) -> None:
        signed = self._issue(seq, final=final)
        amount = self.notes[-1]
        self.r.queued.append(
            DebitNoteReceived(
                contract_id=self.cid,
                role="requester",
                seq=seq,
                amount=amount,
                final=final,
                note=signed,
            )
        )
        if seq == self.plan.dispute:
            self._dispute(seq)
        elif amount > self.paid:
            self._pay(seq, amount)

    def _pay(self, note_seq: int, amount: int) -> None:
        voucher = PaymentVoucher(
            contract_id=self.cid,
            channel=self.terms.channel,
            seq=len(self.vouchers) + 1,
            amount=amount,
            note_seq=note_seq,
            issued_at=self.flows._tick(),
        )
        signed = sign(voucher, self.r.key)
        self.vouchers.append(amount)
        self.latest = signed
        fields: dict[str, Any] = {
            "seq": voucher.seq,
            "amount": amount,
            "note_seq": note_seq,
            "voucher": signed,
        }
        self.r.queued.append(VoucherIssued(contract_id=self.cid, role="requester", **fields))
        resolves = self.status == "disputed"
        if resolves:
            self.r.queued.append(
                ContractResolved(contract_id=self.cid, role="requester", note_seq=note_seq)
            )
        self.p.queued.append(VoucherAccepted(contract_id=self.cid, role="provider", **fields))
        if resolves:
            self.p.queued.append(
                ContractResolved(contract_id=self.cid, role="provider", note_seq=note_seq)
            )
            self.status = "active"

    def _dispute(self, note_seq: int) -> None:
        reason = "charges for work not done: the allocation was not running"
        dispute = DebitDispute(
            contract_id=self.cid,
            channel=self.terms.channel,
            note_seq=note_seq,
            reason=reason,
            accepted=self.paid,
            issued_at=self.flows._tick(),
        )
        signed = sign(dispute, self.r.key)
        for party, role in self._parties():
            party.queued.append(
                ContractDisputed(
                    contract_id=self.cid,
                    role=role,
                    note_seq=note_seq,
                    dispute=signed,
                    reason=reason,
                )
            )
        self.disputed.append(note_seq)
        self.status = "disputed"

    def _unanswered(self, seq: int) -> None:
        """The requester never answers note `seq`: overdue, and the provider ends it."""
        self._issue(seq, final=False)
        due_at = self.flows._tick() + self.terms.grace_period
        self.p.queued.append(
            PaymentOverdue(
                contract_id=self.cid,
                role="provider",
                note_seq=seq,
                owed=self.notes[-1] - self.paid,
                due_at=due_at,
            )
        )
        self._end_by(self.p, f"no voucher paid debit note {seq} within the grace period")

    def _end_by(self, party: Party, reason: str) -> None:
        now = self.flows._tick()
        termination = Termination(
            contract_id=self.cid, by=party.did, reason=reason, issued_at=now, effective_at=now
        )
        signed = sign(termination, party.key)
        for each, role in sorted(self._parties(), key=lambda pair: pair[0] is not party):
            each.queued.append(
                ContractTerminated(
                    contract_id=self.cid,
                    role=role,
                    by=party.did,
                    reason=reason,
                    effective_at=now,
                    termination=signed,
                    paid=self.paid,
                )
            )
        self.status = "terminated"

    async def _redeem(self) -> str:
        """The provider redeems its latest voucher on its local ledger; the reference."""
        latest = self.latest
        if latest is None:
            return ""
        await self.flows.flush()  # the redemption's reference is its own record
        event = LedgerRedeemed(
            contract_id=self.cid,
            channel=self.terms.channel,
            payer=self.r.did,
            payee=self.p.did,
            currency=self.terms.currency,
            amount=self.paid,
            credited=self.paid,
            voucher_seq=len(self.vouchers),
            voucher=latest,
        )
        record = await self.p.log.append(event, actor="/dms/node/contracts")
        return local_reference(record)

    async def _settle(self) -> int:
        reference = await self._redeem()
        fields: dict[str, Any] = {
            "amount": self.paid,
            "voucher_seq": len(self.vouchers),
            "ledger": LOCAL,
            "reference": reference,
        }
        self.p.queued.append(ContractSettled(contract_id=self.cid, role="provider", **fields))
        self.r.queued.append(ContractSettled(contract_id=self.cid, role="requester", **fields))
        self.status = "settled"
        return self.paid

    async def _terminate(self) -> None:
        self._end_by(self.r, "asked by the user")
        # The work ended: the provider's final note meters nothing new, so the requester's
        # answer adds nothing (no voucher), and the provider redeems what it holds.
        seq = len(self.notes) + 1
        signed = self._final_note_unchanged(seq)
        self.r.queued.append(
            DebitNoteReceived(
                contract_id=self.cid,
                role="requester",
                seq=seq,
                amount=self.notes[-1],
                final=True,
                note=signed,
            )
        )
        await self._redeem()

    def _final_note_unchanged(self, seq: int) -> Signed:
        usage = self.usage + Metered(runs=1)
        note = DebitNote(
            contract_id=self.cid,
            channel=self.terms.channel,
            seq=seq,
            usage=usage,
            amount=charge(self.terms.rates, usage),
            issued_at=self.flows._tick(),
            final=True,
        )
        signed = sign(note, self.p.key)
        self.notes.append(note.amount)
        self.p.queued.append(
            DebitNoteIssued(
                contract_id=self.cid,
                role="provider",
                seq=seq,
                amount=note.amount,
                final=True,
                note=signed,
            )
        )
        return signed


# -- editing a copy of a log, as a cheating party would ------------------------------------
def copy_log(source: Path, target: Path) -> Path:
    """A copy of the (closed) log file `source` at `target`."""
    shutil.copyfile(source, target)
    return target


def read_records(path: Path) -> list[EventRecord]:
    with sqlite3.connect(path) as conn:
        return [
            EventRecord(*row) for row in conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq")
        ]


def tamper(path: Path, sql: str, *params: object) -> None:
    """Run `sql` on the log file, past the triggers that keep it append-only."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_updated")
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_deleted")
            conn.execute(sql, params)
    finally:
        conn.close()


def decode(record: EventRecord, cls: type[E]) -> E:
    return msgspec.msgpack.decode(record.payload, type=cls)


def events_of(records: list[EventRecord], cls: type[E]) -> list[tuple[int, E]]:
    """(index in `records`, event) of every `cls` event."""
    return [(i, decode(r, cls)) for i, r in enumerate(records) if r.type == cls.TYPE]


def with_payload(record: EventRecord, event: Event) -> EventRecord:
    """`record` holding `event` instead (to be re-chained by `rewrite`)."""
    return msgspec.structs.replace(record, payload=msgspec.msgpack.encode(event))


def rewrite(
    path: Path,
    edit: Callable[[list[EventRecord]], list[EventRecord]],
    *,
    resign: KeyPair | None = None,
) -> None:
    """Replace the log's records with `edit(records)`, numbered and chained anew (keeping each
    record's timestamp, type, actor and payload). With `resign` (the owner's key, which a
    cheating owner has), each checkpoint is signed again over the record before it, so the
    chain and checkpoints verify; without it the checkpoints keep their old claims."""
    records = edit(read_records(path))
    rows: list[EventRecord] = []
    prev = ZERO_HASH
    for seq, record in enumerate(records, start=1):
        payload = record.payload
        if resign is not None and record.type == LogCheckpoint.TYPE and rows:
            payload = _resigned(resign, record, rows[-1], record.version)
        digest = record_hash(
            seq, record.timestamp, record.type, record.version, record.actor, payload, prev
        )
        rows.append(
            EventRecord(
                seq,
                record.timestamp,
                record.type,
                record.version,
                record.actor,
                payload,
                prev,
                digest,
            )
        )
        prev = digest
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_updated")
            conn.execute("DROP TRIGGER IF EXISTS events_are_not_deleted")
            conn.execute("DELETE FROM events")
            conn.executemany(
                f"INSERT INTO events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [msgspec.structs.astuple(row) for row in rows],
            )
    finally:
        conn.close()


def _resigned(key: KeyPair, record: EventRecord, head: EventRecord, version: int) -> bytes:
    old = decode(record, LogCheckpoint)
    message = checkpoint_message(version, head.seq, head.hash, old.signed_at)
    checkpoint = LogCheckpoint(
        seq=head.seq,
        head_hash=head.hash,
        signer=key.did,
        signature=key.sign(message),
        signed_at=old.signed_at,
    )
    return msgspec.msgpack.encode(checkpoint)


async def build(directory: Path, plans: list[Plan]) -> tuple[Flows, list[Outcome]]:
    """Both logs, one contract per plan, closed."""
    flows = await Flows.open(directory)
    outcomes = [await flows.run(plan) for plan in plans]
    await flows.close()
    return flows, outcomes


def build_sync(directory: Path, plans: list[Plan]) -> list[Outcome]:
    return asyncio.run(build(directory, plans))[1]
