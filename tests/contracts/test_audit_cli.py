"""`nunet audit` on real log files, through click's CliRunner: exit 0, 1 and 2, and the report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from nunet.cli.audit import audit
from nunet.cli.context import CliContext
from nunet.contracts.events import ContractSettled, VoucherAccepted
from nunet.eventlog import EventRecord
from tests.contracts.flows import (
    PROVIDER_KEY,
    REQUESTER_KEY,
    Outcome,
    Plan,
    build_sync,
    copy_log,
    events_of,
    read_records,
    rewrite,
    tamper,
    with_payload,
)

PLANS = [Plan(notes=3), Plan(notes=3, end="overdue"), Plan(notes=4, dispute=2), Plan(notes=2)]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Outcome]]:
    directory = tmp_path_factory.mktemp("honest")
    return directory, build_sync(directory, PLANS)


@pytest.fixture
def logs(honest: tuple[Path, list[Outcome]], tmp_path: Path) -> tuple[Path, Path]:
    directory, _ = honest
    return (
        copy_log(directory / "requester.db", tmp_path / "requester.db"),
        copy_log(directory / "provider.db", tmp_path / "provider.db"),
    )


def run(*args: str | Path, output: str = "table") -> Result:
    return CliRunner().invoke(
        audit, [str(a) for a in args], obj=CliContext(Path("/nonexistent"), None, output)
    )


def test_consistent_logs_exit_0_with_each_contract_and_the_totals(
    logs: tuple[Path, Path], honest: tuple[Path, list[Outcome]]
) -> None:
    _, outcomes = honest
    result = run(*logs)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "audit: consistent: no findings"
    assert lines[2].startswith(f"log A  {logs[0]}  owner {REQUESTER_KEY.did}")
    assert lines[3].startswith(f"log B  {logs[1]}  owner {PROVIDER_KEY.did}")
    overdue = next(line for line in lines if line.startswith(outcomes[1].contract_id[:12]))
    assert overdue.split()[3:5] == ["terminated", "terminated"]
    assert "0.008584 NTX" in overdue  # what the overdue note left unpaid
    assert (
        "contracts 4 between the two (+0 with others), 3 settled, 1 terminated; "
        "12 debit notes, 10 vouchers, 1 disputes"
    ) in result.stdout
    assert "findings:" not in result.stdout


def test_json_output_is_the_whole_report(
    logs: tuple[Path, Path], honest: tuple[Path, list[Outcome]]
) -> None:
    _, outcomes = honest
    result = run(*logs, "--output", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["findings"] == []
    assert [log["path"] for log in report["logs"]] == [str(p) for p in logs]
    assert [c["contract_id"] for c in report["contracts"]] == [o.contract_id for o in outcomes]
    assert [c["paid"] for c in report["contracts"]] == [o.paid for o in outcomes]
    assert report["counts"]["settled_amount"] == sum(o.settled or 0 for o in outcomes)
    assert report["counts"]["outstanding"] == outcomes[1].outstanding


def test_a_tampered_log_exits_1_naming_each_finding(
    logs: tuple[Path, Path], honest: tuple[Path, list[Outcome]]
) -> None:
    _, outcomes = honest
    _, provider = logs
    cid = outcomes[0].contract_id

    def inflate(records: list[EventRecord]) -> list[EventRecord]:
        for i, event in events_of(records, VoucherAccepted):
            if event.contract_id == cid and event.seq == 2:
                bigger = msgspec.structs.replace(event, amount=event.amount + 5)
                records[i] = with_payload(records[i], bigger)
        return records

    rewrite(provider, inflate, resign=PROVIDER_KEY)
    result = run(*logs, "-o", "json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    fields = [f for f in findings if f["check"] == "fields"]
    assert fields == [
        {
            "log": "B",
            "seq": fields[0]["seq"],
            "contract": cid,
            "check": "fields",
            "message": f"the event's amount is {outcomes[0].vouchers[1] + 5}, but the signed "
            f"voucher says {outcomes[0].vouchers[1]}",
        }
    ]
    assert result.stderr.startswith(f"audit failed: {len(findings)} finding(s); first: B seq ")
    table = run(*logs)
    assert table.exit_code == 1
    assert table.stdout.splitlines()[0] == f"audit: {len(findings)} finding(s)"
    assert f"  B seq {fields[0]['seq']} contract {cid}: fields: the event's amount" in table.stdout


def test_a_cut_tail_exits_1_only_with_the_trusted_head(logs: tuple[Path, Path]) -> None:
    requester, _ = logs
    records = read_records(requester)
    head = records[-1]
    assert records[-2].type == ContractSettled.TYPE
    tamper(requester, "DELETE FROM events WHERE seq >= ?", records[-2].seq)
    assert run(*logs).exit_code == 0
    result = run(*logs, "--trusted-a", f"{head.seq}:{head.hash.hex()}")
    assert result.exit_code == 1
    assert "the tail was truncated" in result.stdout
    assert run(*logs, "--trusted-b", f"{head.seq}:{head.hash.hex()}").exit_code == 1


def test_a_missing_file_is_a_usage_error(logs: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(logs[0], tmp_path / "nowhere.db")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_file_that_is_not_a_log_is_a_usage_error(logs: tuple[Path, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite at all" * 100)
    result = run(logs[0], garbage)
    assert result.exit_code == 2
    assert f"{garbage} cannot be audited: {garbage} is not a readable event log" in result.output
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    result = run(other, logs[1])
    assert result.exit_code == 2
    assert "is an SQLite file but not an event log" in result.output
    assert "Traceback" not in result.output


def test_two_logs_of_the_same_node_are_a_usage_error(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    replica = copy_log(logs[0], tmp_path / "replica.db")
    result = run(logs[0], replica)
    assert result.exit_code == 2
    assert f"both logs are written by {REQUESTER_KEY.did}" in result.output


def test_a_malformed_trusted_head_is_a_usage_error(logs: tuple[Path, Path]) -> None:
    result = run(*logs, "--trusted-a", "seven:beef")
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output
    assert "--trusted-a" in result.output
