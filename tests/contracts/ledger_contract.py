"""The Ledger contract: every ledger (the local one, a blockchain adapter) passes these tests.

A ledger's test module subclasses `LedgerContract` and supplies one fixture, `backend`: a
`LedgerBackend` that opens the ledger, and reopens the same one after `close`, so the tests can
prove that a redemption outlives the process that made it. Contracts and vouchers are real:
signed with real Ed25519 keys through `propose`, `accept` and `sign`.
"""

from __future__ import annotations

import abc
import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from nunet.contracts import (
    ContractTerms,
    LedgerError,
    PaymentVoucher,
    Signed,
    SignedContract,
    accept,
    propose,
    sign,
)
from nunet.contracts.documents import signed_bytes
from nunet.contracts.ledger import Ledger, Receipt
from nunet.identity import KeyPair

WAIT_S = 10.0

REQUESTER = KeyPair.generate()
PROVIDER = KeyPair.generate()
OTHER_PROVIDER = KeyPair.generate()
STRANGER = KeyPair.generate()


class LedgerBackend(abc.ABC):
    """Opens one ledger, and reopens the same one (same store) after `close`."""

    @abc.abstractmethod
    async def open(self) -> Ledger: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """Release what `open` opened; idempotent."""


def make_terms(
    *,
    provider: KeyPair = PROVIDER,
    budget: int | None = None,
    currency: str = "NTX",
    contract_id: str | None = None,
    channel: str | None = None,
) -> ContractTerms:
    return ContractTerms(
        contract_id=contract_id or secrets.token_hex(16),
        channel=channel or secrets.token_hex(16),
        requester=REQUESTER.did,
        provider=provider.did,
        deployment="dep-1",
        node="web",
        currency=currency,
        budget=budget,
        proposed_at=time.time(),
    )


def agreed(terms: ContractTerms) -> SignedContract:
    """`terms` proposed by the requester and accepted by their provider."""
    provider = OTHER_PROVIDER if terms.provider == OTHER_PROVIDER.did else PROVIDER
    return accept(propose(terms, REQUESTER), provider)


def voucher(terms: ContractTerms, seq: int, amount: int, *, key: KeyPair = REQUESTER) -> Signed:
    return sign(
        PaymentVoucher(
            contract_id=terms.contract_id,
            channel=terms.channel,
            seq=seq,
            amount=amount,
            issued_at=time.time(),
        ),
        key,
    )


