"""Both ends of a payment channel: notes, vouchers, disputes, every bad input, and recovery."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nunet.contracts import (
    BadDocument,
    ContractError,
    ContractTerms,
    DebitNote,
    Metered,
    PaymentVoucher,
    Rates,
    Reserved,
    Signed,
    VoucherRejected,
    charge,
    sign,
)
from nunet.contracts.channel import Answer, ProviderChannel, RequesterChannel
from nunet.contracts.metering import MIB
from nunet.contracts.plausibility import Observed
from nunet.identity import KeyPair

REQUESTER = KeyPair.generate()
PROVIDER = KeyPair.generate()
STRANGER = KeyPair.generate()
BUDGET = 1_000_000
TERMS = ContractTerms(
    contract_id="c" * 32,
    channel="d" * 32,
    requester=REQUESTER.did,
    provider=PROVIDER.did,
    deployment="dep",
    node="node-1",
    rates=Rates(cpu=3.6, wall=3.6, ram=0.0, gpu=0.0, per_job=0.0),  # 1 micro per cpu/wall ms
    budget=BUDGET,
    grace_period=120.0,
    reserved=Reserved(cpu=1.0, ram=64 * MIB, gpus=0),
    proposed_at=0.0,
)
PRICED = msgspec.structs.replace(
    TERMS, rates=Rates(cpu=3.6, wall=3.6, gpu=3.6, ram=3.6, disk=3.6, per_job=0.01)
)
"""The same contract with every resource priced, so every rule's bound changes the charge."""
RAN = Observed(activated_at=0.0, runs=1)
NOW = 10_000.0


def usage(ms: int, runs: int = 1) -> Metered:
    """`ms` of wall time at one busy core with the reserved RAM."""
    return Metered(cpu_ms=ms, wall_ms=ms, ram_mib_ms=64 * ms, runs=runs)


def voucher(
    seq: int,
    amount: int,
    *,
    note_seq: int = 0,
    key: KeyPair = REQUESTER,
    contract_id: str = TERMS.contract_id,
    channel: str = TERMS.channel,
) -> Signed:
    return sign(
        PaymentVoucher(
            contract_id=contract_id,
            channel=channel,
            seq=seq,
            amount=amount,
            note_seq=note_seq,
            issued_at=1.0,
        ),
        key,
    )


def note(
    seq: int,
    used: Metered,
    *,
    amount: int | None = None,
    final: bool = False,
    key: KeyPair = PROVIDER,
    contract_id: str = TERMS.contract_id,
    channel: str = TERMS.channel,
) -> Signed:
    return sign(
        DebitNote(
            contract_id=contract_id,
            channel=channel,
            seq=seq,
            usage=used,
            amount=charge(TERMS.rates, used) if amount is None else amount,
            issued_at=float(seq),
            final=final,
        ),
        key,
    )


def provider_with_notes(*amounts_ms: int) -> ProviderChannel:
    provider = ProviderChannel(TERMS)
    for index, ms in enumerate(amounts_ms):
        provider.note(usage(ms), now=60.0 * index)
    return provider


def test_usage_is_charged_one_micro_unit_per_millisecond_in_these_terms() -> None:
    # The figures below rely on it.
    assert charge(TERMS.rates, usage(1000)) == 2000


# -- provider: debit notes ---------------------------------------------------------------------
def test_debit_notes_number_from_one_and_charge_the_cumulative_usage() -> None:
    provider = ProviderChannel(TERMS)
    first = provider.note(usage(1000), now=60.0)
    second = provider.note(usage(3000), now=120.0, final=True)
    assert (first.seq, first.amount, first.issued_at, first.final) == (1, 2000, 60.0, False)
    assert (second.seq, second.amount, second.final) == (2, 6000, True)
    assert (first.contract_id, first.channel) == (TERMS.contract_id, TERMS.channel)
    assert provider.notes == (first, second)
    assert (provider.noted, provider.paid, provider.owed) == (6000, 0, 6000)
    assert provider.final_noted


def test_a_note_never_charges_more_than_the_budget() -> None:
    provider = ProviderChannel(TERMS)
    assert not provider.budget_spent
    assert provider.note(usage(BUDGET), now=1.0).amount == BUDGET
    assert provider.budget_spent


def test_a_note_without_a_budget_charges_the_whole_usage() -> None:
    provider = ProviderChannel(msgspec.structs.replace(TERMS, budget=None))
    assert provider.note(usage(BUDGET), now=1.0).amount == 2 * BUDGET
    assert not provider.budget_spent


