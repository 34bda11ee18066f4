"""`nunet events` against real logs, through click's CliRunner."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import click
import msgspec
import pytest
from click.testing import CliRunner, Result

from nunet.cli.context import CliContext
from nunet.cli.events import events
from nunet.eventlog import open_sqlite_log
from nunet.eventlog.checkpoint import Checkpointer
from nunet.eventlog.projection import ProjectionRunner
from nunet.eventlog.projection_store import SQLiteProjectionStore
from nunet.eventlog.statistics import LogStatistics, LogStatisticsState
from nunet.identity import KeyPair
from tests.eventlog.samples import Noted, Pinged, pings

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "events" / "catalogue.yaml"
NODE_KEY = KeyPair.from_seed(b"\x05" * 32)


def run(home: Path, *args: str, output: str = "json") -> Result:
    return CliRunner().invoke(events, list(args), obj=CliContext(home, None, output))


def log_file(home: Path) -> Path:
    return home / "log" / "events.db"


def write(home: Path, *, checkpoint: bool = True) -> None:
    """A node's log: 5 pings, a note, a checkpoint by the node key."""

    async def go() -> None:
        log = await open_sqlite_log(log_file(home))
        await log.append_many(pings(5), actor="/dms/node")
        await log.append(Noted(text="hello", blob=b"\xca\xfe"))
        if checkpoint:
            await Checkpointer(log, NODE_KEY).checkpoint()
        await log.close()

    asyncio.run(go())


def tamper(home: Path, sql: str) -> None:
    with sqlite3.connect(log_file(home)) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_are_not_updated")
        conn.execute("DROP TRIGGER IF EXISTS events_are_not_deleted")
        conn.execute(sql)


def json_lines(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_tail_prints_records_decoded_or_raw(tmp_path: Path) -> None:
    write(tmp_path)
    lines = json_lines(run(tmp_path, "tail"))
    assert [line["seq"] for line in lines] == list(range(1, 8))
    # test.* types are not in the full catalogue: shown raw, not a crash
    assert lines[0]["payload_hex"] == "81a16e00"
    assert lines[0]["actor"] == "/dms/node"
    checkpoint = lines[6]["event"]
    assert isinstance(checkpoint, dict)
    assert checkpoint["signer"] == NODE_KEY.did
    assert checkpoint["seq"] == 6


def test_tail_filters_by_type_and_start(tmp_path: Path) -> None:
    write(tmp_path)
    lines = json_lines(run(tmp_path, "tail", "--from", "3", "--type", "test.pinged"))
    assert [line["seq"] for line in lines] == [3, 4, 5]
    table = run(tmp_path, "tail", "--from", "7", output="table")
    assert table.exit_code == 0
    assert " 7  " in table.stdout
    assert "log.checkpoint v2" in table.stdout


def test_tail_follow_prints_records_as_the_node_writes_them(tmp_path: Path) -> None:
    write(tmp_path, checkpoint=False)
    outcome: dict[str, Result] = {}
    following = threading.Thread(
        target=lambda: outcome.update(
            result=run(
                tmp_path, "tail", "--from", "5", "--follow", "--count", "4", "--poll", "0.01"
            )
        )
    )

    async def node_writes() -> None:
        log = await open_sqlite_log(log_file(tmp_path))
        following.start()
        for i in range(3):
            await log.append(Pinged(n=100 + i))
        await asyncio.to_thread(following.join, 30)
        await log.close()

    asyncio.run(node_writes())
    assert not following.is_alive()
    assert [line["seq"] for line in json_lines(outcome["result"])] == [5, 6, 7, 8]


def test_show_prints_one_record_and_names_a_missing_one(tmp_path: Path) -> None:
    write(tmp_path)
    result = run(tmp_path, "show", "7")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["type"] == "log.checkpoint"
    assert shown["event"]["signed_at"] > 0
    missing = run(tmp_path, "show", "99")
    assert missing.exit_code == 1
    assert "no record 99: the log ends at seq 7" in missing.output


def test_verify_passes_an_intact_log(tmp_path: Path) -> None:
    write(tmp_path)
    result = run(tmp_path, "verify", "--signer", NODE_KEY.did)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["ok"], report["records"], report["checkpoints"]) == (True, 7, 1)


