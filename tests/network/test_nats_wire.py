"""The NATS wire format and de-duplication window, without a server."""

from __future__ import annotations

import pytest

from nunet.network import PeerUnreachable, RequestFailed, TransportError
from nunet.network.nats_dedup import RecentIds
from nunet.network.nats_wire import (
    Kind,
    Malformed,
    Status,
    message_headers,
    parse_inbound,
    parse_message_id,
    read_reply,
    reply_headers,
)

SENDER = "did:key:z6MkSender"


def test_a_request_round_trips_through_its_headers() -> None:
    headers = message_headers(SENDER, Kind.REQUEST, 2.5)
    message = parse_inbound(headers, b"data", "_INBOX.x", max_payload=10)
    assert (message.sender, message.kind, message.data, message.timeout) == (
        SENDER,
        Kind.REQUEST,
        b"data",
        2.5,
    )


@pytest.mark.parametrize(
    ("headers", "reply", "size", "reason"),
    [
        (message_headers(SENDER, Kind.SEND), "", 1, "no reply subject"),
        (None, "r", 1, "no headers"),
        ({"Nunet-Kind": "send"}, "r", 1, "Nunet-From"),
        (message_headers("a.b", Kind.SEND), "r", 1, "Nunet-From"),
        ({"Nunet-From": SENDER, "Nunet-Kind": "yell"}, "r", 1, "Nunet-Kind"),
        (message_headers(SENDER, Kind.SEND), "r", 11, "maximum payload"),
        (message_headers(SENDER, Kind.REQUEST), "r", 1, "Nunet-Timeout"),
        ({**message_headers(SENDER, Kind.REQUEST), "Nunet-Timeout": "-1"}, "r", 1, "Timeout"),
        ({**message_headers(SENDER, Kind.REQUEST), "Nunet-Timeout": "inf"}, "r", 1, "Timeout"),
    ],
)
def test_malformed_inbound_messages_name_what_is_wrong(
    headers: dict[str, str] | None, reply: str, size: int, reason: str
) -> None:
    with pytest.raises(Malformed, match=reason):
        parse_inbound(headers, b"x" * size, reply, max_payload=10)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (Status.FAILED, RequestFailed),
        (Status.UNREACHABLE, PeerUnreachable),
        (Status.BUSY, TransportError),
        (Status.REJECTED, TransportError),
    ],
)
def test_error_statuses_raise_their_domain_error(status: Status, error: type[Exception]) -> None:
    with pytest.raises(error):
        read_reply(SENDER, reply_headers(status, "why"), b"")


def test_a_reply_without_a_status_is_an_error_naming_the_peer() -> None:
    with pytest.raises(TransportError, match=SENDER):
        read_reply(SENDER, None, b"who knows")
    assert read_reply(SENDER, reply_headers(Status.OK), b"yes") == b"yes"


def test_a_publication_needs_a_message_id() -> None:
    assert parse_message_id({"Nunet-Msg-Id": "abc"}) == "abc"
    for headers in (None, {}, {"Nunet-Msg-Id": ""}, {"Nunet-Msg-Id": "x" * 129}):
        with pytest.raises(Malformed):
            parse_message_id(headers)


def test_recent_ids_remember_a_bounded_window() -> None:
    window = RecentIds(3)
    assert [window.add(i) for i in ("a", "b", "a", "c", "d")] == [True, True, False, True, True]
    assert len(window) == 3
    assert "a" not in window  # the oldest was forgotten
    assert window.add("a")
    with pytest.raises(ValueError, match="at least one"):
        RecentIds(0)