def test_a_note_whose_usage_went_back_is_refused_naming_the_quantity() -> None:
    provider = provider_with_notes(1000)
    with pytest.raises(ContractError, match=r"usage went back since debit note 1: cpu_ms 5 < 1000"):
        provider.note(Metered(cpu_ms=5, wall_ms=2000, ram_mib_ms=64 * 2000, runs=1), now=2.0)
    assert len(provider.notes) == 1


def test_no_note_follows_the_final_one() -> None:
    provider = ProviderChannel(TERMS)
    provider.note(usage(1000), now=1.0, final=True)
    with pytest.raises(ContractError, match="debit note 1 was final"):
        provider.note(usage(2000), now=2.0)


# -- provider: vouchers ------------------------------------------------------------------------
def test_a_valid_voucher_becomes_the_latest() -> None:
    provider = provider_with_notes(1000)
    signed = voucher(1, 2000, note_seq=1)
    kept = provider.take(signed, now=5.0)
    assert (kept.seq, kept.amount, kept.note_seq) == (1, 2000, 1)
    assert provider.latest == kept
    assert provider.latest_signed == signed
    assert provider.paid_at == 5.0
    assert (provider.paid, provider.owed) == (2000, 0)


def test_a_voucher_that_adds_nothing_but_a_sequence_number_is_kept() -> None:
    provider = provider_with_notes(1000)
    provider.take(voucher(1, 2000), now=1.0)
    assert provider.take(voucher(2, 2000), now=2.0).seq == 2


def rejected(provider: ProviderChannel, signed: Signed, match: str) -> None:
    """`signed` is rejected with a reason matching `match`, and nothing changes."""
    before = (provider.latest, provider.latest_signed, provider.paid_at, provider.notes)
    with pytest.raises(VoucherRejected, match=match):
        provider.take(signed, now=99.0)
    assert (provider.latest, provider.latest_signed, provider.paid_at, provider.notes) == before


def test_a_forged_voucher_signed_by_another_key_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, voucher(1, 2000, key=STRANGER), f"signed by {STRANGER.did}")


def test_a_voucher_naming_the_requester_but_signed_by_another_key_is_rejected() -> None:
    provider = provider_with_notes(1000)
    forged = voucher(1, 2000, key=STRANGER)
    forged = Signed(
        kind=forged.kind, body=forged.body, signer=REQUESTER.did, signature=forged.signature
    )
    rejected(provider, forged, "voucher signature")


def test_a_replayed_voucher_is_rejected_and_the_latest_stands() -> None:
    provider = provider_with_notes(1000)
    signed = voucher(1, 2000)
    provider.take(signed, now=1.0)
    rejected(provider, signed, "voucher 1 is replayed")


def test_a_voucher_reusing_the_latest_sequence_number_is_rejected() -> None:
    provider = provider_with_notes(1000)
    provider.take(voucher(1, 1000), now=1.0)
    rejected(provider, voucher(1, 2000), "voucher 1 reuses sequence 1")


def test_an_out_of_order_voucher_is_rejected() -> None:
    provider = provider_with_notes(1000, 2000)
    provider.take(voucher(2, 4000), now=1.0)
    rejected(provider, voucher(1, 2000), "voucher 1 is out of order: 1 after 2")


def test_an_over_budget_voucher_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, voucher(1, BUDGET + 1), "exceeds the budget of 1.000000 NTX")


def test_a_cross_contract_voucher_with_a_valid_signature_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, voucher(1, 2000, contract_id="e" * 32), f"not {TERMS.contract_id}")


def test_a_voucher_for_another_channel_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, voucher(1, 2000, channel="f" * 32), f"for channel {'f' * 32}")


def test_a_voucher_lowering_the_total_is_rejected() -> None:
    provider = provider_with_notes(1000)
    provider.take(voucher(1, 2000), now=1.0)
    rejected(provider, voucher(2, 1999), "lowers the total from 0.002000 NTX to 0.001999 NTX")


def test_a_voucher_answering_a_note_never_issued_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, voucher(1, 2000, note_seq=2), "debit note 2, which was never issued")


def test_a_debit_note_sent_as_a_voucher_is_rejected() -> None:
    provider = provider_with_notes(1000)
    rejected(provider, note(1, usage(1000)), "expected a voucher, got a debit-note")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 12_000)), max_size=12))
def test_the_kept_voucher_only_ever_grows_in_sequence_and_amount(
    offered: list[tuple[int, int]],
) -> None:
    provider = provider_with_notes(1000, 2000, 3000)
    for seq, amount in offered:
        before = provider.latest
        try:
            kept = provider.take(voucher(seq, amount), now=1.0)
        except VoucherRejected:
            assert provider.latest == before
            continue
        assert before is None or (kept.seq > before.seq and kept.amount >= before.amount)
        assert provider.latest == kept


