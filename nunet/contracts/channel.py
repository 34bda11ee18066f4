"""The two ends of a contract's payment channel, as pure machines (no I/O, no clock).

The provider's end issues debit notes (cumulative usage and amount, one sequence number
each) and keeps the latest payment voucher that pays them; the requester's end answers each
note with a voucher for what it agrees it owes and a dispute for the rest. Amounts only grow
on both sides, so the latest voucher alone is what the provider redeems.

Both ends take documents already bound to the contract's terms; the actor around them signs,
sends, logs and, after a restart, replays its log through `noted_before`/`kept_before` (the
provider) or `answered_before` (the requester), which trust what they are given.
"""

from __future__ import annotations

import msgspec

from nunet.contracts.amount import MAX_AMOUNT, format_amount
from nunet.contracts.documents import (
    DebitDispute,
    DebitNote,
    PaymentVoucher,
    Signed,
    open_signed,
)
from nunet.contracts.errors import BadDocument, ContractError, VoucherRejected
from nunet.contracts.plausibility import Observed, implausible
from nunet.contracts.terms import ContractTerms, Metered, charge


class ProviderChannel:
    """The provider's end: the debit notes it issued and the latest voucher it keeps."""

    def __init__(self, terms: ContractTerms) -> None:
        self._terms = terms
        self._notes: list[DebitNote] = []
        self._latest: PaymentVoucher | None = None
        self._latest_signed: Signed | None = None
        self._paid_at: float | None = None

    @property
    def terms(self) -> ContractTerms:
        return self._terms

    @property
    def notes(self) -> tuple[DebitNote, ...]:
        """Every debit note issued, in order."""
        return tuple(self._notes)

    @property
    def latest(self) -> PaymentVoucher | None:
        """The latest voucher kept: the one to redeem."""
        return self._latest

    @property
    def latest_signed(self) -> Signed | None:
        return self._latest_signed

    @property
    def paid_at(self) -> float | None:
        """When the latest voucher was kept."""
        return self._paid_at

    @property
    def noted(self) -> int:
        """The last debit note's amount: what the work has cost so far (0 before any)."""
        return self._notes[-1].amount if self._notes else 0

    @property
    def paid(self) -> int:
        """The latest voucher's amount (0 before any)."""
        return self._latest.amount if self._latest is not None else 0

    @property
    def owed(self) -> int:
        return max(0, self.noted - self.paid)

    @property
    def budget_spent(self) -> bool:
        budget = self._terms.budget
        return budget is not None and self.noted >= budget

    @property
    def final_noted(self) -> bool:
        """Whether the final debit note was issued (no more follow)."""
        return bool(self._notes) and self._notes[-1].final

    def note(self, usage: Metered, now: float, *, final: bool = False) -> DebitNote:
        """The next debit note, charging for `usage` (cumulative) at the contract's rates, up to
        its budget. ContractError after the final note, or when `usage` is less than the last
        note's in any quantity."""
        last = self._notes[-1] if self._notes else None
        if last is not None:
            if last.final:
                raise ContractError(
                    f"contract {self._terms.contract_id}: debit note {last.seq} was final; "
                    "no more notes are issued"
                )
            if not usage.covers(last.usage):
                raise ContractError(
                    f"contract {self._terms.contract_id}: usage went back since debit note "
                    f"{last.seq}: {_went_back(usage, last.usage)}"
                )
        amount = min(charge(self._terms.rates, usage), MAX_AMOUNT)
        if self._terms.budget is not None:
            amount = min(amount, self._terms.budget)
        note = DebitNote(
            contract_id=self._terms.contract_id,
            channel=self._terms.channel,
            seq=last.seq + 1 if last is not None else 1,
            usage=usage,
            amount=amount,
            issued_at=now,
            final=final,
        )
        self._notes.append(note)
        return note

    def take(self, signed: Signed, now: float) -> PaymentVoucher:
        """Keep `signed` as the latest voucher; VoucherRejected naming why not (then nothing
        changes): not the requester's voucher for this contract and channel, a replay of the
        latest, a sequence number not above the latest's, a total lower than the latest's or
        over the budget, or an answer to a debit note never issued."""
        try:
            voucher = open_signed(signed, PaymentVoucher, self._terms)
        except BadDocument as exc:
            raise VoucherRejected(str(exc)) from None
        latest = self._latest
        name = f"voucher {voucher.seq}"
        if latest is not None:
            if voucher == latest:
                raise VoucherRejected(f"{name} is replayed: it is already the latest voucher")
            if voucher.seq == latest.seq:
                raise VoucherRejected(f"{name} reuses sequence {voucher.seq}")
            if voucher.seq < latest.seq:
                raise VoucherRejected(f"{name} is out of order: {voucher.seq} after {latest.seq}")
            if voucher.amount < latest.amount:
                raise VoucherRejected(
                    f"{name} lowers the total from {self._money(latest.amount)} to "
                    f"{self._money(voucher.amount)}"
                )
        budget = self._terms.budget
        if budget is not None and voucher.amount > budget:
            raise VoucherRejected(
                f"{name} of {self._money(voucher.amount)} exceeds the budget of "
                f"{self._money(budget)}"
            )
        if voucher.note_seq > len(self._notes):
            raise VoucherRejected(
                f"{name} answers debit note {voucher.note_seq}, which was never issued "
                f"(the last is {len(self._notes)})"
            )
        self.kept_before(voucher, signed, now)
        return voucher

    def overdue(self, now: float) -> DebitNote | None:
        """The oldest debit note no voucher covers whose grace period has passed by `now`."""
        note = self._oldest_uncovered()
        if note is None or note.issued_at + self._terms.grace_period > now:
            return None
        return note

    def due_at(self) -> float | None:
        """When the oldest debit note no voucher covers becomes overdue (None: all covered)."""
        note = self._oldest_uncovered()
        return None if note is None else note.issued_at + self._terms.grace_period

    # -- recovery: the actor replays its own log (trusted: nothing is checked) ---------------
    def noted_before(self, note: DebitNote) -> None:
        """Debit note `note` was issued before (as `DebitNoteIssued` logged it)."""
        self._notes.append(note)

    def kept_before(self, voucher: PaymentVoucher, signed: Signed, at: float | None = None) -> None:
        """`voucher` (signed as `signed`) was kept, at `at` when known (as `VoucherAccepted`
        logged it)."""
        self._latest = voucher
        self._latest_signed = signed
        self._paid_at = at

    def _oldest_uncovered(self) -> DebitNote | None:
        paid = self.paid
        # Amounts never go down, so the uncovered notes are the last ones.
        return next((note for note in self._notes if note.amount > paid), None)

    def _money(self, amount: int) -> str:
        return format_amount(amount, self._terms.currency)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The requester's answer to a debit note, unsigned: a voucher paying what it agrees it
    owes (None when that adds nothing to what it promised already) and a dispute refusing the
    rest as work not done (None when it agrees with the whole note)."""

    voucher: PaymentVoucher | None = None
    dispute: DebitDispute | None = None


class RequesterChannel:
    """The requester's end: the debit notes it answered and the vouchers it issued."""

    def __init__(self, terms: ContractTerms) -> None:
        self._terms = terms
        self._last_note: DebitNote | None = None
        self._last_answer = Answer()
        self._latest: PaymentVoucher | None = None
        self._disputed: list[int] = []

    @property
    def terms(self) -> ContractTerms:
        return self._terms

    @property
    def last_note(self) -> DebitNote | None:
        return self._last_note

    @property
    def latest(self) -> PaymentVoucher | None:
        """The latest voucher issued."""
        return self._latest

    @property
    def paid(self) -> int:
        """The latest voucher's amount: what the requester has promised in total (0 before)."""
        return self._latest.amount if self._latest is not None else 0

    @property
    def noted(self) -> int:
        """The last debit note's amount: what the provider charges in total (0 before any)."""
        return self._last_note.amount if self._last_note is not None else 0

    @property
    def disputed(self) -> list[int]:
        """The sequence numbers of the debit notes disputed, in order."""
        return list(self._disputed)

    @property
    def final_noted(self) -> bool:
        return self._last_note is not None and self._last_note.final

    def answer(self, signed: Signed, observed: Observed, now: float) -> Answer:
        """Answer the signed debit note `signed` given what the requester `observed` of the
        work by `now`: pay what is plausible (up to the budget), dispute the rest.

        A note sent again gets the answer it got the first time. BadDocument (and nothing
        changes) when the note is not the provider's for this contract and channel, comes out
        of order, skips one, follows the final note, or lowers the amount or usage of the last.
        """
        note = open_signed(signed, DebitNote, self._terms)
        last = self._last_note
        if last is not None:
            if note.seq == last.seq:
                if note != last:
                    raise BadDocument(
                        f"debit note {note.seq} differs from the debit note {last.seq} "
                        "already answered"
                    )
                return self._last_answer
            if note.seq < last.seq:
                raise BadDocument(
                    f"debit note {note.seq} is out of order: debit note {last.seq} was "
                    "already answered"
                )
            if last.final:
                raise BadDocument(
                    f"debit note {note.seq} comes after the final debit note {last.seq}"
                )
        expected = last.seq + 1 if last is not None else 1
        if note.seq > expected:
            raise BadDocument(
                f"debit note {note.seq} skips debit note {expected}, which never arrived"
            )
        if last is not None:
            if note.amount < last.amount:
                raise BadDocument(
                    f"debit note {note.seq} lowers the total from {self._money(last.amount)} "
                    f"to {self._money(note.amount)}"
                )
            if not note.usage.covers(last.usage):
                raise BadDocument(
                    f"debit note {note.seq}'s usage went back since debit note {last.seq}: "
                    f"{_went_back(note.usage, last.usage)}"
                )
        answer = self._judge(note, observed, now)
        self.answered_before(note, answer)
        return answer

    # -- recovery: the actor replays its own log (trusted: nothing is checked) ---------------
    def answered_before(self, note: DebitNote, answer: Answer) -> None:
        """Debit note `note` was received and answered with `answer` (as `DebitNoteReceived`,
        `VoucherIssued` and `ContractDisputed` logged them). The log holds an answer in parts:
        called again for the same note with a fuller answer, it replaces the one before."""
        self._last_note = note
        self._last_answer = answer
        if answer.voucher is not None:
            self._latest = answer.voucher
        dispute = answer.dispute
        if dispute is not None and self._disputed[-1:] != [dispute.note_seq]:
            self._disputed.append(dispute.note_seq)

    def _judge(self, note: DebitNote, observed: Observed, now: float) -> Answer:
        verdict = implausible(self._terms, note, observed, now)
        reason, agreed = verdict if verdict is not None else ("", note.amount)
        budget = self._terms.budget
        if budget is not None and note.amount > budget:
            over = f"amount {self._money(note.amount)} exceeds the budget of {self._money(budget)}"
            reason = f"{reason}; {over}" if reason else f"debit note {note.seq}: {over}"
            agreed = min(agreed, budget)
        voucher = None
        if agreed > self.paid:
            voucher = PaymentVoucher(
                contract_id=self._terms.contract_id,
                channel=self._terms.channel,
                seq=self._latest.seq + 1 if self._latest is not None else 1,
                amount=agreed,
                note_seq=note.seq,
                issued_at=now,
            )
        dispute = None
        if reason:
            dispute = DebitDispute(
                contract_id=self._terms.contract_id,
                channel=self._terms.channel,
                note_seq=note.seq,
                reason=reason[:1024],
                accepted=agreed,
                issued_at=now,
            )
        return Answer(voucher=voucher, dispute=dispute)

    def _money(self, amount: int) -> str:
        return format_amount(amount, self._terms.currency)


def _went_back(usage: Metered, before: Metered) -> str:
    """The quantities of `usage` below `before`'s, as `cpu_ms 10 < 20`."""
    return ", ".join(
        f"{field} {getattr(usage, field)} < {getattr(before, field)}"
        for field in usage.__struct_fields__
        if getattr(usage, field) < getattr(before, field)
    )
