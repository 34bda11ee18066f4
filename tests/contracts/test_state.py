"""The payment-state projection: every event folded, anomalies kept (never raised), and the
state a log replays to equals the one folded live and the one the projection store keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import contract_terms
from nunet.contracts.events import EVENTS, Role
from nunet.contracts.state import (
    KEEP_ANOMALIES,
    KEEP_REJECTIONS,
    LEDGER_REDEEMED,
    ContractRecord,
    PaymentState,
    PaymentStateProjection,
)
from nunet.eventlog import (
    Event,
    EventLog,
    ProjectionRunner,
    SQLiteProjectionStore,
    open_sqlite_log,
    replay,
)
from nunet.identity import KeyPair
from tests.contracts.payment_story import Story, sealed

NTX = 1_000_000


def fold(events: Sequence[Event], state: PaymentState | None = None) -> PaymentState:
    projection = PaymentStateProjection()
    state = projection.initial() if state is None else state
    for record in sealed(events):
        state = projection.evolve(state, record)
    return state


def only(state: PaymentState) -> ContractRecord:
    assert len(state.contracts) == 1
    return next(iter(state.contracts.values()))


def whats(record: ContractRecord) -> list[str]:
    return [a.what for a in record.anomalies]


# -- a contract's life ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["requester", "provider"])
def test_a_contract_paid_in_full_is_settled_with_its_notes_and_vouchers(role: Role) -> None:
    story = Story()
    life = story.paid_in_full(role, notes=3)
    record = only(fold(life))

    assert record.status == "settled"
    assert (record.contract_id, record.role) == (story.id, role)
    assert record.counterparty == story.counterparty(role).did
    assert record.counterparty_address.startswith("nats://")
    assert (record.deployment, record.node) == ("dep-1", "node-1")
    assert record.contract == story.contract  # the accepted one, both signatures
    assert record.channel == story.terms.channel
    assert (record.currency, record.budget) == ("NTX", 10 * NTX)
    assert (record.payment_interval, record.grace_period) == (30.0, 90.0)
    assert [(n.seq, n.amount, n.final) for n in record.notes] == [
        (1, NTX, False),
        (2, 2 * NTX, False),
        (3, 3 * NTX, True),
    ]
    assert [(v.seq, v.amount, v.note_seq) for v in record.vouchers] == [
        (1, NTX, 1),
        (2, 2 * NTX, 2),
        (3, 3 * NTX, 3),
    ]
    last_voucher = life[-2]
    assert record.latest_voucher == last_voucher.voucher  # type: ignore[attr-defined]
    assert record.notes[-1].note == life[-3].note  # type: ignore[attr-defined]
    assert (record.noted, record.paid, record.owed, record.disputed) == (3 * NTX, 3 * NTX, 0, 0)
    assert (record.earned, record.spent) == ((3 * NTX, 0) if role == "provider" else (0, 3 * NTX))
    assert record.settlement is not None
    assert (record.settlement.amount, record.settlement.voucher_seq) == (3 * NTX, 3)
    assert record.settlement.reference == "local:3:abcdef0123456789"
    assert record.termination is None
    assert record.anomalies == []
    assert record.anomaly_count == 0
    # Seconds from the record timestamps (one second apart in `sealed`).
    first = 1_700_000_001.0
    if role == "requester":
        assert (record.proposed_at, record.accepted_at) == (first, first + 1)
    else:
        assert record.proposed_at == story.terms.proposed_at  # the provider never logs it
        assert record.accepted_at == first
    assert record.activated_at is not None
    assert record.accepted_at is not None
    assert record.accepted_at < record.activated_at
    assert record.ended_at == first + len(life) - 1


def test_a_proposal_alone_holds_the_requester_signature_only() -> None:
    story = Story()
    record = only(fold([story.proposed()]))
    assert record.status == "proposed"
    assert record.contract == story.proposal
    assert record.contract is not None
    assert record.contract.provider_signature == b""
    assert record.accepted_at is None
    assert record.ended_at is None


def test_a_dispute_keeps_what_its_document_accepts_until_a_full_payment_resolves_it() -> None:
    story = Story()
    life: list[Event] = [
        story.proposed(),
        story.accepted("requester"),
        story.activated("requester"),
        story.note("requester", 1, NTX),
        story.voucher("requester", 1, NTX, note_seq=1),
        story.note("requester", 2, 3 * NTX),
        story.disputed("requester", 2, accepted=2 * NTX, reason="ran half the time"),
        story.voucher("requester", 2, 2 * NTX, note_seq=2),
    ]
    state = fold(life)
    record = only(state)
    assert record.status == "disputed"
    dispute = record.disputes[0]
    assert (dispute.note_seq, dispute.accepted, dispute.noted) == (2, 2 * NTX, 3 * NTX)
    assert dispute.reason == "ran half the time"
    assert dispute.resolved_at is None
    assert (record.noted, record.paid, record.disputed, record.owed) == (3 * NTX, 2 * NTX, NTX, 0)

    generous = fold([*life, story.voucher("requester", 3, 5 * NTX // 2, note_seq=2)])
    # Paid past what the dispute accepted: only what is still unpaid counts as disputed.
    assert (only(generous).disputed, only(generous).owed) == (NTX // 2, 0)

    more: list[Event] = [
        story.note("requester", 3, 4 * NTX),
        story.voucher("requester", 3, 4 * NTX, note_seq=3),
        story.resolved("requester", 3),
    ]
    state = fold(life + more)
    record = only(state)
    assert record.status == "active"
    assert record.disputes[0].resolved_at is not None
    assert (record.noted, record.paid, record.disputed, record.owed) == (4 * NTX, 4 * NTX, 0, 0)


def test_what_is_charged_and_unpaid_is_owed() -> None:
    story = Story()
    life = [
        story.accepted("provider"),
        story.activated("provider"),
        story.note("provider", 1, NTX),
        story.voucher("provider", 1, NTX, note_seq=1),
        story.note("provider", 2, 5 * NTX // 2),
    ]
    record = only(fold(life))
    assert (record.noted, record.paid, record.owed, record.disputed) == (
        5 * NTX // 2,
        NTX,
        3 * NTX // 2,
        0,
    )


@pytest.mark.parametrize("by_us", [True, False])
def test_a_termination_keeps_who_ended_it_why_and_the_signed_notice(by_us: bool) -> None:
    story = Story()
    by = story.provider if by_us else story.requester
    ended = story.terminated("provider", by=by, reason="budget spent", paid=NTX)
    life = [story.accepted("provider"), story.activated("provider"), ended]
    record = only(fold(life))
    assert record.status == "terminated"
    termination = record.termination
    assert termination is not None
    assert (termination.by, termination.by_us, termination.reason) == (
        by.did,
        by_us,
        "budget spent",
    )
    assert (termination.paid, termination.refused) == (NTX, False)
    assert termination.effective_at == ended.effective_at
    assert termination.termination == ended.termination
    assert record.ended_at == termination.at


def test_a_second_termination_notice_leaves_the_first_standing() -> None:
    story = Story()
    first = story.terminated("provider", by=story.requester, reason="first")
    second = story.terminated("provider", by=story.provider, reason="second")
    record = only(fold([story.accepted("provider"), first, second]))
    assert record.termination is not None
    assert record.termination.reason == "first"
    assert record.anomalies == []  # terminated -> terminated is a stay, not an error


def test_a_refused_proposal_is_terminated_on_either_side() -> None:
    story = Story()
    requester = only(fold([story.proposed(), story.refused("requester", "too cheap")]))
    assert requester.status == "terminated"
    assert requester.termination is not None
    assert requester.termination.refused
    assert not requester.termination.by_us
    assert requester.termination.by == story.provider.did
    assert requester.termination.reason == "too cheap"

    provider = only(fold([story.refused("provider", "too cheap")]))
    assert provider.status == "terminated"
    assert provider.contract is None  # the refusal carries no terms
    assert provider.termination is not None
    assert provider.termination.by_us
    assert (provider.noted, provider.paid, provider.owed) == (0, 0, 0)


def test_overdue_notes_and_rejections_are_kept() -> None:
    story = Story()
    life: list[Event] = [
        story.accepted("provider"),
        story.activated("provider"),
        story.note("provider", 1, NTX),
        story.overdue(1, NTX),
    ]
    life += [story.voucher_rejected(f"reason {i}") for i in range(1, 8)]
    record = only(fold(life))
    assert [(o.note_seq, o.owed) for o in record.overdue] == [(1, NTX)]
    assert record.rejections.count == 7
    assert [r.reason for r in record.rejections.last] == [
        f"reason {i}" for i in range(8 - KEEP_REJECTIONS, 8)
    ]
    assert {r.kind for r in record.rejections.last} == {"voucher"}
    assert record.rejections.last[0].sender == story.requester.did

    requester = only(fold([story.proposed(), story.note_rejected("not the provider's")]))
    assert requester.rejections.count == 1
    assert requester.rejections.last[0].kind == "debit-note"


def test_redemptions_on_the_local_ledger_are_kept_with_their_reference() -> None:
    story = Story()
    life = story.paid_in_full("provider", notes=2)
    life += [story.redeemed(1, NTX, NTX), story.redeemed(2, 2 * NTX, NTX)]
    records = sealed(life)
    state = fold(life)
    record = only(state)
    assert record.redeemed == 2 * NTX
    assert [(r.amount, r.credited, r.voucher_seq) for r in record.redemptions] == [
        (NTX, NTX, 1),
        (2 * NTX, NTX, 2),
    ]
    last = records[-1]
    assert record.redemptions[-1].reference == f"local:{last.seq}:{last.hash.hex()[:16]}"


def test_the_projection_reads_every_contract_payment_and_ledger_event() -> None:
    projection = PaymentStateProjection()
    assert projection.name == "payments"
    assert projection.types == {cls.TYPE for cls in EVENTS} | {LEDGER_REDEEMED}
    story, other = Story(), Story()
    provider: list[Event] = [
        story.accepted("provider"),
        story.activated("provider"),
        story.note("provider", 1, 2 * NTX),
        story.voucher_rejected("lowers the total"),
        story.overdue(1, 2 * NTX),
        story.disputed("provider", 1, accepted=NTX),
        story.voucher("provider", 1, NTX, note_seq=1),
        story.note("provider", 2, 3 * NTX),
        story.voucher("provider", 2, 3 * NTX, note_seq=2),
        story.resolved("provider", 2),
        story.redeemed(2, 3 * NTX, 3 * NTX),
        story.terminated("provider", by=story.requester, paid=3 * NTX),
    ]
    requester: list[Event] = [
        other.proposed(),
        other.accepted("requester"),
        other.activated("requester"),
        other.note("requester", 1, NTX, final=True),
        other.note_rejected("signed by a stranger"),
        other.voucher("requester", 1, NTX, note_seq=1),
        other.settled("requester", NTX, 1),
    ]
    refused = Story().refused("provider")
    events = provider + requester + [refused]
    assert {r.type for r in sealed(events)} == projection.types
    state = fold(events)
    assert {r.status for r in state.contracts.values()} == {"terminated", "settled"}
    assert all(r.anomaly_count == 0 for r in state.contracts.values())
    assert state.orphan_count == 0


# -- anomalies -----------------------------------------------------------------------------------
def test_an_event_illegal_in_the_status_is_an_anomaly_and_changes_nothing() -> None:
    story = Story()
    life = story.paid_in_full("provider", notes=1)
    settled = fold(life)
    late = fold(
        [story.activated("provider"), story.disputed("provider", 1, accepted=0)],
        fold(life),
    )
    record = only(late)
    assert record.status == "settled"
    assert record.disputes == []
    assert record.anomaly_count == 2
    assert (
        whats(record)[0]
        == "a contract that is settled cannot take activate; it is settled, which is final"
    )
    assert record.anomalies[0].type == "contract.activated"
    assert record.activated_at == only(settled).activated_at

    early = only(fold([story.proposed(), story.disputed("requester", 1, accepted=0)]))
    assert early.status == "proposed"
    assert "the provider has not accepted it" in whats(early)[0]


def test_a_note_or_voucher_that_goes_back_is_an_anomaly_and_a_repeat_is_not() -> None:
    story = Story()
    life = [
        story.accepted("provider"),
        story.activated("provider"),
        story.note("provider", 1, 2 * NTX),
        story.note("provider", 1, 2 * NTX),  # the same note again: a repeat
        story.note("provider", 2, NTX),  # charges less than note 1
        story.note("provider", 1, 3 * NTX),  # seq 1 again, other amount
        story.voucher("provider", 1, 2 * NTX),
        story.voucher("provider", 2, NTX),  # promises less
        story.voucher("provider", 1, 2 * NTX),  # a repeat
    ]
    record = only(fold(life))
    assert [(n.seq, n.amount) for n in record.notes] == [(1, 2 * NTX)]
    assert [(v.seq, v.amount) for v in record.vouchers] == [(1, 2 * NTX)]
    assert whats(record) == [
        "debit note 2 charges less than note 1 did",
        "debit note 1 again, after note 1",
        "voucher 2 promises less than voucher 1 did",
    ]


def test_an_event_in_the_other_role_is_an_anomaly() -> None:
    story = Story()
    record = only(fold([story.accepted("provider"), story.activated("requester")]))
    assert record.status == "accepted"
    assert whats(record) == ["an event as requester on a contract this node holds as provider"]


def test_accepted_terms_that_differ_from_the_proposal_are_kept_and_noted() -> None:
    story, other = Story(), Story()
    swapped = msgspec.structs.replace(story.accepted("requester"), contract=other.contract)
    record = only(fold([story.proposed(), swapped]))
    assert record.status == "accepted"
    assert record.contract == other.contract
    assert whats(record) == [
        "the accepted terms are not the ones proposed; the accepted kept",
        f"the signed terms are for contract {other.id}",
    ]


def test_anomalies_are_counted_and_the_last_ones_kept() -> None:
    story = Story()
    record = only(fold([story.proposed()] + [story.activated("requester")] * 40))
    assert record.anomaly_count == 40
    assert len(record.anomalies) == KEEP_ANOMALIES
    assert record.anomalies[-1].position == 41


def test_records_about_a_contract_the_log_never_opened_are_orphans() -> None:
    story = Story()
    state = fold(
        [
            story.voucher("requester", 1, NTX),
            story.note("provider", 1, NTX),
            story.redeemed(1, NTX, NTX),
            story.settled("provider", NTX, 1),
        ]
    )
    assert state.contracts == {}
    assert state.orphan_count == 4
    assert {o.contract_id for o in state.orphans} == {story.id}
    assert [o.type for o in state.orphans] == [
        "payment.voucher_issued",
        "payment.debit_note_issued",
        LEDGER_REDEEMED,
        "contract.settled",
    ]


def test_a_payload_that_does_not_decode_is_an_orphan() -> None:
    projection = PaymentStateProjection()
    good = sealed([Story().proposed()])[0]
    broken = msgspec.structs.replace(good, seq=2, type="contract.activated", payload=b"\xc1")
    state = projection.evolve(projection.evolve(projection.initial(), good), broken)
    assert len(state.contracts) == 1
    assert state.orphan_count == 1
    assert state.orphans[0].what.startswith("the payload does not decode")


# -- any order of any events ---------------------------------------------------------------------
_STORY = Story()
_POOL: list[Event] = [
    _STORY.proposed(),
    _STORY.accepted("requester"),
    _STORY.accepted("provider"),
    _STORY.refused("requester"),
    _STORY.activated("requester"),
    _STORY.disputed("requester", 2, accepted=NTX),
    _STORY.resolved("requester", 3),
    _STORY.terminated("requester", by=_STORY.provider, paid=NTX),
    _STORY.settled("requester", 2 * NTX, 2),
    _STORY.note("requester", 1, NTX),
    _STORY.note("requester", 2, 3 * NTX),
    _STORY.note("requester", 3, 4 * NTX, final=True),
    _STORY.note_rejected("not signed by the provider"),
    _STORY.voucher("requester", 1, NTX, note_seq=1),
    _STORY.voucher("requester", 2, 2 * NTX, note_seq=2),
    _STORY.voucher("requester", 3, 5 * NTX, note_seq=3),
    _STORY.overdue(2, NTX),
    _STORY.redeemed(1, NTX, NTX),
]
_POOL_RECORDS = sealed(_POOL)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(range(len(_POOL))), max_size=30))
def test_any_sequence_of_events_folds_without_raising_to_a_state_that_adds_up(
    picks: list[int],
) -> None:
    records = [
        msgspec.structs.replace(_POOL_RECORDS[i], seq=n, timestamp=n * 1_000_000_000)
        for n, i in enumerate(picks, 1)
    ]
    projection = PaymentStateProjection()
    state = projection.initial()
    for record in records:
        state = projection.evolve(state, record)
    again = projection.initial()
    for record in records:
        again = projection.evolve(again, record)
    assert state == again
    assert projection.decode_state(projection.encode_state(state)) == state
    for contract in state.contracts.values():
        assert contract.owed >= 0
        assert contract.disputed >= 0
        assert contract.noted == contract.paid + contract.owed + contract.disputed or (
            contract.paid > contract.noted and contract.owed == contract.disputed == 0
        )
        assert [n.seq for n in contract.notes] == sorted({n.seq for n in contract.notes})
        amounts = [v.amount for v in contract.vouchers]
        assert amounts == sorted(amounts)
        if contract.status in ("settled", "terminated"):
            assert contract.ended_at is not None


# -- a real log ----------------------------------------------------------------------------------
@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EventLog]:
    log = await open_sqlite_log(tmp_path / "events.db")
    yield log
    await log.close()


class Unrelated(Event, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = "test.unrelated"
    n: int


def _node_log(me: KeyPair) -> list[Event]:
    """A node's log: contracts as requester and as provider, interleaved with other records."""
    paying, paid, refused = Story(requester=me), Story(provider=me), Story(requester=me)
    as_requester = paying.paid_in_full("requester", notes=4)
    as_provider = [
        paid.accepted("provider"),
        paid.activated("provider"),
        paid.note("provider", 1, NTX),
        paid.voucher("provider", 1, NTX, note_seq=1),
        paid.note("provider", 2, 3 * NTX),
        paid.overdue(2, 2 * NTX),
        paid.disputed("provider", 2, accepted=2 * NTX),
        paid.redeemed(1, NTX, NTX),
        paid.terminated("provider", by=paid.requester, paid=NTX),
    ]
    mixed: list[Event] = []
    for i in range(max(len(as_requester), len(as_provider))):
        mixed += as_requester[i : i + 1] + as_provider[i : i + 1]
        mixed.append(Unrelated(n=i))  # a record the fold skips
    mixed += [refused.proposed(), refused.refused("requester"), paid.voucher("requester", 9, 1)]
    return mixed