# -- provider: overdue notes -------------------------------------------------------------------
def test_the_oldest_uncovered_note_is_overdue_once_its_grace_period_passes() -> None:
    provider = provider_with_notes(1000, 2000)  # issued at 0 (2000) and 60 (4000)
    first, second = provider.notes
    assert provider.due_at() == 120.0
    assert provider.overdue(119.9) is None
    assert provider.overdue(120.0) == first
    provider.take(voucher(1, 2000), now=1.0)  # covers the first note only
    assert provider.due_at() == 180.0
    assert provider.overdue(179.0) is None
    assert provider.overdue(180.0) == second
    provider.take(voucher(2, 4000), now=2.0)
    assert provider.due_at() is None
    assert provider.overdue(10_000.0) is None


def test_a_note_charging_nothing_is_never_overdue() -> None:
    provider = provider_with_notes(0)
    assert provider.due_at() is None
    assert provider.overdue(NOW) is None


@pytest.mark.parametrize("paid", [0, 1999, 2000, 3000, 3999, 4000, 5000])
@pytest.mark.parametrize("now", [0.0, 119.0, 120.0, 179.0, 180.0, 300.0])
def test_overdue_is_the_first_note_above_the_paid_total_past_its_grace(
    paid: int, now: float
) -> None:
    provider = provider_with_notes(1000, 2000)
    if paid:
        provider.kept_before(
            PaymentVoucher(
                contract_id=TERMS.contract_id,
                channel=TERMS.channel,
                seq=1,
                amount=paid,
                issued_at=0.0,
            ),
            voucher(1, paid),
        )
    uncovered = [n for n in provider.notes if n.amount > paid]
    expected = uncovered[0] if uncovered and uncovered[0].issued_at + 120 <= now else None
    assert provider.overdue(now) == expected
    assert provider.owed == max(0, 4000 - paid)


# -- provider: recovery ------------------------------------------------------------------------
def test_a_provider_replayed_from_its_log_goes_on_as_before() -> None:
    provider = provider_with_notes(1000, 2000)
    signed = voucher(1, 2000, note_seq=1)
    kept = provider.take(signed, now=7.0)

    restored = ProviderChannel(TERMS)
    for issued in provider.notes:
        restored.noted_before(issued)
    restored.kept_before(kept, signed, 7.0)
    assert restored.notes == provider.notes
    assert (restored.latest, restored.latest_signed, restored.paid_at) == (kept, signed, 7.0)
    assert (restored.noted, restored.paid, restored.owed) == (4000, 2000, 2000)
    assert restored.due_at() == provider.due_at()
    assert restored.note(usage(3000), now=180.0).seq == 3
    rejected(restored, signed, "replayed")


# -- requester: answers ------------------------------------------------------------------------
def test_a_plausible_note_is_paid_in_full() -> None:
    requester = RequesterChannel(TERMS)
    answer = requester.answer(note(1, usage(1000)), RAN, now=NOW)
    assert answer.dispute is None
    assert answer.voucher == PaymentVoucher(
        contract_id=TERMS.contract_id,
        channel=TERMS.channel,
        seq=1,
        amount=2000,
        note_seq=1,
        issued_at=NOW,
    )
    assert (requester.paid, requester.noted, requester.latest) == (2000, 2000, answer.voucher)
    assert requester.last_note is not None
    assert requester.last_note.seq == 1
    assert requester.disputed == []


def test_a_resent_note_gets_the_same_answer_and_signs_to_the_same_bytes() -> None:
    requester = RequesterChannel(TERMS)
    signed = note(1, usage(1000))
    first = requester.answer(signed, RAN, now=NOW)
    again = requester.answer(signed, RAN, now=NOW + 500)
    assert again == first
    assert first.voucher is not None
    assert again.voucher is not None
    assert sign(again.voucher, REQUESTER) == sign(first.voucher, REQUESTER)
    assert requester.paid == 2000
    assert requester.latest == first.voucher


def test_a_resent_note_that_differs_from_the_one_answered_is_bad() -> None:
    requester = RequesterChannel(TERMS)
    requester.answer(note(1, usage(1000)), RAN, now=NOW)
    with pytest.raises(BadDocument, match="debit note 1 differs"):
        requester.answer(note(1, usage(2000)), RAN, now=NOW)


def answered(*ms: int) -> RequesterChannel:
    requester = RequesterChannel(TERMS)
    for seq, amount_ms in enumerate(ms, start=1):
        requester.answer(note(seq, usage(amount_ms)), RAN, now=NOW)
    return requester


