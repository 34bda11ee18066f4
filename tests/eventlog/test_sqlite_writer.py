"""The writer process's program, driven in-process: batches in parts, answers, refusals."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import msgspec
import pytest

from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.eventlog.event import EventEncoder, EventRecord
from nunet.eventlog.sqlite_writer import (
    ABORT,
    END_OF_BATCH,
    FRAME_HEADER,
    BatchWriter,
    Committed,
    Failed,
    Ready,
    Refused,
    Reply,
    Row,
    open_store,
    serve,
)
from tests.eventlog.samples import pings

_ENCODER = EventEncoder()


def sealed(count: int, after: tuple[int, bytes] = (0, ZERO_HASH)) -> list[EventRecord]:
    events = [_ENCODER.encode(event, "tester") for event in pings(count, start=after[0])]
    return seal(events, after[0], after[1], 1_700_000_000 * 10**9)


def rows(records: list[EventRecord]) -> list[Row]:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(records), type=list[Row])


def frame(records: list[EventRecord], flags: int = 0) -> bytes:
    body = msgspec.msgpack.encode(records)
    return FRAME_HEADER.pack(len(body), flags) + body


def stored_seqs(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT seq FROM events ORDER BY seq")]


def run(path: Path, stream: bytes) -> list[Reply]:
    answers: list[Reply] = []
    serve(path, io.BytesIO(stream), answers.append)
    return answers


def test_a_batch_in_parts_is_committed_once_its_last_part_arrives(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    conn = open_store(path)
    writer = BatchWriter(conn)
    records = sealed(300)
    writer.add(rows(records[:128]))
    writer.add(rows(records[128:256]))
    assert stored_seqs(path) == []  # another connection sees nothing before the commit
    writer.add(rows(records[256:]))
    assert writer.end(300) == Committed(300)
    assert stored_seqs(path) == list(range(1, 301))
    conn.close()


def test_a_failing_part_rolls_back_the_whole_batch_and_the_next_follows_the_head(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    conn = open_store(path)
    writer = BatchWriter(conn)
    first = sealed(10)
    writer.add(rows(first))
    assert writer.end(10) == Committed(10)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.seq = 15 "
        "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    doomed = sealed(10, after=(10, first[-1].hash))
    writer.add(rows(doomed[:3]))
    writer.add(rows(doomed[3:]))  # holds seq 15
    answer = writer.end(20)
    assert isinstance(answer, Failed)
    assert "disk says no" in answer.message
    assert stored_seqs(path) == list(range(1, 11))
    conn.execute("DROP TRIGGER poison")
    retry = sealed(10, after=(10, first[-1].hash))
    writer.add(rows(retry))
    assert writer.end(20) == Committed(20)
    conn.close()


def test_a_batch_that_does_not_follow_the_committed_head_is_refused(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "events.db")
    writer = BatchWriter(conn)
    writer.add(rows(sealed(5, after=(7, ZERO_HASH))))
    answer = writer.end(12)
    assert isinstance(answer, Failed)
    assert "do not follow seq 0" in answer.message
    [forged] = rows(sealed(1))
    writer.add([msgspec.structs.replace(forged, prev_hash=os.urandom(32))])
    assert isinstance(writer.end(1), Failed)  # right seq, wrong prev_hash
    conn.close()


def test_serve_answers_ready_then_once_per_batch_and_stops_at_end_of_input(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    records = sealed(6)
    stream = (
        frame(records[:2])
        + frame(records[2:3], END_OF_BATCH)
        + frame(records[3:], END_OF_BATCH)
        + frame([], END_OF_BATCH | ABORT)  # a batch the loop gave up: nothing to commit
    )
    answers = run(path, stream)
    assert answers[:3] == [Ready(), Committed(3), Committed(6)]
    assert isinstance(answers[3], Failed)
    assert "abandoned" in answers[3].message
    assert stored_seqs(path) == list(range(1, 7))


def test_an_aborted_batch_leaves_nothing_of_its_parts(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    records = sealed(4)
    answers = run(path, frame(records[:2]) + frame(records[2:], END_OF_BATCH | ABORT))
    assert answers[0] == Ready()
    assert isinstance(answers[1], Failed)
    assert stored_seqs(path) == []


def test_a_batch_cut_off_by_the_end_of_input_is_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    records = sealed(4)
    whole = frame(records[2:], END_OF_BATCH)
    assert run(path, frame(records[:2]) + whole[:-5]) == [Ready()]
    assert stored_seqs(path) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (os.urandom(8192), "is not a readable event log"),
        (None, "log format '2'"),
    ],
)
def test_a_store_that_is_not_a_usable_log_is_refused(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "events.db"
    if content is None:
        open_store(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE log_meta SET value = '2' WHERE key = 'format'")
    else:
        path.write_bytes(content)
    [answer] = run(path, b"")
    assert isinstance(answer, Refused)
    assert answer.kind == "corrupt"
    assert expected in answer.message
