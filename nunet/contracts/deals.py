"""One contract as one party holds it at run time: its terms, status, channel end and meter.

A `Deal` is rebuilt from the node's own log when the contracts actor starts (`Deals.apply`
folds every contract, payment and allocation event into it, with no I/O), and kept up to date
by the actor as it appends new ones — the log is its only persistence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import msgspec

from nunet.allocation.events import AllocationReverted, AllocationStateChanged, ReservationExpired
from nunet.contracts.channel import Answer, ProviderChannel, RequesterChannel
from nunet.contracts.documents import (
    DebitDispute,
    DebitNote,
    PaymentVoucher,
    SignedContract,
    contract_terms,
)
from nunet.contracts.events import (
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
    Role,
    VoucherAccepted,
    VoucherIssued,
)
from nunet.contracts.lifecycle import FINAL, ContractStatus, Input, next_status
from nunet.contracts.metering import Meter
from nunet.contracts.plausibility import Observed
from nunet.contracts.terms import ContractTerms
from nunet.errors import NunetError
from nunet.eventlog import Event

Work = tuple[str, str]  # (deployment, ensemble node)
_ENDED_STATES = frozenset(("exited", "failed", "stopped", "released"))


@dataclasses.dataclass
class Deal:
    """A contract of this node's, either side."""

    terms: ContractTerms
    contract: SignedContract
    role: Role
    address: str  # the counterparty's transport address
    status: ContractStatus = "proposed"
    meter: Meter = dataclasses.field(init=False)
    provider: ProviderChannel | None = None  # this node's end when it is the provider
    requester: RequesterChannel | None = None  # ... when it is the requester
    activated_at: float | None = None
    ended_at: float | None = None  # the work is over (reverted, released, lost)
    effective_end: float | None = None  # a termination's notice runs out then
    answered: int = 0  # provider: the last debit note the requester answered
    settle_attempts: int = 0  # provider: times telling the requester it settled failed
    running: set[str] = dataclasses.field(default_factory=set)  # allocations running now
    last_answer: Answer = dataclasses.field(default_factory=Answer)  # requester: to the last note
    disputed: set[int] = dataclasses.field(default_factory=set)  # the debit notes disputed

    def __post_init__(self) -> None:
        self.meter = Meter(self.terms.reserved)
        if self.role == "provider":
            self.provider = ProviderChannel(self.terms)
        else:
            self.requester = RequesterChannel(self.terms)

    @property
    def contract_id(self) -> str:
        return self.terms.contract_id

    @property
    def work(self) -> Work:
        return (self.terms.deployment, self.terms.node)

    @property
    def counterparty(self) -> str:
        return self.terms.requester if self.role == "provider" else self.terms.provider

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def settled(self) -> bool:
        return self.status == "settled"

    @property
    def paid(self) -> int:
        channel = self.provider or self.requester
        assert channel is not None
        return channel.paid

    def move(self, event: Input) -> bool:
        """Apply a lifecycle input; False (nothing changes) when the table forbids it."""
        try:
            self.status = next_status(self.status, event)
        except NunetError:
            return False
        return True

    def observed(self) -> Observed:
        """What the requester saw of the work, for judging debit notes."""
        usage = self.meter.metered()
        return Observed(
            activated_at=self.activated_at,
            ended_at=self.ended_at,
            runs=usage.runs,
            cpu_seconds=usage.cpu_ms / 1000,
            wall_seconds=usage.wall_ms / 1000,
        )


_decode_note = msgspec.msgpack.Decoder(DebitNote).decode
_decode_voucher = msgspec.msgpack.Decoder(PaymentVoucher).decode
_decode_dispute = msgspec.msgpack.Decoder(DebitDispute).decode


