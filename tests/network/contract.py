"""The transport contract: each Transport implementation's test module subclasses TransportContract.

A subclass supplies one fixture, `make_transports`: an async factory that returns N unstarted
transports on one medium (distinct addresses, the same max_payload) and closes them at teardown.
Tests never sleep to wait: they wait on what they expect, with a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nunet.network import (
    InvalidAddress,
    InvalidTopic,
    MessageTooLarge,
    PeerUnreachable,
    RequestFailed,
    RequestTimeout,
    Transport,
    TransportClosed,
    TransportNotStarted,
)

TransportFactory = Callable[[int], Awaitable[list[Transport]]]

WAIT = 20.0
"""Seconds to wait for something that should happen at once; reached only on failure."""

UNKNOWN_ADDRESS = "did:key:z6MkNobodyIsHere"


class Recorder:
    """A handler that records what it receives; tests wait on counts, never on time."""

    def __init__(self, reply: Callable[[bytes], bytes | None] | None = None) -> None:
        self.received: list[bytes] = []
        self._reply = reply
        self._changed = asyncio.Condition()

    async def __call__(self, data: bytes) -> bytes | None:
        await self._record(data)
        return self._reply(data) if self._reply is not None else None

    async def on_topic(self, data: bytes) -> None:
        await self._record(data)

    async def _record(self, data: bytes) -> None:
        async with self._changed:
            self.received.append(data)
            self._changed.notify_all()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[bytes]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.received) >= count)
        return list(self.received)


def echo(data: bytes) -> bytes:
    return b"echo:" + data


async def ignore(data: bytes) -> None:
    return None


async def started(make: TransportFactory, count: int) -> tuple[list[Transport], list[Recorder]]:
    transports = await make(count)
    recorders = [Recorder(reply=echo) for _ in transports]
    for transport, recorder in zip(transports, recorders, strict=True):
        await transport.start(recorder)
    return transports, recorders


async def round_trip(transport: Transport) -> None:
    """A barrier: one request to oneself, so earlier traffic has had its turn."""
    await transport.request(transport.address, b"barrier", timeout=WAIT)


Operation = Callable[[Transport, str, bytes], Awaitable[object]]

OUTGOING: dict[str, Operation] = {
    "send": lambda node, peer, data: node.send(peer, data),
    "request": lambda node, peer, data: node.request(peer, data, timeout=WAIT),
    "publish": lambda node, peer, data: node.publish("t", data),
}

ANY_OPERATION: dict[str, Operation] = {
    **OUTGOING,
    "subscribe": lambda node, peer, data: node.subscribe("t", Recorder().on_topic),
    "start": lambda node, peer, data: node.start(Recorder()),
}


class TransportContract:
    """Behaviour every Transport honours. Subclass it and override `make_transports`."""

    @pytest.fixture
    def make_transports(self) -> TransportFactory:
        raise NotImplementedError("a transport's test module overrides make_transports")

    # --- direct messages ---

    async def test_send_delivers_the_bytes_to_the_peer_inbox(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        await a.send(b.address, b"hello")
        assert await inbox_b.wait_for(1) == [b"hello"]

    async def test_send_to_oneself_is_delivered(self, make_transports: TransportFactory) -> None:
        (a,), (inbox_a,) = await started(make_transports, 1)
        await a.send(a.address, b"note to self")
        assert await inbox_a.wait_for(1) == [b"note to self"]

    async def test_messages_from_one_sender_arrive_in_order(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        messages = [f"m{i}".encode() for i in range(300)]
        for message in messages:
            await a.send(b.address, message)
        assert await inbox_b.wait_for(len(messages)) == messages

    async def test_empty_message_is_delivered(self, make_transports: TransportFactory) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        await a.send(b.address, b"")
        assert await inbox_b.wait_for(1) == [b""]

    async def test_send_to_an_unknown_address_raises_peer_unreachable(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        with pytest.raises(PeerUnreachable):
            await a.send(UNKNOWN_ADDRESS, b"anyone?")

    async def test_send_to_a_peer_that_never_started_raises_peer_unreachable(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        await a.start(Recorder())
        with pytest.raises(PeerUnreachable):
            await a.send(b.address, b"anyone?")

    async def test_send_to_a_closed_peer_raises_peer_unreachable(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        await b.close()
        with pytest.raises(PeerUnreachable):
            await a.send(b.address, b"anyone?")

    @pytest.mark.parametrize("address", ["", "a.b", "a b", "*", ">", "tab\there", "é"])
    async def test_invalid_addresses_are_rejected(
        self, make_transports: TransportFactory, address: str
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        with pytest.raises(InvalidAddress):
            await a.send(address, b"x")
        with pytest.raises(InvalidAddress):
            await a.request(address, b"x", timeout=WAIT)

    # --- request / reply ---

    async def test_request_returns_the_peer_reply(self, make_transports: TransportFactory) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        assert await a.request(b.address, b"ping", timeout=WAIT) == b"echo:ping"
        assert inbox_b.received == [b"ping"]

    async def test_request_to_oneself_is_answered(self, make_transports: TransportFactory) -> None:
        (a,), _ = await started(make_transports, 1)
        assert await a.request(a.address, b"me", timeout=WAIT) == b"echo:me"

    async def test_request_times_out_when_the_peer_does_not_answer_in_time(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        never = asyncio.Event()

        async def stall(data: bytes) -> bytes:
            await never.wait()
            return data

        await a.start(Recorder())
        await b.start(stall)
        with pytest.raises(RequestTimeout):
            await a.request(b.address, b"hello?", timeout=0.05)

    async def test_request_fails_when_the_peer_handler_returns_no_reply(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        await a.start(Recorder())
        await b.start(ignore)
        with pytest.raises(RequestFailed):
            await a.request(b.address, b"hello?", timeout=WAIT)

    async def test_request_fails_when_the_peer_handler_raises(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)

        async def broken(data: bytes) -> bytes:
            raise RuntimeError("handler bug")

        await a.start(Recorder())
        await b.start(broken)
        with pytest.raises(RequestFailed):
            await a.request(b.address, b"hello?", timeout=WAIT)

    async def test_request_to_an_unknown_address_raises_peer_unreachable(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        with pytest.raises(PeerUnreachable):
            await a.request(UNKNOWN_ADDRESS, b"anyone?", timeout=WAIT)

    @pytest.mark.parametrize("timeout", [0.0, -1.0])
    async def test_request_timeout_must_be_positive(
        self, make_transports: TransportFactory, timeout: float
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        with pytest.raises(ValueError, match="positive"):
            await a.request(b.address, b"x", timeout=timeout)

    async def test_requests_are_handled_concurrently(
        self, make_transports: TransportFactory
    ) -> None:
        # Each handler waits until all requests have arrived: only concurrent handling finishes.
        a, b = await make_transports(2)
        count = 10
        arrived: list[bytes] = []
        all_arrived = asyncio.Event()

        async def gather_then_answer(data: bytes) -> bytes:
            arrived.append(data)
            if len(arrived) == count:
                all_arrived.set()
            await all_arrived.wait()
            return data

        await a.start(Recorder())
        await b.start(gather_then_answer)
        requests = [f"r{i}".encode() for i in range(count)]
        replies = await asyncio.gather(*(a.request(b.address, r, timeout=WAIT) for r in requests))
        assert replies == requests

    async def test_a_handler_may_request_back_to_its_requester(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)

        async def ask_back(data: bytes) -> bytes:
            return b"b heard " + await b.request(a.address, b"who?", timeout=WAIT)

        await a.start(Recorder(reply=lambda data: b"a"))
        await b.start(ask_back)
        assert await a.request(b.address, b"hi", timeout=WAIT) == b"b heard a"

    # --- topics ---

    async def test_publish_reaches_every_subscriber_including_the_publisher(
        self, make_transports: TransportFactory
    ) -> None:
        transports, _ = await started(make_transports, 3)
        recorders = [Recorder() for _ in transports]
        for transport, recorder in zip(transports, recorders, strict=True):
            await transport.subscribe("swarm.news", recorder.on_topic)
        await transports[0].publish("swarm.news", b"hear ye")
        for recorder in recorders:
            assert await recorder.wait_for(1) == [b"hear ye"]

    async def test_publications_from_one_publisher_arrive_in_order(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        recorder = Recorder()
        await b.subscribe("ticks", recorder.on_topic)
        messages = [f"t{i}".encode() for i in range(300)]
        for message in messages:
            await a.publish("ticks", message)
        assert await recorder.wait_for(len(messages)) == messages

    async def test_publish_without_subscribers_is_not_an_error(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        await a.publish("nobody.listens", b"echo")

    async def test_each_subscription_of_a_node_gets_its_own_copy(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        first, second = Recorder(), Recorder()
        await a.subscribe("t", first.on_topic)
        await a.subscribe("t", second.on_topic)
        await a.publish("t", b"x")
        assert await first.wait_for(1) == [b"x"]
        assert await second.wait_for(1) == [b"x"]

    async def test_a_subscription_gets_only_its_topic(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        jobs = Recorder()
        await a.subscribe("jobs", jobs.on_topic)
        await a.publish("jobs.extra", b"no")
        await a.publish("other", b"no")
        await a.publish("jobs", b"yes")
        assert await jobs.wait_for(1) == [b"yes"]
        await round_trip(a)
        assert jobs.received == [b"yes"]

    async def test_star_wildcard_matches_exactly_one_token(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        recorder = Recorder()
        await b.subscribe("bids.*.open", recorder.on_topic)
        for topic in ["bids.open", "bids.x.y.open", "bids.x.closed", "bids.job7.open"]:
            await a.publish(topic, topic.encode())
        assert await recorder.wait_for(1) == [b"bids.job7.open"]
        await round_trip(b)
        assert recorder.received == [b"bids.job7.open"]

    async def test_greater_than_wildcard_matches_one_or_more_trailing_tokens(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        recorder = Recorder()
        await b.subscribe("log.>", recorder.on_topic)
        for topic in ["log", "logs.x", "log.a", "log.a.b.c"]:
            await a.publish(topic, topic.encode())
        assert sorted(await recorder.wait_for(2)) == [b"log.a", b"log.a.b.c"]
        await round_trip(b)
        assert len(recorder.received) == 2

    @pytest.mark.parametrize("topic", ["", ".a", "a.", "a..b", "a b", "a.*", "a.>", "*", "a*b"])
    async def test_publishing_to_an_invalid_or_wildcard_topic_is_rejected(
        self, make_transports: TransportFactory, topic: str
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        with pytest.raises(InvalidTopic):
            await a.publish(topic, b"x")

    @pytest.mark.parametrize("pattern", ["", ".a", "a.", "a..b", "a b", "a.>.b", ">.a", "a*", "a>"])
    async def test_subscribing_to_an_invalid_pattern_is_rejected(
        self, make_transports: TransportFactory, pattern: str
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        with pytest.raises(InvalidTopic):
            await a.subscribe(pattern, Recorder().on_topic)

    async def test_unsubscribe_stops_delivery(self, make_transports: TransportFactory) -> None:
        (a, b), _ = await started(make_transports, 2)
        leaving, staying = Recorder(), Recorder()
        subscription = await b.subscribe("t", leaving.on_topic)
        await b.subscribe("t", staying.on_topic)
        await a.publish("t", b"before")
        await leaving.wait_for(1)
        await subscription.unsubscribe()
        await a.publish("t", b"after")
        assert await staying.wait_for(2) == [b"before", b"after"]
        await round_trip(b)
        assert leaving.received == [b"before"]
        assert subscription.topic == "t"

    async def test_unsubscribe_is_idempotent(self, make_transports: TransportFactory) -> None:
        (a,), _ = await started(make_transports, 1)
        subscription = await a.subscribe("t", Recorder().on_topic)
        await subscription.unsubscribe()
        await subscription.unsubscribe()

    async def test_a_handler_may_unsubscribe_its_own_subscription(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        seen: list[bytes] = []
        witness = Recorder()
        subscriptions: list[Any] = []

        async def once(data: bytes) -> None:
            seen.append(data)
            await subscriptions[0].unsubscribe()

        subscriptions.append(await a.subscribe("t", once))
        await a.subscribe("t", witness.on_topic)
        for message in (b"1", b"2", b"3"):
            await a.publish("t", message)
        await witness.wait_for(3)
        await round_trip(a)
        assert seen == [b"1"]

    # --- payload limits ---

    async def test_a_message_of_exactly_max_payload_is_delivered(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        largest = b"x" * a.max_payload
        await a.send(b.address, largest)
        assert await inbox_b.wait_for(1) == [largest]

    @pytest.mark.parametrize("operation", sorted(OUTGOING))
    async def test_a_message_over_max_payload_is_refused(
        self, make_transports: TransportFactory, operation: str
    ) -> None:
        (a, b), (_, inbox_b) = await started(make_transports, 2)
        too_large = b"x" * (a.max_payload + 1)
        with pytest.raises(MessageTooLarge):
            await OUTGOING[operation](a, b.address, too_large)
        assert inbox_b.received == []

    async def test_a_reply_over_max_payload_fails_the_request(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)

        async def bloated(data: bytes) -> bytes:
            return b"x" * (b.max_payload + 1)

        await a.start(Recorder())
        await b.start(bloated)
        with pytest.raises(RequestFailed):
            await a.request(b.address, b"go", timeout=WAIT)

    # --- failures in handlers ---

    async def test_an_inbox_handler_exception_does_not_stop_later_messages(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        received: list[bytes] = []
        done = asyncio.Event()

        async def fragile(data: bytes) -> None:
            received.append(data)
            if data == b"3":
                done.set()
            if data == b"1":
                raise RuntimeError("handler bug")

        await a.start(Recorder())
        await b.start(fragile)
        for message in (b"1", b"2", b"3"):
            await a.send(b.address, message)
        async with asyncio.timeout(WAIT):
            await done.wait()
        assert received == [b"1", b"2", b"3"]

    async def test_a_topic_handler_exception_does_not_stop_later_messages(
        self, make_transports: TransportFactory
    ) -> None:
        (a,), _ = await started(make_transports, 1)
        recorder = Recorder()

        async def fragile(data: bytes) -> None:
            await recorder.on_topic(data)
            if data == b"1":
                raise RuntimeError("handler bug")

        await a.subscribe("t", fragile)
        for message in (b"1", b"2"):
            await a.publish("t", message)
        assert await recorder.wait_for(2) == [b"1", b"2"]

    async def test_a_slow_handler_does_not_hold_up_other_destinations_or_senders(
        self, make_transports: TransportFactory
    ) -> None:
        a, b, c = await make_transports(3)
        release = asyncio.Event()
        stuck = asyncio.Event()
        at_b = Recorder()
        at_c = Recorder()

        async def slow_for_a(data: bytes) -> None:
            if data == b"from a":
                stuck.set()
                await release.wait()
            await at_b(data)

        await a.start(Recorder())
        await b.start(slow_for_a)
        await c.start(at_c)
        await a.send(b.address, b"from a")
        async with asyncio.timeout(WAIT):
            await stuck.wait()
        await a.send(c.address, b"a to c")
        await c.send(b.address, b"c to b")
        assert await at_c.wait_for(1) == [b"a to c"]
        assert await at_b.wait_for(1) == [b"c to b"]
        release.set()
        assert await at_b.wait_for(2) == [b"c to b", b"from a"]

    # --- lifecycle ---

    async def test_operations_before_start_raise_transport_not_started(
        self, make_transports: TransportFactory
    ) -> None:
        (a,) = await make_transports(1)
        with pytest.raises(TransportNotStarted):
            await a.send(a.address, b"x")
        with pytest.raises(TransportNotStarted):
            await a.publish("t", b"x")
        with pytest.raises(TransportNotStarted):
            await a.subscribe("t", Recorder().on_topic)

    async def test_close_is_idempotent(self, make_transports: TransportFactory) -> None:
        (a,), _ = await started(make_transports, 1)
        await a.close()
        await a.close()

    @pytest.mark.parametrize("operation", sorted(ANY_OPERATION))
    async def test_operations_after_close_raise_transport_closed(
        self, make_transports: TransportFactory, operation: str
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        await a.close()
        with pytest.raises(TransportClosed):
            await ANY_OPERATION[operation](a, b.address, b"x")

    async def test_closing_fails_the_requests_it_awaits_with_transport_closed(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        asked = asyncio.Event()

        async def stall(data: bytes) -> bytes:
            asked.set()
            await asyncio.Event().wait()
            return data

        await a.start(Recorder())
        await b.start(stall)
        pending = asyncio.ensure_future(a.request(b.address, b"?", timeout=WAIT))
        async with asyncio.timeout(WAIT):
            await asked.wait()
        await a.close()
        with pytest.raises(TransportClosed):
            await pending

    async def test_a_request_to_a_peer_that_closes_meanwhile_fails(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        asked = asyncio.Event()

        async def stall(data: bytes) -> bytes:
            asked.set()
            await asyncio.Event().wait()
            return data

        await a.start(Recorder())
        await b.start(stall)
        pending = asyncio.ensure_future(a.request(b.address, b"?", timeout=1.0))
        async with asyncio.timeout(WAIT):
            await asked.wait()
        await b.close()
        with pytest.raises((PeerUnreachable, RequestTimeout)):
            await pending

    async def test_a_closed_node_gets_no_more_publications(
        self, make_transports: TransportFactory
    ) -> None:
        (a, b), _ = await started(make_transports, 2)
        at_a, at_b = Recorder(), Recorder()
        await a.subscribe("t", at_a.on_topic)
        await b.subscribe("t", at_b.on_topic)
        await b.close()
        await a.publish("t", b"after b left")
        assert await at_a.wait_for(1) == [b"after b left"]
        await round_trip(a)
        assert at_b.received == []

    async def test_a_handler_may_close_its_own_transport(
        self, make_transports: TransportFactory
    ) -> None:
        a, b = await make_transports(2)
        closed = asyncio.Event()

        async def close_on_message(data: bytes) -> None:
            await b.close()
            closed.set()

        await a.start(Recorder())
        await b.start(close_on_message)
        await a.send(b.address, b"shut down")
        async with asyncio.timeout(WAIT):
            await closed.wait()
        with pytest.raises(PeerUnreachable):
            await a.send(b.address, b"still there?")

    # --- many nodes at once ---

    async def test_concurrent_traffic_between_many_nodes_arrives_complete_and_in_order(
        self, make_transports: TransportFactory
    ) -> None:
        nodes, inboxes = await started(make_transports, 4)
        per_pair = 40
        topic_seen = [Recorder() for _ in nodes]
        for node, recorder in zip(nodes, topic_seen, strict=True):
            await node.subscribe("all.>", recorder.on_topic)

        async def chatter(sender: Transport) -> list[bytes]:
            replies: list[bytes] = []
            for i in range(per_pair):
                for peer in nodes:
                    if peer is not sender:
                        await sender.send(peer.address, f"{sender.address}|{i}".encode())
                replies.append(await sender.request(sender.address, b"%d" % i, timeout=WAIT))
                await sender.publish(f"all.{i % 3}", f"{sender.address}|{i}".encode())
            return replies

        replies = await asyncio.gather(*(chatter(node) for node in nodes))
        assert all(r == [b"echo:%d" % i for i in range(per_pair)] for r in replies)
        expected_inbox = (len(nodes) - 1) * per_pair + per_pair  # peers' messages + own requests
        published = len(nodes) * per_pair
        for node, inbox, seen in zip(nodes, inboxes, topic_seen, strict=True):
            received = await inbox.wait_for(expected_inbox)
            assert len(received) == expected_inbox
            await seen.wait_for(published)
            for sender in nodes:
                prefix = f"{sender.address}|".encode()
                if sender is not node:
                    direct = [m for m in received if m.startswith(prefix)]
                    assert direct == [prefix + b"%d" % i for i in range(per_pair)]
                topical = [m for m in seen.received if m.startswith(prefix)]
                assert topical == [prefix + b"%d" % i for i in range(per_pair)]
