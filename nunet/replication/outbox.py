"""The outbox: publishes a node's log to the swarm stream in seq order, exactly where it left off.

One task reads the log's tail and publishes (at most `window` unacknowledged at a time); another
awaits the acknowledgements in seq order and advances the cursor. The first publish that fails
or times out stops both; every record from the first unacknowledged one on is sent again once
the stream answers, so the stream never holds a record whose predecessors were given up on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import nats.errors
import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import Error as JetStreamError

from nunet.db import DocumentStore
from nunet.eventlog import Event, EventLog, EventLogError, EventRecord, SeqWaiters
from nunet.replication.backoff import Backoff
from nunet.replication.cursor import CursorStore, resume_after
from nunet.replication.events import ReplicationResumed, ReplicationStalled
from nunet.replication.stream import (
    MSG_ID,
    STREAM,
    encode_record,
    last_replicated_seq,
    msg_id,
    node_subject,
)

log = structlog.get_logger("nunet.replication")

# What a failed publish or stream query looks like from nats-py (timeouts are TimeoutError).
_SWARM_ERRORS = (nats.errors.Error, JetStreamError, TimeoutError, OSError)


class _PublishFailed(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"seq {seq}: {reason}")
        self.seq = seq


class Outbox:
    """Replicates `log` (of node `node_did`) to the swarm stream reached through `js`.

    `position` is the last seq the stream acknowledged with every seq before it; it is saved in
    `store` every `save_every` acknowledgements and on exit, and reconciled with the stream at
    start and after every stall (see `cursor.resume_after`), so a stale or lost cursor costs at
    most `window` re-sent records, which the stream's duplicate window drops.
    """

    def __init__(
        self,
        log: EventLog,
        js: JetStreamContext,
        store: DocumentStore,
        node_did: str,
        *,
        window: int = 256,
        ack_timeout: float = 5.0,
        backoff: Backoff | None = None,
        save_every: int = 1024,
        record_events: bool = True,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if window < 1 or save_every < 1 or ack_timeout <= 0:
            raise ValueError("window and save_every must be >= 1, ack_timeout > 0")
        self._log = log
        self._js = js
        self._cursor = CursorStore(store, node_did)
        self.node_did = node_did
        self._subject = node_subject(node_did)
        self._window = window
        self._ack_timeout = ack_timeout
        self._backoff = backoff or Backoff()
        self._save_every = save_every
        self._record_events = record_events
        self._clock = clock
        self._position = 0
        self._saved = 0
        self._head = 0
        self._stalled_since: int | None = None
        self._resumed_after = 0
        self._waiters = SeqWaiters()
        self.stalls = 0  # how many times replication stalled since this object started

    @property
    def position(self) -> int:
        """The last seq acknowledged by the stream together with every seq before it."""
        return self._position

    @property
    def head(self) -> int:
        """The newest seq of the local log this outbox has seen."""
        return self._head

    @property
    def lag(self) -> int:
        """Records written locally and not yet acknowledged by the stream."""
        return max(self._head - self._position, 0)

    @property
    def stalled(self) -> bool:
        return self._stalled_since is not None

    async def wait_for(self, seq: int) -> None:
        """Return once every record up to `seq` is acknowledged (wrap in asyncio.timeout)."""
        await self._waiters.wait(seq, self._position)

    async def run(self) -> None:
        """Replicate until the log closes or the task is cancelled; saves the cursor on exit."""
        self._position = self._saved = await self._cursor.load() or 0
        try:
            await self._reconcile()
            while True:
                try:
                    await self._replicate()
                    return
                except _PublishFailed as failure:
                    await self._stall(str(failure))
                await self._reconcile()
        finally:
            if self._position != self._saved:
                await self._cursor.save(self._position)

    async def _replicate(self) -> None:
        """Publish from position + 1 on until the log closes; _PublishFailed at the first failure."""
        slots = asyncio.Semaphore(self._window)
        inflight: asyncio.Queue[tuple[int, asyncio.Future[api.PubAck]] | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._send(slots, inflight))
                group.create_task(self._settle(slots, inflight))
        except ExceptionGroup as failures:  # callers see the first failure itself, not a group
            raise _first(failures) from None
        finally:
            while not inflight.empty():  # give up the acks no one will wait for
                entry = inflight.get_nowait()
                if entry is not None:
                    entry[1].cancel()

    async def _send(
        self,
        slots: asyncio.Semaphore,
        inflight: asyncio.Queue[tuple[int, asyncio.Future[api.PubAck]] | None],
    ) -> None:
        async for record in self._log.tail(self._position + 1):
            self._head = max(self._head, record.seq)
            await slots.acquire()
            inflight.put_nowait((record.seq, await self._publish(record)))
        inflight.put_nowait(None)  # the log closed: settle what is in flight, then stop

    async def _publish(self, record: EventRecord) -> asyncio.Future[api.PubAck]:
        try:
            return await self._js.publish_async(
                self._subject,
                encode_record(record),
                headers={MSG_ID: msg_id(self.node_did, record.seq)},
            )
        except _SWARM_ERRORS as exc:
            raise _PublishFailed(record.seq, _describe(exc)) from None

    async def _settle(
        self,
        slots: asyncio.Semaphore,
        inflight: asyncio.Queue[tuple[int, asyncio.Future[api.PubAck]] | None],
    ) -> None:
        while (entry := await inflight.get()) is not None:
            seq, acknowledgement = entry
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the result, and stopping the outbox would then hang
                async with asyncio.timeout(self._ack_timeout):
                    ack = await acknowledgement
            except _SWARM_ERRORS as exc:
                raise _PublishFailed(seq, _describe(exc)) from None
            if ack.stream != STREAM:
                raise _PublishFailed(seq, f"stored by stream {ack.stream!r}, not {STREAM}")
            slots.release()
            await self._acknowledged(seq)

    async def _acknowledged(self, seq: int) -> None:
        self._position = seq
        if self._stalled_since is not None:
            await self._resume()
        if seq - self._saved >= self._save_every:
            await self._cursor.save(seq)
            self._saved = seq
        if self._waiters:
            self._wake()

    async def _reconcile(self) -> None:
        """Ask the stream where this node's records end and set the position from it.

        Retries with backoff (as a stall) until the stream answers.
        """
        while True:
            try:
                last = await last_replicated_seq(self._js, self.node_did)
                break
            except _SWARM_ERRORS as exc:
                await self._stall(f"cannot read the stream's last record: {_describe(exc)}")
        resumed_after = resume_after(self._position, last, self._window)
        if resumed_after != self._position:
            log.info(
                "replication.reconciled",
                node=self.node_did,
                cursor=self._position,
                last_in_stream=last,
                resume_after=resumed_after,
            )
        self._position = self._resumed_after = resumed_after
        await self._refresh_head()
        if self._stalled_since is not None and self._head <= self._position:
            await self._resume()  # nothing to send: the stream answering is the recovery
        if self._waiters:
            self._wake()

    async def _stall(self, reason: str) -> None:
        """Note the stall (once per stall), then wait out the backoff."""
        if self._stalled_since is None:
            self._stalled_since = self._clock()
            self.stalls += 1
            log.warning(
                "replication.stalled", node=self.node_did, acknowledged=self._position, error=reason
            )
            await self._record(
                ReplicationStalled(stream=STREAM, acknowledged=self._position, error=reason)
            )
        await asyncio.sleep(self._backoff.next_delay())

    async def _resume(self) -> None:
        assert self._stalled_since is not None
        stalled_ns = self._clock() - self._stalled_since
        self._stalled_since = None
        self._backoff.reset()
        log.info(
            "replication.resumed",
            node=self.node_did,
            resumed_after=self._resumed_after,
            stalled_s=round(stalled_ns / 1e9, 3),
        )
        await self._record(
            ReplicationResumed(
                stream=STREAM, resumed_after=self._resumed_after, stalled_ns=stalled_ns
            )
        )

    async def _record(self, event: Event) -> None:
        if not self._record_events:
            return
        try:
            await self._log.append(event, actor="/replication/outbox")
        except EventLogError as exc:  # the log is closing; the log line above remains
            log.warning("replication.event_not_recorded", event=event.TYPE, error=str(exc))

    async def _refresh_head(self) -> None:
        with contextlib.suppress(EventLogError):  # closed: the tail ends, and run() with it
            self._head = max(self._head, (await self._log.head())[0])

    def _wake(self) -> None:
        self._waiters.wake(self._position)


def _first(group: BaseExceptionGroup[Exception]) -> Exception:
    """The failure to act on: a failed publish if there is one, else the first error."""
    failed, _ = group.split(_PublishFailed)
    leaves = failed.exceptions if failed is not None else group.exceptions
    first = leaves[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no acknowledgement in time (hub unreachable or overloaded?)"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
