"""The presence actor: announces this node every heartbeat, hears the others, keeps the peer
table, measures RTTs, and answers the `/dms/node/peers/*` behaviors."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import msgspec
import structlog

import nunet
from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.errors import NunetError
from nunet.peers.announcement import (
    PING_BEHAVIOR,
    PRESENCE_BEHAVIOR,
    PRESENCE_TOPIC,
    Presence,
    named_addresses,
)
from nunet.peers.errors import UnknownPeer
from nunet.peers.events import PresenceRefused, event_of
from nunet.peers.links import Links
from nunet.peers.table import (
    MAX_HEARTBEAT_SECONDS,
    MIN_HEARTBEAT_SECONDS,
    CameUp,
    Joined,
    PeerRecord,
    PeerTable,
    Restarted,
    Transition,
)

log = structlog.get_logger("nunet.peers")

PEERS_ACTOR_ID = "peers"
LIST_BEHAVIOR = "/dms/node/peers/list"
PEER_PING_BEHAVIOR = "/dms/node/peers/ping"
SCORE_BEHAVIOR = "/dms/node/peers/score"
CONNECT_BEHAVIOR = "/dms/node/peers/connect"
RTT_BEHAVIOR = "/dms/node/peers/rtt"
MAX_RTT_PEERS = 256


class PingRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    did: str


class RttRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`/dms/node/peers/rtt`: this node's round-trip time to each of `peers` (a placement asks
    its candidates this to check an ensemble's edge constraints)."""

    peers: Annotated[list[str], msgspec.Meta(max_length=MAX_RTT_PEERS)]


class ConnectRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    address: str


class ProbeFailed(NunetError):
    """A peer did not answer a ping."""