def refused(requester: RequesterChannel, signed: Signed, match: str) -> None:
    """`signed` is a bad document with a reason matching `match`, and nothing changes."""
    before = (requester.last_note, requester.latest, requester.disputed)
    with pytest.raises(BadDocument, match=match):
        requester.answer(signed, RAN, now=NOW)
    assert (requester.last_note, requester.latest, requester.disputed) == before


def test_an_out_of_order_note_is_bad() -> None:
    refused(answered(1000, 2000), note(1, usage(1000)), "debit note 1 is out of order")


def test_a_note_after_a_missing_one_is_bad() -> None:
    refused(answered(1000), note(3, usage(3000)), "skips debit note 2, which never arrived")


def test_a_first_note_that_is_not_number_one_is_bad() -> None:
    refused(RequesterChannel(TERMS), note(2, usage(1000)), "skips debit note 1")


def test_a_note_lowering_the_total_is_bad() -> None:
    refused(answered(1000), note(2, usage(2000), amount=1999), "lowers the total from 0.002000 NTX")


def test_a_note_whose_usage_went_back_is_bad() -> None:
    went_back = Metered(cpu_ms=500, wall_ms=2000, ram_mib_ms=64 * 2000, runs=1)
    refused(answered(1000), note(2, went_back, amount=5000), "usage went back.*cpu_ms 500 < 1000")


def test_a_note_after_the_final_note_is_bad() -> None:
    requester = RequesterChannel(TERMS)
    requester.answer(note(1, usage(1000), final=True), RAN, now=NOW)
    assert requester.final_noted
    refused(requester, note(2, usage(2000)), "comes after the final debit note 1")


def test_a_note_signed_by_another_than_the_provider_is_bad() -> None:
    refused(RequesterChannel(TERMS), note(1, usage(1000), key=STRANGER), "signed by")


def test_a_note_for_another_contract_is_bad() -> None:
    refused(RequesterChannel(TERMS), note(1, usage(1000), contract_id="e" * 32), "for contract")


def test_a_note_for_another_channel_is_bad() -> None:
    refused(RequesterChannel(TERMS), note(1, usage(1000), channel="f" * 32), "for channel")


def test_a_voucher_sent_as_a_note_is_bad() -> None:
    refused(RequesterChannel(TERMS), voucher(1, 1000), "expected a debit-note, got a voucher")


# Each way a note charges for work not done, through the requester's answer.
NOT_DONE = {
    "never ran": (usage(1000), Observed(), "for work that never ran", 0),
    "wall": (usage(20_000), Observed(activated_at=NOW - 10, runs=1), "wall_ms 20000 > 15000", 0),
    "cpu over reserved": (
        Metered(cpu_ms=20_000, wall_ms=10_000, ram_mib_ms=64 * 10_000, runs=1),
        RAN,
        "cpu_ms 20000 > 15500",
        0,
    ),
    "cpu over reports": (
        usage(10_000),
        Observed(activated_at=0.0, ended_at=NOW, runs=1, cpu_seconds=2.0),
        "cpu_ms 10000 > 7100",
        0,
    ),
    "gpu": (
        Metered(cpu_ms=1000, wall_ms=1000, gpu_ms=1000, ram_mib_ms=64 * 1000, runs=1),
        RAN,
        "gpu_ms 1000 > 0",
        0,
    ),
    "ram": (
        Metered(cpu_ms=1000, wall_ms=1000, ram_mib_ms=65 * 1000, runs=1),
        RAN,
        "ram_mib_ms 65000 > 64000",
        0,
    ),
    "disk": (
        Metered(cpu_ms=1000, wall_ms=1000, disk_mib_ms=10**6, ram_mib_ms=64 * 1000, runs=1),
        RAN,
        "disk_mib_ms 1000000 > 0",
        0,
    ),
    "runs": (usage(1000, runs=2), RAN, "runs 2 > 1", 0),
    "amount over usage": (usage(1000), RAN, "what its usage costs", 1),
}


@pytest.mark.parametrize("case", sorted(NOT_DONE))
def test_a_note_for_work_not_done_is_disputed_and_only_the_plausible_part_paid(case: str) -> None:
    used, observed, reason, extra = NOT_DONE[case]
    requester = RequesterChannel(PRICED)
    amount = charge(PRICED.rates, used) + extra
    answer = requester.answer(note(1, used, amount=amount), observed, now=NOW)
    assert answer.dispute is not None
    assert reason in answer.dispute.reason
    assert answer.dispute.note_seq == 1
    assert answer.dispute.issued_at == NOW
    paid = answer.voucher.amount if answer.voucher is not None else 0
    assert paid == answer.dispute.accepted < amount
    assert requester.disputed == [1]
    assert requester.paid == paid


