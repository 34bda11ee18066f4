"""The production transport: nodes exchange envelopes over a NATS (leaf-node) mesh.

Subjects, headers and statuses are in nats_wire.py; the receiving inbox in nats_inbox.py; topic
subscriptions in nats_topics.py; how a change of interest is known to have crossed the leaf
links in nats_census.py. README.md states what this transport adds to the shared semantics.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
from collections.abc import Awaitable
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscriptionHandle
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError, SlowConsumerError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.nuid import NUID

from nunet.network.errors import (
    AddressInUse,
    MessageTooLarge,
    PeerUnreachable,
    RequestTimeout,
    TransportClosed,
    TransportError,
    TransportNotStarted,
)
from nunet.network.nats_census import InterestBarrier
from nunet.network.nats_dedup import DEFAULT_DEDUP_WINDOW
from nunet.network.nats_inbox import InboxDispatcher
from nunet.network.nats_topics import NatsSubscription, unsubscribe_quietly
from nunet.network.nats_wire import (
    HEADER_ALLOWANCE,
    MESSAGE_ID,
    Kind,
    Malformed,
    Status,
    inbox_subject,
    message_headers,
    parse_inbound,
    read_reply,
    reply_headers,
    topic_subject,
)
from nunet.network.subjects import validate_address, validate_pattern, validate_topic
from nunet.network.transport import InboxHandler, Subscription, TopicHandler, Transport

_log = logging.getLogger("nunet.network.nats")

_T = TypeVar("_T")

DEFAULT_INBOX_BUFFER = 256
DEFAULT_SUBSCRIPTION_BUFFER = 10_000
INBOX_PENDING_MESSAGES = 65_536
"""NATS-side buffer of the inbox subscription; its callback only sorts into lanes, so it stays
short unless the event loop itself is starved."""
PENDING_BYTES = 64 * 1024 * 1024
"""NATS-side byte limit of each subscription's buffer (the nats-py default)."""
ADDRESS_PROBE_TIMEOUT = 1.0
"""How long `start` waits for an answer at its own address before taking it as free."""


