"""Replays of golden streams: logs written by earlier versions must still read and verify."""

from __future__ import annotations

from pathlib import Path

import msgspec

from nunet.catalogue import full_catalogue
from nunet.eventlog import EventRecord, open_sqlite_log
from nunet.eventlog.events import LogCheckpoint
from nunet.eventlog.projection import replay
from nunet.eventlog.sqlite_store import INSERT, connect_writer
from nunet.eventlog.statistics import LogStatistics
from nunet.eventlog.verify import ChainVerifier, verify_log
from nunet.identity import KeyPair
from tests.eventlog import golden
from tests.eventlog.samples import CATALOGUE, Noted, Pinged

SIGNER = KeyPair.from_seed(golden.SIGNER_SEED).did


def restore(records: list[EventRecord], path: Path) -> None:
    """Write records into a fresh log file, as a node that wrote them would have left it."""
    conn = connect_writer(path)
    with conn:
        conn.executemany(INSERT, [msgspec.structs.astuple(r) for r in records])
    conn.close()


def test_the_checkpoint_stream_verifies_with_both_checkpoint_versions() -> None:
    verifier = ChainVerifier(signer=SIGNER)
    for record in golden.load("checkpoints.jsonl"):
        verifier.feed(record)
    report = verifier.finish()
    assert report.ok, report.problems
    assert (report.records, report.checkpoints, report.last_checkpoint_seq) == (7, 2, 6)


def test_the_checkpoint_stream_decodes_with_v1_upcast() -> None:
    records = golden.load("checkpoints.jsonl")
    events = [CATALOGUE.decode(r) for r in records]
    assert events[0] == Noted(text="node started")
    assert events[1:3] == [Pinged(n=1), Pinged(n=2)]
    v1, v2 = events[3], events[6]
    assert isinstance(v1, LogCheckpoint)
    assert isinstance(v2, LogCheckpoint)
    assert (records[3].version, v1.seq, v1.head_hash, v1.signed_at) == (1, 3, records[2].hash, 0)
    assert (records[6].version, v2.seq, v2.signed_at) == (2, 6, 1_700_000_000_000_000_006)
    assert full_catalogue().decode(records[3]) == v1


async def test_a_restored_golden_log_opens_verifies_replays_and_extends(tmp_path: Path) -> None:
    records = golden.load("checkpoints.jsonl")
    path = tmp_path / "events.db"
    restore(records, path)
    log = await open_sqlite_log(path)
    try:
        assert await log.head() == (7, records[-1].hash)
        assert (await verify_log(log, signer=SIGNER, trusted_checkpoint=(7, records[-1].hash))).ok
        _, stats = await replay(log, LogStatistics())
        assert stats.records == 7
        assert {t: s.count for t, s in stats.by_type.items()} == {
            "test.noted": 2,
            "test.pinged": 3,
            "log.checkpoint": 2,
        }
        assert stats.by_actor["/dms/node/peers"].last_seq == 6
        appended = await log.append(Pinged(n=4))
        assert appended.prev_hash == records[-1].hash
        assert (await verify_log(log)).ok
    finally:
        await log.close()


def test_a_golden_record_edited_in_place_is_named() -> None:
    records = golden.load("checkpoints.jsonl")
    records[1] = msgspec.structs.replace(records[1], payload=b"\x81\xa1n\x09")
    verifier = ChainVerifier(signer=SIGNER)
    for record in records:
        verifier.feed(record)
    problems = verifier.finish().problems
    assert [p.seq for p in problems] == [2]
    assert "edited" in problems[0].reason
