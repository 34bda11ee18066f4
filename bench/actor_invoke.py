"""Local actor invoke round trip (in-process, every envelope logged) vs Pykka's ask and a bare asyncio queue.

Targets: >= 3x Pykka's `ask`, >= 0.4x a bare asyncio-queue request/reply, measured side by side.
The JSON line compares with Pykka; the asyncio-queue ratio is printed above it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import pykka

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stopwatch, report

from nunet.actor import Actor, ActorSystem, EnvelopeGuard, Message, behavior
from nunet.eventlog import open_sqlite_log
from nunet.identity import KeyPair
from nunet.network import InMemoryNetwork, InMemoryTransport
from nunet.ucan import CapabilityContext, MemoryAnchorStore

ROUNDS = 20_000


class Echo(Actor):
    @behavior("/bench/echo")
    async def echo(self, message: Message) -> object:
        return message.payload


async def nunet_invoke(directory: Path) -> float:
    key = KeyPair.generate()
    log = await open_sqlite_log(directory / "bench.db")
    guard = EnvelopeGuard(key.did, CapabilityContext(key.did, MemoryAnchorStore(key.did)))
    system = ActorSystem(key, InMemoryTransport(InMemoryNetwork(), key.did), log, guard)
    await system.start()
    to = await system.spawn(Echo(), "echo")
    caller = Actor()
    await system.spawn(caller, "caller")
    for _ in range(500):
        await caller.invoke(to, "/bench/echo", 1)
    with Stopwatch() as watch:
        for i in range(ROUNDS):
            await caller.invoke(to, "/bench/echo", i)
    await system.close()
    await log.close()
    reopened = await open_sqlite_log(directory / "bench.db")
    head, _ = await reopened.head()
    await reopened.close()
    assert head >= 2 * ROUNDS, f"every request and reply must be in the log (head {head})"
    return ROUNDS / watch.seconds


async def asyncio_queue() -> float:
    requests: asyncio.Queue[tuple[int, asyncio.Future[int]]] = asyncio.Queue()

    async def server() -> None:
        while True:
            value, reply = await requests.get()
            reply.set_result(value)

    task = asyncio.create_task(server())
    loop = asyncio.get_running_loop()
    with Stopwatch() as watch:
        for i in range(ROUNDS):
            reply: asyncio.Future[int] = loop.create_future()
            requests.put_nowait((i, reply))
            await reply
    task.cancel()
    return ROUNDS / watch.seconds


class PykkaEcho(pykka.ThreadingActor):
    def on_receive(self, message: object) -> object:
        return message


def pykka_ask() -> float:
    ref = PykkaEcho.start()
    for _ in range(500):
        ref.ask(1)
    start = time.perf_counter()
    for i in range(ROUNDS):
        ref.ask(i)
    rate = ROUNDS / (time.perf_counter() - start)
    ref.stop()
    return rate


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours = max(asyncio.run(nunet_invoke(Path(tmp) / str(i))) for i in range(3))
    bare = max(asyncio.run(asyncio_queue()) for _ in range(3))
    pykka_rate = max(pykka_ask() for _ in range(3))
    print(f"nunet invoke (envelopes logged): {ours:,.0f} round trips/s")
    print(
        f"bare asyncio queue request/reply: {bare:,.0f} round trips/s  (ours = {ours / bare:.2f}x, target >= 0.4x)"
    )
    print(
        f"pykka ask: {pykka_rate:,.0f} round trips/s  (ours = {ours / pykka_rate:.2f}x, target >= 3x)"
    )
    report("actor_invoke_local", ours, "roundtrips/s", "pykka.ask", pykka_rate)


if __name__ == "__main__":
    main()