def test_a_note_over_the_budget_is_disputed_and_the_budget_paid() -> None:
    requester = RequesterChannel(TERMS)
    big = usage(BUDGET)  # costs twice the budget; plausible usage otherwise
    answer = requester.answer(note(1, big), RAN, now=2 * BUDGET)
    assert answer.dispute is not None
    assert "exceeds the budget of 1.000000 NTX" in answer.dispute.reason
    assert answer.voucher is not None
    assert answer.voucher.amount == BUDGET
    assert answer.dispute.accepted == BUDGET


def test_a_dispute_that_accepts_no_more_than_was_paid_sends_no_voucher() -> None:
    requester = answered(1000)  # paid 2000
    answer = requester.answer(note(2, usage(2000), amount=4000), Observed(), now=NOW)
    assert answer.voucher is None
    assert answer.dispute is not None
    assert answer.dispute.accepted == 0
    assert requester.paid == 2000


def test_a_later_plausible_note_pays_in_full_what_an_earlier_dispute_held_back() -> None:
    requester = RequesterChannel(TERMS)
    started = Observed(activated_at=0.0, runs=1)
    early = requester.answer(note(1, usage(20_000)), started, now=10.0)  # 20 s claimed at 10 s
    assert early.dispute is not None
    assert early.voucher is not None
    later = requester.answer(note(2, usage(30_000)), started, now=40.0)
    assert later.dispute is None
    assert later.voucher is not None
    assert (later.voucher.seq, later.voucher.amount) == (2, 60_000)
    assert requester.disputed == [1]


# -- requester: recovery -----------------------------------------------------------------------
def test_a_requester_replayed_from_its_log_goes_on_as_before() -> None:
    requester = RequesterChannel(TERMS)
    log: list[tuple[DebitNote, Answer]] = []
    for seq, (ms, observed) in enumerate([(1000, RAN), (2000, Observed()), (3000, RAN)], 1):
        answer = requester.answer(note(seq, usage(ms)), observed, now=NOW)
        assert requester.last_note is not None
        log.append((requester.last_note, answer))

    restored = RequesterChannel(TERMS)
    for received, answer in log:
        restored.answered_before(received, answer)
    assert (restored.last_note, restored.latest, restored.disputed) == (
        requester.last_note,
        requester.latest,
        requester.disputed,
    )
    assert (restored.paid, restored.noted) == (requester.paid, requester.noted)
    assert restored.answer(note(3, usage(3000)), RAN, now=NOW + 1) == log[-1][1]
    assert restored.answer(note(4, usage(4000)), RAN, now=NOW).voucher is not None


@pytest.mark.parametrize("parts", ["voucher first", "dispute first"])
def test_an_answer_replayed_in_parts_counts_its_dispute_once(parts: str) -> None:
    requester = RequesterChannel(PRICED)
    answer = requester.answer(note(1, usage(20_000)), Observed(activated_at=NOW - 10), now=NOW)
    assert answer.voucher is not None
    assert answer.dispute is not None
    assert requester.last_note is not None
    received = requester.last_note
    halves = [Answer(voucher=answer.voucher), Answer(dispute=answer.dispute)]
    restored = RequesterChannel(PRICED)
    restored.answered_before(received, Answer())  # DebitNoteReceived
    for half in halves if parts == "voucher first" else halves[::-1]:
        restored.answered_before(received, Answer(voucher=half.voucher, dispute=half.dispute))
    restored.answered_before(received, answer)  # both parts in hand
    assert restored.disputed == [1]
    assert restored.latest == answer.voucher
    assert restored.answer(note(1, usage(20_000)), RAN, now=NOW + 9) == answer


# -- both ends ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50_000), min_size=1, max_size=8))
def test_an_honest_provider_and_requester_agree_on_every_note(steps: list[int]) -> None:
    provider, requester = ProviderChannel(TERMS), RequesterChannel(TERMS)
    ms = 0
    for index, step in enumerate(steps):
        ms += step
        issued = provider.note(usage(ms), now=float(index), final=index == len(steps) - 1)
        answer = requester.answer(sign(issued, PROVIDER), RAN, now=ms / 1000)
        assert answer.dispute is None
        if answer.voucher is not None:
            provider.take(sign(answer.voucher, REQUESTER), now=float(index))
        assert provider.paid == requester.paid == min(2 * ms, BUDGET)
        assert provider.owed == 0
        assert provider.overdue(NOW) is None
    assert provider.final_noted
    assert requester.final_noted
