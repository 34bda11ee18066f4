"""Payments audit: records/s of `nunet audit` over a requester's and a provider's logs holding
about a million payment events together, vs plain chain verification of the same two logs.

The logs are real SQLite event logs written by tests/contracts/flows.py: contracts of 50 debit
notes each (every 10th with a dispute, every 7th terminated by the requester, every 13th ended
by an overdue note), each party's events in its own log, checkpointed by its node key every
few thousand records. Generating them signs half a million documents and takes a while, so it
runs once, in a child process, into $TMPDIR/nunet-bench-payments-audit-<version>-<events>/,
and later runs reuse the files (<version> covers this file's and flows.py's source; delete the
directory to regenerate).

Ours: `audit_logs` — both chains and checkpoints, every signed document (each distinct one
verified once, though both logs hold it), per-contract order, cross-log agreement, coverage.
Peer: `verify_log` on each log, which is what `nunet events verify` does: chains and
checkpoints only. Both read the same files in the same run; the figure is records read per
second (both logs' records over the wall time). The audit's extra cost is mostly Ed25519
verification (about 55 µs per document here), so expect a ratio well under 1; the peak RSS of
this process (which only reads and audits) is printed to show the audit's state stays small.

Run: python bench/payments_audit.py [--events N]   (default 1,000,000)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import report

from nunet.contracts.audit import AuditCounts, audit_logs
from nunet.eventlog import open_sqlite_log, verify_log

ROOT = Path(__file__).resolve().parents[1]

NOTES = 50
FLUSH_EVERY = 20  # contracts per batch of appends (and checkpoint)
FLOWS = ROOT / "tests" / "contracts" / "flows.py"


def version() -> str:
    """What the generated logs depend on: how they are generated and flows.py."""
    sources = inspect.getsource(generate).encode() + FLOWS.read_bytes()
    sources += f"{NOTES} {FLUSH_EVERY}".encode()
    return hashlib.sha256(sources).hexdigest()[:12]


def cache_dir(events: int) -> Path:
    return Path(tempfile.gettempdir()) / f"nunet-bench-payments-audit-{version()}-{events}"


async def generate(directory: Path, events: int) -> None:
    """Contracts until the two logs hold about `events` payment events."""
    from tests.contracts.flows import End, Flows, Plan

    flows = await Flows.open(directory)
    written = n = 0
    while written < events:
        n += 1
        end: End = "terminate" if n % 7 == 0 else "overdue" if n % 13 == 0 else "settle"
        dispute = NOTES // 2 if n % 10 == 0 else None
        await flows.run(Plan(notes=NOTES, dispute=dispute, end=end), flush=False)
        written = (await flows.requester.log.head())[0] + (await flows.provider.log.head())[0]
        written += len(flows.requester.queued) + len(flows.provider.queued)
        if n % FLUSH_EVERY == 0:
            await flows.flush()
    await flows.close()


def ensure_logs(events: int) -> tuple[Path, Path, bool]:
    """The two log files, generated in a child process unless cached; whether they were."""
    directory = cache_dir(events)
    done = directory / "complete"
    cached = done.exists()
    if not cached:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("requester.db", "provider.db"):
            (directory / name).unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--generate-into", str(directory), "--events", str(events)],
            check=True,
        )
        print(f"  generated the logs in {time.perf_counter() - started:.0f} s into {directory}")
        done.write_text("ok\n")
    return directory / "requester.db", directory / "provider.db", cached


async def chain_only(paths: tuple[Path, Path]) -> tuple[int, float]:
    """What `nunet events verify` does, to each log: (records, seconds)."""
    records = 0
    started = time.perf_counter()
    for path in paths:
        log = await open_sqlite_log(path, read_only=True)
        try:
            result = await verify_log(log)
        finally:
            await log.close()
        assert result.ok, result.problems[:3]
        records += result.records
    return records, time.perf_counter() - started


async def audited(paths: tuple[Path, Path]) -> tuple[int, int, AuditCounts, float]:
    """The audit of both logs: (records, payment events, its counts, seconds)."""
    a = await open_sqlite_log(paths[0], read_only=True)
    b = await open_sqlite_log(paths[1], read_only=True)
    try:
        started = time.perf_counter()
        result = await audit_logs(a, b)
        seconds = time.perf_counter() - started
    finally:
        await a.close()
        await b.close()
    assert result.ok, [str(f) for f in result.findings[:3]]
    records = sum(log.records for log in result.logs)
    payments = sum(log.payment_events for log in result.logs)
    return records, payments, result.counts, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="payment events, both logs")
    parser.add_argument("--generate-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.events < 1_000:
        parser.error("--events must be at least 1000")
    if args.generate_into is not None:
        asyncio.run(generate(args.generate_into, args.events))
        return
    print(f"payments_audit: about {args.events:,} payment events in two logs, pid {os.getpid()}")
    requester, provider, cached = ensure_logs(args.events)
    if cached:
        print(f"  reusing the logs in {requester.parent}")
    paths = (requester, provider)
    chain_records, chain_seconds = asyncio.run(chain_only(paths))
    records, payments, counts, seconds = asyncio.run(audited(paths))
    assert records == chain_records
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  chain only: {chain_records:,} records in {chain_seconds:.1f} s; audit: {records:,} "
        f"records ({payments:,} payment events, {counts.contracts:,} contracts, "
        f"{counts.signatures_verified:,} signatures verified for {counts.documents:,} documents) "
        f"in {seconds:.1f} s ({payments / seconds:,.0f} payment events/s); at most "
        f"{counts.waiting_peak:,} waited for the other log; peak RSS {peak:,.0f} MiB"
    )
    report(
        "payments_audit",
        records / seconds,
        "records/s",
        "chain-only verify_log of the same two logs",
        chain_records / chain_seconds,
    )


if __name__ == "__main__":
    main()
