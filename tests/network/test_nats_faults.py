"""What only the NATS transport promises: surviving server restarts, garbage on its subjects,
duplicate publications, slow subscribers, and one address per mesh across leaf servers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from nunet.network import (
    AddressInUse,
    NatsSubscription,
    NatsTransport,
    PeerUnreachable,
    TransportError,
    TransportNotStarted,
)
from nunet.network.nats_wire import KIND, REASON, SENDER, STATUS, Kind, Status, inbox_subject
from tests.network.contract import WAIT, Recorder, echo, round_trip
from tests.network.test_nats import fresh_address
from tests.support.nats import NatsProcess, leaf_mesh, nats_server

RESTART_WAIT = 20.0
"""Reconnecting after a restart takes a server start and a reconnect wait: generous on 2 cores."""


class LogWatch(logging.Handler):
    """Sets `seen` when a record of the NATS transport contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()

    async def wait(self, timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            await self.seen.wait()


@contextmanager
def watching(text: str) -> Iterator[LogWatch]:
    logger = logging.getLogger("nunet.network.nats")
    watch = LogWatch(text)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)


@asynccontextmanager
async def started(url: str, count: int, **options: Any) -> AsyncIterator[list[NatsTransport]]:
    transports = [NatsTransport(url, fresh_address(), **options) for _ in range(count)]
    try:
        for transport in transports:
            await transport.start(Recorder(reply=echo))
        yield transports
    finally:
        for transport in transports:
            await transport.close()