class Deals:
    """Every contract of the node by id, and the live ones by the work they pay for."""

    def __init__(self) -> None:
        self.by_id: dict[str, Deal] = {}
        self._by_work: dict[tuple[str, str, str], str] = {}  # (deployment, node, provider) -> id

    def __iter__(self) -> Iterator[Deal]:
        return iter(self.by_id.values())

    def get(self, contract_id: str) -> Deal | None:
        return self.by_id.get(contract_id)

    def for_work(self, work: Work, provider: str) -> Deal | None:
        """The latest contract for `work` on `provider`."""
        contract_id = self._by_work.get((*work, provider))
        return None if contract_id is None else self.by_id.get(contract_id)

    def add(self, contract: SignedContract, role: Role, address: str) -> Deal:
        terms = contract_terms(contract)
        deal = Deal(terms=terms, contract=contract, role=role, address=address)
        self.by_id[terms.contract_id] = deal
        self._by_work[(terms.deployment, terms.node, terms.provider)] = terms.contract_id
        return deal

    # -- the fold ------------------------------------------------------------------------------
    def apply(self, event: Event, at: float, me: str, *, replay: bool = True) -> Deal | None:
        """Fold one of this node's own events (trusted: it wrote them); the deal it touched.

        On `replay` the channel ends are rebuilt too; live, the actor has already moved them
        (a note is in its channel before its event is written), so only the rest is folded."""
        if isinstance(event, ContractProposed):
            return self.add(event.contract, event.role, event.counterparty_address)
        if isinstance(event, ContractAccepted):
            deal = self.by_id.get(event.contract_id)
            if deal is None:
                deal = self.add(event.contract, event.role, event.counterparty_address)
            deal.contract = event.contract
            deal.move(Input.ACCEPT)
            return deal
        if isinstance(event, AllocationStateChanged):
            return self._allocation(event, at, me)
        if isinstance(event, (AllocationReverted, ReservationExpired)):
            deal = self.for_work((event.deployment, event.node), me)
            if deal is not None and deal.role == "provider" and deal.ended_at is None:
                deal.ended_at = at
            return deal
        deal = self.by_id.get(getattr(event, "contract_id", ""))
        if deal is None:
            return None
        self._payment(deal, event, at)
        if replay:
            self._channel(deal, event, at)
        return deal

    def _allocation(self, event: AllocationStateChanged, at: float, me: str) -> Deal | None:
        deal = self.for_work((event.deployment, event.node), me)
        if deal is None or deal.role != "provider":
            return None
        deal.meter.observe(event.allocation, event.run, event.cpu_seconds, event.wall_seconds)
        if event.state == "running":
            deal.running.add(event.allocation)
        elif event.state in _ENDED_STATES:
            deal.running.discard(event.allocation)
        return deal

    def _payment(self, deal: Deal, event: Event, at: float) -> None:
        if isinstance(event, ContractRefused):
            deal.move(Input.TERMINATE)
            deal.ended_at = deal.ended_at or at
        elif isinstance(event, ContractActivated):
            deal.move(Input.ACTIVATE)
            deal.activated_at = deal.activated_at or event.at
        elif isinstance(event, ContractDisputed):
            deal.move(Input.DISPUTE)
        elif isinstance(event, ContractResolved):
            deal.move(Input.RESOLVE)
        elif isinstance(event, ContractTerminated):
            deal.move(Input.TERMINATE)
            deal.effective_end = event.effective_at
        elif isinstance(event, ContractSettled):
            deal.move(Input.SETTLE)
        elif isinstance(event, VoucherAccepted):
            deal.answered = max(deal.answered, event.note_seq)
        if isinstance(event, ContractDisputed):
            deal.disputed.add(event.note_seq)
            deal.answered = max(deal.answered, event.note_seq)

    def _channel(self, deal: Deal, event: Event, at: float) -> None:
        if isinstance(event, DebitNoteIssued) and deal.provider is not None:
            deal.provider.noted_before(_decode_note(event.note.body))
        elif isinstance(event, VoucherAccepted) and deal.provider is not None:
            deal.provider.kept_before(_decode_voucher(event.voucher.body), event.voucher, at)
        elif isinstance(event, DebitNoteReceived) and deal.requester is not None:
            deal.last_answer = Answer()
            deal.requester.answered_before(_decode_note(event.note.body), deal.last_answer)
        elif isinstance(event, VoucherIssued) and deal.requester is not None:
            voucher = _decode_voucher(event.voucher.body)
            deal.last_answer = Answer(voucher=voucher, dispute=deal.last_answer.dispute)
            self._answered(deal)
        elif isinstance(event, ContractDisputed) and deal.requester is not None:
            dispute = _decode_dispute(event.dispute.body)
            deal.last_answer = Answer(voucher=deal.last_answer.voucher, dispute=dispute)
            self._answered(deal)

    @staticmethod
    def _answered(deal: Deal) -> None:
        # The answer to a note is logged in parts (voucher, then dispute): replayed as a whole,
        # so that a note sent again gets the very answer it got.
        assert deal.requester is not None
        note = deal.requester.last_note
        if note is not None:
            deal.requester.answered_before(note, deal.last_answer)
