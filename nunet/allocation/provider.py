"""The provider actor: this node's side of deploying an ensemble.

`/dms/deployment/commit` reserves what a bid promised (re-checked against what is free now),
`/dms/deployment/allocate` creates one allocation actor per order, `/dms/deployment/revert`
stops and cleans them and gives the reservation back. A commit is accepted only on the strength
of a valid bid this node issued to the sender; everything after it only from the orchestrator
that committed. Every change and every refusal is an event in the node's log, and at start the
provider rebuilds its commitments from those events (see the package README, "Recovery").
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.allocation.actor import AllocationActor, Recovered
from nunet.allocation.book import BOOK_EVENTS, Commitment, CommitmentBook, Key
from nunet.allocation.errors import (
    AllocateRefused,
    AllocationError,
    CannotCommit,
    NotYourDeployment,
    UnknownDeployment,
)
from nunet.allocation.events import (
    EVENTS,
    AllocationCommitted,
    AllocationCreated,
    AllocationReverted,
    CommitRefused,
    ProviderRefused,
    ReservationExpired,
)
from nunet.allocation.execution import keys_text, provisioned_command
from nunet.allocation.lifecycle import STATES
from nunet.allocation.protocol import (
    ALLOCATE_BEHAVIOR,
    CLAIM_BEHAVIOR,
    COMMIT_BEHAVIOR,
    DEPLOYMENTS_ACTOR_ID,
    REVERT_BEHAVIOR,
    Allocate,
    Allocated,
    AllocationOrder,
    AllocationState,
    Claim,
    ClaimAsk,
    Commit,
    Committed,
    Revert,
    Reverted,
    allocation_actor_id,
    reservation_id,
)
from nunet.allocation.reservations import Reservations
from nunet.allocation.staging import DataStage, StagingFailed, StorageAccess
from nunet.capability import check
from nunet.capability.gpus import assign_gpus
from nunet.capability.model import Capability, Gpu, Price, Requirement, Resources
from nunet.capability.units import format_size
from nunet.contracts.documents import SignedContract
from nunet.contracts.errors import ContractError
from nunet.errors import NunetError
from nunet.eventlog import Catalogue, Event
from nunet.executor import Executor, ExecutorError
from nunet.matching.bid import BidTerms
from nunet.replication.backoff import Backoff
from nunet.storage import StorageError

log = structlog.get_logger("nunet.allocation")

IssuedBid = Callable[[str, str], BidTerms | None]  # (request id, orchestrator DID) -> the bid


class ContractDesk(Protocol):
    """Where a provider takes the contract a commit carries (the node's contracts actor)."""

    def review(
        self, contract: SignedContract | None, commit: Commit, sender: str, offered: Price
    ) -> object | None:
        """The contract's terms, None when there is none and none is required; a
        ContractRefused naming why this node will not sign."""

    async def sign(self, contract: SignedContract, orchestrator: Handle) -> SignedContract:
        """Accept a reviewed contract, once the resources are held."""

    async def refuse(self, contract: SignedContract, sender: str, reason: str) -> None:
        """Record that this node would not sign it."""


CPU_EPSILON = 1e-6


CLAIM_TIMEOUT = 10.0
CLAIM_RETRY_FIRST = 1.0
CLAIM_RETRY_MAX = 60.0


class ProviderActor(Actor):
    """Spawn as `PROVIDER_ACTOR_ID`. `executors` by name (docker, qemu, firecracker: the node's
    opened executors, read at each allocation); `issued_bid` is the matching actor's
    `issued_bid`; `reservations` the node's resource ledger; `work_dir` keeps per-allocation
    files (SSH keys) of live deployments; `storage` serves allocations' inputs and outputs
    (None: orders with either are refused)."""

    kind = "provider"
    # Allocating prepares executions (image pulls) and reverting stops them: both beside the
    # mailbox, one at a time per committed node, so commits are answered meanwhile.
    beside_mailbox = frozenset((ALLOCATE_BEHAVIOR, REVERT_BEHAVIOR))

    def __init__(
        self,
        *,
        executors: Mapping[str, Executor],
        issued_bid: IssuedBid,
        reservations: Reservations,
        work_dir: Path,
        storage: StorageAccess | None = None,
        contracts: Callable[[], ContractDesk | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._contracts = contracts
        self._executors = executors
        self._issued_bid = issued_bid
        self._reservations = reservations
        self._work_dir = work_dir
        self._storage = storage
        self._clock = clock
        self.book = CommitmentBook()
        self._locks: dict[Key, asyncio.Lock] = {}
        self._timers: dict[Key, asyncio.Task[Any]] = {}
        self._confirming: dict[Key, asyncio.Task[None]] = {}
        self._catalogue = Catalogue(*EVENTS)

    # -- reading -------------------------------------------------------------------------------
    def allocation_actors(self, deployment: str, node: str) -> dict[str, AllocationActor]:
        """The running allocation actors of one committed node, by allocation name."""
        commitment = self.book.live.get((deployment, node))
        if commitment is None:
            return {}
        found = {}
        for name in commitment.orders:
            actor = self.system.actor(allocation_actor_id(deployment, name))
            if isinstance(actor, AllocationActor):
                found[name] = actor
        return found

    # -- lifecycle -----------------------------------------------------------------------------
    async def on_start(self) -> None:
        book = CommitmentBook()
        async for record in self.system.event_log.read(types=[k.TYPE for k in BOOK_EVENTS]):
            book.apply(self._catalogue.decode(record))
        self.book = book
        await self._reconcile_ledger()
        for commitment in list(book.live.values()):
            if commitment.allocated:
                await self._readopt(commitment)
            else:
                self._arm(commitment)
            self._reconfirm(commitment.key)

    def _reconfirm(self, key: Key) -> None:
        """Ask the orchestrating node about a commitment, unless that is already under way."""
        running = self._confirming.get(key)
        if running is None or running.done():
            self._confirming[key] = self.spawn_task(self._confirm(key), name=f"confirm:{key}")

    async def _confirm(self, key: Key) -> None:
        """Ask the orchestrating node whether a commitment still stands — after a restart, or
        when its orchestrator disowns a report (this machine may have been declared lost
        meanwhile, its node placed elsewhere, or the deployment ended); give it up when it does
        not. Asked again with backoff while that node does not answer."""
        backoff = Backoff(CLAIM_RETRY_FIRST, CLAIM_RETRY_MAX)
        while (commitment := self.book.live.get(key)) is not None:
            orchestrator = commitment.orchestrator
            try:
                answer = await self.invoke(
                    Handle(orchestrator.did, DEPLOYMENTS_ACTOR_ID, orchestrator.node),
                    CLAIM_BEHAVIOR,
                    ClaimAsk(deployment=key[0], node=key[1]),
                    timeout=CLAIM_TIMEOUT,
                )
                claim = msgspec.convert(answer, Claim, strict=False)
            except (NunetError, msgspec.ValidationError) as exc:
                log.info("claim not confirmed yet", deployment=key[0], node=key[1], error=str(exc))
                await asyncio.sleep(backoff.next_delay())
                continue
            if claim.claimed:
                return
            async with self._lock(key):
                if self.book.live.get(key) is commitment:
                    await self._undo(commitment, f"given up, no longer claimed: {claim.why}")
            return

    async def on_stop(self) -> None:
        # Allocation actors are left running (the node is stopping or the provider restarting:
        # the executions go on and are re-adopted); only the hold timers stop with this actor.
        for timer in self._timers.values():
            timer.cancel()

    # -- phase one -----------------------------------------------------------------------------
    @behavior(COMMIT_BEHAVIOR, payload_type=Commit, public=True)
    async def commit(self, message: Message) -> Committed:
        commit: Commit = message.payload
        sender = message.sender.did
        key = (commit.deployment, commit.node)
        async with self._lock(key):
            try:
                return await self._commit(commit, sender)
            except AllocationError as exc:
                event = CommitRefused(
                    deployment=commit.deployment,
                    node=commit.node,
                    request_id=commit.request_id[:256],
                    sender=sender,
                    code=exc.code,
                    reason=str(exc),
                )
                self._record(event)
                log.warning("commit refused", deployment=commit.deployment, reason=str(exc))
                raise BehaviorFailed(str(exc), code=exc.code) from None

    async def _commit(self, commit: Commit, sender: str) -> Committed:
        key = (commit.deployment, commit.node)
        where = f"commit {commit.deployment}/{commit.node}"
        if commit.orchestrator.did != sender:
            raise NotYourDeployment(
                f"{where}: it names orchestrator {commit.orchestrator.did} but was sent by "
                f"{sender}; reports go only to the orchestrator that commits"
            )
        committer = self.book.committer(key)
        if committer is not None and committer != sender:
            raise NotYourDeployment(f"{where}: committed here by another orchestrator")
        existing = self.book.live.get(key)
        if existing is not None:
            return await self._recommit(existing, commit)
        bid = self._issued_bid(commit.request_id, sender)
        if bid is None:
            raise CannotCommit(
                f"{where}: this node issued no valid bid to {sender} for request "
                f"{commit.request_id!r} (never bid, the bid expired, or it went to another "
                "orchestrator); search again"
            )
        offering = self._reservations.offering()
        if offering is None:
            raise CannotCommit(f"{where}: this node is not onboarded (it offers nothing now)")
        capability, free = offering
        desk = self._contracts()
        terms = None if desk is None else await self._review(desk, commit, sender, capability)
        fit = check(capability, free, commit.requirement, did=self.handle.did)
        if not fit.ok:
            missing = "; ".join(f"{u.constraint}: {u.detail}" for u in fit.unmet)
            raise CannotCommit(f"{where}: no longer fits this node: {missing}")
        gpus = _devices(commit.requirement, bid, free, fit.gpus, where)
        reservation = reservation_id(commit.deployment, commit.node)
        asked = Resources(
            cpu=commit.requirement.cpu,
            ram=commit.requirement.ram,
            disk=commit.requirement.disk,
            gpus=gpus,
        )
        await self._reservations.reserve(self, reservation, asked)
        event = AllocationCommitted(
            deployment=commit.deployment,
            node=commit.node,
            request_id=commit.request_id,
            orchestrator=sender,
            orchestrator_actor=commit.orchestrator.actor,
            orchestrator_node=commit.orchestrator.node,
            reservation=reservation,
            requirement=commit.requirement,
            cpu=asked.cpu,
            ram=asked.ram,
            disk=asked.disk,
            gpus=tuple(gpu.index for gpu in gpus),
            hold_seconds=commit.hold_seconds,
            expires_at=self._clock() + commit.hold_seconds,
        )
        await self._append(event)
        commitment = self.book.live[key]
        self._arm(commitment)
        contract = None
        if desk is not None and terms is not None and commit.contract is not None:
            contract = await desk.sign(commit.contract, commit.orchestrator)
        return _committed(commitment, contract)

    async def _review(
        self, desk: ContractDesk, commit: Commit, sender: str, capability: Capability
    ) -> object | None:
        try:
            return desk.review(commit.contract, commit, sender, capability.price)
        except ContractError as exc:
            if commit.contract is not None:
                await desk.refuse(commit.contract, sender, str(exc))
            raise CannotCommit(f"commit {commit.deployment}/{commit.node}: {exc}") from None

    async def _recommit(self, existing: Commitment, commit: Commit) -> Committed:
        """The same orchestrator again (a retry, or it restarted): the same answer; a new handle
        for its reports is taken."""
        if existing.requirement != commit.requirement:
            raise CannotCommit(
                f"commit {commit.deployment}/{commit.node}: already committed here with a "
                "different requirement; revert it first"
            )
        if existing.orchestrator != commit.orchestrator:
            event = existing.committed_event()
            await self._append(
                AllocationCommitted(
                    **{
                        **{f: getattr(event, f) for f in event.__struct_fields__},
                        "orchestrator_actor": commit.orchestrator.actor,
                        "orchestrator_node": commit.orchestrator.node,
                    }
                )
            )
        contract = None
        desk = self._contracts()
        if desk is not None and commit.contract is not None:
            offering = self._reservations.offering()
            if offering is not None:
                await self._review(desk, commit, commit.orchestrator.did, offering[0])
            contract = await desk.sign(commit.contract, commit.orchestrator)
        return _committed(self.book.live[existing.key], contract)

    def _arm(self, commitment: Commitment) -> None:
        key = commitment.key
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._timers[key] = self.spawn_task(
            self._expire(key, commitment.expires_at), name=f"hold:{key[0]}/{key[1]}"
        )

    async def _expire(self, key: Key, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - self._clock()))
        async with self._lock(key):
            commitment = self.book.live.get(key)
            if commitment is None or commitment.allocated or commitment.expires_at != expires_at:
                return
            self._timers.pop(key, None)
            await self._release(commitment.reservation)
            await self._append(
                ReservationExpired(
                    deployment=key[0],
                    node=key[1],
                    reservation=commitment.reservation,
                    hold_seconds=commitment.hold_seconds,
                )
            )
            log.info("reservation expired", deployment=key[0], node=key[1])

    # -- phase two -----------------------------------------------------------------------------
    @behavior(ALLOCATE_BEHAVIOR, payload_type=Allocate, public=True)
    async def allocate(self, message: Message) -> Allocated:
        ask: Allocate = message.payload
        key = (ask.deployment, ask.node)
        async with self._lock(key):
            try:
                commitment = self._authorized(key, message.sender.did, "allocate")
                return await self._allocate(commitment, ask)
            except AllocationError as exc:
                raise self._refuse("allocate", key, message.sender.did, exc) from None

    async def _allocate(self, commitment: Commitment, ask: Allocate) -> Allocated:
        orders = {order.name: order for order in ask.allocations}
        if commitment.allocated:
            if commitment.orders != orders:
                raise AllocateRefused(
                    f"allocate {ask.deployment}/{ask.node}: already allocated with other "
                    "orders; revert it first"
                )
            return self._allocated(commitment)
        self._check_orders(commitment, ask)
        timer = self._timers.pop(commitment.key, None)
        if timer is not None:
            timer.cancel()
        spawned: list[AllocationActor] = []
        try:
            for order in ask.allocations:
                spawned.append(await self._spawn(commitment, order, ask.heartbeat_seconds))
        except (AllocationError, ExecutorError, StagingFailed, OSError) as exc:
            for actor in spawned:
                await self._drop(actor, "its deployment could not be allocated")
            self._remove_files(commitment)
            self._arm(commitment)  # the hold runs on (or ends at once if it has passed)
            raise AllocateRefused(f"allocate {ask.deployment}/{ask.node}: {exc}") from None
        for actor in spawned:
            await self._append(
                AllocationCreated(
                    deployment=commitment.deployment,
                    node=commitment.node,
                    allocation=actor.order.name,
                    actor=actor.handle.actor,
                    order=actor.order,
                    heartbeat_seconds=ask.heartbeat_seconds,
                )
            )
        return self._allocated(commitment)

    def _check_orders(self, commitment: Commitment, ask: Allocate) -> None:
        where = f"allocate {ask.deployment}/{ask.node}"
        if not ask.allocations:
            raise AllocateRefused(f"{where}: no allocations to create")
        names = [order.name for order in ask.allocations]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise AllocateRefused(f"{where}: allocation(s) named twice: {', '.join(twice)}")
        reserved = set(commitment.gpus)
        for order in ask.allocations:
            if order.executor not in self._executors:
                have = ", ".join(sorted(self._executors)) or "none"
                raise AllocateRefused(
                    f"allocations.{order.name}.executor: {order.executor} is not available on "
                    f"this node (it has: {have})"
                )
            outside = sorted(set(order.gpus) - reserved)
            if outside:
                raise AllocateRefused(
                    f"allocations.{order.name}.gpus: device(s) {outside} were not committed "
                    f"(committed: {sorted(reserved) or 'none'})"
                )
            provisioned_command(order)  # refuses provisioning without a command
            keys_text(order)
            self._check_data(order)
        cpu = sum(order.cpu for order in ask.allocations)
        if cpu > commitment.cpu + CPU_EPSILON:
            raise AllocateRefused(
                f"{where}: cpu: the allocations ask {cpu:g} cores; {commitment.cpu:g} committed"
            )
        for field in ("ram", "disk"):
            total = sum(getattr(order, field) for order in ask.allocations)
            held = getattr(commitment, field)
            # A commit of ram 0 (or disk 0) asked for none: the orders' defaults are not held
            # against it, only an explicit commitment bounds them.
            if held and total > held:
                raise AllocateRefused(
                    f"{where}: {field}: the allocations ask {format_size(total)}; "
                    f"{format_size(held)} committed"
                )

    def _check_data(self, order: AllocationOrder) -> None:
        """Every input and output names a store this node has (outputs: one taking uploads)."""
        if not order.inputs and not order.outputs:
            return
        if self._storage is None:
            field = "inputs" if order.inputs else "outputs"
            raise AllocateRefused(
                f"allocations.{order.name}.{field}: this node has no storage configured"
            )
        places = [(f"inputs[{i}].source", d.source, False) for i, d in enumerate(order.inputs)]
        places += [
            (f"outputs[{i}].destination", d.destination, True) for i, d in enumerate(order.outputs)
        ]
        for field, location, writing in places:
            try:
                self._storage.storage.provider_for(location, writing=writing)
            except StorageError as exc:
                raise AllocateRefused(f"allocations.{order.name}.{field}: {exc}") from None

    async def _spawn(
        self,
        commitment: Commitment,
        order: AllocationOrder,
        heartbeat_seconds: float,
        recovered: Recovered | None = None,
    ) -> AllocationActor:
        """One allocation's actor (its SSH keys file written first), new or `recovered`."""
        keys_file = await asyncio.to_thread(self._write_keys, commitment, order)
        actor = AllocationActor(
            deployment=commitment.deployment,
            node=commitment.node,
            order=order,
            executor=self._executors.get(order.executor),
            orchestrator=self._orchestrator_of(commitment.key, commitment.orchestrator),
            heartbeat_seconds=heartbeat_seconds,
            keys_file=keys_file,
            stage=self._stage(commitment, order),
            recovered=recovered,
            disowned=lambda: self._reconfirm(commitment.key),
            clock=self._clock,
        )
        await self.system.spawn(actor, allocation_actor_id(commitment.deployment, order.name))
        return actor

    def _stage(self, commitment: Commitment, order: AllocationOrder) -> DataStage | None:
        if self._storage is None or not (order.inputs or order.outputs):
            return None
        return DataStage(
            self._storage,
            deployment=commitment.deployment,
            node=commitment.node,
            allocation=order.name,
            inputs=order.inputs,
            outputs=order.outputs,
            record=self._record,
        )

    def _allocated(self, commitment: Commitment) -> Allocated:
        return Allocated(
            deployment=commitment.deployment,
            node=commitment.node,
            allocations={
                name: self.system.handle_of(allocation_actor_id(commitment.deployment, name))
                for name in commitment.orders
                if self.system.actor(allocation_actor_id(commitment.deployment, name))
            },
        )

    # -- undo ----------------------------------------------------------------------------------
    @behavior(REVERT_BEHAVIOR, payload_type=Revert, public=True)
    async def revert(self, message: Message) -> Reverted:
        ask: Revert = message.payload
        key = (ask.deployment, ask.node)
        sender = message.sender.did
        async with self._lock(key):
            committer = self.book.committer(key)
            if committer is not None and committer != sender:
                error = NotYourDeployment(
                    f"revert {ask.deployment}/{ask.node}: committed here by another orchestrator"
                )
                raise self._refuse("revert", key, sender, error)
            commitment = self.book.live.get(key)
            if commitment is None:  # already reverted, expired, or never committed: done
                return Reverted(deployment=ask.deployment, node=ask.node, released=False)
            names = await self._undo(commitment, ask.reason or "reverted by its orchestrator")
            return Reverted(
                deployment=ask.deployment, node=ask.node, released=True, allocations=names
            )

    async def _undo(self, commitment: Commitment, reason: str) -> tuple[str, ...]:
        """Stop and clean every allocation of a commitment, release its reservation, record it."""
        key = commitment.key
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        names = tuple(commitment.orders)
        for actor in self.allocation_actors(*key).values():
            await self._drop(actor, reason)
        self._remove_files(commitment)
        await self._release(commitment.reservation)
        await self._append(
            AllocationReverted(
                deployment=key[0], node=key[1], reason=reason[:1024], allocations=names
            )
        )
        log.info("deployment reverted", deployment=key[0], node=key[1], reason=reason)
        return names

    # -- recovery ------------------------------------------------------------------------------
    async def _reconcile_ledger(self) -> None:
        """The ledger holds exactly the live commitments' reservations among this provider's:
        one left from an ended commitment is released, a live one it lacks is taken again."""
        held = self._reservations.held()
        live = {c.reservation for c in self.book.live.values()}
        for reservation in sorted(self.book.reservations - live):
            if reservation in held:
                await self._release(reservation)
        for commitment in self.book.live.values():
            if commitment.reservation in held:
                continue
            asked = Resources(
                cpu=commitment.cpu,
                ram=commitment.ram,
                disk=commitment.disk,
                gpus=tuple(Gpu(index=i, vendor="other", model="", vram=0) for i in commitment.gpus),
            )
            try:
                await self._reservations.reserve(self, commitment.reservation, asked)
            except AllocationError as exc:
                log.warning(
                    "a live commitment's reservation could not be taken again",
                    deployment=commitment.deployment,
                    node=commitment.node,
                    reason=str(exc),
                )

    async def _readopt(self, commitment: Commitment) -> None:
        for name, order in commitment.orders.items():
            actor_id = allocation_actor_id(commitment.deployment, name)
            if self.system.actor(actor_id) is not None:
                continue  # the provider restarted, its allocation actors did not
            try:
                await self._spawn(
                    commitment, order, commitment.heartbeat_seconds, _recovered(commitment, name)
                )
            except Exception as exc:  # one allocation lost must not stop the provider
                log.warning("allocation not recovered", actor=actor_id, error=repr(exc))

    # -- plumbing ------------------------------------------------------------------------------
    def _lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def _orchestrator_of(self, key: Key, fallback: Handle) -> Callable[[], Handle]:
        def current() -> Handle:
            commitment = self.book.live.get(key)
            return commitment.orchestrator if commitment is not None else fallback

        return current

    def _authorized(self, key: Key, sender: str, operation: str) -> Commitment:
        committer = self.book.committer(key)
        if committer is not None and committer != sender:
            raise NotYourDeployment(
                f"{operation} {key[0]}/{key[1]}: committed here by another orchestrator"
            )
        commitment = self.book.live.get(key)
        if commitment is None:
            raise UnknownDeployment(
                f"{operation} {key[0]}/{key[1]}: nothing is committed here for it (never "
                "committed, reverted, or its hold expired); commit first"
            )
        return commitment

    async def _drop(self, actor: AllocationActor, reason: str) -> None:
        try:
            await actor.release(reason)
        except ExecutorError as exc:
            log.warning("allocation not cleaned", actor=actor.handle.actor, reason=str(exc))
        finally:
            await self.system.stop(actor.handle.actor)

    async def _release(self, reservation: str) -> None:
        try:
            await self._reservations.release(self, reservation)
        except Exception as exc:  # logged and carried on: a ledger that is down cannot block undo
            log.warning("reservation not released", reservation=reservation, error=repr(exc))

    def _keys_path(self, commitment: Commitment, allocation: str) -> Path:
        return (
            self._work_dir
            / commitment.deployment
            / commitment.node
            / allocation
            / "authorized_keys"
        )

    def _write_keys(self, commitment: Commitment, order: AllocationOrder) -> Path | None:
        if not order.keys:
            return None
        path = self._keys_path(commitment, order.name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(keys_text(order))
        path.chmod(0o644)
        return path

    def _remove_files(self, commitment: Commitment) -> None:
        deployment = self._work_dir / commitment.deployment
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(deployment / commitment.node)
        with contextlib.suppress(OSError):  # kept while another node of it is committed here
            deployment.rmdir()

    async def _append(self, event: Event) -> None:
        await self.system.event_log.append(event, actor=str(self.handle))
        self.book.apply(event)

    def _record(self, event: Event) -> None:
        self.system.event_log.append_nowait(event, actor=str(self.handle))

    def _refuse(
        self, operation: str, key: Key, sender: str, error: AllocationError
    ) -> BehaviorFailed:
        self._record(
            ProviderRefused(
                operation=operation,
                deployment=key[0],
                node=key[1],
                sender=sender,
                code=error.code,
                reason=str(error),
            )
        )
        log.warning(
            "deployment ask refused", operation=operation, code=error.code, reason=str(error)
        )
        return BehaviorFailed(str(error), code=error.code)


def _recovered(commitment: Commitment, name: str) -> Recovered:
    last = commitment.states.get(name)
    if last is None:
        return Recovered(state="allocated", run=0, execution="")
    state: AllocationState = next((s for s in STATES if s == last.state), "failed")
    return Recovered(
        state=state,
        run=last.run,
        execution=last.execution,
        exit_code=last.exit_code,
        error=last.error,
        healthy=last.healthy,
    )


def _committed(commitment: Commitment, contract: SignedContract | None) -> Committed:
    return Committed(
        deployment=commitment.deployment,
        node=commitment.node,
        reservation=commitment.reservation,
        gpus=commitment.gpus,
        expires_at=commitment.expires_at,
        contract=contract,
    )


def _devices(
    requirement: Requirement,
    bid: BidTerms,
    free: Resources,
    chosen: tuple[Gpu, ...],
    where: str,
) -> tuple[Gpu, ...]:
    """The GPU devices to reserve: those the bid named, while they are free and meet the needs."""
    if not requirement.gpus:
        return ()
    if not bid.gpus:
        return chosen
    free_indices = {gpu.index for gpu in free.gpus}
    taken = sorted(gpu.index for gpu in bid.gpus if gpu.index not in free_indices)
    if taken:
        raise CannotCommit(f"{where}: gpus: device(s) {taken} the bid offered are no longer free")
    devices = assign_gpus(requirement.gpus, bid.gpus)
    if devices is None:
        raise CannotCommit(
            f"{where}: gpus: the devices the bid offered do not meet the requirement"
        )
    return devices
