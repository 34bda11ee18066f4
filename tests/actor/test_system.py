"""The actor system end to end: local and remote calls, topics, refusals logged, failures surfaced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from nunet.actor import (
    Actor,
    ActorError,
    BehaviorFailed,
    Envelope,
    Handle,
    InvokeTimeout,
    Message,
    RateLimited,
    RemoteError,
    behavior,
    seal,
)
from nunet.actor.envelope import unseal
from nunet.actor.events import (
    ActorFailed,
    EnvelopeDelivered,
    EnvelopeReceived,
    EnvelopeRefused,
    EnvelopeSent,
)
from nunet.actor.trace import new_trace, trace_id
from nunet.identity import KeyPair
from nunet.network import InMemoryNetwork
from nunet.ucan import grant
from tests.support.actors import NodeUnderTest, running_node, wait_for_event


class Greeting(msgspec.Struct):
    name: str
    times: int = 1


class Greeter(Actor):
    kind = "greeter"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.got = asyncio.Event()

    @behavior("/public/greet", payload_type=Greeting)
    async def greet(self, message: Message) -> str:
        self.seen.append(message.payload)
        self.got.set()
        return " ".join([f"hello {message.payload.name}"] * message.payload.times)

    @behavior("/dms/greeter/secret")
    async def secret(self, message: Message) -> str:
        return "the secret"

    @behavior("/dms/greeter/refuse")
    async def refuse(self, message: Message) -> None:
        raise BehaviorFailed("not today", code="not-today")

    @behavior("/dms/greeter/crash")
    async def crash(self, message: Message) -> None:
        raise ZeroDivisionError("boom")

    @behavior("/dms/greeter/note")
    async def note(self, message: Message) -> None:
        self.seen.append(message.payload)
        self.got.set()

    @behavior("/dms/greeter/hang")
    async def hang(self, message: Message) -> None:
        await asyncio.Event().wait()


class Caller(Actor):
    kind = "caller"


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[tuple[NodeUnderTest, NodeUnderTest]]:
    network = InMemoryNetwork()
    async with running_node(network, tmp_path) as a, running_node(network, tmp_path) as b:
        yield a, b


@pytest.fixture
async def one_node(tmp_path: Path) -> AsyncIterator[NodeUnderTest]:
    async with running_node(InMemoryNetwork(), tmp_path) as node:
        yield node


async def test_local_invoke_returns_the_reply_and_logs_both_envelopes(
    one_node: NodeUnderTest,
) -> None:
    greeter = Greeter()
    to = await one_node.system.spawn(greeter, "greeter")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    assert (
        await caller.invoke(to, "/public/greet", {"name": "ada", "times": 2})
        == "hello ada hello ada"
    )
    assert greeter.seen == [Greeting("ada", 2)]
    _, request = await wait_for_event(
        one_node.log, EnvelopeDelivered, lambda e: e.envelope.behavior == "/public/greet"
    )
    _, reply = await wait_for_event(
        one_node.log, EnvelopeDelivered, lambda e: e.envelope.in_reply_to == request.envelope.nonce
    )
    assert reply.envelope.payload == {"ok": "hello ada hello ada"}


async def test_behaviors_are_found_by_path_and_can_change_at_run_time(
    one_node: NodeUnderTest,
) -> None:
    greeter = Greeter()
    to = await one_node.system.spawn(greeter, "greeter")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")

    async def late(message: Message) -> str:
        return "added later"

    with pytest.raises(RemoteError) as missing:
        await caller.invoke(to, "/dms/greeter/late")
    assert missing.value.code == "unknown-behavior"
    greeter.add_behavior("/dms/greeter/late", late)
    assert await caller.invoke(to, "/dms/greeter/late") == "added later"
    greeter.remove_behavior("/dms/greeter/late")
    with pytest.raises(RemoteError, match="unknown-behavior"):
        await caller.invoke(to, "/dms/greeter/late")
    assert not any(b.path.startswith("/dms/actor/replyto/") for b in caller.behaviors)


async def test_handler_errors_come_back_as_remote_errors(one_node: NodeUnderTest) -> None:
    to = await one_node.system.spawn(Greeter(), "greeter")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    with pytest.raises(RemoteError) as refused:
        await caller.invoke(to, "/dms/greeter/refuse")
    assert (refused.value.code, refused.value.remote_message) == ("not-today", "not today")
    with pytest.raises(RemoteError) as invalid:
        await caller.invoke(to, "/public/greet", {"name": 7})
    assert invalid.value.code == "invalid-payload"
    assert "name" in invalid.value.remote_message


async def test_a_crashing_handler_fails_the_actor_and_reports_its_exit(
    one_node: NodeUnderTest,
) -> None:
    exited: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def on_exit(actor_id: str, error: BaseException | None) -> None:
        exited.set_result(error)

    to = await one_node.system.spawn(Greeter(), "greeter", on_exit=on_exit)
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    with pytest.raises(RemoteError, match="internal"):
        await caller.invoke(to, "/dms/greeter/crash")
    assert isinstance(await asyncio.wait_for(exited, 5), ZeroDivisionError)
    _, failed = await wait_for_event(one_node.log, ActorFailed)
    assert failed.actor == "greeter"
    assert "boom" in failed.error
    assert "greeter" not in one_node.system.actor_ids()


async def test_invoke_times_out_and_forgets_its_reply_behavior(one_node: NodeUnderTest) -> None:
    to = await one_node.system.spawn(Greeter(), "greeter")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    with pytest.raises(InvokeTimeout, match="/dms/greeter/hang"):
        await caller.invoke(to, "/dms/greeter/hang", timeout=0.2)
    assert list(caller.behaviors) == []


async def test_remote_invoke_crosses_the_transport_signed(
    two_nodes: tuple[NodeUnderTest, NodeUnderTest],
) -> None:
    a, b = two_nodes
    greeter = Greeter()
    to = await b.system.spawn(greeter, "greeter")
    caller = Caller()
    await a.system.spawn(caller, "caller")
    assert await caller.invoke(to, "/public/greet", {"name": "bob"}) == "hello bob"
    _, sent = await wait_for_event(a.log, EnvelopeSent, lambda e: e.behavior == "/public/greet")
    _, received = await wait_for_event(
        b.log, EnvelopeReceived, lambda e: e.behavior == "/public/greet"
    )
    assert sent.sealed == received.sealed
    assert unseal(received.sealed).sender == caller.handle  # the logged bytes still verify


async def test_remote_call_without_capability_is_refused_and_logged(
    two_nodes: tuple[NodeUnderTest, NodeUnderTest],
) -> None:
    a, b = two_nodes
    to = await b.system.spawn(Greeter(), "greeter")
    caller = Caller()
    await a.system.spawn(caller, "caller")
    with pytest.raises(RemoteError) as denied:
        await caller.invoke(to, "/dms/greeter/secret")
    assert denied.value.code == "unauthorized"
    _, refused = await wait_for_event(b.log, EnvelopeRefused, lambda e: e.code == "unauthorized")
    assert refused.claimed_sender == a.key.did
    assert unseal(refused.data).behavior == "/dms/greeter/secret"


async def test_root_anchor_and_granted_token_both_authorize(
    two_nodes: tuple[NodeUnderTest, NodeUnderTest],
) -> None:
    a, b = two_nodes
    to = await b.system.spawn(Greeter(), "greeter")
    caller = Caller()
    await a.system.spawn(caller, "caller")
    # b grants a the /dms/greeter capability; a presents it through its provide anchor.
    token = grant(
        b.key,
        audience=a.key.did,
        capabilities=["/dms/greeter"],
        expiry=time.time() + 60,
        now=time.time(),
    )
    a.anchors.add_provide(token)
    assert await caller.invoke(to, "/dms/greeter/secret") == "the secret"
    a.anchors.remove(token.id)
    with pytest.raises(RemoteError, match="unauthorized"):
        await caller.invoke(to, "/dms/greeter/secret")
    b.anchors.add_root(a.key.did)
    assert await caller.invoke(to, "/dms/greeter/secret") == "the secret"


async def _inject(node: NodeUnderTest, data: bytes) -> None:
    """Put raw bytes on the wire to `node`, as a foreign peer would."""
    outsider = KeyPair.generate()
    from nunet.network import InMemoryTransport

    transport = InMemoryTransport(node.transport._network, outsider.did)  # type: ignore[attr-defined]

    async def ignore(_: bytes) -> None:
        return None

    await transport.start(ignore)
    try:
        await transport.send(node.system.address, data)
    finally:
        await transport.close()


def _envelope_to(node: NodeUnderTest, sender: KeyPair, behavior_path: str, **kw: Any) -> Envelope:
    return Envelope.create(
        Handle(sender.did, "intruder", sender.did),
        Handle(node.key.did, "greeter", node.system.address),
        behavior_path,
        {"name": "mallory"},
        **kw,
    )


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("forged", "bad-signature"),
        ("expired", "expired"),
        ("garbage", "malformed"),
        ("future", "clock-skew"),
        ("misaddressed", "misaddressed"),
        ("too-long-lived", "malformed"),
    ],
)
async def test_bad_envelopes_never_reach_the_handler_and_are_logged(
    one_node: NodeUnderTest, case: str, code: str
) -> None:
    greeter = Greeter()
    await one_node.system.spawn(greeter, "greeter")
    mallory, alice = KeyPair.generate(), KeyPair.generate()
    now = time.time_ns()
    if case == "forged":
        envelope = _envelope_to(one_node, alice, "/public/greet")
        body = msgspec.msgpack.decode(seal(envelope, alice))[1]
        data = msgspec.msgpack.encode([1, body, mallory.sign(body)])
    elif case == "expired":
        data = seal(
            _envelope_to(one_node, mallory, "/public/greet", expiry=1, now_ns=now - 5 * 10**9),
            mallory,
        )
    elif case == "future":
        data = seal(
            _envelope_to(one_node, mallory, "/public/greet", now_ns=now + 3600 * 10**9), mallory
        )
    elif case == "misaddressed":
        envelope = Envelope.create(
            Handle(mallory.did, "x", mallory.did),
            Handle(one_node.key.did, "greeter", "elsewhere"),
            "/public/greet",
            {"name": "m"},
        )
        data = seal(envelope, mallory)
    elif case == "too-long-lived":
        data = seal(_envelope_to(one_node, mallory, "/public/greet", expiry=7 * 86400), mallory)
    else:
        data = b"\x93\x01garbage"
    await _inject(one_node, data)
    _, refused = await wait_for_event(one_node.log, EnvelopeRefused, lambda e: e.code == code)
    assert refused.data == data
    assert refused.size == len(data)
    assert greeter.seen == []


async def test_a_replayed_envelope_is_refused(one_node: NodeUnderTest) -> None:
    greeter = Greeter()
    await one_node.system.spawn(greeter, "greeter")
    mallory = KeyPair.generate()
    data = seal(_envelope_to(one_node, mallory, "/public/greet"), mallory)
    await _inject(one_node, data)
    await asyncio.wait_for(greeter.got.wait(), 5)
    await _inject(one_node, data)
    _, refused = await wait_for_event(one_node.log, EnvelopeRefused, lambda e: e.code == "replayed")
    assert refused.data == data
    assert len(greeter.seen) == 1


async def test_rate_limits_refuse_a_flooding_sender(tmp_path: Path) -> None:
    class TwoPerSender:
        def __init__(self) -> None:
            self.count: dict[str, int] = {}

        def refuse(self, sender: str, topic: str | None, now: float) -> str | None:
            self.count[sender] = self.count.get(sender, 0) + 1
            return "per-sender limit of 2" if self.count[sender] > 2 else None

    async with running_node(InMemoryNetwork(), tmp_path, rates=TwoPerSender()) as node:
        greeter = Greeter()
        await node.system.spawn(greeter, "greeter")
        mallory = KeyPair.generate()
        for _ in range(3):
            await _inject(node, seal(_envelope_to(node, mallory, "/dms/greeter/note"), mallory))
        _, refused = await wait_for_event(
            node.log, EnvelopeRefused, lambda e: e.code == "rate-limited"
        )
        assert "per-sender limit of 2" in refused.reason


async def test_topics_reach_local_and_remote_subscribers_once(
    two_nodes: tuple[NodeUnderTest, NodeUnderTest],
) -> None:
    a, b = two_nodes
    local, remote = Greeter(), Greeter()
    await a.system.spawn(local, "local")
    await b.system.spawn(remote, "remote")
    await local.subscribe("swarm.greetings")
    await remote.subscribe("swarm.greetings")
    publisher = Caller()
    await a.system.spawn(publisher, "publisher")
    await publisher.publish("swarm.greetings", "/public/greet", {"name": "all"})
    await asyncio.wait_for(local.got.wait(), 5)
    await asyncio.wait_for(remote.got.wait(), 5)
    _, received = await wait_for_event(
        b.log, EnvelopeReceived, lambda e: e.behavior == "/public/greet"
    )
    assert unseal(received.sealed).topic == "swarm.greetings"
    assert local.seen == [Greeting("all")]
    assert remote.seen == [Greeting("all")]
    await remote.unsubscribe("swarm.greetings")
    remote.got.clear()
    await publisher.publish("swarm.greetings", "/public/greet", {"name": "again"})
    await asyncio.wait_for(
        wait_for_event(a.log, EnvelopeSent, lambda e: e.recipient_node == "topic:swarm.greetings"),
        5,
    )
    assert remote.seen == [Greeting("all")]


async def test_spawning_a_taken_id_is_refused(one_node: NodeUnderTest) -> None:
    await one_node.system.spawn(Greeter(), "greeter")
    with pytest.raises(ActorError, match="already running"):
        await one_node.system.spawn(Greeter(), "greeter")


async def test_stopped_actor_no_longer_receives(one_node: NodeUnderTest) -> None:
    to = await one_node.system.spawn(Greeter(), "greeter")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    await one_node.system.stop("greeter")
    with pytest.raises(RemoteError, match="unknown-actor"):
        await caller.invoke(to, "/public/greet", {"name": "x"})
    _, refused = await wait_for_event(
        one_node.log, EnvelopeRefused, lambda e: e.code == "unknown-actor"
    )
    assert refused.behavior == "/public/greet"  # the attempt itself was logged, whole:
    assert msgspec.msgpack.decode(refused.data, type=Envelope).payload == {"name": "x"}


class Relay(Actor):
    """Forwards /dms/relay/greet to the greeter, to show the trace carrying over a hop."""

    def __init__(self, greeter: Handle) -> None:
        super().__init__()
        self.greeter = greeter

    @behavior("/dms/relay/greet")
    async def relay(self, message: Message) -> Any:
        return await self.invoke(self.greeter, "/public/greet", {"name": "via relay"})


async def test_a_handler_s_calls_carry_its_trace_under_a_new_span(one_node: NodeUnderTest) -> None:
    greeter = await one_node.system.spawn(Greeter(), "greeter")
    relay = await one_node.system.spawn(Relay(greeter), "relay")
    caller = Caller()
    await one_node.system.spawn(caller, "caller")
    traceparent = new_trace()
    assert await caller.invoke(relay, "/dms/relay/greet", trace=traceparent) == "hello via relay"
    _, hop = await wait_for_event(
        one_node.log, EnvelopeDelivered, lambda e: e.envelope.behavior == "/public/greet"
    )
    assert hop.envelope.trace is not None
    assert trace_id(hop.envelope.trace) == trace_id(traceparent)
    assert hop.envelope.trace != traceparent  # same trace, new parent id


async def test_a_broadcast_is_charged_once_however_many_local_subscribers(
    tmp_path: Path,
) -> None:
    class Counting:
        def __init__(self) -> None:
            self.charged = 0

        def refuse(self, sender: str, topic: str | None, now: float) -> str | None:
            self.charged += 1
            return None

    rates = Counting()
    async with running_node(InMemoryNetwork(), tmp_path, rates=rates) as node:
        subscribers = [Greeter() for _ in range(3)]
        for i, subscriber in enumerate(subscribers):
            await node.system.spawn(subscriber, f"sub{i}")
            await subscriber.subscribe("swarm.greetings")
        stranger = KeyPair.generate()
        node.anchors.add_root(stranger.did)
        publisher = Caller()
        await node.system.spawn(publisher, "publisher", key=stranger)
        await publisher.publish("swarm.greetings", "/public/greet", {"name": "all"})
        for subscriber in subscribers:
            await asyncio.wait_for(subscriber.got.wait(), 5)
        assert rates.charged == 1


async def test_a_refused_broadcast_tells_the_publisher(tmp_path: Path) -> None:
    class RefuseAll:
        def refuse(self, sender: str, topic: str | None, now: float) -> str | None:
            return "topic limit"

    async with running_node(InMemoryNetwork(), tmp_path, rates=RefuseAll()) as node:
        publisher = Caller()
        await node.system.spawn(publisher, "publisher", key=KeyPair.generate())
        with pytest.raises(RateLimited, match="topic limit"):
            await publisher.publish("swarm.greetings", "/public/greet", {"name": "x"})
