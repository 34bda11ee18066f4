"""The two-log audit against real logs of whole contracts (tests/contracts/flows.py), honest and
then rewritten, on copies, in each way a cheating party might: each test names the finding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.contracts.audit import (
    LAG,
    AuditedLog,
    AuditReport,
    Finding,
    PaymentAudit,
    audit_logs,
)
from nunet.contracts.documents import (
    DebitNote,
    PaymentVoucher,
    Signed,
    sign,
    signed_bytes,
)
from nunet.contracts.events import (
    ContractActivated,
    ContractDisputed,
    ContractProposed,
    ContractResolved,
    ContractSettled,
    ContractTerminated,
    DebitNoteIssued,
    DebitNoteReceived,
    VoucherAccepted,
)
from nunet.eventlog import Event, EventRecord, LogCheckpoint, TrustedHead, open_sqlite_log
from nunet.eventlog.chain import ZERO_HASH, record_hash, seal
from nunet.eventlog.event import EventEncoder
from nunet.eventlog.events import checkpoint_message
from tests.contracts.flows import (
    MALLORY_KEY,
    PROVIDER_KEY,
    REQUESTER_KEY,
    Flows,
    Outcome,
    Plan,
    build_sync,
    copy_log,
    decode,
    events_of,
    read_records,
    rewrite,
    tamper,
    with_payload,
)

BUDGET = 50_000
PLANS = [
    Plan(notes=3),  # 0: settled
    Plan(notes=5, dispute=2),  # 1: a dispute, resolved by the next note paid in full
    Plan(notes=4, dispute=4),  # 2: the final note disputed, settled with what was paid
    Plan(notes=3, end="terminate"),  # 3: the requester ends it
    Plan(notes=3, end="overdue"),  # 4: the last note never paid: outstanding debt
    Plan(notes=3, budget=BUDGET),  # 5: within its budget
    Plan(notes=2),  # 6: settled last, so the requester's log ends with its settlement
]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Outcome]]:
    directory = tmp_path_factory.mktemp("honest")
    return directory, build_sync(directory, PLANS)


@pytest.fixture
def logs(honest: tuple[Path, list[Outcome]], tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the honest requester's and provider's logs, to tamper with."""
    directory, _ = honest
    return (
        copy_log(directory / "requester.db", tmp_path / "requester.db"),
        copy_log(directory / "provider.db", tmp_path / "provider.db"),
    )


@pytest.fixture
def outcomes(honest: tuple[Path, list[Outcome]]) -> list[Outcome]:
    return honest[1]


def audit(
    requester: Path,
    provider: Path,
    *,
    trusted: tuple[TrustedHead | None, TrustedHead | None] = (None, None),
    lag: int = LAG,
    owners: tuple[str | None, str | None] | None = None,
) -> AuditReport:
    async def run() -> AuditReport:
        a = await open_sqlite_log(requester, read_only=True)
        b = await open_sqlite_log(provider, read_only=True)
        names = ("requester", "provider")
        try:
            return await audit_logs(a, b, names=names, trusted=trusted, lag=lag, owners=owners)
        finally:
            await a.close()
            await b.close()

    return asyncio.run(run())


def only(report: AuditReport, check: str, *, log: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.check == check and (log is None or f.log == log)]


def checks(report: AuditReport) -> set[str]:
    return {f.check for f in report.findings}


def besides_references(report: AuditReport) -> list[Finding]:
    """The findings other than settlements naming a redemption record the log no longer holds
    as it was: a local redemption's reference is its record's seq and hash, so re-chaining the
    provider's log changes every later one (and the audit says so)."""
    return [
        f
        for f in report.findings
        if not (f.check == "settlement" and "but the ledger redeemed" in f.message)
    ]


def voucher_events(path: Path, contract_id: str) -> list[tuple[int, VoucherAccepted]]:
    records = read_records(path)
    return [(i, e) for i, e in events_of(records, VoucherAccepted) if e.contract_id == contract_id]