class _Phase(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    STARTED = "started"
    CLOSED = "closed"


class NatsTransport(Transport):
    """A node on a NATS mesh: inbox `nunet.inbox.<address>`, topics `nunet.topic.<topic>`.

    Direct messages are NATS requests: a one-way message is acknowledged once it is in the
    sender's lane at the destination, so `send` learns of absent peers ("no responders"), and
    requests are answered with a status header. `start` connects (reconnecting forever once
    connected), refuses an address another transport answers at, and, like `subscribe` and
    `close`, returns once the interest change has crossed the leaf links (nats_census.py).
    """

    def __init__(
        self,
        servers: str | list[str],
        address: str,
        *,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
        name: str | None = None,
        inbox_buffer: int = DEFAULT_INBOX_BUFFER,
        inbox_senders: int = 4096,
        inbox_bytes: int = 256 << 20,
        subscription_buffer: int = DEFAULT_SUBSCRIPTION_BUFFER,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
        reconnect_wait: float = 0.25,
        dedup_window: int = DEFAULT_DEDUP_WINDOW,
        propagation_settle: float = 0.2,
        propagation_limit: float = 2.0,
    ) -> None:
        if inbox_buffer < 1 or subscription_buffer < 1 or dedup_window < 1:
            raise ValueError("inbox_buffer, subscription_buffer and dedup_window must be positive")
        if not (connect_timeout > 0 and send_timeout > 0 and reconnect_wait > 0):
            raise ValueError("connect_timeout, send_timeout and reconnect_wait must be positive")
        if not 0 < propagation_settle <= propagation_limit:
            raise ValueError("need 0 < propagation_settle <= propagation_limit")
        self._servers = [servers] if isinstance(servers, str) else list(servers)
        if not self._servers:
            raise ValueError("give at least one NATS server URL")
        self._address = validate_address(address)
        self._token = token
        self._tls = tls
        self._name = name or f"nunet {address}"
        self._inbox_buffer = inbox_buffer
        self._inbox_bounds = (inbox_senders, inbox_bytes)
        self._subscription_buffer = subscription_buffer
        self._connect_timeout = connect_timeout
        self._send_timeout = send_timeout
        self._reconnect_wait = reconnect_wait
        self._dedup_window = dedup_window
        self._propagation = (propagation_settle, propagation_limit)
        self._phase = _Phase.NEW
        self._client: Client | None = None
        self._max_payload: int | None = None
        self._closed: asyncio.Future[None] | None = None
        self._awaiting: set[asyncio.Task[Any]] = set()  # tasks in send/request, for close()
        self._cancelled_by_close: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()
        self._dispatcher: InboxDispatcher | None = None
        self._barrier: InterestBarrier | None = None
        self._inbox_handle: NatsSubscriptionHandle | None = None
        self._subscriptions: dict[NatsSubscriptionHandle, NatsSubscription] = {}
        self._message_ids = NUID()
        self.rejected = 0
        """Messages on this node's inbox subject that no NatsTransport sent (logged, dropped)."""

    def __repr__(self) -> str:
        return f"NatsTransport({self._address!r}, {self._phase.value})"

    # --- properties ---

    @property
    def address(self) -> str:
        return self._address

    @property
    def max_payload(self) -> int:
        """The server's max_payload less room for headers; known once started."""
        if self._max_payload is None:
            raise TransportNotStarted(f"start {self._address}: max_payload is the server's")
        return self._max_payload

    @property
    def client(self) -> Client:
        """The NATS connection, for components that share it (log replication, JetStream)."""
        if self._client is None or self._phase is _Phase.NEW:
            raise TransportNotStarted(f"start {self._address} before using its NATS connection")
        return self._client

    @property
    def connected(self) -> bool:
        """Whether the connection is up now (it reconnects by itself after an outage)."""
        return self._client is not None and self._client.is_connected

    async def wait_until_connected(self) -> None:
        """Return once the connection is up (at once if it is); bound it with a timeout."""
        self._check_open()
        await self._connected.wait()

    # --- lifecycle ---

    async def start(self, inbox: InboxHandler) -> None:
        if self._phase is _Phase.CLOSED:
            raise TransportClosed(f"{self._address} was closed; make a new transport")
        if self._phase is not _Phase.NEW:
            raise TransportError(f"{self._address} is already started")
        self._phase = _Phase.STARTING
        try:
            client = await self._connect()
            self._client = client
            self._max_payload = client.max_payload - HEADER_ALLOWANCE
            await self._check_address_is_free(client)
            self._closed = asyncio.get_running_loop().create_future()
            self._dispatcher = InboxDispatcher(
                self._address,
                inbox,
                self._reply,
                capacity=self._inbox_buffer,
                max_payload=self._max_payload,
                max_senders=self._inbox_bounds[0],
                max_queued_bytes=self._inbox_bounds[1],
            )
            settle, limit = self._propagation
            self._barrier = InterestBarrier(client, self._address, settle=settle, limit=limit)
            await self._barrier.open()
            self._inbox_handle = await client.subscribe(
                inbox_subject(self._address),
                cb=self._on_inbox,
                pending_msgs_limit=INBOX_PENDING_MESSAGES,
                pending_bytes_limit=PENDING_BYTES,
            )
            await self._barrier.wait(first=True)
            await self._barrier.answer_census()
        except BaseException:
            await self._abandon_start()
            raise
        if self._phase is _Phase.CLOSED:  # closed while starting
            await self._abandon_start()
            raise TransportClosed(f"{self._address} was closed while starting")
        self._phase = _Phase.STARTED
        _log.info("%s started on NATS at %s", self._address, client.connected_url)

    async def close(self) -> None:
        if self._phase is _Phase.CLOSED:
            return
        was_started = self._phase is _Phase.STARTED
        self._phase = _Phase.CLOSED
        if not was_started:
            return  # a start in progress sees CLOSED and cleans up
        assert self._client is not None
        assert self._closed is not None
        assert self._dispatcher is not None
        assert self._barrier is not None
        self._closed.set_result(None)
        current = asyncio.current_task()
        for waiting in self._awaiting:  # requests and sends this node awaits fail now
            if waiting is not current:
                self._cancelled_by_close.add(waiting)
                waiting.cancel()
        if self._inbox_handle is not None:
            await unsubscribe_quietly(self._inbox_handle)
        owed, tasks = self._dispatcher.close()
        for reply in owed:  # peers waiting on this node fail now, not at their timeout
            await self._reply(reply, Status.UNREACHABLE, b"", None)
        for subscription in list(self._subscriptions.values()):
            handle = subscription.deactivate()
            if handle is not None:
                await unsubscribe_quietly(handle)
            if subscription.lane.worker is not None:
                tasks.append(subscription.lane.worker)
        tasks = [task for task in tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client.is_connected:
            try:  # so that peers on other servers see this address gone at once
                await self._barrier.wait()
            except (NatsError, TimeoutError) as exc:
                _log.debug("%s closing: %s", self._address, exc)
        await self._barrier.close()
        self._connected.clear()
        await self._client.close()
        _log.info("%s closed", self._address)

    # --- sending ---

    async def send(self, address: str, data: bytes) -> None:
        client = self._check_outgoing(data)
        address = validate_address(address)
        self._check_connected()
        try:
            reply = await self._unless_closed(
                client.request(
                    inbox_subject(address),
                    data,
                    timeout=self._send_timeout,
                    headers=message_headers(self._address, Kind.SEND),
                )
            )
        except NoRespondersError:
            raise PeerUnreachable(f"no node answers at {address!r}") from None
        except NatsTimeoutError:
            raise PeerUnreachable(
                f"{address} did not accept the message within {self._send_timeout} s "
                "(gone, cut off, or its inbox stayed full); it may still be delivered"
            ) from None
        except NatsError as exc:
            raise self._connection_error(exc) from exc
        read_reply(address, reply.headers, reply.data)

    async def request(self, address: str, data: bytes, *, timeout: float) -> bytes:
        if not timeout > 0:
            raise ValueError(f"a request timeout must be positive, not {timeout}")
        client = self._check_outgoing(data)
        address = validate_address(address)
        self._check_connected()
        try:
            reply = await self._unless_closed(
                client.request(
                    inbox_subject(address),
                    data,
                    timeout=timeout,
                    headers=message_headers(self._address, Kind.REQUEST, timeout),
                )
            )
        except NoRespondersError:
            raise PeerUnreachable(f"no node answers at {address!r}") from None
        except NatsTimeoutError:
            raise RequestTimeout(f"{address} did not reply within {timeout} s") from None
        except NatsError as exc:
            raise self._connection_error(exc) from exc
        return read_reply(address, reply.headers, reply.data)

    async def publish(self, topic: str, data: bytes) -> None:
        client = self._check_outgoing(data)
        subject = topic_subject(validate_topic(topic))
        headers = {MESSAGE_ID: self._message_ids.next().decode()}
        try:
            await client.publish(subject, data, headers=headers)
        except NatsError as exc:
            # Gossip is best effort, as for a slow subscriber: a publication that cannot even
            # be buffered while reconnecting is lost, and said so.
            _log.warning("%s could not publish to %r: %s; dropped", self._address, topic, exc)

    async def subscribe(self, topic: str, handler: TopicHandler) -> Subscription:
        client = self._check_open()
        assert self._barrier is not None
        pattern = validate_pattern(topic)
        subscription = NatsSubscription(
            self._address,
            pattern,
            handler,
            capacity=self._subscription_buffer,
            max_payload=self.max_payload,
            dedup_window=self._dedup_window,
            on_end=self._forget,
        )
        try:
            handle = await client.subscribe(
                topic_subject(pattern),
                cb=subscription.on_message,
                pending_msgs_limit=self._subscription_buffer,
                pending_bytes_limit=PENDING_BYTES,
            )
        except NatsError as exc:
            raise self._connection_error(exc) from exc
        subscription.attach(handle)
        self._subscriptions[handle] = subscription
        try:
            await self._barrier.wait()
        except (NatsError, TimeoutError) as exc:
            # The interest stays: the server sends it on once it can, and nats-py replays it on
            # reconnect. Only the guarantee that it is known everywhere already is lost.
            _log.warning("%s subscribed to %r unconfirmed: %s", self._address, pattern, exc)
        return subscription

    # --- internals ---

    async def _connect(self) -> Client:
        client = Client()
        try:
            async with asyncio.timeout(self._connect_timeout):
                # nats-py annotates these seconds as int but takes any number.
                await client.connect(
                    self._servers,
                    name=self._name,
                    token=self._token,
                    tls=self._tls,
                    connect_timeout=self._connect_timeout,  # type: ignore[arg-type]
                    reconnect_time_wait=self._reconnect_wait,  # type: ignore[arg-type]
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
        except (TimeoutError, NatsError, OSError) as exc:
            await client.close()
            raise TransportError(
                f"{self._address} could not connect to NATS at {', '.join(self._servers)} "
                f"within {self._connect_timeout} s ({exc or type(exc).__name__}): "
                "is the server running, and are the URL, token and TLS settings right?"
            ) from None
        self._connected.set()
        return client

    async def _check_address_is_free(self, client: Client) -> None:
        """Ask at our own inbox subject; someone answering means the address is taken.

        Best effort: two transports starting at once with one address can both succeed.
        """
        try:
            await client.request(
                inbox_subject(self._address),
                b"",
                timeout=ADDRESS_PROBE_TIMEOUT,
                headers=message_headers(self._address, Kind.PROBE),
            )
        except NoRespondersError:
            return
        except NatsTimeoutError:
            # Interest without an answer: one that just left, not yet forgotten everywhere.
            _log.info("%s: stale interest at its inbox subject; taking the address", self._address)
            return
        raise AddressInUse(
            f"another started transport answers at {self._address!r} on this NATS mesh; "
            "a node's address (its DID) must be unique: is the node already running?"
        )

    async def _abandon_start(self) -> None:
        client, self._client = self._client, None
        if self._phase is _Phase.STARTING:
            self._phase = _Phase.NEW
        self._dispatcher = self._barrier = self._inbox_handle = None
        self._closed = None
        self._connected.clear()
        if client is not None:
            await client.close()

    def _check_open(self) -> Client:
        if self._phase is _Phase.CLOSED:
            raise TransportClosed(f"{self._address} is closed")
        if self._phase is not _Phase.STARTED or self._client is None:
            raise TransportNotStarted(f"start {self._address} before using it")
        return self._client

    def _check_outgoing(self, data: bytes) -> Client:
        client = self._check_open()
        if len(data) > self.max_payload:
            raise MessageTooLarge(
                f"{len(data)} bytes is over the maximum payload of {self.max_payload} bytes "
                "(the NATS server's max_payload less room for headers)"
            )
        return client

    def _check_connected(self) -> None:
        if not self.connected:
            # nats-py would hold the message until it reconnects; a peer cannot be reached now.
            raise PeerUnreachable(f"{self._address} is disconnected from NATS; it reconnects")

    def _connection_error(self, exc: NatsError) -> TransportError:
        if self._phase is _Phase.CLOSED:
            return TransportClosed(f"{self._address} was closed")
        return PeerUnreachable(f"{self._address} cannot reach NATS now ({exc}); it reconnects")

    async def _unless_closed(self, operation: Awaitable[_T]) -> _T:
        """Await `operation` in the calling task, but raise TransportClosed as soon as this
        transport closes: `close()` cancels the tasks registered here and this turns that
        cancellation (and only that one) into TransportClosed. No task or wait per call."""
        task = asyncio.current_task()
        assert task is not None
        self._awaiting.add(task)
        try:
            return await operation
        except asyncio.CancelledError:
            if task in self._cancelled_by_close:
                self._cancelled_by_close.discard(task)
                task.uncancel()
                raise TransportClosed(f"{self._address} was closed") from None
            raise
        finally:
            self._awaiting.discard(task)

    async def _reply(self, subject: str, status: Status, data: bytes, reason: str | None) -> None:
        if self._client is None:
            return
        try:
            await self._client.publish(subject, data, headers=reply_headers(status, reason))
        except (NatsError, ValueError) as exc:
            _log.warning("%s could not answer on %r: %s", self._address, subject, exc)

    async def _on_inbox(self, msg: Msg) -> None:
        """The NATS callback of the inbox: check, answer probes, sort the rest into lanes."""
        assert self._dispatcher is not None
        assert self._max_payload is not None
        try:
            message = parse_inbound(msg.headers, msg.data, msg.reply, self._max_payload)
        except Malformed as exc:
            self.rejected += 1
            _log.warning("%s rejected a message on its inbox: %s", self._address, exc)
            if msg.reply:
                await self._reply(msg.reply, Status.REJECTED, b"", str(exc))
            return
        if message.kind is Kind.PROBE:
            await self._reply(message.reply, Status.OK, b"", None)
            return
        await self._dispatcher.accept(message)

    def _forget(self, subscription: NatsSubscription) -> None:
        for handle, known in list(self._subscriptions.items()):
            if known is subscription:
                del self._subscriptions[handle]

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            subscription = self._subscriptions.get(exc.sub)
            if subscription is not None:
                subscription.count_drop(exc.sub.pending_msgs)
            elif exc.sub is self._inbox_handle:
                _log.warning(
                    "inbox of %s is %d messages behind in NATS; dropped one (its sender times out)",
                    self._address,
                    exc.sub.pending_msgs,
                )
            return
        _log.warning("NATS connection of %s: %s", self._address, exc or type(exc).__name__)

    async def _on_disconnected(self) -> None:
        self._connected.clear()
        if self._phase is _Phase.STARTED:
            _log.warning("%s disconnected from NATS; reconnecting", self._address)

    async def _on_reconnected(self) -> None:
        assert self._client is not None
        if self._barrier is not None:
            self._barrier.server_changed()
        self._connected.set()
        _log.warning("%s reconnected to NATS at %s", self._address, self._client.connected_url)