@asynccontextmanager
async def raw_client(url: str) -> AsyncIterator[Client]:
    client = await nats.connect(url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[NatsProcess]:
    async with nats_server(tmp_path, jetstream=False) as process:
        yield process


# --- connection ---


async def test_traffic_resumes_after_the_server_restarts(server: NatsProcess) -> None:
    a = NatsTransport(server.url, fresh_address())
    inbox = Recorder(reply=echo)
    b = NatsTransport(server.url, fresh_address())
    await a.start(Recorder())
    await b.start(inbox)
    news = Recorder()
    await b.subscribe("news", news.on_topic)
    await a.send(b.address, b"before")
    with watching("reconnected to NATS") as reconnected:
        await server.restart()
        await reconnected.wait(RESTART_WAIT)
    async with asyncio.timeout(RESTART_WAIT):
        await a.wait_until_connected()
        await b.wait_until_connected()
    await a.send(b.address, b"after")
    assert await inbox.wait_for(2) == [b"before", b"after"]
    assert await a.request(b.address, b"still there?", timeout=WAIT) == b"echo:still there?"
    await a.publish("news", b"the subscription came back")
    assert await news.wait_for(1) == [b"the subscription came back"]
    await a.close()
    await b.close()


async def test_while_disconnected_send_and_request_raise_peer_unreachable_at_once(
    server: NatsProcess,
) -> None:
    async with started(server.url, 2) as (a, b):
        with watching("disconnected from NATS") as disconnected:
            await server.stop()
            await disconnected.wait()
        assert not a.connected
        with pytest.raises(PeerUnreachable, match="disconnected"):
            await a.send(b.address, b"x")
        with pytest.raises(PeerUnreachable, match="disconnected"):
            await a.request(b.address, b"x", timeout=WAIT)
        await server.start()
        async with asyncio.timeout(RESTART_WAIT):
            await a.wait_until_connected()
            await b.wait_until_connected()
        assert await a.request(b.address, b"back", timeout=WAIT) == b"echo:back"


async def test_start_names_the_server_it_could_not_reach() -> None:
    lonely = NatsTransport("nats://127.0.0.1:1", fresh_address(), connect_timeout=0.5)
    with pytest.raises(TransportError, match=r"could not connect to NATS at nats://127\.0\.0\.1:1"):
        await lonely.start(Recorder())
    await lonely.close()


async def test_the_connection_is_shared_once_started(server: NatsProcess) -> None:
    transport = NatsTransport(server.url, fresh_address())
    with pytest.raises(TransportNotStarted):
        _ = transport.client
    with pytest.raises(TransportNotStarted):
        _ = transport.max_payload
    assert not transport.connected
    await transport.start(Recorder())
    assert transport.connected
    assert transport.client.is_connected
    assert transport.max_payload < transport.client.max_payload  # room for headers
    await transport.close()
    assert not transport.connected


# --- bad input ---


async def test_garbage_on_an_inbox_is_rejected_and_later_traffic_flows(
    server: NatsProcess,
) -> None:
    async with started(server.url, 2) as (a, b), raw_client(server.url) as raw:
        inbox = Recorder(reply=echo)
        c = NatsTransport(server.url, fresh_address())
        await c.start(inbox)
        subject = f"nunet.inbox.{c.address}"
        huge = b"x" * (c.max_payload + 1)
        garbage: list[tuple[bytes, dict[str, str] | None]] = [
            (b"no headers", None),
            (b"", None),
            (huge, {"Nunet-From": a.address, "Nunet-Kind": "send"}),
            (b"bad sender", {"Nunet-From": "not.an.address", "Nunet-Kind": "send"}),
            (b"bad kind", {"Nunet-From": a.address, "Nunet-Kind": "shout"}),
            (b"no timeout", {"Nunet-From": a.address, "Nunet-Kind": "request"}),
            (
                b"bad timeout",
                {"Nunet-From": a.address, "Nunet-Kind": "request", "Nunet-Timeout": "nan"},
            ),
        ]
        for data, headers in garbage:
            await raw.publish(subject, data, headers=headers)  # no reply subject: dropped
            reply = await raw.request(subject, data, headers=headers, timeout=WAIT)
            assert reply.headers is not None
            assert reply.headers["Nunet-Status"] == "rejected"
        await a.send(c.address, b"good")
        assert await b.request(c.address, b"fine", timeout=WAIT) == b"echo:fine"
        await round_trip(c)
        assert inbox.received == [b"good", b"fine", b"barrier"]
        assert c.rejected == 2 * len(garbage)
        await c.close()


async def test_garbage_on_a_topic_is_dropped_and_later_publications_flow(
    server: NatsProcess,
) -> None:
    async with started(server.url, 1) as (a,), raw_client(server.url) as raw:
        seen = Recorder()
        subscription = await a.subscribe("news.>", seen.on_topic)
        huge = b"x" * (a.max_payload + 1)
        with watching("over the maximum payload") as huge_dropped:
            for data, headers in [
                (b"no id", None),
                (b"", None),
                (b"empty id", {"Nunet-Msg-Id": ""}),
                (huge, {"Nunet-Msg-Id": "huge"}),
            ]:
                await raw.publish("nunet.topic.news.raw", data, headers=headers)
            await huge_dropped.wait()  # the last one
        await a.publish("news.good", b"good")
        assert await seen.wait_for(1) == [b"good"]
        assert isinstance(subscription, NatsSubscription)
        assert subscription.rejected == 4


async def test_a_publication_arriving_twice_is_handled_once(server: NatsProcess) -> None:
    async with started(server.url, 1) as (a,), raw_client(server.url) as raw:
        seen = Recorder()
        subscription = await a.subscribe("news", seen.on_topic)
        for message_id, data in [("m-1", b"first"), ("m-1", b"first"), ("m-2", b"second")]:
            await raw.publish("nunet.topic.news", data, headers={"Nunet-Msg-Id": message_id})
        assert await seen.wait_for(2) == [b"first", b"second"]
        await raw.publish("nunet.topic.news", b"first", headers={"Nunet-Msg-Id": "m-1"})
        await a.publish("news", b"third")
        assert await seen.wait_for(3) == [b"first", b"second", b"third"]
        assert isinstance(subscription, NatsSubscription)
        assert subscription.duplicates == 2


# --- back-pressure and slow subscribers ---


async def test_send_waits_while_the_destination_lane_is_full_and_beyond_that_is_refused(
    server: NatsProcess,
) -> None:
    release = asyncio.Event()
    busy = asyncio.Event()
    handled = Recorder()

    async def blocking(data: bytes) -> None:
        busy.set()
        await release.wait()
        await handled(data)

    async with started(server.url, 1) as (a,):
        b = NatsTransport(server.url, fresh_address(), inbox_buffer=1)
        await b.start(blocking)
        await a.send(b.address, b"1")  # taken by the handler, which blocks
        async with asyncio.timeout(WAIT):
            await busy.wait()
        await a.send(b.address, b"2")  # fills the lane
        waiting = asyncio.ensure_future(a.send(b.address, b"3"))  # backlog: its ack held back
        await asyncio.sleep(0)  # 3 runs up to its wait for the ack: it is buffered before 4
        with pytest.raises(TransportError, match="busy"):
            await a.send(b.address, b"4")  # sent after 3 on the same connection
        assert not waiting.done()
        release.set()
        async with asyncio.timeout(WAIT):
            await waiting
        assert await handled.wait_for(3) == [b"1", b"2", b"3"]
        await b.close()


async def test_a_slow_subscription_drops_publications_and_counts_them(
    server: NatsProcess,
) -> None:
    async with started(server.url, 1, subscription_buffer=2) as (a,):
        release = asyncio.Event()
        busy = asyncio.Event()
        handled = Recorder()

        async def blocking(data: bytes) -> None:
            busy.set()
            await release.wait()
            await handled.on_topic(data)

        subscription = await a.subscribe("t", blocking)
        await a.publish("t", b"1")
        async with asyncio.timeout(WAIT):
            await busy.wait()
        with watching("dropped a publication") as dropped:
            for message in (b"2", b"3", b"4"):
                await a.publish("t", message)
            await dropped.wait()
        release.set()
        assert await handled.wait_for(3) == [b"1", b"2", b"3"]
        assert isinstance(subscription, NatsSubscription)
        assert subscription.dropped == 1


# --- addresses across a mesh ---


async def test_an_address_taken_on_another_leaf_is_refused(tmp_path: Path) -> None:
    async with leaf_mesh(tmp_path, leaves=2, jetstream=False) as mesh:
        address = fresh_address()
        first = NatsTransport(mesh.leaves[0].url, address)
        second = NatsTransport(mesh.leaves[1].url, address)
        await first.start(Recorder())
        with pytest.raises(AddressInUse, match="already running"):
            await second.start(Recorder())
        await first.close()
        inbox = Recorder()
        await second.start(inbox)  # free again once the first left
        async with started(mesh.hub.url, 1) as (sender,):
            await sender.send(address, b"to the second")
            assert await inbox.wait_for(1) == [b"to the second"]
        await second.close()


async def test_forged_sender_names_cannot_multiply_queues_or_bytes(server: NatsProcess) -> None:
    # The sender header is not authenticated: bounds across senders stop a flood of names.
    release = asyncio.Event()

    async def blocking(data: bytes) -> None:
        await release.wait()

    b = NatsTransport(server.url, fresh_address(), inbox_senders=3, inbox_bytes=64 * 1024)
    await b.start(blocking)
    try:
        async with raw_client(server.url) as raw:

            async def send_as(sender: str, data: bytes) -> tuple[str, str]:
                headers = {SENDER: sender, KIND: Kind.SEND.value}
                reply = await raw.request(
                    inbox_subject(b.address), data, headers=headers, timeout=WAIT
                )
                assert reply.headers is not None
                return reply.headers[STATUS], reply.headers.get(REASON, "")

            for i in range(3):  # three senders, each with a message stuck in its lane
                assert (await send_as(f"forged{i}", b"x"))[0] == Status.ACK.value
            status, reason = await send_as("forged3", b"x")
            assert status == Status.BUSY.value
            assert "senders already have messages waiting" in reason
            chunk = b"y" * (40 * 1024)
            assert (await send_as("forged1", chunk))[0] == Status.ACK.value  # waits, queued
            status, reason = await send_as("forged2", chunk)  # 80 KiB would wait: over 64
            assert status == Status.BUSY.value
            assert "bytes of messages already wait" in reason
            release.set()
            async with asyncio.timeout(WAIT):
                while (await send_as("forged3", b"x"))[0] != Status.ACK.value:
                    await asyncio.sleep(0.01)  # the stuck lanes drain, then room is made
    finally:
        release.set()
        await b.close()


async def test_a_subscription_is_in_force_when_subscribe_returns_even_behind_queued_traffic(
    server: NatsProcess,
) -> None:
    # nats-py writes a flush's PING ahead of commands still in its buffer; subscribe must not
    # return before the server has the SUB (this lost ~3% of first publications before the fix).
    async with started(server.url, 2) as (subscriber, publisher):
        for i in range(150):  # bounded
            for _ in range(20):  # traffic queued on the subscriber's connection before its SUB
                await subscriber.publish("noise", b"x" * 200)
            seen = Recorder()
            subscription = await subscriber.subscribe(f"fresh.{i}", seen.on_topic)
            await publisher.publish(f"fresh.{i}", b"first")
            assert await seen.wait_for(1) == [b"first"], f"subscription {i} missed it"
            await subscription.unsubscribe()
