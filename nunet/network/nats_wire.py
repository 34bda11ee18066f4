"""How nunet messages look on NATS: subjects, headers and reply statuses (pure, no I/O).

Direct messages go to `nunet.inbox.<address>` as NATS requests whose headers name the sender and
the kind; every one is answered (an ack, the handler's reply, or an error status), so a sender
learns when a peer is absent, busy, or failed. Publications go to `nunet.topic.<topic>` with a
message id, so a subscription that receives one twice (several paths between hubs) drops it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from nunet.network.errors import PeerUnreachable, RequestFailed, TransportError
from nunet.network.subjects import validate_address

INBOX_PREFIX = "nunet.inbox."
TOPIC_PREFIX = "nunet.topic."
CENSUS_SUBJECT = "nunet.census"
"""Every started NatsTransport answers here; see nats_census.py."""

SENDER = "Nunet-From"
KIND = "Nunet-Kind"
TIMEOUT = "Nunet-Timeout"
"""Seconds the requester waits: the responder skips a request that expired while queued."""
STATUS = "Nunet-Status"
REASON = "Nunet-Reason"
MESSAGE_ID = "Nunet-Msg-Id"

HEADER_ALLOWANCE = 1024
"""Bytes of the server's max_payload kept for headers (NATS counts them in the limit):
an address is at most 255 characters, the other headers are short."""

MAX_MESSAGE_ID = 128


class Kind(enum.Enum):
    """What a message to an inbox asks of the receiving transport."""

    SEND = "send"  # deliver to the inbox handler; ack once accepted into the sender's lane
    REQUEST = "request"  # deliver; the handler's return value is the reply
    PROBE = "probe"  # is this address taken? answered by the transport, never delivered


class Status(enum.Enum):
    """How an inbox answered a direct message."""

    ACK = "ack"  # a one-way message was accepted into the sender's lane
    OK = "ok"  # the payload is the handler's reply (or a probe's answer)
    FAILED = "failed"  # the handler raised, returned None, or a reply over max_payload
    UNREACHABLE = "unreachable"  # the transport closed before handling or answering
    BUSY = "busy"  # the sender already has too many messages queued there
    REJECTED = "rejected"  # malformed: not a message a NatsTransport sends


def inbox_subject(address: str) -> str:
    return INBOX_PREFIX + address


def topic_subject(topic: str) -> str:
    """A topic or a pattern: wildcards are whole tokens in both namespaces, so they carry over."""
    return TOPIC_PREFIX + topic


class Malformed(Exception):
    """An inbound NATS message is not one a NatsTransport sends (internal; the reason is logged)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A well-formed direct message: who sent it, what it asks, and where to answer."""

    sender: str
    kind: Kind
    data: bytes
    reply: str
    timeout: float | None  # requests only


def message_headers(sender: str, kind: Kind, timeout: float | None = None) -> dict[str, str]:
    headers = {SENDER: sender, KIND: kind.value}
    if timeout is not None:
        headers[TIMEOUT] = repr(float(timeout))
    return headers


def reply_headers(status: Status, reason: str | None = None) -> dict[str, str]:
    headers = {STATUS: status.value}
    if reason:
        headers[REASON] = reason
    return headers


def parse_inbound(
    headers: Mapping[str, str] | None, data: bytes, reply: str, max_payload: int
) -> Inbound:
    """Check a raw message to an inbox; raises Malformed naming what is wrong."""
    if not reply:
        raise Malformed(
            "no reply subject (a NatsTransport sends every direct message as a request)"
        )
    if not headers:
        raise Malformed("no headers")
    try:
        sender = validate_address(headers.get(SENDER, ""))
    except TransportError as exc:
        raise Malformed(f"bad {SENDER} header: {exc}") from None
    try:
        kind = Kind(headers.get(KIND, ""))
    except ValueError:
        raise Malformed(f"bad {KIND} header {headers.get(KIND)!r}") from None
    if len(data) > max_payload:
        raise Malformed(f"{len(data)} bytes is over the maximum payload of {max_payload}")
    timeout = None
    if kind is Kind.REQUEST:
        try:
            timeout = float(headers.get(TIMEOUT, ""))
        except ValueError:
            raise Malformed(f"bad {TIMEOUT} header {headers.get(TIMEOUT)!r}") from None
        if not (math.isfinite(timeout) and timeout > 0):
            raise Malformed(f"bad {TIMEOUT} header {headers.get(TIMEOUT)!r}")
    return Inbound(sender, kind, bytes(data), reply, timeout)


def parse_message_id(headers: Mapping[str, str] | None) -> str:
    """The id of a publication; raises Malformed if it has none."""
    message_id = (headers or {}).get(MESSAGE_ID, "")
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        raise Malformed(f"no usable {MESSAGE_ID} header")
    return message_id


def read_reply(address: str, headers: Mapping[str, str] | None, data: bytes) -> bytes:
    """The payload of a successful reply from `address`; raises the error its status names."""
    status_text = (headers or {}).get(STATUS)
    reason = (headers or {}).get(REASON) or "no reason given"
    try:
        status = Status(status_text)
    except ValueError:
        raise TransportError(
            f"{address} answered with no valid {STATUS} header ({status_text!r}): "
            "is something other than a nunet node subscribed to its inbox?"
        ) from None
    if status in (Status.ACK, Status.OK):
        return bytes(data)
    if status is Status.FAILED:
        raise RequestFailed(f"{address} failed to handle the request: {reason}")
    if status is Status.UNREACHABLE:
        raise PeerUnreachable(f"{address} closed before answering")
    if status is Status.BUSY:
        raise TransportError(f"{address} is too busy to take more from this node: {reason}")
    raise TransportError(f"{address} rejected the message as malformed: {reason}")