class LedgerContract:
    @pytest.fixture
    def backend(self) -> LedgerBackend:
        raise NotImplementedError("a ledger's test class supplies the `backend` fixture")

    @pytest.fixture
    async def ledger(self, backend: LedgerBackend) -> AsyncIterator[Ledger]:
        ledger = await backend.open()
        yield ledger
        await backend.close()

    @staticmethod
    async def assert_untouched(ledger: Ledger, terms: ContractTerms, redeemed: int) -> None:
        """Nothing moved on `terms`'s channel: it stands at `redeemed`, and so do both parties."""
        assert await ledger.redeemed(terms.channel) == redeemed
        assert await ledger.balance(terms.provider, terms.currency) == redeemed
        assert await ledger.balance(terms.requester, terms.currency) == -redeemed

    # -- redeeming ----------------------------------------------------------------------------

    async def test_the_ledger_is_a_ledger(self, ledger: Ledger) -> None:
        assert isinstance(ledger, Ledger)
        assert ledger.name

    async def test_a_voucher_credits_the_provider_and_debits_the_requester(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms(budget=10_000)
        before = time.time()
        receipt = await ledger.redeem(agreed(terms), voucher(terms, 1, 1_500))
        assert isinstance(receipt, Receipt)
        assert receipt.ledger == ledger.name
        assert receipt.reference
        assert (receipt.contract_id, receipt.channel) == (terms.contract_id, terms.channel)
        assert (receipt.payer, receipt.payee) == (REQUESTER.did, PROVIDER.did)
        assert receipt.currency == "NTX"
        assert (receipt.amount, receipt.credited, receipt.voucher_seq) == (1_500, 1_500, 1)
        assert receipt.at >= before - 5  # wall clock; a store's clock may lag ours a little
        await self.assert_untouched(ledger, terms, 1_500)

    async def test_redeeming_the_same_voucher_again_credits_nothing(self, ledger: Ledger) -> None:
        terms = make_terms()
        contract, paid = agreed(terms), voucher(terms, 1, 700)
        first = await ledger.redeem(contract, paid)
        again = await ledger.redeem(contract, paid)
        assert again.credited == 0
        assert again == msgspec.structs.replace(first, credited=0)
        await self.assert_untouched(ledger, terms, 700)

    async def test_a_later_voucher_credits_only_what_it_adds(self, ledger: Ledger) -> None:
        terms = make_terms()
        contract = agreed(terms)
        first = await ledger.redeem(contract, voucher(terms, 1, 1_000))
        second = await ledger.redeem(contract, voucher(terms, 2, 2_500))
        assert (second.amount, second.credited, second.voucher_seq) == (2_500, 1_500, 2)
        assert second.reference != first.reference
        await self.assert_untouched(ledger, terms, 2_500)

    async def test_an_older_voucher_after_a_later_one_credits_and_lowers_nothing(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        contract = agreed(terms)
        later = await ledger.redeem(contract, voucher(terms, 2, 3_000))
        older = await ledger.redeem(contract, voucher(terms, 1, 1_000))
        assert (older.amount, older.credited, older.voucher_seq) == (3_000, 0, 2)
        assert older.reference == later.reference
        await self.assert_untouched(ledger, terms, 3_000)

    async def test_a_voucher_for_the_same_total_under_a_higher_seq_credits_nothing(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        contract = agreed(terms)
        await ledger.redeem(contract, voucher(terms, 1, 900))
        same = await ledger.redeem(contract, voucher(terms, 2, 900))
        assert (same.credited, same.amount, same.voucher_seq) == (0, 900, 1)
        await self.assert_untouched(ledger, terms, 900)

    async def test_a_voucher_of_nothing_on_a_fresh_channel_redeems_nothing(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        receipt = await ledger.redeem(agreed(terms), voucher(terms, 1, 0))
        assert (receipt.reference, receipt.amount, receipt.credited) == ("", 0, 0)
        assert receipt.payee == PROVIDER.did
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_voucher_spending_the_whole_budget_is_redeemed(self, ledger: Ledger) -> None:
        terms = make_terms(budget=1_000)
        receipt = await ledger.redeem(agreed(terms), voucher(terms, 1, 1_000))
        assert receipt.credited == 1_000

    # -- refusals: each names why, and moves nothing -------------------------------------------

    async def test_a_lower_seq_with_a_higher_amount_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        contract = agreed(terms)
        await ledger.redeem(contract, voucher(terms, 3, 1_000))
        with pytest.raises(LedgerError, match="seq not above"):
            await ledger.redeem(contract, voucher(terms, 2, 2_000))
        with pytest.raises(LedgerError, match="seq not above"):
            await ledger.redeem(contract, voucher(terms, 3, 5_000))
        await self.assert_untouched(ledger, terms, 1_000)

    async def test_a_voucher_signed_by_anyone_but_the_requester_is_refused(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        contract = agreed(terms)
        for key in (STRANGER, PROVIDER):
            with pytest.raises(LedgerError, match=r"only .* issues them"):
                await ledger.redeem(contract, voucher(terms, 1, 500, key=key))
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_forged_voucher_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        genuine = voucher(terms, 1, 500)
        # The requester's name on a body it never signed: a larger amount, the old signature.
        raised = msgspec.msgpack.encode(
            msgspec.structs.replace(
                msgspec.msgpack.decode(genuine.body, type=PaymentVoucher), amount=50_000
            )
        )
        forged = msgspec.structs.replace(genuine, body=raised)
        with pytest.raises(LedgerError, match="signature"):
            await ledger.redeem(agreed(terms), forged)
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_signed_document_that_is_not_a_voucher_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        genuine = voucher(terms, 1, 500)
        relabelled = Signed(
            kind="debit-note",
            body=genuine.body,
            signer=REQUESTER.did,
            signature=REQUESTER.sign(signed_bytes("debit-note", genuine.body)),
        )
        with pytest.raises(LedgerError, match="expected a voucher"):
            await ledger.redeem(agreed(terms), relabelled)
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_voucher_for_another_contract_is_refused(self, ledger: Ledger) -> None:
        terms, other = make_terms(), make_terms()
        with pytest.raises(LedgerError, match=f"for contract {other.contract_id}"):
            await ledger.redeem(agreed(terms), voucher(other, 1, 500))
        await self.assert_untouched(ledger, terms, 0)
        await self.assert_untouched(ledger, other, 0)

    async def test_a_voucher_for_another_channel_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        elsewhere = msgspec.structs.replace(terms, channel=secrets.token_hex(16))
        with pytest.raises(LedgerError, match=f"for channel {elsewhere.channel}"):
            await ledger.redeem(agreed(terms), voucher(elsewhere, 1, 500))
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_voucher_above_the_budget_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms(budget=1_000)
        with pytest.raises(LedgerError, match="above the contract's budget of 1000"):
            await ledger.redeem(agreed(terms), voucher(terms, 1, 1_001))
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_contract_the_provider_never_accepted_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        with pytest.raises(LedgerError, match="not signed by its provider"):
            await ledger.redeem(propose(terms, REQUESTER), voucher(terms, 1, 500))
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_contract_accepted_by_someone_else_is_refused(self, ledger: Ledger) -> None:
        terms = make_terms()
        proposal = propose(terms, REQUESTER)
        forged = STRANGER.sign(signed_bytes("acceptance", proposal.terms))
        fake = msgspec.structs.replace(proposal, provider_signature=forged)
        with pytest.raises(LedgerError, match="acceptance signature"):
            await ledger.redeem(fake, voucher(terms, 1, 500))
        await self.assert_untouched(ledger, terms, 0)

    async def test_a_channel_redeemed_for_one_contract_refuses_another_contracts_vouchers(
        self, ledger: Ledger
    ) -> None:
        first = make_terms()
        # Another contract that names the same channel (its parties signed it; still refused).
        second = make_terms(provider=OTHER_PROVIDER, channel=first.channel)
        await ledger.redeem(agreed(first), voucher(first, 1, 400))
        with pytest.raises(LedgerError, match=f"bound to contract {first.contract_id}"):
            await ledger.redeem(agreed(second), voucher(second, 2, 900))
        await self.assert_untouched(ledger, first, 400)
        assert await ledger.balance(OTHER_PROVIDER.did, "NTX") == 0

    # -- balances -----------------------------------------------------------------------------

    async def test_balances_sum_every_channel_per_account_and_currency(
        self, ledger: Ledger
    ) -> None:
        ntx_a, ntx_b = make_terms(), make_terms(provider=OTHER_PROVIDER)
        usd = make_terms(currency="USDC")
        await ledger.redeem(agreed(ntx_a), voucher(ntx_a, 1, 100))
        await ledger.redeem(agreed(ntx_a), voucher(ntx_a, 2, 250))
        await ledger.redeem(agreed(ntx_b), voucher(ntx_b, 1, 1_000))
        await ledger.redeem(agreed(usd), voucher(usd, 1, 7))
        balances = await ledger.balances()
        assert balances == {
            (PROVIDER.did, "NTX"): 250,
            (OTHER_PROVIDER.did, "NTX"): 1_000,
            (REQUESTER.did, "NTX"): -1_250,
            (PROVIDER.did, "USDC"): 7,
            (REQUESTER.did, "USDC"): -7,
        }
        assert sum(v for (_, currency), v in balances.items() if currency == "NTX") == 0
        assert await ledger.balance(REQUESTER.did, "USDC") == -7
        assert await ledger.balance(STRANGER.did, "NTX") == 0
        assert await ledger.redeemed(secrets.token_hex(16)) == 0

    # -- concurrency --------------------------------------------------------------------------

    async def test_the_same_voucher_redeemed_concurrently_is_credited_once(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        contract, paid = agreed(terms), voucher(terms, 1, 800)
        async with asyncio.timeout(WAIT_S):
            receipts = await asyncio.gather(*(ledger.redeem(contract, paid) for _ in range(8)))
        assert sorted(r.credited for r in receipts) == [0] * 7 + [800]
        assert len({r.reference for r in receipts}) == 1
        await self.assert_untouched(ledger, terms, 800)

    async def test_vouchers_redeemed_concurrently_in_any_order_credit_the_highest_once(
        self, ledger: Ledger
    ) -> None:
        terms = make_terms()
        contract = agreed(terms)
        vouchers = [voucher(terms, seq, 100 * seq) for seq in range(1, 7)]
        random.Random(8).shuffle(vouchers)
        async with asyncio.timeout(WAIT_S):
            receipts = await asyncio.gather(*(ledger.redeem(contract, v) for v in vouchers))
        assert sum(r.credited for r in receipts) == 600
        assert max(r.amount for r in receipts) == 600
        await self.assert_untouched(ledger, terms, 600)

    # -- durability ---------------------------------------------------------------------------

    async def test_a_reopened_ledger_has_the_same_balances_and_refuses_the_same_repeats(
        self, backend: LedgerBackend, ledger: Ledger
    ) -> None:
        terms, other = make_terms(), make_terms(provider=OTHER_PROVIDER, currency="USDC")
        contract = agreed(terms)
        await ledger.redeem(contract, voucher(terms, 1, 300))
        last = await ledger.redeem(contract, voucher(terms, 4, 900))
        await ledger.redeem(agreed(other), voucher(other, 1, 55))
        balances = await ledger.balances()
        await backend.close()

        reopened = await backend.open()
        assert await reopened.balances() == balances
        assert await reopened.redeemed(terms.channel) == 900
        assert await reopened.redeemed(other.channel) == 55
        again = await reopened.redeem(contract, voucher(terms, 4, 900))
        assert again == msgspec.structs.replace(last, credited=0)
        with pytest.raises(LedgerError, match="seq not above"):
            await reopened.redeem(contract, voucher(terms, 3, 1_000))
        later = await reopened.redeem(contract, voucher(terms, 5, 1_000))
        assert later.credited == 100
        assert await reopened.balance(PROVIDER.did, "NTX") == 1_000
