"""The private swarm, proven with real servers: members of key K form a swarm; an outsider
(another key, the open public swarm, or a stolen certificate without the password) cannot join,
read or inject, and its attempt is visible as an event on both sides."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from nunet.mesh import ClusterSpec, NatsServer, ServerSpec, SwarmKey, TlsFiles, issue_node_tls
from nunet.mesh.events import LeafLinkConnected, MeshLinkRejected
from nunet.mesh.monitor import get_json
from tests.mesh.swarm import FAST, WAIT, Events, client, node_spec, running

K = SwarmKey.generate()
MESSAGES = 20


def another_key(root: Path, hub_url: str) -> ServerSpec:
    return node_spec(root, "foreign", SwarmKey.generate(), remotes=[hub_url])


def open_swarm(root: Path, hub_url: str) -> ServerSpec:
    return node_spec(root, "foreign", SwarmKey.public(), remotes=[hub_url])


def stolen_certificate(root: Path, hub_url: str) -> ServerSpec:
    """A certificate of swarm K (say, copied off a member) but not K's derived password."""
    spec = node_spec(root, "foreign", K, remotes=[hub_url])
    return dataclasses.replace(spec, leaf_credentials=SwarmKey.generate().leaf_credentials)


OUTSIDERS: list[tuple[Callable[[Path, str], ServerSpec], str]] = [
    (another_key, "tls-certificate"),
    (open_swarm, "tls-certificate"),
    (stolen_certificate, "authorization"),
]


class Inbox:
    """Messages one subscription received, waitable."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []
        self._arrived = asyncio.Event()

    async def receive(self, message: Msg) -> None:
        self.messages.append(message)
        self._arrived.set()

    def payloads(self) -> list[bytes]:
        return [message.data for message in self.messages]

    async def wait_for(self, payload: bytes, timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while payload not in self.payloads():
                self._arrived.clear()
                await self._arrived.wait()


async def _until_routed(sender: Client, receiver: Client, subject: str) -> None:
    """Wait until interest in `subject` has crossed the leaf link (it propagates asynchronously)."""

    async def answer(message: Msg) -> None:
        await receiver.publish(message.reply, b"here")

    await receiver.subscribe(subject + ".probe", cb=answer)
    await receiver.flush()
    async with asyncio.timeout(WAIT):
        while True:
            try:
                await sender.request(subject + ".probe", b"", timeout=0.5)
                return
            except TimeoutError:
                continue
            except NoRespondersError:
                # Interest has not crossed yet, and a client cannot observe when it does:
                # pace the retries rather than spin.
                await asyncio.sleep(0.05)


@pytest.mark.parametrize("key", [K, SwarmKey.public()], ids=["private", "open"])
async def test_nodes_with_the_same_key_form_a_swarm(tmp_path: Path, key: SwarmKey) -> None:
    async with running(node_spec(tmp_path, "hub", key, hub=True)) as (hub, hub_events):
        assert hub.leaf_url is not None
        member_spec = node_spec(tmp_path, "member", key, remotes=[hub.leaf_url])
        async with running(member_spec) as (member, events):
            await events.wait_for(LeafLinkConnected, lambda e: e.remote_name == "hub")
            await hub_events.wait_for(LeafLinkConnected, lambda e: e.remote_name == "member")
            async with client(hub) as on_hub, client(member) as on_member:
                inbox = Inbox()
                await on_hub.subscribe("swarm.data", cb=inbox.receive)
                await _until_routed(on_member, on_hub, "swarm.data")
                for index in range(MESSAGES):
                    await on_member.publish("swarm.data", b"m%d" % index)
                await inbox.wait_for(b"m%d" % (MESSAGES - 1))
                assert inbox.payloads() == [b"m%d" % i for i in range(MESSAGES)]
            assert not hub_events.of(MeshLinkRejected)
            assert not events.of(MeshLinkRejected)


@pytest.mark.parametrize(
    ("outsider", "cause"), OUTSIDERS, ids=[make.__name__ for make, _ in OUTSIDERS]
)
async def test_an_outsider_cannot_join_read_or_inject_and_is_seen_trying(
    tmp_path: Path, outsider: Callable[[Path, str], ServerSpec], cause: str
) -> None:
    every_attempt = dataclasses.replace(FAST, rejection_report_interval_s=0.0)
    async with running(node_spec(tmp_path, "hub", K, hub=True), every_attempt) as (hub, hub_seen):
        assert hub.leaf_url is not None
        member_spec = node_spec(tmp_path, "member", K, remotes=[hub.leaf_url])
        foreign_spec = outsider(tmp_path, hub.leaf_url)
        async with (
            running(member_spec) as (member, member_seen),
            running(foreign_spec, every_attempt) as (foreign, foreign_seen),
        ):
            await hub_seen.wait_for(LeafLinkConnected, lambda e: e.remote_name == "member")

            # (d) The attempt is visible on both sides, with its cause; and (a) it keeps failing:
            # wait for a second refused attempt (the outsider retries every second).
            hub_rejection = await hub_seen.wait_for(MeshLinkRejected)
            assert (hub_rejection.link, hub_rejection.cause) == ("leaf", cause)
            assert hub_rejection.address.startswith("127.0.0.1:")
            hub_port = hub.leaf_url.rsplit(":", 1)[1]
            foreign_rejection = await foreign_seen.wait_for(MeshLinkRejected)
            assert foreign_rejection.cause == cause
            assert foreign_rejection.address == f"127.0.0.1:{hub_port}"
            await foreign_seen.wait_for(MeshLinkRejected, lambda e: e is not foreign_rejection)

            # (a) No link: the hub's /leafz lists the member only, the outsider has none.
            assert [link.name for link in await hub.leaf_links()] == ["member"]
            assert await foreign.leaf_links() == []
            assert not foreign_seen.of(LeafLinkConnected)
            assert not member_seen.of(MeshLinkRejected)

            async with (
                client(hub) as on_hub,
                client(member) as on_member,
                client(foreign) as on_foreign,
            ):
                # (b) Reading: the outsider listens to everything while the swarm talks.
                overheard = Inbox()
                await on_foreign.subscribe(">", cb=overheard.receive)
                await on_foreign.publish("self.check", b"listening")
                await overheard.wait_for(b"listening")  # its subscriber does work
                swarm_inbox = Inbox()
                await on_hub.subscribe("swarm.data", cb=swarm_inbox.receive)
                await _until_routed(on_member, on_hub, "swarm.data")
                for index in range(MESSAGES):
                    await on_member.publish("swarm.data", b"secret%d" % index)
                await swarm_inbox.wait_for(b"secret%d" % (MESSAGES - 1))
                await on_foreign.flush()
                assert [m.subject for m in overheard.messages] == ["self.check"]

                # (c) Injecting: the outsider publishes to a subject members listen on; a marker
                # sent after it within the swarm arrives, the injected messages do not.
                member_inbox = Inbox()
                await on_member.subscribe("swarm.inbox", cb=member_inbox.receive)
                await _until_routed(on_hub, on_member, "swarm.inbox")
                for _ in range(MESSAGES):
                    await on_foreign.publish("swarm.inbox", b"injected")
                await on_foreign.flush()
                await on_hub.publish("swarm.inbox", b"marker")
                await member_inbox.wait_for(b"marker")
                assert member_inbox.payloads() == [b"marker"]
                assert not [m for m in overheard.messages if m.data.startswith(b"secret")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hub_in_cluster(
    root: Path, name: str, key: SwarmKey, port: int, routes: list[int]
) -> ServerSpec:
    cluster = ClusterSpec(
        "swarm",
        host="127.0.0.1",
        port=port,
        routes=tuple(f"nats-route://127.0.0.1:{route}" for route in routes),
    )
    spec = node_spec(root, name, key, hub=True)
    return dataclasses.replace(spec, cluster=cluster, route_credentials=key.route_credentials)


async def _dial_route_with(tls: TlsFiles, port: int) -> None:
    """An intruder on a route port: a TLS handshake with its own certificate, and no scruples
    about the hub's (it skips verifying it, so it is the hub's check that refuses it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(tls.cert_file, tls.key_file)
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        writer.close()


