"""`nunet audit LOG_A LOG_B`: are the contracts between two nodes consistent in both their logs?

Both files are event logs (a node's, or a copy or replica of one), opened read-only. Exit 0
when the audit finds nothing wrong, 1 when it does (each finding printed), 2 when it cannot
audit: a missing file, a file that is not an event log, both logs written by the same node.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
import msgspec

from nunet.cli.context import OUTPUT_FORMATS, CliContext, emit, render_table
from nunet.contracts.amount import format_amount
from nunet.contracts.audit import AuditReport, ContractSummary, audit_logs, log_owner
from nunet.eventlog import EventLogError, SQLiteEventLog, TrustedHead, open_sqlite_log

NAMES = ("A", "B")


@click.command("audit")
@click.argument("log_a", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("log_b", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--trusted-a",
    metavar="SEQ:HASHHEX",
    default=None,
    help="A head of LOG_A known from elsewhere (a replica, an earlier audit): catches a cut tail.",
)
@click.option("--trusted-b", metavar="SEQ:HASHHEX", default=None, help="The same, for LOG_B.")
@click.option(
    "--output",
    "-o",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="Output format (overrides the global --output).",
)
@click.pass_context
def audit(
    click_ctx: click.Context,
    log_a: Path,
    log_b: Path,
    trusted_a: str | None,
    trusted_b: str | None,
    output: str | None,
) -> None:
    """Audit the contracts between the owners of LOG_A and LOG_B, from both their logs.

    Checks each log's chain and signed checkpoints, every signed contract, debit note,
    voucher, dispute and termination, the order of each contract's payments, that both logs
    hold the same documents and settlements, and that every debit note was paid or disputed.
    Exit 0 when consistent, 1 naming each finding, 2 when the logs cannot be audited.
    """
    parent = click_ctx.find_object(CliContext)
    fmt = output or (parent.output if parent is not None else "table")
    trusted = (_trusted(trusted_a, "--trusted-a"), _trusted(trusted_b, "--trusted-b"))
    report = asyncio.run(_audit((log_a, log_b), trusted))
    _print(report, (log_a, log_b), fmt, parent)
    if not report.ok:
        first = report.findings[0]
        click.echo(
            f"audit failed: {report.findings_total} finding(s); first: {first}",
            err=True,
        )
        raise SystemExit(1)


def _trusted(text: str | None, option: str) -> TrustedHead | None:
    if text is None:
        return None
    try:
        return TrustedHead.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


async def _audit(
    paths: tuple[Path, Path], trusted: tuple[TrustedHead | None, TrustedHead | None]
) -> AuditReport:
    logs: list[SQLiteEventLog] = []
    try:
        for path in paths:
            logs.append(await _open(path))
        owners = (await log_owner(logs[0]), await log_owner(logs[1]))
        if owners[0] is not None and owners[0] == owners[1]:
            raise click.UsageError(
                f"both logs are written by {owners[0]}: give the logs of the two parties "
                "(the requester's and the provider's)"
            )
        if owners[0] is None and paths[0].resolve() == paths[1].resolve():
            raise click.UsageError(f"{paths[0]} is given twice: give the logs of the two parties")
        return await audit_logs(logs[0], logs[1], names=NAMES, trusted=trusted, owners=owners)
    finally:
        for log in logs:
            await log.close()


async def _open(path: Path) -> SQLiteEventLog:
    try:
        return await open_sqlite_log(path, read_only=True)
    except EventLogError as exc:
        raise click.UsageError(f"{path} cannot be audited: {exc}") from None


def _print(
    report: AuditReport, paths: tuple[Path, Path], fmt: str, parent: CliContext | None
) -> None:
    if fmt == "table":
        click.echo(render(report, paths))
        return
    home = parent.home if parent is not None else Path()
    emit(CliContext(home, None, fmt), report_view(report, paths))


def report_view(report: AuditReport, paths: tuple[Path, Path]) -> dict[str, Any]:
    """The report as plain data (JSON, YAML), each log with the file it was read from."""
    logs = [
        {"path": str(path), **msgspec.to_builtins(log)}
        for path, log in zip(paths, report.logs, strict=True)
    ]
    return {
        "ok": report.ok,
        "logs": logs,
        "contracts": msgspec.to_builtins(report.contracts),
        "counts": msgspec.to_builtins(report.counts),
        "findings": msgspec.to_builtins(report.findings),
        "findings_total": report.findings_total,
    }


def render(report: AuditReport, paths: tuple[Path, Path]) -> str:
    """The report for people: the logs, one line per contract, the counts, the findings."""
    counts = report.counts
    verdict = "consistent: no findings"
    if not report.ok:
        verdict = f"{report.findings_total} finding(s)"
        if report.findings_total > len(report.findings):
            verdict += f", the first {len(report.findings)} listed"
    lines = [f"audit: {verdict}", ""]
    for path, log in zip(paths, report.logs, strict=True):
        lines.append(
            f"log {log.name}  {path}  owner {log.owner or '(unknown)'}  {log.records} records "
            f"({log.payment_events} payment events), head {log.head_seq}, "
            f"{log.checkpoints} checkpoints (last vouches for {log.last_checkpoint_seq})"
        )
    if report.contracts:
        lines += ["", render_table([_contract_row(c) for c in report.contracts])]
    lines += [
        "",
        f"contracts {counts.contracts} between the two (+{counts.other_contracts} with others), "
        f"{counts.settled} settled, {counts.terminated} terminated; {counts.notes} debit notes, "
        f"{counts.vouchers} vouchers, {counts.disputes} disputes; {counts.signatures_verified} "
        f"signatures verified for {counts.documents} documents read; {counts.in_flight} in flight",
    ]
    if report.findings:
        lines += ["", "findings:"]
        lines += [f"  {finding}" for finding in report.findings]
    return "\n".join(lines)


def _contract_row(contract: ContractSummary) -> dict[str, str]:
    currency = contract.currency

    def amount(value: int | None) -> str:
        return "-" if value is None else format_amount(value, currency)

    row = {
        "contract": contract.contract_id[:12],
        "requester": _short(contract.requester),
        "provider": _short(contract.provider),
    }
    row.update({name: status or "-" for name, status in contract.status.items()})
    row.update(
        {
            "notes": str(contract.notes),
            "noted": amount(contract.noted),
            "paid": amount(contract.paid),
            "settled": amount(contract.settled),
            "outstanding": amount(contract.outstanding),
        }
    )
    return row


def _short(did: str) -> str:
    return "…" + did[-8:] if len(did) > 9 else did