async def test_replay_equals_the_state_folded_as_each_record_was_appended(log: EventLog) -> None:
    projection = PaymentStateProjection()
    live = projection.initial()
    for event in _node_log(KeyPair.generate()):
        record = await log.append(event, actor="/dms/actor/contracts")
        if projection.wants(record):
            live = projection.evolve(live, record)
    position, replayed = await replay(log, projection)
    assert position == (await log.head())[0]
    assert replayed == live
    assert len(live.contracts) == 3
    assert {r.status for r in live.contracts.values()} == {"settled", "terminated"}
    assert live.orphan_count == 0
    assert sum(r.anomaly_count for r in live.contracts.values()) == 1  # the stray voucher
    terms = [contract_terms(r.contract) for r in live.contracts.values() if r.contract]
    assert len(terms) == 3


async def test_the_state_a_runner_stores_decodes_to_the_replayed_one(
    log: EventLog, tmp_path: Path
) -> None:
    for event in _node_log(KeyPair.generate()):
        await log.append(event)
    store = await SQLiteProjectionStore.open(tmp_path / "projections.db")
    try:
        runner = ProjectionRunner(log, PaymentStateProjection(), store)
        caught_up = await runner.catch_up()
        resumed = ProjectionRunner(log, PaymentStateProjection(), store)
        await resumed.load()
    finally:
        await store.close()
    _, replayed = await replay(log, PaymentStateProjection())
    assert caught_up == replayed
    assert (resumed.position, resumed.state) == (runner.position, replayed)
