"""The orchestrator of one deployment: the I/O shell around its pure cores.

It places the ensemble (bid rounds, assignment honouring edges, two-phase commit), has the
providers create the allocations, starts them in dependency order, supervises them from their
reports (restart strategies of the ensemble's supervisor tree, heartbeats, node loss and
rescheduling), collects results and tears everything down. Every step is a `deployment.*`
event, applied to its `DeploymentState` before it is appended: the state is the fold of the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.actor.supervision import ChildStatus
from nunet.allocation.protocol import (
    ALLOCATE_BEHAVIOR,
    COMMIT_BEHAVIOR,
    LOGS_BEHAVIOR,
    PROVIDER_ACTOR_ID,
    REPORT_BEHAVIOR,
    RESTART_BEHAVIOR,
    REVERT_BEHAVIOR,
    START_BEHAVIOR,
    STOP_BEHAVIOR,
    Allocate,
    Allocated,
    AllocationAsk,
    Commit,
    Committed,
    LogsAsk,
    Report,
    Revert,
)
from nunet.capability.model import Requirement
from nunet.contracts.actor import ContractsActor
from nunet.contracts.policy import ProposalDefaults, terms_for
from nunet.contracts.protocol import CONTRACTS_ACTOR_ID
from nunet.contracts.terms import ContractTerms
from nunet.ensemble import FlatEnsemble
from nunet.errors import NunetError
from nunet.matching.bid import BidTerms
from nunet.matching.round import RoundResult
from nunet.orchestrator.events import (
    AllocationResult,
    AllocationsRestarted,
    AllocationStateChanged,
    CommitFailed,
    DeploymentCompleted,
    DeploymentEvent,
    DeploymentExpired,
    DeploymentFailed,
    DeploymentQueued,
    DeploymentRunning,
    DeploymentTornDown,
    MatchingStarted,
    NodeAllocated,
    NodeCommitted,
    NodeLost,
    NodeRescheduled,
    NodeReverted,
    NodesMatched,
    OutputsPublished,
    ShutdownRequested,
    SupervisorEscalated,
    TasksDone,
)
from nunet.orchestrator.lifecycle import TERMINAL, Phase
from nunet.orchestrator.orders import orders_for
from nunet.orchestrator.placement import Candidates, Placement, place
from nunet.orchestrator.results import results_file, write_log_lines
from nunet.orchestrator.state import AllocationView, DeploymentState
from nunet.orchestrator.supervise import STRATEGY_NAMES, Actions, Supervision
from nunet.peers import RTT_BEHAVIOR
from nunet.replication.backoff import Backoff

log = structlog.get_logger("nunet.orchestrator")

BidRounds = Callable[[Requirement, float], Awaitable[RoundResult]]

_ENDED = frozenset(("exited", "failed", "stopped", "released"))
_SUPERVISED = frozenset((Phase.STARTING, Phase.RUNNING, Phase.RESCHEDULING))


@dataclasses.dataclass(frozen=True)
class OrchestratorSettings:
    """How one orchestrator paces itself (from the node's `orchestrator` config)."""

    bid_timeout: float = (
        2.0  # seconds a bid round lasts at most (it ends once every live node answered)
    )
    commit_timeout: float = 10.0  # seconds a provider has to answer commit / allocate / revert
    hold_seconds: float = 60.0  # how long a commit holds resources without allocate
    heartbeat_seconds: float = 1.0  # how often allocations report while running
    missed_heartbeats: int = 4  # silence of this many heartbeats: the machine is lost
    max_commit_rounds: int = 5  # bid rounds after failed commits before queueing
    queue_retry: Callable[[], Backoff] = lambda: Backoff(0.5, 10.0)
    log_lines_kept: int = 10_000  # per allocation, in its results
    # What a proposed contract says where the ensemble is silent.
    contract_defaults: ProposalDefaults = dataclasses.field(default_factory=ProposalDefaults)


class _Stop(Exception):
    """The deployment ended (failed, expired or shut down) while a step was in flight."""


@dataclasses.dataclass
class _Node:
    """What the orchestrator holds of one placed ensemble node (beyond the event-sourced state)."""

    bid: BidTerms | None = None
    request_id: str = ""
    gpus: tuple[int, ...] = ()
    standbys: list[BidTerms] = dataclasses.field(default_factory=list)
    last_heard: float = 0.0


class OrchestratorActor(Actor):
    """Spawn as `orchestrator_actor_id(deployment)` with the node's key (its DID is the one the
    bid requests carried, so providers accept its commits)."""

    kind = "orchestrator"

    def __init__(
        self,
        *,
        flat: FlatEnsemble,
        state: DeploymentState,
        bid_round: BidRounds,
        results_dir: Path,
        settings: OrchestratorSettings = OrchestratorSettings(),
        on_change: Callable[[DeploymentState], None] = lambda state: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.flat = flat
        self.state = state
        self._bid_round = bid_round
        self._results_dir = results_dir
        self._settings = settings
        self._on_change = on_change
        self._clock = clock
        self._nodes: dict[str, _Node] = {name: _Node() for name in flat.nodes}
        self._changed = asyncio.Condition()
        self._supervision = Supervision(flat)
        self._work: asyncio.Queue[Actions] = asyncio.Queue()
        self._seen: dict[str, tuple[str, int]] = {}  # allocation -> (provider, last seq)
        self._driver: asyncio.Task[None] | None = None

    @property
    def deployment(self) -> str:
        return self.state.id

    async def on_start(self) -> None:
        now = self._clock()
        for held in self._nodes.values():  # resumed: silence is counted from now
            held.last_heard = now
        self.spawn_task(self._carry_out())
        self._driver = self.spawn_task(self._drive())

    # -- reports from the providers ----------------------------------------------------------
    @behavior(REPORT_BEHAVIOR, public=True)
    async def on_report(self, message: Message) -> None:
        try:
            report = msgspec.convert(message.payload, Report, strict=False)
        except msgspec.ValidationError as exc:
            log.warning("malformed report", sender=message.sender.did, error=str(exc))
            return
        view = self.state.allocations.get(report.allocation)
        if (
            report.deployment != self.deployment
            or view is None
            or view.node != report.node
            or self.state.nodes[report.node].provider != message.sender.did
        ):
            log.warning(
                "report from a stranger", sender=message.sender.did, report=report.allocation
            )
            # Said, so that a machine that lost the node (declared lost, then back) asks the
            # deployments actor whether anything of it is still claimed, and gives it up.
            raise BehaviorFailed(
                f"deployment {self.deployment} does not hold {report.allocation} of node "
                f"{report.node} on {message.sender.did}",
                code="not-your-deployment",
            )
        self._nodes[report.node].last_heard = self._clock()
        seen = self._seen.get(report.allocation)
        if seen is not None and seen[0] == message.sender.did and report.seq <= seen[1]:
            return  # late or repeated
        self._seen[report.allocation] = (message.sender.did, report.seq)
        known = self.state.published.get(report.allocation)
        if report.outputs and (
            known is None or (known.run, known.outputs) != (report.run, report.outputs)
        ):
            # Recorded before the end it comes with: its results exist by then.
            await self._emit(
                OutputsPublished(
                    deployment=self.deployment,
                    at=report.at,
                    node=report.node,
                    allocation=report.allocation,
                    run=report.run,
                    outputs=report.outputs,
                )
            )
        change = AllocationStateChanged(
            deployment=self.deployment,
            at=report.at,
            node=report.node,
            allocation=report.allocation,
            state=report.state,
            run=report.run,
            exit_code=report.exit_code,
            error=report.error,
            healthy=report.healthy,
        )
        desk = self._contracts()
        if desk is not None:
            await desk.observe(message.sender.did, report)
        if self.state.apply(change).allocations[report.allocation] == view:
            return  # a heartbeat, or a state already known
        await self._emit(change)
        if self._supervision.started and self.state.phase in _SUPERVISED:
            actions = self._supervision.observe(
                report.allocation, self.state.allocations[report.allocation], self._clock()
            )
            if actions != Actions():
                self._queue(actions)  # carried out in order, then progress is judged
                return
        await self._progress()

    # -- the deployment's course -------------------------------------------------------------
    async def _drive(self) -> None:
        try:
            unplaced = [n for n, v in self.state.nodes.items() if not (v.provider and v.allocated)]
            if unplaced:
                await self._place(unplaced)
            await self._run()
        except _Stop:
            return
        except NunetError as exc:
            await self.fail(f"{type(exc).__name__}: {exc}")

    async def _place(self, nodes: list[str], *, excluded: frozenset[str] = frozenset()) -> None:
        """Bid, assign, commit every node in `nodes`, queueing while nothing fits; then allocate."""
        backoff = self._settings.queue_retry()
        queue_until = (
            self.state.submitted_at + self.state.queue_timeout if self.state.queue_timeout else None
        )
        refused: set[str] = set(excluded)
        rounds = 0
        while True:
            self._check_live()
            rounds += 1
            placement, why = await self._search(nodes, refused)
            if placement is not None and await self._commit(placement, refused):
                break
            now = self._clock()
            if rounds < self._settings.max_commit_rounds and placement is not None:
                continue  # a commit failed: ask again at once, without the refusing machines
            if queue_until is not None and now >= queue_until:
                await self._emit(DeploymentExpired(deployment=self.deployment, at=now, why=why))
                await self._teardown("expired waiting for machines")
                raise _Stop
            delay = backoff.next_delay()
            if queue_until is not None:
                delay = min(delay, max(0.0, queue_until - now))
            await self._emit(
                DeploymentQueued(
                    deployment=self.deployment,
                    at=now,
                    why=why or "a machine refused its commit",
                    retry_in=round(delay, 3),
                    attempt=self.state.attempts,
                )
            )
            rounds = 0
            refused = set(excluded)
            await self._sleep(delay)
        await self._allocate(nodes)

    async def _search(self, nodes: list[str], refused: set[str]) -> tuple[Placement | None, str]:
        now = self._clock()
        await self._emit(
            MatchingStarted(
                deployment=self.deployment,
                at=now,
                request_id="",
                attempt=self.state.attempts + 1,
                nodes=nodes,
            )
        )
        requirements = {node: self.flat.node_requirement(node) for node in nodes}
        results = await asyncio.gather(
            *(self._bid_round(requirements[n], self._settings.bid_timeout) for n in nodes)
        )
        candidates: dict[str, Candidates] = {}
        whys = []
        for node, result in zip(nodes, results, strict=True):
            bids = [r for r in result.candidates if r.bid.bidder not in refused]
            candidates[node] = Candidates(requirement=requirements[node], ranked=tuple(bids))
            if not bids:
                whys.append(
                    f"node {node}: {result.why_not() if not result.matched else 'every bidder refused its commit'}"
                )
        if whys:
            return None, "; ".join(whys)
        fixed = {
            name: self.state.nodes[name].provider
            for name in self.flat.nodes
            if name not in nodes and self.state.nodes[name].provider
        }
        outcome = await place(self.flat, candidates, fixed=fixed, rtt=self._ask_rtt)
        if isinstance(outcome, str):
            return None, outcome
        for node in nodes:
            self._nodes[node].bid = outcome.bids[node]
            self._nodes[node].standbys = list(outcome.standby_bids.get(node, ()))
        await self._emit(
            NodesMatched(
                **self._stamp(),
                primary={n: outcome.bids[n].bidder for n in nodes},
                standby={n: [b.bidder for b in outcome.standby_bids.get(n, ())] for n in nodes},
                score=outcome.score,
            )
        )
        return outcome, ""

    async def _commit(self, placement: Placement, refused: set[str]) -> bool:
        """Phase one on every primary (then the standbys): all commit, or all are reverted."""
        nodes = list(placement.bids)
        answers = await asyncio.gather(
            *(self._commit_one(node, placement.bids[node], standby=False) for node in nodes)
        )
        if not all(answers):
            for node, bid, ok in zip(
                nodes, (placement.bids[n] for n in nodes), answers, strict=True
            ):
                if ok:
                    await self._revert_one(
                        node, bid.bidder, self._provider(bid), "another node's commit failed"
                    )
                else:
                    refused.add(bid.bidder)
            return False
        for node in nodes:
            kept = []
            for bid in self._nodes[node].standbys:
                if await self._commit_one(node, bid, standby=True):
                    kept.append(bid)
            self._nodes[node].standbys = kept
        return True

    async def _commit_one(self, node: str, bid: BidTerms, *, standby: bool) -> bool:
        """Phase one on one provider, under the contract proposed to it (both sign or nothing
        is committed)."""
        requirement = self.flat.node_requirement(node)
        desk = self._contracts()
        terms = None if desk is None else self._terms(node, bid, requirement)
        contract = None
        if desk is not None and terms is not None:
            contract = await desk.propose(terms, self._provider(bid))
        commit = Commit(
            deployment=self.deployment,
            node=node,
            request_id=bid.request_id,
            requirement=requirement,
            hold_seconds=self._settings.hold_seconds,
            orchestrator=self.handle,
            contract=contract,
        )
        try:
            answer = await self.invoke(
                self._provider(bid), COMMIT_BEHAVIOR, commit, timeout=self._settings.commit_timeout
            )
            committed = msgspec.convert(answer, Committed, strict=False)
            if desk is not None and terms is not None:
                await desk.accepted(terms.contract_id, committed.contract)
        except (NunetError, msgspec.ValidationError) as exc:
            if desk is not None and terms is not None:
                await desk.refused(terms.contract_id, str(exc))
            await self._emit(
                CommitFailed(
                    **self._stamp(),
                    node=node,
                    provider=bid.bidder,
                    reason=str(exc),
                    standby=standby,
                )
            )
            return False
        if not standby:
            self._nodes[node].gpus = committed.gpus
        await self._emit(
            NodeCommitted(
                **self._stamp(),
                node=node,
                provider=bid.bidder,
                reservation=committed.reservation,
                expires_at=committed.expires_at,
                gpus=list(committed.gpus),
                standby=standby,
            )
        )
        return True

    def _contracts(self) -> ContractsActor | None:
        desk = self.system.actor(CONTRACTS_ACTOR_ID)
        return desk if isinstance(desk, ContractsActor) else None

    def _terms(self, node: str, bid: BidTerms, requirement: Requirement) -> ContractTerms:
        asked = self.flat.contract
        return terms_for(
            requester=self.handle.did,
            provider=bid.bidder,
            deployment=self.deployment,
            node=node,
            price=bid.capability.price,
            requirement=requirement,
            allocations=len(self.flat.nodes[node].allocations),
            nodes=len(self.flat.nodes),
            now=self._clock(),
            budget=None if asked is None else asked.budget,
            payment_interval=None if asked is None else asked.payment_interval,
            grace_period=None if asked is None else asked.grace_period,
            termination_notice=None if asked is None else asked.termination_notice,
            defaults=self._settings.contract_defaults,
        )

    async def _allocate(self, nodes: list[str]) -> None:
        async def one(node: str) -> None:
            bid = self._nodes[node].bid
            assert bid is not None
            ask = Allocate(
                deployment=self.deployment,
                node=node,
                allocations=orders_for(self.flat, node, self._nodes[node].gpus),
                heartbeat_seconds=self._settings.heartbeat_seconds,
            )
            try:
                answer = await self.invoke(
                    self._provider(bid),
                    ALLOCATE_BEHAVIOR,
                    ask,
                    timeout=self._settings.commit_timeout,
                )
                allocated = msgspec.convert(answer, Allocated, strict=False)
            except (NunetError, msgspec.ValidationError) as exc:
                raise _AllocateFailed(
                    f"node {node} on {bid.bidder} could not allocate: {exc}"
                ) from None
            self._nodes[node].last_heard = self._clock()
            await self._emit(
                NodeAllocated(
                    **self._stamp(),
                    node=node,
                    provider=bid.bidder,
                    allocations=allocated.allocations,
                )
            )

        try:
            await asyncio.gather(*(one(node) for node in nodes))
        except _AllocateFailed as exc:
            await self.fail(str(exc))
            raise _Stop from None

    async def _run(self) -> None:
        """Have the supervisor tree start the allocations (in dependency order, one by one, as
        OTP does), then watch until the deployment ends."""
        if not self._supervision.started:
            self._queue(self._supervision.resume(self.state.allocations, self._clock()))
        async with self._changed:
            await self._changed.wait_for(self._running_or_over)
        self._check_live()
        await self._watch()

    def _running_or_over(self) -> bool:
        return self.state.phase is not Phase.STARTING

    async def _watch(self) -> None:
        """Until the deployment ends: silent machines are lost and their nodes placed again."""
        period = self._settings.heartbeat_seconds
        silence = period * self._settings.missed_heartbeats
        while self.state.phase not in TERMINAL:
            await self._sleep(period)
            if self.state.phase not in (Phase.RUNNING, Phase.STARTING):
                continue
            now = self._clock()
            for node, held in self._nodes.items():
                view = self.state.nodes[node]
                if not view.allocated or view.lost or not self._expects_heartbeats(node):
                    continue
                if now - held.last_heard > silence:
                    await self._lose(node, f"no heartbeat for {now - held.last_heard:.1f} s")

    def _expects_heartbeats(self, node: str) -> bool:
        return any(
            self.state.allocations[a].state.value not in _ENDED
            for a in self.state.nodes[node].allocations
        )

    async def _lose(self, node: str, why: str) -> None:
        """A machine went away: place its node again (a standby first) and start there what was
        running or starting on it. The supervisor tree is not told: losing a machine is no
        failure of its allocations."""
        lost = self.state.nodes[node].provider
        await self._emit(NodeLost(**self._stamp(), node=node, provider=lost, why=why))
        desk = self._contracts()
        if desk is not None:
            await desk.lost(self.deployment, node, lost, why)
        held = self._nodes[node]
        promoted = held.standbys.pop(0) if held.standbys else None
        if promoted is not None:  # it holds a reservation already: it takes over at once
            held.bid = promoted
            await self._emit(
                NodeRescheduled(
                    **self._stamp(),
                    node=node,
                    old_provider=lost,
                    new_provider=promoted.bidder,
                    from_standby=True,
                )
            )
            await self._allocate([node])
        else:
            await self._place([node], excluded=frozenset((lost,)))
            await self._emit(
                NodeRescheduled(
                    **self._stamp(),
                    node=node,
                    old_provider=lost,
                    new_provider=self.state.nodes[node].provider,
                )
            )
        again = [
            name
            for name in self.state.nodes[node].allocations
            if self._supervision.status(name) in (ChildStatus.STARTING, ChildStatus.RUNNING)
        ]
        self._queue(Actions(start=tuple(again)))

    # -- supervision -------------------------------------------------------------------------
    def _queue(self, actions: Actions) -> None:
        if actions != Actions():
            self._work.put_nowait(actions)

    async def _carry_out(self) -> None:
        """The tree's decisions, one batch at a time, in order (stops before starts)."""
        while True:
            actions = await self._work.get()
            for name in actions.stop:
                await self._ask(name, STOP_BEHAVIOR, "stopped by its supervisor")
            for restarted in actions.restarted:
                await self._emit(
                    AllocationsRestarted(
                        **self._stamp(),
                        supervisor=restarted.path,
                        allocations=list(restarted.allocations),
                        strategy=STRATEGY_NAMES[restarted.strategy],
                        why=restarted.why,
                    )
                )
            for name in actions.start:
                view = self._view(name)
                first = view.state.value == "allocated"
                await self._ask(name, START_BEHAVIOR if first else RESTART_BEHAVIOR, "start")
                self.spawn_task(self._start_deadline(name, view.run))
            for escalated in actions.escalated:
                await self._emit(
                    SupervisorEscalated(
                        **self._stamp(),
                        supervisor=escalated.path,
                        why=escalated.reason,
                    )
                )
                if escalated.is_root:
                    await self.fail(f"its supervisor gave up: {escalated.reason}")
                    return
            await self._progress()

    async def _start_deadline(self, name: str, run: int) -> None:
        timeout = self.flat.allocations[name].allocation.timeouts.start
        await asyncio.sleep(timeout)
        if (
            self._supervision.status(name) is ChildStatus.STARTING
            and self._view(name).run <= run + 1
        ):
            self._queue(
                self._supervision.start_failed(name, f"not up within {timeout:g} s", self._clock())
            )

    async def _progress(self) -> None:
        """Running once everything is up; done once a deployment of tasks has them all ended."""
        if self.state.phase is Phase.STARTING and self._all_up():
            await self._emit(DeploymentRunning(**self._stamp()))
        if self.state.phase not in (Phase.RUNNING, Phase.STARTING) or self.state.services:
            return
        if not all(self._task_done(name) for name in self.state.allocations):
            return
        if self._supervision.busy():
            return
        await self._emit(TasksDone(**self._stamp()))
        self.spawn_task(self._complete())

    async def _complete(self) -> None:
        await self._collect_results()
        await self._teardown("its tasks are done")
        await self._emit(DeploymentCompleted(**self._stamp()))

    # -- the end -----------------------------------------------------------------------------
    async def shutdown(self, by: str, reason: str = "") -> DeploymentState:
        """Tear the deployment down on request (idempotent)."""
        if self.state.phase in TERMINAL or self.state.phase is Phase.COMPLETING:
            return self.state
        if self.state.phase is not Phase.SHUTTING_DOWN:
            await self._emit(ShutdownRequested(**self._stamp(), by=by, reason=reason))
            await self._stop_driver()
            await self._collect_results()
            await self._teardown(reason or "shut down on request")
        return self.state

    async def fail(self, why: str) -> None:
        if self.state.phase in TERMINAL:
            return
        log.warning("deployment failed", deployment=self.deployment, why=why)
        await self._emit(DeploymentFailed(**self._stamp(), why=why))
        await self._collect_results()
        await self._teardown(why)

    async def _stop_driver(self) -> None:
        driver = self._driver
        if driver is not None and driver is not asyncio.current_task():
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)

    async def _teardown(self, reason: str) -> None:
        """Revert every machine holding anything of this deployment (primaries and standbys)."""
        jobs = []
        for node, view in self.state.nodes.items():
            held = self._nodes[node]
            provider = self._provider_of(node)
            if view.provider and (view.committed or view.allocated) and provider is not None:
                jobs.append(self._revert_one(node, view.provider, provider, reason))
            for bid in held.standbys:
                jobs.append(self._revert_one(node, bid.bidder, self._provider(bid), reason))
            held.standbys = []
        await asyncio.gather(*jobs)
        await self._emit(DeploymentTornDown(**self._stamp()))

    async def _revert_one(self, node: str, did: str, provider: Handle, reason: str) -> None:
        try:
            await self.invoke(
                provider,
                REVERT_BEHAVIOR,
                Revert(deployment=self.deployment, node=node, reason=reason[:1024]),
                timeout=self._settings.commit_timeout,
            )
        except NunetError as exc:  # gone: its hold expires on its own, its work was lost with it
            reason = f"{reason} (the machine did not answer: {exc})"
        await self._emit(
            NodeReverted(
                **self._stamp(),
                node=node,
                provider=did,
                reason=reason[:1024],
            )
        )

    async def _collect_results(self) -> None:
        """Fetch every ended allocation's logs into the results folder and record the result."""
        for name, view in self.state.allocations.items():
            if view.handle is None or name in self.state.results or view.state.value not in _ENDED:
                continue
            lines = await self._fetch_logs(name, view.handle)
            await self._emit(
                AllocationResult(
                    **self._stamp(),
                    node=view.node,
                    allocation=name,
                    state=view.state.value,
                    exit_code=view.exit_code,
                    error=view.error,
                    log_lines=lines,
                    run=view.run,
                )
            )

    async def _fetch_logs(self, name: str, handle: Handle) -> int:
        try:
            answer = await self.invoke(
                handle,
                LOGS_BEHAVIOR,
                LogsAsk(
                    deployment=self.deployment, allocation=name, limit=self._settings.log_lines_kept
                ),
                timeout=self._settings.commit_timeout,
            )
        except NunetError as exc:
            log.warning(
                "logs not fetched", deployment=self.deployment, allocation=name, error=str(exc)
            )
            return 0
        entries = list(answer) if isinstance(answer, list) else []
        await write_log_lines(results_file(self._results_dir, self.deployment, name), entries)
        return len(entries)

    # -- plumbing ----------------------------------------------------------------------------
    def _stamp(self) -> dict[str, Any]:
        """The fields every deployment event starts with: which deployment, and when."""
        return {"deployment": self.deployment, "at": self._clock()}

    async def _emit(self, event: DeploymentEvent) -> None:
        self.state = self.state.apply(event)  # an illegal decision raises before it is logged
        self.system.event_log.append_nowait(event, actor=str(self.handle))
        self._on_change(self.state)
        async with self._changed:
            self._changed.notify_all()

    async def _ask(self, allocation: str, behavior_path: str, reason: str) -> None:
        view = self._view(allocation)
        if view.handle is None:
            return
        try:
            await self.invoke(
                view.handle,
                behavior_path,
                AllocationAsk(
                    deployment=self.deployment, allocation=allocation, reason=reason[:1024]
                ),
                timeout=self._settings.commit_timeout,
            )
        except NunetError as exc:  # its machine may be gone: the heartbeat watch decides
            log.warning(
                "allocation did not answer",
                allocation=allocation,
                behavior=behavior_path,
                error=str(exc),
            )

    async def _ask_rtt(self, peers_actor: Handle, others: list[str]) -> dict[str, float | None]:
        answer = await self.invoke(
            peers_actor, RTT_BEHAVIOR, {"peers": others}, timeout=self._settings.commit_timeout
        )
        return dict(answer) if isinstance(answer, dict) else {}

    def _provider(self, bid: BidTerms) -> Handle:
        return Handle(bid.bidder, PROVIDER_ACTOR_ID, bid.node)

    def _provider_of(self, node: str) -> Handle | None:
        """The provider holding `node`: from its bid, or (the bid is not kept across a restart
        of this orchestrator) from where its allocations' actors are, which the log has."""
        held = self._nodes[node]
        if held.bid is not None and held.bid.bidder == self.state.nodes[node].provider:
            return self._provider(held.bid)
        for name in self.state.nodes[node].allocations:
            handle = self.state.allocations[name].handle
            if handle is not None and handle.did == self.state.nodes[node].provider:
                return Handle(handle.did, PROVIDER_ACTOR_ID, handle.node)
        return None

    def _view(self, name: str) -> AllocationView:
        return self.state.allocations[name]

    def _up(self, name: str) -> bool:
        view = self._view(name)
        if view.state.value == "running":
            check = self.flat.allocations[name].allocation.healthcheck
            return check is None or view.healthy is True
        return view.state.value == "exited" and view.exit_code == 0

    def _all_up(self) -> bool:
        return all(self._up(name) or self._task_done(name) for name in self.state.allocations)

    def _task_done(self, name: str) -> bool:
        view = self._view(name)
        return view.type == "task" and view.state.value in ("exited", "failed", "stopped")

    def _check_live(self) -> None:
        if self.state.phase in TERMINAL or self.state.phase is Phase.SHUTTING_DOWN:
            raise _Stop

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._check_live()


class _AllocateFailed(NunetError):
    pass
