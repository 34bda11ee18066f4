"""The in-memory transport: the shared contract, plus what only an in-memory medium promises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from nunet.network import (
    AddressInUse,
    InMemoryNetwork,
    InMemoryTransport,
    InvalidAddress,
    PeerUnreachable,
    RequestTimeout,
    Transport,
    TransportClosed,
    TransportError,
)
from tests.network.contract import WAIT, Recorder, TransportContract, TransportFactory

NODE_PREFIX = "did:key:z6MkNode"


async def settle() -> None:
    """Let every ready task run a few steps: deterministic, no wall-clock wait."""
    for _ in range(20):
        await asyncio.sleep(0)


class TestInMemoryTransport(TransportContract):
    @pytest.fixture
    async def make_transports(self) -> AsyncIterator[TransportFactory]:
        network = InMemoryNetwork()
        made: list[Transport] = []

        async def make(count: int) -> list[Transport]:
            batch: list[Transport] = [
                InMemoryTransport(network, f"{NODE_PREFIX}{len(made) + i}", max_payload=64 * 1024)
                for i in range(count)
            ]
            made.extend(batch)
            return batch

        yield make
        for transport in made:
            await transport.close()


@pytest.fixture
def network() -> InMemoryNetwork:
    return InMemoryNetwork()


async def test_two_started_transports_cannot_share_an_address(network: InMemoryNetwork) -> None:
    first = InMemoryTransport(network, "did:key:z6MkSame")
    second = InMemoryTransport(network, "did:key:z6MkSame")
    await first.start(Recorder())
    with pytest.raises(AddressInUse):
        await second.start(Recorder())
    await first.close()
    await second.start(Recorder())
    assert network.addresses == {"did:key:z6MkSame"}
    await second.close()
    assert network.addresses == frozenset()


async def test_networks_are_isolated_from_each_other() -> None:
    a = InMemoryTransport(InMemoryNetwork(), "a")
    b = InMemoryTransport(InMemoryNetwork(), "b")
    await a.start(Recorder())
    await b.start(Recorder())
    with pytest.raises(PeerUnreachable):
        await a.send("b", b"across")
    await a.close()
    await b.close()


async def test_starting_twice_is_an_error(network: InMemoryNetwork) -> None:
    a = InMemoryTransport(network, "a")
    await a.start(Recorder())
    with pytest.raises(TransportError, match="already started"):
        await a.start(Recorder())
    await a.close()


async def test_closing_an_unstarted_transport_closes_it(network: InMemoryNetwork) -> None:
    a = InMemoryTransport(network, "a")
    await a.close()
    with pytest.raises(TransportClosed):
        await a.start(Recorder())


def test_a_bad_address_is_rejected_at_construction(network: InMemoryNetwork) -> None:
    with pytest.raises(InvalidAddress):
        InMemoryTransport(network, "not.one.token")


@pytest.mark.parametrize(
    "settings",
    [{"max_payload": 0}, {"inbox_buffer": 0}, {"subscription_buffer": 0}],
)
def test_limits_must_be_positive(network: InMemoryNetwork, settings: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        InMemoryTransport(network, "a", **settings)


async def blocked_pair(
    network: InMemoryNetwork, inbox_buffer: int
) -> tuple[InMemoryTransport, InMemoryTransport, asyncio.Event, Recorder]:
    """a -> b where b's handler blocks on the returned event; b records what it handled."""
    a = InMemoryTransport(network, "a")
    b = InMemoryTransport(network, "b", inbox_buffer=inbox_buffer)
    release = asyncio.Event()
    handled = Recorder()

    async def blocking(data: bytes) -> None:
        await release.wait()
        await handled(data)

    await a.start(Recorder())
    await b.start(blocking)
    return a, b, release, handled


async def test_send_waits_while_the_destination_lane_is_full(network: InMemoryNetwork) -> None:
    a, b, release, handled = await blocked_pair(network, inbox_buffer=2)
    await a.send("b", b"1")  # taken by the handler, which blocks
    await settle()
    await a.send("b", b"2")
    await a.send("b", b"3")  # lane now full
    waiting = asyncio.ensure_future(a.send("b", b"4"))
    await settle()
    assert not waiting.done()
    release.set()
    async with asyncio.timeout(WAIT):
        await waiting
    assert await handled.wait_for(4) == [b"1", b"2", b"3", b"4"]
    await a.close()
    await b.close()


async def test_a_sender_waiting_on_a_full_lane_fails_when_it_closes(
    network: InMemoryNetwork,
) -> None:
    a, b, _, _ = await blocked_pair(network, inbox_buffer=1)
    await a.send("b", b"1")
    await settle()
    await a.send("b", b"2")
    waiting = asyncio.ensure_future(a.send("b", b"3"))
    await settle()
    await a.close()
    with pytest.raises(TransportClosed):
        await waiting
    await b.close()


async def test_a_sender_waiting_on_a_full_lane_fails_when_the_peer_closes(
    network: InMemoryNetwork,
) -> None:
    a, b, _, _ = await blocked_pair(network, inbox_buffer=1)
    await a.send("b", b"1")
    await settle()
    await a.send("b", b"2")
    waiting = asyncio.ensure_future(a.send("b", b"3"))
    await settle()
    await b.close()
    with pytest.raises(PeerUnreachable):
        await waiting
    await a.close()


async def test_a_request_that_timed_out_while_queued_is_never_handled(
    network: InMemoryNetwork,
) -> None:
    a, b, release, handled = await blocked_pair(network, inbox_buffer=4)
    await a.send("b", b"first")
    await settle()
    with pytest.raises(RequestTimeout):
        await a.request("b", b"late", timeout=0.01)
    await a.send("b", b"last")
    release.set()
    assert await handled.wait_for(2) == [b"first", b"last"]
    await a.close()
    await b.close()


async def test_idle_lanes_are_dropped(network: InMemoryNetwork) -> None:
    a = InMemoryTransport(network, "a")
    inbox = Recorder()
    b = InMemoryTransport(network, "b")
    await a.start(Recorder())
    await b.start(inbox)
    await a.send("b", b"x")
    await inbox.wait_for(1)
    await settle()
    assert b._lanes == {}
    await a.close()
    await b.close()


async def test_a_full_subscription_drops_publications_and_logs_it(
    network: InMemoryNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    a = InMemoryTransport(network, "a", subscription_buffer=2)
    await a.start(Recorder())
    release = asyncio.Event()
    handled = Recorder()

    async def blocking(data: bytes) -> None:
        await release.wait()
        await handled.on_topic(data)

    subscription = await a.subscribe("t", blocking)
    await a.publish("t", b"1")
    await settle()  # the handler holds 1; 2 and 3 fill the buffer; 4 is dropped
    for message in (b"2", b"3", b"4"):
        await a.publish("t", message)
    assert subscription.dropped == 1  # type: ignore[attr-defined]
    assert "dropped a publication" in caplog.text
    release.set()
    assert await handled.wait_for(3) == [b"1", b"2", b"3"]
    await a.close()


async def test_handler_exceptions_are_logged(
    network: InMemoryNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    a = InMemoryTransport(network, "a")
    failed = asyncio.Event()

    async def broken(data: bytes) -> None:
        failed.set()
        raise RuntimeError("handler bug")

    await a.start(broken)
    with caplog.at_level(logging.ERROR, logger="nunet.network"):
        await a.send("a", b"x")
        async with asyncio.timeout(WAIT):
            await failed.wait()
        await settle()
    assert "inbox handler of a failed" in caplog.text
    assert "handler bug" in caplog.text
    await a.close()
