"""Replication lag under a steady append load: a member appends RATE records/s for SECONDS; a
consumer on the hub's stream notes when each arrives. Lag = arrival - the record's commit time.

Peer: raw JetStream, a nats-py client on the same member server publishing the same payloads at
the same rate (publish + ack, pipelined), read back by the same kind of consumer.
Reported: p50 lag; p99 printed. Ratio = peer / ours (higher is better).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from _mesh_pair import median, mesh_pair, percentile
from nats.js import api

from nunet.eventlog import Event
from nunet.replication import STREAM, node_subject
from nunet.replication.stream import decode_message

RATE = 1000
SECONDS = 5.0
PAYLOAD = b"p" * 200


class BenchTick(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "bench.tick"
    body: bytes


async def paced(count: int, action: object) -> None:
    start = time.perf_counter()
    for i in range(count):
        await action(i)  # type: ignore[operator]
        delay = start + (i + 1) / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def main() -> None:
    count = int(RATE * SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        async with mesh_pair(Path(tmp), replication=True) as pair:
            js = pair.hub_client.jetstream(domain="swarm")
            # ours: records appended to the member's log, replicated by its outbox
            lags: list[float] = []
            done = asyncio.Event()

            async def on_record(msg: object) -> None:
                arrived = time.time()
                message = decode_message(msg.subject, msg.headers, msg.data)  # type: ignore[attr-defined]
                for record in message.records:
                    if record.type == BenchTick.TYPE:
                        lags.append(arrived - record.timestamp / 1e9)
                if len(lags) == count:
                    done.set()

            sub = await js.subscribe(
                node_subject(pair.member.did),
                stream=STREAM,
                ordered_consumer=True,
                deliver_policy=api.DeliverPolicy.NEW,
                cb=on_record,
            )
            await paced(count, lambda i: pair.member.log.append(BenchTick(body=PAYLOAD)))
            try:
                await asyncio.wait_for(done.wait(), 60)
            except TimeoutError:
                raise SystemExit(
                    f"only {len(lags)} of {count} arrived; outbox at {pair.member.mesh.outbox.position if pair.member.mesh.outbox else None}, head {(await pair.member.log.head())[0]}"
                ) from None
            await sub.unsubscribe()
            # peer: raw JetStream publish from the member's server
            raw_js = pair.raw_caller.jetstream(domain="swarm")
            raw_lags: list[float] = []
            raw_done = asyncio.Event()
            subject = "nunet.log.bench-raw"

            async def on_raw(msg: object) -> None:
                sent = float(msg.headers["Sent"])  # type: ignore[attr-defined]
                raw_lags.append(time.time() - sent)
                if len(raw_lags) == count:
                    raw_done.set()

            raw_sub = await js.subscribe(subject, stream=STREAM, ordered_consumer=True, cb=on_raw)
            pending: list[asyncio.Future[object]] = []

            async def publish(i: int) -> None:
                pending.append(
                    await raw_js.publish_async(
                        subject, PAYLOAD, headers={"Sent": repr(time.time()), "Nats-Msg-Id": str(i)}
                    )
                )

            await paced(count, publish)
            await asyncio.gather(*pending)
            await asyncio.wait_for(raw_done.wait(), 60)
            await raw_sub.unsubscribe()
    ms = 1e3
    print(f"nunet outbox: p50 {median(lags) * ms:.1f} ms, p99 {percentile(lags, 0.99) * ms:.1f} ms")
    print(
        f"raw JetStream: p50 {median(raw_lags) * ms:.1f} ms, p99 {percentile(raw_lags, 0.99) * ms:.1f} ms"
    )
    report(
        "replication_lag_p50",
        median(lags) * ms,
        "ms",
        "raw JetStream publish",
        median(raw_lags) * ms,
        higher_is_better=False,
    )


if __name__ == "__main__":
    asyncio.run(main())
