"""The outbox: publishes a node's log to the swarm stream in seq order, exactly where it left off.

Runs of consecutive records go as one message each (whatever is ready when a message can be
sent, up to `batch_records` and `batch_bytes`; one record when only one is ready). One task
reads the log's tail ahead, one publishes (at most `window` messages unacknowledged at a time),
one awaits the acknowledgements in order and advances the cursor. The first publish that fails
or times out stops them; the stream is then asked what it holds, and everything it lacks is sent
again: unacknowledged messages with the boundaries they had, so that the stream's duplicate
window drops a message that was stored after all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TypeAlias

import nats.errors
import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import Error as JetStreamError

from nunet.db import DocumentStore
from nunet.eventlog import Event, EventLog, EventLogError, EventRecord, SeqWaiters
from nunet.replication.backoff import Backoff
from nunet.replication.cursor import CursorStore, resume_after
from nunet.replication.events import ReplicationResumed, ReplicationStalled
from nunet.replication.ledger import OutboxLedger
from nunet.replication.readahead import ReadAhead
from nunet.replication.stream import (
    MESSAGE_OVERHEAD,
    STREAM,
    Span,
    batch_headers,
    encode_batch,
    last_message,
    node_subject,
)
from nunet.replication.survey import stored_spans

log = structlog.get_logger("nunet.replication")

# What a failed publish or stream query looks like from nats-py (timeouts are TimeoutError).
_SWARM_ERRORS = (nats.errors.Error, JetStreamError, TimeoutError, OSError)
_DEFAULT_MAX_PAYLOAD = 1024 * 1024  # nats-server's default, when the connection does not say

# (records, acknowledgement) per message in publish order; None: nothing more will be sent
_InFlight: TypeAlias = "asyncio.Queue[tuple[Span, asyncio.Future[api.PubAck]] | None]"


class _PublishFailed(Exception):
    """The stream did not take a message, or lost what it took: reconcile, then go on."""


class Outbox:
    """Replicates `log` (of node `node_did`) to the swarm stream reached through `js`.

    `position` is the last seq the stream acknowledged with every seq before it; it is saved in
    `store` every `save_every` acknowledged records and on exit, and reconciled with the stream
    at start and after every stall (see `cursor.resume_after` and `survey.stored_spans`), so a
    stale or lost cursor sends again only records the stream does not hold.

    `window` counts messages in flight; a message holds at most `batch_records` records and
    `batch_bytes` bytes (and always fits the connection's max_payload), so at most
    `window * batch_records` records are unacknowledged at a time (`in_flight_bound`).
    """

    def __init__(
        self,
        log: EventLog,
        js: JetStreamContext,
        store: DocumentStore,
        node_did: str,
        *,
        window: int = 32,
        batch_records: int = 128,
        batch_bytes: int = 256 * 1024,
        ack_timeout: float = 5.0,
        backoff: Backoff | None = None,
        save_every: int = 1024,
        audit_every: float = 1.0,
        record_events: bool = True,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if min(window, batch_records, save_every) < 1 or min(ack_timeout, audit_every) <= 0:
            raise ValueError(
                "window, batch_records and save_every must be >= 1, ack_timeout and audit_every > 0"
            )
        if batch_bytes < 1024:
            raise ValueError("batch_bytes must be >= 1024")
        self._log = log
        self._js = js
        self._cursor = CursorStore(store, node_did)
        self.node_did = node_did
        self._subject = node_subject(node_did)
        self._window = window
        self._batch_records = batch_records
        self._batch_bytes = batch_bytes
        self._ack_timeout = ack_timeout
        self._backoff = backoff or Backoff()
        self._save_every = save_every
        self._audit_every = audit_every
        self._record_events = record_events
        self._clock = clock
        self._ledger = OutboxLedger()
        self._saved = 0
        self._acked_stream_seq = 0  # where the stream put the latest message it acknowledged
        self._audited_stream_seq = 0
        self._head = 0
        self._stalled_since: int | None = None
        self._resumed_after = 0
        self._waiters = SeqWaiters()
        self.stalls = 0  # how many times replication stalled since this object started
        self.messages = 0  # messages published (re-sends included) since this object started

    @property
    def position(self) -> int:
        """The last seq acknowledged by the stream together with every seq before it."""
        return self._ledger.position

    @property
    def head(self) -> int:
        """The newest seq of the local log this outbox has seen."""
        return self._head

    @property
    def lag(self) -> int:
        """Records written locally and not yet acknowledged by the stream."""
        return max(self._head - self.position, 0)

    @property
    def stalled(self) -> bool:
        return self._stalled_since is not None

    @property
    def in_flight_bound(self) -> int:
        """The most records unacknowledged at a time: what a lost cursor may have to re-check."""
        return self._window * self._batch_records

    async def wait_for(self, seq: int) -> None:
        """Return once every record up to `seq` is acknowledged (wrap in asyncio.timeout)."""
        await self._waiters.wait(seq, self.position)

    async def run(self) -> None:
        """Replicate until the log closes or the task is cancelled; saves the cursor on exit."""
        self._ledger.reset(await self._cursor.load() or 0)
        self._saved = self.position
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
            if self.position != self._saved:
                await self._cursor.save(self.position)

    async def _replicate(self) -> None:
        """Publish from position + 1 on until the log closes; _PublishFailed at the first failure."""
        slots = asyncio.Semaphore(self._window)
        inflight: _InFlight = asyncio.Queue()
        ahead = ReadAhead(
            self._log.tail(self.position + 1),
            capacity=self._batch_records,
            on_record=self._saw,
        )
        try:
            async with asyncio.TaskGroup() as group:
                auditing = group.create_task(self._audit())
                group.create_task(ahead.run())  # ends when the log closes; the sender after it
                group.create_task(self._send(ahead, slots, inflight))
                settling = group.create_task(self._settle(slots, inflight))
                settling.add_done_callback(lambda _: auditing.cancel())
        except ExceptionGroup as failures:  # callers see the first failure itself, not a group
            raise _first(failures) from None
        finally:
            while not inflight.empty():  # give up the acks no one will wait for
                entry = inflight.get_nowait()
                if entry is not None:
                    entry[1].cancel()

    def _saw(self, record: EventRecord) -> None:
        if record.seq > self._head:
            self._head = record.seq

    async def _send(self, ahead: ReadAhead, slots: asyncio.Semaphore, inflight: _InFlight) -> None:
        max_bytes = self._max_message_bytes()
        ledger = self._ledger
        while (first := await ahead.next_seq()) is not None:
            if ledger.is_stored(first):
                ahead.skip()
                continue
            # take a slot first: records that arrive meanwhile join this message
            await slots.acquire()
            resend = ledger.resend_at(first)
            if resend is not None:  # the same boundaries, so the stream can drop it as a duplicate
                parts = await ahead.take_exactly(resend.count)
                if parts is None:
                    break
                span = resend
            else:
                reserved = ledger.next_reserved(first)
                limit = self._batch_records if reserved is None else reserved - first
                parts = ahead.take_ready(min(limit, self._batch_records), max_bytes)
                span = Span(first, first + len(parts) - 1)
            inflight.put_nowait((span, await self._publish(span, parts)))
            ledger.sent(span)
        inflight.put_nowait(None)  # the log closed: settle what is in flight, then stop

    async def _publish(self, span: Span, parts: list[bytes]) -> asyncio.Future[api.PubAck]:
        self.messages += 1
        try:
            return await self._js.publish_async(
                self._subject, encode_batch(parts), headers=batch_headers(self.node_did, span)
            )
        except _SWARM_ERRORS as exc:
            raise _PublishFailed(f"records {span}: {_describe(exc)}") from None

    async def _settle(self, slots: asyncio.Semaphore, inflight: _InFlight) -> None:
        while (entry := await inflight.get()) is not None:
            span, acknowledgement = entry
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the result, and stopping the outbox would then hang
                async with asyncio.timeout(self._ack_timeout):
                    ack = await acknowledgement
            except _SWARM_ERRORS as exc:
                raise _PublishFailed(f"records {span}: {_describe(exc)}") from None
            if ack.stream != STREAM:
                raise _PublishFailed(
                    f"records {span}: stored by stream {ack.stream!r}, not {STREAM}"
                )
            slots.release()
            self._acked_stream_seq = max(self._acked_stream_seq, ack.seq)
            await self._acknowledged(span)

    async def _audit(self) -> None:
        """Every `audit_every` seconds after acknowledgements, check that the stream still holds
        the latest message it acknowledged: a hub that restarts without its last writes fails no
        publish, and an idle outbox would not notice the records missing. A stream that does not
        answer is a stall, so the outbox reconciles with it before sending more."""
        while True:
            await asyncio.sleep(self._audit_every)
            acked = self._acked_stream_seq
            if acked == self._audited_stream_seq:
                continue
            try:
                last = await last_message(self._js, self.node_did)
            except _SWARM_ERRORS as exc:
                # reconcile before sending more: the hub may come back without those records
                raise _PublishFailed(
                    f"cannot check the stream still holds the records it acknowledged: "
                    f"{_describe(exc)}"
                ) from None
            if last is None or last.stream_seq < acked:
                raise _PublishFailed(
                    f"the stream no longer holds the message it stored at {acked} (its last one "
                    f"here is at {last.stream_seq if last else 'none'}): a hub lost acknowledged "
                    "records, e.g. restarted before writing them"
                )
            self._audited_stream_seq = acked

    async def _acknowledged(self, span: Span) -> None:
        self._ledger.acknowledged(span)
        if self._stalled_since is not None:
            await self._resume()
        position = self.position
        if position - self._saved >= self._save_every:
            await self._cursor.save(position)
            self._saved = position
        if self._waiters:
            self._wake()

    async def _reconcile(self) -> None:
        """Ask the stream where this node's records end and what it holds near there, and set
        the position from it. Retries with backoff (as a stall) until the stream answers."""
        bound = self.in_flight_bound
        while True:
            try:
                last = await last_message(self._js, self.node_did)
                resumed_after = resume_after(
                    self.position, last.span.last if last is not None else None, bound
                )
                stored = (
                    await stored_spans(
                        self._js,
                        self.node_did,
                        beyond=max(resumed_after - bound, 0),
                        last=last,
                        timeout=self._ack_timeout,
                    )
                    if last is not None
                    else []
                )
                break
            except _SWARM_ERRORS as exc:
                await self._stall(f"cannot read the stream's last records: {_describe(exc)}")
        cursor = self.position
        self._ledger.reset(resumed_after, stored)
        self._acked_stream_seq = self._audited_stream_seq = last.stream_seq if last else 0
        if self.position != cursor:
            log.info(
                "replication.reconciled",
                node=self.node_did,
                cursor=cursor,
                last_in_stream=last.span.last if last is not None else None,
                resume_after=self.position,
            )
        self._resumed_after = self.position
        await self._refresh_head()
        if self._stalled_since is not None and self._head <= self.position:
            await self._resume()  # nothing to send: the stream answering is the recovery
        if self._waiters:
            self._wake()

    def _max_message_bytes(self) -> int:
        """Records per message stay under the connection's max_payload, headers included."""
        connection = getattr(self._js, "_nc", None)  # nats-py keeps it private
        max_payload = getattr(connection, "max_payload", None)
        if not isinstance(max_payload, int) or max_payload <= MESSAGE_OVERHEAD:
            max_payload = _DEFAULT_MAX_PAYLOAD
        return min(self._batch_bytes, max_payload - MESSAGE_OVERHEAD)

    async def _stall(self, reason: str) -> None:
        """Note the stall (once per stall), then wait out the backoff."""
        if self._stalled_since is None:
            self._stalled_since = self._clock()
            self.stalls += 1
            log.warning(
                "replication.stalled", node=self.node_did, acknowledged=self.position, error=reason
            )
            await self._record(
                ReplicationStalled(stream=STREAM, acknowledged=self.position, error=reason)
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
        self._waiters.wake(self.position)


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
