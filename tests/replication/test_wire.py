"""The swarm log's wire format, with no server: format 1 and 2 messages, ids, malformed ones."""

from __future__ import annotations

import msgspec
import pytest

from nunet.eventlog import EventRecord
from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.replication import MalformedLogMessage
from nunet.replication.stream import (
    FORMAT,
    MSG_ID,
    Span,
    batch_headers,
    decode_message,
    encode_batch,
    encode_record,
    node_subject,
    span_of_msg_id,
)

NODE = "did:key:z6MkWire"
SUBJECT = node_subject(NODE)


def chain(count: int) -> list[EventRecord]:
    events = [("test.pinged", 1, "", msgspec.msgpack.encode({"n": i})) for i in range(count)]
    return seal(events, 0, ZERO_HASH, 1_000)


def test_a_batch_round_trips_with_its_id_and_format() -> None:
    records = chain(5)
    headers = batch_headers(NODE, Span(1, 5))
    assert headers == {MSG_ID: f"{NODE}:1-5", FORMAT: "2"}
    body = encode_batch([encode_record(r) for r in records])
    assert body == msgspec.msgpack.encode(records)  # a plain msgpack array of records
    decoded = decode_message(SUBJECT, headers, body)
    assert (decoded.node, decoded.records) == (NODE, records)


def test_a_format_1_message_still_reads_as_one_record() -> None:
    record = chain(1)[0]
    decoded = decode_message(SUBJECT, {MSG_ID: f"{NODE}:1"}, encode_record(record))
    assert decoded.records == [record]
    assert decode_message(SUBJECT, None, encode_record(record)).records == [record]


def test_message_ids_name_spans_in_either_format() -> None:
    assert span_of_msg_id(f"{NODE}:7") == Span(7, 7)
    assert span_of_msg_id(f"{NODE}:7-12") == Span(7, 12)
    for bad in (f"{NODE}:x", f"{NODE}:9-3", f"{NODE}:0", "nothing"):
        with pytest.raises(MalformedLogMessage):
            span_of_msg_id(bad)


@pytest.mark.parametrize(
    ("headers", "records", "complaint"),
    [
        ({FORMAT: "3"}, [1], "format '3'"),
        ({FORMAT: "2", MSG_ID: f"{NODE}:1-3"}, [1, 2], "does not name"),
        ({FORMAT: "2"}, [1, 3], "do not follow"),
        ({FORMAT: "2"}, [], "no record"),
        ({MSG_ID: f"{NODE}:2"}, [1], "does not name"),
    ],
)
def test_a_message_that_is_not_what_it_claims_is_malformed(
    headers: dict[str, str], records: list[int], complaint: str
) -> None:
    chained = chain(3)
    picked = [chained[seq - 1] for seq in records]
    body = (
        encode_record(picked[0])
        if FORMAT not in headers
        else encode_batch([encode_record(r) for r in picked])
    )
    with pytest.raises(MalformedLogMessage, match=complaint):
        decode_message(SUBJECT, headers, body)
