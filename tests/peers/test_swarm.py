"""Real nodes on one in-memory network find each other through signed presences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from nunet.actor import Actor, RemoteError
from nunet.actor.events import EnvelopeReceived, EnvelopeSent
from nunet.errors import NunetError
from nunet.eventlog import EventLog
from nunet.identity import KeyPair, KeyStore
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.node import Node
from nunet.peers import (
    CONNECT_BEHAVIOR,
    LIST_BEHAVIOR,
    PEER_PING_BEHAVIOR,
    PEERS_ACTOR_ID,
    PING_BEHAVIOR,
    PRESENCE_BEHAVIOR,
    PRESENCE_TOPIC,
    RTT_BEHAVIOR,
    SCORE_BEHAVIOR,
    PeerDown,
    PeerJoined,
    PeerRestarted,
    PeerUp,
    Presence,
    PresenceRefused,
)
from tests.peers.swarm import HEARTBEAT, WAIT, Swarm, ask, joined, presence_config
from tests.support.actors import wait_for_event
from tests.support.homes import PASSPHRASE, make_home


async def records_of(log: EventLog, kind: type[Any], where: Callable[[Any], bool]) -> list[int]:
    """Sequence numbers of the committed records of `kind` matching `where`."""
    return [
        record.seq
        async for record in log.read(types=[kind.TYPE])
        if where(msgspec.msgpack.decode(record.payload, type=kind))
    ]


async def test_nodes_discover_each_other_and_each_join_is_an_event(swarm: Swarm) -> None:
    nodes = [await swarm.open(name) for name in ("a", "b", "c")]
    for observer in nodes:
        for peer in nodes:
            if peer is not observer:
                event = await joined(observer, peer)
                assert event.node == peer.system.address
                assert event.heartbeat_seconds == HEARTBEAT
    a, b, c = nodes
    rows = await ask(a, LIST_BEHAVIOR)
    assert [row["did"] for row in rows] == sorted((b.did, c.did))  # never itself
    by_did = {row["did"]: row for row in rows}
    assert by_did[b.did]["state"] == "up"
    assert by_did[b.did]["addresses"] == {"api": "http://b.test"}
    assert by_did[c.did]["node"] == c.system.address
    scores = await ask(a, SCORE_BEHAVIOR)
    assert {row["did"] for row in scores} == {b.did, c.did}
    assert all(0.0 <= row["score"] <= 1.0 for row in scores)
    assert [row["score"] for row in scores] == sorted(
        (row["score"] for row in scores), reverse=True
    )


async def test_a_newcomer_is_pinged_without_being_asked(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await wait_for_event(
        b.log,
        EnvelopeReceived,
        lambda e: e.behavior == PING_BEHAVIOR and e.sender_did == a.did,
        timeout=WAIT,
    )


async def test_ping_returns_an_rtt_that_list_then_shows(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    answer = await ask(a, PEER_PING_BEHAVIOR, {"did": b.did})
    assert answer["did"] == b.did
    assert answer["rtt_seconds"] >= 0.0
    row = next(r for r in await ask(a, LIST_BEHAVIOR) if r["did"] == b.did)
    assert row["rtt_seconds"] is not None
    assert row["smoothed_rtt_seconds"] is not None


async def test_ping_of_an_unknown_or_unreachable_peer_is_a_clear_error(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    stranger = KeyPair.generate().did
    with pytest.raises(RemoteError) as unknown:
        await ask(a, PEER_PING_BEHAVIOR, {"did": stranger})
    assert unknown.value.code == "unknown-peer"
    assert stranger in unknown.value.remote_message
    await joined(a, b)
    await b.close()
    with pytest.raises(RemoteError) as gone:
        await ask(a, PEER_PING_BEHAVIOR, {"did": b.did})
    assert gone.value.code == "peer-unreachable"
    assert b.did in gone.value.remote_message
    with pytest.raises(RemoteError) as bad:
        await ask(a, PEER_PING_BEHAVIOR, {"nope": 1})
    assert bad.value.code == "invalid-payload"


async def test_any_peer_may_ask_a_node_its_rtt_to_others_and_the_unknown_read_none(
    swarm: Swarm,
) -> None:
    a, b, c = await swarm.open("a"), await swarm.open("b"), await swarm.open("c")
    await joined(a, b)
    await joined(c, a)
    stranger = KeyPair.generate().did
    # c asks a, a remote node, with no capability granted: the behavior is public.
    answer = await c.invoke_as_user(
        RTT_BEHAVIOR,
        {"peers": [b.did, a.did, stranger, b.did]},
        to=a.system.handle_of(PEERS_ACTOR_ID),
        timeout=WAIT,
    )
    assert set(answer) == {b.did, a.did, stranger}
    assert answer[b.did] is not None
    assert answer[b.did] >= 0.0
    assert answer[a.did] == 0.0  # itself
    assert answer[stranger] is None
    with pytest.raises(RemoteError) as bad:
        await ask(a, RTT_BEHAVIOR, {"peers": "not-a-list"})
    assert bad.value.code == "invalid-payload"


async def test_a_closed_node_is_marked_down_within_three_heartbeats(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    closed_at, _ = await a.log.head()
    await b.close()
    record, down = await wait_for_event(a.log, PeerDown, lambda e: e.did == b.did, timeout=WAIT)
    # Measured in a's own heartbeats: the announcements a made between b's closing and the
    # verdict. Not earlier than two missed heartbeats, not later than three intervals.
    announced = await records_of(
        a.log, EnvelopeSent, lambda e: e.recipient_node == f"topic:{PRESENCE_TOPIC}"
    )
    heartbeats = [seq for seq in announced if closed_at < seq < record.seq]
    assert len(heartbeats) <= 3
    assert down.missed >= 2
    rows = await ask(a, LIST_BEHAVIOR)
    assert [row["state"] for row in rows if row["did"] == b.did] == ["down"]


async def test_a_node_that_comes_back_is_marked_up(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    await b.close()
    await wait_for_event(a.log, PeerDown, lambda e: e.did == b.did, timeout=WAIT)
    again = await swarm.open("b")
    assert again.did == b.did
    await wait_for_event(a.log, PeerUp, lambda e: e.did == b.did, timeout=WAIT)
    await wait_for_event(a.log, PeerRestarted, lambda e: e.did == b.did, timeout=WAIT)
    rows = await ask(a, LIST_BEHAVIOR)
    assert [row["state"] for row in rows if row["did"] == b.did] == ["up"]
    assert await records_of(a.log, PeerJoined, lambda e: e.did == b.did) != []
    assert len(await records_of(a.log, PeerJoined, lambda e: e.did == b.did)) == 1


class Impostor(Actor):
    """Announces a presence in someone else's name, signed with its own (real) key."""


