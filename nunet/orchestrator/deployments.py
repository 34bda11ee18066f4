"""The node's deployments: `/dms/node/deployment/{new,list,status,manifest,logs,history,shutdown}`.

It takes an ensemble, records `deployment.submitted` and spawns the deployment's orchestrator;
it answers about every deployment from their states (the fold of their events). At start it
rebuilds those states from the node's log and re-spawns an orchestrator for every deployment
still live, which re-attaches to allocations that kept running while it was away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.allocation.protocol import CLAIM_BEHAVIOR, Claim, ClaimAsk
from nunet.allocation.protocol import LOGS_BEHAVIOR as ALLOCATION_LOGS_BEHAVIOR
from nunet.allocation.protocol import LogsAsk as AllocationLogsAsk
from nunet.capability.model import Requirement
from nunet.ensemble import (
    Ensemble,
    EnsembleError,
    FlatEnsemble,
    dump_ensemble,
    flatten,
    load_ensemble,
    parse_ensemble_text,
)
from nunet.errors import NunetError
from nunet.eventlog import Catalogue
from nunet.matching.round import RoundResult
from nunet.orchestrator.actor import OrchestratorActor, OrchestratorSettings
from nunet.orchestrator.behaviors import (
    HISTORY_BEHAVIOR,
    LIST_BEHAVIOR,
    LOGS_BEHAVIOR,
    MANIFEST_BEHAVIOR,
    MAX_ENSEMBLE_BYTES,
    NEW_BEHAVIOR,
    RESULTS_BEHAVIOR,
    SHUTDOWN_BEHAVIOR,
    STATUS_BEHAVIOR,
    DeploymentAsk,
    HistoryAsk,
    LogsAsk,
    NewDeployment,
    orchestrator_actor_id,
)
from nunet.orchestrator.events import EVENTS, DeploymentEvent, DeploymentSubmitted
from nunet.orchestrator.lifecycle import TERMINAL
from nunet.orchestrator.results import read_log_lines, results_file
from nunet.orchestrator.state import Deployments, DeploymentState

log = structlog.get_logger("nunet.orchestrator")

BidRounds = Callable[[Requirement, float], Awaitable[RoundResult]]


class DeploymentsActor(Actor):
    """Spawn as `DEPLOYMENTS_ACTOR_ID`. `bid_round` runs one bid round (the matching actor's);
    `results_dir` keeps ended allocations' logs."""

    kind = "deployments"
    beside_mailbox = frozenset((SHUTDOWN_BEHAVIOR, LOGS_BEHAVIOR))

    def __init__(
        self,
        *,
        bid_round: BidRounds,
        results_dir: Path,
        settings: OrchestratorSettings = OrchestratorSettings(),
        default_queue_timeout: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._bid_round = bid_round
        self._results_dir = results_dir
        self._settings = settings
        self._default_queue_timeout = default_queue_timeout
        self._clock = clock
        self.deployments = Deployments()
        self._flat: dict[str, FlatEnsemble] = {}
        self._catalogue = Catalogue(*EVENTS)

    async def on_start(self) -> None:
        types = [kind.TYPE for kind in EVENTS]
        async for record in self.system.event_log.read(types=types):
            self.deployments.apply(self._catalogue.decode(record))
        for deployment, state in self.deployments.by_id.items():
            if state.phase in TERMINAL:
                continue
            try:
                flat = flatten(load_ensemble(state.ensemble))
            except EnsembleError as exc:  # the catalogue changed under it: say so, do not guess
                log.error("deployment not resumed", deployment=deployment, error=str(exc))
                continue
            log.info("resuming deployment", deployment=deployment, phase=state.phase.value)
            await self._spawn(state, flat)

    # -- behaviors ---------------------------------------------------------------------------
    @behavior(NEW_BEHAVIOR, payload_type=NewDeployment)
    async def new(self, message: Message) -> dict[str, Any]:
        ask: NewDeployment = message.payload
        ensemble = _ensemble_of(ask)
        flat = flatten(ensemble)
        try:
            flat.start_order()
        except EnsembleError as exc:
            raise BehaviorFailed(_problems(exc), code="invalid-ensemble") from None
        document = dump_ensemble(ensemble)
        deployment = ask.id or os.urandom(6).hex()
        existing = self.deployments.get(deployment)
        if existing is not None:
            if existing.ensemble != document:
                raise BehaviorFailed(
                    f"deployment {deployment} already exists with a different ensemble; "
                    "choose another id",
                    code="duplicate-deployment",
                )
            return _accepted(existing, duplicate=True)
        event = DeploymentSubmitted(
            deployment=deployment,
            at=self._clock(),
            ensemble_name=ensemble.name,
            ensemble=document,
            requester=message.sender.did,
            nodes={name: list(node.allocations) for name, node in flat.nodes.items()},
            allocations={name: a.allocation.type.value for name, a in flat.allocations.items()},
            queue_timeout=(
                self._default_queue_timeout if ask.queue_timeout is None else ask.queue_timeout
            ),
            source=ask.source,
        )
        state = DeploymentState.submitted(event)
        self.system.event_log.append_nowait(event, actor=str(self.handle))
        self.deployments.by_id[deployment] = state
        await self._spawn(state, flat)
        return _accepted(state, duplicate=False)

    @behavior(LIST_BEHAVIOR)
    async def list_deployments(self, message: Message) -> list[dict[str, Any]]:
        states = sorted(self.deployments.by_id.values(), key=lambda s: -s.submitted_at)
        return [
            {
                "deployment": s.id,
                "name": s.ensemble_name,
                "state": s.phase.value,
                "allocations": len(s.allocations),
                "nodes": len(s.nodes),
                "submitted_at": s.submitted_at,
                "updated_at": s.updated_at,
                "why": s.why,
            }
            for s in states
        ]

    @behavior(STATUS_BEHAVIOR, payload_type=DeploymentAsk)
    async def status(self, message: Message) -> dict[str, Any]:
        return status_of(self._state(message.payload.deployment))

    @behavior(MANIFEST_BEHAVIOR, payload_type=DeploymentAsk)
    async def manifest(self, message: Message) -> dict[str, Any]:
        state = self._state(message.payload.deployment)
        return {
            "deployment": state.id,
            "name": state.ensemble_name,
            "state": state.phase.value,
            "ensemble": state.ensemble,
            "nodes": {
                name: {
                    "provider": node.provider,
                    "reservation": node.reservation,
                    "standby": list(node.standby),
                    "allocations": {
                        a: _handle(state.allocations[a].handle) for a in node.allocations
                    },
                }
                for name, node in state.nodes.items()
            },
        }

    @behavior(RESULTS_BEHAVIOR, payload_type=DeploymentAsk)
    async def results(self, message: Message) -> dict[str, Any]:
        """Where each allocation's outputs were published: every object with its size and
        checksum, or why an output could not be published."""
        return results_of(self._state(message.payload.deployment))

    @behavior(HISTORY_BEHAVIOR, payload_type=HistoryAsk)
    async def history(self, message: Message) -> dict[str, Any]:
        ask: HistoryAsk = message.payload
        state = self._state(ask.deployment)
        entries = state.history[ask.after :]
        return {
            "deployment": state.id,
            "state": state.phase.value,
            "services": bool(state.services),
            "entries": [{"at": e.at, "type": e.type, "summary": e.summary} for e in entries],
            "next": len(state.history),
        }

    @behavior(LOGS_BEHAVIOR, payload_type=LogsAsk)
    async def logs(self, message: Message) -> dict[str, Any]:
        """Live allocations are asked; ended ones answer from their collected results."""
        ask: LogsAsk = message.payload
        state = self._state(ask.deployment)
        names = list(state.allocations) if ask.allocation is None else [ask.allocation]
        unknown = [n for n in names if n not in state.allocations]
        if unknown:
            raise BehaviorFailed(
                f"deployment {state.id} has no allocation {unknown[0]!r}; it has "
                + ", ".join(sorted(state.allocations)),
                code="unknown-allocation",
            )
        out: dict[str, list[Any]] = {}
        for name in names:
            since = ask.since.get(name)
            out[name] = await self._lines(state, name, since, ask.limit)
        return {"deployment": state.id, "state": state.phase.value, "logs": out}

    @behavior(CLAIM_BEHAVIOR, payload_type=ClaimAsk, public=True)
    async def claim(self, message: Message) -> Claim:
        """Whether a deployment still holds its node `node` on the asking machine: a provider
        that recovered a commitment asks, and gives it up when it is not claimed."""
        ask: ClaimAsk = message.payload
        return claim_of(self.deployments.get(ask.deployment), ask.node, message.sender.did)

    @behavior(SHUTDOWN_BEHAVIOR, payload_type=DeploymentAsk)
    async def shutdown(self, message: Message) -> dict[str, Any]:
        state = self._state(message.payload.deployment)
        orchestrator = self._orchestrator(state.id)
        if orchestrator is not None:
            state = await orchestrator.shutdown(message.sender.did, "shut down on request")
        return status_of(state)

    # -- inside ------------------------------------------------------------------------------
    async def _spawn(self, state: DeploymentState, flat: FlatEnsemble) -> None:
        self._flat[state.id] = flat
        orchestrator = OrchestratorActor(
            flat=flat,
            state=state,
            bid_round=self._bid_round,
            results_dir=self._results_dir,
            settings=self._settings,
            on_change=self._changed,
            clock=self._clock,
        )
        await self.system.spawn(
            orchestrator, orchestrator_actor_id(state.id), on_exit=self._orchestrator_exited
        )

    async def _orchestrator_exited(self, actor_id: str, error: BaseException | None) -> None:
        if error is not None:
            log.error("orchestrator failed", actor=actor_id, error=repr(error))

    def _changed(self, state: DeploymentState) -> None:
        self.deployments.by_id[state.id] = state
        if state.phase in TERMINAL and state.torn_down:
            self.spawn_task(self._retire(state.id))

    async def _retire(self, deployment: str) -> None:
        actor_id = orchestrator_actor_id(deployment)
        if self.system.actor(actor_id) is not None:
            await self.system.stop(actor_id)

    def _orchestrator(self, deployment: str) -> OrchestratorActor | None:
        actor = self.system.actor(orchestrator_actor_id(deployment))
        return actor if isinstance(actor, OrchestratorActor) else None

    def _state(self, deployment: str) -> DeploymentState:
        state = self.deployments.get(deployment)
        if state is None:
            raise BehaviorFailed(
                f"no deployment {deployment!r} on this node (see `nunet deployments list`)",
                code="unknown-deployment",
            )
        return state

    async def _lines(
        self, state: DeploymentState, name: str, since: float | None, limit: int
    ) -> list[Any]:
        view = state.allocations[name]
        orchestrator = self._orchestrator(state.id)
        if name in state.results or view.handle is None or orchestrator is None:
            kept = await read_log_lines(results_file(self._results_dir, state.id, name))
            return [entry for entry in kept if since is None or entry[0] > since][:limit]
        try:
            answer = await self.invoke(
                view.handle,
                ALLOCATION_LOGS_BEHAVIOR,
                AllocationLogsAsk(deployment=state.id, allocation=name, since=since, limit=limit),
                timeout=10.0,
            )
        except NunetError as exc:
            raise BehaviorFailed(
                f"allocation {name} did not answer for its logs: {exc}", code="logs-unavailable"
            ) from None
        return list(answer) if isinstance(answer, list) else []  # already after `since`


def claim_of(state: DeploymentState | None, node: str, provider: str) -> Claim:
    """Whether `provider` still holds `node` of the deployment whose state is `state`."""
    if state is None:
        return Claim(claimed=False, why="no such deployment here")
    if state.phase in TERMINAL:
        return Claim(claimed=False, why=f"the deployment is {state.phase.value}")
    view = state.nodes.get(node)
    if view is None:
        return Claim(claimed=False, why=f"the deployment has no node {node}")
    if view.provider == provider or provider in view.standby:
        return Claim(claimed=True)
    return Claim(claimed=False, why=f"node {node} is now on {view.provider or 'no machine'}")


def _ensemble_of(ask: NewDeployment) -> Ensemble:
    try:
        if isinstance(ask.ensemble, str):
            if len(ask.ensemble.encode()) > MAX_ENSEMBLE_BYTES:
                raise BehaviorFailed(
                    f"the ensemble is over {MAX_ENSEMBLE_BYTES} bytes", code="invalid-ensemble"
                )
            return parse_ensemble_text(ask.ensemble, source=ask.source)
        return load_ensemble(ask.ensemble)
    except EnsembleError as exc:
        raise BehaviorFailed(_problems(exc), code="invalid-ensemble") from None


def _problems(exc: EnsembleError) -> str:
    return "\n".join(str(p) for p in exc.problems)


def _accepted(state: DeploymentState, *, duplicate: bool) -> dict[str, Any]:
    return {
        "deployment": state.id,
        "name": state.ensemble_name,
        "state": state.phase.value,
        "duplicate": duplicate,
    }


def _handle(handle: Handle | None) -> dict[str, str] | None:
    if handle is None:
        return None
    return {"did": handle.did, "actor": handle.actor, "node": handle.node}


def results_of(state: DeploymentState) -> dict[str, Any]:
    return {
        "deployment": state.id,
        "state": state.phase.value,
        "allocations": {
            name: {
                "node": published.node,
                "run": published.run,
                "outputs": [msgspec.to_builtins(output) for output in published.outputs],
            }
            for name, published in sorted(state.published.items())
        },
    }


def status_of(state: DeploymentState) -> dict[str, Any]:
    return {
        "deployment": state.id,
        "name": state.ensemble_name,
        "state": state.phase.value,
        "why": state.why,
        "torn_down": state.torn_down,  # every machine released what it held
        "services": bool(state.services),
        "submitted_at": state.submitted_at,
        "updated_at": state.updated_at,
        "attempts": state.attempts,
        "nodes": {
            name: {
                "provider": node.provider,
                "standby": list(node.standby),
                "lost": node.lost,
                "error": node.error,
            }
            for name, node in state.nodes.items()
        },
        "allocations": {
            name: {
                "node": view.node,
                "provider": state.nodes[view.node].provider,
                "type": view.type,
                "state": view.state.value,
                "run": view.run,
                "restarts": view.restarts,
                "exit_code": view.exit_code,
                "error": view.error,
                "healthy": view.healthy,
            }
            for name, view in state.allocations.items()
        },
        "results": {
            name: {"state": r.state, "exit_code": r.exit_code, "log_lines": r.log_lines}
            for name, r in state.results.items()
        },
    }


__all__ = ["DeploymentEvent", "DeploymentsActor", "status_of"]