async def test_hubs_route_to_each_other_over_tls_and_a_foreign_hub_cannot_route_in(
    tmp_path: Path,
) -> None:
    one, two = _free_port(), _free_port()
    hub1 = NatsServer(_hub_in_cluster(tmp_path, "hub1", K, one, [one, two]), settings=FAST)
    hub2_seen = Events()
    hub2 = NatsServer(
        _hub_in_cluster(tmp_path, "hub2", K, two, [one, two]), settings=FAST, on_event=hub2_seen
    )
    try:
        await asyncio.gather(hub1.start(), hub2.start())  # JetStream waits for its peer
        assert hub1.leaf_url is not None
        member_spec = node_spec(tmp_path, "member", K, remotes=[hub1.leaf_url])
        async with (
            running(member_spec) as (member, _),
            client(member) as on_member,
            client(hub2) as on_hub2,
        ):
            # member -> (leaf, TLS) -> hub1 -> (route, TLS) -> hub2
            inbox = Inbox()
            await on_hub2.subscribe("swarm.data", cb=inbox.receive)
            await _until_routed(on_member, on_hub2, "swarm.data")
            await on_member.publish("swarm.data", b"across")
            await inbox.wait_for(b"across")

        foreign = issue_node_tls(SwarmKey.generate(), tmp_path / "foreign-tls", "foreign")
        await _dial_route_with(foreign, two)
        rejected = await hub2_seen.wait_for(MeshLinkRejected)
        assert (rejected.link, rejected.cause) == ("route", "tls-certificate")
        _, routez = await get_json("127.0.0.1", hub2.spec.monitor_port, "/routez")
        assert routez["routes"]
        assert {route["remote_name"] for route in routez["routes"]} == {"hub1"}
    finally:
        await asyncio.gather(hub1.stop(), hub2.stop())