async def test_a_presence_claiming_another_did_is_refused(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    impostor = Impostor()
    await b.system.spawn(impostor, "impostor")
    victim = KeyPair.generate().did
    forged = Presence(
        did=victim,
        node=b.system.address,
        actor="impostor",
        addresses={},
        heartbeat_seconds=HEARTBEAT,
        version="0",
        incarnation=1,
        counter=0,
    )
    await impostor.publish(PRESENCE_TOPIC, PRESENCE_BEHAVIOR, msgspec.to_builtins(forged))
    _, refused = await wait_for_event(
        a.log, PresenceRefused, lambda e: e.claimed_did == victim, timeout=WAIT
    )
    assert refused.sender_did == b.did
    assert "did" in refused.reason
    assert victim not in {row["did"] for row in await ask(a, LIST_BEHAVIOR)}
    assert await records_of(a.log, PeerJoined, lambda e: e.did == victim) == []


class RecordingLinks:
    """Links that remember what they were asked to connect to, refusing one address."""

    def __init__(self) -> None:
        self.connected: list[str] = []

    async def connect(self, address: str) -> None:
        if "unreachable" in address:
            raise NunetError(f"no hub answers at {address}")
        self.connected.append(address)


async def test_connect_asks_the_mesh_for_a_link(swarm: Swarm) -> None:
    links = RecordingLinks()
    a = await swarm.open("a", links=links)
    answer = await ask(a, CONNECT_BEHAVIOR, {"address": "tls://hub.test:7422"})
    assert answer == {"connected": "tls://hub.test:7422"}
    assert links.connected == ["tls://hub.test:7422"]
    with pytest.raises(RemoteError) as failed:
        await ask(a, CONNECT_BEHAVIOR, {"address": "tls://unreachable.test:7422"})
    assert failed.value.code == "connect-failed"
    assert "unreachable.test" in failed.value.remote_message


async def test_connect_without_mesh_links_is_a_clear_error(swarm: Swarm) -> None:
    a = await swarm.open("a")
    with pytest.raises(RemoteError) as refused:
        await ask(a, CONNECT_BEHAVIOR, {"address": "tls://hub.test:7422"})
    assert refused.value.code == "no-mesh-links"
    assert "this node has no mesh links to manage" in refused.value.remote_message


async def test_peers_behaviors_need_a_capability(tmp_path: Path) -> None:
    network = InMemoryNetwork()
    home = make_home(tmp_path / "u", trust_user=False)
    did = KeyStore(home / "keys", "").did("dms")
    async with await Node.open(
        home, PASSPHRASE, presence_config(), transport=InMemoryTransport(network, did)
    ) as node:
        with pytest.raises(RemoteError) as denied:
            await ask(node, LIST_BEHAVIOR)
        assert denied.value.code == "unauthorized"


async def test_a_malformed_or_oversized_presence_is_refused_and_logged(swarm: Swarm) -> None:
    a, b = await swarm.open("a"), await swarm.open("b")
    await joined(a, b)
    impostor = Impostor()
    await b.system.spawn(impostor, "impostor")
    bloated = msgspec.to_builtins(
        Presence(
            did=b.did,
            node=b.system.address,
            actor="impostor",
            addresses={f"a{i}": "http://x" for i in range(100)},
            heartbeat_seconds=HEARTBEAT,
            version="0",
            incarnation=1,
            counter=0,
        )
    )
    await impostor.publish(PRESENCE_TOPIC, PRESENCE_BEHAVIOR, bloated)
    _, refused = await wait_for_event(
        a.log, PresenceRefused, lambda e: "addresses" in e.reason, timeout=WAIT
    )
    assert refused.sender_did == b.did
    await impostor.publish(PRESENCE_TOPIC, PRESENCE_BEHAVIOR, "not a presence")
    await wait_for_event(a.log, PresenceRefused, lambda e: e.claimed_did == "", timeout=WAIT)
