"""The peer table as a pure machine: every input in every state, boundaries, and properties."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.peers import (
    AddressChanged,
    CameUp,
    Evicted,
    Joined,
    PeerState,
    PeerTable,
    Presence,
    Restarted,
    Transition,
    UnknownPeer,
    WentDown,
)
from nunet.peers.table import MAX_HEARTBEAT_SECONDS, MIN_HEARTBEAT_SECONDS, RTT_REFERENCE_SECONDS

HB = 1.0


def presence(
    did: str = "did:key:peer",
    counter: int = 0,
    *,
    incarnation: int = 1,
    node: str = "node-1",
    addresses: dict[str, str] | None = None,
    heartbeat: float = HB,
) -> Presence:
    return Presence(
        did=did,
        node=node,
        actor="peers",
        addresses={"api": "http://one"} if addresses is None else addresses,
        heartbeat_seconds=heartbeat,
        version="1.0",
        incarnation=incarnation,
        counter=counter,
    )


def kinds(transitions: list[Transition]) -> list[type]:
    return [type(t) for t in transitions]


# -- every input in every state -------------------------------------------------------------------
# A table holding "did:key:peer" in the named state (or not at all), last seen at t=10 with
# counter 5; the clock of that state is returned with it.
def in_state(state: str) -> tuple[PeerTable, float]:
    table = PeerTable()
    if state == "unknown":
        return table, 10.0
    table.observe(presence(counter=5), 10.0)
    if state == "down":
        assert kinds(table.tick(13.0)) == [WentDown]
        return table, 13.0
    return table, 10.0


INPUTS: dict[str, Callable[[PeerTable, float], list[Transition]]] = {
    "fresh presence": lambda t, now: t.observe(presence(counter=6), now + 0.1),
    "stale presence": lambda t, now: t.observe(presence(counter=5), now + 0.1),
    "overdue tick": lambda t, now: t.tick(now + 2.5 * HB),
    "on-time tick": lambda t, now: t.tick(now + 0.5 * HB),
    "rtt measured": lambda t, now: t.measured_rtt("did:key:peer", 0.02, now + 0.1),
    "probe failed": lambda t, now: t.probe_failed("did:key:peer", now + 0.1),
}

# (state, input) -> (state after, transitions reported); a state of None: not in the table.
EXPECTED: dict[tuple[str, str], tuple[PeerState | None, list[type]]] = {
    ("unknown", "fresh presence"): (PeerState.UP, [Joined]),
    ("unknown", "stale presence"): (PeerState.UP, [Joined]),  # nothing is stale to a stranger
    ("unknown", "overdue tick"): (None, []),
    ("unknown", "on-time tick"): (None, []),
    ("unknown", "rtt measured"): (None, []),
    ("unknown", "probe failed"): (None, []),
    ("up", "fresh presence"): (PeerState.UP, []),
    ("up", "stale presence"): (PeerState.UP, []),
    ("up", "overdue tick"): (PeerState.DOWN, [WentDown]),
    ("up", "on-time tick"): (PeerState.UP, []),
    ("up", "rtt measured"): (PeerState.UP, []),
    ("up", "probe failed"): (PeerState.UP, []),
    ("down", "fresh presence"): (PeerState.UP, [CameUp]),
    ("down", "stale presence"): (PeerState.DOWN, []),
    ("down", "overdue tick"): (PeerState.DOWN, []),
    ("down", "on-time tick"): (PeerState.DOWN, []),
    ("down", "rtt measured"): (PeerState.DOWN, []),  # only presences decide liveness
    ("down", "probe failed"): (PeerState.DOWN, []),
}


@pytest.mark.parametrize(("state", "given_input"), sorted(EXPECTED))
def test_every_input_in_every_state(state: str, given_input: str) -> None:
    table, now = in_state(state)
    transitions = INPUTS[given_input](table, now)
    after, reported = EXPECTED[(state, given_input)]
    assert kinds(transitions) == reported
    if after is None:
        assert "did:key:peer" not in table
    else:
        assert table.get("did:key:peer").state is after


def test_the_expectations_cover_every_state_and_input() -> None:
    assert set(EXPECTED) == {(s, i) for s in ("unknown", "up", "down") for i in INPUTS}


# -- liveness boundaries --------------------------------------------------------------------------
def test_a_peer_is_down_once_two_heartbeats_and_the_grace_are_overdue() -> None:
    table = PeerTable()  # down_after_missed=2, grace 0.25 of the interval
    table.observe(presence(heartbeat=2.0), 100.0)
    assert table.tick(100.0 + 4.49) == []
    assert table.missed(table.get("did:key:peer"), 104.49) == 1
    [down] = table.tick(100.0 + 4.5)
    assert down == WentDown("did:key:peer", 2, 4.5)


def test_ticks_every_half_interval_declare_a_silent_peer_down_within_three_intervals() -> None:
    for offset in (0.0, 0.1, 0.26, 0.49):  # where the last presence fell between two ticks
        table = PeerTable()
        table.observe(presence(), offset)
        verdict = next(
            k * HB / 2 for k in range(1, 20) if table.tick(k * HB / 2) and k * HB / 2 > offset
        )
        assert 2 * HB <= verdict - offset <= 3 * HB


def test_down_is_reported_once_and_up_with_how_long_it_was_down() -> None:
    table = PeerTable()
    table.observe(presence(counter=0), 0.0)
    assert kinds(table.tick(3.0)) == [WentDown]
    assert table.tick(4.0) == []
    assert table.tick(50.0) == []
    [up] = table.observe(presence(counter=1), 10.0)
    assert up == CameUp("did:key:peer", 7.0)


def test_a_restart_and_a_new_address_are_reported_with_the_presence() -> None:
    table = PeerTable()
    table.observe(presence(counter=9, incarnation=1), 0.0)
    moved = table.observe(
        presence(counter=0, incarnation=2, node="node-2", addresses={"api": "http://two"}), 0.5
    )
    assert moved == [
        Restarted("did:key:peer", 1, 2),
        AddressChanged(
            "did:key:peer", "node-1", "node-2", {"api": "http://one"}, {"api": "http://two"}
        ),
    ]
    # A late presence of the old incarnation changes nothing.
    assert table.observe(presence(counter=10, incarnation=1), 0.6) == []
    assert table.get("did:key:peer").node == "node-2"


def test_a_down_peer_that_restarted_is_reported_up_and_restarted() -> None:
    table = PeerTable()
    table.observe(presence(counter=3, incarnation=1), 0.0)
    table.tick(5.0)
    assert kinds(table.observe(presence(counter=0, incarnation=2), 6.0)) == [CameUp, Restarted]


def test_a_down_peer_back_with_a_lower_incarnation_is_up_again() -> None:
    # Its clock stepped back across a restart: ignored while up, believed once it is down.
    table = PeerTable()
    table.observe(presence(counter=0, incarnation=100), 0.0)
    assert table.observe(presence(counter=0, incarnation=50), 0.5) == []
    table.tick(3.0)
    assert kinds(table.observe(presence(counter=1, incarnation=50), 3.1)) == [CameUp, Restarted]
    assert table.get("did:key:peer").incarnation == 50


def test_counter_gaps_are_counted_as_lost_heartbeats() -> None:
    table = PeerTable()
    table.observe(presence(counter=0), 0.0)
    table.observe(presence(counter=4), 0.1)  # 1, 2, 3 never arrived
    table.observe(presence(counter=0, incarnation=2), 0.2)  # a new life: no gap to count
    peer = table.get("did:key:peer")
    assert (peer.heard, peer.lost) == (3, 3)


@pytest.mark.parametrize(
    ("announced", "kept"),
    [
        (0.0, MIN_HEARTBEAT_SECONDS),
        (-1.0, MIN_HEARTBEAT_SECONDS),
        (math.inf, MAX_HEARTBEAT_SECONDS),
        (math.nan, MAX_HEARTBEAT_SECONDS),
        (2.0, 2.0),
    ],
)
def test_an_announced_interval_is_clamped(announced: float, kept: float) -> None:
    table = PeerTable()
    table.observe(presence(heartbeat=announced), 0.0)
    assert table.get("did:key:peer").heartbeat_seconds == kept
    assert table.tick(1e9) != []  # and a silent peer still goes down in the end


# -- bounded memory -------------------------------------------------------------------------------
def test_a_full_table_evicts_the_longest_silent_down_peer_for_a_newcomer() -> None:
    table = PeerTable(max_peers=3)
    for i, did in enumerate(("a", "b", "c")):
        table.observe(presence(did), float(i))
    table.tick(10.0)  # all down; "a" silent longest
    assert kinds(table.observe(presence("d"), 10.0)) == [Evicted, Joined]
    assert sorted(p.did for p in table.records()) == ["b", "c", "d"]


def test_a_full_table_of_up_peers_turns_newcomers_away() -> None:
    table = PeerTable(max_peers=2)
    table.observe(presence("a"), 0.0)
    table.observe(presence("b"), 0.0)
    assert table.observe(presence("c"), 0.5) == []
    assert table.turned_away == 1
    assert "c" not in table
    assert len(table) == 2
    assert kinds(table.observe(presence("a", 1), 0.6)) == []  # known peers still update


# -- RTT and probes -------------------------------------------------------------------------------
def test_the_smoothed_rtt_is_an_exponentially_weighted_mean() -> None:
    table = PeerTable(rtt_smoothing=0.5)
    table.observe(presence(), 0.0)
    table.measured_rtt("did:key:peer", 0.1, 0.1)
    table.measured_rtt("did:key:peer", 0.3, 0.2)
    peer = table.get("did:key:peer")
    assert peer.rtt_last == 0.3
    assert peer.rtt_smoothed == pytest.approx(0.2)
    assert peer.probe_ok is True
    with pytest.raises(ValueError, match="negative"):
        table.measured_rtt("did:key:peer", -1.0, 0.3)


def test_probes_go_to_unmeasured_peers_first_then_the_stalest_never_to_down_ones() -> None:
    table = PeerTable()
    for did in ("a", "b", "c", "d"):
        table.observe(presence(did), 0.0)
    table.measured_rtt("a", 0.01, 1.0)
    table.probe_failed("b", 0.5)
    assert table.due_for_probe(1.0, limit=10, refresh_seconds=5.0) == ["c", "d"]
    assert table.due_for_probe(1.0, limit=1, refresh_seconds=5.0) == ["c"]
    assert table.due_for_probe(6.0, limit=10, refresh_seconds=5.0) == ["c", "d", "b", "a"]
    for did in ("a", "b", "c", "d"):
        table.observe(presence(did, 1), 6.0)
    table.observe(presence("c", 2), 9.0)
    table.tick(9.0)  # everyone but c is down
    assert table.due_for_probe(9.0, limit=10, refresh_seconds=5.0) == ["c"]


# -- score ----------------------------------------------------------------------------------------
def test_score_follows_its_formula() -> None:
    table = PeerTable()
    table.observe(presence(counter=0), 0.0)
    table.observe(presence(counter=2), 1.0)  # one heartbeat lost
    table.measured_rtt("did:key:peer", RTT_REFERENCE_SECONDS, 1.0)
    # uptime 1, recency 1 (heard within an interval), delivery 2/3, latency 0.5
    assert table.score("did:key:peer", 1.5) == pytest.approx(0.4 + 0.2 + 0.2 * 2 / 3 + 0.1)


def test_score_ranks_reliable_fast_peers_above_silent_or_unanswering_ones() -> None:
    table = PeerTable()
    for did in ("fast", "slow", "mute", "gone"):
        table.observe(presence(did, 0), 0.0)
    table.measured_rtt("fast", 0.005, 0.1)
    table.measured_rtt("slow", 0.5, 0.1)
    table.probe_failed("mute", 0.1)
    for did in ("fast", "slow", "mute"):
        table.observe(presence(did, 1), 10.0)
    table.tick(10.0)
    score = {did: table.score(did, 10.0) for did in ("fast", "slow", "mute", "gone")}
    assert score["fast"] > score["slow"] > score["mute"] > score["gone"]
    with pytest.raises(UnknownPeer, match="nunet peers list"):
        table.score("stranger", 10.0)


def test_bad_settings_are_refused() -> None:
    for bad in (
        {"down_after_missed": 0},
        {"grace_fraction": 1.0},
        {"max_peers": 0},
        {"rtt_smoothing": 0.0},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PeerTable(**bad)


# -- properties -----------------------------------------------------------------------------------
DIDS = ("a", "b", "c", "d")
steps = st.lists(
    st.tuples(
        st.sampled_from(("presence", "restart", "tick", "rtt", "fail")),
        st.sampled_from(DIDS),
        st.floats(0.0, 3.0),  # time passing before the step
        st.integers(0, 3),  # counter step (0: a duplicate)
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps, st.integers(1, 4), st.integers(1, 3))
def test_any_history_keeps_the_table_consistent(
    history: list[tuple[str, str, float, int]], max_peers: int, down_after: int
) -> None:
    table = PeerTable(max_peers=max_peers, down_after_missed=down_after)
    now = 0.0
    position = dict.fromkeys(DIDS, (1, 0))
    believed: dict[str, PeerState] = {}  # what the transitions so far say
    for action, did, elapsed, step in history:
        now += elapsed
        if action in ("presence", "restart"):
            inc, counter = position[did]
            position[did] = (inc + 1, 0) if action == "restart" else (inc, counter + step)
            out = table.observe(presence(did, position[did][1], incarnation=position[did][0]), now)
        elif action == "tick":
            before = {p.did: table.missed(p, now) for p in table.records()}
            out = table.tick(now)
            for t in out:
                assert isinstance(t, WentDown)
                assert before[t.did] >= down_after
        elif action == "rtt":
            out = table.measured_rtt(did, elapsed / 10, now)
        else:
            out = table.probe_failed(did, now)
        for t in out:
            if isinstance(t, Joined):
                assert t.did not in believed
                believed[t.did] = PeerState.UP
            elif isinstance(t, WentDown):
                assert believed[t.did] is PeerState.UP
                believed[t.did] = PeerState.DOWN
            elif isinstance(t, CameUp):
                assert believed[t.did] is PeerState.DOWN
                believed[t.did] = PeerState.UP
            elif isinstance(t, Evicted):
                assert believed.pop(t.did) is PeerState.DOWN
            else:
                assert t.did in believed
        assert len(table) <= max_peers
        assert {p.did: p.state for p in table.records()} == believed
        for peer in table.records():
            assert 0.0 <= table.score(peer.did, now) <= 1.0
            assert 0.0 <= table.uptime(peer, now) <= 1.0
            if peer.state is PeerState.UP:
                assert table.missed(peer, peer.last_seen) == 0
