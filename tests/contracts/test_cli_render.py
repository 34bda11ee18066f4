"""`nunet contracts` and `nunet payments` without a node: bad options are refused naming the
option, a missing node is one clear line, and real view output renders as tables.

(Calls against a running node are in the node's end-to-end CLI tests.)
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from nunet.cli.context import CliContext, render_table
from nunet.cli.contracts import contract_rows, contracts, render_contract
from nunet.cli.payments import payments, render_payment_timeline, render_payments
from nunet.contracts.protocol import ContractQuery
from nunet.contracts.state import PaymentState, PaymentStateProjection
from nunet.contracts.views import (
    contract_detail,
    contract_summary,
    payment_detail,
    payment_timeline,
    payments_summary,
    select,
)
from nunet.eventlog import Event
from nunet.identity import KeyPair
from tests.contracts.payment_story import Story, sealed

NTX = 1_000_000
ME = KeyPair.generate()


def run(group: click.Group, home: Path, *args: str) -> Result:
    return CliRunner().invoke(group, list(args), obj=CliContext(home, None, "table"))


def fold(events: list[Event]) -> PaymentState:
    projection = PaymentStateProjection()
    state = projection.initial()
    for record in sealed(events):
        state = projection.evolve(state, record)
    return state


PAYS = Story(requester=ME, deployment="web", node="frontend")
PAID = Story(provider=ME, deployment="batch", currency="EUR", budget=None)
STATE = fold(
    [
        *PAYS.paid_in_full("requester", notes=2),
        PAID.accepted("provider"),
        PAID.activated("provider"),
        PAID.note("provider", 1, 3 * NTX),
        PAID.disputed("provider", 1, accepted=2 * NTX, reason="idle half the time"),
        PAID.voucher("provider", 1, 2 * NTX, note_seq=1),
        PAID.voucher_rejected("lowers the total"),
        PAID.activated("requester"),  # an anomaly: the wrong role
    ]
)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["xyz123", "abc", "a" * 33, "12345g", "-"])
@pytest.mark.parametrize(
    ("group", "command"), [(contracts, "show"), (contracts, "terminate"), (payments, "show")]
)
def test_an_id_that_is_not_hex_is_refused_naming_the_argument(
    tmp_path: Path, group: click.Group, command: str, bad: str
) -> None:
    result = run(group, tmp_path, command, "--", bad)
    assert result.exit_code == 2, result.output
    assert "Invalid value for 'CONTRACT'" in result.output
    assert "is not a contract id: give its first 6 to 32 hex digits" in result.output


@pytest.mark.parametrize(
    ("group", "args", "option"),
    [
        (contracts, ["list", "--role", "payer"], "'--role'"),
        (contracts, ["list", "--status", "paid"], "'--status'"),
        (payments, ["list", "--role", "owner"], "'--role'"),
        (payments, ["export", "--format", "xml"], "'--format'"),
        (payments, ["export", "--status", "late"], "'--status'"),
        (contracts, ["list", "-o", "html"], "'--output' / '-o'"),
    ],
)
def test_an_unknown_choice_is_refused_naming_the_option(
    tmp_path: Path, group: click.Group, args: list[str], option: str
) -> None:
    result = run(group, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output


def test_a_filter_past_its_bounds_is_refused_naming_the_option(tmp_path: Path) -> None:
    result = run(contracts, tmp_path, "list", "--deployment", "d" * 65)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--deployment'" in result.output
    assert "length <= 64" in result.output
    result = run(payments, tmp_path, "export", "--counterparty", "did:" + "z" * 300)
    assert "Invalid value for '--counterparty'" in result.output


def test_a_reason_too_long_is_refused(tmp_path: Path) -> None:
    result = run(contracts, tmp_path, "terminate", "abcdef", "--reason", "x" * 1025)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--reason': is 1025 characters long" in result.output


@pytest.mark.parametrize(
    ("group", "args"),
    [
        (contracts, ["list", "--role", "provider"]),
        (contracts, ["show", "ABCDEF12"]),  # upper-case hex is taken
        (payments, ["export", "--format", "jsonl"]),
    ],
)
def test_without_a_running_node_the_answer_is_one_clear_line(
    tmp_path: Path, group: click.Group, args: list[str]
) -> None:
    result = run(group, tmp_path, *args)
    assert result.exit_code == 1, result.output
    assert "no running node recorded in" in result.output
    assert "Traceback" not in result.output


# -- rendering -----------------------------------------------------------------------------------
def test_the_contract_list_table_shows_the_columns_that_fit() -> None:
    rows = [contract_summary(r) for r in select(STATE, ContractQuery())]
    lines = render_table(contract_rows(rows)).splitlines()
    assert lines[0].split() == [
        "ID",
        "ROLE",
        "COUNTERPARTY",
        "DEPLOYMENT",
        "STATUS",
        "CURRENCY",
        "NOTED",
        "PAID",
        "OWED",
        "BUDGET",
    ]
    assert lines[1].split() == [
        PAID.id[:12],
        "provider",
        ".." + PAID.requester.did[-10:],
        "batch/node-1",
        "disputed",
        "EUR",
        "3.000000",
        "2.000000",
        "0.000000",
        "-",
    ]
    assert lines[2].split()[3:] == [
        "web/frontend",
        "settled",
        "NTX",
        "2.000000",
        "2.000000",
        "0.000000",
        "10.000000",
    ]


def test_a_contract_renders_its_terms_signatures_amounts_and_timeline() -> None:
    text = render_contract(contract_detail(STATE.contracts[PAID.id]))
    facts = dict(
        re.split(r"\s{2,}", line, maxsplit=1) for line in text.split("\n\n")[0].splitlines()
    )
    assert facts["contract"] == PAID.id
    assert facts["status"] == "disputed"
    assert facts["rates"] == "cpu 1.5, wall 0.5 (EUR per hour; per_job per run)"
    assert facts["budget"] == "-"
    assert facts["interval"] == "note every 30s, grace 90s, notice 5s"
    assert facts["signed by"] == "requester, provider"
    assert facts["proposed"] == "2023-11-14T22:13:20.000Z"
    assert facts["ended"] == "-"
    assert (facts["noted"], facts["paid"], facts["disputed"]) == (
        "3.000000",
        "2.000000",
        "1.000000",
    )
    assert facts["rejected"] == "1 (last: voucher: lowers the total)"
    assert facts["anomalies"].startswith("1 (last: an event as requester")
    timeline = text.split("\n\n")[1].splitlines()
    assert timeline[0].split() == ["AT", "KIND", "SEQ", "AMOUNT", "DELTA", "DETAIL"]
    assert [line.split()[1] for line in timeline[1:]] == [
        "debit-note",
        "dispute",
        "voucher",
        "rejection",
    ]


def test_a_refused_proposal_renders_without_terms() -> None:
    story = Story()
    record = fold([story.refused("provider")]).contracts[story.id]
    text = render_contract(contract_detail(record))
    assert "none kept (this node refused the proposal)" in text
    assert "signed by     nobody" in text
    assert "refused by us: price under my floor" in text


def test_payments_render_as_node_counterparty_and_contract_tables() -> None:
    text = render_payments(payments_summary(STATE, ContractQuery()))
    node, parties, rows = text.split("\n\n")
    assert node.splitlines()[0] == "this node:"
    node_rows = {line.split()[0]: line.split() for line in node.splitlines()[2:]}
    assert node_rows["EUR"][1:4] == ["1", "2.000000", "0.000000"]  # contracts, earned, owed
    assert node_rows["NTX"][6:8] == ["2.000000", "0.000000"]  # spent, owed by us
    assert parties.splitlines()[0] == "by counterparty:"
    assert len(parties.splitlines()) == 4  # title, header, two counterparties
    assert rows.splitlines()[1].split()[:2] == ["ID", "ROLE"]
    assert render_payments(payments_summary(STATE, ContractQuery(status="terminated"))) == (
        "no contracts, so no payments"
    )


def test_a_payment_timeline_renders_from_either_answer() -> None:
    record = STATE.contracts[PAYS.id]
    alone = render_payment_timeline(payment_timeline(record))
    detailed = render_payment_timeline(payment_detail(record))
    assert detailed.startswith(f"contract {PAYS.id} (requester, settled): noted 2.000000")
    assert detailed.endswith(alone)
    kinds = [line.split()[1] for line in alone.splitlines()[1:]]
    assert kinds == ["debit-note", "voucher", "debit-note", "voucher", "settlement"]
    assert render_payment_timeline([]) == "no payments yet"