def replace_voucher(
    path: Path, contract_id: str, index: int, voucher: Signed, *, resign: bool = True
) -> VoucherAccepted:
    """The provider's log with its `index`-th accepted voucher of the contract replaced by
    `voucher` (event fields matching it), re-chained and re-signed by the provider."""
    position, event = voucher_events(path, contract_id)[index]
    body = msgspec.msgpack.decode(voucher.body, type=PaymentVoucher)
    changed = msgspec.structs.replace(
        event, seq=body.seq, amount=body.amount, note_seq=body.note_seq, voucher=voucher
    )

    def edit(records: list[EventRecord]) -> list[EventRecord]:
        records[position] = with_payload(records[position], changed)
        return records

    rewrite(path, edit, resign=PROVIDER_KEY if resign else None)
    return changed


# -- honest logs -------------------------------------------------------------------------------
def test_honest_logs_audit_clean_with_the_totals_the_contracts_reached(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    report = audit(*logs)
    assert report.ok, [str(f) for f in report.findings]
    assert [log.owner for log in report.logs] == [REQUESTER_KEY.did, PROVIDER_KEY.did]
    assert all(log.checkpoints > 0 for log in report.logs)
    rows = {row.contract_id: row for row in report.contracts}
    assert list(rows) == [o.contract_id for o in outcomes]
    for outcome in outcomes:
        row = rows[outcome.contract_id]
        assert row.status == {"requester": outcome.status, "provider": outcome.status}
        assert (row.noted, row.paid, row.settled, row.outstanding) == (
            outcome.noted,
            outcome.paid,
            outcome.settled,
            outcome.outstanding,
        )
        assert (row.notes, row.vouchers, row.disputes) == (
            len(outcome.notes),
            len(outcome.vouchers),
            len(outcome.disputed),
        )
    counts = report.counts
    assert counts.contracts == len(PLANS)
    assert counts.other_contracts == 0
    assert counts.notes == sum(len(o.notes) for o in outcomes)
    assert counts.vouchers == sum(len(o.vouchers) for o in outcomes)
    assert counts.disputes == 2
    assert (counts.settled, counts.terminated) == (5, 2)
    assert counts.settled_amount == sum(o.settled or 0 for o in outcomes)
    assert counts.outstanding == outcomes[4].outstanding > 0
    assert counts.paid == sum(o.paid for o in outcomes)
    assert counts.in_flight == counts.awaiting == 0


def test_each_distinct_document_is_verified_once_though_both_logs_hold_it(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    counts = audit(*logs).counts
    terminations = 2
    distinct = 2 * len(PLANS) + counts.notes + counts.vouchers + counts.disputes + terminations
    assert counts.signatures_verified == distinct
    assert counts.documents > 1.8 * distinct  # nearly every one of them is in both logs


def test_read_side_by_side_little_waits_for_the_other_log(logs: tuple[Path, Path]) -> None:
    """Each log takes a contract's events in one batch (one timestamp), so at most about one
    contract's documents wait for the other log."""
    report = audit(*logs)
    largest = max(2 * plan.notes + 3 for plan in PLANS)
    assert 0 < report.counts.waiting_peak <= largest


def test_with_the_nodes_clocks_an_hour_apart_what_waits_stays_within_the_lag(
    logs: tuple[Path, Path],
) -> None:
    """The provider's clock runs an hour ahead: by timestamps alone the whole requester's log
    would be read first, every document of it waiting for the provider's."""
    _, provider = logs
    hour = 3600 * 10**9
    rewrite(
        provider,
        lambda records: [msgspec.structs.replace(r, timestamp=r.timestamp + hour) for r in records],
        resign=PROVIDER_KEY,
    )
    unbounded = audit(*logs, lag=10**9)
    bounded = audit(*logs, lag=8)
    assert besides_references(unbounded) == besides_references(bounded) == []
    assert unbounded.counts.waiting_peak > 50
    # lag + 1 before the reader turns, plus what never matches (the note the overdue
    # contract's requester never received) waiting on the other side
    assert bounded.counts.waiting_peak <= 8 + 4
    assert msgspec.to_builtins(bounded.contracts) == msgspec.to_builtins(unbounded.contracts)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.builds(
        Plan,
        notes=st.integers(1, 5),
        dispute=st.none() | st.integers(1, 5),
        end=st.sampled_from(["settle", "terminate", "overdue", "running"]),
    )
)
def test_any_honest_contract_audits_clean(
    tmp_path_factory: pytest.TempPathFactory, plan: Plan
) -> None:
    if plan.dispute is not None and (plan.dispute > plan.notes or plan.end == "overdue"):
        plan = Plan(notes=plan.notes, end=plan.end)
    directory = tmp_path_factory.mktemp("any")
    [outcome] = build_sync(directory, [plan])
    report = audit(directory / "requester.db", directory / "provider.db")
    assert report.ok, [str(f) for f in report.findings]
    [row] = report.contracts
    assert (row.noted, row.paid, row.settled, row.outstanding) == (
        outcome.noted,
        outcome.paid,
        outcome.settled,
        outcome.outstanding,
    )


# -- one test per way of cheating --------------------------------------------------------------
def test_a_flipped_payload_byte_breaks_the_chain(logs: tuple[Path, Path]) -> None:
    _, provider = logs
    position, _ = voucher_events(provider, read_contract(provider, 0))[0]
    record = read_records(provider)[position]
    flipped = bytearray(record.payload)
    flipped[-10] ^= 0x01
    tamper(provider, "UPDATE events SET payload = ? WHERE seq = ?", bytes(flipped), record.seq)
    report = audit(*logs)
    [chain] = only(report, "chain")
    assert (chain.log, chain.seq) == ("provider", record.seq)
    assert "stored hash does not match" in chain.message


def test_a_voucher_amount_edited_in_the_event_fields_differs_from_the_signed_voucher(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    cid = outcomes[0].contract_id
    position, event = voucher_events(provider, cid)[1]

    def edit(records: list[EventRecord]) -> list[EventRecord]:
        bigger = msgspec.structs.replace(event, amount=event.amount + 1_000)
        records[position] = with_payload(records[position], bigger)
        return records

    rewrite(provider, edit, resign=PROVIDER_KEY)  # the owner re-chains and re-signs
    report = audit(*logs)
    assert len(report.findings) > 1  # the settlements name the redemptions as they were
    [finding] = besides_references(report)
    assert (finding.log, finding.seq, finding.contract, finding.check) == (
        "provider",
        position + 1,
        cid,
        "fields",
    )
    assert f"amount is {event.amount + 1_000}, but the signed voucher says {event.amount}" in (
        finding.message
    )


def test_a_voucher_amount_edited_in_the_document_breaks_its_signature(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    cid = outcomes[0].contract_id
    _, event = voucher_events(provider, cid)[1]
    voucher = msgspec.msgpack.decode(event.voucher.body, type=PaymentVoucher)
    body = msgspec.msgpack.encode(msgspec.structs.replace(voucher, amount=voucher.amount * 2))
    replace_voucher(provider, cid, 1, msgspec.structs.replace(event.voucher, body=body))
    report = audit(*logs)
    [document] = only(report, "document")
    assert (document.log, document.contract) == ("provider", cid)
    assert (
        document.message == f"voucher signature: signature does not verify for {REQUESTER_KEY.did}"
    )
    assert "chain" not in checks(report)


def test_a_deleted_voucher_is_missing_from_one_log_and_its_checkpoint_no_longer_matches(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    cid = outcomes[0].contract_id
    position, _ = voucher_events(provider, cid)[1]
    rewrite(provider, lambda records: records[:position] + records[position + 1 :])
    report = audit(*logs)
    [missing] = only(report, "cross-log")
    assert (missing.log, missing.contract) == ("requester", cid)
    assert (
        missing.message == "voucher 2 is missing from log provider, where the contract is settled"
    )
    # Every later record moved up one seq: each checkpoint's claim now names another record.
    chain = only(report, "chain", log="provider")
    assert chain
    assert all("checkpoint vouches for seq" in f.message for f in chain)


def test_a_dispute_deleted_from_both_logs_leaves_a_note_neither_paid_nor_disputed(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    requester, provider = logs
    outcome = outcomes[2]  # the final note was disputed
    for path, key in ((requester, REQUESTER_KEY), (provider, PROVIDER_KEY)):
        rewrite(
            path,
            lambda records: [
                r
                for r in records
                if not (
                    r.type == ContractDisputed.TYPE
                    and decode(r, ContractDisputed).contract_id == outcome.contract_id
                )
            ],
            resign=key,
        )
    report = audit(*logs)
    [finding] = besides_references(report)
    assert (finding.log, finding.contract, finding.check) == (
        "provider",
        outcome.contract_id,
        "coverage",
    )
    assert finding.message == (
        f"debit note 4 for {outcome.notes[3]} was neither covered by a voucher (the provider "
        f"holds vouchers up to {outcome.paid}) nor disputed"
    )


def test_a_settled_amount_changed_in_one_log_disagrees_with_the_other_and_the_vouchers(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    requester, _ = logs
    outcome = outcomes[0]

    def edit(records: list[EventRecord]) -> list[EventRecord]:
        for i, event in events_of(records, ContractSettled):
            if event.contract_id == outcome.contract_id:
                records[i] = with_payload(
                    records[i], msgspec.structs.replace(event, amount=event.amount + 1)
                )
        return records

    rewrite(requester, edit, resign=REQUESTER_KEY)
    report = audit(*logs)
    assert checks(report) == {"settlement", "cross-log"}
    [settlement] = only(report, "settlement")
    assert settlement.log == "requester"
    assert settlement.message == (
        f"settled {outcome.settled + 1} by voucher 3, but this log's last voucher is seq 3 for "  # type: ignore[operator]
        f"{outcome.settled}"
    )
    [cross] = only(report, "cross-log")
    assert (cross.log, cross.contract) == ("provider", outcome.contract_id)
    assert cross.message.startswith(
        "the settlement (amount, voucher, ledger, reference) differs from what log requester "
    )


def test_reordered_vouchers_break_monotonicity(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    cid = outcomes[0].contract_id
    (first, one), (second, two) = voucher_events(provider, cid)[:2]

    def edit(records: list[EventRecord]) -> list[EventRecord]:
        records[first] = with_payload(records[first], two)
        records[second] = with_payload(records[second], one)
        return records

    rewrite(provider, edit, resign=PROVIDER_KEY)
    report = audit(*logs)
    sequence = [f.message for f in only(report, "sequence")]
    assert "voucher seq 1 after seq 2: seqs must grow" in sequence
    less = f"voucher 1 promises {one.amount}, less than the {two.amount} already promised"
    assert f"{less} (amounts are cumulative)" in sequence
    assert {"document", "fields", "cross-log", "chain"}.isdisjoint(checks(report))


def test_a_voucher_over_the_budget_is_a_breach_though_honestly_signed(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    outcome = outcomes[5]
    assert outcome.paid <= BUDGET
    _, last = voucher_events(provider, outcome.contract_id)[-1]
    voucher = msgspec.msgpack.decode(last.voucher.body, type=PaymentVoucher)
    greedy = sign(msgspec.structs.replace(voucher, amount=BUDGET + 1), REQUESTER_KEY)
    replace_voucher(provider, outcome.contract_id, -1, greedy)
    report = audit(*logs)
    [budget] = only(report, "budget")
    assert (budget.log, budget.contract) == ("provider", outcome.contract_id)
    assert (
        budget.message == f"voucher 3 promises {BUDGET + 1}, over the contract's budget of {BUDGET}"
    )
    assert "document" not in checks(report)  # the requester's own signature


@pytest.mark.parametrize("signer", ["claims-the-requester", "as-itself"])
def test_a_voucher_signed_by_a_third_key_is_forged(
    logs: tuple[Path, Path], outcomes: list[Outcome], signer: str
) -> None:
    _, provider = logs
    cid = outcomes[0].contract_id
    _, last = voucher_events(provider, cid)[-1]
    voucher = msgspec.msgpack.decode(last.voucher.body, type=PaymentVoucher)
    body = msgspec.msgpack.encode(msgspec.structs.replace(voucher, amount=voucher.amount * 10))
    forged = Signed(
        kind="voucher",
        body=body,
        signer=REQUESTER_KEY.did if signer == "claims-the-requester" else MALLORY_KEY.did,
        signature=MALLORY_KEY.sign(signed_bytes("voucher", body)),
    )
    replace_voucher(provider, cid, -1, forged)
    [document] = only(audit(*logs), "document")
    assert (document.log, document.contract) == ("provider", cid)
    if signer == "claims-the-requester":
        assert (
            document.message
            == f"voucher signature: signature does not verify for {REQUESTER_KEY.did}"
        )
    else:
        assert document.message == (
            f"voucher for contract {cid} is signed by {MALLORY_KEY.did}, but only "
            f"{REQUESTER_KEY.did} issues them"
        )


def test_a_voucher_from_another_contract_spliced_in_is_bound_to_that_contract(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    _, provider = logs
    donor, victim = outcomes[0].contract_id, outcomes[6].contract_id
    _, spliced = voucher_events(provider, donor)[0]
    replace_voucher(provider, victim, 0, spliced.voucher)
    report = audit(*logs)
    [document] = only(report, "document")
    assert (document.log, document.contract) == ("provider", victim)
    assert document.message == f"voucher is for contract {donor}, not {victim}"


def test_a_skipped_debit_note_seq_is_out_of_sequence(
    logs: tuple[Path, Path], outcomes: list[Outcome]
) -> None:
    """The provider numbers its third note 4 (signed by its own key) and both logs hold it."""
    outcome = outcomes[0]

    def skip(records: list[EventRecord]) -> list[EventRecord]:
        notes: list[tuple[int, DebitNoteIssued | DebitNoteReceived]] = [
            *events_of(records, DebitNoteIssued),
            *events_of(records, DebitNoteReceived),
        ]
        for i, event in notes:
            if event.contract_id == outcome.contract_id and event.seq == 3:
                note = msgspec.msgpack.decode(event.note.body, type=DebitNote)
                renumbered = sign(msgspec.structs.replace(note, seq=4), PROVIDER_KEY)
                moved = msgspec.structs.replace(event, seq=4, note=renumbered)
                records[i] = with_payload(records[i], moved)
        return records

    for path, key in zip(logs, (REQUESTER_KEY, PROVIDER_KEY), strict=True):
        rewrite(path, skip, resign=key)
    report = audit(*logs)
    messages = {(f.log, f.message) for f in besides_references(report)}
    expected = "debit note seq 4 where seq 3 comes next: note 3 is missing"
    assert messages == {("requester", expected), ("provider", expected)}


def test_a_cut_tail_passes_unless_a_trusted_head_says_how_far_the_log_went(
    logs: tuple[Path, Path],
) -> None:
    requester, _ = logs
    records = read_records(requester)
    head = records[-1]
    assert records[-2].type == ContractSettled.TYPE  # the last contract's settlement
    tamper(requester, "DELETE FROM events WHERE seq >= ?", records[-2].seq)
    report = audit(*logs)
    assert report.ok, [str(f) for f in report.findings]
    assert report.counts.in_flight == 1  # the settlement the requester has yet to hear of
    trusted = audit(*logs, trusted=(TrustedHead(head.seq, head.hash), None))
    [truncated] = trusted.findings
    assert (truncated.log, truncated.seq, truncated.check) == ("requester", head.seq, "chain")
    assert "the tail was truncated" in truncated.message


def test_a_log_whose_events_name_a_party_other_than_its_signer_is_not_that_party(
    logs: tuple[Path, Path],
) -> None:
    """Mallory re-signs the requester's log as her own: its events still say it is the
    requester's, which she is not."""
    requester, _ = logs
    rewrite(requester, lambda records: records, resign=MALLORY_KEY)
    report = audit(*logs)
    assert report.logs[0].owner == MALLORY_KEY.did
    owner = only(report, "owner", log="requester")
    assert len(owner) == len(PLANS)  # once per contract
    assert owner[0].message == (
        f"the log says it is the requester of the contract ({REQUESTER_KEY.did}), but its "
        f"checkpoints are signed by {MALLORY_KEY.did}"
    )


def test_owners_not_given_are_learnt_from_the_checkpoints_as_the_logs_are_read(
    logs: tuple[Path, Path],
) -> None:
    report = audit(*logs, owners=(None, None))
    assert report.ok, [str(f) for f in report.findings]
    assert [log.owner for log in report.logs] == [REQUESTER_KEY.did, PROVIDER_KEY.did]


def test_a_log_without_checkpoints_has_no_owner_anyone_vouches_for(logs: tuple[Path, Path]) -> None:
    requester, _ = logs
    rewrite(requester, lambda records: [r for r in records if r.type != LogCheckpoint.TYPE])
    report = audit(*logs)
    [finding] = report.findings
    assert (finding.log, finding.seq, finding.check) == ("requester", 0, "owner")
    assert finding.message == "no valid checkpoint signs this log: who wrote it cannot be known"
    assert report.logs[0].owner == REQUESTER_KEY.did  # as its contract events say


def test_a_checkpoint_signed_by_another_key_is_named(logs: tuple[Path, Path]) -> None:
    """Mallory signs the requester's last checkpoint (the log's last record, so the chain
    itself stays whole)."""
    requester, _ = logs
    records = read_records(requester)
    last, head = records[-1], records[-2]
    assert last.type == LogCheckpoint.TYPE
    checkpoint = decode(last, LogCheckpoint)
    message = checkpoint_message(last.version, head.seq, head.hash, checkpoint.signed_at)
    forged = msgspec.msgpack.encode(
        msgspec.structs.replace(
            checkpoint, signer=MALLORY_KEY.did, signature=MALLORY_KEY.sign(message)
        )
    )
    digest = record_hash(
        last.seq, last.timestamp, last.type, last.version, last.actor, forged, last.prev_hash
    )
    tamper(
        requester, "UPDATE events SET payload = ?, hash = ? WHERE seq = ?", forged, digest, last.seq
    )
    for owners in (None, (None, None)):  # given by the first checkpoint, or learnt from it
        report = audit(*logs, owners=owners)
        [finding] = report.findings
        assert (finding.log, finding.seq, finding.check) == ("requester", last.seq, "chain")
        assert finding.message.startswith(f"checkpoint signed by {MALLORY_KEY.did}, not by ")


def read_contract(path: Path, index: int) -> str:
    """The id of the `index`-th contract the provider's log holds vouchers of."""
    ids = dict.fromkeys(e.contract_id for _, e in events_of(read_records(path), VoucherAccepted))
    return list(ids)[index]


def test_a_damaged_page_is_named_and_the_rest_of_the_log_is_still_audited(tmp_path: Path) -> None:
    outcomes = build_sync(tmp_path, [Plan(notes=40)] * 5)
    provider = tmp_path / "provider.db"
    head = len(read_records(provider))
    data = bytearray(provider.read_bytes())
    page = len(data) // 4096 // 2  # an SQLite page in the middle of the file
    data[page * 4096 : (page + 1) * 4096] = b"\x55" * 4096
    provider.write_bytes(bytes(data))
    report = audit(tmp_path / "requester.db", provider)
    [damage] = [f for f in report.findings if "cannot be read from the store" in f.message]
    assert (damage.log, damage.check) == ("provider", "chain")
    damaged = {f.contract for f in report.findings} - {""}
    assert len(damaged) == 1  # only the contract whose records were on that page
    assert [row.status["provider"] for row in report.contracts] == ["settled"] * len(outcomes)
    assert report.logs[1].head_seq == head  # read to its end, past the damage
    assert report.logs[1].records < head


# -- the pure core, fed records sealed in memory ---------------------------------------------
def running_contract_events(tmp_path: Path) -> tuple[list[Event], list[Event]]:
    """The requester's and the provider's events of one running contract (3 notes, paid)."""

    async def play() -> tuple[list[Event], list[Event]]:
        flows = await Flows.open(tmp_path)
        await flows.run(Plan(notes=3, end="running"), flush=False)
        events = (list(flows.requester.queued), list(flows.provider.queued))
        await flows.close()
        return events

    return asyncio.run(play())


def fed(requester: list[Event], provider: list[Event]) -> AuditReport:
    """The core's report on the two event lists, each sealed into a chain of its own."""
    encoder = EventEncoder()
    core = PaymentAudit(
        AuditedLog("requester", REQUESTER_KEY.did), AuditedLog("provider", PROVIDER_KEY.did)
    )
    for side, events in enumerate((requester, provider)):
        encoded = [encoder.encode(event, "") for event in events]
        for record in seal(encoded, 0, ZERO_HASH, 1):
            core.feed(side, record)
    return core.finish()


def test_fed_in_memory_an_honest_running_contract_has_no_findings_but_its_unsigned_logs(
    tmp_path: Path,
) -> None:
    report = fed(*running_contract_events(tmp_path))
    assert {(f.log, f.check, f.seq) for f in report.findings} == {
        ("requester", "owner", 0),
        ("provider", "owner", 0),
    }
    [row] = report.contracts
    assert (row.status, row.notes, row.awaiting) == (
        {"requester": "active", "provider": "active"},
        3,
        0,
    )


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (
            lambda r: [r[0], r[3], r[1], r[2], *r[4:]],  # a note received before the acceptance
            "a debit note of a contract that is proposed: the provider has not accepted it",
        ),
        (
            lambda r: [
                *r,
                ContractTerminated(
                    contract_id=decode_first(r).contract_id,
                    role="requester",
                    by=REQUESTER_KEY.did,
                    reason="asked",
                    effective_at=0.0,
                ),
                ContractActivated(
                    contract_id=decode_first(r).contract_id, role="requester", at=1.0
                ),
            ],
            "a contract that is terminated cannot take activate; it is terminated, which is final",
        ),
        (
            lambda r: [
                *r,
                ContractResolved(
                    contract_id=decode_first(r).contract_id, role="requester", note_seq=3
                ),
            ],
            "a contract that is active cannot take resolve",
        ),
    ],
    ids=["note-before-acceptance", "activated-after-termination", "resolved-without-dispute"],
)
def test_steps_out_of_lifecycle_order_are_named(
    tmp_path: Path, move: Callable[[list[Event]], list[Event]], message: str
) -> None:
    requester, provider = running_contract_events(tmp_path)
    report = fed(move(requester), provider)
    lifecycle = [f for f in report.findings if f.check == "lifecycle"]
    assert [(f.log, f.message) for f in lifecycle] == [("requester", message)]


def decode_first(events: list[Event]) -> ContractProposed:
    first = events[0]
    assert isinstance(first, ContractProposed)
    return first
