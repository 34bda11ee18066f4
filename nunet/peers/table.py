"""The peer table: what this node knows of every peer, as a pure state machine.

No I/O and no clock: every input carries `now` (seconds, from one monotonic clock the caller
chooses), and every input returns the transitions it caused, which the caller logs.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from nunet.peers.announcement import Presence
from nunet.peers.errors import UnknownPeer

MIN_HEARTBEAT_SECONDS: Final = 0.05
MAX_HEARTBEAT_SECONDS: Final = 3600.0
"""An announced heartbeat interval is clamped to this range, so a peer cannot make itself
declared down at once (0) or never (infinity)."""


def _clamped_interval(seconds: float) -> float:
    if math.isnan(seconds):
        return MAX_HEARTBEAT_SECONDS
    return min(max(seconds, MIN_HEARTBEAT_SECONDS), MAX_HEARTBEAT_SECONDS)


class PeerState(enum.Enum):
    UP = "up"
    DOWN = "down"


# -- transitions (what the caller logs) --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Joined:
    did: str
    node: str
    addresses: Mapping[str, str]
    heartbeat_seconds: float
    version: str


@dataclass(frozen=True, slots=True)
class WentDown:
    did: str
    missed: int  # heartbeats overdue when it was declared down
    silent_seconds: float


@dataclass(frozen=True, slots=True)
class CameUp:
    did: str
    down_seconds: float


@dataclass(frozen=True, slots=True)
class AddressChanged:
    did: str
    old_node: str
    node: str
    old_addresses: Mapping[str, str]
    addresses: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Restarted:
    did: str
    previous_incarnation: int
    incarnation: int


@dataclass(frozen=True, slots=True)
class Evicted:
    did: str
    silent_seconds: float


Transition = Joined | WentDown | CameUp | AddressChanged | Restarted | Evicted


# -- the rules ---------------------------------------------------------------------------------
class _Input(enum.Enum):
    # Fresh: a later (incarnation, counter) than any heard from the DID, or, from a DOWN peer,
    # any other incarnation. Stale: reordered or duplicated.
    FRESH_PRESENCE = "fresh presence"
    STALE_PRESENCE = "stale presence"
    OVERDUE_TICK = "overdue tick"  # missed >= down_after_missed heartbeats
    ON_TIME_TICK = "on-time tick"


# (state, input) -> (next state, transition reported). None as a state: not in the table.
# A fresh presence also reports Restarted (higher incarnation) and AddressChanged (other node
# or addresses), whatever the state. RTT measurements never change the state: only presences
# are evidence of a peer's liveness, so there is one source of truth for up and down.
_RULES: Final[
    dict[tuple[PeerState | None, _Input], tuple[PeerState, type[Joined | WentDown | CameUp] | None]]
] = {
    (None, _Input.FRESH_PRESENCE): (PeerState.UP, Joined),
    (PeerState.UP, _Input.FRESH_PRESENCE): (PeerState.UP, None),
    (PeerState.UP, _Input.STALE_PRESENCE): (PeerState.UP, None),
    (PeerState.UP, _Input.OVERDUE_TICK): (PeerState.DOWN, WentDown),
    (PeerState.UP, _Input.ON_TIME_TICK): (PeerState.UP, None),
    (PeerState.DOWN, _Input.FRESH_PRESENCE): (PeerState.UP, CameUp),
    (PeerState.DOWN, _Input.STALE_PRESENCE): (PeerState.DOWN, None),
    (PeerState.DOWN, _Input.OVERDUE_TICK): (PeerState.DOWN, None),  # reported once already
    (PeerState.DOWN, _Input.ON_TIME_TICK): (PeerState.DOWN, None),  # only a presence revives
}


# -- the score ---------------------------------------------------------------------------------
SCORE_WEIGHTS: Final = {"uptime": 0.4, "recency": 0.2, "delivery": 0.2, "latency": 0.2}
RTT_REFERENCE_SECONDS: Final = 0.05
"""The smoothed RTT at which the latency term is 0.5."""


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """One peer as the table knows it; a snapshot, safe to hand out."""

    did: str
    node: str
    actor: str  # the actor on `node` that announced, and answers pings
    addresses: Mapping[str, str]
    heartbeat_seconds: float
    version: str
    incarnation: int
    counter: int
    state: PeerState
    first_seen: float
    last_seen: float
    state_since: float
    up_seconds: float  # time up before `state_since`
    heard: int  # presences accepted
    lost: int  # heartbeats its counter shows were sent but never arrived
    rtt_last: float | None = None
    rtt_smoothed: float | None = None
    probed_at: float | None = None
    probe_ok: bool | None = None  # whether the latest RTT probe was answered
    probe_failures: int = 0

    @property
    def position(self) -> tuple[int, int]:
        return (self.incarnation, self.counter)


class PeerTable:
    """Peers by DID. A peer is DOWN once `down_after_missed` of its announced heartbeats are
    overdue: `missed = floor((now - last_seen - grace) / interval)`, grace being
    `grace_fraction` of its interval (for jitter). It is UP again with its next fresh presence.

    With ticks every half interval this declares a silent peer down at most
    `(down_after_missed + grace_fraction + 0.5)` intervals after its last presence arrived:
    2.75 with the defaults, within three intervals.

    Memory is bounded by `max_peers`: a newcomer to a full table replaces the DOWN peer silent
    longest (reported as Evicted); when every peer is UP the newcomer is not recorded, only
    counted in `turned_away`, and is taken in with a later presence once there is room.
    """

    def __init__(
        self,
        *,
        down_after_missed: int = 2,
        grace_fraction: float = 0.25,
        max_peers: int = 1024,
        rtt_smoothing: float = 0.125,
    ) -> None:
        if down_after_missed < 1:
            raise ValueError(f"down_after_missed must be at least 1, not {down_after_missed}")
        if not 0 <= grace_fraction < 1:
            raise ValueError(f"grace_fraction must be in [0, 1), not {grace_fraction}")
        if max_peers < 1:
            raise ValueError(f"max_peers must be at least 1, not {max_peers}")
        if not 0 < rtt_smoothing <= 1:
            raise ValueError(f"rtt_smoothing must be in (0, 1], not {rtt_smoothing}")
        self.down_after_missed = down_after_missed
        self.grace_fraction = grace_fraction
        self.max_peers = max_peers
        self.rtt_smoothing = rtt_smoothing
        self.turned_away = 0
        self._peers: dict[str, PeerRecord] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, did: object) -> bool:
        return did in self._peers

    def get(self, did: str) -> PeerRecord:
        try:
            return self._peers[did]
        except KeyError:
            raise UnknownPeer(
                f"no presence from {did} has been heard (or it was evicted); "
                "`nunet peers list` shows the known peers"
            ) from None

    def records(self) -> list[PeerRecord]:
        """Every peer, ordered by DID."""
        return [self._peers[did] for did in sorted(self._peers)]

    # -- inputs --------------------------------------------------------------------------------
    def observe(self, presence: Presence, now: float) -> list[Transition]:
        """A presence arrived (already authenticated as coming from `presence.did`)."""
        out: list[Transition] = []
        known = self._peers.get(presence.did)
        if known is None and len(self._peers) >= self.max_peers:
            evicted = self._evict(now)
            if evicted is None:
                self.turned_away += 1
                return out
            out.append(evicted)
        fresh = known is None or presence.position > known.position
        if known is not None and known.state is PeerState.DOWN:
            # A down peer's old life is over: any other incarnation is news, even a lower one
            # (its clock stepped back across the restart), or it would be ignored for good.
            fresh = fresh or presence.incarnation != known.incarnation
        state = None if known is None else known.state
        event = _Input.FRESH_PRESENCE if fresh else _Input.STALE_PRESENCE
        next_state, report = _RULES[(state, event)]
        if not fresh:
            return out
        interval = _clamped_interval(presence.heartbeat_seconds)
        addresses = dict(presence.addresses)
        if known is None:
            record = PeerRecord(
                did=presence.did,
                node=presence.node,
                actor=presence.actor,
                addresses=addresses,
                heartbeat_seconds=interval,
                version=presence.version,
                incarnation=presence.incarnation,
                counter=presence.counter,
                state=next_state,
                first_seen=now,
                last_seen=now,
                state_since=now,
                up_seconds=0.0,
                heard=1,
                lost=0,
            )
            out.append(Joined(presence.did, presence.node, addresses, interval, presence.version))
        else:
            same_life = presence.incarnation == known.incarnation
            gap = presence.counter - known.counter - 1 if same_life else 0
            record = dataclasses.replace(
                known,
                node=presence.node,
                actor=presence.actor,
                addresses=addresses,
                heartbeat_seconds=interval,
                version=presence.version,
                incarnation=presence.incarnation,
                counter=presence.counter,
                state=next_state,
                last_seen=now,
                heard=known.heard + 1,
                lost=known.lost + gap,
            )
            record = self._moved(record, known, now)
            if report is CameUp:
                out.append(CameUp(presence.did, max(0.0, now - known.state_since)))
            if not same_life:
                out.append(Restarted(presence.did, known.incarnation, presence.incarnation))
            if (known.node, known.addresses) != (presence.node, addresses):
                out.append(
                    AddressChanged(
                        presence.did, known.node, presence.node, known.addresses, addresses
                    )
                )
        self._peers[presence.did] = record
        return out

    def tick(self, now: float) -> list[Transition]:
        """Time passed: declare down every UP peer with too many heartbeats overdue."""
        out: list[Transition] = []
        for did, peer in self._peers.items():
            missed = self.missed(peer, now)
            event = _Input.OVERDUE_TICK if missed >= self.down_after_missed else _Input.ON_TIME_TICK
            next_state, report = _RULES[(peer.state, event)]
            if next_state is peer.state:
                continue
            self._peers[did] = self._moved(dataclasses.replace(peer, state=next_state), peer, now)
            if report is WentDown:
                out.append(WentDown(did, missed, max(0.0, now - peer.last_seen)))
        return out

    def measured_rtt(self, did: str, seconds: float, now: float) -> list[Transition]:
        """A ping to `did` was answered after `seconds`. Ignored if the peer was evicted while
        the ping was out. The smoothed RTT is an exponentially weighted mean (as TCP's SRTT)."""
        if not seconds >= 0:
            raise ValueError(f"an RTT cannot be negative, not {seconds}")
        peer = self._peers.get(did)
        if peer is not None:
            smoothed = (
                seconds
                if peer.rtt_smoothed is None
                else peer.rtt_smoothed + self.rtt_smoothing * (seconds - peer.rtt_smoothed)
            )
            self._peers[did] = dataclasses.replace(
                peer, rtt_last=seconds, rtt_smoothed=smoothed, probed_at=now, probe_ok=True
            )
        return []

    def probe_failed(self, did: str, now: float) -> list[Transition]:
        """A ping to `did` was not answered (timeout, unreachable, refused)."""
        peer = self._peers.get(did)
        if peer is not None:
            self._peers[did] = dataclasses.replace(
                peer, probed_at=now, probe_ok=False, probe_failures=peer.probe_failures + 1
            )
        return []

    # -- questions -----------------------------------------------------------------------------
    def missed(self, peer: PeerRecord, now: float) -> int:
        """Heartbeats of `peer` overdue at `now`."""
        interval = peer.heartbeat_seconds
        overdue = now - peer.last_seen - self.grace_fraction * interval
        return max(0, math.floor(overdue / interval))

    def due_for_probe(self, now: float, *, limit: int, refresh_seconds: float) -> list[str]:
        """Up to `limit` UP peers whose RTT should be measured: never probed first (newcomers),
        then those probed longest ago, and none probed within `refresh_seconds`."""
        due = [
            p
            for p in self._peers.values()
            if p.state is PeerState.UP
            and (p.probed_at is None or now - p.probed_at >= refresh_seconds)
        ]
        due.sort(key=lambda p: (p.probed_at is not None, p.probed_at or 0.0, p.did))
        return [p.did for p in due[: max(0, limit)]]

    def uptime(self, peer: PeerRecord, now: float) -> float:
        """The share of the time since it was first seen that `peer` was considered up."""
        known = now - peer.first_seen
        if known <= 0:
            return 1.0
        up = peer.up_seconds + (
            max(0.0, now - peer.state_since) if peer.state is PeerState.UP else 0.0
        )
        return min(1.0, up / known)

    def score(self, did: str, now: float) -> float:
        """How much to rely on `did`, in [0, 1]:

        `0.4 uptime + 0.2 recency + 0.2 delivery + 0.2 latency`, where
        uptime = share of the time known that it was up;
        recency = 2^-(s / interval), s being its silence beyond one interval (each further
        interval without a presence halves it);
        delivery = heard / (heard + lost + missed now), the share of its heartbeats that arrived;
        latency = r / (r + smoothed RTT) with r = 50 ms; 0.5 while unmeasured, 0 if the latest
        ping failed.
        """
        peer = self.get(did)
        interval = peer.heartbeat_seconds
        silence = max(0.0, now - peer.last_seen - interval)
        recency = math.pow(0.5, silence / interval)
        delivery = peer.heard / (peer.heard + peer.lost + self.missed(peer, now))
        if peer.probe_ok is False:
            latency = 0.0
        elif peer.rtt_smoothed is None:
            latency = 0.5
        else:
            latency = RTT_REFERENCE_SECONDS / (RTT_REFERENCE_SECONDS + peer.rtt_smoothed)
        total = (
            SCORE_WEIGHTS["uptime"] * self.uptime(peer, now)
            + SCORE_WEIGHTS["recency"] * recency
            + SCORE_WEIGHTS["delivery"] * delivery
            + SCORE_WEIGHTS["latency"] * latency
        )
        return min(1.0, max(0.0, total))

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _moved(record: PeerRecord, before: PeerRecord, now: float) -> PeerRecord:
        """`record` with its uptime accounting brought up to date if its state changed."""
        if record.state is before.state:
            return record
        elapsed = max(0.0, now - before.state_since)
        up = before.up_seconds + (elapsed if before.state is PeerState.UP else 0.0)
        return dataclasses.replace(record, state_since=now, up_seconds=up)

    def _evict(self, now: float) -> Evicted | None:
        down = [p for p in self._peers.values() if p.state is PeerState.DOWN]
        if not down:
            return None
        victim = min(down, key=lambda p: (p.last_seen, p.did))
        del self._peers[victim.did]
        return Evicted(victim.did, max(0.0, now - victim.last_seen))
