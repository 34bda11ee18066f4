"""The contracts actor: one per node, the I/O shell around its contracts, either side.

As **provider** it reviews and signs the contract a commit carries, meters the work from the
allocation actors, sends a signed debit note every payment interval, keeps the latest valid
voucher, stops the work when a note stays unpaid past the grace period (or the budget is spent,
or the contract is terminated), and redeems the latest voucher on the ledger at the end.
As **requester** it signs the proposals its orchestrators send, watches the work through their
reports, answers each debit note with a voucher for what it agrees was done (up to the budget)
and a dispute for the rest, and records the settlement.

Everything it learns or decides is an event in the node's log; at start it rebuilds its
contracts from that log (`Deals`) and picks up where it was: a note unanswered is sent again, a
voucher not yet redeemed is redeemed, an overdue contract is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.allocation.actor import AllocationActor
from nunet.allocation.events import AllocationReverted, AllocationStateChanged, ReservationExpired
from nunet.allocation.protocol import Commit, Report, allocation_actor_id
from nunet.capability.model import Price
from nunet.contracts import events as contract_events
from nunet.contracts import views
from nunet.contracts.amount import format_amount
from nunet.contracts.deals import Deal, Deals
from nunet.contracts.documents import (
    DebitDispute,
    Signed,
    SignedContract,
    Termination,
    accept,
    open_contract,
    open_signed,
    propose,
    sign,
)
from nunet.contracts.errors import (
    BadDocument,
    ContractError,
    ContractRefused,
    LedgerError,
    UnknownContract,
    VoucherRejected,
)
from nunet.contracts.events import (
    EVENTS,
    ContractAccepted,
    ContractActivated,
    ContractDisputed,
    ContractProposed,
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
)
from nunet.contracts.export import export_rows
from nunet.contracts.ledger import Ledger
from nunet.contracts.local_ledger import LedgerRedeemed
from nunet.contracts.policy import ContractPolicy, review
from nunet.contracts.protocol import (
    CONTRACTS_ACTOR_ID,
    DEBIT_BEHAVIOR,
    LIST_BEHAVIOR,
    PAYMENTS_EXPORT_BEHAVIOR,
    PAYMENTS_LIST_BEHAVIOR,
    PAYMENTS_SHOW_BEHAVIOR,
    SETTLE_BEHAVIOR,
    SHOW_BEHAVIOR,
    TERMINATE_BEHAVIOR,
    USER_TERMINATE_BEHAVIOR,
    ContractAsk,
    ContractQuery,
    Debit,
    DebitAnswer,
    SettleNotice,
    TerminateNotice,
)
from nunet.contracts.state import PaymentState, PaymentStateProjection
from nunet.contracts.terms import ContractTerms
from nunet.errors import NunetError
from nunet.eventlog import Catalogue, Event, EventRecord

log = structlog.get_logger("nunet.contracts")

_WATCHED = (AllocationStateChanged, AllocationReverted, ReservationExpired)
_CALL_TIMEOUT = 10.0
_RETRY_SECONDS = 5.0  # a counterparty that did not answer is asked again after this at most
_SETTLE_ATTEMPTS = 12  # times a provider tells a silent requester that it settled


class ContractsActor(Actor):
    """Spawn as `CONTRACTS_ACTOR_ID` with the node's key, which signs for it."""

    kind = "contracts"

    def __init__(
        self,
        *,
        ledger: Ledger,
        policy: ContractPolicy = ContractPolicy(),
        checkpoint: Callable[[], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.time,
        call_timeout: float = _CALL_TIMEOUT,
    ) -> None:
        super().__init__()
        self._checkpoint = checkpoint
        self._ledger = ledger
        self.policy = policy
        self._clock = clock
        self._call_timeout = call_timeout
        self.deals = Deals()
        self._projection = PaymentStateProjection()
        self.payments: PaymentState = self._projection.initial()
        self._catalogue = Catalogue(*EVENTS, *_WATCHED, LedgerRedeemed)
        self._wakers: dict[str, asyncio.Event] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()  # one decision at a time: the fold and the log agree

    # -- start: rebuild from the log, then follow it -------------------------------------------
    async def on_start(self) -> None:
        event_log = self.system.event_log
        head, _ = await event_log.head()
        types = frozenset(self._catalogue.types())
        async for record in event_log.read(1, head, types):
            self._fold(record)
        for deal in self.deals:
            self._resume(deal)
        self.spawn_task(self._follow(head + 1), name="contracts:follow")

    async def _follow(self, from_seq: int) -> None:
        """Allocation events of this node's own work (what starts, meters and ends a contract)
        and the ledger's redemptions."""
        types = frozenset((*(cls.TYPE for cls in _WATCHED), LedgerRedeemed.TYPE))
        async for record in self.system.event_log.tail(from_seq):
            if record.type not in types:
                continue
            async with self._lock:
                deal = self._fold(record)
            if deal is not None:
                await self._on_work(deal)

    def _fold(self, record: EventRecord) -> Deal | None:
        """Fold a record into the payment state and the deals (the contracts events this actor
        appends are folded as it appends them: only replay and the tail's allocation and
        ledger events come here)."""
        self._project(record)
        if record.type == LedgerRedeemed.TYPE:
            return None
        try:
            event = self._catalogue.decode(record)
        except NunetError as exc:
            log.warning("unreadable record", seq=record.seq, error=str(exc))
            return None
        return self.deals.apply(event, record.timestamp / 1e9, self.handle.did)

    def _project(self, record: EventRecord) -> None:
        if self._projection.wants(record):
            self.payments = self._projection.evolve(self.payments, record)

    async def _record(self, event: Event) -> EventRecord:
        record = await self.system.event_log.append(event, actor=str(self.handle))
        self._project(record)
        self.deals.apply(event, record.timestamp / 1e9, self.handle.did, replay=False)
        if isinstance(event, (ContractSettled, ContractTerminated)) and self._checkpoint:
            # The node key signs the log's head as a contract ends: an audit of what ended
            # never rests on an unsigned tail.
            await self._checkpoint()
        return record

    # -- the requester's side, asked in process by its orchestrators ---------------------------
    async def propose(self, terms: ContractTerms, provider: Handle) -> SignedContract:
        """Sign `terms` for the commit to `provider` (its transport address is kept)."""
        contract = propose(terms, self.system.key)
        async with self._lock:
            await self._record(
                ContractProposed(
                    contract_id=terms.contract_id,
                    role="requester",
                    contract=contract,
                    counterparty=terms.provider,
                    deployment=terms.deployment,
                    node=terms.node,
                    counterparty_address=provider.node,
                )
            )
        return contract

    async def accepted(self, contract_id: str, contract: SignedContract | None) -> None:
        """The provider's answer to the commit: the contract it signed. ContractError when it
        is not the one proposed, or not signed by the provider (the commit must be undone)."""
        async with self._lock:
            deal = self._requested(contract_id)
            try:
                if contract is None or contract.terms != deal.contract.terms:
                    raise BadDocument(
                        f"the provider did not sign contract {contract_id} as proposed"
                    )
                open_contract(contract)
            except BadDocument as exc:
                await self._refused_here(deal, str(exc))
                raise
            if deal.status == "proposed":
                await self._record(
                    ContractAccepted(
                        contract_id=contract_id,
                        role="requester",
                        contract=contract,
                        counterparty=deal.counterparty,
                        deployment=deal.terms.deployment,
                        node=deal.terms.node,
                        counterparty_address=deal.address,
                    )
                )

    async def refused(self, contract_id: str, reason: str) -> None:
        """The commit carrying the proposal failed: the contract ends unsigned."""
        async with self._lock:
            deal = self.deals.get(contract_id)
            if deal is not None and deal.status == "proposed":
                await self._refused_here(deal, reason)

    async def _refused_here(self, deal: Deal, reason: str) -> None:
        await self._record_refused(deal.terms, deal.role, deal.counterparty, reason)

    async def _record_refused(
        self, terms: ContractTerms, role: Role, counterparty: str, reason: str
    ) -> None:
        await self._record(
            contract_events.ContractRefused(
                contract_id=terms.contract_id,
                role=role,
                counterparty=counterparty,
                deployment=terms.deployment,
                node=terms.node,
                reason=reason[:1024],
            )
        )

    async def observe(self, provider: str, report: Report) -> None:
        """An allocation report the orchestrator accepted: what the requester saw of the work."""
        deal = self.deals.for_work((report.deployment, report.node), provider)
        if deal is None or deal.role != "requester":
            return
        deal.meter.observe(report.allocation, report.run, report.cpu_seconds, report.wall_seconds)
        if report.state == "running" and deal.activated_at is None and not deal.final:
            async with self._lock:
                if deal.status in ("accepted", "active", "disputed"):
                    await self._record(
                        ContractActivated(
                            contract_id=deal.contract_id, role="requester", at=self._clock()
                        )
                    )

    async def lost(self, deployment: str, node: str, provider: str, why: str) -> None:
        """The orchestrator gave up on `provider` for this node: the contract ends; what was
        paid stays paid (a later debit note for work done before is still answered)."""
        deal = self.deals.for_work((deployment, node), provider)
        if deal is None or deal.role != "requester" or deal.final:
            return
        deal.ended_at = deal.ended_at or self._clock()
        await self._terminate(deal, f"the provider was lost: {why}")

    # -- the provider's side, asked in process by its provider actor ---------------------------
    def review(
        self, contract: SignedContract | None, commit: Commit, sender: str, offered: Price
    ) -> ContractTerms | None:
        """Check the contract a commit carries (nothing is signed or recorded yet: the
        resources are reserved first). None when there is none and this node does not require
        one; ContractRefused naming why it will not sign."""
        if contract is None:
            if self.policy.required:
                raise ContractRefused(
                    f"commit {commit.deployment}/{commit.node} carries no contract; this node "
                    "works only under a signed contract"
                )
            return None
        try:
            terms = open_contract(contract, accepted=False)
        except BadDocument as exc:
            raise ContractRefused(f"the proposed contract: {exc}") from None
        existing = self.deals.get(terms.contract_id)
        if existing is not None and existing.contract.terms != contract.terms:
            raise ContractRefused(f"contract {terms.contract_id} exists here with other terms")
        review(
            terms,
            self.policy,
            provider=self.system.key.did,
            sender=sender,
            deployment=commit.deployment,
            node=commit.node,
            requirement=commit.requirement,
            offered=offered,
        )
        return terms

    async def sign(self, contract: SignedContract, orchestrator: Handle) -> SignedContract:
        """Accept a reviewed contract (the resources are held now): sign and record it. A
        contract already accepted is answered as it was."""
        async with self._lock:
            terms = open_contract(contract, accepted=False)
            existing = self.deals.get(terms.contract_id)
            if existing is not None and existing.status != "proposed":
                return existing.contract
            signed = accept(contract, self.system.key)
            await self._record(
                ContractAccepted(
                    contract_id=terms.contract_id,
                    role="provider",
                    contract=signed,
                    counterparty=terms.requester,
                    deployment=terms.deployment,
                    node=terms.node,
                    counterparty_address=orchestrator.node,
                )
            )
            return signed

    async def refuse(self, contract: SignedContract, sender: str, reason: str) -> None:
        """Record that this node would not sign (the commit is refused with `reason`)."""
        with contextlib.suppress(BadDocument):
            terms = open_contract(contract, accepted=False)
            if terms.contract_id in self.deals.by_id:
                return
            await self._record_refused(terms, "provider", sender, reason)

    async def _on_work(self, deal: Deal) -> None:
        """An allocation of a provided contract changed state, or the work ended."""
        if deal.role != "provider":
            return
        if deal.running and deal.activated_at is None and deal.status == "accepted":
            async with self._lock:
                await self._record(
                    ContractActivated(
                        contract_id=deal.contract_id, role="provider", at=self._clock()
                    )
                )
        if deal.ended_at is not None and deal.activated_at is None and not deal.final:
            await self._terminate(deal, "released before its work began")
        self._resume(deal)

    def _resume(self, deal: Deal) -> None:
        """Keep a loop for each provided contract that has something left to do."""
        if deal.role != "provider":
            return
        waker = self._wakers.get(deal.contract_id)
        if waker is not None:  # its loop runs: let it look now
            waker.set()
            return
        if deal.status == "proposed" or (deal.final and deal.settled):
            return
        if deal.final and deal.activated_at is None:
            return
        self._wakers[deal.contract_id] = asyncio.Event()
        self._loops[deal.contract_id] = self.spawn_task(
            self._provide(deal), name=f"contract:{deal.contract_id[:8]}"
        )

    async def _provide(self, deal: Deal) -> None:
        """Meter, note, collect and enforce until the contract is settled or ended and paid."""
        try:
            while not await self._provided(deal):
                waker = self._wakers[deal.contract_id]
                waker.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._pause(deal)):
                        await waker.wait()
        finally:
            self._loops.pop(deal.contract_id, None)
            self._wakers.pop(deal.contract_id, None)

    def _pause(self, deal: Deal) -> float:
        channel = deal.provider
        assert channel is not None
        now = self._clock()
        wake = now + deal.terms.payment_interval
        due = channel.due_at()
        if due is not None:
            wake = min(wake, due)
        if deal.effective_end is not None and deal.effective_end > now:
            wake = min(wake, deal.effective_end)
        if deal.answered < len(channel.notes):
            wake = min(wake, now + _RETRY_SECONDS)
        return max(0.05, wake - now)

    async def _provided(self, deal: Deal) -> bool:
        """One step of a provided contract; True when nothing is left to do."""
        channel = deal.provider
        assert channel is not None
        now = self._clock()
        if deal.effective_end is not None and now >= deal.effective_end and deal.ended_at is None:
            await self._bar(deal, f"its contract {deal.contract_id[:8]} was terminated")
            deal.ended_at = now
        if deal.activated_at is None:
            return deal.final
        await self._meter(deal)
        if deal.answered >= len(channel.notes) and not channel.final_noted:
            last = channel.notes[-1] if channel.notes else None
            usage = deal.meter.metered()
            if last is not None:  # after a restart the meter may know less than was noted
                usage = usage.at_least(last.usage)
            work_over = deal.ended_at is not None
            if work_over or last is None or usage != last.usage:
                async with self._lock:
                    note = channel.note(usage, now, final=work_over)
                    await self._record(
                        DebitNoteIssued(
                            contract_id=deal.contract_id,
                            role="provider",
                            seq=note.seq,
                            amount=note.amount,
                            final=note.final,
                            note=sign(note, self.system.key),
                        )
                    )
        if deal.answered < len(channel.notes):
            await self._send_note(deal)
        overdue = channel.overdue(self._clock())
        if overdue is not None and not deal.final:
            await self._overdue(deal, overdue.seq, overdue.amount)
        elif (
            channel.budget_spent and channel.owed == 0 and not deal.final and deal.ended_at is None
        ):
            await self._terminate(
                deal, f"its budget of {format_amount(channel.paid, deal.terms.currency)} is spent"
            )
        return await self._close(deal)

    async def _meter(self, deal: Deal) -> None:
        """Read the running allocations' usage now (between their state events)."""
        if deal.ended_at is not None:
            return
        for name, actor in self._running(deal):
            run, _, usage = await actor.sample()
            deal.meter.observe(name, run, usage.cpu_seconds, usage.wall_seconds)

    async def _send_note(self, deal: Deal) -> None:
        channel = deal.provider
        assert channel is not None
        note = channel.notes[deal.answered]
        signed = sign(note, self.system.key)
        try:
            raw = await self.invoke(
                self._counterparty(deal),
                DEBIT_BEHAVIOR,
                Debit(contract_id=deal.contract_id, note=signed),
                timeout=self._call_timeout,
            )
            answer = msgspec.convert(raw, DebitAnswer, strict=False)
        except (NunetError, msgspec.ValidationError) as exc:
            log.info("debit note not answered", contract=deal.contract_id, error=str(exc))
            return
        async with self._lock:
            deal.answered = max(deal.answered, note.seq)
            if answer.voucher is not None:
                await self._take(deal, answer.voucher, note.seq)
            if answer.dispute is not None:
                await self._disputed(deal, answer.dispute, note.seq)
            elif deal.status == "disputed" and channel.paid >= note.amount:
                await self._record(
                    ContractResolved(
                        contract_id=deal.contract_id, role="provider", note_seq=note.seq
                    )
                )

    async def _take(self, deal: Deal, signed: Signed, note_seq: int) -> None:
        channel = deal.provider
        assert channel is not None
        try:
            voucher = channel.take(signed, self._clock())
        except VoucherRejected as exc:
            log.warning("voucher rejected", contract=deal.contract_id, reason=str(exc))
            await self._record(
                contract_events.VoucherRejected(
                    contract_id=deal.contract_id,
                    role="provider",
                    sender=deal.counterparty,
                    reason=str(exc)[:1024],
                    voucher=signed,
                )
            )
            return
        await self._record(
            VoucherAccepted(
                contract_id=deal.contract_id,
                role="provider",
                seq=voucher.seq,
                amount=voucher.amount,
                note_seq=voucher.note_seq or note_seq,
                voucher=signed,
            )
        )

    async def _disputed(self, deal: Deal, signed: Signed, note_seq: int) -> None:
        try:
            dispute = open_signed(signed, DebitDispute, deal.terms)
        except BadDocument as exc:
            log.warning("dispute unreadable", contract=deal.contract_id, reason=str(exc))
            return
        if deal.status in ("active", "disputed"):
            await self._record(
                ContractDisputed(
                    contract_id=deal.contract_id,
                    role="provider",
                    note_seq=dispute.note_seq,
                    dispute=signed,
                    reason=dispute.reason,
                )
            )

    async def _overdue(self, deal: Deal, note_seq: int, amount: int) -> None:
        channel = deal.provider
        assert channel is not None
        grace = deal.terms.grace_period
        async with self._lock:
            await self._record(
                PaymentOverdue(
                    contract_id=deal.contract_id,
                    role="provider",
                    note_seq=note_seq,
                    owed=amount - channel.paid,
                    due_at=channel.notes[note_seq - 1].issued_at + grace,
                )
            )
        await self._terminate(
            deal,
            f"no voucher paid debit note {note_seq} "
            f"({format_amount(amount, deal.terms.currency)}) within the grace period of {grace:g} s",
        )

    async def _close(self, deal: Deal) -> bool:
        """Settle or redeem once nothing more will be noted; True when the contract is done."""
        channel = deal.provider
        assert channel is not None
        if deal.final and deal.ended_at is None:
            return False  # terminated with notice: the work runs until then
        if deal.final and not deal.settled:
            if channel.final_noted and deal.answered < len(channel.notes):
                return False  # the final note of work done is still owed an answer
            await self._redeem(deal)
            return True
        if not (channel.final_noted and deal.answered >= len(channel.notes)):
            return False
        if channel.owed > 0 and channel.notes[-1].seq not in deal.disputed:
            return False  # unpaid and not disputed: paid within the grace period, or overdue
        receipt = await self._redeem(deal)
        if receipt is None:
            return False
        async with self._lock:
            if deal.status in ("active", "disputed"):
                await self._record(
                    ContractSettled(
                        contract_id=deal.contract_id,
                        role="provider",
                        amount=channel.paid,
                        voucher_seq=channel.latest.seq if channel.latest else 0,
                        ledger=self._ledger.name,
                        reference=receipt,
                    )
                )
        try:
            await self.invoke(
                self._counterparty(deal),
                SETTLE_BEHAVIOR,
                SettleNotice(
                    contract_id=deal.contract_id,
                    voucher=channel.latest_signed,
                    ledger=self._ledger.name,
                    reference=receipt,
                ),
                timeout=self._call_timeout,
            )
        except NunetError as exc:
            # Told again at the next step (the redemption above is idempotent), a few times.
            deal.settle_attempts += 1
            log.info("settlement not told", contract=deal.contract_id, error=str(exc))
            return deal.settle_attempts >= _SETTLE_ATTEMPTS
        return True

    async def _redeem(self, deal: Deal) -> str | None:
        """Redeem the latest voucher on the ledger; its reference ("" when there is none)."""
        channel = deal.provider
        assert channel is not None
        latest = channel.latest_signed
        if latest is None:
            return ""
        try:
            receipt = await self._ledger.redeem(deal.contract, latest)
        except LedgerError as exc:
            log.warning("voucher not redeemed", contract=deal.contract_id, reason=str(exc))
            return None
        return receipt.reference

    async def _bar(self, deal: Deal, reason: str) -> None:
        """Stop the contract's work on this node for good, saying why."""
        for _, actor in self._running(deal):
            await actor.bar(reason)

    def _running(self, deal: Deal) -> list[tuple[str, AllocationActor]]:
        """The actors of the contract's allocations that run on this node now, by name."""
        found = []
        for name in sorted(deal.running):
            actor = self.system.actor(allocation_actor_id(deal.terms.deployment, name))
            if isinstance(actor, AllocationActor):
                found.append((name, actor))
        return found

    # -- both sides ----------------------------------------------------------------------------
    async def _terminate(self, deal: Deal, reason: str) -> None:
        """End `deal` on this node's account: signed, recorded, the work stopped (provider,
        after the notice), the counterparty told."""
        now = self._clock()
        notice = deal.terms.termination_notice if deal.ended_at is None else 0.0
        termination = Termination(
            contract_id=deal.contract_id,
            by=self.system.key.did,
            reason=reason[:1024],
            issued_at=now,
            effective_at=now + notice,
        )
        signed = sign(termination, self.system.key)
        async with self._lock:
            if deal.final:
                return
            await self._record(
                ContractTerminated(
                    contract_id=deal.contract_id,
                    role=deal.role,
                    by=self.system.key.did,
                    reason=termination.reason,
                    effective_at=termination.effective_at,
                    termination=signed,
                    paid=deal.paid,
                )
            )
        log.warning("contract terminated", contract=deal.contract_id, reason=reason)
        if deal.role == "provider" and notice == 0 and deal.ended_at is None:
            await self._bar(deal, f"contract {deal.contract_id[:8]} ended: {reason}")
            deal.ended_at = now
        with contextlib.suppress(NunetError):
            await self.invoke(
                self._counterparty(deal),
                TERMINATE_BEHAVIOR,
                TerminateNotice(contract_id=deal.contract_id, termination=signed, paid=deal.paid),
                timeout=self._call_timeout,
            )
        self._resume(deal)

    def _counterparty(self, deal: Deal) -> Handle:
        return Handle(deal.counterparty, CONTRACTS_ACTOR_ID, deal.address)

    def _requested(self, contract_id: str) -> Deal:
        deal = self.deals.get(contract_id)
        if deal is None or deal.role != "requester":
            raise UnknownContract(f"this node proposed no contract {contract_id}")
        return deal

    # -- behaviors between the parties ---------------------------------------------------------
    @behavior(DEBIT_BEHAVIOR, payload_type=Debit, public=True)
    async def on_debit(self, message: Message) -> DebitAnswer:
        debit: Debit = message.payload
        sender = message.sender.did
        async with self._lock:
            deal = self.deals.get(debit.contract_id)
            if deal is None or deal.role != "requester" or deal.counterparty != sender:
                reason = f"no contract {debit.contract_id} of this node's has {sender} as provider"
                await self._record(
                    DebitNoteRejected(
                        contract_id=debit.contract_id,
                        role="requester",
                        sender=sender,
                        reason=reason,
                        note=debit.note,
                    )
                )
                raise BehaviorFailed(reason, code=UnknownContract.code)
            channel = deal.requester
            assert channel is not None
            before = channel.last_note
            try:
                answer = channel.answer(debit.note, deal.observed(), self._clock())
            except BadDocument as exc:
                await self._record(
                    DebitNoteRejected(
                        contract_id=deal.contract_id,
                        role="requester",
                        sender=sender,
                        reason=str(exc)[:1024],
                        note=debit.note,
                    )
                )
                raise BehaviorFailed(str(exc), code=exc.code) from None
            note = channel.last_note
            assert note is not None
            voucher = None if answer.voucher is None else sign(answer.voucher, self.system.key)
            dispute = None if answer.dispute is None else sign(answer.dispute, self.system.key)
            if before is None or before.seq != note.seq:  # new: a note sent again is not
                await self._answered(deal, debit.note, note.seq, voucher, dispute)
            return DebitAnswer(voucher=voucher, dispute=dispute)

    async def _answered(
        self,
        deal: Deal,
        note_signed: Signed,
        seq: int,
        voucher: Signed | None,
        dispute: Signed | None,
    ) -> None:
        channel = deal.requester
        assert channel is not None
        note = channel.last_note
        assert note is not None
        await self._record(
            DebitNoteReceived(
                contract_id=deal.contract_id,
                role="requester",
                seq=seq,
                amount=note.amount,
                final=note.final,
                note=note_signed,
            )
        )
        if voucher is not None and channel.latest is not None:
            await self._record(
                VoucherIssued(
                    contract_id=deal.contract_id,
                    role="requester",
                    seq=channel.latest.seq,
                    amount=channel.latest.amount,
                    note_seq=seq,
                    voucher=voucher,
                )
            )
        if dispute is not None and deal.status in ("active", "disputed"):
            reason = msgspec.msgpack.decode(dispute.body, type=DebitDispute).reason
            await self._record(
                ContractDisputed(
                    contract_id=deal.contract_id,
                    role="requester",
                    note_seq=seq,
                    dispute=dispute,
                    reason=reason,
                )
            )
        elif dispute is None and deal.status == "disputed":
            await self._record(
                ContractResolved(contract_id=deal.contract_id, role="requester", note_seq=seq)
            )

    @behavior(TERMINATE_BEHAVIOR, payload_type=TerminateNotice, public=True)
    async def on_terminate(self, message: Message) -> dict[str, str]:
        notice: TerminateNotice = message.payload
        deal = self.deals.get(notice.contract_id)
        if deal is None or deal.counterparty != message.sender.did:
            raise BehaviorFailed(
                f"no contract {notice.contract_id} with {message.sender.did} here",
                code=UnknownContract.code,
            )
        try:
            termination = open_signed(notice.termination, Termination, deal.terms)
        except BadDocument as exc:
            raise BehaviorFailed(str(exc), code=exc.code) from None
        if termination.by != deal.counterparty:
            raise BehaviorFailed("a termination must be signed by its sender", code="bad-document")
        async with self._lock:
            if not deal.final:
                await self._record(
                    ContractTerminated(
                        contract_id=deal.contract_id,
                        role=deal.role,
                        by=termination.by,
                        reason=termination.reason,
                        effective_at=termination.effective_at,
                        termination=notice.termination,
                        paid=deal.paid,
                    )
                )
        self._resume(deal)
        return {"status": deal.status}

    @behavior(SETTLE_BEHAVIOR, payload_type=SettleNotice, public=True)
    async def on_settle(self, message: Message) -> dict[str, str]:
        notice: SettleNotice = message.payload
        async with self._lock:
            deal = self.deals.get(notice.contract_id)
            if deal is None or deal.role != "requester" or deal.counterparty != message.sender.did:
                raise BehaviorFailed(
                    f"no contract {notice.contract_id} of this node's has "
                    f"{message.sender.did} as provider",
                    code=UnknownContract.code,
                )
            channel = deal.requester
            assert channel is not None
            latest = channel.latest
            issued = None if latest is None else sign(latest, self.system.key)
            if issued != notice.voucher:
                raise BehaviorFailed(
                    f"contract {deal.contract_id}: the voucher settled is not the latest this "
                    "node issued",
                    code=BadDocument.code,
                )
            if deal.status in ("active", "disputed"):
                await self._record(
                    ContractSettled(
                        contract_id=deal.contract_id,
                        role="requester",
                        amount=0 if latest is None else latest.amount,
                        voucher_seq=0 if latest is None else latest.seq,
                        ledger=notice.ledger,
                        reference=notice.reference,
                    )
                )
        return {"status": deal.status}

    # -- the node's own user -------------------------------------------------------------------
    @behavior(LIST_BEHAVIOR, payload_type=ContractQuery)
    async def list_contracts(self, message: Message) -> list[dict[str, Any]]:
        return [views.contract_summary(r) for r in views.select(self.payments, message.payload)]

    @behavior(SHOW_BEHAVIOR, payload_type=ContractAsk)
    async def show_contract(self, message: Message) -> dict[str, Any]:
        return views.contract_detail(views.find(self.payments, message.payload.contract))

    @behavior(USER_TERMINATE_BEHAVIOR, payload_type=ContractAsk)
    async def terminate(self, message: Message) -> dict[str, Any]:
        ask: ContractAsk = message.payload
        record = views.find(self.payments, ask.contract)
        deal = self.deals.get(record.contract_id)
        if deal is None:
            raise UnknownContract(f"no contract {ask.contract} here")
        if deal.final:
            raise ContractError(f"contract {deal.contract_id} is already {deal.status}")
        await self._terminate(deal, ask.reason or f"terminated by {message.sender.did}")
        return views.contract_detail(views.find(self.payments, deal.contract_id))

    @behavior(PAYMENTS_LIST_BEHAVIOR, payload_type=ContractQuery)
    async def list_payments(self, message: Message) -> dict[str, Any]:
        return views.payments_summary(self.payments, message.payload)

    @behavior(PAYMENTS_SHOW_BEHAVIOR, payload_type=ContractAsk)
    async def show_payments(self, message: Message) -> list[dict[str, Any]]:
        return views.payment_timeline(views.find(self.payments, message.payload.contract))

    @behavior(PAYMENTS_EXPORT_BEHAVIOR, payload_type=ContractQuery)
    async def export(self, message: Message) -> dict[str, Any]:
        rows = export_rows(self.payments, message.payload)
        return {"rows": [msgspec.to_builtins(row) for row in rows]}