class PresenceActor(Actor):
    """Peer discovery for one node.

    Every `heartbeat_seconds` it publishes a `Presence` on `topic`; every half interval it ticks
    the table, so a silent peer is declared down within three of its intervals (see
    `PeerTable`). Every transition is an event in the node's log.

    RTT policy: once per heartbeat, at most `probes_per_heartbeat` UP peers are pinged, those
    never measured first (so a newcomer is measured on the heartbeat after it joins: a round
    also starts at once when a peer joins, comes up or restarts), then those measured longest
    ago, and no peer more often than every `probe_refresh_seconds` (default: 12 heartbeats).
    So probing costs at most `probes_per_heartbeat` pings per heartbeat however large the swarm.
    """

    kind = "peers"
    # Behaviors that wait on the network run beside the mailbox, so a slow or dead peer never
    # holds up the presences behind them (which would make the table see silence that is not
    # there).
    beside_mailbox = frozenset((PEER_PING_BEHAVIOR, CONNECT_BEHAVIOR, RTT_BEHAVIOR))

    def __init__(
        self,
        *,
        heartbeat_seconds: float,
        addresses: Mapping[str, str] | Sequence[str],
        links: Links | None,
        topic: str = PRESENCE_TOPIC,
        down_after_missed: int = 2,
        max_peers: int = 1024,
        probes_per_heartbeat: int = 4,
        probe_refresh_seconds: float | None = None,
        ping_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        if not MIN_HEARTBEAT_SECONDS <= heartbeat_seconds <= MAX_HEARTBEAT_SECONDS:
            raise ValueError(
                f"heartbeat_seconds must be within [{MIN_HEARTBEAT_SECONDS}, "
                f"{MAX_HEARTBEAT_SECONDS}], not {heartbeat_seconds}"
            )
        if probes_per_heartbeat < 0:
            raise ValueError(f"probes_per_heartbeat cannot be negative: {probes_per_heartbeat}")
        self._interval = heartbeat_seconds
        self._addresses = named_addresses(addresses)
        self._links = links
        self._topic = topic
        self._table = PeerTable(down_after_missed=down_after_missed, max_peers=max_peers)
        self._probes_per_heartbeat = probes_per_heartbeat
        self._probe_refresh = (
            probe_refresh_seconds if probe_refresh_seconds is not None else 12 * heartbeat_seconds
        )
        self._ping_timeout = (
            ping_timeout if ping_timeout is not None else min(10.0, max(1.0, 2 * heartbeat_seconds))
        )
        self._clock = clock
        self._wall_clock = wall_clock
        self._incarnation = 0
        self._counter = 0
        self._round: asyncio.Task[None] | None = None

    @property
    def table(self) -> PeerTable:
        """The peer table (read it; only this actor changes it)."""
        return self._table

    # -- lifecycle ---------------------------------------------------------------------------
    async def on_start(self) -> None:
        self._incarnation = time.time_ns()
        await self.subscribe(self._topic)
        await self._announce()
        self.spawn_task(self._pulse(), name=f"peers:pulse:{self.handle.actor}")

    # -- behaviors heard from the swarm ------------------------------------------------------
    @behavior(PRESENCE_BEHAVIOR, public=True)
    async def on_presence(self, message: Message) -> None:
        sender = message.sender
        if sender.did == self.handle.did:
            return  # our own announcement, delivered to us in memory
        # Converted here rather than by the runtime, so that a malformed presence is logged:
        # a broadcast asks for no reply, and would otherwise vanish without a trace.
        try:
            presence = msgspec.convert(message.payload, Presence, strict=False)
        except msgspec.ValidationError as exc:
            payload = message.payload
            claimed = payload.get("did") if isinstance(payload, dict) else None
            self._refuse(sender.did, claimed if isinstance(claimed, str) else "", f"{exc}")
            return
        problem = _mismatch(presence, sender)
        if problem is not None:
            self._refuse(sender.did, presence.did, problem)
            return
        self._apply(self._table.observe(presence, self._clock()))

    @behavior(PING_BEHAVIOR, public=True)
    async def on_ping(self, message: Message) -> dict[str, str]:
        return {"did": self.handle.did}

    # -- behaviors for the node's users ------------------------------------------------------
    @behavior(LIST_BEHAVIOR)
    async def list_peers(self, message: Message) -> list[dict[str, Any]]:
        now = self._clock()
        return [self._row(peer, now) for peer in self._table.records()]

    @behavior(SCORE_BEHAVIOR)
    async def scores(self, message: Message) -> list[dict[str, Any]]:
        now = self._clock()
        scored = sorted(
            ((self._table.score(peer.did, now), peer) for peer in self._table.records()),
            key=lambda pair: (-pair[0], pair[1].did),
        )
        return [
            {
                "did": peer.did,
                "state": peer.state.value,
                "score": round(score, 4),
                "uptime": round(self._table.uptime(peer, now), 4),
            }
            for score, peer in scored
        ]

    @behavior(PEER_PING_BEHAVIOR, payload_type=PingRequest)
    async def ping_peer(self, message: Message) -> dict[str, Any]:
        did = message.payload.did
        try:
            rtt = await self._probe(did)
        except UnknownPeer as exc:
            raise BehaviorFailed(str(exc), code="unknown-peer") from None
        except ProbeFailed as exc:
            raise BehaviorFailed(str(exc), code="peer-unreachable") from None
        peer = self._table.get(did) if did in self._table else None
        return {
            "did": did,
            "rtt_seconds": rtt,
            "smoothed_rtt_seconds": peer.rtt_smoothed if peer is not None else rtt,
        }

    @behavior(RTT_BEHAVIOR, payload_type=RttRequest, public=True)
    async def rtt_to(self, message: Message) -> dict[str, float | None]:
        """Smoothed RTT in seconds to each peer asked about; a peer known but never measured is
        pinged now; an unknown or unanswering one is None. Public: it tells what presence pings
        already show any peer."""
        peers: list[str] = list(dict.fromkeys(message.payload.peers))

        async def one(did: str) -> float | None:
            if did == self.handle.did:
                return 0.0
            if did not in self._table:
                return None
            smoothed = self._table.get(did).rtt_smoothed
            if smoothed is not None:
                return smoothed
            with contextlib.suppress(ProbeFailed):
                return await self._probe(did)
            return None

        return dict(zip(peers, await asyncio.gather(*(one(did) for did in peers)), strict=True))

    @behavior(CONNECT_BEHAVIOR, payload_type=ConnectRequest)
    async def connect(self, message: Message) -> dict[str, str]:
        if self._links is None:
            raise BehaviorFailed("this node has no mesh links to manage", code="no-mesh-links")
        address = message.payload.address.strip()
        if not address:
            raise BehaviorFailed("connect needs a hub address", code="invalid-payload")
        try:
            await self._links.connect(address)
        except NunetError as exc:
            raise BehaviorFailed(f"no link to {address}: {exc}", code="connect-failed") from None
        return {"connected": address}

    # -- the heartbeat -----------------------------------------------------------------------
    async def _pulse(self) -> None:
        """Every half interval: tick the table; every other beat: announce and probe."""
        loop = asyncio.get_running_loop()
        half = self._interval / 2
        next_at = loop.time()
        beat = 0
        while True:
            next_at += half
            delay = next_at - loop.time()
            if delay < 0:  # the loop was stalled: carry on from now rather than burst
                next_at, delay = loop.time(), 0.0
            await asyncio.sleep(delay)
            beat += 1
            if beat % 2 == 0:
                await self._announce()
                self._probe_round_soon()
            self._apply(self._table.tick(self._clock()))

    async def _announce(self) -> None:
        presence = Presence(
            did=self.handle.did,
            node=self.handle.node,
            actor=self.handle.actor,
            addresses=self._addresses,
            heartbeat_seconds=self._interval,
            version=nunet.__version__,
            incarnation=self._incarnation,
            counter=self._counter,
        )
        self._counter += 1  # a failed publish leaves a gap: receivers count it as lost
        # A stale presence is harmless (the counter orders them), so the expiry only needs
        # to exceed the clock skew between nodes, not the interval.
        expiry = min(600.0, max(30.0, 2 * self._interval))
        try:
            await self.publish(
                self._topic, PRESENCE_BEHAVIOR, msgspec.to_builtins(presence), expiry=expiry
            )
        except NunetError as exc:
            log.warning("presence not announced", topic=self._topic, error=str(exc))

    # -- RTT ---------------------------------------------------------------------------------
    def _probe_round_soon(self) -> None:
        if self._round is None or self._round.done():
            self._round = self.spawn_task(self._probe_round(), name="peers:probe")

    async def _probe_round(self) -> None:
        due = self._table.due_for_probe(
            self._clock(), limit=self._probes_per_heartbeat, refresh_seconds=self._probe_refresh
        )
        await asyncio.gather(*(self._probe(did) for did in due), return_exceptions=True)

    async def _probe(self, did: str) -> float:
        """Ping `did` now; its RTT in seconds, recorded in the table. ProbeFailed if unanswered."""
        peer = self._table.get(did)
        started = self._clock()
        try:
            await self.invoke(
                Handle(did, peer.actor, peer.node), PING_BEHAVIOR, timeout=self._ping_timeout
            )
        except NunetError as exc:
            self._table.probe_failed(did, self._clock())
            raise ProbeFailed(f"peer {did} at {peer.node} did not answer a ping: {exc}") from None
        finished = self._clock()
        rtt = max(0.0, finished - started)
        self._table.measured_rtt(did, rtt, finished)
        return rtt

    # -- plumbing ----------------------------------------------------------------------------
    def _apply(self, transitions: list[Transition]) -> None:
        for transition in transitions:
            event = event_of(transition)
            self._record(event)
            log.info(event.TYPE, did=transition.did)
        if any(isinstance(t, Joined | CameUp | Restarted) for t in transitions):
            self._probe_round_soon()  # measure newcomers now, not a heartbeat later

    def _refuse(self, sender: str, claimed: str, reason: str) -> None:
        self._record(PresenceRefused(sender_did=sender, claimed_did=claimed[:256], reason=reason))
        log.warning("presence refused", sender=sender, reason=reason)

    def _record(self, event: Any) -> None:
        self.system.event_log.append_nowait(event, actor=str(self.handle))

    def _row(self, peer: PeerRecord, now: float) -> dict[str, Any]:
        to_wall = self._wall_clock() - now
        return {
            "did": peer.did,
            "state": peer.state.value,
            "node": peer.node,
            "addresses": dict(peer.addresses),
            "version": peer.version,
            "heartbeat_seconds": peer.heartbeat_seconds,
            "first_seen": round(peer.first_seen + to_wall, 3),
            "last_seen": round(peer.last_seen + to_wall, 3),
            "missed": self._table.missed(peer, now),
            "lost": peer.lost,
            "rtt_seconds": peer.rtt_last,
            "smoothed_rtt_seconds": peer.rtt_smoothed,
            "score": round(self._table.score(peer.did, now), 4),
        }


def _mismatch(presence: Presence, sender: Handle) -> str | None:
    """Why `presence` cannot be believed of its signed sender, or None if it can."""
    for field, claimed, actual in (
        ("did", presence.did, sender.did),
        ("node", presence.node, sender.node),
        ("actor", presence.actor, sender.actor),
    ):
        if claimed != actual:
            return (
                f"the presence claims {field} {claimed!r} but its signed envelope says {actual!r}"
            )
    return None