def test_verify_fails_naming_an_edited_record(tmp_path: Path) -> None:
    write(tmp_path)
    tamper(tmp_path, "UPDATE events SET actor = 'mallory' WHERE seq = 3")
    result = run(tmp_path, "verify")
    assert result.exit_code == 1
    assert "first at seq 3" in result.stderr
    assert json.loads(result.stdout)["problems"][0].startswith("seq 3: stored hash")


def test_verify_with_a_trusted_checkpoint_catches_truncation(tmp_path: Path) -> None:
    write(tmp_path)
    head = json.loads(run(tmp_path, "show", "7").stdout)["hash"]
    assert run(tmp_path, "verify", "--checkpoint", f"7:{head}").exit_code == 0
    tamper(tmp_path, "DELETE FROM events WHERE seq > 5")
    assert run(tmp_path, "verify").exit_code == 0
    result = run(tmp_path, "verify", "--checkpoint", f"7:{head}")
    assert result.exit_code == 1
    assert "truncated" in result.stderr
    bad = run(tmp_path, "verify", "--checkpoint", "seven:beef")
    assert bad.exit_code == 2
    assert "SEQ:HASH" in bad.output


def test_replay_rebuilds_and_compares_with_the_stored_projection(tmp_path: Path) -> None:
    write(tmp_path)
    first = json.loads(run(tmp_path, "replay").stdout)
    assert first["stored"].startswith("none")
    assert first["state"]["by_type"]["test.pinged"]["count"] == 5

    async def project(corrupt: bool) -> None:
        log = await open_sqlite_log(log_file(tmp_path))
        store = await SQLiteProjectionStore.open(tmp_path / "log" / "projections.db")
        runner = ProjectionRunner(log, LogStatistics(), store)
        await runner.load()
        await runner.catch_up()
        if corrupt:
            await store.save(
                "log-statistics", 7, LogStatistics().encode_state(LogStatisticsState())
            )
        await store.close()
        await log.close()

    asyncio.run(project(corrupt=False))
    result = run(tmp_path, "replay", "--projection", "log-statistics")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == {"position": 7, "agrees": True}
    asyncio.run(project(corrupt=True))
    result = run(tmp_path, "replay")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["stored"] == {"position": 7, "agrees": False}
    assert "differs" in result.stderr


def test_export_writes_json_lines_for_a_range_and_type(tmp_path: Path) -> None:
    write(tmp_path)
    result = run(
        tmp_path, "export", "--from", "2", "--to", "6", "--type", "test.noted", output="table"
    )
    [line] = json_lines(result)
    assert (line["seq"], line["type"]) == (6, "test.noted")
    assert (
        line["payload_hex"] == msgspec.msgpack.encode(Noted(text="hello", blob=b"\xca\xfe")).hex()
    )


def test_catalogue_prints_the_committed_catalogue(tmp_path: Path) -> None:
    result = run(tmp_path, "catalogue")
    assert result.exit_code == 0
    assert result.stdout == CATALOGUE_FILE.read_text()


@pytest.mark.parametrize("command", [["tail"], ["show", "1"], ["verify"], ["replay"], ["export"]])
def test_every_command_says_clearly_when_there_is_no_log(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(tmp_path, *command)
    assert result.exit_code == 1
    assert f"no event log at {log_file(tmp_path)}" in result.output
    assert "Traceback" not in result.output


def test_a_garbage_log_file_is_a_clear_error(tmp_path: Path) -> None:
    log_file(tmp_path).parent.mkdir(parents=True)
    log_file(tmp_path).write_bytes(b"not sqlite at all" * 500)
    result = run(tmp_path, "verify")
    assert result.exit_code == 1
    assert "is not a readable event log" in result.output


def test_the_group_is_registered_as_nunet_events() -> None:
    assert isinstance(events, click.Group)
    assert events.name == "events"
    assert set(events.commands) == {"tail", "show", "verify", "replay", "export", "catalogue"}
