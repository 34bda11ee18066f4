"""Moving one object's chunks: pipelined publishing, and batched pulling that resumes.

nats-py's own object store waits for each chunk's acknowledgement before sending the next and
reads with a push consumer whose buffering it does not bound; these keep `window_chunks`
unacknowledged chunks in flight, and pull `fetch_chunks` at a time (asking for the next batch
while the caller writes the current one), so memory stays bounded by two batches.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable

import nats.errors
import nats.js.errors as js_errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from nunet.storage.jetstream_config import JetStreamStoreConfig
from nunet.storage.jetstream_errors import storage_error
from nunet.storage.provider import TransferInterrupted

Sink = Callable[[bytes], Awaitable[None]]

_RETRYABLE = (nats.errors.Error, asyncio.TimeoutError, ConnectionError)


class ChunkSender:
    """Publishes one object's chunks on its chunk subject, `window_chunks` in flight at most."""

    def __init__(
        self, js: JetStreamContext, config: JetStreamStoreConfig, stream: str, subject: str
    ) -> None:
        self._js = js
        self._config = config
        self._stream = stream
        self._subject = subject
        self._in_flight: collections.deque[tuple[asyncio.Future[api.PubAck], int]] = (
            collections.deque()
        )
        self._digest = hashlib.sha256()
        self.sent = 0  # bytes handed to the connection
        self.acknowledged = 0  # bytes the server stored
        self.chunks = 0

    @property
    def sha256(self) -> bytes:
        return self._digest.digest()

    async def send(self, block: bytes, on_ack: Callable[[int], None]) -> None:
        """`block` cut into chunks and published; waits only while the window is full."""
        self._digest.update(block)
        chunk = self._config.chunk_bytes
        view = memoryview(block)
        for start in range(0, len(block), chunk):
            while len(self._in_flight) >= self._config.window_chunks:
                await self._settle_oldest(on_ack)
            piece = bytes(view[start : start + chunk])
            future = await self._js.publish_async(self._subject, piece, stream=self._stream)
            self._in_flight.append((future, len(piece)))
            self.sent += len(piece)
            self.chunks += 1

    async def finish(self, on_ack: Callable[[int], None]) -> None:
        """Wait until every chunk sent is acknowledged."""
        while self._in_flight:
            await self._settle_oldest(on_ack)

    def abandon(self) -> None:
        """Forget the acknowledgements still awaited (frees nats-py's pending-ack slots)."""
        for future, _ in self._in_flight:
            future.cancel()
        self._in_flight.clear()

    async def _settle_oldest(self, on_ack: Callable[[int], None]) -> None:
        future, length = self._in_flight[0]
        await asyncio.wait_for(asyncio.shield(future), self._config.stall_seconds)
        self._in_flight.popleft()
        self.acknowledged += length
        on_ack(self.acknowledged)


async def receive_chunks(
    js: JetStreamContext,
    config: JetStreamStoreConfig,
    *,
    location: str,
    stream: str,
    subject: str,
    chunks: int,
    sink: Sink,
    closed: Callable[[], bool],
) -> None:
    """Every one of the object's `chunks`, in order, to `sink` (a batch's chunks joined). A cut
    connection or a stalled server is retried from the chunk after the last one received, up
    to `resume_attempts` times in a row; then `TransferInterrupted`."""
    received = 0
    resume_from: int | None = None  # the stream sequence after the last chunk received
    failures = 0
    while received < chunks:
        try:
            batches = _batches(js, config, stream, subject, resume_from, chunks - received)
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    received += len(batch)
                    resume_from = batch[-1].metadata.sequence.stream + 1
                    failures = 0
                    await sink(b"".join(msg.data for msg in batch))
        except _RETRYABLE as exc:
            if isinstance(exc, js_errors.NotFoundError) or closed():
                raise storage_error(exc, location, "downloading") from None
            failures += 1
            if failures > config.resume_attempts:
                raise TransferInterrupted(
                    f"{location}: the download was cut at chunk {received} of {chunks} and did "
                    f"not resume after {config.resume_attempts} attempts ({type(exc).__name__}); "
                    "nothing partial was kept, try again"
                ) from None


async def _batches(
    js: JetStreamContext,
    config: JetStreamStoreConfig,
    stream: str,
    subject: str,
    start: int | None,
    remaining: int,
) -> AsyncGenerator[list[Msg], None]:
    """Batches of chunks from a fresh ephemeral pull consumer on the chunk subject."""
    batch = config.fetch_chunks
    consumer = api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.ALL
        if start is None
        else api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start,
        mem_storage=True,
        num_replicas=1,
        # Removed by the server if this client goes away without deleting it.
        inactive_threshold=max(3 * config.stall_seconds, 30.0),
    )
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=consumer,
        pending_bytes_limit=3 * batch * config.chunk_bytes + (1 << 20),
    )
    stall = config.stall_seconds
    fetching: asyncio.Task[list[Msg]] | None = None
    try:
        fetching = asyncio.create_task(sub.fetch(min(batch, remaining), timeout=stall))
        while fetching is not None:
            msgs = await fetching
            fetching = None
            remaining -= len(msgs)
            if remaining > 0:
                fetching = asyncio.create_task(sub.fetch(min(batch, remaining), timeout=stall))
            yield msgs
    finally:
        if fetching is not None:
            fetching.cancel()
            with contextlib.suppress(BaseException):
                await fetching
        await _drop(js, sub, stream)


async def _drop(js: JetStreamContext, sub: JetStreamContext.PullSubscription, stream: str) -> None:
    """Best effort: the consumer also expires on its own if the server cannot be reached now."""
    consumer = sub._consumer  # nats-py keeps the generated name only here
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(js.delete_consumer(stream, consumer), 1.0)
