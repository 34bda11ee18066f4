"""The hash chain's pure core: sealing and verifying, over generated logs and tamperings."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from nunet.eventlog import ZERO_HASH, EventRecord
from nunet.eventlog.chain import expected_hash, hash_matches, record_hash, seal
from nunet.eventlog.verify import ChainVerifier, TrustedHead

encoded_events = st.tuples(
    st.sampled_from(["a.b", "node.started", "envelope.received", "ü.ñ"]),
    st.integers(1, 3),
    st.text(max_size=8),
    st.binary(max_size=40),
)
batches = st.lists(st.lists(encoded_events, min_size=1, max_size=5), min_size=1, max_size=6)


def build(batch_list: list[list[tuple[str, int, str, bytes]]]) -> list[EventRecord]:
    records: list[EventRecord] = []
    for i, batch in enumerate(batch_list):
        seq, prev = (records[-1].seq, records[-1].hash) if records else (0, ZERO_HASH)
        records.extend(seal(batch, seq, prev, 1_000 + i))
    return records


def problems_of(records: list[EventRecord], **options: object) -> list[tuple[int, str]]:
    verifier = ChainVerifier(**options)  # type: ignore[arg-type]
    for record in records:
        verifier.feed(record)
    return [(p.seq, p.reason) for p in verifier.finish().problems]


def test_fields_are_length_prefixed_so_shifting_bytes_between_them_changes_the_hash() -> None:
    assert record_hash(1, 0, "ab", 1, "c", b"", ZERO_HASH) != record_hash(
        1, 0, "a", 1, "bc", b"", ZERO_HASH
    )
    assert record_hash(1, 0, "a", 1, "", b"b", ZERO_HASH) != record_hash(
        1, 0, "ab", 1, "", b"", ZERO_HASH
    )


@given(batches)
def test_sealed_batches_form_one_verifiable_chain(
    batch_list: list[list[tuple[str, int, str, bytes]]],
) -> None:
    records = build(batch_list)
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert all(hash_matches(r) for r in records)
    assert problems_of(records) == []
    head = records[-1]
    assert problems_of(records, trusted=TrustedHead(head.seq, head.hash)) == []


@given(batches, st.data())
def test_changing_any_field_of_any_record_is_reported_at_or_right_after_it(
    batch_list: list[list[tuple[str, int, str, bytes]]], data: st.DataObject
) -> None:
    records = build(batch_list)
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(
        st.sampled_from(["timestamp", "type", "version", "actor", "payload", "prev_hash", "hash"])
    )
    original = records[index]
    value = getattr(original, field)
    changed: object
    if isinstance(value, int):
        changed = value + 1
    elif isinstance(value, str):
        changed = value + "x"
    else:
        changed = bytes([value[0] ^ 1]) + value[1:] if value else b"\x00"
    records[index] = msgspec.structs.replace(original, **{field: changed})
    reported = {seq for seq, _ in problems_of(records)}
    assert reported
    assert reported <= {original.seq, original.seq + 1}


@given(batches, st.data())
def test_removing_any_record_is_reported(
    batch_list: list[list[tuple[str, int, str, bytes]]], data: st.DataObject
) -> None:
    records = build(batch_list)
    index = data.draw(st.integers(0, len(records) - 1))
    removed = records.pop(index)
    if index == len(records):  # the last one: only a trusted head can tell
        assert problems_of(records) == []
        trusted = TrustedHead(removed.seq, removed.hash)
        assert problems_of(records, trusted=trusted) == [
            (removed.seq, problems_of(records, trusted=trusted)[0][1])
        ]
    else:
        assert problems_of(records)[0][0] == removed.seq + 1


def test_a_record_with_wrongly_typed_fields_is_reported_not_raised() -> None:
    [good] = seal([("a.b", 1, "", b"x")], 0, ZERO_HASH, 5)
    bad = msgspec.structs.replace(good, payload="text, not bytes")
    assert problems_of([bad]) == [(1, "malformed record: field 'payload' holds str, not bytes")]
    assert not hash_matches(bad)
    assert expected_hash(good) == good.hash
