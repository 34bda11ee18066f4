"""Looking into a running swarm from a test: node heads, the swarm log stream, peer tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from nats.js.errors import NotFoundError, ServiceUnavailableError

from nunet.actor import Handle, InvokeTimeout
from nunet.api import find_api
from nunet.devstack.stack import free_port
from nunet.eventlog import EventRecord
from nunet.mesh import SwarmKey, read_mesh_access
from nunet.network import PeerUnreachable
from nunet.node import Node, NodeLayout, parse_config
from nunet.replication import STREAM, node_subject
from nunet.replication.stream import decode_message
from tests.support.homes import PASSPHRASE, make_home

WAIT = 60.0


async def connect(home: Path) -> Client:
    """A NATS client on the node's own server, as local tools connect (mesh.json)."""
    access = read_mesh_access(NodeLayout(home).mesh_access)
    return await nats.connect(
        access.client_url, token=access.token, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )


def invoke(home: Path, behavior: str, payload: Any = None, actor: str = "node") -> Any:
    """Invoke a behavior of the node's own actor `actor` through its local API (blocking)."""
    with find_api(home) as client:
        me = client.invoke("/dms/node/peers/self")["did"]
        return client.invoke(behavior, payload, to={"did": me, "actor": actor, "node": me})


async def head(home: Path) -> int:
    status = await asyncio.to_thread(invoke, home, "/public/status")
    return int(status["log"]["head"])


async def stored_records(nc: Client, did: str) -> list[EventRecord]:
    """Every record the swarm stream holds for the node, in stream order, duplicates included
    (a message may carry several records; each is listed)."""
    js = nc.jetstream(domain="swarm")
    subject = node_subject(did)
    try:
        last = (await js.get_last_msg(STREAM, subject)).seq
    except NotFoundError:
        return []
    subscription = await js.subscribe(
        subject, stream=STREAM, ordered_consumer=True, deliver_policy=api.DeliverPolicy.ALL
    )
    records = []
    try:
        while True:
            message = await subscription.next_msg(timeout=10)
            records += decode_message(message.subject, message.headers, message.data).records
            if message.metadata.sequence.stream >= last:
                return records
    finally:
        await subscription.unsubscribe()


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.1)


async def wait_replicated(nc: Client, did: str, seq: int, timeout: float = WAIT) -> None:
    """Until the stream holds the node's records up to `seq`."""

    async def there() -> bool:
        try:
            return any(r.seq >= seq for r in await stored_records(nc, did))
        except (ServiceUnavailableError, NatsTimeoutError):
            return False  # the hub is not reachable (yet): its leaf link is still coming up

    await wait_until(there, f"{did[-8:]} replicated up to {seq}", timeout)


async def until_reachable(node: Node, to: Handle, timeout: float = WAIT) -> None:
    """Until `node` gets an answer from `to` (its leaf link and interest may still be coming up:
    until then NATS has no responders for the address)."""

    async def answered() -> bool:
        try:
            await node.invoke_as_user("/public/status", to=to, timeout=5)
        except (PeerUnreachable, InvokeTimeout):
            return False
        return True

    await wait_until(answered, f"{to} to answer {node.did[-8:]}", timeout)


def assert_exactly_once(records: list[EventRecord]) -> None:
    """The stream holds 1..max of the node's records, each once, each linked to the one before."""
    seqs = [r.seq for r in records]
    assert sorted(seqs) == list(range(1, max(seqs) + 1)), "records lost or duplicated"
    by_seq = {r.seq: r for r in records}
    for seq in range(2, max(seqs) + 1):
        assert by_seq[seq].prev_hash == by_seq[seq - 1].hash, f"chain broken at {seq}"


def peer_states(home: Path) -> dict[str, str]:
    rows = invoke(home, "/dms/node/peers/list", actor="peers")
    return {row["did"]: row["state"] for row in rows}


@asynccontextmanager
async def hub_and_member(
    directory: Path, *, heartbeat: float = 0.5, hub_settings: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Node, Node]]:
    """A hub and one member in a private swarm of their own, in this process; yields once the
    hub answers the member. `hub_settings`: extra top-level config of the hub (rate limits)."""
    key = directory / "swarm.key"
    SwarmKey.generate().write(key)
    port = free_port()
    mesh = {"swarm_key_file": str(key), "heartbeat_seconds": heartbeat}
    hub = await Node.open(
        make_home(directory / "hub"),
        PASSPHRASE,
        parse_config({**(hub_settings or {}), "mesh": {**mesh, "hub": {"port": port}}}),
    )
    try:
        member = await Node.open(
            make_home(directory / "member"),
            PASSPHRASE,
            parse_config({"mesh": {**mesh, "bootstrap": [f"nats-leaf://127.0.0.1:{port}"]}}),
        )
        try:
            await until_reachable(member, hub.node_handle)
            yield hub, member
        finally:
            await member.close()
    finally:
        await hub.close()
