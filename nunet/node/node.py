"""A running node: keys, event log, document store, capability context, actors — wired together."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from nunet.actor import (
    ActorSystem,
    Child,
    ChildSpec,
    EnvelopeGuard,
    Handle,
    Intensity,
    ReplayWindow,
    Strategy,
    Supervisor,
)
from nunet.actor.ratelimit import RateLimits
from nunet.allocation import PROVIDER_ACTOR_ID, OnboardingReservations, ProviderActor
from nunet.capability.model import Requirement
from nunet.catalogue import known_projections
from nunet.contracts.actor import ContractsActor
from nunet.contracts.config import ContractsConfig
from nunet.contracts.local_ledger import LocalLedger
from nunet.contracts.protocol import CONTRACTS_ACTOR_ID
from nunet.db import DocumentStore, SQLiteDocumentStore
from nunet.eventlog import (
    Checkpointer,
    Event,
    EventLog,
    EventLogError,
    ProjectionRunner,
    SQLiteProjectionStore,
)
from nunet.executor import Executor
from nunet.identity import KeyPair, KeyStore
from nunet.index import CapabilityIndex
from nunet.matching import MATCHING_ACTOR_ID, MatchingActor, RankerChain
from nunet.matching.bid import BidTerms
from nunet.matching.errors import MatchingError
from nunet.matching.round import RoundResult
from nunet.mesh.events import MeshServerGaveUp
from nunet.network import Transport
from nunet.node.capability_index import start_index_feed
from nunet.node.config import NodeConfig, OrchestratorConfig
from nunet.node.event_store import open_node_log
from nunet.node.executors import open_executors
from nunet.node.layout import NodeLayout
from nunet.node.mesh import NodeMesh, join_swarm, open_mesh
from nunet.node.node_actor import NODE_ACTOR_ID, NodeActor
from nunet.node.storage import open_node_storage
from nunet.node.user_agent import USER_ACTOR_ID, UserAgent
from nunet.onboarding import ONBOARDING_ACTOR_ID, OnboardingActor, offering_of
from nunet.orchestrator.actor import OrchestratorSettings
from nunet.orchestrator.behaviors import DEPLOYMENTS_ACTOR_ID
from nunet.orchestrator.deployments import DeploymentsActor
from nunet.peers import PEERS_ACTOR_ID, Links, PeerState, PresenceActor
from nunet.ucan import CapabilityContext, FileAnchorStore, anchor_path

ROOT_SUPERVISOR_ID = "root"


async def _stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task})


async def _final_checkpoint(task: asyncio.Task[None], checkpointer: Checkpointer) -> None:
    """Stop periodic checkpoints and sign the head once more, so a clean stop leaves a witness."""
    await _stop_task(task)
    with contextlib.suppress(EventLogError):
        await checkpointer.checkpoint()


def _presence(system: ActorSystem) -> PresenceActor | None:
    actor = system.actor(PEERS_ACTOR_ID)
    return actor if isinstance(actor, PresenceActor) else None


def _peer_rtt(system: ActorSystem, did: str) -> float | None:
    """The smoothed RTT to `did` the presence actor measured, if any (the locality ranker)."""
    presence = _presence(system)
    if presence is None or did not in presence.table:
        return None
    return presence.table.get(did).rtt_smoothed


def _matching(system: ActorSystem) -> MatchingActor:
    actor = system.actor(MATCHING_ACTOR_ID)
    if not isinstance(actor, MatchingActor):
        raise MatchingError("the matching actor is not running (it is being restarted)")
    return actor


def _issued_bid(system: ActorSystem, request_id: str, orchestrator: str) -> BidTerms | None:
    actor = system.actor(MATCHING_ACTOR_ID)
    return actor.issued_bid(request_id, orchestrator) if isinstance(actor, MatchingActor) else None


async def _bid_round(system: ActorSystem, requirement: Requirement, timeout: float) -> RoundResult:
    return await _matching(system).bid_round(requirement, timeout=timeout)


def orchestrator_settings(
    config: OrchestratorConfig, contracts: ContractsConfig = ContractsConfig()
) -> OrchestratorSettings:
    return OrchestratorSettings(
        bid_timeout=config.bid_timeout_seconds,
        commit_timeout=config.commit_timeout_seconds,
        hold_seconds=config.hold_seconds,
        heartbeat_seconds=config.heartbeat_seconds,
        missed_heartbeats=config.missed_heartbeats,
        contract_defaults=contracts.defaults(),
    )


def _contract_desk(system: ActorSystem) -> ContractsActor | None:
    desk = system.actor(CONTRACTS_ACTOR_ID)
    return desk if isinstance(desk, ContractsActor) else None


def _live_nodes(system: ActorSystem) -> int | None:
    """The nodes a bid round may wait for: the peers up and this node."""
    presence = _presence(system)
    if presence is None:
        return None
    return 1 + sum(1 for peer in presence.table.records() if peer.state is PeerState.UP)


class Node:
    """One node. Open with `Node.open(...)`, use as an async context manager or call `close()`."""

    def __init__(
        self,
        *,
        layout: NodeLayout,
        config: NodeConfig,
        key: KeyPair,
        user_key: KeyPair,
        log: EventLog,
        store: DocumentStore,
        capabilities: CapabilityContext,
        system: ActorSystem,
        mesh: NodeMesh,
        index: CapabilityIndex,
        executors: dict[str, Executor],
        failed: asyncio.Event,
        exits: AsyncExitStack,
    ) -> None:
        self.layout = layout
        self.config = config
        self.key = key
        self.user_key = user_key
        self.log = log
        self.store = store
        self.capabilities = capabilities
        self.system = system
        self.mesh = mesh
        self.index = index  # the swarm's offers, as the replicated logs tell them
        self.executors = executors  # by name: what this node can run work with now
        self.failed = failed  # set when the root supervisor or the NATS server gave up
        self._exits = exits

    @classmethod
    async def open(
        cls,
        home: Path,
        passphrase: str,
        config: NodeConfig | None = None,
        *,
        transport: Transport | None = None,
        links: Links | None = None,
        addresses: Mapping[str, str] | None = None,
    ) -> Node:
        """Open the node in `home`. By default its mesh is what `config.mesh` says; a given
        `transport` replaces it (with `links` and `addresses` for the presence actor)."""
        config = config or NodeConfig()
        layout = NodeLayout(home)
        keystore = KeyStore(layout.keys, passphrase)
        key = keystore.load(config.node_key)
        user_key = keystore.load(config.user_key)
        async with AsyncExitStack() as exits:
            log = await open_node_log(layout, config, key.did)
            exits.push_async_callback(log.close)
            store = await SQLiteDocumentStore.open(layout.store)
            exits.push_async_callback(store.close)
            projections = await SQLiteProjectionStore.open(layout.projections)
            exits.push_async_callback(projections.close)
            for make in known_projections().values():
                runner = ProjectionRunner(log, make(), projections)
                task = asyncio.create_task(
                    runner.run(), name=f"projection:{runner.projection.name}"
                )
                exits.push_async_callback(_stop_task, task)
            anchors = FileAnchorStore.open_or_create(anchor_path(home, config.node_key), key.did)
            capabilities = CapabilityContext(key.did, anchors)
            rates = RateLimits(
                sender_rate=config.rate_limits.per_sender_per_second,
                sender_burst=config.rate_limits.per_sender_burst,
                topic_rate=config.rate_limits.per_topic_per_second,
                topic_burst=config.rate_limits.per_topic_burst,
            )
            guard = EnvelopeGuard(
                key.did,
                capabilities,
                rates=rates,
                replay=ReplayWindow(),
                max_skew_seconds=config.clock_skew_seconds,
            )
            checkpointer = Checkpointer(
                log,
                key,
                every_records=config.log.checkpoint_every_records,
                every_seconds=config.log.checkpoint_every_seconds,
            )
            checkpoints = asyncio.create_task(checkpointer.run(), name="checkpointer")
            exits.push_async_callback(_final_checkpoint, checkpoints, checkpointer)
            node_actor = str(Handle(key.did, NODE_ACTOR_ID, key.did))
            failed = asyncio.Event()  # set when the node cannot go on: it must stop

            def record(event: Event) -> None:
                log.append_nowait(event, actor=node_actor)
                if isinstance(event, MeshServerGaveUp):
                    failed.set()  # no swarm without its server: let the service manager restart

            if transport is None:
                mesh = await open_mesh(layout, config, key.did, record, exits)
            else:
                mesh = NodeMesh("given", transport, addresses=dict(addresses or {}), links=links)
            system = ActorSystem(
                key,
                mesh.transport,
                log,
                guard,
                proofs=lambda behavior, topic: capabilities.proofs_for(
                    behavior, topic=topic, now=time.time()
                ),
                max_envelope_bytes=config.max_envelope_bytes,
            )
            # Closed after the actor system: an allocation still uploading its outputs while the
            # node stops sees its transfer cut, not a store closed under it.
            after_actors = AsyncExitStack()
            exits.push_async_callback(after_actors.aclose)
            await system.start()
            exits.push_async_callback(system.close)
            await join_swarm(mesh, layout, config, key.did, log, store, exits)
            executors = await open_executors(config, layout, key.did, record, exits)
            storage = await open_node_storage(config, layout, mesh, after_actors)
            ledger = await LocalLedger.open(
                log, actor=str(Handle(key.did, CONTRACTS_ACTOR_ID, key.did))
            )
            index = CapabilityIndex()
            exits.push_async_callback(
                _stop_task, start_index_feed(index, mesh, config, log, key.did)
            )

            async def on_root_exit(actor_id: str, error: BaseException | None) -> None:
                if error is not None:
                    failed.set()

            started_at = time.time()
            root = Supervisor(
                Strategy.ONE_FOR_ONE,
                [
                    Child(ChildSpec(NODE_ACTOR_ID), lambda: NodeActor(store, started_at)),
                    Child(ChildSpec(USER_ACTOR_ID), UserAgent, key=user_key),
                    Child(
                        ChildSpec(PEERS_ACTOR_ID),
                        lambda: PresenceActor(
                            heartbeat_seconds=config.mesh.heartbeat_seconds,
                            addresses=mesh.addresses,
                            links=mesh.links,
                        ),
                    ),
                    Child(
                        ChildSpec(ONBOARDING_ACTOR_ID),
                        lambda: OnboardingActor(
                            home,
                            store,
                            benchmark_budget_seconds=config.onboarding.benchmark_budget_seconds,
                            benchmark_on_onboard=config.onboarding.benchmark_on_onboard,
                            ram_headroom=config.onboarding.ram_headroom_bytes,
                            executors=lambda: tuple(executors),
                        ),
                    ),
                    Child(
                        ChildSpec(MATCHING_ACTOR_ID),
                        lambda: MatchingActor(
                            offering=lambda: offering_of(system),
                            rtt=lambda did: _peer_rtt(system, did),
                            expected=lambda: _live_nodes(system),
                            chain=RankerChain.from_weights(config.matching.rankers),
                            reject_requesters=frozenset(config.matching.reject_requesters),
                            bid_validity_seconds=config.matching.bid_validity_seconds,
                            clock_skew_seconds=config.clock_skew_seconds,
                            index=index,
                        ),
                    ),
                    Child(
                        ChildSpec(CONTRACTS_ACTOR_ID),
                        lambda: ContractsActor(
                            ledger=ledger,
                            policy=config.contracts.policy(),
                            checkpoint=checkpointer.checkpoint,
                        ),
                    ),
                    Child(
                        ChildSpec(PROVIDER_ACTOR_ID),
                        lambda: ProviderActor(
                            executors=executors,
                            issued_bid=lambda request, orchestrator: _issued_bid(
                                system, request, orchestrator
                            ),
                            reservations=OnboardingReservations(system),
                            work_dir=layout.allocations,
                            storage=storage,
                            contracts=lambda: _contract_desk(system),
                        ),
                    ),
                    Child(
                        ChildSpec(DEPLOYMENTS_ACTOR_ID),
                        lambda: DeploymentsActor(
                            bid_round=lambda requirement, timeout: _bid_round(
                                system, requirement, timeout
                            ),
                            results_dir=layout.results,
                            settings=orchestrator_settings(config.orchestrator, config.contracts),
                            default_queue_timeout=config.orchestrator.queue_timeout_seconds,
                        ),
                    ),
                ],
                intensity=Intensity(
                    config.supervision.max_restarts, config.supervision.period_seconds
                ),
            )
            await system.spawn(root, ROOT_SUPERVISOR_ID, on_exit=on_root_exit)
            return cls(
                layout=layout,
                config=config,
                key=key,
                user_key=user_key,
                log=log,
                store=store,
                capabilities=capabilities,
                system=system,
                mesh=mesh,
                index=index,
                executors=executors,
                failed=failed,
                exits=exits.pop_all(),
            )

    async def close(self) -> None:
        await self._exits.aclose()

    async def __aenter__(self) -> Node:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def did(self) -> str:
        return self.key.did

    @property
    def node_handle(self) -> Handle:
        return self.system.handle_of(NODE_ACTOR_ID)

    def _user(self) -> UserAgent:
        agent = self.system.actor(USER_ACTOR_ID)
        if not isinstance(agent, UserAgent):
            raise RuntimeError("the user agent is not running")
        return agent

    async def invoke_as_user(
        self,
        behavior: str,
        payload: Any = None,
        *,
        to: Handle | None = None,
        timeout: float = 10.0,
        trace: str | None = None,
    ) -> Any:
        return await self._user().invoke(
            to or self.node_handle, behavior, payload, timeout=timeout, trace=trace
        )

    async def send_as_user(
        self,
        behavior: str,
        payload: Any = None,
        *,
        to: Handle | None = None,
        trace: str | None = None,
    ) -> None:
        await self._user().send(to or self.node_handle, behavior, payload, trace=trace)

    async def broadcast_as_user(
        self, topic: str, behavior: str, payload: Any = None, *, trace: str | None = None
    ) -> None:
        await self._user().publish(topic, behavior, payload, trace=trace)
